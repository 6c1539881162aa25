"""Which numbers of the seeds' running text the evidence base holds as structured data.

A numeric token (:mod:`infantall.evidence.numbers`) is *covered* when a structured item of the
base quotes the text around it and holds its value: a :class:`Statement` (its ``quote``
contains the token and the token's value is one of :meth:`Statement.numbers`, or the token is
one of its ``printed`` forms), or a :class:`Result` of a trial record (its quote, or the
record's, contains the token and the value is the estimate, the count, an N, the horizon or a
bound of the CI).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from infantall.evidence.numbers import NumericToken, Section, numeric_tokens
from infantall.evidence.schema import Statement, TrialRecord

__all__ = ["Coverage", "Quoted", "coverage", "quoted_items"]


@dataclass(frozen=True)
class Quoted:
    """A quote of the base with the numbers the item holds and its id."""

    item_id: str
    quote: str
    numbers: frozenset[float]
    printed: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Coverage:
    """The tokens of one seed section, split into covered and not covered."""

    section: str
    tokens: tuple[NumericToken, ...]
    uncovered: tuple[NumericToken, ...]


def _record_numbers(rec: TrialRecord) -> set[float]:
    out = {float(v) for v in (rec.n, rec.hsct.n if rec.hsct else None) if v is not None}
    if rec.hsct is not None and rec.hsct.pct is not None:
        out.add(rec.hsct.pct)
    out |= {float(c.n) for c in rec.components if c.n is not None}
    return out


def quoted_items(
    records: Iterable[TrialRecord], statements: Iterable[Statement], seed: str
) -> list[Quoted]:
    """Every quote of ``seed`` in the base with the numbers that go with it."""
    items: list[Quoted] = []
    for rec in records:
        if rec.source.seed != seed:
            continue
        base = _record_numbers(rec)
        for i, res in enumerate(rec.results):
            nums = set(base)
            for v in (res.estimate_pct, res.events, res.n, res.ci_low_pct, res.ci_high_pct):
                if v is not None:
                    nums.add(float(v))
            if res.horizon_years is not None:
                nums |= {res.horizon_years, round(res.horizon_years * 12, 6)}
            for quote in {res.quote or rec.source.quote, rec.source.quote}:
                items.append(Quoted(f"{rec.record_id}#{i}", quote, frozenset(nums)))
        items.append(Quoted(rec.record_id, rec.source.quote, frozenset(base)))
    for st in statements:
        if st.seed == seed:
            items.append(
                Quoted(st.statement_id, st.quote, frozenset(st.numbers()), frozenset(st.printed))
            )
    return items


def _spans(text: str, quote: str) -> list[tuple[int, int]]:
    out, start = [], text.find(quote)
    while start >= 0:
        out.append((start, start + len(quote)))
        start = text.find(quote, start + 1)
    return out


def coverage(sections: Sequence[Section], items: Sequence[Quoted]) -> list[Coverage]:
    """The covered and uncovered numeric tokens of each section."""
    out = []
    for sec in sections:
        located = [(item, span) for item in items for span in _spans(sec.text, item.quote)]
        tokens = numeric_tokens(sec)
        missing = tuple(
            t
            for t in tokens
            if not any(
                a <= t.start and t.end <= b and (t.value in it.numbers or t.text in it.printed)
                for it, (a, b) in located
            )
        )
        out.append(Coverage(sec.name, tuple(tokens), missing))
    return out
