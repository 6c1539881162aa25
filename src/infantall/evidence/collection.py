"""The :class:`Evidence` collection: typed records, a tidy DataFrame view and queries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infantall.errors import InvalidInputError
from infantall.evidence.disagreements import flagged_by_record
from infantall.evidence.export import export_payload, export_rows, file_digest
from infantall.evidence.loader import (
    DISAGREEMENTS_FILE,
    ENRICHMENT_FILES,
    SEED_FILES,
    STATEMENT_FILES,
    data_dir,
    read_data_files,
    read_disagreements,
    read_statements,
)
from infantall.evidence.schema import (
    ENDPOINTS,
    POPULATIONS,
    Disagreement,
    Statement,
    TableTotal,
    TrialRecord,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "STUDY_COLUMNS", "Evidence", "load_evidence"]

FRAME_COLUMNS: tuple[str, ...] = (
    "record_id",
    "trial_id",
    "study",
    "group",
    "countries",
    "accrual_start",
    "accrual_end",
    "population",
    "population_label",
    "arm",
    "n",
    "endpoint",
    "horizon_years",
    "estimate_pct",
    "se_pct",
    "ci_low_pct",
    "ci_high_pct",
    "events",
    "hsct_n",
    "protocol_type",
    "source_kind",
    "source_seed",
    "source_location",
    "source_doi",
    "source_registry_id",
    "source_pmcid",
    "quote",
    "note",
    "ambiguity",
)
"""Columns of :attr:`Evidence.frame`, one row per reported number (INTERFACES.md)."""

STUDY_COLUMNS: tuple[str, ...] = (
    "record_id",
    "trial_id",
    "study",
    "group",
    "countries",
    "accrual_start",
    "accrual_end",
    "population",
    "arm",
    "n",
    "hsct_n",
    "protocol_type",
    "n_results",
    "source_kind",
    "source_seed",
    "source_location",
    "ambiguity",
)
"""Columns of :attr:`Evidence.studies`, one row per record (including records without
numbers, such as ongoing trials or rows printed with dashes only)."""


def _join(*parts: str | None) -> str | None:
    kept = [p for p in parts if p]
    return " | ".join(kept) if kept else None


def _record_base(rec: TrialRecord) -> dict[str, Any]:
    return {
        "record_id": rec.record_id,
        "trial_id": rec.trial_id,
        "study": rec.study,
        "group": rec.group,
        "countries": "; ".join(rec.countries),
        "accrual_start": rec.accrual_start,
        "accrual_end": rec.accrual_end,
        "population": rec.population,
        "population_label": rec.population_label,
        "arm": rec.arm,
        "n": rec.n,
        "hsct_n": rec.hsct.n if rec.hsct is not None else None,
        "protocol_type": rec.protocol_type,
        "source_kind": rec.source.kind,
        "source_seed": rec.source.seed,
        "source_location": rec.source.location,
        "source_doi": rec.source.doi,
        "source_registry_id": rec.source.registry_id,
        "source_pmcid": rec.source.pmcid,
    }


def result_rows(rec: TrialRecord) -> list[dict[str, Any]]:
    """The frame rows of one record: one per reported number."""
    base = _record_base(rec)
    rows = []
    for res in rec.results:
        row = dict(base)
        row.update(
            n=res.n if res.n is not None else rec.n,
            endpoint=res.endpoint,
            horizon_years=res.horizon_years,
            estimate_pct=res.estimate_pct,
            se_pct=res.se_pct,
            ci_low_pct=res.ci_low_pct,
            ci_high_pct=res.ci_high_pct,
            events=res.events,
            quote=res.quote or rec.source.quote,
            note=_join(rec.note, res.note),
            ambiguity=_join(rec.ambiguity, res.ambiguity),
        )
        rows.append(row)
    return rows


@dataclass(frozen=True)
class Evidence:
    """The curated evidence base: typed records plus DataFrame views and queries.

    Build it with :func:`load_evidence`. ``records`` are frozen pydantic models
    (:class:`~infantall.evidence.schema.TrialRecord`); :attr:`frame` has one row per reported
    number with the columns :data:`FRAME_COLUMNS`; :attr:`studies` has one row per record.
    """

    records: tuple[TrialRecord, ...]
    totals: tuple[TableTotal, ...] = ()
    disagreements: tuple[Disagreement, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    """(data file name, SHA-256 of its text) of every file the base was read from."""
    statements: tuple[Statement, ...] = ()
    """The numeric statements of the seeds' running text (:class:`Statement`)."""

    def __len__(self) -> int:
        return len(self.records)

    @cached_property
    def frame(self) -> pd.DataFrame:
        """One row per reported number (a long, tidy table)."""
        import pandas as pd

        rows = [row for rec in self.records for row in result_rows(rec)]
        df = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
        for col in ("accrual_start", "accrual_end", "n", "events", "hsct_n"):
            df[col] = df[col].astype("Int64")
        for col in ("horizon_years", "estimate_pct", "se_pct", "ci_low_pct", "ci_high_pct"):
            df[col] = df[col].astype("float64")
        return df

    @cached_property
    def studies(self) -> pd.DataFrame:
        """One row per record, whether or not it reports a number."""
        import pandas as pd

        rows = []
        for rec in self.records:
            row = _record_base(rec)
            row["n_results"] = len(rec.results)
            row["ambiguity"] = rec.ambiguity
            rows.append(row)
        df = pd.DataFrame(rows, columns=list(STUDY_COLUMNS))
        for col in ("accrual_start", "accrual_end", "n", "hsct_n"):
            df[col] = df[col].astype("Int64")
        return df

    def get(self, record_id: str) -> TrialRecord:
        """The record with this id, or :class:`InvalidInputError` (code ``unknown_record``)."""
        for rec in self.records:
            if rec.record_id == record_id:
                return rec
        raise InvalidInputError("record_id", f"no evidence record {record_id!r}", "unknown_record")

    def trial(self, trial_id: str) -> Evidence:
        """Every record of one trial (across tables, text and seeds)."""
        found = tuple(r for r in self.records if r.trial_id == trial_id)
        if not found:
            raise InvalidInputError("trial_id", f"no trial {trial_id!r}", "unknown_trial")
        stmts = tuple(st for st in self.statements if st.trial_id == trial_id)
        return Evidence(found, (), self._disagreements_of(found), self.files, stmts)

    @property
    def trial_ids(self) -> tuple[str, ...]:
        """The distinct trial ids, in file order."""
        return tuple(dict.fromkeys(r.trial_id for r in self.records))

    @property
    def groups(self) -> tuple[str, ...]:
        """The distinct study groups, sorted."""
        return tuple(sorted({r.group for r in self.records}))

    def query(
        self,
        *,
        group: str | Iterable[str] | None = None,
        endpoint: str | Iterable[str] | None = None,
        population: str | Iterable[str] | None = None,
        era: tuple[int | None, int | None] | None = None,
        protocol_type: str | None = None,
        source_seed: str | None = None,
        source_location: str | None = None,
    ) -> Evidence:
        """Filter the records; every criterion given must hold.

        Parameters
        ----------
        group
            Study group(s), case-insensitive (``"COG"``, ``"Interfant"``, ...).
        endpoint
            Keep records reporting this endpoint; their other results are dropped.
        population
            Population code(s) of :data:`~infantall.evidence.schema.POPULATIONS`.
        era
            ``(first, last)`` calendar years: keep records whose accrual period overlaps it
            (records without accrual years are dropped). Either bound may be None.
        protocol_type
            ``"infant-specific"`` or ``"childhood"``.
        source_seed, source_location
            Seed file name (prefix match, e.g. ``"004"``) and table/section (prefix match).
        """
        recs = list(self.records)
        if group is not None:
            wanted = {g.casefold() for g in _as_set(group)}
            recs = [r for r in recs if r.group.casefold() in wanted]
        if population is not None:
            pops = _checked(population, POPULATIONS, "population")
            recs = [r for r in recs if r.population in pops]
        if protocol_type is not None:
            recs = [r for r in recs if r.protocol_type == protocol_type]
        if source_seed is not None:
            recs = [r for r in recs if (r.source.seed or "").startswith(source_seed)]
        if source_location is not None:
            recs = [r for r in recs if r.source.location.startswith(source_location)]
        if era is not None:
            recs = [r for r in recs if _overlaps(r, era)]
        if endpoint is not None:
            eps = _checked(endpoint, ENDPOINTS, "endpoint")
            recs = [
                r.model_copy(update={"results": tuple(x for x in r.results if x.endpoint in eps)})
                for r in recs
                if any(x.endpoint in eps for x in r.results)
            ]
        return Evidence(
            tuple(recs), self.totals, self._disagreements_of(recs), self.files, self.statements
        )

    def _disagreements_of(self, recs: Iterable[TrialRecord]) -> tuple[Disagreement, ...]:
        ids = {r.record_id for r in recs}
        return tuple(d for d in self.disagreements if ids & set(d.records))

    def export_rows(self) -> list[dict[str, Any]]:
        """Flat rows carrying every field of every record (see :mod:`~.export`)."""
        return export_rows(self.records, flagged_by_record(self.disagreements))

    def to_dict(self) -> dict[str, Any]:
        """The whole base with provenance: records, totals, disagreements (JSON-safe)."""
        return export_payload(
            self.records,
            totals=self.totals,
            disagreements=self.disagreements,
            statements=self.statements,
            files=dict(self.files),
        )


def _as_set(value: str | Iterable[str]) -> set[str]:
    return {value} if isinstance(value, str) else set(value)


def _checked(value: str | Iterable[str], allowed: tuple[str, ...], field: str) -> set[str]:
    wanted = {v.lower() for v in _as_set(value)}
    bad = sorted(wanted - set(allowed))
    if bad:
        raise InvalidInputError(
            field, f"unknown {field} {bad[0]!r}; choose from {', '.join(allowed)}", f"bad_{field}"
        )
    return wanted


def _overlaps(rec: TrialRecord, era: tuple[int | None, int | None]) -> bool:
    if rec.accrual_start is None:
        return False
    first, last = era
    end = rec.accrual_end if rec.accrual_end is not None else rec.accrual_start
    return (first is None or end >= first) and (last is None or rec.accrual_start <= last)


def load_evidence(*, enrichment: bool = False, directory: Path | None = None) -> Evidence:
    """Load and validate the curated evidence base.

    Parameters
    ----------
    enrichment
        Also load the enrichment set (later publications, each with a DOI or registry id),
        whose records have ``source.kind == "enrichment"``. Off by default: the default
        evidence base is exactly what the two seed reviews print.
    directory
        Read the data files from this folder instead of the shipped package data.

    Raises
    ------
    DataFileError
        A data file is malformed (the message names the file, the record and the field).
    """
    folder = directory if directory is not None else data_dir()
    names = SEED_FILES + (ENRICHMENT_FILES if enrichment else ())
    records, totals = read_data_files(folder / name for name in names)
    flags_path = folder / DISAGREEMENTS_FILE
    flags = read_disagreements(flags_path) if flags_path.exists() else []
    stmt_paths = [folder / n for n in STATEMENT_FILES if (folder / n).exists()]
    statements = read_statements(stmt_paths)
    files = tuple(
        (name, file_digest((folder / name).read_text(encoding="utf-8")))
        for name in (*names, *STATEMENT_FILES, DISAGREEMENTS_FILE)
        if (folder / name).exists()
    )
    return Evidence(tuple(records), tuple(totals), tuple(flags), files, tuple(statements))
