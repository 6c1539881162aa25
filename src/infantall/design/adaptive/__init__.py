"""Bayesian adaptive multi-arm trials: specification, vectorised simulation, Dask scale-out.

Modelled on adaptr's ``setup_trial`` -> ``run_trials`` -> ``check_performance`` ->
``calibrate_trial``: :func:`load_spec` -> :func:`run_trials` ->
:meth:`SimulationResult.operating_characteristics` -> :func:`calibrate_superiority`.
"""

from infantall.design.adaptive.calibration import (
    Calibration,
    calibrate_scenarios,
    calibrate_superiority,
)
from infantall.design.adaptive.config import TrialSpec, load_spec, spec_from_dict
from infantall.design.adaptive.engine import (
    DECISIONS,
    TrialOutcomes,
    allocation_probabilities,
    simulate_block,
)
from infantall.design.adaptive.posterior import PosteriorProbabilities, posterior_probabilities
from infantall.design.adaptive.reference import simulate_trial_loop
from infantall.design.adaptive.results import OperatingCharacteristics, SimulationResult
from infantall.design.adaptive.runner import (
    BLOCK_SIZE,
    block_plan,
    dask_client,
    run_scenarios,
    run_trials,
)

__all__ = [
    "BLOCK_SIZE",
    "DECISIONS",
    "Calibration",
    "OperatingCharacteristics",
    "PosteriorProbabilities",
    "SimulationResult",
    "TrialOutcomes",
    "TrialSpec",
    "allocation_probabilities",
    "block_plan",
    "calibrate_scenarios",
    "calibrate_superiority",
    "dask_client",
    "load_spec",
    "posterior_probabilities",
    "run_scenarios",
    "run_trials",
    "simulate_block",
    "simulate_trial_loop",
    "spec_from_dict",
]
