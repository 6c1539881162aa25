"""infantall: an open research platform for infant acute lymphoblastic leukemia trials.

infantall reproduces published protocol rules and analyses with their sources. It is a
research tool and never recommends a treatment for a child.
"""

from infantall.errors import InfantallError, InfantallWarning, InvalidInputError

__version__ = "0.1.0"

RESEARCH_DISCLAIMER = (
    "infantall is a research tool. Its risk groups and analyses reproduce published "
    "protocols and trials; they are not a treatment recommendation for any child."
)

__all__ = [
    "RESEARCH_DISCLAIMER",
    "InfantallError",
    "InfantallWarning",
    "InvalidInputError",
    "__version__",
]
