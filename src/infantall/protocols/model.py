"""The data a protocol is made of (rules, sources, parameters) and the engine's Decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from infantall.protocols.conditions import Condition, fields_of

__all__ = [
    "INDETERMINATE",
    "NOT_APPLICABLE",
    "OCR_NOTE",
    "Decision",
    "Parameter",
    "Protocol",
    "Rule",
    "Source",
]

#: The group of a decision that the known features cannot settle.
INDETERMINATE = "indeterminate"

#: The group of every patient under a protocol that only raises flags.
NOT_APPLICABLE = "not_applicable"

#: How to read quotes from seed 004, whose comparison symbols were lost in text extraction.
OCR_NOTE = (
    "seed 004 lost its comparison symbols in text extraction: read 'o' as '<', 'X' or 'Z' "
    "as '≥', 'p' as '≤', '4' as '>' before a number, and '10� 4' as '10^-4'"
)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a rule comes from.

    Either a seed file with a verbatim ``quote`` (fragments separated by `` … `` must each
    occur in the seed, whitespace-normalised), or a ``citation`` of a public source with its
    verification ``status`` from ``shared/research/domain-facts.md`` (V, P, U, D).
    """

    seed: str = ""
    quote: str = ""
    citation: str = ""
    url: str = ""
    status: Literal["V", "P", "U", "D", ""] = ""
    note: str = ""

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly form (empty entries left out)."""
        return {k: v for k, v in _source_items(self) if v}

    def text(self) -> str:
        """One line for tables: ``seed: "quote"`` or the citation."""
        if self.seed:
            return f'{self.seed}: "{self.quote}"'
        status = f" [{self.status}]" if self.status else ""
        return f"{self.citation}{status}"


def _source_items(s: Source) -> list[tuple[str, str]]:
    return [
        ("seed", s.seed),
        ("quote", s.quote),
        ("citation", s.citation),
        ("url", s.url),
        ("status", s.status),
        ("note", s.note),
    ]


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a protocol: when ``condition`` holds, the patient is in ``group`` or the
    ``flag`` is raised.

    Group rules of a protocol are mutually exclusive and, once every feature is known,
    exhaustive (tested). ``label`` is the rule in words, as the source states it.
    """

    id: str
    label: str
    condition: Condition
    sources: tuple[Source, ...]
    group: str = ""
    flag: str = ""

    @property
    def kind(self) -> Literal["group", "flag"]:
        """Whether the rule assigns a group or raises a flag."""
        return "group" if self.group else "flag"

    @property
    def result(self) -> str:
        """The group or the flag."""
        return self.group or self.flag


@dataclass(frozen=True, slots=True)
class Parameter:
    """A convention the sources leave open, with its documented default and allowed values."""

    name: str
    default: Any
    description: str
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Protocol:
    """A protocol's risk stratification as data: its rules, parameters and provenance."""

    id: str
    name: str
    version: str
    groups: tuple[str, ...]
    rules: tuple[Rule, ...]
    parameters: tuple[Parameter, ...] = ()
    partial: bool = False
    description: str = ""
    notes: tuple[str, ...] = ()

    @property
    def group_rules(self) -> tuple[Rule, ...]:
        """The rules that assign a group, in order."""
        return tuple(r for r in self.rules if r.group)

    @property
    def flag_rules(self) -> tuple[Rule, ...]:
        """The rules that raise flags, in order."""
        return tuple(r for r in self.rules if r.flag)

    @property
    def group_fields(self) -> tuple[str, ...]:
        """Features read by the group rules, in order of first appearance (the order in
        which ``missing_fields`` are reported)."""
        out: list[str] = []
        for r in self.group_rules:
            out.extend(f for f in fields_of(r.condition) if f not in out)
        return tuple(out)

    @property
    def defaults(self) -> dict[str, Any]:
        """Default value of every parameter."""
        return {p.name: p.default for p in self.parameters}

    def rule(self, rule_id: str) -> Rule:
        """The rule with id ``rule_id`` (KeyError if absent)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


@dataclass(frozen=True, slots=True)
class Decision:
    """The result of stratifying one patient under one protocol.

    Attributes
    ----------
    protocol, version
        Protocol id and the version of its rule set (store both with the group).
    group
        The risk group, or ``"indeterminate"`` when missing features could change it.
    flags
        Flags raised (e.g. ``hsct_eligible``); ``undetermined_flags`` could not be decided.
    fired_rules
        Ids of the rules whose condition held (the group rule first).
    missing_fields
        When indeterminate: exactly the missing features that would decide the group.
    explanation
        The decision in words, with the patient's values.
    sources
        The sources of the fired rules.
    conventions
        Parameter name -> value used (the conventions the sources leave open).
    partial
        True when the protocol's public definitions are incomplete.
    reachable_groups
        The groups still reachable: the group alone when determinate, every group some
        completion of the missing fields gives when indeterminate (empty without groups).
    flag_missing_fields
        For each undetermined flag, exactly the missing fields that can decide it.

    Decisions are exact: determinate whenever every completion of the missing fields gives
    the same answer (:mod:`infantall.protocols.exact`).
    """

    protocol: str
    version: str
    group: str
    flags: tuple[str, ...]
    undetermined_flags: tuple[str, ...]
    fired_rules: tuple[str, ...]
    missing_fields: tuple[str, ...]
    explanation: str
    sources: tuple[Source, ...]
    conventions: Mapping[str, Any] = field(default_factory=dict)
    partial: bool = False
    reachable_groups: tuple[str, ...] = ()
    flag_missing_fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def determinate(self) -> bool:
        """True unless the group is ``indeterminate``."""
        return self.group != INDETERMINATE

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (what ``infantall stratify --format json`` prints)."""
        return {
            "protocol": self.protocol,
            "version": self.version,
            "group": self.group,
            "flags": list(self.flags),
            "undetermined_flags": list(self.undetermined_flags),
            "fired_rules": list(self.fired_rules),
            "missing_fields": list(self.missing_fields),
            "explanation": self.explanation,
            "sources": [s.as_dict() for s in self.sources],
            "conventions": dict(self.conventions),
            "partial": self.partial,
            "reachable_groups": list(self.reachable_groups),
            "flag_missing_fields": {k: list(v) for k, v in self.flag_missing_fields.items()},
        }
