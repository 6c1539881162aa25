"""Rules for text coming from users (anchors-reliability B6/B7).

Free text (:data:`FreeText`, :data:`ShortText`) is the domain's one free-text type
(:mod:`infantall.domain.text`), re-exported here: NFC, no control, bidi or invisible
characters, a length limit. Codes (site-local patient codes, usernames, site codes) are
plain ASCII from a short allow-list, which rules out zero-width characters, homoglyphs
(Cyrillic "а"), full-width digits and bidi overrides at once.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from infantall.domain.text import FreeText, ShortText, clean_free_text, nfc

__all__ = [
    "CODE_PATTERN",
    "ID_PATTERN",
    "Code",
    "FreeText",
    "Reason",
    "ShortText",
    "clean_free_text",
    "clean_reason",
]

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_CODE = re.compile(CODE_PATTERN)
#: Registry ids of patients, events and risk assignments ("P-" + 16 hex digits).
ID_PATTERN = r"^[A-Z]-[0-9a-f]{16}$"


def _check_code(value: str) -> str:
    if not _CODE.match(value):
        raise PydanticCustomError(
            "invalid_code",
            "use 1-64 ASCII letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def clean_reason(value: str) -> str:
    """A reason for change: single-line free text that is not blank."""
    value = clean_free_text(value, multiline=False)
    if not value.strip():
        raise PydanticCustomError("reason_required", "a reason for the change is required")
    return value


#: A site-local code, username or site code.
Code = Annotated[str, BeforeValidator(nfc), AfterValidator(_check_code)]
#: A reason for change or void (required, single line).
#: (No ``min_length``: an empty reason reaches :func:`clean_reason` and gets ``reason_required``.)
Reason = Annotated[str, BeforeValidator(nfc), Field(max_length=1000), AfterValidator(clean_reason)]
