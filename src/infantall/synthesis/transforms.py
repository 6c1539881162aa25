"""Effect sizes of single proportions and their back-transformations.

Reproduces R metafor's ``escalc`` measures ``PR`` (raw), ``PLO`` (logit), ``PAS`` (arcsine
square root) and ``PFT`` (Freeman-Tukey double arcsine), and the back-transformations
``transf.ilogit``, ``transf.iarcsin``, ``transf.ipft`` and ``transf.ipft.hm`` (Viechtbauer
2010, J Stat Softw 36(3)). The Freeman-Tukey inverse is that of Miller (1978, Am Stat 32:138),
evaluated at the harmonic mean of the study sizes for pooled values.

Hand-written: no Python library checked (statsmodels, PyMARE) has single-proportion measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from infantall.errors import InvalidInputError
from infantall.synthesis.inputs import ProportionInputs

__all__ = [
    "CONTINUITY_CORRECTION",
    "EffectSizes",
    "Transform",
    "back_transform",
    "effect_sizes",
    "harmonic_mean",
]

CONTINUITY_CORRECTION = 0.5
"""Added to events and non-events of a study at 0% or 100% for the raw and logit scales
(metafor ``escalc`` default ``add=1/2, to="only0"``); arcsine and Freeman-Tukey need none."""


class Transform(StrEnum):
    """Scale on which proportions are pooled."""

    logit = "logit"
    arcsine = "arcsine"
    freeman_tukey = "freeman-tukey"
    raw = "raw"

    @property
    def metafor_measure(self) -> str:
        """The name of the same measure in metafor's ``escalc``."""
        return {"logit": "PLO", "arcsine": "PAS", "freeman-tukey": "PFT", "raw": "PR"}[self.value]


@dataclass(frozen=True, slots=True, eq=False)
class EffectSizes:
    """Transformed proportions ``yi`` with sampling variances ``vi`` (metafor's escalc);
    ``proportion`` is the reported proportion (before any continuity correction)."""

    study: tuple[str, ...]
    yi: np.ndarray
    vi: np.ndarray
    effective_n: np.ndarray
    proportion: np.ndarray
    transform: Transform
    corrected: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def summary(self) -> pd.DataFrame:
        """One row per study: yi, vi and whether a continuity correction was applied."""
        return pd.DataFrame(
            {
                "study": list(self.study),
                "yi": self.yi,
                "vi": self.vi,
                "effective_n": self.effective_n,
                "continuity_corrected": [s in self.corrected for s in self.study],
            }
        )


def _ft(x: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Freeman-Tukey double arcsine of ``x`` events out of ``n``."""
    return np.asarray(
        0.5 * (np.arcsin(np.sqrt(x / (n + 1.0))) + np.arcsin(np.sqrt((x + 1.0) / (n + 1.0))))
    )


def effect_sizes(inputs: ProportionInputs, transform: Transform | str) -> EffectSizes:
    """Transformed proportions and sampling variances, as metafor ``escalc`` computes them.

    ``PR``: yi = p, vi = p(1 − p)/n; ``PLO``: yi = log(x/(n − x)), vi = 1/x + 1/(n − x);
    ``PAS``: yi = asin(√p), vi = 1/(4n); ``PFT``: yi = ½[asin √(x/(n+1)) + asin √((x+1)/(n+1))],
    vi = 1/(4n + 2); with x = p·n and n the effective N of each study. For raw and logit a
    study at 0% or 100% gets :data:`CONTINUITY_CORRECTION` added to events and non-events.
    """
    tf = Transform(transform)
    n = inputs.effective_n.astype(float)
    x = inputs.events.astype(float)
    notes = list(inputs.notes)
    corrected: tuple[str, ...] = ()
    if tf in (Transform.logit, Transform.raw):
        at_edge = (x == 0.0) | (x == n)
        if at_edge.any():
            corrected = tuple(s for s, e in zip(inputs.study, at_edge, strict=True) if e)
            x = np.where(at_edge, x + CONTINUITY_CORRECTION, x)
            n = np.where(at_edge, n + 2 * CONTINUITY_CORRECTION, n)
            notes.append(
                f"Continuity correction: {CONTINUITY_CORRECTION} added to events and non-events "
                f"of the studies at 0% or 100% ({', '.join(corrected)}) on the {tf.value} scale."
            )
    p = x / n
    if tf is Transform.raw:
        yi, vi = p, p * (1.0 - p) / n
    elif tf is Transform.logit:
        yi, vi = np.log(x / (n - x)), 1.0 / x + 1.0 / (n - x)
    elif tf is Transform.arcsine:
        yi, vi = np.arcsin(np.sqrt(p)), 1.0 / (4.0 * n)
    else:
        yi, vi = _ft(x, n), 1.0 / (4.0 * n + 2.0)
    return EffectSizes(
        study=inputs.study,
        yi=np.asarray(yi, dtype=float),
        vi=np.asarray(vi, dtype=float),
        effective_n=inputs.effective_n.astype(float),
        proportion=inputs.proportion.astype(float),
        transform=tf,
        corrected=corrected,
        notes=tuple(notes),
    )


def harmonic_mean(n: np.ndarray) -> float:
    """Harmonic mean of study sizes, the N of Miller's (1978) pooled back-transformation."""
    arr = np.asarray(n, dtype=float)
    return float(1.0 / np.mean(1.0 / arr))


def _inverse_ft(t: np.ndarray, n: np.ndarray | float) -> np.ndarray:
    """Miller (1978) inverse of the Freeman-Tukey double arcsine (metafor ``transf.ipft``)."""
    nn = np.broadcast_to(np.asarray(n, dtype=float), t.shape)
    s = np.sin(2.0 * t)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = 1.0 - (s + (s - 1.0 / s) / nn) ** 2
        z = 0.5 * (1.0 - np.sign(np.cos(2.0 * t)) * np.sqrt(inner))
    z = np.where(np.isfinite(z), z, np.nan)
    z = np.where(t > _ft(nn * 1.0, nn), 1.0, z)
    z = np.where(t < _ft(nn * 0.0, nn), 0.0, z)
    return np.asarray(z, dtype=float)


def back_transform(
    values: np.ndarray | float, transform: Transform | str, n: np.ndarray | float | None = None
) -> np.ndarray:
    """Proportions (0-1) from values on the pooling scale.

    Parameters
    ----------
    values
        Values on the transformed scale (estimates, CI or prediction limits).
    transform
        The scale.
    n
        For Freeman-Tukey only: the study size(s) of Miller's inverse; for a pooled value, the
        harmonic mean of the study sizes (:func:`harmonic_mean`), as metafor ``transf.ipft.hm``.

    Notes
    -----
    Like metafor, logit and arcsine limits are mapped into [0, 1] (``transf.iarcsin`` clamps
    below 0 and above π/2); raw limits are returned as computed and may leave [0, 1].
    """
    tf = Transform(transform)
    t = np.atleast_1d(np.asarray(values, dtype=float))
    if tf is Transform.raw:
        return t
    if tf is Transform.logit:
        return np.asarray(1.0 / (1.0 + np.exp(-t)))
    if tf is Transform.arcsine:
        out = np.sin(np.clip(t, 0.0, np.pi / 2.0)) ** 2
        return np.asarray(out)
    if n is None:
        raise InvalidInputError(
            "n", "the Freeman-Tukey back-transformation needs the study size", "ft_needs_n"
        )
    return _inverse_ft(t, n)
