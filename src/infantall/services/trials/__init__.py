"""Running the trial that was simulated: frozen design, concealed allocation, replay, interims.

Use cases over the registry (``infantall.registry.trials``) and the design part
(``infantall.design.allocation``, ``infantall.design.adaptive``).
"""

from infantall.services.trials.enrol import EnrolmentResult, enrol
from infantall.services.trials.interims import (
    enrol_and_run_due,
    record_interim,
    run_due_interims,
    run_due_interims_scheduled,
)
from infantall.services.trials.replay import ReplayResult, replay_trial
from infantall.services.trials.rules import FACTORS, Allocation, allocate, spec_digest
from infantall.services.trials.setup import (
    TrialInfo,
    create_trial,
    grant_trial_role,
    is_dmc,
    load_trial,
    revise_spec,
)
from infantall.services.trials.views import trial_view

__all__ = [
    "FACTORS",
    "Allocation",
    "EnrolmentResult",
    "ReplayResult",
    "TrialInfo",
    "allocate",
    "create_trial",
    "enrol",
    "enrol_and_run_due",
    "grant_trial_role",
    "is_dmc",
    "load_trial",
    "record_interim",
    "replay_trial",
    "revise_spec",
    "run_due_interims",
    "run_due_interims_scheduled",
    "spec_digest",
    "trial_view",
]
