"""The data-quality queries (:func:`infantall.domain.quality.check_quality`) over the
registry's patients in the caller's scope: a site's own patients for site roles, every site
pseudonymised for coordinators (as on the coordinator's page and in the pooled export).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from infantall.domain.quality import FOLLOW_UP_OVERDUE_DAYS, QualityReport, check_quality
from infantall.registry import audit
from infantall.registry.access import Principal
from infantall.registry.deidentify import DEFAULT_MAX_SHIFT_DAYS
from infantall.services.datasets import scoped_histories

__all__ = ["registry_quality"]


def registry_quality(
    session: Session,
    principal: Principal,
    pseudonym_key: str,
    as_of: dt.date,
    *,
    overdue_days: int = FOLLOW_UP_OVERDUE_DAYS,
    max_shift_days: int = DEFAULT_MAX_SHIFT_DAYS,
) -> QualityReport:
    """Every data-quality finding of the caller's scope on the day ``as_of`` (audited as an
    ``analysis`` of the scope).

    Raises
    ------
    infantall.registry.errors.PermissionDeniedError
        The caller's role reads no patient data (admin).
    """
    histories = scoped_histories(session, principal, pseudonym_key, max_shift_days=max_shift_days)
    report = check_quality(histories, as_of, overdue_days=overdue_days)
    session.commit()  # end the read transaction before writing the audit row
    extra = {"patients": report.patients, "findings": len(report.findings)}
    audit.record(session, principal, "analysis", "export", "quality", new=extra)
    session.commit()
    return report
