"""The single vocabulary of infantall: patient fields and event types with their labels.

Everything that lists fields or event kinds derives from here: the registry's data
dictionary and stored kinds, the web forms, CSV layouts, the cohort's categories and the
paths of error messages. The facts themselves live on the domain types (the label, unit
and help text of each field: :func:`~infantall.domain._fields.described`; the label of an
event type: its ``label``; the human label of a choice: :attr:`Choice.label`); this module
reads them into plain, frozen records.

Examples
--------
>>> from infantall.domain.vocabulary import EVENT_KINDS, choices, field_label
>>> EVENT_KINDS[0], EVENT_KINDS[-1]
('response', 'death')
>>> field_label("wbc")
'WBC at diagnosis (10⁹/L)'
>>> choices("status", kind="response")[0]
('cr', 'Complete remission (CR)')
"""

from __future__ import annotations

import datetime as dt
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic.fields import FieldInfo

from infantall.domain._base import DomainModel
from infantall.domain.enums import Choice
from infantall.domain.errors import translate_errors
from infantall.domain.events import Event
from infantall.domain.patient import Patient
from infantall.errors import InvalidInputError

__all__ = [
    "EVENT_FIELDS",
    "EVENT_KINDS",
    "EVENT_TYPES",
    "PATIENT_FIELDS",
    "EventType",
    "FieldSpec",
    "choices",
    "errors_from_pydantic",
    "event_type_of",
    "field_label",
    "field_spec",
]

#: Value types of a field, as forms and data dictionaries need them.
_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (dt.date, "date"),
    (str, "text"),
)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field of a domain type: name, human label, unit, help, value type and choices.

    ``type`` is ``text``, ``date``, ``number``, ``integer`` or ``choice``; ``choices`` are
    (stored code, human label) pairs of a ``choice`` field, in the enumeration's order.
    """

    name: str
    label: str
    unit: str
    help: str
    type: str
    choices: tuple[tuple[str, str], ...]
    required: bool

    @property
    def codes(self) -> tuple[str, ...]:
        """The stored codes of a choice field (empty for other fields)."""
        return tuple(code for code, _ in self.choices)

    @property
    def full_label(self) -> str:
        """The label with its unit, e.g. ``WBC at diagnosis (10⁹/L)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


@dataclass(frozen=True, slots=True)
class EventType:
    """One kind of dated event: its ``kind`` tag, domain class, label and fields.

    ``fields`` are the event's own fields after ``kind`` (``date`` first).
    """

    kind: str
    model: type[DomainModel]
    label: str
    fields: tuple[FieldSpec, ...]

    @property
    def attributes(self) -> tuple[str, ...]:
        """Names of the fields besides ``date`` (what differs between kinds)."""
        return tuple(f.name for f in self.fields if f.name != "date")


def _value_type(annotation: Any) -> Any:
    """``X`` of ``X``, ``X | None`` and ``Annotated[X, ...]`` (nested)."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _value_type(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        (inner,) = [a for a in get_args(annotation) if a is not type(None)]
        return _value_type(inner)
    return annotation


def _type_name(value_type: Any) -> str:
    if isinstance(value_type, type) and issubclass(value_type, Choice):
        return "choice"
    for python_type, name in _TYPES:
        if isinstance(value_type, type) and issubclass(value_type, python_type):
            return name
    raise TypeError(f"no vocabulary type for {value_type!r}")


def _spec(name: str, info: FieldInfo) -> FieldSpec:
    value_type = _value_type(info.annotation)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    options: tuple[tuple[str, str], ...] = ()
    if isinstance(value_type, type) and issubclass(value_type, Choice):
        options = tuple((m.value, m.label) for m in value_type)
    return FieldSpec(
        name=name,
        label=info.title or name,
        unit=str(extra.get("unit", "")),
        help=info.description or "",
        type=_type_name(value_type),
        choices=options,
        required=info.is_required(),
    )


def _specs(model: type[DomainModel]) -> tuple[FieldSpec, ...]:
    return tuple(
        _spec(name, info)
        for name, info in model.model_fields.items()
        if get_origin(info.annotation) is not Literal
    )


def _event_type(model: type[DomainModel]) -> EventType:
    kind = model.model_fields["kind"].default
    label = getattr(model, "label", kind)
    return EventType(kind=kind, model=model, label=str(label), fields=_specs(model))


def _event_models() -> tuple[type[DomainModel], ...]:
    union = get_args(Event)[0]
    return tuple(get_args(union))


#: Fields of :class:`~infantall.domain.Patient`, by name, in declaration order.
PATIENT_FIELDS: Mapping[str, FieldSpec] = types.MappingProxyType(
    {f.name: f for f in _specs(Patient)}
)
#: THE registry of event types, by kind, in the order events of one date are sorted.
EVENT_TYPES: Mapping[str, EventType] = types.MappingProxyType(
    {t.kind: t for t in map(_event_type, _event_models())}
)
#: Event kinds, in the order events of one date are sorted (response first, death last).
EVENT_KINDS: tuple[str, ...] = tuple(EVENT_TYPES)
#: The attributes of each event kind (its fields besides ``kind`` and ``date``).
EVENT_FIELDS: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {kind: t.attributes for kind, t in EVENT_TYPES.items()}
)


def event_type_of(kind: str) -> EventType:
    """The event type of ``kind``; raises :class:`InvalidInputError` (``invalid_choice``)."""
    found = EVENT_TYPES.get(kind)
    if found is None:
        raise InvalidInputError(
            "kind", f"{kind!r} is not one of {', '.join(EVENT_KINDS)}", "invalid_choice"
        )
    return found


def field_spec(name: str, kind: str | None = None) -> FieldSpec:
    """The field ``name`` of the patient, or of the event type ``kind`` when given.

    Raises
    ------
    KeyError
        When there is no such field.
    """
    fields = PATIENT_FIELDS if kind is None else {f.name: f for f in event_type_of(kind).fields}
    if name not in fields:
        raise KeyError(f"no field {name!r} in {'Patient' if kind is None else kind}")
    return fields[name]


def field_label(name: str, kind: str | None = None) -> str:
    """The human label of a field, with its unit (``WBC at diagnosis (10⁹/L)``)."""
    return field_spec(name, kind).full_label


def choices(name: str, kind: str | None = None) -> tuple[tuple[str, str], ...]:
    """(stored code, human label) pairs of a choice field; empty for other fields."""
    return field_spec(name, kind).choices


def errors_from_pydantic(
    raw: Sequence[Mapping[str, Any]], root: str = "record"
) -> list[InvalidInputError]:
    """pydantic (or FastAPI request) errors as :class:`InvalidInputError` with stable codes.

    The one translation (:func:`~infantall.domain.errors.translate_errors`) with the event
    kinds of :data:`EVENT_KINDS` dropped from paths; ``root`` names an error of the whole
    input (``body`` for a request).
    """
    return translate_errors(raw, root=root, tags=EVENT_KINDS)
