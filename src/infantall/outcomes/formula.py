"""Covariate formulas for the regression models: factors, reference levels, complete cases.

A covariate specification is a right-hand-side formula in the syntax of R and patsy, read by
`formulaic <https://matthewwardrop.github.io/formulaic/>`_: ``age + C(stage) + log(bili)``;
a comma-separated list of columns (``kmt2a_r,age_days,wbc``) means the same as joining them
with ``+``. Text columns and ``C(x)`` terms are factors with treatment contrasts; the
reference level is the first in sorted order, as R's ``factor()`` chooses it, or the one
named by ``C(x, contr.treatment("2"))``.

Rows with a missing value in any variable of the model are dropped by default and reported
by their 1-based row number, as R's ``na.action = na.omit`` does (``coxph(...)$na.action``).
A numeric column with 3 to 5 distinct integer codes fitted as a linear term gets an
:class:`~infantall.outcomes.OutcomesWarning` (a 1/2/3-coded group is usually meant as
``C(group)``).
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from formulaic import Formula, model_matrix
from formulaic.errors import FormulaicError

from infantall.errors import InvalidInputError
from infantall.outcomes._json import json_safe
from infantall.outcomes._validate import OutcomesWarning

__all__ = ["FactorCoding", "ModelFrame", "model_frame", "suggest_column"]

#: integer-coded numeric columns with this many distinct values are probably categories
_CODED_LEVELS = range(3, 6)


@dataclass(frozen=True, slots=True)
class FactorCoding:
    """How one factor term was coded: its levels and the reference (treatment contrasts)."""

    term: str
    levels: tuple[str, ...]
    reference: str


@dataclass(frozen=True, slots=True)
class ModelFrame:
    """The complete cases of a data set and the design columns of a covariate formula.

    ``data`` holds the response columns and one numeric column per coefficient, named as
    the coefficients are (``age``, ``C(stage)[T.2]``, ``sex[T.m]``).
    """

    formula: str
    data: pd.DataFrame
    covariates: tuple[str, ...]
    factors: tuple[FactorCoding, ...]
    n_input: int
    dropped_rows: tuple[int, ...]
    missing_by_column: tuple[tuple[str, int], ...]

    @property
    def n(self) -> int:
        """Rows used (complete cases)."""
        return int(self.data.shape[0])

    @property
    def summary(self) -> pd.DataFrame:
        """One row per factor: term, levels and the reference level."""
        return pd.DataFrame(
            {
                "term": [f.term for f in self.factors],
                "levels": [", ".join(f.levels) for f in self.factors],
                "reference": [f.reference for f in self.factors],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description: formula, rows used and dropped, factor references."""
        out: dict[str, Any] = json_safe(
            {
                "formula": self.formula,
                "n_input": self.n_input,
                "n_used": self.n,
                "n_dropped": len(self.dropped_rows),
                "dropped_rows": list(self.dropped_rows),
                "missing_by_column": dict(self.missing_by_column),
                "reference_levels": {f.term: f.reference for f in self.factors},
            }
        )
        return out


def suggest_column(name: str, columns: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest column name, or ``""`` when none is close."""
    close = difflib.get_close_matches(name, [str(c) for c in columns], n=1, cutoff=0.6)
    if not close:
        lower = {str(c).lower(): str(c) for c in columns}
        close = [lower[name.lower()]] if name.lower() in lower else []
    return f" (did you mean {close[0]!r}?)" if close else ""


def _quote_columns(text: str, columns: Sequence[str]) -> str:
    """Back-quote column names that are not Python names (R's ``ph.ecog``), as formulaic
    reads ``a.b`` as an attribute."""
    for name in sorted((str(c) for c in columns), key=len, reverse=True):
        if name.isidentifier():
            continue
        pattern = r"(?<![\w.`])" + re.escape(name) + r"(?![\w.`])"
        text = re.sub(pattern, "`" + name.replace("\\", "\\\\") + "`", text)
    return text


def _commas_to_plus(text: str) -> str:
    """``a, C(b, contr.treatment(2))`` -> ``a + C(b, contr.treatment(2))`` (top-level commas)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += (ch == "(") - (ch == ")")
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return " + ".join(p.strip() for p in parts if p.strip())


def _parse(spec: str, columns: Sequence[str]) -> tuple[Formula, str]:
    text = spec.strip()
    if "~" in text:
        raise InvalidInputError(
            "covariates", "give the right-hand side only (e.g. 'age + C(group)')", "bad_option"
        )
    text = _commas_to_plus(text)
    if not text:
        raise InvalidInputError("covariates", "name at least one covariate", "bad_option")
    text = _quote_columns(text, columns)
    try:
        return Formula(text), text
    except FormulaicError as exc:
        first = str(exc).splitlines()[0]
        reason = f"{text!r} is not a formula: {first}"
        raise InvalidInputError("covariates", reason, "bad_option") from exc


def _variables(formula: Formula, text: str, columns: Sequence[str]) -> list[str]:
    """The data columns a formula uses (formulaic reports `ph.ecog` as ``ph``)."""
    quoted = set(re.findall(r"`([^`]+)`", text))
    heads = {q.split(".")[0] for q in quoted}
    found = {str(v) for v in formula.required_variables}
    kept = {v for v in found if v in columns or v not in heads}
    for v in [v for v in kept if v not in columns]:  # a dotted typo: report it whole
        dotted = re.search(r"(?<![\w.])" + re.escape(v) + r"\.[\w.]+", text)
        if dotted:
            kept = (kept - {v}) | {dotted.group(0)}
    return sorted(kept | {q for q in quoted if q in columns})


def _check_columns(data: pd.DataFrame, names: Sequence[str]) -> None:
    for name in names:
        if name not in data.columns:
            hint = suggest_column(name, list(data.columns))
            raise InvalidInputError(name, f"is not a column of the data{hint}", "unknown_column")


def _integral(df: pd.DataFrame) -> pd.DataFrame:
    """Float columns holding only whole numbers become integers (levels '2', not '2.0')."""
    out = df.copy()
    for c in out.columns:
        s = out[c]
        if pd.api.types.is_float_dtype(s) and len(s) and np.all(np.mod(s.to_numpy(), 1) == 0):
            out[c] = s.astype(np.int64)
    return out


def _warn_coded(data: pd.DataFrame, formula: Formula, variables: Sequence[str]) -> None:
    linear = {str(t) for t in formula}
    for v in variables:
        s = data[v]
        if v not in linear or not pd.api.types.is_numeric_dtype(s) or s.dtype == bool:
            continue
        values = np.unique(s.to_numpy(dtype=np.float64))
        if len(values) in _CODED_LEVELS and np.all(np.mod(values, 1) == 0):
            codes = ", ".join(f"{x:g}" for x in values)
            warnings.warn(
                f"{v} takes only the values {codes} and is fitted as a linear (numeric) term; "
                f"write C({v}) to fit it as a factor",
                OutcomesWarning,
                stacklevel=3,
            )


def _factors(matrix: Any) -> tuple[FactorCoding, ...]:
    out = []
    for term, (kind, state) in matrix.model_spec.encoder_state.items():
        if str(kind.value) != "categorical":
            continue
        contrasts = state["contrasts"]
        levels = tuple(str(x) for x in contrasts.levels)
        base = getattr(contrasts.contrasts, "base", None)
        reference = levels[0] if base is None or "UNSET" in str(base) else str(base)
        out.append(FactorCoding(str(term).replace("`", ""), levels, reference))
    return tuple(out)


def model_frame(
    data: pd.DataFrame,
    covariates: str,
    *,
    response: Sequence[str] = (),
    keep: Sequence[str | None] = (),
    complete_cases: bool = True,
) -> ModelFrame:
    """Design columns of ``covariates`` on the complete cases of ``data``.

    Parameters
    ----------
    covariates
        A right-hand-side formula (``age + C(stage)``) or comma-separated column names.
    response
        Columns kept as they are (time, event/status); a missing value drops the row.
    keep
        Further columns kept (e.g. strata); ``None`` entries are ignored.
    complete_cases
        Drop rows with a missing value (the default, as R); ``False`` refuses them instead.

    Raises
    ------
    InvalidInputError
        ``unknown_column`` (with the closest column name), ``bad_option`` (not a formula),
        ``missing_covariate`` (missing values with ``complete_cases=False``, or no complete
        row), ``non_numeric_covariate`` (a term that is not a number).
    """
    formula, text = _parse(covariates, list(data.columns))
    variables = _variables(formula, text, list(data.columns))
    extra = [c for c in (*response, *keep) if c is not None]
    _check_columns(data, [*extra, *variables])
    used = list(dict.fromkeys([*extra, *variables]))
    missing = data[used].isna()
    counts = tuple((c, int(missing[c].sum())) for c in used if missing[c].any())
    bad = missing.any(axis=1).to_numpy()
    if bad.any() and not complete_cases:
        col, k = counts[0]
        raise InvalidInputError(col, f"has {k} missing value(s)", "missing_covariate")
    if bad.all():
        raise InvalidInputError("covariates", "no row has every variable", "missing_covariate")
    rows = tuple(int(i) + 1 for i in np.flatnonzero(bad))
    complete = _integral(data.loc[~bad, used].reset_index(drop=True))
    _warn_coded(complete, formula, variables)
    try:
        matrix = model_matrix(formula, complete, ensure_full_rank=True, na_action="raise")
    except (FormulaicError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        raise InvalidInputError("covariates", first, "bad_option") from exc
    design = matrix.drop(columns=[c for c in matrix.columns if c == "Intercept"])
    design.columns = [str(c).replace("`", "") for c in design.columns]
    if design.shape[1] == 0:
        raise InvalidInputError("covariates", "name at least one covariate", "bad_option")
    for c in design.columns:
        if not pd.api.types.is_numeric_dtype(design[c]):
            raise InvalidInputError(str(c), "is not a number", "non_numeric_covariate")
    frame = pd.concat(
        [complete[[c for c in extra if c not in design.columns]], design.astype(np.float64)],
        axis=1,
    )
    return ModelFrame(
        formula=text,
        data=frame,
        covariates=tuple(str(c) for c in design.columns),
        factors=_factors(matrix),
        n_input=int(data.shape[0]),
        dropped_rows=rows,
        missing_by_column=counts,
    )
