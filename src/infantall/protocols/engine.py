"""The one engine that evaluates a protocol's rules for a patient."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infantall.domain import Patient, PatientHistory
from infantall.errors import InvalidInputError
from infantall.protocols.conditions import describe, fields_of
from infantall.protocols.exact import decide_arrays
from infantall.protocols.features import (
    CATEGORIES,
    MRD_AFTER_CONSOLIDATION,
    MRD_FEATURES,
    encode_features,
)
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
    """Evaluate every rule of ``protocol`` on one patient's ``features``, exactly.

    The group is that of the group rule that holds on every completion of the missing
    features; otherwise the decision is ``indeterminate``, ``missing_fields`` lists exactly
    the missing features that can change the group and ``reachable_groups`` the groups
    still possible. A flag is raised when it holds on every completion, undetermined
    (with the fields that can decide it) when completions disagree
    (:func:`infantall.protocols.exact.decide_arrays`, shared with the vectorised engine).
    """
    result = decide_arrays(protocol, encode_features(features), params, CATEGORIES)
    group_rules = protocol.group_rules
    index = int(result.group[0])
    group_rule = group_rules[index] if index < len(group_rules) else None
    missing = [f for f in protocol.group_fields if bool(result.missing.get(f, [False])[0])]
    reach = int(result.reachable[0])
    reachable = tuple(dict.fromkeys(r.group for i, r in enumerate(group_rules) if reach >> i & 1))
    flags: list[Rule] = []
    undetermined: list[str] = []
    flag_missing: dict[str, tuple[str, ...]] = {}
    for rule, value, deciding in zip(
        protocol.flag_rules, result.flags, result.flag_missing, strict=True
    ):
        if value[0] == 1:
            flags.append(rule)
        elif value[0] == -1:
            undetermined.append(rule.flag)
            flag_missing[rule.flag] = tuple(f for f, m in deciding.items() if m[0])
    fired = ((group_rule,) if group_rule else ()) + tuple(flags)
    conventions = {p.name: params[p.name] for p in protocol.parameters}
    return Decision(
        protocol=protocol.id,
        version=protocol.version,
        group=_group_name(protocol, group_rule),
        flags=tuple(r.flag for r in flags),
        undetermined_flags=tuple(undetermined),
        fired_rules=tuple(r.id for r in fired),
        missing_fields=tuple(missing),
        explanation=_explain(
            protocol, group_rule, tuple(flags), missing, reachable, flag_missing, features, params
        ),
        sources=tuple(s for r in fired for s in r.sources),
        conventions=conventions,
        partial=protocol.partial,
        reachable_groups=reachable,
        flag_missing_fields=flag_missing,
    )


#: How to supply a feature that is derived or comes from the history.
_HINTS = {
    "prednisone_response": "prednisone_response (or day8_blasts)",
    "age_days": "age_days (or birth_date and diagnosis_date)",
    "induction_response": "induction_response (an end-of-induction Response event)",
    **{name: f"{name} (an MRDResult event at {tp.value})" for name, tp in MRD_FEATURES.items()},
    MRD_AFTER_CONSOLIDATION: f"{MRD_AFTER_CONSOLIDATION} (an MRDResult event at "
    "end_of_consolidation, or start_of_octadad)",
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
    reachable: tuple[str, ...],
    flag_missing: Mapping[str, tuple[str, ...]],
    features: Mapping[str, Any],
    params: Mapping[str, Any],
) -> str:
    lines = []
    if not protocol.group_rules:
        lines.append(f"{protocol.name}: flags only (no risk group).")
    elif group_rule is None:
        lines.append(
            f"{protocol.name}: indeterminate between {', '.join(reachable)}; the group "
            f"depends on missing {', '.join(_HINTS.get(m, m) for m in missing)}."
        )
    else:
        lines.append(
            f"{protocol.name}: group {group_rule.group} by rule {group_rule.id} "
            f"({group_rule.label}; {describe(group_rule.condition, params)}) "
            f"with {_values(group_rule, features)}."
        )
    for r in flags:
        lines.append(f"Flag {r.flag} by rule {r.id} ({r.label}).")
    for flag, deciding in flag_missing.items():
        fields = ", ".join(_HINTS.get(m, m) for m in deciding)
        lines.append(f"Flag {flag} not decidable with the data given; it depends on {fields}.")
    if protocol.partial:
        lines.append("Partial protocol: its full definitions are not public (see notes).")
    return " ".join(lines)
