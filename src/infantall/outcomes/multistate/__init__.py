"""Multi-state models of the disease course (diagnosis → CR1 → HSCT → relapse → death).

Data (:mod:`.data`, :mod:`.infant`), Aalen–Johansen occupation and transition probabilities
with infinitesimal-jackknife standard errors (:mod:`.aalen_johansen`), transition-specific Cox
models (:mod:`.cox`), and the report's question (:mod:`.course`). Checked against R
``survival`` (``tests/outcomes/reference/multistate``).
"""

from infantall.outcomes.multistate.aalen_johansen import (
    StateOccupation,
    aalen_johansen,
    transition_probabilities,
)
from infantall.outcomes.multistate.data import (
    MULTISTATE_ERROR_CODES,
    MultiStateData,
    TransitionMatrix,
    multistate_data,
)
from infantall.outcomes.multistate.infant import (
    INFANT_ALL,
    INFANT_ALL_RULES,
    history_events,
    infant_all_data,
    transition_matrix,
)

__all__ = [
    "INFANT_ALL",
    "INFANT_ALL_RULES",
    "MULTISTATE_ERROR_CODES",
    "MultiStateData",
    "StateOccupation",
    "TransitionMatrix",
    "aalen_johansen",
    "history_events",
    "infant_all_data",
    "multistate_data",
    "transition_matrix",
    "transition_probabilities",
]
