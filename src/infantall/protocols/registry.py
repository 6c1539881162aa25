"""The registry of protocols shipped with infantall."""

from __future__ import annotations

from types import MappingProxyType

from infantall.errors import InvalidInputError
from infantall.protocols.definitions.interfant import INTERFANT_06, INTERFANT_99
from infantall.protocols.definitions.interfant21 import INTERFANT_21
from infantall.protocols.definitions.japan import JILSG_MLL96_98, JPLSG_MLL03, JPLSG_MLL10
from infantall.protocols.definitions.north_america import CCG_1953_POG_9407, COG_AALL0631
from infantall.protocols.definitions.prognostic import PROGNOSTIC_FACTORS
from infantall.protocols.definitions.uk import UK_INFANT_87_92
from infantall.protocols.model import Protocol

__all__ = ["PROTOCOLS", "get_protocol"]

#: Every protocol by id, in chronological order of the trials (read-only).
PROTOCOLS: MappingProxyType[str, Protocol] = MappingProxyType(
    {
        p.id: p
        for p in (
            UK_INFANT_87_92,
            JILSG_MLL96_98,
            CCG_1953_POG_9407,
            INTERFANT_99,
            JPLSG_MLL03,
            INTERFANT_06,
            COG_AALL0631,
            JPLSG_MLL10,
            INTERFANT_21,
            PROGNOSTIC_FACTORS,
        )
    }
)


def get_protocol(protocol: str | Protocol) -> Protocol:
    """The protocol with id ``protocol`` (case-insensitive).

    Raises
    ------
    InvalidInputError
        ``unknown_protocol`` naming the known ids.
    """
    if isinstance(protocol, Protocol):
        return protocol
    found = PROTOCOLS.get(str(protocol).strip().lower())
    if found is None:
        raise InvalidInputError(
            "protocol",
            f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}",
            "unknown_protocol",
        )
    return found
