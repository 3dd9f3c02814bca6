"""Without a reference: the robust (trimmed, iterated) fit, its contamination estimate and the CLI's report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillguard.cli import main
from distillguard.detect.api_logs import AccountScorer, simulate_logs

_RNG = np.random.default_rng(1)
_VOCAB = [f"v{i}q" for i in range(3000)]
CONVS = [[" ".join(_RNG.choice(_VOCAB, size=int(_RNG.integers(6, 20)))) for _ in range(int(_RNG.integers(1, 5)))]
         for _ in range(3000)]


@pytest.fixture(scope="module")
def contaminated():
    # about a fifth of the accounts are attackers, most of them one proxy-spread campaign
    return simulate_logs(240, 3, hydra_campaigns=0, proxy_size=50, days=10, seed=6, conversations=CONVS,
                         families=("proxy_spread", "heavy_harvester", "cot_rubric"))


def test_robust_fit_finds_the_campaign_and_reports_contamination(contaminated):
    logs, acc = contaminated
    raw = logs.drop(columns=["label", "family"])
    sc = AccountScorer(target_fpr=0.01, robust=True).fit(raw)
    assert 0.1 <= sc.contamination_ <= float(acc["label"].mean()) + 0.02
    assert set(sc.excluded_) <= set(acc["account_id"])
    out = sc.score_logs(raw).merge(acc[["account_id", "family", "label"]], on="account_id")
    assert out.loc[out["family"] == "proxy_spread", "flag"].mean() >= 0.9
    assert out.loc[out["label"] == 0, "flag"].mean() <= 0.05
    assert out["fit_contamination"].nunique() == 1 and out["fit_contamination"].iloc[0] == sc.contamination_
    assert out.loc[out["excluded_from_fit"], "account_id"].isin(sc.excluded_).all()
    # the campaign's look-alikes leave the reference, not the calibration
    assert sc.n_lookalikes_ > 0 and sc.n_calibration_ == len(out) - len(sc.excluded_)


def test_robust_fit_calibrates_only_on_accounts_whose_held_out_score_is_under_the_trim_level(contaminated):
    # in-sample, an attacker is read against look-alikes of its own in the reference and the campaign null; held
    # out (its fold) it can score past the trim level and then set the threshold. A low trim level here makes
    # some held-out scores exceed it on this small log (at 1.2, with the 5 % novelty cap, the trimming does not
    # settle in 10 rounds here: it leaves more accounts in the calibration, which can only raise the threshold)
    logs, _ = contaminated
    raw = logs.drop(columns=["label", "family"])
    once = AccountScorer(target_fpr=0.01, robust=True, trim_evidence=2.0, oof_trim_rounds=0).fit(raw)
    assert once.calibration_scores_.max() > 2.0
    sc = AccountScorer(target_fpr=0.01, robust=True, trim_evidence=2.0, oof_trim_rounds=5).fit(raw)
    assert 1 <= sc.n_oof_trim_rounds_ < 5  # settled before the last round
    assert sc.calibration_scores_.max() <= 2.0
    assert set(once.excluded_) < set(sc.excluded_) and sc.contamination_ > once.contamination_


def test_plain_fit_is_swamped_where_robust_is_not(contaminated):
    logs, acc = contaminated
    raw = logs.drop(columns=["label", "family"])
    proxy = acc.loc[acc["family"] == "proxy_spread", "account_id"]
    robust = AccountScorer(target_fpr=0.01, robust=True).fit(raw).predict(raw)
    assert (robust.reindex(proxy) == -1).mean() >= 0.9


def test_reference_fit_has_no_contamination_estimate(contaminated):
    logs, _ = contaminated
    benign = logs[logs["label"] == 0].drop(columns=["label", "family"])
    sc = AccountScorer(target_fpr=0.05).fit(benign)
    assert sc.contamination_ is None and len(sc.excluded_) == 0
    assert sc.score_logs(benign)["fit_contamination"].isna().all()


def test_cli_without_reference_prints_the_estimate(tmp_path, capsys, contaminated):
    logs, _ = contaminated
    p = tmp_path / "logs.parquet"
    logs.drop(columns=["label", "family"]).to_parquet(p, index=False)
    rc = main(["logs", "score", str(p), "--target-fpr", "0.01", "--out", str(tmp_path / "s.csv")])
    err = capsys.readouterr().err
    assert rc == 1 and "contamination estimate" in err and "--reference" in err
    assert "individual harvesters" in err and "0.55-1.00 with a vetted benign --reference" in err  # says it is weaker
    scores = pd.read_csv(tmp_path / "s.csv")
    assert {"excluded_from_fit", "fit_contamination"} <= set(scores.columns)


def test_a_campaign_is_not_read_against_pseudo_campaigns_of_its_own_accounts():
    # three days of logs: all inside the cohort test's left-censored first window, so the campaign has no cohort
    # evidence and rests on what its members ask for (here answers twice as long as the simulator's draw). The
    # robust null is drawn from these very logs; read against sub-samples of itself, the campaign was its own
    # benign look-alike and none of it was flagged
    logs, acc = simulate_logs(240, 3, hydra_campaigns=0, proxy_size=50, days=3, seed=6, conversations=CONVS,
                              families=("proxy_spread", "heavy_harvester", "cot_rubric"))
    px = logs["family"] == "proxy_spread"
    logs.loc[px, "completion_tokens"] = logs.loc[px, "completion_tokens"] * 2
    raw = logs.drop(columns=["label", "family"])
    out = AccountScorer(target_fpr=0.01, robust=True).fit(raw).score_logs(raw)
    out = out.merge(acc[["account_id", "family", "label"]], on="account_id")
    proxy = out[out["family"] == "proxy_spread"]
    assert (proxy["cohort_evidence"] == 0).all() and proxy["campaign_size"].min() >= 40
    assert proxy["flag"].mean() >= 0.9
    assert out.loc[out["label"] == 0, "flag"].sum() == 0


def test_without_a_reference_a_campaign_reading_below_the_trim_level_does_not_lift_its_members():
    # a benign platform: 60 users sharing a system prompt, with answers three times the usual length. Read
    # against the pseudo-campaigns holding none of its accounts it scores 3.5 -- under the trim level, over the
    # threshold -- and all 60 were flagged; without a reference the logs cannot vouch for such a group, so a
    # campaign's own reading counts only when it is overwhelming
    logs, acc = simulate_logs(400, 0, families=(), days=7, seed=2, conversations=CONVS)
    users = acc.loc[acc["family"].isin(["tutoring", "power_user", "human"]), "account_id"].to_numpy()[:60]
    m = logs["account_id"].isin(users)
    logs.loc[m, "prompt"] = ("You are a patient tutor on StudyPal. Explain step by step.\n\n" + logs.loc[m, "prompt"]
                             + "\n\nEnd with a short summary for the student.")
    logs.loc[m, "completion_tokens"] = logs.loc[m, "completion_tokens"] * 3
    raw = logs.drop(columns=["label", "family"])
    # the split calibration (this rule is about lifting, not calibrating; with cross-fitting the null is drawn from
    # all accounts, and this platform's reading lands past the trim level: flagged, as documented)
    with pytest.warns(UserWarning, match='not calibrated on fresh'):
        sc = AccountScorer(target_fpr=0.01, robust=True, calibration_folds=None).fit(raw)
    out = sc.score_logs(raw)
    platform = out[out["account_id"].isin(users)]
    linked = platform[platform["campaign_size"] >= 60]
    assert len(linked) >= 55 and linked["campaign_score"].max() < sc.trim_evidence
    assert platform["flag"].sum() == 0


def test_robust_fit_reads_campaigns_without_the_completion_prompt_ratio():
    from distillguard.detect.api_logs.campaigns import CampaignDetector, RobustCampaignDetector

    assert type(AccountScorer(robust=True)._campaign_detector()) is RobustCampaignDetector
    assert type(AccountScorer(robust=True, robust_tail_band=None)._campaign_detector()) is CampaignDetector
    assert type(AccountScorer()._campaign_detector()) is CampaignDetector  # a reference keeps the ratio
    full, robust = CampaignDetector.evidence_groups, RobustCampaignDetector.evidence_groups
    assert {g: set(f) - {"completion_prompt_ratio"} for g, f in full.items()} == {g: set(f) for g, f in robust.items()}


def test_band_tails_and_the_wide_novelty_cap_only_in_a_robust_fit(contaminated):
    logs, _ = contaminated
    raw = logs.drop(columns=["label", "family"])
    robust = AccountScorer(target_fpr=0.01, robust=True).fit(raw)
    assert robust.detector_.tail_band == (0.7, 0.9)
    # a group of attackers needs 5 % of the fit accounts to look "known" to itself
    n_fit = robust.detector_.knn_.n_samples_fit_
    assert robust.detector_.novelty_k == int(np.ceil(0.05 * n_fit)) > 2
    plain = AccountScorer(target_fpr=0.01).fit(raw)
    assert plain.detector_.tail_band is None and plain.detector_.novelty_k == 2
