"""blocked_subset_sum_test: a Chernoff bound for the score sum of random subsets (Hoeffding's domination)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from distillguard.detect.stats import blocked_subset_sum_test, subset_lambda, subset_mean_cgf


@settings(max_examples=40, deadline=None)
@example([0.0, 0.0, 0.0, 0.0, 0.0, 1e-09], 1)  # a tolerance on the scale of 1 once read this 1/6 tail as 1
@given(st.lists(st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False), min_size=6, max_size=11),
       st.integers(1, 4))
def test_bound_holds_against_the_exact_tail_of_every_subset(values, n):
    """Any scores (heavy tails, ties, huge ranges), every n-subset enumerated: the bound is never below the exact
    tail probability at any attainable sum."""
    x = np.asarray(values)
    n = min(n, len(x) - 1)
    subsets = list(itertools.combinations(range(len(x)), n))
    sums = np.array([x[list(c)].sum() for c in subsets])
    tol = 1e-9 * float(np.abs(x).max())  # float rounding of the sums, on the scores' own scale
    for c, s in zip(subsets, sums):
        exact = float((sums >= s - tol).mean())
        m = np.zeros(len(x), bool)
        m[list(c)] = True
        lp, _ = blocked_subset_sum_test([x], m[None, :])
        assert 10.0**lp >= exact * (1 - 1e-9)


def test_calibrated_on_random_subsets_of_heavy_tailed_blocks_and_has_power():
    """16 blocks of 4,000 heavy-tailed scores (a next-token distribution's shape), 2,000 random quarter-subsets:
    rejections within the 0.999 binomial quantile; a subset tilted towards high scores is found."""
    rng = np.random.default_rng(0)
    blocks = [rng.pareto(1.2, 4000) * rng.choice([-1, 1], 4000) for _ in range(16)]
    scale = max(float(np.abs(b - b.mean()).max()) for b in blocks)
    cgfs = [subset_mean_cgf(b, subset_lambda(scale)) for b in blocks]
    p = []
    for _ in range(2000):
        m = np.zeros((16, 4000), bool)
        for r in m:
            r[rng.choice(4000, 1000, replace=False)] = True
        p.append(blocked_subset_sum_test(blocks, m, cgfs=cgfs, scale=scale)[0])
    p = 10.0 ** np.array(p)
    for a in (0.01, 0.05):
        assert (p <= a).sum() <= stats.binom.ppf(0.999, len(p), a)
    # the cached CGFs give the same answer as computing them
    assert blocked_subset_sum_test(blocks, m, cgfs=cgfs, scale=scale)[0] == pytest.approx(
        blocked_subset_sum_test(blocks, m, scale=scale)[0])
    tilted = np.zeros((16, 4000), bool)
    for r, b in zip(tilted, blocks):  # a quarter of each block, drawn with odds rising with the score
        w = np.exp(np.clip(b, -3, 3) * 0.5)
        r[rng.choice(4000, 1000, replace=False, p=w / w.sum())] = True
    lp, z = blocked_subset_sum_test(blocks, tilted)
    assert z > 5 and lp < -3, (lp, z)


def test_subset_mean_cgf_is_the_centred_log_mean_exp():
    x = np.array([1.0, 2.0, 6.0])
    lam = np.array([0.0, 0.5])
    expected = [0.0, math.log(np.mean(np.exp(0.5 * (x - 3.0))))]
    assert subset_mean_cgf(x, lam) == pytest.approx(expected)
