"""Extract every number printed in an infantall HTML report, section by section; compare two.

Used to show that a refactoring left the report's numbers unchanged:

    python scripts/report_numbers.py before.html after.html

prints the numbers that differ per section (nothing but a summary line when the two agree) and
exits 1 when any section differs. With one argument it prints the extracted numbers as JSON.
Figures (data URIs, inline SVG) are ignored; only text a reader sees is compared.
"""

from __future__ import annotations

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

_NUMBER = re.compile(r"[-−]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?")
#: The generation time of the footer ("on 2026-12-06 17:48 UTC") differs between any two runs.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?::\d{2})? UTC")
_SKIP = {"script", "style", "svg"}  # <img> is void: its data URI is an attribute, never text


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: dict[str, list[str]] = {}
        self._section = "(preamble)"
        self._skip = 0
        self._heading = False
        self._heading_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip += 1
        if tag in ("h2",):
            self._heading = True
            self._heading_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self._skip:
            self._skip -= 1
        if tag == "h2" and self._heading:
            self._heading = False
            self._section = " ".join("".join(self._heading_text).split())

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._heading:
            self._heading_text.append(data)
        text = _TIMESTAMP.sub("", data)
        self.sections.setdefault(self._section, []).extend(_NUMBER.findall(text))


def numbers(path: Path) -> dict[str, list[str]]:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.sections


def main(argv: list[str]) -> int:
    if len(argv) == 1:
        print(json.dumps(numbers(Path(argv[0])), indent=1))
        return 0
    before, after = numbers(Path(argv[0])), numbers(Path(argv[1]))
    differ = 0
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, []), after.get(name, [])
        if a != b:
            differ += 1
            gone = [x for x in a if x not in b]
            new = [x for x in b if x not in a]
            print(
                f"## {name}: {len(a)} -> {len(b)} numbers; "
                f"only before: {gone[:20]}; only after: {new[:20]}"
            )
    total = sum(len(v) for v in before.values())
    print(f"{len(before)} sections, {total} numbers before; {differ} sections differ")
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
