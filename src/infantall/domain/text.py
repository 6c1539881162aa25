"""Free text: the one type every free-text field of the vocabulary and the registry uses.

Text is NFC-normalised before it is checked or compared (SEI CERT IDS01-J), so two
spellings of "é" are one value. Free text keeps any script but refuses NUL, other control
characters (tab and newline allowed in multi-line text only), bidirectional controls
(Trojan Source, CVE-2021-42574) and invisible characters, and has a length limit: 4,000
characters for notes (:data:`FreeText`), 200 on one line for labels such as a second
malignancy's diagnosis (:data:`ShortText`). HTML and SQL are stored verbatim as inert text.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "FREE_TEXT_MAX",
    "SHORT_TEXT_MAX",
    "FreeText",
    "ShortText",
    "clean_free_text",
    "clean_line",
    "nfc",
]

#: Longest multi-line free text (characters).
FREE_TEXT_MAX = 4000
#: Longest single-line free text (characters).
SHORT_TEXT_MAX = 200
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")


def nfc(value: object) -> object:
    """``value`` in Unicode normal form C when it is a string (anything else unchanged)."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def clean_free_text(value: str, *, multiline: bool = True) -> str:
    """Free text after NFC; raises for control, bidi or invisible characters."""
    for ch in value:
        if ch in _BIDI or ch in _INVISIBLE:
            raise PydanticCustomError(
                "forbidden_character",
                "bidirectional or invisible character U+{cp} is not allowed",
                {"cp": f"{ord(ch):04X}"},
            )
        if unicodedata.category(ch) in ("Cc", "Cs") and not (multiline and ch in "\n\t"):
            raise PydanticCustomError(
                "forbidden_character",
                "control character U+{cp} is not allowed",
                {"cp": f"{ord(ch):04X}"},
            )
    return value


def clean_line(value: str) -> str:
    """Single-line free text (no newline or tab)."""
    return clean_free_text(value, multiline=False)


#: Multi-line free text (notes), at most :data:`FREE_TEXT_MAX` characters.
FreeText = Annotated[
    str, BeforeValidator(nfc), Field(max_length=FREE_TEXT_MAX), AfterValidator(clean_free_text)
]
#: Single-line free text (a diagnosis, a label), at most :data:`SHORT_TEXT_MAX` characters.
ShortText = Annotated[
    str, BeforeValidator(nfc), Field(max_length=SHORT_TEXT_MAX), AfterValidator(clean_line)
]
