"""The patient features that protocol rules read, per patient and as encoded arrays.

Per patient, :func:`features_of` turns a validated :class:`~infantall.domain.Patient` or
:class:`~infantall.domain.PatientHistory` into a flat mapping (numeric values or None,
categorical values as strings, ``"unknown"`` when not known). Over a DataFrame,
:func:`encode_frame` builds the same features column by column, applying the same
derivations as the domain model: age from the dates of birth and diagnosis when
``age_days`` is missing, and the prednisone response class from the day-8 blast count
(< 1,000/µL good, ≥ 1,000/µL poor) when the count is given.

Frame columns (one row per patient; any missing column means "unknown" for everyone):
the :class:`~infantall.domain.Patient` fields ``age_days`` (or ``birth_date`` and
``diagnosis_date``), ``wbc``, ``kmt2a``, ``cns``, ``day8_blasts``, ``prednisone_response``,
``cd10``, ``day15_marrow``, ``fusion_partner``, ``immunophenotype``; and from the history
``induction_response`` and ``mrd_<time point>`` (fractions), e.g.
``mrd_start_of_octadad``.

**MRD after consolidation** (one reading shared by every rule): the seeds' "MRD ≥ 10^-4
following consolidation" (seed 004, of Interfant-99's MRD study and of Interfant-06's HSCT
rule) is the derived feature ``mrd_after_consolidation``: the MRD result at the end of
consolidation, or, when that time point was not recorded, the next one, the start of OCTADAD
(the sample Interfant-06's HSCT rule is documented on, ASH 2018 abstract 655). A column
``mrd_after_consolidation`` given in a frame is used as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from infantall.domain import (
    PPR_THRESHOLD_PER_UL,
    CD10Status,
    CNSStatus,
    FusionPartner,
    Immunophenotype,
    InductionResponse,
    KMT2AStatus,
    MarrowStatus,
    MRDTimePoint,
    Patient,
    PatientHistory,
    PrednisoneResponse,
)
from infantall.errors import InvalidInputError
from infantall.protocols.conditions import ArrayFeatures

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CATEGORICAL_FEATURES",
    "CATEGORIES",
    "CR_TO_HSCT_DAYS",
    "MRD_AFTER_CONSOLIDATION",
    "MRD_FEATURES",
    "NUMERIC_FEATURES",
    "encode_features",
    "encode_frame",
    "features_of",
]

#: Time points whose MRD results the rules read, as feature ``mrd_<time point>``.
MRD_FEATURES: dict[str, MRDTimePoint] = {
    f"mrd_{tp.value}": tp
    for tp in (
        MRDTimePoint.end_of_induction,
        MRDTimePoint.end_of_early_consolidation,
        MRDTimePoint.end_of_consolidation,
        MRDTimePoint.start_of_octadad,
        MRDTimePoint.after_blinatumomab_1,
    )
}

#: The derived feature that every rule reading "MRD after consolidation" reads, and the
#: time points it is read from, in order of preference (module docstring).
MRD_AFTER_CONSOLIDATION = "mrd_after_consolidation"
MRD_AFTER_CONSOLIDATION_SOURCES = ("mrd_end_of_consolidation", "mrd_start_of_octadad")

#: Days from the end-of-induction response (CR) to the first HSCT (from the history).
CR_TO_HSCT_DAYS = "cr_to_hsct_days"

NUMERIC_FEATURES: tuple[str, ...] = (
    "age_days",
    "wbc",
    "day8_blasts",
    *MRD_FEATURES,
    MRD_AFTER_CONSOLIDATION,
    CR_TO_HSCT_DAYS,
)

CATEGORICAL_FEATURES: dict[str, type[StrEnum]] = {
    "kmt2a": KMT2AStatus,
    "cns": CNSStatus,
    "prednisone_response": PrednisoneResponse,
    "cd10": CD10Status,
    "day15_marrow": MarrowStatus,
    "fusion_partner": FusionPartner,
    "immunophenotype": Immunophenotype,
    "induction_response": InductionResponse,
}

#: The categories (codes) of every categorical feature, as encoded for the engine.
CATEGORIES: dict[str, tuple[str, ...]] = {
    name: tuple(m.value for m in enum) for name, enum in CATEGORICAL_FEATURES.items()
}


def features_of(subject: Patient | PatientHistory) -> dict[str, Any]:
    """The features of one validated patient (with its history's events when given)."""
    patient = subject.patient if isinstance(subject, PatientHistory) else subject
    out: dict[str, Any] = {
        "age_days": patient.age_days,
        "wbc": patient.wbc,
        "day8_blasts": patient.day8_blasts,
    }
    for name in CATEGORICAL_FEATURES:
        if name != "induction_response":
            out[name] = getattr(patient, name).value
    out["induction_response"] = InductionResponse.unknown.value
    for name in MRD_FEATURES:
        out[name] = None
    out[CR_TO_HSCT_DAYS] = None
    if isinstance(subject, PatientHistory):
        response = subject.induction_response
        if response is not None:
            out["induction_response"] = response.status.value
            if response.status == InductionResponse.cr and subject.transplants:
                first = min(t.date for t in subject.transplants)
                out[CR_TO_HSCT_DAYS] = float((first - response.date).days)
        for name, tp in MRD_FEATURES.items():
            result = subject.mrd(tp)
            out[name] = None if result is None else result.value
    out[MRD_AFTER_CONSOLIDATION] = next(
        (out[s] for s in MRD_AFTER_CONSOLIDATION_SOURCES if out.get(s) is not None), None
    )
    return out


def encode_features(features: Mapping[str, Any]) -> ArrayFeatures:
    """One patient's :func:`features_of` mapping as a one-row :class:`ArrayFeatures`."""
    import numpy as np

    numeric = {
        name: np.array([np.nan if features.get(name) is None else float(features[name])])
        for name in NUMERIC_FEATURES
    }
    categorical = {}
    for name, cats in CATEGORIES.items():
        value = features.get(name)
        code = cats.index(str(value)) if value is not None and str(value) in cats else -1
        categorical[name] = (np.array([code], dtype=np.int16), cats)
    return ArrayFeatures(1, numeric, categorical)


def encode_frame(df: pd.DataFrame) -> ArrayFeatures:
    """Encode a DataFrame of patients (columns as in the module docstring) for the engine.

    Raises
    ------
    InvalidInputError
        ``invalid_choice`` when a categorical column holds a value outside its choices,
        ``invalid_type`` when a numeric column cannot be read as numbers.
    """
    import numpy as np
    import pandas as pd

    n = len(df)
    numeric: dict[str, Any] = {}
    for name in NUMERIC_FEATURES:
        if name in df.columns:
            numeric[name] = _numeric_column(df[name], name)
    if {"birth_date", "diagnosis_date"} <= set(df.columns):
        birth = pd.to_datetime(df["birth_date"], errors="coerce")
        diagnosis = pd.to_datetime(df["diagnosis_date"], errors="coerce")
        from_dates = (diagnosis - birth).dt.days.to_numpy(dtype=np.float64, na_value=np.nan)
        given = numeric.get("age_days")
        numeric["age_days"] = (
            from_dates if given is None else np.where(np.isnan(given), from_dates, given)
        )
    if MRD_AFTER_CONSOLIDATION not in numeric:
        derived = np.full(n, np.nan)
        for source in reversed(MRD_AFTER_CONSOLIDATION_SOURCES):
            if source in numeric:
                derived = np.where(np.isnan(numeric[source]), derived, numeric[source])
        numeric[MRD_AFTER_CONSOLIDATION] = derived
    categorical: dict[str, Any] = {}
    for name, enum in CATEGORICAL_FEATURES.items():
        if name in df.columns:
            categorical[name] = _categorical_column(df[name], name, enum)
    blasts = numeric.get("day8_blasts")
    if blasts is not None:
        categories = tuple(m.value for m in PrednisoneResponse)
        codes = categorical.get("prednisone_response", (np.full(n, -1, np.int16), categories))[0]
        derived = np.where(
            blasts >= PPR_THRESHOLD_PER_UL,
            categories.index("poor"),
            categories.index("good"),
        ).astype(np.int16)
        categorical["prednisone_response"] = (
            np.where(np.isnan(blasts), codes, derived).astype(np.int16),
            categories,
        )
    return ArrayFeatures(n, numeric, categorical)


def _numeric_column(col: pd.Series[Any], name: str) -> Any:
    import numpy as np
    import pandas as pd

    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna() & col.notna()
    if bool(bad.any()):
        row = col.index[bad.to_numpy()][0]
        raise InvalidInputError(f"{name}[{row}]", f"{col[row]!r} is not a number", "invalid_type")
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _categorical_column(col: pd.Series[Any], name: str, enum: type[StrEnum]) -> Any:
    import numpy as np
    import pandas as pd

    categories = tuple(m.value for m in enum)
    if isinstance(col.dtype, pd.CategoricalDtype):
        extra = set(map(str, col.cat.categories)) - set(categories)
        values = col.astype(str).where(col.notna()) if extra else col
    else:
        # StrEnum members equal and hash as their values: Categorical matches them as is
        values = col.astype(object).where(col.notna())
    cat = pd.Categorical(values, categories=list(categories))
    bad = cat.isna() & values.notna().to_numpy()
    if bool(bad.any()):
        row = col.index[bad][0]
        raise InvalidInputError(
            f"{name}[{row}]",
            f"{col[row]!r} is not one of {', '.join(categories)}",
            "invalid_choice",
        )
    return np.asarray(cat.codes, dtype=np.int16), categories
