"""Typed, frozen records of the evidence base (validated with pydantic at load time).

One :class:`TrialRecord` is one printed table row or one statement of a seed's running text
about one trial population (a whole trial, a genetic subgroup, an age group, an arm). Its
:class:`Result` entries are the numbers reported for it (CR rate, EFS, OS, relapse counts,
...). Every record carries its :class:`Source`: the seed file, the table or section and a short
verbatim quote (the printed row for table records), or, for the separate enrichment set, the
DOI / registry id of a later publication.
"""

from __future__ import annotations

from typing import Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "ENDPOINTS",
    "POPULATIONS",
    "PROTOCOL_TYPES",
    "QUANTITIES",
    "STATISTICS",
    "UNITS",
    "Component",
    "DataFile",
    "Disagreement",
    "Endpoint",
    "Hsct",
    "Population",
    "ProtocolType",
    "Result",
    "Source",
    "Statement",
    "TableTotal",
    "TrialRecord",
]

Endpoint = Literal[
    "cr",
    "efs",
    "os",
    "dfs",
    "relapse",
    "relapse_marrow_isolated",
    "relapse_cns_isolated",
    "cns_relapse",
    "relapse_before_hsct",
    "early_death",
    "death_in_cr",
    "toxic_death",
    "continued_cr",
    "hsct",
]
"""Endpoint vocabulary. ``relapse`` is the overall relapse rate (or count) as printed;
``relapse_cns_isolated`` may be a crude rate or a cumulative incidence (see the result's note);
``early_death`` is death within 90 days of enrollment (seed 004, POG 9407);
``continued_cr``/``death_in_cr``/``relapse`` after HSCT are the outcome columns of seed 004
Table 3; ``toxic_death`` is a treatment-related death as the seeds word it; ``hsct`` counts
transplanted patients."""

ENDPOINTS: tuple[str, ...] = get_args(Endpoint)

Population = Literal[
    "all",
    "kmt2a_r",
    "kmt2a_g",
    "age_lt_90d",
    "age_le_90d",
    "age_gt_90d",
    "age_lt_6m",
    "age_ge_6m",
    "kmt2a_r_age_lt_6m",
    "kmt2a_r_age_ge_6m",
    "kmt2a_r_hsct_cr1",
    "kmt2a_r_no_hsct",
    "kmt2a_r_biomarker_subgroup",
    "hsct_cr1",
    "hsct_cr2",
    "hsct_active_disease",
    "autologous_sct",
    "relapsed",
    "relapsed_refractory",
    "induction_failure_kmt2a_r",
    "induction_failure_kmt2a_g",
    "mrd_low",
    "mrd_high",
]
"""Population vocabulary. ``kmt2a_r``/``kmt2a_g``: KMT2A (MLL) rearranged / germline
("MLL-nonrearranged" in seed 004). Age codes follow the seeds' wording: ``age_lt_90d``
"younger than 90 days", ``age_le_90d`` "≤ 90 days" (printed as ``p90``)."""

POPULATIONS: tuple[str, ...] = get_args(Population)

ProtocolType = Literal["infant-specific", "childhood", "mixed"]
"""``infant-specific`` protocols (seed 004 Table 2, seed 000 Table 1), ``childhood`` ALL
protocols that enrolled infants (seed 004 Table 1), ``mixed`` for retrospective analyses of
infants treated on several protocols (no single protocol)."""
PROTOCOL_TYPES: tuple[str, ...] = get_args(ProtocolType)

_FROZEN = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

Percent = float


class Source(BaseModel):
    """Where a record comes from.

    ``kind="seed"``: ``seed`` is the seed file name, ``location`` the table (``Table 1``) or
    section (``Text: CCG trials``), ``quote`` a verbatim excerpt of the seed text (the printed
    row for table records; tests check it appears in the seed after whitespace normalisation).
    ``kind="enrichment"``: a later publication, with ``citation`` and a ``doi`` or
    ``registry_id`` (and the address where the number was read in ``url``).
    """

    model_config = _FROZEN

    kind: Literal["seed", "enrichment"]
    seed: str | None = None
    location: str = Field(min_length=1)
    quote: str = Field(min_length=3)
    citation: str | None = None
    doi: str | None = None
    registry_id: str | None = None
    pmcid: str | None = None
    url: str | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if self.kind == "seed" and not self.seed:
            raise ValueError("a seed source needs 'seed' (the seed file name)")
        if self.kind == "enrichment" and not (self.doi or self.registry_id or self.pmcid):
            raise ValueError("an enrichment source needs a 'doi', 'registry_id' or 'pmcid'")
        return self


class Result(BaseModel):
    """One reported number: a percentage (``estimate_pct``) and/or a count (``events``).

    ``n`` is the denominator when it differs from the record's N (e.g. CR among evaluable
    patients). ``horizon_years`` is None for rates without a time horizon (CR, relapse rate).
    """

    model_config = _FROZEN

    endpoint: Endpoint
    horizon_years: float | None = Field(default=None, gt=0, le=30)
    estimate_pct: Percent | None = Field(default=None, ge=0, le=100)
    se_pct: Percent | None = Field(default=None, ge=0, le=100)
    ci_low_pct: Percent | None = Field(default=None, ge=0, le=100)
    ci_high_pct: Percent | None = Field(default=None, ge=0, le=100)
    events: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, gt=0)
    quote: str | None = None
    note: str | None = None
    ambiguity: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.estimate_pct is None and self.events is None:
            raise ValueError("a result needs estimate_pct or events")
        if self.events is not None and self.n is not None and self.events > self.n:
            raise ValueError(f"events ({self.events}) exceed n ({self.n})")
        lo, hi, est = self.ci_low_pct, self.ci_high_pct, self.estimate_pct
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("ci_low_pct exceeds ci_high_pct")
        if est is not None and lo is not None and hi is not None and not lo <= est <= hi:
            raise ValueError("estimate_pct lies outside its confidence interval")
        return self


class Hsct(BaseModel):
    """Allogeneic HSCT in first CR as reported: number (and percent) transplanted and, where
    printed (seed 004 Table 3), their outcome: continued CR1, death in CR, relapse."""

    model_config = _FROZEN

    n: int = Field(ge=0)
    pct: Percent | None = Field(default=None, ge=0, le=100)
    continued_cr1: int | None = Field(default=None, ge=0)
    death_in_cr: int | None = Field(default=None, ge=0)
    relapse: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _outcomes_within_n(self) -> Self:
        parts = [p for p in (self.continued_cr1, self.death_in_cr, self.relapse) if p is not None]
        if sum(parts) > self.n:
            raise ValueError(f"HSCT outcomes ({sum(parts)}) exceed the transplanted ({self.n})")
        return self


class Component(BaseModel):
    """One study of a printed row that combines two studies (e.g. ``EORTC 58831/58832``)."""

    model_config = _FROZEN

    study: str = Field(min_length=1)
    accrual_start: int | None = Field(default=None, ge=1950, le=2100)
    accrual_end: int | None = Field(default=None, ge=1950, le=2100)
    n: int | None = Field(default=None, gt=0)


class TrialRecord(BaseModel):
    """One trial population with its reported numbers and its provenance."""

    model_config = _FROZEN

    record_id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    trial_id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    study: str = Field(min_length=1)
    group: str = Field(min_length=1)
    countries: tuple[str, ...] = ()
    accrual_start: int | None = Field(default=None, ge=1950, le=2100)
    accrual_end: int | None = Field(default=None, ge=1950, le=2100)
    population: Population
    population_label: str | None = None
    arm: str | None = None
    n: int | None = Field(default=None, gt=0)
    protocol_type: ProtocolType
    hsct: Hsct | None = None
    components: tuple[Component, ...] = ()
    results: tuple[Result, ...] = ()
    source: Source
    ambiguity: str | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _accrual_order(self) -> Self:
        spans = [(self.accrual_start, self.accrual_end)] + [
            (c.accrual_start, c.accrual_end) for c in self.components
        ]
        for start, end in spans:
            if start is not None and end is not None and end < start:
                raise ValueError(f"accrual_end ({end}) is before accrual_start ({start})")
        return self


class TableTotal(BaseModel):
    """A printed total row of a seed table (e.g. seed 004 Table 3 ``Total``)."""

    model_config = _FROZEN

    table: str = Field(min_length=1)
    accrual_start: int | None = None
    accrual_end: int | None = None
    values: dict[str, int]
    source: Source


class DataFile(BaseModel):
    """The shape of one curated data file: its records and any printed totals."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str = Field(min_length=1)
    records: tuple[TrialRecord, ...]
    totals: tuple[TableTotal, ...] = ()


class Disagreement(BaseModel):
    """Two (or more) records of the seeds that print different values for one quantity of one
    trial population. ``quantity`` is ``n``, ``hsct.n`` or ``<endpoint>[@<h>y]``; ``values``
    maps each record id to the value it prints; ``reading`` says which value the project uses
    and why (or that both are kept)."""

    model_config = _FROZEN

    disagreement_id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    trial_id: str = Field(min_length=1)
    quantity: str = Field(min_length=1)
    records: tuple[str, ...] = Field(min_length=2)
    values: dict[str, float]
    explanation: str = Field(min_length=3)
    reading: str = Field(min_length=3)

    @model_validator(mode="after")
    def _values_per_record(self) -> Self:
        if set(self.values) != set(self.records):
            raise ValueError("values must give exactly one value per listed record")
        if len(set(self.values.values())) < 2:
            raise ValueError("a disagreement needs at least two different values")
        return self


Quantity = Literal[
    "enrolled",
    "evaluable",
    "randomised",
    "analysed",
    "comparator",
    "transplanted",
    "autologous_rescue",
    "chemotherapy_only",
    "in_cr",
    "cr_rate",
    "efs",
    "os",
    "dfs",
    "relapse",
    "relapse_marrow_isolated",
    "relapse_cns_isolated",
    "relapse_before_hsct",
    "relapse_after_hsct",
    "early_death",
    "toxic_death",
    "death_in_cr",
    "relapse_death",
    "continued_cr",
    "continued_cr2",
    "time_to_hsct",
    "time_to_relapse",
    "therapy_duration",
    "time_point",
    "age_threshold",
    "wbc_threshold",
    "blast_threshold",
    "mrd_threshold",
    "hla_match",
    "dose",
    "dose_reduction",
    "dose_ratio",
    "incidence",
    "proportion",
    "p_value",
    "count",
]
"""What a numeric statement measures. Counts of patients (``enrolled``, ``evaluable``,
``randomised``, ``analysed``, ``comparator`` = a comparison group, ``transplanted``,
``autologous_rescue``, ``chemotherapy_only``, ``in_cr``), outcome rates and counts
(``cr_rate`` ... ``continued_cr2``; ``relapse_*`` by site and by timing relative to HSCT),
times (``time_to_hsct`` as a median with a range, ``therapy_duration``, ``time_point`` of an
assessment such as the day-14 marrow), the thresholds of a
rule (age, WBC, day-8 blasts, MRD, HLA match), doses, ``incidence``/``proportion`` of a
feature, ``p_value`` of a comparison and ``count`` for anything else counted (phases,
courses, groups)."""
QUANTITIES: tuple[str, ...] = get_args(Quantity)

Statistic = Literal["count", "percent", "median", "value", "threshold", "range", "p_value"]
STATISTICS: tuple[str, ...] = get_args(Statistic)

Unit = Literal[
    "patients",
    "percent",
    "days",
    "weeks",
    "months",
    "years",
    "cGy",
    "x10^9/L",
    "cells/uL",
    "fraction",
    "hla_antigens",
    "fold",
    "items",
    "p",
]
UNITS: tuple[str, ...] = get_args(Unit)


class Statement(BaseModel):
    """One numeric statement of a seed's running text, as structured data.

    ``quote`` is verbatim (after whitespace normalisation) from section ``section`` of
    ``seed``; ``value`` (or the range ``value_low``–``value_high``), ``unit``, ``horizon_years``
    and ``denominator`` are the numbers it states; ``population`` says of whom, ``site`` and
    ``timing`` qualify relapse rates (``marrow_isolated``; ``before_hsct``), ``comparison`` names
    the groups a P value or a "vs" compares. ``record_id`` links to the trial record that holds
    the same number as a :class:`Result`, if any. ``printed`` lists numbers as printed when the
    PDF lost a symbol (``450`` for > 50, ``10� 4`` for 10^-4) so that they can be matched.
    """

    model_config = _FROZEN

    statement_id: str = Field(pattern=r"^[a-z0-9][a-z0-9.\-]*$")
    seed: str = Field(min_length=1)
    section: str = Field(min_length=1)
    quote: str = Field(min_length=3)
    trial_id: str | None = None
    record_id: str | None = None
    population: str = Field(min_length=1)
    quantity: Quantity
    statistic: Statistic
    value: float | None = None
    value_low: float | None = None
    value_high: float | None = None
    unit: Unit
    horizon_years: float | None = Field(default=None, gt=0, le=30)
    denominator: int | None = Field(default=None, gt=0)
    site: Literal["marrow_isolated", "cns_isolated", "cns", "combined", "any"] | None = None
    """Relapse site: ``cns`` is any CNS relapse (isolated or combined), ``any`` all sites."""
    timing: str | None = None
    comparison: str | None = None
    printed: tuple[str, ...] = ()
    note: str | None = None

    @model_validator(mode="after")
    def _has_number(self) -> Self:
        if self.value is None and self.value_low is None and self.value_high is None:
            raise ValueError("a statement needs value or value_low/value_high")
        lo, hi = self.value_low, self.value_high
        if lo is not None and hi is not None and lo > hi:
            raise ValueError("value_low exceeds value_high")
        if self.statistic == "p_value" and not 0 <= (self.value or 0) <= 1:
            raise ValueError("a P value lies in [0, 1]")
        if self.unit == "percent" and self.value is not None and not 0 <= self.value <= 100:
            raise ValueError("a percentage lies in [0, 100]")
        return self

    def numbers(self) -> set[float]:
        """Every number the statement holds (for matching against the text)."""
        out = {v for v in (self.value, self.value_low, self.value_high) if v is not None}
        if self.denominator is not None:
            out.add(float(self.denominator))
        if self.horizon_years is not None:
            out |= {self.horizon_years, round(self.horizon_years * 12, 6)}
        return out
