"""Fill a registry with a SYNTHETIC cohort through the registry's own CSV import.

For demonstrations, screenshots and the browser tests: :func:`infantall.cohort.generate_cohort`
draws the patients, :func:`infantall.cohort.redcap.redcap_tables_by_site` writes one
import file per synthetic site, and each file is imported by a site editor with
:func:`infantall.registry.io.import_csv` (validated as a whole, audited), exactly as a data
manager's upload would be. Every patient row says SYNTHETIC in its notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infantall.registry.access import Principal
from infantall.registry.db import Database
from infantall.registry.errors import ValidationFailedError

__all__ = ["LoadedCohort", "load_synthetic_cohort"]


@dataclass(frozen=True, slots=True)
class LoadedCohort:
    """What was imported: patients and events per registry site code."""

    patients: dict[str, int]
    events: dict[str, int]


def load_synthetic_cohort(
    database: Database, editors: Sequence[tuple[str, Principal]], n: int, seed: int
) -> LoadedCohort:
    """Generate ``n`` synthetic patients over ``len(editors)`` sites and import each site's
    file as that site's editor (``editors``: registry site code and its editor).

    Raises
    ------
    ValidationFailedError
        If the registry refuses a generated file (the first problem of its report).
    """
    from infantall.cohort import generate_cohort
    from infantall.cohort.redcap import redcap_tables_by_site
    from infantall.errors import InvalidInputError
    from infantall.registry import io

    cohort = generate_cohort(n, sites=len(editors), seed=seed)
    tables = redcap_tables_by_site(cohort)
    patients: dict[str, int] = {}
    events: dict[str, int] = {}
    for (code, editor), (_synthetic_site, table) in zip(
        editors, sorted(tables.items()), strict=True
    ):
        content = table.to_csv(index=False).encode("utf-8")
        with database.write_sessions() as session:
            report = io.import_csv(session, editor, content)
        if not report.ok:
            first = report.errors[0]
            raise ValidationFailedError(
                [InvalidInputError(first.field, f"row {first.row}: {first.reason}", first.code)]
            )
        patients[code] = report.imported_patients
        events[code] = report.imported_events
    return LoadedCohort(patients, events)
