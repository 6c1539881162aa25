"""Write infant_synthetic.csv: a synthetic infant cohort (infantall.cohort, seed 18, 400
patients) as infant-ALL multi-state rows, with two covariates, for R to analyse.

    PYTHONPATH=src python tests/outcomes/reference/multistate/make_infant_synthetic.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infantall.cohort import generate_cohort
from infantall.outcomes.multistate.infant import infant_all_data

cohort = generate_cohort(400, seed=18)
frame = infant_all_data(cohort.events).to_frame()
pat = cohort.patients.set_index(cohort.patients["patient_id"].astype(str))
frame["kmt2a_r"] = (pat.loc[frame["id"], "kmt2a"].astype(str) == "rearranged").to_numpy(int)
frame["male"] = (pat.loc[frame["id"], "sex"].astype(str) == "male").to_numpy(int)
frame["age_lt6m"] = (pat.loc[frame["id"], "age_days"].to_numpy() < 183).astype(np.int64)
frame = frame.drop(columns="from")
out = Path(__file__).with_name("infant_synthetic.csv")
frame.to_csv(out, index=False, float_format="%.17g")
print(out, frame.shape)
