"""Write hsct_adjusted_cohort.csv: one row per patient of a SYNTHETIC cohort for the R check.

generate_cohort(600, sites=18, seed=1, hsct_hr=1.0) analysed under Interfant-06: EFS days,
HSCT-in-CR1 day, day of a positive (>= 1e-4) start-of-OCTADAD MRD result, risk group.
Run from the repository root:
PYTHONPATH=src python tests/outcomes/reference/make_hsct_adjusted_csv.py
"""

from pathlib import Path

from infantall.cohort import generate_cohort
from infantall.outcomes.hsct_adjusted import hsct_frame

fr = hsct_frame(generate_cohort(600, 18, 1).to_histories(), "interfant-06")
out = fr.data.rename(
    columns={"USUBJID": "id", "HSCTDY": "hsct_day", "MRDPOSDY": "mrd_day", "RISKGRP": "risk"}
)
out.to_csv(Path(__file__).with_name("hsct_adjusted_cohort.csv"), index=False)
