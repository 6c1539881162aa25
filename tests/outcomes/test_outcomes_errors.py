"""Every error code raised by infantall.outcomes is documented in ERROR_CODES, and back."""

from __future__ import annotations

import re
from pathlib import Path

from infantall import outcomes
from infantall.outcomes import ERROR_CODES

SRC = Path(outcomes.__file__).parent
CODE = re.compile(r'"([a-z_]+)",?\s*\)', re.S)


def _raised_codes() -> set[str]:
    found: set[str] = set()
    for path in SRC.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for block in text.split("InvalidInputError(")[1:]:
            # the code is the last string argument before the closing parenthesis
            depth, end = 1, 0
            for i, ch in enumerate(block):
                depth += ch == "("
                depth -= ch == ")"
                if depth == 0:
                    end = i + 1
                    break
            m = CODE.search(block[:end])
            if m:
                found.add(m.group(1))
    return found


def test_error_codes_are_documented_and_used():
    raised = _raised_codes()
    assert raised == set(ERROR_CODES), raised ^ set(ERROR_CODES)
    assert all(ERROR_CODES[c] for c in ERROR_CODES)
