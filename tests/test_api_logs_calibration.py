"""Calibration of the account scorer: bounded features keep empirical tails, the cohort evidence is never read
stronger than its own model, cross-conformal thresholds, random null groups stay small, the CLI's FPR bound."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillguard.cli import main
from distillguard.detect.api_logs import AccountScorer, simulate_logs, threshold_for_fpr
from distillguard.detect.api_logs.account_detectors import (
    _EXTRAPOLATED,
    HARVEST_EVIDENCE,
    UnsupervisedDetector,
)
from distillguard.detect.api_logs.campaigns import CampaignDetector, null_groups, null_sources
from distillguard.detect.api_logs.features import FEATURE_COLUMNS
from distillguard.errors import DistillguardError

_RNG = np.random.default_rng(3)
_VOCAB = [f"c{i}z" for i in range(2000)]
POOL = [" ".join(_RNG.choice(_VOCAB, size=int(_RNG.integers(6, 25)))) for _ in range(2000)]


def _features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    X = pd.DataFrame(rng.random(size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    X["n_requests"] = rng.integers(50, 500, size=n).astype(float)
    X["req_per_active_day"] = rng.lognormal(3, 0.5, size=n)
    X["burstiness"] = rng.uniform(-0.3, 0.5, size=n)
    return X


def test_bounded_features_saturate_where_unbounded_ones_extrapolate():
    rng = np.random.default_rng(0)
    X = _features(500, rng)
    det = UnsupervisedDetector(target_fpr=0.01, calibration_fraction=0.0, novelty_k=None).fit(X)
    x = X.iloc[:1].copy()
    x["burstiness"] = -0.35  # a touch steadier than every reference account: bounded, stays empirical
    x["req_per_active_day"] = X["req_per_active_day"].max() * 20  # far past the reference: unbounded
    lp = det._feature_logp(x)
    assert "burstiness" not in _EXTRAPOLATED and "req_per_active_day" in _EXTRAPOLATED
    assert lp["burstiness"][0] <= np.log10(len(X) + 1) + 1e-9
    assert lp["req_per_active_day"][0] > np.log10(len(X) + 1) + 1.0
    every = {c for feats in HARVEST_EVIDENCE.values() for c in feats}
    assert _EXTRAPOLATED <= every


def test_campaign_cohort_evidence_never_stronger_than_its_model():
    rng = np.random.default_rng(1)
    X = pd.DataFrame(0.0, index=range(300), columns=FEATURE_COLUMNS)
    X["n_requests"] = 1000.0
    X["completion_tokens_mean"] = rng.normal(300, 20, 300)
    X["cohort_evidence"] = np.where(rng.random(300) < 0.9, 0.0, rng.uniform(0, 0.2, 300))  # almost all zeros
    det = CampaignDetector().fit(X)
    x = X.iloc[:3].copy()
    x["cohort_evidence"] = [0.45, 3.0, 12.0]
    lp = det._feature_logp(x)["cohort_evidence"]
    assert (lp <= x["cohort_evidence"].to_numpy() + 1e-12).all()
    assert lp[0] <= 0.45 and lp[2] > lp[1] > 2.0
    assert det.suspicion_score(x)[0] < 1e-9  # p = 0.35 by the model: no evidence beyond the margin


def test_campaign_recruit_evidence_past_every_benign_source_reads_its_model():
    """Only behaviour clusters have recruit evidence, so a null of random groups and template campaigns holds zeros:
    no tail, and the empirical reading saturates at log10(n + 1) (a campaign with 148 recruits read p = 0.004 on
    development seed 20261224). Past every benign source the model's -log10 p stands, never above it; where benign
    clusters reach far enough to fit a tail, the smaller of tail and model."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame(0.0, index=range(300), columns=FEATURE_COLUMNS)
    X["n_requests"] = 1000.0
    X["completion_tokens_mean"] = rng.normal(300, 20, 300)
    # recruit evidence absent: zeros. The cohort group is read on its own here (by default it counts only beside
    # what a campaign asks for: test_a_cohort_alone_lifts_no_campaign_and_adds_to_what_it_asks_for)
    det = CampaignDetector(cohort_needs_content=False).fit(X)
    x = X.iloc[:3].copy()
    x["recruit_evidence"] = [0.0, 0.5, 9.0]
    lp = det._feature_logp(x)["recruit_evidence"]
    assert lp[0] == 0.0 and lp[1] <= 0.5 and lp[2] == 9.0
    assert det.suspicion_score(x)[2] > 5.0 > det.suspicion_score(x)[1]
    X["recruit_evidence"] = rng.exponential(2.0, 300)  # benign clusters that do show some: a tail is fitted
    det = CampaignDetector().fit(X)
    assert det.tails_["recruit_evidence"] is not None
    lp = det._feature_logp(x)["recruit_evidence"]
    assert (lp <= x["recruit_evidence"].to_numpy() + 1e-12).all() and lp[2] < 9.0


def test_campaign_novelty_cap_counts_sources_not_sub_samples():
    """The novelty cap is the distance to the novelty_k-th nearest *source* (as the reference holds one value per
    source): one benign campaign's nine sub-samples are one neighbour, not nine. Row by row, a campaign split in
    two by clustering was capped by its other part, left in a robust fit's null as a single benign source."""
    rng = np.random.default_rng(4)
    ids = [f"random/{j}" for j in range(60)] + [f"t{c}/{j}" for c in range(5) for j in range(9)]
    X = pd.DataFrame(0.0, index=ids, columns=FEATURE_COLUMNS)
    X["n_requests"] = 1000.0
    X["completion_tokens_mean"] = np.r_[rng.uniform(250, 350, 60),
                                        np.repeat([600.0, 900.0, 1500, 2500, 4000], 9) + rng.normal(0, 3, 45)]
    X["cot_frac"] = rng.random(len(X))
    src = null_sources(X.index)
    det = CampaignDetector().fit(X, sources=src)
    x = X.iloc[:4].copy()
    x["completion_tokens_mean"] = [300.0, 605.0, 3000.0, 9000.0]
    E, Et = det._evidence(x), det._evidence(X)
    for leave, k in ((False, 2), (True, 3)):
        want = [np.sort(pd.Series(np.sqrt(((Et - e) ** 2).sum(1))).groupby(src).min().to_numpy())[k - 1] for e in E]
        np.testing.assert_allclose(det._novelty_cap(E, leave_self_out=leave), want)
    # beside one benign campaign's sub-samples: row by row they capped it near 0; by source, the next campaign does
    row_cap = np.array([np.sort(np.sqrt(((Et - e) ** 2).sum(1)))[1] for e in E])
    assert row_cap[1] < 0.1 < det._novelty_cap(E)[1]
    assert (det._novelty_cap(E) >= row_cap - 1e-12).all()
    assert det.suspicion_score(x)[1] > 0.1


def test_campaign_null_counts_each_benign_source_once():
    # seed 20261223's fraction axis: the reference's one tutoring platform gave 18 near-identical pseudo-campaigns
    # (its sub-samples) at the top of the null; a tail fitted inside that clump read a new benign platform a few
    # tokens longer as p = 9e-7. One value per source: such a platform reads as what it is, a look-alike
    rng = np.random.default_rng(2)
    n_random = 150
    others = np.repeat(np.linspace(370, 470, 8), 9) + rng.normal(0, 3, 72)  # 8 benign campaigns, 9 sub-samples each
    ids = ([f"random/{j}" for j in range(n_random)] + [f"t{k}/{j}" for k in range(8) for j in range(9)]
           + [f"t56/{j}" for j in range(9)] + [f"t57/{j}" for j in range(9)])
    X = pd.DataFrame(0.0, index=ids, columns=FEATURE_COLUMNS)
    X["n_requests"] = 2000.0
    X["prompt_tokens_mean"] = 40.0
    X["completion_tokens_mean"] = np.r_[rng.normal(300, 25, n_random), others, rng.uniform(507, 511, 18)]
    x = X.iloc[:2].copy()
    x["completion_tokens_mean"] = [528.0, 2000.0]  # a benign look-alike; a campaign far past every benign source
    row_by_row = CampaignDetector().fit(X)
    by_source = CampaignDetector().fit(X, sources=null_sources(X.index))
    n_sources = n_random + 8 + 2
    assert len(by_source.reference_["completion_tokens_mean"]) == n_sources
    lp = by_source._feature_logp(x)["completion_tokens_mean"]
    assert lp[0] < np.log10(n_sources + 1) + 0.5  # about the empirical p of a value just past every source
    rows, src = row_by_row.suspicion_score(x), by_source.suspicion_score(x)
    assert rows[0] > 3.0  # the failure: a tail fitted inside one source's clump
    assert src[0] < 1.0 < 2.5 < src[1]  # the look-alike is not new; a campaign far past every source still is
    with pytest.raises(DistillguardError, match="sources has"):
        CampaignDetector().fit(X, sources=null_sources(X.index[:-1]))


@pytest.fixture(scope="module")
def benign():
    logs, _ = simulate_logs(260, 0, families=(), days=6, seed=11, prompts=POOL)
    return logs.drop(columns=["label", "family"])


def test_cross_conformal_calibrates_on_every_benign_account(benign):
    n = benign["account_id"].nunique()
    cv = AccountScorer(target_fpr=0.01).fit(benign)
    with pytest.warns(UserWarning, match='not calibrated on fresh'):
        split = AccountScorer(target_fpr=0.01, calibration_folds=None).fit(benign)
    assert cv.n_calibration_ == n and len(cv.calibration_scores_) == n
    assert 0.15 * n < split.n_calibration_ < 0.45 * n
    assert cv.threshold_ == threshold_for_fpr(cv.calibration_scores_, 0.01)
    # held-out scores are not the final model's in-sample scores: the final model saw every account
    final = cv.suspicion_score(benign).to_numpy()
    assert not np.allclose(np.sort(final), np.sort(cv.calibration_scores_))


def test_robust_fit_calibrates_on_every_account_left_in(benign):
    # trimming uses the split; once the trimmed set settles every account left in calibrates (cross-conformal):
    # a 1e-3 threshold on 30 % of the accounts is their largest score (12/1,600 benign flagged on one seed)
    n = benign["account_id"].nunique()
    sc = AccountScorer(target_fpr=0.01, robust=True).fit(benign)
    assert sc.n_calibration_ == n - len(sc.excluded_) and len(sc.calibration_scores_) == sc.n_calibration_
    assert sc.threshold_ == threshold_for_fpr(sc.calibration_scores_, 0.01)
    with pytest.warns(UserWarning, match='not calibrated on fresh'):
        split = AccountScorer(target_fpr=0.01, robust=True, calibration_folds=None).fit(benign)
    assert split.n_calibration_ < 0.45 * n


def test_random_null_groups_are_at_most_a_quarter_of_the_pool():
    ids = np.array([f"a{i}" for i in range(80)])
    g = null_groups(pd.Series(ids, index=ids), ids, np.random.default_rng(0))
    sizes = g.groupby(g).size()
    assert sizes.max() <= 20 and sizes.min() >= 3


def test_cli_states_the_fpr_the_reference_supports(tmp_path, capsys, benign):
    p, ref = tmp_path / "logs.parquet", tmp_path / "ref.parquet"
    benign.to_parquet(p, index=False)
    benign.to_parquet(ref, index=False)
    rc = main(["logs", "score", str(p), "--reference", str(ref), "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert rc in (0, 1)
    n = benign["account_id"].nunique()
    assert f"rests on {n} benign calibration accounts" in err and "at least 1000 benign accounts" in err
    rc = main(["logs", "score", str(p), "--reference", str(ref), "--target-fpr", "0.05",
               "--out", str(tmp_path / "s2.csv")])
    assert "calibration accounts, which support" not in capsys.readouterr().err


def test_band_tail_reads_contaminated_top_where_the_top_fraction_tail_is_masked():
    # a robust fit's reference: 96 % benign answer lengths (log-normal) and 4 % harvesters asking for answers seven
    # times longer. The top-2 % tail is fitted on the harvesters and reads them as ordinary; the band tail (70-90 %
    # quantiles) is fitted on people only
    rng = np.random.default_rng(5)
    X = _features(2000, rng)
    X["completion_tokens_mean"] = np.r_[rng.lognormal(np.log(280), 0.35, 1920), rng.normal(2000, 40, 80)]
    kw = dict(target_fpr=0.01, calibration_fraction=0.0, novelty_k=None)
    top = UnsupervisedDetector(**kw).fit(X)._feature_logp(X)["completion_tokens_mean"]
    band = UnsupervisedDetector(**kw, tail_band=(0.7, 0.9)).fit(X)._feature_logp(X)["completion_tokens_mean"]
    assert np.median(top[1920:]) < 2.0  # masked: about log10(2000 / 80)
    # an exponential tail in log length is heavier than the log-normal's: the band reading is conservative
    assert np.median(band[1920:]) > np.median(top[1920:]) + 1.5
    # fresh people (no harvesters) are not read as extreme: the band tail holds its level on the benign law
    fresh = X.iloc[:1].copy()
    fresh = pd.concat([fresh] * 20000, ignore_index=True)
    fresh["completion_tokens_mean"] = rng.lognormal(np.log(280), 0.35, 20000)
    lp = UnsupervisedDetector(**kw, tail_band=(0.7, 0.9)).fit(X)._feature_logp(fresh)["completion_tokens_mean"]
    assert np.mean(lp >= 3.0) <= 2e-3
    assert np.mean(lp >= 2.0) <= 2e-2


def test_band_tail_only_for_answer_lengths():
    # the completion/prompt ratio keeps its top-fraction tail: one-word follow-ups put people at ratios in the
    # hundreds, and a band fit below them reads those people as p = 1e-12 (development, independent seed 1003)
    from distillguard.detect.api_logs.account_detectors import _BAND_TAILED, _HEAVY_TAILED

    assert _BAND_TAILED == {"completion_tokens_mean", "completion_tokens_p90"} and _BAND_TAILED <= _HEAVY_TAILED
    rng = np.random.default_rng(6)
    X = _features(800, rng)
    X["completion_prompt_ratio"] = rng.lognormal(0, 1.0, 800)
    kw = dict(target_fpr=0.01, calibration_fraction=0.0, novelty_k=None)
    a = UnsupervisedDetector(**kw).fit(X)
    b = UnsupervisedDetector(**kw, tail_band=(0.7, 0.9)).fit(X)
    assert a.tails_["completion_prompt_ratio"] == b.tails_["completion_prompt_ratio"]
    assert a.tails_["completion_tokens_mean"] != b.tails_["completion_tokens_mean"]
