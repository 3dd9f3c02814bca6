"""Exact binomial tests, and a rank-sum test for random subsets (exact Chernoff bound), with p-values reported as log10 (valid far below 1e-300)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
from scipy import stats
from scipy.special import logsumexp

__all__ = ["binom_sf_log10", "binom_test", "rank_sum_test", "top_count_test", "hypergeom_sf_log10", "blocked_rank_sum_test", "blocked_rank_sum_test_ranked", "rank_sum_cgf", "rank_scores", "holm", "holm_log10", "null_summary", "subset_lambda", "subset_mean_cgf", "blocked_subset_sum_test"]


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


def rank_sum_test(scores: np.ndarray, members: np.ndarray, *, block_last: bool = False
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Do a subset's members rank higher than random? A one-sided Wilcoxon rank-sum test per subset.

    ``scores``: ``[N]`` numbers, higher = preferred (NaN ranks lowest; ties share their mean rank).
    ``members``: ``[K, N]`` bool, row k = subset k, of size n_k. Null hypothesis: subset k is a uniformly
    random n_k-subset drawn independently of ``scores``. Its rank sum W then has the null distribution of the
    Wilcoxon rank-sum statistic, whose moment generating function is known in closed form (Gaussian binomial
    coefficients; see :func:`rank_sum_cgf`). The p-value is the Chernoff bound

        P(W >= w) <= min over lambda > 0 of E[exp(lambda W)] exp(-lambda w),

    valid at every level (Markov's inequality for each lambda; the minimum over a fixed grid of lambda may be
    taken after seeing w because every term bounds the same probability). The finite-population factor is in
    it exactly. Ties: a block of tokens sharing one score (a student's never-trained vocabulary entries, say)
    is modelled exactly -- see :func:`rank_scores` -- and the remaining ties, handled as mean ranks, keep the
    bound valid (a mean rank is the conditional mean of ranks with the tie broken at random, so by Jensen its
    MGF is no larger). Against the exact tail the bound loses about a factor z * sqrt(2 pi) (the Chernoff gap).

    ``block_last``: how :func:`rank_scores` places a large tied block (at the bottom, merging nothing).

    Returns ``(log10_p, z, mean_rank)`` per subset: ``z`` standardises W with its exact null variance,
    ``mean_rank`` is the members' mean rank scaled to [0, 1] (0.5 under the null).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import rank_sum_test
        >>> x = np.linspace(0, 1, 1000)
        >>> lp, z, m = rank_sum_test(x, np.stack([x >= 0.75, np.arange(1000) % 4 == 0]))
        >>> bool(lp[0] < -200), round(float(lp[1]), 3), round(float(m[0]), 3)
        (True, 0.0, 0.875)
    """
    ranks, tied, top = rank_scores(scores, block_last=block_last)
    m = np.asarray(members, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    N = len(ranks)
    n = m.sum(axis=1)
    if N < 2 or m.shape[1] != N or np.any(n == 0):
        raise ValueError("rank_sum_test needs >= 2 scores and non-empty subsets of the same length")
    s = m.astype(np.float64) @ ranks - n * (N + 1) / 2  # W minus its null mean
    log10_p = np.empty(len(n))
    for size in np.unique(n):
        rows = n == size
        log10_p[rows] = _chernoff_log10(s[rows], _LAMBDA_SCALE / N**1.5, _cgf_on_grid(N, int(size), tied, top))
    with np.errstate(divide="ignore", invalid="ignore"):  # every score tied: no variance, z shown as 0
        z = s / np.sqrt(n * (N - n) / (N - 1) * ranks.var())
    return log10_p, np.nan_to_num(z), (s / n + (N - 1) / 2) / (N - 1)


def hypergeom_sf_log10(k: np.ndarray, N: int, n: np.ndarray, draws: int) -> np.ndarray:
    """log10 P(X >= k) for X ~ Hypergeometric(population N, n successes, ``draws`` draws), per row of ``k``, ``n``.

    Summed term by term in log space (each term from log-gamma functions), so it stays exact where the p-value
    underflows a float.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import hypergeom_sf_log10
        >>> hypergeom_sf_log10(np.array([0, 2, 3]), 10, np.array([3, 3, 3]), 3).round(4).tolist()
        [0.0, -0.7368, -2.0792]
    """
    k, n = np.atleast_1d(np.asarray(k, dtype=np.int64)), np.atleast_1d(np.asarray(n, dtype=np.int64))
    out = np.zeros(len(k))
    for i, (ki, ni) in enumerate(zip(k, n)):
        hi = min(int(ni), draws)
        if ki <= max(0, draws - (N - int(ni))):
            continue  # every outcome reaches k: P = 1
        if ki > hi:
            out[i] = -np.inf
            continue
        terms = stats.hypergeom.logpmf(np.arange(ki, hi + 1), N, ni, draws)
        out[i] = min(0.0, float(logsumexp(terms)) / math.log(10))
    return out


def top_count_test(scores: np.ndarray, members: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How many members are among the ``top`` highest scores? A one-sided exact hypergeometric test per subset.

    The rank-sum test (:func:`rank_sum_test`) weighs every rank alike, so a shift confined to a few hundred
    entries at the top of a ranking of tens of thousands is diluted by all the others. This test looks only
    at the head: the ``top`` entries with the highest scores (NaN lowest; ties broken by position, which does
    not depend on any key). Null hypothesis, as for the rank sum: subset k is a uniformly random
    n_k-subset drawn independently of ``scores``. The number of its members in the head is then
    hypergeometric (population N, n_k successes, ``top`` draws) -- exactly, at every level.

    Returns ``(log10_p, z, share)`` per subset: ``share`` is the members' share of the head (n_k / N under the
    null), ``z`` the count standardised by its exact null mean and variance.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import top_count_test
        >>> x = np.linspace(0, 1, 1000)
        >>> lp, z, share = top_count_test(x, np.stack([x >= 0.9, np.arange(1000) % 4 == 0]), 50)
        >>> bool(lp[0] < -30), round(float(share[0]), 2), round(float(share[1]), 2)
        (True, 1.0, 0.24)
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = np.where(np.isnan(x), -np.inf, x)
    m = np.asarray(members, dtype=bool)
    if m.ndim == 1:
        m = m[None, :]
    N = len(x)
    if m.shape[1] != N or not 1 <= top < N:
        raise ValueError(f"top_count_test needs 1 <= top < {N} (the number of scores) and subsets of that length")
    head = np.lexsort((np.arange(N), -x))[:top]  # highest first; ties by position
    g = m[:, head].sum(axis=1)
    n = m.sum(axis=1)
    frac = n / N
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (g - top * frac) / np.sqrt(top * frac * (1 - frac) * (N - top) / (N - 1))
    return hypergeom_sf_log10(g, N, n, top), np.nan_to_num(z), g / top


def blocked_rank_sum_test(scores: np.ndarray, members: np.ndarray) -> tuple[float, float, float]:
    """:func:`rank_sum_test` pooled over independent blocks: block b ranks its own ``scores[b]`` and has its
    own subset ``members[b]``.

    Null hypothesis: each subset is uniformly random given its block's scores, independently across blocks.
    The pooled statistic is the sum of the blocks' centred rank sums; its MGF is the product of the blocks'
    (independence), so the Chernoff bound of :func:`rank_sum_test` applies to the sum of their cumulant
    generating functions. Returns ``(log10_p, z, mean_rank)`` (``z`` with the exact null variance, ``mean_rank``
    pooled over members and scaled to [0, 1]).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import blocked_rank_sum_test
        >>> x = np.tile(np.linspace(0, 1, 400), (3, 1))
        >>> lp, z, m = blocked_rank_sum_test(x, x >= 0.75)
        >>> bool(lp < -200), round(m, 3)
        (True, 0.876)
    """
    x = np.asarray(scores, dtype=np.float64)
    m = np.asarray(members, dtype=bool)
    if x.ndim != 2 or x.shape != m.shape or x.shape[1] < 2 or np.any(m.sum(axis=1) == 0):
        raise ValueError("blocked_rank_sum_test needs [B, N] scores and non-empty [B, N] subsets")
    return blocked_rank_sum_test_ranked([rank_scores(row) for row in x], m)


def blocked_rank_sum_test_ranked(ranked: Sequence[tuple[np.ndarray, int, bool]],
                                 members: np.ndarray) -> tuple[float, float, float]:
    """:func:`blocked_rank_sum_test` on blocks already ranked by :func:`rank_scores` (rank once, test many keys).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import blocked_rank_sum_test_ranked, rank_scores
        >>> x = np.linspace(0, 1, 400)
        >>> round(blocked_rank_sum_test_ranked([rank_scores(x)] * 2, np.stack([x >= 0.75] * 2))[2], 3)
        0.876
    """
    m = np.asarray(members, dtype=bool)
    N = m.shape[1]
    s = var = 0.0
    cgf = np.zeros(len(_LAMBDA_SCALE))
    for (ranks, tied, top), member in zip(ranked, m, strict=True):
        n = int(member.sum())
        s += float(ranks[member].sum()) - n * (N + 1) / 2
        var += n * (N - n) / (N - 1) * float(ranks.var())
        cgf = cgf + _cgf_on_grid(N, n, tied, top)
    log10_p = float(_chernoff_log10(np.array([s]), _LAMBDA_SCALE / N**1.5, cgf)[0])
    return log10_p, s / math.sqrt(var) if var > 0 else 0.0, float((s / m.sum() + (N - 1) / 2) / (N - 1))


def tied_block(scores: np.ndarray, share: float = 0.01) -> np.ndarray | None:
    """The entries holding the most common value of ``scores``, if at least ``share`` x N (and 2) share it.

    A student's never-trained output rows all get the same logit, so its averaged log-probabilities put them in
    one such block (NaN counts as -inf). Returns a boolean mask, or None when no value is that common.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import tied_block
        >>> tied_block(np.array([0.0, 5.0, 5.0, 5.0, 7.0]), 0.5).tolist()
        [False, True, True, True, False]
        >>> tied_block(np.arange(5.0)) is None
        True
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = np.where(np.isnan(x), -np.inf, x)
    values, counts = np.unique(x, return_counts=True)
    if len(x) == 0 or counts.max() < max(2.0, share * len(x)):
        return None
    return x == values[counts.argmax()]


def rank_scores(scores: np.ndarray, *, block: float = 0.01, block_last: bool = False) -> tuple[np.ndarray, int, bool]:
    """Mean ranks 1..N of ``scores`` (NaN lowest), with one tied block at an end that the null models exactly.

    If one value is shared by at least ``block`` x N entries (a model's never-trained vocabulary entries all get
    the same logit), the entries on its shorter side are merged into it, so that the block sits at the bottom
    (or top) of the ranking. Returns ``(ranks, tied, at_top)``: ``tied`` entries share the lowest (or, with
    ``at_top``, highest) rank, and :func:`rank_sum_cgf` accounts for them exactly. Without such a block,
    ``tied`` is the size of the lowest tie group (often 1). Which entries merge depends on the scores alone,
    never on a key, so the null is untouched.

    ``block_last=True`` merges nothing: the block is moved to the bottom and every other entry keeps its own
    rank. Read "never trained" as "least preferred": a student whose untrained output rows stay at logit 0
    ranks them above the entries it saw rarely (training pushed those below 0), and the shorter-side merge
    would then tie away the top of the ranking, where a learned watermark shows. The block is still chosen by
    the scores alone, so the null stays exact.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import rank_scores
        >>> rank_scores(np.array([0.0, 5.0, 5.0, 5.0, 7.0, 9.0]), block=0.5)
        (array([2.5, 2.5, 2.5, 2.5, 5. , 6. ]), 4, False)
        >>> rank_scores(np.array([0.0, 5.0, 5.0, 5.0, 7.0, 9.0]), block=0.5, block_last=True)
        (array([4., 2., 2., 2., 5., 6.]), 3, False)
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = np.where(np.isnan(x), -np.inf, x)
    top = False
    in_block = tied_block(x, block)
    if in_block is not None:
        v = x[in_block][0]
        if block_last:
            x = np.where(x == v, -np.inf, x)  # NaN entries (already -inf) join the block: tied at the bottom
            ranks = stats.rankdata(x)
            return ranks, int((x == -np.inf).sum()), False
        top = (x > v).sum() < (x < v).sum()
        x = np.minimum(x, v) if top else np.maximum(x, v)
    ranks = stats.rankdata(x)
    return ranks, int((x == (x.max() if top else x.min())).sum()), bool(top)


def rank_sum_cgf(N: int, n: int, lam: np.ndarray, *, tied: int = 1, at_top: bool = False) -> np.ndarray:
    """Centred cumulant generating function log E[exp(lam (W - n (N + 1) / 2))] of the rank sum W of a uniformly
    random n-subset of a ranking of N entries whose lowest (``at_top``: highest) ``tied`` entries share their
    mean rank and the rest have distinct ranks; ``lam > 0``.

    With k members in the tied block and m = n - k among the M = N - tied others, W = k c + (sum of a random
    m-subset of M consecutive ranks), and the latter's generating function is a Gaussian binomial coefficient
    (Mann & Whitney 1947):

        E[q^W] = sum_k C(tied, k) q^(k c) q^(m o + m (m + 1) / 2) [M choose m]_q / C(N, n),
        [M choose m]_q = prod_(i=1..m) (1 - q^(M-m+i)) / (1 - q^i),

    with c the block's mean rank and o the others' offset (``tied`` below them, 0 above), evaluated in logs
    with q = e^lam (sums of log(1 - e^(-lam j)); no overflow for any lam).

    Example:
        >>> import itertools, numpy as np
        >>> from distillguard.detect.stats import rank_sum_cgf
        >>> lam = np.array([0.1, 0.7])
        >>> w = np.array([sum(c) for c in itertools.combinations([2, 2, 2, 4, 5], 2)])  # 3 tied at the bottom
        >>> np.allclose(rank_sum_cgf(5, 2, lam, tied=3), np.log(np.exp(np.outer(lam, w - 6)).mean(axis=1)))
        True
    """
    lam = np.asarray(lam, dtype=np.float64).ravel()
    if not (0 < n <= N and 1 <= tied <= N) or np.any(lam <= 0):
        raise ValueError(f"need 0 < n <= N, 1 <= tied <= N and lam > 0, got n = {n}, N = {N}, tied = {tied}")
    M = N - tied
    k = np.arange(max(0, n - M), min(tied, n) + 1, dtype=np.float64)
    mm = n - k  # members among the distinct ranks
    c, offset = (M + (tied + 1) / 2, 0) if at_top else ((tied + 1) / 2, tied)
    # everything of the exponent that is linear in lam, centred first so no large numbers cancel later
    linear = c * k + mm * offset + mm * (mm + 1) / 2 + mm * (M - mm) - n * (N + 1) / 2
    log_choose = np.array([_log_binom(tied, int(j)) for j in k]) - _log_binom(N, n)
    j = np.arange(1, M + 1, dtype=np.float64)
    mi, ri = mm.astype(np.int64), (M - mm).astype(np.int64)
    out = np.empty(len(lam))
    for a in range(0, len(lam), 32):  # G(x) = sum_(j <= x) log(1 - e^(-lam j)), 32 lambdas at a time
        t = lam[a:a + 32, None]
        G = np.concatenate([np.zeros((len(t), 1)), np.cumsum(np.log(-np.expm1(-t * j)), axis=1)], axis=1)
        terms = log_choose + t * linear + G[:, [M]] - G[:, ri] - G[:, mi]
        out[a:a + 32] = logsumexp(terms, axis=1)
    return out


def _log_binom(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


# lambda grid in units of N^-1.5 (a rank sum's null sd is ~ N^1.5 sqrt(gamma (1 - gamma) / 12)): fine where
# z < ~1000, then coarser up to lambda = 50, where a bound has reached P(the n top ranks) or the float floor
_LAMBDA_SCALE = np.concatenate([np.geomspace(1e-3, 1e4, 600), np.geomspace(1e4, 1e12, 60)[1:]])


@lru_cache(maxsize=512)
def _cgf_on_grid(N: int, n: int, tied: int, at_top: bool) -> np.ndarray:
    lam = _LAMBDA_SCALE / N**1.5
    return np.where(lam <= 50.0, rank_sum_cgf(N, n, np.minimum(lam, 50.0), tied=tied, at_top=at_top), np.inf)


#: the lambda grid of :func:`subset_mean_cgf` in units of 1 / (the largest |centred score|)
SUBSET_LAMBDA = np.geomspace(1e-2, 1e3, 240)


def subset_lambda(scale: float) -> np.ndarray:
    """The lambda grid of :func:`blocked_subset_sum_test` for scores whose largest |centred value| is ``scale``.

    Example:
        >>> from distillguard.detect.stats import subset_lambda
        >>> float(subset_lambda(0.5)[0]), float(subset_lambda(0.0)[0]) > 1e290
        (0.02, True)
    """
    return SUBSET_LAMBDA / max(float(scale), 1e-300)


def subset_mean_cgf(scores: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """``log mean_v exp(lam (x_v - mean x))`` for each ``lam``: the cumulant generating function of one draw.

    With Hoeffding's (1963, Theorem 4) domination of sampling without replacement by sampling with replacement,
    ``n`` times this bounds the CGF of the sum of a uniformly random ``n``-subset of the centred scores.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import subset_mean_cgf
        >>> c = subset_mean_cgf(np.array([0.0, 1.0]), np.array([0.0, 2.0]))
        >>> round(float(c[0]), 6), round(float(c[1]), 4)  # log cosh(1)
        (0.0, 0.4338)
    """
    x = np.asarray(scores, dtype=np.float64).ravel()
    x = x - x.mean()
    return logsumexp(np.outer(np.asarray(lam, dtype=np.float64), x), axis=1) - math.log(len(x))


def blocked_subset_sum_test(scores: Sequence[np.ndarray], members: np.ndarray, *, cgfs: Sequence[np.ndarray] | None = None,
                            scale: float | None = None) -> tuple[float, float]:
    """One-sided test that the members' scores sum higher than a uniformly random subset of the same size would,
    pooled over independent blocks: ``(log10 p, z)``.

    ``scores`` holds one ``[N]`` vector per block (any values fixed before the subsets are drawn), ``members``
    ``[B, N]`` the subset of each block. Under the null each block's subset is uniformly random among those of
    its size and the blocks are independent; the p-value is the Chernoff bound with each block's CGF bounded by
    ``n_b`` times :func:`subset_mean_cgf` (sampling without replacement is dominated by sampling with
    replacement), minimised over the grid ``SUBSET_LAMBDA / scale`` -- valid at any depth, no parametric tail.
    The bound ignores the finite-population correction (a variance factor ``1 - n/N``), so it is conservative.
    ``cgfs`` (each block's :func:`subset_mean_cgf` on :func:`subset_lambda` of ``scale``) and ``scale`` (default: the largest |centred
    score| over the blocks; any value fixed before the subsets are drawn) let many subsets reuse one
    computation. ``z`` is the sum's standardised value (finite-population variance), reported, not the test.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.stats import blocked_subset_sum_test
        >>> x = np.linspace(0, 1, 400)
        >>> lp, z = blocked_subset_sum_test([x, x], np.stack([x >= 0.75, x >= 0.75]))
        >>> lp < -20, round(z, 1)
        (True, 21.2)
        >>> blocked_subset_sum_test([x], (np.arange(400) % 4 == 0)[None, :])[0] > -1
        True
    """
    m = np.asarray(members, dtype=bool)
    xs = [np.asarray(x, dtype=np.float64).ravel() for x in scores]
    centred = [x - x.mean() for x in xs]
    if scale is None:
        scale = max(float(np.abs(c).max()) for c in centred)
    lam = subset_lambda(scale)
    s = var = 0.0
    cgf = np.zeros(len(lam))
    for i, (c, member) in enumerate(zip(centred, m, strict=True)):
        n, N = int(member.sum()), len(c)
        s += float(c[member].sum())
        var += n * (N - n) / (N - 1) * float(c.var())
        cgf = cgf + n * (cgfs[i] if cgfs is not None else subset_mean_cgf(c, lam))
    log10_p = float(_chernoff_log10(np.array([s]), lam, cgf)[0])
    return log10_p, s / math.sqrt(var) if var > 0 else 0.0


def _chernoff_log10(s: np.ndarray, lam: np.ndarray, cgf: np.ndarray) -> np.ndarray:
    """log10 of min over the grid of exp(cgf(lam) - lam s): the Chernoff bound on P(S >= s); 0 at worst."""
    bound = (cgf[None, :] - np.outer(s, lam)).min(axis=1) + 1e-6  # + a margin far above float rounding
    return np.minimum(bound, 0.0) / math.log(10)


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


def holm_log10(log10_p: list[float] | np.ndarray) -> np.ndarray:
    """:func:`holm` on log10 p-values, exact in the deep tail (no underflow at p = 1e-400).

    Example:
        >>> from distillguard.detect.stats import holm_log10
        >>> holm_log10([-2.0, np.log10(0.04), np.log10(0.03)]).round(3).tolist()  # holm: 0.03, 0.06, 0.06
        [-1.523, -1.222, -1.222]
    """
    lp = np.asarray(log10_p, dtype=float)
    m = len(lp)
    order = np.argsort(lp, kind="stable")
    adj = np.minimum(0.0, np.maximum.accumulate(lp[order] + np.log10(m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def null_summary(p_values: list[float] | np.ndarray) -> dict[str, float | int]:
    """Empirical calibration of p-values that are null by construction (keys a suspect never saw).

    FPR at 0.01 and 0.001, the 0.999 binomial bound on the rejections a valid test may show at 0.01, the
    smallest and mean p, and two KS tests against the continuous uniform: ``ks_uniform_pvalue`` (two-sided: is
    the distribution uniform?) and ``ks_anticonservative_pvalue`` (one-sided: is the empirical CDF ever *above*
    the uniform's, i.e. do small p-values come too often?). Only the second is a test of validity: exact
    discrete p-values and Chernoff bounds are conservative, so the two-sided test may reject while the
    one-sided one and the FPRs stay quiet.

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
            "ks_uniform_pvalue": float(stats.kstest(p, "uniform").pvalue),
            # alternative="greater": H1 = the p-values' CDF exceeds the uniform's somewhere (anti-conservative)
            "ks_anticonservative_pvalue": float(stats.kstest(p, "uniform", alternative="greater").pvalue)}
