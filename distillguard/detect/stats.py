"""Exact binomial tests with p-values that stay meaningful far below 1e-300 (reported as log10)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import logsumexp

__all__ = ["binom_sf_log10", "binom_test", "holm"]


def binom_sf_log10(k: int, n: int, p: float) -> float:
    """log10 P(X >= k) for X ~ Binomial(n, p), exact even where the p-value underflows a float.

    Example:
        >>> from distillguard.detect.stats import binom_sf_log10
        >>> round(binom_sf_log10(0, 10, 0.25), 6), round(binom_sf_log10(1000, 1000, 0.25), 2)
        (0.0, -602.06)
    """
    if k <= 0:
        return 0.0
    if k > n:
        return -math.inf
    sf = float(stats.binom.sf(k - 1, n, p))
    if sf > 1e-280:
        return math.log10(sf)
    # Deep tail: sum the pmf in log space. Terms fall geometrically above the mean, so a window suffices.
    ks = np.arange(k, min(n, k + 20000) + 1)
    return float(logsumexp(stats.binom.logpmf(ks, n, p)) / math.log(10))


def binom_test(green: int, scored: int, gamma: float) -> tuple[float, float, float]:
    """One-sided exact test of ``green`` successes in ``scored`` trials against rate ``gamma``.

    Returns ``(p_value, log10_p, z)``; with nothing scored the result is ``(1.0, 0.0, 0.0)``.

    Example:
        >>> from distillguard.detect.stats import binom_test
        >>> p, lp, z = binom_test(100, 200, 0.25)
        >>> p < 1e-12, round(z, 2)
        (True, 8.16)
    """
    if scored <= 0:
        return 1.0, 0.0, 0.0
    log10_p = binom_sf_log10(green, scored, gamma)
    z = (green - gamma * scored) / math.sqrt(scored * gamma * (1 - gamma))
    return 10.0**log10_p, log10_p, z


def holm(p_values: list[float] | np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (family-wise error control for several keys).

    Example:
        >>> from distillguard.detect.stats import holm
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out
