"""Multi-site accrual over calendar time for the synthetic cohort.

Sites differ in size (log-normal weights, a few large centres and many small ones) and open
at different times during the first quarter of the accrual period; each infant is assigned
to a site in proportion to its size times the time it is open, and diagnosed on a uniform
day while it is open. Defaults mirror Interfant-06's accrual (2006–2016, 18 study groups,
about 65 infants a year; domain-facts.md §4.10).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError

__all__ = ["Accrual", "draw_accrual", "site_table"]


@dataclass(frozen=True, slots=True)
class Accrual:
    """Calendar frame of the synthetic trial.

    Attributes
    ----------
    start
        First possible date of diagnosis (Interfant-06 opened in 2006).
    years
        Length of accrual (Interfant-06: 2006–2016).
    follow_up_years
        Time from the end of accrual to the data cut-off (administrative censoring).
    loss_rate_per_year
        Rate of loss to follow-up (exponential; assumption 2% a year).
    site_size_sigma
        Sigma of the log-normal site weights (assumption: largest site several times the
        smallest).
    opening_fraction
        Sites open uniformly during this first fraction of accrual (the first site at start).
    """

    start: dt.date = dt.date(2006, 1, 1)
    years: float = 10.0
    follow_up_years: float = 3.0
    loss_rate_per_year: float = 0.02
    site_size_sigma: float = 0.8
    opening_fraction: float = 0.25

    def __post_init__(self) -> None:
        checks = (
            ("years", self.years, self.years > 0),
            ("follow_up_years", self.follow_up_years, self.follow_up_years >= 0),
            ("loss_rate_per_year", self.loss_rate_per_year, self.loss_rate_per_year >= 0),
            ("site_size_sigma", self.site_size_sigma, self.site_size_sigma >= 0),
            ("opening_fraction", self.opening_fraction, 0 <= self.opening_fraction < 1),
        )
        for name, value, ok in checks:
            if not ok:
                reason = f"{value} is out of range"
                raise InvalidInputError(f"accrual.{name}", reason, "out_of_range")

    @property
    def accrual_days(self) -> int:
        """Length of accrual in days."""
        return round(self.years * 365.25)

    @property
    def cutoff(self) -> dt.date:
        """Data cut-off date: end of accrual plus follow-up."""
        return self.start + dt.timedelta(days=round((self.years + self.follow_up_years) * 365.25))


def site_table(rng: np.random.Generator, sites: int, accrual: Accrual) -> pd.DataFrame:
    """Synthetic sites: ``site_id``, ``name``, relative ``weight`` and ``opened`` date."""
    weight = np.sort(rng.lognormal(0.0, accrual.site_size_sigma, sites))[::-1]
    weight = weight / weight.sum()
    latest = max(1, int(accrual.opening_fraction * accrual.accrual_days))
    open_day = rng.integers(0, latest, sites)
    open_day[0] = 0
    width = max(2, len(str(sites)))
    ids = [f"SYN-S{i + 1:0{width}d}" for i in range(sites)]
    return pd.DataFrame(
        {
            "site_id": ids,
            "name": [f"Synthetic site {i + 1} (SYNTHETIC)" for i in range(sites)],
            "weight": weight,
            "opened": np.datetime64(accrual.start, "D") + open_day.astype("timedelta64[D]"),
            "open_day": open_day,
        }
    )


def draw_accrual(
    rng: np.random.Generator, n: int, sites: pd.DataFrame, accrual: Accrual
) -> tuple[np.ndarray, np.ndarray]:
    """Site index and diagnosis day (since ``accrual.start``) of each of ``n`` infants."""
    total = accrual.accrual_days
    open_day = sites["open_day"].to_numpy()
    mass = sites["weight"].to_numpy() * (total - open_day)
    site = rng.choice(len(sites), size=n, p=mass / mass.sum())
    first = open_day[site]
    day = first + np.floor(rng.random(n) * (total - first)).astype(np.int64)
    return site, day
