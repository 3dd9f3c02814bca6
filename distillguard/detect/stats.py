"""Exact binomial tests, and a rank test for random subsets, with p-values reported as log10 (valid far below 1e-300)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats
from scipy.special import logsumexp

__all__ = ["binom_sf_log10", "binom_test", "subset_mean_test", "blocked_subset_test", "holm", "null_summary"]


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


def subset_mean_test(values: np.ndarray, members: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Is the mean of ``values`` over a subset higher than over the whole population? One test per subset.

    ``values``: ``[N]`` numbers in [0, 1] (ranks, say). ``members``: ``[K, N]`` bool, row k = subset k, each of
    size n_k. Null hypothesis: subset k is a uniformly random n_k-subset drawn independently of ``values``.
    The subset mean is then a mean of n draws *without replacement* from the population, whose moment
    generating function is bounded by that of draws with replacement (Hoeffding 1963, Theorem 4). Bernstein's
    inequality therefore bounds its upper tail:

        P(mean_S - mu >= t) <= exp(-n t^2 / (2 sigma^2 + 2 b t / 3)),   b = max(values) - mu,

    with mu and sigma^2 the population mean and variance. This bound is the p-value: valid at every level,
    conservative (it ignores the finite-population correction, here 1 - n/N). Returns ``(log10_p, z, mean)``
    per subset; ``z`` is the standardised difference with the exact permutation variance (for display).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import subset_mean_test
        >>> x = np.linspace(0, 1, 1000)
        >>> lp, z, m = subset_mean_test(x, np.stack([x >= 0.75, np.arange(1000) % 4 == 0]))
        >>> bool(lp[0] < -50), round(float(lp[1]), 3), round(float(m[0]), 3)
        (True, 0.0, 0.875)
    """
    x = np.asarray(values, dtype=np.float64)
    m = np.asarray(members, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    N = len(x)
    n = m.sum(axis=1).astype(np.float64)
    if N < 2 or m.shape[1] != N or np.any(n == 0):
        raise ValueError("subset_mean_test needs >= 2 values and non-empty subsets of the same length")
    mu, var = float(x.mean()), float(x.var())
    b = float(x.max()) - mu
    mean = (m.astype(np.float64) @ x) / n
    log10_p = _bernstein_log10(n * (mean - mu), n * var, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - mu) / np.sqrt(var / n * (N - n) / (N - 1))
    return log10_p, np.nan_to_num(z), mean


def _bernstein_log10(s: np.ndarray | float, total_var: np.ndarray | float, b: float) -> np.ndarray:
    """log10 of Bernstein's bound exp(-s^2 / (2 total_var + 2 b s / 3)) on P(S >= s); 0 where s <= 0."""
    s, v = np.asarray(s, dtype=np.float64), np.asarray(total_var, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = -(s**2) / (2 * v + 2 * b * s / 3) / math.log(10)
    return np.where((s > 0) & (v > 0), out, 0.0)


def blocked_subset_test(values: np.ndarray, members: np.ndarray) -> tuple[float, float, float]:
    """:func:`subset_mean_test` pooled over independent blocks: block b has its own population ``values[b]``
    and its own subset ``members[b]``.

    Null hypothesis: each subset is uniformly random given its block's values, independently across blocks.
    The sum of the centred members ``S = sum_b sum_(i in subset b) (values[b, i] - mu_b)`` then has a moment
    generating function bounded by that of ``sum_b n_b`` independent draws with replacement (Hoeffding 1963,
    per block; independence across blocks), so Bernstein's inequality gives the p-value

        P(S >= s) <= exp(-s^2 / (2 sum_b n_b sigma_b^2 + 2 b s / 3)),   b = max_b (max(values[b]) - mu_b).

    Returns ``(log10_p, z, mean)``: ``z`` uses the exact permutation variance, ``mean`` is the members' pooled
    mean value.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import blocked_subset_test
        >>> x = np.tile(np.linspace(0, 1, 400), (3, 1))
        >>> lp, z, m = blocked_subset_test(x, x >= 0.75)
        >>> bool(lp < -60), round(m, 3)
        (True, 0.876)
    """
    x = np.asarray(values, dtype=np.float64)
    m = np.asarray(members, dtype=bool)
    if x.ndim != 2 or x.shape != m.shape or x.shape[1] < 2 or np.any(m.sum(axis=1) == 0):
        raise ValueError("blocked_subset_test needs [B, N] values and non-empty [B, N] subsets")
    N = x.shape[1]
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1)
    n = m.sum(axis=1)
    s = float(((x - mu) * m).sum())
    total_var = float((n * var).sum())
    b = float((x.max(axis=1) - mu[:, 0]).max())
    log10_p = float(_bernstein_log10(s, total_var, b))
    perm_var = float((n * var * (N - n) / (N - 1)).sum())
    z = s / math.sqrt(perm_var) if perm_var > 0 else 0.0
    return log10_p, z, float((x * m).sum() / n.sum())


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


def null_summary(p_values: list[float] | np.ndarray) -> dict[str, float | int]:
    """Empirical calibration of p-values that are null by construction (keys a suspect never saw).

    FPR at 0.01 and 0.001, the 0.999 binomial bound on the rejections a valid test may show at 0.01, the
    smallest and mean p, and a KS test against the continuous uniform (exact discrete p-values are
    conservative, so KS may reject while the FPRs stay under alpha).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import null_summary
        >>> s = null_summary(np.linspace(0.0005, 1, 2000))
        >>> s["keys"], s["rejections_0.01"] <= s["bound_0.01_rejections_q999"]
        (2000, True)
    """
    p = np.asarray(p_values, dtype=float)
    n = int(p.size)
    return {"keys": n, "fpr_at_0.01": float(np.mean(p <= 0.01)), "fpr_at_0.001": float(np.mean(p <= 1e-3)),
            "rejections_0.01": int((p <= 0.01).sum()), "rejections_0.001": int((p <= 1e-3).sum()),
            "bound_0.01_rejections_q999": int(stats.binom.ppf(0.999, n, 0.01)),
            "min_p": float(p.min()), "mean_p": float(p.mean()),
            "ks_uniform_pvalue": float(stats.kstest(p, "uniform").pvalue)}
