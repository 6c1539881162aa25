"""Simon's two-stage designs for single-arm phase II trials (optimal and minimax).

Simon R. Optimal two-stage designs for phase II clinical trials. *Controlled Clinical
Trials* 1989;10:1-10. Stage 1 treats ``n1`` patients and stops for futility when at most
``r1`` respond; otherwise ``n - n1`` more are treated and the treatment is declared
promising when more than ``r`` of all ``n`` respond. Among designs with
``P(declare promising | p0) <= alpha`` and ``P(declare promising | p1) >= 1 - beta`` the
*optimal* design minimises the expected size under ``p0`` and the *minimax* design the
maximum size ``n`` (ties broken by the expected size). Exact binomial enumeration over every
``(n, n1, r1, r)``; reproduces Simon's Table 1 and an independent R enumeration
(``tests/design/reference/make_reference_simon.R``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from infantall.errors import InvalidInputError

__all__ = ["SimonDesign", "simon_two_stage"]

#: Slack for comparing error rates computed by summation with their targets.
_EPS = 1e-12


@dataclass(frozen=True, slots=True)
class SimonDesign:
    """A Simon two-stage design and its operating characteristics."""

    kind: str
    p0: float
    p1: float
    alpha: float
    beta: float
    r1: int
    n1: int
    r: int
    n: int
    expected_n0: float
    pet0: float
    actual_alpha: float
    actual_power: float

    @property
    def summary(self) -> pd.DataFrame:
        """One row: the boundaries and operating characteristics."""
        return pd.DataFrame([self.to_dict()])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe record."""
        return {
            "kind": self.kind,
            "p0": self.p0,
            "p1": self.p1,
            "alpha": self.alpha,
            "beta": self.beta,
            "r1": self.r1,
            "n1": self.n1,
            "r": self.r,
            "n": self.n,
            "expected_n0": self.expected_n0,
            "pet0": self.pet0,
            "actual_alpha": self.actual_alpha,
            "actual_power": self.actual_power,
        }


class _Binomial:
    """Binomial pmf and survival tables for sizes 0..n_max at one response rate."""

    def __init__(self, p: float, n_max: int) -> None:
        m = np.arange(n_max + 1)
        self.pmf = stats.binom.pmf(m[None, :], m[:, None], p)  # pmf[size, x]
        # sf[size, j] = P(X > j - 1) for j = 0..n_max + 1, i.e. column j+1 is P(X > j)
        tail = np.cumsum(self.pmf[:, ::-1], axis=1)[:, ::-1]
        self.sf_shift = np.concatenate([tail, np.zeros((n_max + 1, 1))], axis=1)
        self.cdf = np.cumsum(self.pmf, axis=1)

    def reject_matrix(self, n1: int, n: int) -> NDArray[np.float64]:
        """``M[r1, r] = P(X1 > r1 and X1 + X2 > r)`` for ``r1 in 0..n1``, ``r in 0..n``."""
        x1 = np.arange(n1 + 1)
        m = np.clip(np.arange(n + 1)[None, :] - x1[:, None] + 1, 0, None)  # P(X2 >= m)
        a = self.pmf[n1, : n1 + 1, None] * self.sf_shift[n - n1][np.minimum(m, n - n1 + 1)]
        tail = np.cumsum(a[::-1], axis=0)[::-1]  # tail[j] = sum over x1 >= j
        out = np.zeros((n1 + 1, n + 1))
        out[:-1] = tail[1:]
        return out


def _best_for(n1: int, n: int, b0: _Binomial, b1: _Binomial, alpha: float, beta: float) -> Any:
    """(EN0, r1, r, pet0, alpha, power) of the best feasible design at (n1, n), or None."""
    m0 = b0.reject_matrix(n1, n)
    m1 = b1.reject_matrix(n1, n)
    rows = np.arange(n1 + 1)
    ok_alpha = (m0 <= alpha + _EPS) & (np.arange(n + 1)[None, :] >= rows[:, None])
    has = ok_alpha.any(axis=1)
    r_star = np.argmax(ok_alpha, axis=1)  # smallest admissible r per r1
    power = m1[rows, r_star]
    feasible = has & (power >= 1.0 - beta - _EPS)
    if not feasible.any():
        return None
    pet0 = b0.cdf[n1, : n1 + 1]
    en0 = np.where(feasible, n1 + (1.0 - pet0) * (n - n1), np.inf)
    j = int(np.argmin(en0))
    return (float(en0[j]), j, int(r_star[j]), float(pet0[j]), float(m0[j, r_star[j]]),
            float(power[j]))  # fmt: skip


def _validate(p0: float, p1: float, alpha: float, beta: float, n_max: int) -> None:
    if not 0.0 < p0 < 1.0:
        raise InvalidInputError("p0", "must be strictly between 0 and 1", "out_of_range")
    if not p0 < p1 < 1.0:
        raise InvalidInputError("p1", "must be above p0 and below 1", "out_of_range")
    if not 0.0 < alpha < 0.5:
        raise InvalidInputError("alpha", "must be strictly between 0 and 0.5", "out_of_range")
    if not 0.0 < beta < 0.5:
        raise InvalidInputError("beta", "must be strictly between 0 and 0.5", "out_of_range")
    if not 2 <= n_max <= 500:
        raise InvalidInputError("n_max", "must be between 2 and 500", "out_of_range")


def simon_two_stage(
    p0: float,
    p1: float,
    *,
    alpha: float = 0.05,
    beta: float = 0.2,
    kind: Literal["optimal", "minimax"] = "optimal",
    n_max: int = 100,
) -> SimonDesign:
    """Simon's optimal or minimax two-stage design (exact enumeration up to ``n_max``).

    Raises
    ------
    InvalidInputError
        ``out_of_range`` for impossible rates or errors; ``no_design`` when no design with
        at most ``n_max`` patients meets ``alpha`` and ``beta``.
    """
    _validate(p0, p1, alpha, beta, n_max)
    if kind not in ("optimal", "minimax"):
        raise InvalidInputError("kind", "must be 'optimal' or 'minimax'", "invalid_kind")
    b0, b1 = _Binomial(p0, n_max), _Binomial(p1, n_max)
    best: tuple[Any, ...] | None = None
    for n in range(2, n_max + 1):
        for n1 in range(1, n):
            if kind == "optimal" and best is not None and n1 >= best[0][0]:
                break  # the expected size is at least n1
            cand = _best_for(n1, n, b0, b1, alpha, beta)
            if cand is None:
                continue
            key = (cand[0], n) if kind == "optimal" else (n, cand[0])
            if best is None or key < best[0]:
                best = (key, n1, n, cand)
        if kind == "minimax" and best is not None:
            break  # the smallest n with a feasible design
    if best is None:
        raise InvalidInputError(
            "n_max", f"no two-stage design with at most {n_max} patients", "no_design"
        )
    _, n1, n, (en0, r1, r, pet0, a, pw) = best
    return SimonDesign(
        kind=kind, p0=p0, p1=p1, alpha=alpha, beta=beta, r1=r1, n1=n1, r=r, n=n,
        expected_n0=en0, pet0=pet0, actual_alpha=a, actual_power=pw,
    )  # fmt: skip
