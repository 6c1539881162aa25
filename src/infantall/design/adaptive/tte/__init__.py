"""The time-to-event adaptive engine: piecewise-exponential posteriors per arm, an MRD
predictor with multiple imputation, predictive probabilities of success, hierarchical
borrowing across strata.

Modules: :mod:`.spec` (the ``tte:`` block), :mod:`.model` (vectorised conjugate posteriors
and decision quantities), :mod:`.predictor` (link model, imputation, predictive completion),
:mod:`.hierarchy` (normal borrowing of stratum log hazard ratios), :mod:`.mixture` (the
control's Gamma-mixture prior), :mod:`.data` (simulated patients), :mod:`.engine` (the
simulation of a block of trials). This package's ``__init__`` imports only the spec, so that
``adaptive.config`` can import it without a cycle.
"""

from infantall.design.adaptive.tte.spec import TteArm, TteSpec

__all__ = ["TteArm", "TteSpec"]
