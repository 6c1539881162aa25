"""The documented error codes (README.md) equal ERROR_CODES, and the public API is explicit."""

from __future__ import annotations

import re
from pathlib import Path

import infantall.domain
import infantall.protocols
from infantall.domain import ERROR_CODES

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_error_codes_equal_the_code() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- error-codes:start -->")[1].split("<!-- error-codes:end -->")[0]
    documented = dict(re.findall(r"^\| `([a-z0-9_]+)` \| (.+) \|$", block, flags=re.M))
    assert documented == ERROR_CODES


def test_public_api_is_explicit() -> None:
    for module in (infantall.domain, infantall.protocols):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert hasattr(module, name), (module.__name__, name)
