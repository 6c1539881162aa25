"""Rules for text coming from users (anchors-reliability B6/B7).

Text is NFC-normalised before it is checked or compared (SEI CERT IDS01-J), so two
spellings of "é" are one value. Codes (site-local patient codes, usernames, site codes)
are plain ASCII from a short allow-list, which rules out zero-width characters,
homoglyphs (Cyrillic "а"), full-width digits and bidi overrides at once. Free text keeps
any script but refuses NUL, other control characters and bidi controls (Trojan Source,
CVE-2021-42574); HTML and SQL in free text are stored verbatim as inert text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

__all__ = [
    "CODE_PATTERN",
    "ID_PATTERN",
    "Code",
    "FreeText",
    "Reason",
    "clean_free_text",
    "clean_reason",
]

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_CODE = re.compile(CODE_PATTERN)
#: Registry ids of patients, events and risk assignments ("P-" + 16 hex digits).
ID_PATTERN = r"^[A-Z]-[0-9a-f]{16}$"
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\ufeff")


def _nfc(value: object) -> object:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _check_code(value: str) -> str:
    if not _CODE.match(value):
        raise PydanticCustomError(
            "invalid_code",
            "use 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


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


def clean_reason(value: str) -> str:
    """A reason for change: single-line free text that is not blank."""
    value = clean_free_text(value, multiline=False)
    if not value.strip():
        raise PydanticCustomError("reason_required", "a reason for the change is required")
    return value


#: A site-local code, username or site code.
Code = Annotated[str, BeforeValidator(_nfc), AfterValidator(_check_code)]
#: Multi-line free text (notes).
FreeText = Annotated[
    str, BeforeValidator(_nfc), Field(max_length=4000), AfterValidator(clean_free_text)
]
#: A reason for change or void (required, single line).
Reason = Annotated[
    str, BeforeValidator(_nfc), Field(min_length=1, max_length=1000), AfterValidator(clean_reason)
]
