"""The date shift, the generalisation and the suppression on their own (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from infantall.errors import InvalidInputError
from infantall.registry.deidentify import DeidOptions, date_shift_days, pseudonym
from infantall.registry.kanon import (
    age_class,
    age_months,
    anonymise,
    equivalence_classes,
    wbc_class,
)

KEY = "a-test-pseudonym-key-of-some-length"
IDS = [f"P-{i:016x}" for i in range(20_000)]
#: Significance of the distribution tests: the ids and the key are fixed, so each test is
#: deterministic; a wrong formula (one direction, a zero, a lump) fails by far.
ALPHA = 1e-3


def test_the_shift_is_uniform_over_both_directions_and_never_zero() -> None:
    shifts = np.array([date_shift_days(KEY, i) for i in IDS])
    assert shifts.min() == -182 and shifts.max() == 182
    assert not (shifts == 0).any()
    # symmetric: as many backward as forward shifts (exact binomial test, p = 1/2)
    backward = int((shifts < 0).sum())
    assert stats.binomtest(backward, len(shifts), 0.5).pvalue > ALPHA
    # the mean of a symmetric shift is 0 (one-sample t test)
    assert stats.ttest_1samp(shifts, 0.0).pvalue > ALPHA
    # uniform: 14 bins of 26 days each side of zero, chi-square against equal counts
    bins = np.concatenate([np.arange(-182, 0, 26), np.arange(1, 183, 26), [183]])
    counts, _ = np.histogram(shifts, bins=bins)
    assert len(counts) == 14
    assert stats.chisquare(counts).pvalue > ALPHA
    # the shifted year differs from the true one for about a quarter of diagnoses
    # (E|shift| / 365 = 91.5 / 365 = 0.25 for a uniform day of the year)
    assert abs(np.abs(shifts).mean() - 91.5) < 2.0


def test_the_shift_is_fixed_by_the_key_and_the_patient() -> None:
    assert date_shift_days(KEY, IDS[0]) == date_shift_days(KEY, IDS[0])
    other = [date_shift_days(KEY + "-other", i) for i in IDS[:200]]
    assert other != [date_shift_days(KEY, i) for i in IDS[:200]]
    assert pseudonym(KEY, IDS[0]) != pseudonym(KEY + "-other", IDS[0])
    narrow = {date_shift_days(KEY, i, 3) for i in IDS[:500]}
    assert narrow == {-3, -2, -1, 1, 2, 3}


@pytest.mark.parametrize("bad", [0, -5, 3651, True, 2.5])
def test_a_bad_shift_range_is_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError) as exc:
        date_shift_days(KEY, IDS[0], bad)  # type: ignore[arg-type]
    assert exc.value.field == "max_shift_days" and exc.value.code == "bad_option"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dates": "full"}, "dates"),
        ({"age": "days"}, "age"),
        ({"wbc": "exact"}, "wbc"),
        ({"k": 0}, "k"),
        ({"max_shift_days": 0}, "max_shift_days"),
    ],
)
def test_bad_options_name_the_option(options: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInputError) as exc:
        DeidOptions(**options)  # type: ignore[arg-type]
    assert exc.value.field == field and exc.value.code == "bad_option"


@pytest.mark.parametrize(
    ("days", "months", "label"),
    [(0, 0, "0-2m"), (91, 2, "0-2m"), (92, 3, "3-5m"), (182, 5, "3-5m"), (183, 6, "6-8m"),
     (273, 8, "6-8m"), (274, 9, "9-12m"), (365, 11, "9-12m"), (None, None, None)],
)  # fmt: skip
def test_age_generalisation(days: int | None, months: int | None, label: str | None) -> None:
    # a month is 365.25 / 12 = 30.4375 days: day 91 is 2.99 months, day 92 is 3.02
    assert age_months(days) == months
    assert age_class(days) == label


@pytest.mark.parametrize(
    ("wbc", "label"),
    [(0.0, "<50"), (49.9, "<50"), (50.0, "50-<100"), (299.9, "100-<300"), (300.0, ">=300"),
     (None, None), (float("nan"), None)],
)  # fmt: skip
def test_wbc_generalisation(wbc: float | None, label: str | None) -> None:
    assert wbc_class(wbc) == label


QI = ("site_code", "diagnosis_period", "sex", "age")


def _records(spec: list[tuple[str, int, str, str, int]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for site, year, sex, age, n in spec:
        out += [{"site_code": site, "diagnosis_period": year, "sex": sex, "age": age}] * n
    return out


def test_the_ladder_half_year_then_period_then_suppression_then_record() -> None:
    records = _records(
        [
            ("A", 2020, "f", "0-2m", 5),  # a class of k: untouched
            ("A", 2021, "f", "0-2m", 3),  # + the 2 below once the age is <6m
            ("A", 2021, "f", "3-5m", 2),
            ("A", 2016, "m", "6-8m", 2),  # + the 3 below once the period is 2015-2019
            ("A", 2018, "m", "9-12m", 3),
            ("A", 2012, "m", "0-2m", 2),  # + the 3 below once the period is suppressed
            ("A", 2023, "m", "3-5m", 3),
            ("B", 2020, "m", "9-12m", 1),  # alone at its site: every rung, then left out
        ]
    )
    kept, steps = anonymise(records, QI, 5)
    assert [(s.field, s.step, s.patients) for s in steps] == [
        ("age", "half_year", 16),
        ("diagnosis_period", "five_years", 11),
        ("diagnosis_period", "suppressed", 6),
        ("age", "suppressed", 1),
        ("sex", "suppressed", 1),
        ("record", "left_out", 1),
    ]
    sizes = equivalence_classes(kept, QI)
    assert min(sizes.values()) >= 5 and len(kept) == len(records) - 1
    assert sizes == {
        ("A", 2020, "f", "0-2m"): 5,
        ("A", 2021, "f", "<6m"): 5,
        ("A", "2015-2019", "m", "6-12m"): 5,
        ("A", None, "m", "<6m"): 5,
    }


def test_months_climb_to_the_half_year() -> None:
    records = [{"site_code": "A", "diagnosis_period": 2020, "sex": "f", "age": m} for m in
               (0, 1, 5, 6, 7, 11)]  # fmt: skip
    kept, _ = anonymise(records, QI, 3)
    assert [r["age"] for r in kept] == ["<6m", "<6m", "<6m", "6-12m", "6-12m", "6-12m"]


def test_k_of_one_suppresses_nothing() -> None:
    records = _records([("A", 2020, "f", "0-2m", 1), ("B", 2021, "m", "3-5m", 1)])
    kept, steps = anonymise(records, QI, 1)
    assert kept == records and steps == []
