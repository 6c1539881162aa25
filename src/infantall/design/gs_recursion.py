"""Crossing probabilities of a score process with upper and lower boundaries.

The Armitage–McPherson–Rowe recursion (Jennison and Turnbull, 2000, chapter 19) on the
*score* scale ``S_k = Z_k sqrt(I_k)``, with independent increments
``S_k - S_{k-1} ~ N(theta (I_k - I_{k-1}), I_k - I_{k-1})``. Unlike
:mod:`infantall.design.groupseq` (symmetric or upper-only regions), each look has its own
upper and lower boundary, the process may start from an observed value (conditional power),
and both crossing directions are reported separately (futility designs need both).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats

__all__ = ["FloatArrayLike", "ScoreRecursion", "boundary_crossings"]

#: A sequence of floats or a float array.
FloatArrayLike = Sequence[float] | NDArray[np.float64]

#: Simpson intervals per look: the integrand is smooth, so 600 intervals over at most
#: +-10 standard deviations give probabilities to about 1e-10 (as groupseq).
_GRID_INTERVALS = 600
#: Width of the open side of a region in standard deviations of the score.
_TAIL_SD = 10.0


def _simpson(lo: float, hi: float) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = np.linspace(lo, hi, _GRID_INTERVALS + 1)
    w = np.full(x.size, 2.0)
    w[1::2] = 4.0
    w[0] = w[-1] = 1.0
    return x, w * (hi - lo) / (3.0 * _GRID_INTERVALS)


class ScoreRecursion:
    """Sub-density of the score among trials still running, carried from look to look.

    Parameters
    ----------
    info
        Information at each look, strictly increasing and above ``start_info``.
    theta
        Drift per unit information.
    start_score, start_info
        The process starts at ``S = start_score`` with information ``start_info`` (0 and 0
        for an unconditional design; the interim's values for conditional power).
    """

    def __init__(
        self,
        info: FloatArrayLike,
        theta: float,
        *,
        start_score: float = 0.0,
        start_info: float = 0.0,
    ) -> None:
        self.info = np.asarray(info, dtype=float)
        self.theta = float(theta)
        self.s0 = float(start_score)
        self.i0 = float(start_info)
        self._x: NDArray[np.float64] | None = None
        self._wd: NDArray[np.float64] | None = None  # Simpson weight * density

    def _prev_info(self, k: int) -> float:
        return self.i0 if k == 0 else float(self.info[k - 1])

    def masses(self, k: int, upper: float, lower: float) -> tuple[float, float]:
        """P(reach look ``k`` and ``S_k >= upper``), P(reach look ``k`` and ``S_k <= lower``).

        Bounds are on the score scale; ``lower = -inf`` for none, ``upper = inf`` for none.
        """
        var = float(self.info[k]) - self._prev_info(k)
        sd, mean = np.sqrt(var), self.theta * var
        if self._x is None:
            up = float(stats.norm.sf((upper - self.s0 - mean) / sd))
            low = float(stats.norm.cdf((lower - self.s0 - mean) / sd))
            return up, low
        assert self._wd is not None
        up_v = stats.norm.sf((upper - self._x - mean) / sd)
        low_v = stats.norm.cdf((lower - self._x - mean) / sd)
        return float(self._wd @ up_v), float(self._wd @ low_v)

    def advance(self, k: int, upper: float, lower: float) -> None:
        """Move the density of continuing trials to look ``k`` (region ``lower < S < upper``)."""
        var = float(self.info[k]) - self._prev_info(k)
        sd, mean = np.sqrt(var), self.theta * var
        centre = self.s0 + self.theta * (float(self.info[k]) - self.i0)
        spread = np.sqrt(float(self.info[k]) - self.i0)
        lo = max(lower, centre - _TAIL_SD * spread)
        hi = min(upper, centre + _TAIL_SD * spread)
        if hi <= lo:
            hi = lo + 1e-12
        x, w = _simpson(lo, hi)
        if self._x is None:
            dens = stats.norm.pdf((x - self.s0 - mean) / sd) / sd
        else:
            assert self._wd is not None
            u = (x[:, None] - self._x[None, :] - mean) / sd
            dens = (np.exp(-0.5 * u * u) / (sd * np.sqrt(2.0 * np.pi))) @ self._wd
        self._x, self._wd = x, w * dens


def boundary_crossings(
    upper_z: FloatArrayLike,
    lower_z: FloatArrayLike,
    info: FloatArrayLike,
    theta: float,
    *,
    start_score: float = 0.0,
    start_info: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Probabilities of first crossing the upper and the lower Z boundary at each look.

    ``upper_z``/``lower_z`` are Z-scale boundaries (``inf``/``-inf`` for none); the process
    has ``E[S_k] = theta I_k`` (from ``start_score`` at ``start_info`` when given).
    """
    inf = np.asarray(info, dtype=float)
    rec = ScoreRecursion(inf, theta, start_score=start_score, start_info=start_info)
    up_p = np.empty(inf.size)
    low_p = np.empty(inf.size)
    for k in range(inf.size):
        u = float(upper_z[k]) * np.sqrt(inf[k])
        lo = float(lower_z[k]) * np.sqrt(inf[k])
        up_p[k], low_p[k] = rec.masses(k, u, lo)
        if k + 1 < inf.size:
            rec.advance(k, u, lo)
    return up_p, low_p
