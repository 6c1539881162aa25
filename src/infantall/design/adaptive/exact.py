"""Posterior probabilities to float64 accuracy, compiled with numba.

* ``P(arm better than control)`` in closed form:

  - Beta posteriors: ``P(p_B > p_A) = sum_{i=0}^{a_B - 1} B(a_A + i, b_A + b_B) /
    ((b_B + i) B(1 + i, b_B) B(a_A, b_A))`` when ``a_B`` is an integer (the exact sum of
    Cook, 2005, and Miller, 2015); the symmetries ``p -> 1 - p`` and complement cover a
    Beta posterior with any integer parameter. Non-integer parameters fall back to
    quadrature with exact CDFs (below).
  - Gamma posteriors (hazards, lower is better): with ``X = b_k lambda_k`` and
    ``Y = b_c lambda_c`` standard Gamma, ``P(lambda_k < lambda_c) =
    I_{b_k / (b_k + b_c)}(a_k, a_c)`` (``X / (X + Y)`` is Beta(a_k, a_c)).

* ``P(arm best)``: ``int f_k(eta) prod_{j != k} F_j(eta) d eta`` on the logit/log scale by
  the trapezoid rule over +-``SPAN`` posterior sd (the integrand is smooth and decays like a
  Gaussian, so the rule converges geometrically), with every CDF ``F_j`` the exact
  regularized incomplete beta (Lentz's continued fraction, Numerical Recipes 6.4) or its
  Gamma counterpart. No float32 anywhere.

The functions work on (trials, arms) arrays; ``tests/design/test_adaptive_exact.py`` checks
them against scipy ``betainc``/``quad`` at 1e-9.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numpy.typing import NDArray

__all__ = ["beta_probabilities", "gamma_probabilities"]

#: Trapezoid step in units of the narrowest posterior sd on the eta scale. The error of the
#: rule decays like exp(-2 pi^2 (w / step)^2) with w the width of the integrand; for P(best)
#: that is the density of a maximum, narrower than one posterior: measured on 4 arms, a
#: step of 0.7 sd leaves 5e-9, 0.5 sd 1e-14 (tests/design/test_adaptive_exact.py).
STEP_SD = 0.5
#: Largest step on the eta scale whatever the sd: a logit-Beta density with a parameter near
#: or below 1 is skewed and analytic only in a narrow strip; at 0.5 sd a Beta(0.5, 252) arm
#: left P(best) off by 3e-6 (tests/design/test_adaptive_kernel.py checks such rows).
MAX_STEP = 0.35
#: Fewest trapezoid nodes.
MIN_NODES = 32
#: Half-width of the integration range in posterior standard deviations.
SPAN = 8.5
#: The range also extends until an exponential tail is below exp(-TAIL_LOG) (~6e-16).
TAIL_LOG = 35.0
_EPS = 1e-16
_TINY = 1e-300
_MAX_SUM_TERMS = 100_000


@numba.njit(cache=True)
def _lbeta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


@numba.njit(cache=True)
def _betacf(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return h


@numba.njit(cache=True)
def betainc(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta ``I_x(a, b)`` (scipy ``betainc``) in float64."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = a * math.log(x) + b * math.log1p(-x) - _lbeta(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


@numba.njit(cache=True)
def _is_int(v: float) -> bool:
    return v == math.floor(v) and v <= _MAX_SUM_TERMS


@numba.njit(cache=True)
def _miller(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """P(p_B > p_A) for p_A ~ Beta(a_a, b_a), p_B ~ Beta(a_b, b_b), integer ``a_b``.

    Term ``i`` is ``B(a_a + i, b_a + b_b) / ((b_b + i) B(1 + i, b_b) B(a_a, b_a))``; successive
    terms differ by the factor ``(a_a + i)(b_b + i) / ((a_a + b_a + b_b + i)(1 + i))``, so one
    set of log-gamma calls starts a running product kept on the log scale (no underflow).
    """
    log_t = _lbeta(a_a, b_a + b_b) - _lbeta(a_a, b_a)  # i = 0: b_b B(1, b_b) = 1
    total = math.exp(log_t)
    for i in range(int(a_b) - 1):
        log_t += math.log((a_a + i) * (b_b + i) / ((a_a + b_a + b_b + i) * (1.0 + i)))
        total += math.exp(log_t)
    return total


@numba.njit(cache=True)
def _beta_eta(a: float, b: float, eta: float) -> tuple[float, float]:
    """(density of eta = logit p, CDF) for p ~ Beta(a, b)."""
    p = 1.0 / (1.0 + math.exp(-eta))
    log_sp = -math.log1p(math.exp(-eta)) if eta > -30 else eta  # log p
    log_sq = -math.log1p(math.exp(eta)) if eta < 30 else -eta  # log (1 - p)
    dens = math.exp(a * log_sp + b * log_sq - _lbeta(a, b))
    return dens, betainc(a, b, p)


@numba.njit(cache=True)
def _gamma_eta(a: float, b: float, eta: float) -> tuple[float, float]:
    """(density of eta = -log hazard, CDF of eta) for hazard ~ Gamma(a, rate b).

    ``P(eta <= e) = P(hazard >= exp(-e)) = Q(a, b exp(-e))``, the upper regularized gamma.
    """
    x = b * math.exp(-eta)
    dens = math.exp(a * math.log(x) - x - math.lgamma(a))
    return dens, _gammaincc(a, x)


@numba.njit(cache=True)
def _gammaincc(a: float, x: float) -> float:
    """Upper regularized incomplete gamma Q(a, x) (Numerical Recipes 6.2)."""
    if x <= 0.0:
        return 1.0
    gln = math.lgamma(a)
    if x < a + 1.0:
        ap, s = a, 1.0 / a
        delta = s
        for _ in range(100_000):
            ap += 1.0
            delta *= x / ap
            s += delta
            if abs(delta) < abs(s) * _EPS:
                break
        return 1.0 - s * math.exp(-x + a * math.log(x) - gln)
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            break
    return math.exp(-x + a * math.log(x) - gln) * h


@numba.njit(cache=True)
def _beta_better(a_k: float, b_k: float, a_c: float, b_c: float) -> float:
    """P(p_k > p_c), exact when any parameter is an integer (fewest terms), else -1."""
    best_terms, choice = 1e300, -1
    for j, v in enumerate((a_k, a_c, b_c, b_k)):
        if _is_int(v) and v < best_terms:
            best_terms, choice = v, j
    if choice == 0:
        return _miller(a_c, b_c, a_k, b_k)
    if choice == 1:
        return 1.0 - _miller(a_k, b_k, a_c, b_c)
    if choice == 2:  # p_k > p_c  <=>  1 - p_c > 1 - p_k
        return _miller(b_k, a_k, b_c, a_c)
    if choice == 3:
        return 1.0 - _miller(b_c, a_c, b_k, a_k)
    return -1.0


@numba.njit(cache=True)
def _eta_range(
    family: int, a: NDArray[np.float64], b: NDArray[np.float64]
) -> tuple[float, float, int]:
    """Integration range on the eta scale and the number of trapezoid nodes."""
    lo, hi, sd_min = 1e300, -1e300, 1e300
    for k in range(a.size):  # every arm: the fallback P(better) is wanted for dropped ones too
        # the tails of eta are exponential: exp(a eta) and exp(-b eta) (Beta); exp(-a eta)
        # on the right (Gamma), so the range reaches TAIL_LOG / rate beyond the mean too
        if family == 0:
            mean, sd = math.log(a[k] / b[k]), math.sqrt(1.0 / a[k] + 1.0 / b[k])
            left, right = max(SPAN * sd, TAIL_LOG / a[k]), max(SPAN * sd, TAIL_LOG / b[k])
        else:
            mean, sd = -math.log(a[k] / b[k]), math.sqrt(1.0 / a[k])
            left, right = SPAN * sd, max(SPAN * sd, TAIL_LOG / a[k])
        lo = min(lo, mean - left)
        hi = max(hi, mean + right)
        sd_min = min(sd_min, sd)
    span_nodes = int(math.ceil((hi - lo) / min(STEP_SD * sd_min, MAX_STEP)))  # noqa: RUF046
    nodes = max(MIN_NODES, span_nodes + 1)
    return lo, hi, nodes


@numba.njit(cache=True)
def _quadrature_row(
    family: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    active: NDArray[np.bool_],
    control: int,
    best: NDArray[np.float64],
    better_fallback: NDArray[np.float64],
) -> None:
    """P(best) among active arms and P(better than control) for one trial by quadrature."""
    k_n = a.size
    lo, hi, nodes = _eta_range(family, a, b)
    h = (hi - lo) / (nodes - 1)
    dens = np.empty(k_n)
    cdf = np.empty(k_n)
    for k in range(k_n):
        best[k] = 0.0
        better_fallback[k] = 0.0
    for g in range(nodes):
        eta = lo + g * h
        w = h if 0 < g < nodes - 1 else 0.5 * h
        for k in range(k_n):
            if family == 0:
                dens[k], cdf[k] = _beta_eta(a[k], b[k], eta)
            else:
                dens[k], cdf[k] = _gamma_eta(a[k], b[k], eta)
        for k in range(k_n):
            better_fallback[k] += w * dens[k] * cdf[control]
            if not active[k]:
                continue
            prod = 1.0
            for j in range(k_n):
                if j != k and active[j]:
                    prod *= cdf[j]
            best[k] += w * dens[k] * prod


@numba.njit(cache=True)
def _probabilities(
    family: int,
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    active: NDArray[np.bool_],
    control: int,
    need_best: bool,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    t_n, k_n = a.shape
    better = np.empty((t_n, k_n))
    best = np.zeros((t_n, k_n))
    row_best = np.empty(k_n)
    row_fallback = np.empty(k_n)
    for t in range(t_n):
        missing = False
        for k in range(k_n):
            if k == control:
                better[t, k] = 0.5
            elif family == 0:
                better[t, k] = _beta_better(a[t, k], b[t, k], a[t, control], b[t, control])
                missing = missing or better[t, k] < 0
            else:
                x = b[t, k] / (b[t, k] + b[t, control])
                better[t, k] = betainc(a[t, k], a[t, control], x)
        if need_best or missing:
            _quadrature_row(family, a[t], b[t], active[t], control, row_best, row_fallback)
            for k in range(k_n):
                if need_best:
                    best[t, k] = row_best[k] if active[t, k] else 0.0
                if better[t, k] < 0:
                    better[t, k] = row_fallback[k]
    return better, best


def beta_probabilities(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    active: NDArray[np.bool_],
    control: int,
    *,
    need_best: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """(P(better than control), P(best) or None) for Beta(a, b) posteriors (higher better)."""
    better, best = _probabilities(
        0,
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(active, dtype=np.bool_),
        int(control),
        bool(need_best),
    )
    return better, (best if need_best else None)


def gamma_probabilities(
    a: NDArray[np.float64],
    b: NDArray[np.float64],
    active: NDArray[np.bool_],
    control: int,
    *,
    need_best: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
    """(P(hazard below control's), P(lowest hazard) or None) for Gamma(a, rate b)."""
    better, best = _probabilities(
        1,
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(active, dtype=np.bool_),
        int(control),
        bool(need_best),
    )
    return better, (best if need_best else None)
