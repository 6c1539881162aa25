"""The one engine that evaluates a protocol's rules for a patient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infantall.domain import Patient, PatientHistory
from infantall.errors import InvalidInputError
from infantall.protocols.conditions import describe, evaluate, fields_of, missing_fields
from infantall.protocols.features import MRD_FEATURES
from infantall.protocols.model import INDETERMINATE, NOT_APPLICABLE, Decision, Protocol, Rule

__all__ = ["as_subject", "decide", "resolve_params"]


def resolve_params(protocol: Protocol, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """The protocol's defaults overridden by ``params``, checked against the choices.

    Raises
    ------
    InvalidInputError
        ``unknown_parameter`` or ``invalid_parameter``.
    """
    values = protocol.defaults
    for name, given in (params or {}).items():
        spec = next((p for p in protocol.parameters if p.name == name), None)
        if spec is None:
            known = ", ".join(values) or "none"
            raise InvalidInputError(
                f"params.{name}",
                f"protocol {protocol.id} has no parameter {name!r} (parameters: {known})",
                "unknown_parameter",
            )
        value = given
        if isinstance(spec.default, tuple) and isinstance(given, list | tuple):
            value = tuple(str(v) for v in given)
        elif isinstance(spec.default, float) and isinstance(given, int | float | str):
            value = _as_float(name, given)
        if spec.choices and value not in spec.choices:
            choices = ", ".join(map(str, spec.choices))
            raise InvalidInputError(
                f"params.{name}", f"{value!r} is not one of: {choices}", "invalid_parameter"
            )
        values[name] = value
    return values


def _as_float(name: str, value: int | float | str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidInputError(
            f"params.{name}", f"{value!r} is not a number", "invalid_parameter"
        ) from None


def as_subject(item: Patient | PatientHistory | Mapping[str, Any]) -> Patient | PatientHistory:
    """Accept a validated patient/history or a JSON-like mapping of either."""
    if isinstance(item, Patient | PatientHistory):
        return item
    if isinstance(item, Mapping):
        if "patient" in item:
            return PatientHistory.from_dict(item)
        return Patient.from_dict(item)
    raise InvalidInputError(
        "patient",
        f"expected a Patient, PatientHistory or mapping, got {type(item).__name__}",
        "invalid_type",
    )


def decide(protocol: Protocol, features: Mapping[str, Any], params: Mapping[str, Any]) -> Decision:
    """Evaluate every rule of ``protocol`` on one patient's ``features``.

    The group is that of the first group rule whose condition is true; when none is true
    the decision is ``indeterminate`` and ``missing_fields`` lists the unknown features of
    the rules still undecided (those, and only those, could settle the group).
    """
    truths = {r.id: evaluate(r.condition, features, params) for r in protocol.rules}
    group_rule = next((r for r in protocol.group_rules if truths[r.id] is True), None)
    missing: list[str] = []
    if group_rule is None:
        for r in protocol.group_rules:
            missing.extend(missing_fields(r.condition, features, params))
        order = protocol.group_fields
        missing = sorted(set(missing), key=order.index)
    flags = tuple(r for r in protocol.flag_rules if truths[r.id] is True)
    undetermined = tuple(r.flag for r in protocol.flag_rules if truths[r.id] is None)
    fired = ((group_rule,) if group_rule else ()) + flags
    conventions = {p.name: params[p.name] for p in protocol.parameters}
    return Decision(
        protocol=protocol.id,
        version=protocol.version,
        group=_group_name(protocol, group_rule),
        flags=tuple(r.flag for r in flags),
        undetermined_flags=undetermined,
        fired_rules=tuple(r.id for r in fired),
        missing_fields=tuple(missing),
        explanation=_explain(protocol, group_rule, flags, missing, undetermined, features, params),
        sources=tuple(s for r in fired for s in r.sources),
        conventions=conventions,
        partial=protocol.partial,
    )


#: How to supply a feature that is derived or comes from the history.
_HINTS = {
    "prednisone_response": "prednisone_response (or day8_blasts)",
    "age_days": "age_days (or birth_date and diagnosis_date)",
    "induction_response": "induction_response (an end-of-induction Response event)",
    **{name: f"{name} (an MRDResult event at {tp.value})" for name, tp in MRD_FEATURES.items()},
}


def _group_name(protocol: Protocol, rule: Rule | None) -> str:
    if rule is not None:
        return rule.group
    return INDETERMINATE if protocol.group_rules else NOT_APPLICABLE


def _values(rule: Rule, features: Mapping[str, Any]) -> str:
    shown = []
    for name in fields_of(rule.condition):
        value = features.get(name)
        text = "missing" if value is None else f"{value:g}" if isinstance(value, float) else value
        shown.append(f"{name}={text}")
    return ", ".join(shown)


def _explain(
    protocol: Protocol,
    group_rule: Rule | None,
    flags: tuple[Rule, ...],
    missing: list[str],
    undetermined: tuple[str, ...],
    features: Mapping[str, Any],
    params: Mapping[str, Any],
) -> str:
    lines = []
    if not protocol.group_rules:
        lines.append(f"{protocol.name}: flags only (no risk group).")
    elif group_rule is None:
        lines.append(
            f"{protocol.name}: indeterminate; the group depends on missing "
            f"{', '.join(_HINTS.get(m, m) for m in missing)}."
        )
    else:
        lines.append(
            f"{protocol.name}: group {group_rule.group} by rule {group_rule.id} "
            f"({group_rule.label}; {describe(group_rule.condition, params)}) "
            f"with {_values(group_rule, features)}."
        )
    for r in flags:
        lines.append(f"Flag {r.flag} by rule {r.id} ({r.label}).")
    if undetermined:
        lines.append(f"Flags not decidable with the data given: {', '.join(undetermined)}.")
    if protocol.partial:
        lines.append("Partial protocol: its full definitions are not public (see notes).")
    return " ".join(lines)
