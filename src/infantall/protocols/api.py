"""Stratify one patient: :func:`stratify` and :func:`stratify_all`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from infantall.domain import Patient, PatientHistory
from infantall.protocols.engine import as_subject, decide, resolve_params
from infantall.protocols.features import features_of
from infantall.protocols.model import Decision, Protocol
from infantall.protocols.registry import PROTOCOLS, get_protocol

__all__ = ["stratify", "stratify_all"]


def stratify(
    patient: Patient | PatientHistory | Mapping[str, Any],
    protocol: str | Protocol = "interfant-06",
    params: Mapping[str, Any] | None = None,
) -> Decision:
    """The risk group of ``patient`` under ``protocol``, with the reasons and sources.

    Parameters
    ----------
    patient
        A :class:`~infantall.domain.Patient`, a :class:`~infantall.domain.PatientHistory`
        (its end-of-induction response and MRD results are used by rules that need them),
        or a JSON-like mapping of either (validated).
    protocol
        A protocol id from :data:`~infantall.protocols.PROTOCOLS`.
    params
        Overrides of the protocol's named conventions (e.g. ``{"six_months_days": 180}``).

    Returns
    -------
    Decision
        The group (or ``"indeterminate"`` with the missing fields that would decide it),
        flags, fired rules, explanation, sources and the conventions used.

    Examples
    --------
    >>> from infantall.domain import Patient
    >>> d = stratify(Patient(patient_id="P1", age_days=120, wbc=350, kmt2a="rearranged"))
    >>> d.group, d.flags
    ('HR', ('hsct_eligible',))
    """
    proto = get_protocol(protocol)
    values = resolve_params(proto, params)
    return decide(proto, features_of(as_subject(patient)), values)


def stratify_all(
    patient: Patient | PatientHistory | Mapping[str, Any],
    protocols: Iterable[str] | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Decision]:
    """:func:`stratify` under every protocol (or those in ``protocols``), keyed by id.

    ``params`` maps a protocol id to its parameter overrides.
    """
    subject = as_subject(patient)
    features = features_of(subject)
    out = {}
    for pid in protocols if protocols is not None else PROTOCOLS:
        proto = get_protocol(pid)
        out[proto.id] = decide(proto, features, resolve_params(proto, (params or {}).get(proto.id)))
    return out
