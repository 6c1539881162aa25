"""The cohort's vectorised EFS/OS equal ``infantall.outcomes.derive_endpoints`` on its histories.

Two derivations exist on purpose: :func:`infantall.cohort.endpoint_frame` works on the long
events frame of a whole cohort at once (20,000 patients in a fraction of a second, used by the
summary and the calibration check), ``derive_endpoints`` on validated histories one patient
at a time (seconds for the same cohort). This pins them to the same answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from infantall.cohort import REALISTIC_MISSING, SyntheticCohort, generate_cohort
from infantall.outcomes.endpoints import derive_endpoints

CASES = {
    "interfant-06": lambda: generate_cohort(1500, sites=6, seed=3),
    "mll-10": lambda: generate_cohort(1500, sites=6, seed=5, calibration="mll-10"),
    "missing-features": lambda: generate_cohort(800, sites=4, seed=8, missing=REALISTIC_MISSING),
}


def _derived(cohort: SyntheticCohort, paramcd: str, *, failure_at_day0: bool) -> pd.DataFrame:
    ds = derive_endpoints(cohort.to_histories(), induction_failure_at_day0=failure_at_day0)
    assert ds.excluded == ()
    frame = ds.endpoint(paramcd).set_index("USUBJID")
    return frame.reindex(cohort.patients["patient_id"])


@pytest.mark.parametrize("failure_at_day0", [True, False])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cohort_endpoints_equal_derive_endpoints(case: str, failure_at_day0: bool) -> None:
    cohort = CASES[case]()
    ends = cohort.endpoints(failure_at_day0=failure_at_day0)
    assert ends["efs_event"].any() and not ends["efs_event"].all()
    for paramcd in ("EFS", "OS"):
        derived = _derived(cohort, paramcd, failure_at_day0=failure_at_day0)
        prefix = paramcd.lower()
        np.testing.assert_array_equal(
            derived["time"].to_numpy(dtype=float), ends[f"{prefix}_days"].to_numpy(dtype=float)
        )
        np.testing.assert_array_equal(
            derived["status"].to_numpy() == 1, ends[f"{prefix}_event"].to_numpy()
        )


def test_cohort_categories_are_domain_values() -> None:
    """The synthetic cohort's categorical event columns hold only the domain's choices, and its
    event kinds are the domain's registry of event types."""
    from infantall.cohort.outcomes import CATEGORIES
    from infantall.domain.vocabulary import EVENT_KINDS, EVENT_TYPES, choices

    assert CATEGORIES["kind"] == EVENT_KINDS
    owner = {f: kind for kind, t in EVENT_TYPES.items() for f in t.attributes}
    for column, values in CATEGORIES.items():
        if column == "kind":
            continue
        allowed = {code for code, _ in choices(column, owner[column])}
        if allowed:  # free-text or pattern fields (HLA match, SMN diagnosis) have no list
            assert set(values) <= allowed, column
