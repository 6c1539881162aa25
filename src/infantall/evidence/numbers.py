"""The numbers of the seeds' running text, counted by one documented rule.

The *running text* of a seed is its prose: the title block, the tables, the table footnotes,
the figure caption and the reference list are left out (they are curated as table records).
It is split into the seed's sections: seed 000 (an editorial without headings) by paragraph,
seed 004 by its headings (abstract, INTRODUCTION, THE PAST, THE PRESENT, THE FUTURE,
CONCLUSION).

**The rule.** After collapsing whitespace, a *numeric token* is a run of digits with an
optional decimal part (``92.6``, ``1,000`` is read as one number), or a number word from
``zero`` to ``twenty`` (``two`` high-dose courses, ``four`` CNS relapses); ``one`` is not
counted (it is a pronoun as often as a number). A token is *not*
counted when it is

1. part of a name: glued to a letter or to a letter-hyphen on its left (``MLL96``,
   ``CCG-1953``, ``Interfant-99``, ``AALL0631``, ``CD10``, ``FLT3``, ``CEP-701``) or to a letter
   on its right (``13A``), or the second part of a slashed name (``POG 8398/8493/9107``),
   a chromosome band (``t(4;11)``), a study number after ``POG``, ``CCG``, ``COG``, ``P``,
   ``ALL``, ``MLL``, ``BFM``, ``Interfant``, ``Infant``, ``Study`` or ``Therapy``, a protocol
   number standing alone (8398, 8493, 9107, 9407, 1883, 1953: "the three 9407 cohorts"), a
   ``Table``/``Figure``/``cohort`` number, or a molecule's number (``3-kinase``, ``5-azacitidine``,
   ``6-mercaptopurine``, ``B-cell lymphoma 2``, ``Janus kinase 3``);
   the power of ten of a unit (``� 103/ml``, ``� 109/l``, i.e. x 10^3/ml, x 10^9/l) is not
   counted either;
2. a calendar year (an integer 1940–2030 standing alone);
3. a citation marker: digits glued (no space) to the end of a word, a closing bracket,
   a percent sign or a punctuation mark (``age.1,2``, ``(43.2%)15``, ``ALL,28``, ``2000.22``);
   the letters that stand for lost PDF symbols (``o`` <, ``X``/``Z`` >=, ``p`` <=, ``B`` ~)
   followed by digits are a comparison, not a word, and the token is counted.

Every remaining token is a number the text states (a count, a percentage, a median, a
threshold, a duration, a P value ...). :func:`numeric_tokens` lists them with their position in
the normalised text, so that a test can check that a structured record of the evidence base
quotes the text around each one and holds its value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "NUMBER_WORDS",
    "NumericToken",
    "Section",
    "normalise",
    "numeric_tokens",
    "running_text_sections",
]

NUMBER_WORDS: dict[str, int] = {
    w: i
    for i, w in enumerate(
        (
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        )
    )
}
"""Number words (``one`` is left out: see the rule)."""

_SYMBOL_LETTERS = "oXZpB"
_PROTOCOL_NUMBERS = frozenset({"8398", "8493", "9107", "9407", "1883", "1953"})
_NAME_PREFIX = re.compile(
    r"(?:POG|CCG|COG|P|ALL|Study|Therapy|MLL|Interfant|Infant|BFM|Table|Figure"
    r"|lymphoma|phoma|kinase|[Cc]ohort)\s$"
)
_CITATION_GROUP = re.compile(r"(?<=[A-Za-z.,)%\]])\d+(?:[,–-]\d+)*(?=[\s.,;:)]|$)")
_MOLECULE = re.compile(r"-(?:kinase|azacitidine|mercaptopurine|thioguanine|MDM2)")
_TOKEN = re.compile(
    r"(?<![\d.,])(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\b(?:" + "|".join(NUMBER_WORDS) + r")\b",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """Collapse every run of whitespace to one space (PDF text breaks lines anywhere)."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Section:
    """One section of a seed's running text (whitespace-normalised)."""

    name: str
    text: str


@dataclass(frozen=True)
class NumericToken:
    """One counted number: its section, its position in the section text and its value."""

    section: str
    start: int
    end: int
    text: str
    value: float


# Seed 004: (start marker, end marker) of the blocks that are not running text; the end
# marker is included in the block. Markers are matched in the raw text.
_SEED004_BLOCKS: tuple[tuple[str, str], ...] = (
    (" Table 1. Summary of results for infants", "Total Therapy Study 13B 1994–1998 10 70.0 70.0"),
    ("Table 1. (Continued )", "e9-year EFS."),
    ("Figure 1. The roller coaster journey of infant ALL.", "Figure 1. The roller coaster"),
    (" Table 2. Summary of results for infant-specific", "biological features of infant ALL."),
    (
        "Table 3. Summary of results for allogeneic HSCT",
        "United Kingdom Childhood Leukemia Working Party.",
    ),
)
_SEED004_HEADINGS: tuple[tuple[str, str], ...] = (
    ("abstract", "Acute lymphoblastic leukemia (ALL) in infants has a significantly"),
    ("introduction", " INTRODUCTION\n"),
    ("the past", "THE PAST: RISK-ADAPTED THERAPY ON CHILDHOOD\nLEUKEMIA STUDIES"),
    ("the present", " THE PRESENT: INFANT-SPECIFIC COLLABORATIVE GROUP\nPROTOCOLS"),
    ("the future", "THE FUTURE: THE NEXT GENERATION OF TRIALS FOR\nINFANT ALL"),
    ("conclusion", "CONCLUSION\n"),
)


def _cut_blocks(text: str, blocks: tuple[tuple[str, str], ...]) -> str:
    for start_marker, end_marker in blocks:
        start = text.index(start_marker)
        end = text.index(end_marker, start) + len(end_marker)
        text = text[:start] + "\n" + text[end:]
    return text


def _seed004(text: str) -> list[Section]:
    body = _cut_blocks(text, _SEED004_BLOCKS)
    starts = [(name, body.index(marker)) for name, marker in _SEED004_HEADINGS]
    out = []
    for i, (name, pos) in enumerate(starts):
        end = starts[i + 1][1] if i + 1 < len(starts) else len(body)
        chunk = body[pos:end]
        if i > 0:  # drop the heading itself
            chunk = chunk.replace(_SEED004_HEADINGS[i][1].strip(), "", 1)
        out.append(Section(name, normalise(chunk)))
    return out


def _seed000(text: str) -> list[Section]:
    body = text[text.index("In this issue of") : text.index("\nDisclosures")]
    body = (
        body[: body.index("Table 1. Major clinical trials")]
        + body[body.index("\nleukemia is still") :]
    )
    paragraphs = [normalise(p) for p in body.split("\n\n") if p.strip()]
    return [Section(f"paragraph {i + 1}", p) for i, p in enumerate(paragraphs)]


def running_text_sections(seed_name: str, text: str) -> list[Section]:
    """The sections of a seed's running text (see the module docstring for what is left out).

    Raises
    ------
    ValueError
        The seed is not one of the two curated seeds, or its text lacks a marker.
    """
    if seed_name.startswith("000_"):
        return _seed000(text)
    if seed_name.startswith("004_"):
        return _seed004(text)
    raise ValueError(f"no section rule for seed {seed_name!r}")


def _value(token: str) -> float:
    word = NUMBER_WORDS.get(token.lower())
    return float(word) if word is not None else float(token.replace(",", ""))


def _symbol(before: str, after: str) -> bool:
    """A lost PDF symbol letter (o, X, Z, p, B) standing before the digits as a comparison."""
    if before[-1:] not in _SYMBOL_LETTERS:
        return False
    return not before[-2:-1].isalpha() or bool(re.match(r"(?: days| months| weeks|%)", after))


def _is_name(text: str, start: int, end: int, token: str) -> bool:
    """Rule 1: the token is part of a name (study, protocol, chromosome band, molecule)."""
    before = text[max(0, start - 12) : start]
    prev = before[-1:]
    glued_letter = prev.isalpha() and not _symbol(before, text[end : end + 8])
    return (
        glued_letter
        or bool(re.search(r"[A-Za-z]-$", before))
        or text[end : end + 1].isalpha()
        or (prev in "/;" and bool(re.search(r"[A-Za-z]\s?\d+/$|\(\d+;$", before)))
        or bool(_NAME_PREFIX.search(before))
        or bool(_MOLECULE.match(text[end : end + 16]))
        or before.endswith("t(")
        or (token in ("103", "109") and before.endswith("� "))
        or token in _PROTOCOL_NUMBERS
    )


def _excluded(text: str, start: int, end: int, token: str) -> bool:
    """Whether the rule leaves this digit token out (number words are always counted)."""
    if token.isalpha():
        return False
    if re.fullmatch(r"(?:19[4-9]\d|20[0-3]\d)\.\d+", token):
        return True  # rule 3: a year with a citation glued to its full stop (2000.22)
    if _is_name(text, start, end, token):
        return True
    before = text[max(0, start - 2) : start]
    prev = before[-1:]
    if prev and prev in ".,)%]:;’'\"{}^" and before != ", ":
        return "." not in token or prev != "."  # rule 3: citation markers glued to punctuation
    return token.isdigit() and 1940 <= int(token) <= 2030  # rule 2: a calendar year


def _citation_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _CITATION_GROUP.finditer(text):
        before = text[max(0, m.start() - 3) : m.start()]
        if not _symbol(before, text[m.end() : m.end() + 8]):
            spans.append((m.start(), m.end()))
    return spans


def numeric_tokens(section: Section) -> list[NumericToken]:
    """The counted numeric tokens of one section, in order (the rule of the module)."""
    out = []
    cited = _citation_spans(section.text)
    for match in _TOKEN.finditer(section.text):
        token = match.group(0)
        if token.lower() == "one" or _excluded(section.text, match.start(), match.end(), token):
            continue
        if any(a <= match.start() < b for a, b in cited):
            continue
        out.append(NumericToken(section.name, match.start(), match.end(), token, _value(token)))
    return out
