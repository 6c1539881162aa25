"""Regression models on a covariate formula: Cox and Fine–Gray with factors and complete cases.

One function per question: :func:`cox_model` ("what is the hazard ratio of each covariate,
adjusted for the others?") and :func:`fine_gray_model` ("... the subdistribution hazard
ratio for one cause?"). Both build their design with :func:`~.formula.model_frame` (factor
coding, reference levels, rows dropped for missing values, as R does) and call the fitting
kernels :func:`~.cox.cox_ph` and :func:`~.finegray.fine_gray`. Every test is a number
(``statistic``, ``df``, ``p_value``). Checked against R ``coxph`` and ``cmprsk::crr`` on
``survival::pbc`` in ``tests/outcomes/reference/make_cli_reference.R``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from infantall.outcomes._json import json_safe as _json_safe
from infantall.outcomes._json import records
from infantall.outcomes.cox import CoxResult, PHTestResult, cox_ph
from infantall.outcomes.finegray import FineGrayResult, fine_gray
from infantall.outcomes.formula import ModelFrame, model_frame

__all__ = ["CoxModel", "FineGrayModel", "ModelTest", "cox_model", "fine_gray_model"]


def json_safe(value: dict[str, Any]) -> dict[str, Any]:
    """``value`` with NaN/inf as ``None`` (typed for the ``to_dict`` methods)."""
    out: dict[str, Any] = _json_safe(value)
    return out


@dataclass(frozen=True, slots=True)
class ModelTest:
    """A chi-square test of a model: name, statistic, degrees of freedom, p-value."""

    name: str
    statistic: float
    df: int
    p_value: float

    @classmethod
    def chisq(cls, name: str, statistic: float, df: int) -> ModelTest:
        """The test with its upper-tail chi-square p-value."""
        return cls(name, float(statistic), int(df), float(stats.chi2.sf(statistic, df)))

    def to_dict(self) -> dict[str, Any]:
        """``{"test", "statistic", "df", "p_value"}`` (JSON-safe)."""
        return json_safe(
            {"test": self.name, "statistic": self.statistic, "df": self.df, "p_value": self.p_value}
        )


def _wald(name: str, coef: np.ndarray, variance: np.ndarray) -> ModelTest:
    stat = float(coef @ np.linalg.solve(variance, coef))
    return ModelTest.chisq(name, stat, int(coef.shape[0]))


def _factor_tests(frame: ModelFrame, coef: np.ndarray, variance: np.ndarray) -> list[ModelTest]:
    """Joint Wald test of the coefficients of each factor with more than two levels."""
    out = []
    for f in frame.factors:
        idx = [i for i, c in enumerate(frame.covariates) if c.startswith(f"{f.term}[")]
        if len(idx) > 1:
            sub = np.ix_(idx, idx)
            out.append(_wald(f"Wald {f.term}", coef[idx], variance[sub]))
    return out


@dataclass(frozen=True, slots=True)
class CoxModel:
    """A Cox model on a formula: the fit, its design (dropped rows, references) and tests."""

    fit: CoxResult
    frame: ModelFrame
    tests: tuple[ModelTest, ...]
    ph: PHTestResult

    @property
    def summary(self) -> pd.DataFrame:
        """One row per coefficient: coef, HR (CI), SE, z, p and the PH test p-value."""
        return self.fit.summary.assign(ph_p=self.ph.p_value[:-1])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: coefficients, tests (numbers), concordance, design."""
        return json_safe(
            {
                "n": self.fit.n,
                "events": self.fit.n_events,
                "ties": self.fit.ties,
                "strata": self.fit.strata,
                "concordance": self.fit.concordance,
                "coefficients": records(self.summary),
                "tests": [t.to_dict() for t in self.tests],
                "design": self.frame.to_dict(),
            }
        )


@dataclass(frozen=True, slots=True)
class FineGrayModel:
    """A Fine–Gray model on a formula: the fit, its design and a Wald test per factor."""

    fit: FineGrayResult
    frame: ModelFrame
    tests: tuple[ModelTest, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per coefficient: coef, sHR, SE, z, p and the CI of the sHR (crr's)."""
        return self.fit.summary

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: cause, coefficients, pseudo log-likelihood, tests, design."""
        return json_safe(
            {
                "cause": self.fit.cause,
                "n": self.fit.n,
                "events": self.fit.n_events,
                "loglik": self.fit.loglik,
                "converged": self.fit.converged,
                "coefficients": records(self.summary),
                "tests": [t.to_dict() for t in self.tests],
                "design": self.frame.to_dict(),
            }
        )


def cox_model(
    data: pd.DataFrame,
    time: str,
    event: str,
    covariates: str,
    *,
    strata: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    complete_cases: bool = True,
    conf_level: float = 0.95,
) -> CoxModel:
    """Cox model of ``event`` on a covariate formula (R ``coxph(Surv(time, event) ~ ...)``).

    Tests: likelihood ratio, Wald and score (R ``summary.coxph``), a joint Wald test per
    factor, and the global PH test (``cox.zph``, KM transform).
    """
    frame = model_frame(
        data, covariates, response=(time, event), keep=(strata,), complete_cases=complete_cases
    )
    fit = cox_ph(
        frame.data, time, event, frame.covariates, strata=strata, ties=ties, conf_level=conf_level
    )
    p = len(frame.covariates)
    ph = fit.ph_test()
    tests = (
        ModelTest.chisq("likelihood ratio", fit.lr_test, p),
        ModelTest.chisq("Wald", fit.wald_test, p),
        ModelTest.chisq("score (log-rank)", fit.score_test, p),
        *_factor_tests(frame, fit.coef, fit.variance),
        ModelTest(
            "PH global (cox.zph)", float(ph.chisq[-1]), int(ph.df[-1]), float(ph.p_value[-1])
        ),
    )
    return CoxModel(fit=fit, frame=frame, tests=tests, ph=ph)


def fine_gray_model(
    data: pd.DataFrame,
    time: str,
    status: str,
    covariates: str,
    *,
    cause: int = 1,
    complete_cases: bool = True,
    conf_level: float = 0.95,
) -> FineGrayModel:
    """Fine–Gray model for ``cause`` on a covariate formula (R ``cmprsk::crr``).

    ``status`` is 0 for censored and 1, 2, ... for the causes; every cause other than
    ``cause`` competes. Tests: the global Wald test and a joint Wald test per factor (with
    crr's sandwich variance).
    """
    frame = model_frame(data, covariates, response=(time, status), complete_cases=complete_cases)
    fit = fine_gray(frame.data, time, status, frame.covariates, cause=cause, conf_level=conf_level)
    tests = (
        _wald("Wald (all coefficients)", fit.coef, fit.variance),
        *_factor_tests(frame, fit.coef, fit.variance),
    )
    return FineGrayModel(fit=fit, frame=frame, tests=tests)
