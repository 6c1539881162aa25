"""Analysis datasets (the endpoints of ``infantall.outcomes.endpoints``) for the caller's
scope: a site's own patients for site roles, every site pooled for coordinators, where
patient ids are replaced by pseudonyms (keyed hashes) as in the pooled export."""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any

from sqlalchemy.orm import Session

from infantall.errors import InfantallWarning, InvalidInputError
from infantall.outcomes.endpoints import AnalysisDataset, derive_endpoints
from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.errors import ValidationFailedError
from infantall.registry.histories import scoped_rows, to_histories
from infantall.registry.io import pseudonym

__all__ = ["analysis_dataset"]


def analysis_dataset(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    *,
    protocol: str | None = "interfant-06",
    cutoff: dt.date | None = None,
) -> tuple[AnalysisDataset, list[str]]:
    """Derived endpoints of the caller's scope and the warnings raised while deriving.

    Raises
    ------
    ValidationFailedError
        ``empty_data`` when the scope has no patient to analyse.
    """
    patients, events = scoped_rows(session, principal)
    histories = to_histories(patients, events)
    if principal.reads_all_sites:
        histories = [
            h.model_copy(
                update={
                    "patient": h.patient.model_copy(
                        update={"patient_id": pseudonym(pseudonym_key, h.patient.patient_id)}
                    )
                }
            )
            for h in histories
        ]
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
    return dataset, [str(w.message) for w in caught]
