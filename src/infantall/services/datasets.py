"""The registry's patients as analyses see them, for the caller's scope: a site's own
patients for site roles, every site pooled for coordinators, where patient ids are replaced
by pseudonyms (keyed hashes), every date of a patient is moved by the patient's one date
shift and free text is blanked, exactly as in the pooled export
(:mod:`infantall.registry.deidentify`): joining the two on the pseudonym reveals no date.
An administrative cut-off given for pooled data applies to the shifted dates (an exact
calendar cut-off would give each censored patient's shift away).

:func:`registry_cohort` loads the histories once and returns them with their analysis
dataset (the endpoints of :func:`infantall.outcomes.endpoints.derive_endpoints`): the report
flows and the demo need both. :func:`analysis_dataset` is the dataset alone (API, pages);
:func:`scoped_histories` the histories alone (data-quality queries).
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from infantall.domain import PatientHistory
from infantall.errors import InfantallWarning, InvalidInputError
from infantall.outcomes.endpoints import AnalysisDataset, derive_endpoints
from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.deidentify import (
    DEFAULT_MAX_SHIFT_DAYS,
    date_shift_days,
    pseudonym,
    shift_history,
)
from infantall.registry.errors import ValidationFailedError
from infantall.registry.histories import StoredHistoryError, scoped_rows, to_histories

__all__ = ["RegistryCohort", "analysis_dataset", "registry_cohort", "scoped_histories"]


@dataclass(frozen=True, slots=True)
class RegistryCohort:
    """The caller's histories and the analysis dataset derived from exactly those histories.

    ``warnings`` are the messages raised while deriving the endpoints; ``pooled`` is true
    for a coordinator's scope (every site, patient ids pseudonymised in both).
    """

    histories: tuple[PatientHistory, ...]
    dataset: AnalysisDataset
    warnings: tuple[str, ...]
    pooled: bool


def _pseudonymised(
    histories: Sequence[PatientHistory], key: str, max_shift_days: int
) -> list[PatientHistory]:
    out = []
    for h in histories:
        rid = h.patient.patient_id
        shift = date_shift_days(key, rid, max_shift_days)
        out.append(shift_history(h, pseudonym(key, rid), shift))
    return out


def scoped_histories(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    *,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> list[PatientHistory]:
    """Domain histories of the caller's scope (voided records left out), in registry order;
    pseudonymised for a coordinator (pseudonym, the patient's date shift of half-width
    ``max_shift_days``, free text blanked).

    Raises
    ------
    ValidationFailedError
        ``invalid_stored_history`` naming each patient (a coordinator sees its pseudonym)
        whose stored history the domain refuses, with the domain's code per problem.
    """
    try:
        histories = to_histories(*scoped_rows(session, principal))
    except StoredHistoryError as exc:
        if not principal.reads_all_sites:
            raise
        errors = [p.as_error(lambda rid: pseudonym(pseudonym_key, rid)) for p in exc.problems]
        failed = ValidationFailedError(errors)
        failed.code = exc.code
        raise failed from None
    if principal.reads_all_sites:
        return _pseudonymised(histories, pseudonym_key, max_shift_days)
    return histories


def registry_cohort(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    *,
    protocol: str | None = "interfant-06",
    cutoff: dt.date | None = None,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> RegistryCohort:
    """Load the caller's histories once and derive their analysis dataset (audited as an
    ``analysis`` of the scope).

    Raises
    ------
    ValidationFailedError
        ``empty_data`` when the scope has no patient to analyse.
    """
    histories = scoped_histories(session, principal, pseudonym_key, max_shift_days=max_shift_days)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InfantallWarning)
        try:
            dataset = derive_endpoints(histories, protocol=protocol, cutoff=cutoff)
        except InvalidInputError as exc:
            raise ValidationFailedError([exc]) from None
    session.commit()
    extra: dict[str, Any] = {"patients": len(histories), "protocol": protocol}
    audit.record(session, principal, "analysis", "export", "analysis_dataset", new=extra)
    session.commit()
    return RegistryCohort(
        histories=tuple(histories),
        dataset=dataset,
        warnings=tuple(str(w.message) for w in caught),
        pooled=principal.reads_all_sites,
    )


def analysis_dataset(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    *,
    protocol: str | None = "interfant-06",
    cutoff: dt.date | None = None,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> tuple[AnalysisDataset, list[str]]:
    """Derived endpoints of the caller's scope and the warnings raised while deriving
    (:func:`registry_cohort` without the histories).

    Raises
    ------
    ValidationFailedError
        ``empty_data`` when the scope has no patient to analyse.
    """
    cohort = registry_cohort(
        session,
        principal,
        pseudonym_key,
        protocol=protocol,
        cutoff=cutoff,
        max_shift_days=max_shift_days,
    )
    return cohort.dataset, list(cohort.warnings)
