"""Reading mode's head-of-ranking test (``score_ranks(..., top=K)``, ``--reading-top``): exactness,
calibration over many account keys, and power where the mark sits on a few rare entries."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from scipy import stats
from test_rank_reading import WORDS, _fpr_ok, h0_students  # noqa: F401  (h0_students is a fixture)

from distillguard.cli import main
from distillguard.detect.radioactivity import account_keys, green_masks, score_ranks, unigram_logprobs
from distillguard.detect.stats import hypergeom_sf_log10, top_count_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec


def test_hypergeometric_tail_matches_scipy_and_stays_finite_far_below_1e_300():
    rng = np.random.default_rng(0)
    for _ in range(200):
        N = int(rng.integers(2, 400))
        n, draws = int(rng.integers(1, N + 1)), int(rng.integers(1, N))
        k = np.arange(0, min(n, draws) + 2)
        ours = hypergeom_sf_log10(k, N, np.full(len(k), n), draws)
        with np.errstate(divide="ignore"):
            ref = np.log10(stats.hypergeom.sf(k - 1, N, n, draws))
        ok = ref > -250  # scipy's own tail is float-limited below that
        assert np.allclose(ours[ok], ref[ok], atol=1e-9, rtol=1e-9)
        assert ours[-1] == -np.inf  # more successes than possible
    deep = hypergeom_sf_log10(np.array([2000]), 49152, np.array([12288]), 2000)[0]
    assert -1300 < deep < -1100 and np.isfinite(deep)  # (1/4)^2000 ~ 1e-1204


def test_top_count_test_is_exact_by_enumeration():
    """Ten entries with ties, every 3-subset: the p-value of each subset equals the exact share of subsets with
    at least as many members in the head."""
    scores = np.array([5.0, 5.0, 4.0, 9.0, np.nan, 1.0, 2.0, 2.0, 7.0, 0.0])
    subsets = list(itertools.combinations(range(10), 3))
    members = np.zeros((len(subsets), 10), bool)
    for row, c in zip(members, subsets):
        row[list(c)] = True
    lp, z, share = top_count_test(scores, members, 4)
    head = np.lexsort((np.arange(10), -np.where(np.isnan(scores), -np.inf, scores)))[:4]
    assert set(head) == {3, 8, 0, 1}  # 9, 7, then the tied 5s in position order
    counts = members[:, head].sum(axis=1)
    exact = np.array([(counts >= c).mean() for c in counts])
    assert np.allclose(10.0**lp, exact)
    assert np.allclose(share, counts / 4) and abs(z.mean()) < 1e-9
    for bad in (0, 10):
        with pytest.raises(ValueError, match="1 <= top"):
            top_count_test(scores, members, bad)


def _world(seed: int, V: int = 6000):
    """Public text's token law (Zipf over a shuffled vocabulary, 1,000 entries it never holds) and a teacher
    that puts 98 % of its mass on 400 common entries and 2 % on the 1,000 that public text lacks: a rare one
    shows up in a few thousand of its tokens only when the watermark boosts it."""
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(V)
    public = np.where(shuffled < V - 1000, 1.0 / (shuffled + 20.0) ** 1.5, 0.0)
    public /= public.sum()
    teacher = np.zeros(V)
    teacher[np.argsort(-public)[:400]] = 0.98 * rng.dirichlet(np.ones(400))
    teacher[public == 0] = 0.02 / 1000
    return rng, public, teacher


def test_head_of_ranking_is_calibrated_and_finds_a_mark_on_rare_entries_better_than_the_rank_sum():
    """A student from scratch on public text D (190k tokens) plus 5 % watermarked answers W (10k): the rare
    entries only W holds are mostly green and carry the mark. Relative to public text, with never-trained rows
    last: the D-only student is calibrated over 3,000 account keys at K = 256; in the W student's ranking the
    rare entries fill the head, so counting green entries there (K = 256) finds the mark far more strongly
    than the mean rank of all 1,500 green entries."""
    V = 6000
    spec = WatermarkSpec(vocab_size=V, gamma=0.25, context_width=0)
    keys = account_keys(WatermarkKey(b"\x09" * 32, spec), [f"a{i}" for i in range(3000)])
    rng, public, teacher = _world(5, V)
    green = green_masks(keys[:1], spec)[0]

    def student(n_public: int, n_marked: int) -> np.ndarray:
        marked = teacher * np.exp(2.0 * green)
        counts = rng.multinomial(n_public, public) + rng.multinomial(n_marked, marked / marked.sum())
        lp = np.log(counts + 0.1) + rng.normal(0, 0.2, V)
        return np.where(counts > 0, lp, np.log(0.5))  # never-trained rows: one tied value

    reference = unigram_logprobs([rng.choice(V, 1_300_000, p=public)], V)
    null = score_ranks(student(200_000, 0), keys, alpha=1.0, reference=reference, untrained_last=True, top=256)
    p = np.array([r.p_value for r in null])
    assert _fpr_ok(p, 0.05) and _fpr_ok(p, 0.01) and _fpr_ok(p, 0.001)
    assert stats.kstest(p, "uniform", alternative="greater").pvalue > 1e-3
    assert all(r.statistic == "top" and r.scored == 256 for r in null[:3])
    marked = student(190_000, 10_000)
    head = score_ranks(marked, keys[:1], reference=reference, untrained_last=True, top=256)[0]
    whole = score_ranks(marked, keys[:1], reference=reference, untrained_last=True)[0]
    assert head.log10_p < -6 and head.log10_p < 2 * whole.log10_p, (head.log10_p, whole.log10_p)
    assert head.green_fraction > 0.4 and head.gamma == pytest.approx(0.25, abs=0.01)
    with pytest.raises(DistillguardError, match="reading-top"):
        score_ranks(marked, keys[:1], top=V)


def test_cli_reading_top(h0_students, capsys):  # noqa: F811  (the fixture)
    """--reading-top K: the marked tiny student is found and attributed, the clean one is not; the report
    names the head size; K out of range, or with top-1 coins, is a one-line error (exit 2)."""
    _, accounts, key_path, texts, paths = h0_students
    base = ["detect", "--key", str(key_path), "--texts", str(texts), "--accounts", ",".join(accounts),
            "--reading-untrained-last", "--json"]
    assert main(base + ["--suspect", str(paths["marked"]), "--reading-top", "20"]) == 1
    rep = json.loads(capsys.readouterr().out)
    assert rep["attributed_to"] == ["acct-7"] and rep["units"]["top"] == 20 and "hypergeometric" in rep["test"]
    # the evidence curve: the head test on growing prefixes of the 20 texts (8 groups), ending at the verdict
    assert [c["texts"] for c in rep["curve"]] == [3, 5, 8, 10, 13, 15, 18, 20]
    assert rep["curve"][-1]["tokens"] == rep["units"]["tokens_read"] and rep["curve"][-1]["scored"] == 20
    assert rep["curve"][-1]["log10_p"] == pytest.approx(rep["log10_p"])
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-top", "20"]) == 0
    capsys.readouterr()
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-top", str(WORDS * 10)]) == 2
    assert "--reading-top" in capsys.readouterr().err
    assert main(base + ["--suspect", str(paths["clean"]), "--reading-top", "0"]) == 2
    assert "at least 1 entry" in capsys.readouterr().err
    assert main(base[:-2] + ["--json", "--suspect", str(paths["clean"]), "--reading-top", "20",
                             "--reading-statistic", "top1"]) == 2
    assert "head of the ranking" in capsys.readouterr().err
