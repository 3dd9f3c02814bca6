"""Campaigns without shared infrastructure: template linking, cohort evidence, benign pseudo-campaign null."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from distillguard.detect.api_logs import AccountScorer, simulate_logs
from distillguard.detect.api_logs.campaigns import (
    CampaignDetector,
    behaviour_clusters,
    censored_start_days,
    cohort_evidence,
    cohort_gate_evidence,
    cohort_recruits,
    cohort_window_members,
    group_cohort_evidence,
    link_campaigns,
    null_groups,
    pooled_features,
    template_signatures,
)
from distillguard.detect.api_logs.features import FEATURE_COLUMNS, account_features

_RNG = np.random.default_rng(0)
_VOCAB = [f"w{i}x" for i in range(2000)]
POOL = [" ".join(_RNG.choice(_VOCAB, size=int(_RNG.integers(6, 25)))) for _ in range(3000)]  # no template


@pytest.fixture(scope="module")
def sim():
    return simulate_logs(300, 2, hydra_campaigns=0, proxy_size=40, days=10, seed=4, prompts=POOL,
                         families=("proxy_spread", "verbatim", "heavy_harvester"))


def test_proxy_spread_family_shares_no_infrastructure(sim):
    logs, acc = sim
    p = logs[logs["family"] == "proxy_spread"]
    assert p["account_id"].nunique() == 40
    assert (p.groupby("account_id")["user_agent"].nunique() == 1).all()
    ip_accounts = p.groupby("ip")["account_id"].nunique()
    assert ip_accounts.max() == 1  # every address is one account's own
    assert (acc.loc[acc["family"] == "proxy_spread", "n_requests"] < 1000).all()
    first = p.groupby("account_id")["timestamp"].min()
    assert (first.max() - first.min()) <= pd.Timedelta(days=5)


def test_randomised_family_parameters_change_with_seed_but_not_other_families():
    a, _ = simulate_logs(30, 1, proxy_size=5, days=4, seed=1, prompts=POOL)
    b, _ = simulate_logs(30, 1, proxy_size=5, days=4, seed=1, prompts=POOL)
    c, _ = simulate_logs(30, 1, proxy_size=5, days=4, seed=2, prompts=POOL)
    pd.testing.assert_frame_equal(a, b)
    assert not a[a["family"] == "proxy_spread"]["prompt"].head(20).equals(
        c[c["family"] == "proxy_spread"]["prompt"].head(20))
    old, _ = simulate_logs(30, 1, days=4, seed=1, prompts=POOL, families=("heavy_harvester", "hydra"))
    assert set(old["family"]) <= {"human", "power_user", "eval_harness", "batch_enterprise", "tutoring", "reseller",
                                  "heavy_harvester", "hydra"}


def test_onboarding_cohorts_are_benign_twins_of_a_bare_campaign_and_leave_the_rest_unchanged():
    kw = dict(n_benign=40, n_per_attack=1, hydra_size=3, proxy_size=5, days=10, seed=5, prompts=POOL)
    base, base_acc = simulate_logs(**kw)
    logs, acc = simulate_logs(**kw, onboarding_cohorts=2, onboarding_size=30)
    o = logs[logs["family"] == "onboarding"]
    assert o["account_id"].nunique() == 60 and (o["label"] == 0).all()
    assert set(acc.loc[acc["family"] == "onboarding", "campaign_id"]) == {"onboard-0", "onboard-1"}
    for _, g in o.groupby(o["account_id"].str[:2]):  # one cohort: no shared address, first seen together
        assert g.groupby("ip")["account_id"].nunique().max() == 1
        assert (g.groupby("account_id")["user_agent"].nunique() == 1).all()
        first = g.groupby("account_id")["timestamp"].min()
        assert first.max() - first.min() <= pd.Timedelta(days=3)
        assert g["max_tokens"].isna().all() or g["max_tokens"].nunique() == 1  # one client setting
    rest = logs[logs["family"] != "onboarding"].drop(columns="request_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(rest, base.drop(columns="request_id"))
    pd.testing.assert_frame_equal(acc[acc["family"] != "onboarding"].reset_index(drop=True), base_acc)


def test_template_links_find_the_proxy_campaign_and_not_verbatim_humans(sim):
    logs, acc = sim
    cl = link_campaigns(logs).merge(acc[["account_id", "family", "label"]], on="account_id")
    proxy = cl[cl["family"] == "proxy_spread"]
    assert proxy["campaign_id"].nunique() == 1 and int(proxy["campaign_size"].iloc[0]) >= 40
    biggest = proxy["campaign_id"].iloc[0]
    others = cl[(cl["campaign_id"] == biggest) & (cl["family"] != "proxy_spread")]
    assert len(others) == 0
    assert not cl.loc[cl["family"] == "verbatim", "template_linked"].any()


def test_template_signature_ignores_repeated_identical_prompts():
    logs = pd.DataFrame({"account_id": ["a"] * 5, "prompt": ["the very same long question asked again today"] * 5})
    assert template_signatures(logs).empty


def test_cohort_evidence_is_zero_for_random_groups_and_large_for_a_cohort():
    rng = np.random.default_rng(1)
    ids = [f"a{i}" for i in range(1000)]
    first = pd.Series(rng.uniform(0, 14, 1000), index=ids)
    vol = pd.Series(np.exp(rng.normal(3, 1, 1000)), index=ids)
    camp = pd.Series([f"g{i // 20}" for i in range(1000)], index=ids)  # random groups of 20
    ev = cohort_evidence(first, vol, camp)
    assert ev.max() < 2.0
    first.iloc[:20] = rng.uniform(6, 7, 20)
    assert cohort_evidence(first, vol, camp)["g0"] > 6


def test_pooled_features_leave_light_members_out_of_the_median():
    f = pd.DataFrame(0.0, index=range(3), columns=FEATURE_COLUMNS).assign(account_id=["a", "b", "c"])
    f["n_requests"] = [10.0, 30.0, 5.0]
    f["cot_frac"] = [1.0, 0.0, 1.0]
    p = pooled_features(f, pd.Series(["g", "g", "h"], index=["a", "b", "c"]))
    assert p.loc["g", "cot_frac"] == 0.0 and p.loc["g", "n_members"] == 2  # a (10 requests) is noise next to b
    assert p.loc["h", "n_requests"] == 5.0 and p.loc["h", "cot_frac"] == 1.0  # only light members: all count


def test_null_groups_cover_benign_clusters_and_random_groups():
    ids = np.array([f"a{i}" for i in range(100)])
    camp = pd.Series(["c1"] * 20 + [f"s{i}" for i in range(80)], index=ids)
    g = null_groups(camp, ids, np.random.default_rng(0), per_campaign=5, n_random=30)
    names = set(g.unique())
    assert sum(n.startswith("c1/") for n in names) == 6 and sum(n.startswith("random/") for n in names) == 30
    assert g.groupby(g).size().min() >= 3


def _campaign_null(n: int, seed: int) -> pd.DataFrame:
    """Pooled benign pseudo-campaigns: ordinary answer lengths, a little cohort evidence."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(0.0, index=range(n), columns=FEATURE_COLUMNS)
    X["n_requests"] = 500.0
    X["completion_tokens_mean"] = rng.normal(300, 30, n)
    X["cohort_evidence"] = rng.exponential(0.3, n)
    return X


def test_campaign_detector_novelty_cap_and_fit_contract():
    X = _campaign_null(200, seed=0)
    det = CampaignDetector().fit(X)
    assert det.fit(X) is det
    x = X.iloc[:1].copy()
    x["cohort_evidence"] = 12.0
    assert CampaignDetector(cohort_needs_content=False).fit(X).suspicion_score(x)[0] > 2


def test_a_cohort_alone_lifts_no_campaign_and_adds_to_what_it_asks_for():
    # first seen together is coordination, not harvesting: a benign onboarding wave reads its cohort alone
    X = _campaign_null(300, seed=1)
    det = CampaignDetector(novelty_k=None).fit(X)
    assert det.cohort_needs_content
    wave = X.iloc[:1].assign(cohort_evidence=12.0, completion_tokens_mean=300.0)
    long_quiet = X.iloc[:1].assign(cohort_evidence=0.0, completion_tokens_mean=450.0)
    long_wave = long_quiet.assign(cohort_evidence=12.0)
    assert det.suspicion_score(wave)[0] == 0.0
    assert det.suspicion_score(long_wave)[0] > det.suspicion_score(long_quiet)[0] > 0.0
    # the scorer passes its setting to both campaign detectors (with and without a reference)
    for robust in (False, True):
        assert AccountScorer(robust=robust)._campaign_detector().cohort_needs_content
        assert not AccountScorer(robust=robust, cohort_needs_content=False)._campaign_detector().cohort_needs_content


def test_scorer_flags_proxy_campaign_with_reference_and_keeps_benign(sim):
    logs, acc = sim
    ref, _ = simulate_logs(300, 0, families=(), days=10, seed=40, prompts=POOL)
    sc = AccountScorer(target_fpr=0.01).fit(ref.drop(columns=["label", "family"]))
    out = sc.score_logs(logs.drop(columns=["label", "family"])).merge(acc[["account_id", "family", "label"]], on="account_id")
    assert out.loc[out["family"] == "proxy_spread", "flag"].mean() >= 0.9
    assert out.loc[out["label"] == 0, "flag"].mean() <= 0.05  # 76 calibration accounts: a coarse threshold
    assert {"campaign_id", "campaign_score", "cohort_evidence", "excluded_from_fit"} <= set(out.columns)
    reasons = out.loc[out["family"] == "proxy_spread", "reasons"]
    assert reasons.str.contains("campaign of").all()


def test_scorer_without_campaigns_keeps_old_columns(sim):
    logs, _ = sim
    benign = logs[logs["label"] == 0].drop(columns=["label", "family"])
    out = AccountScorer(target_fpr=0.05, campaigns=False).fit(benign).score_logs(benign)
    assert out["campaign_score"].isna().all() and len(out) == benign["account_id"].nunique()


def test_account_features_unchanged_by_new_families(sim):
    logs, _ = sim
    f = account_features(logs[logs["family"] == "verbatim"])
    assert len(f) == 2 and (f["n_requests"] > 0).all()


@pytest.fixture(scope="module")
def bare():
    """Two proxy campaigns: proxy-0 templated, proxy-1 sending its prompts bare (no template, no shared address)."""
    logs, acc = simulate_logs(300, 0, hydra_campaigns=0, proxy_campaigns=2, proxy_size=40, days=10, seed=5,
                              prompts=POOL, families=("proxy_spread",))
    ref, _ = simulate_logs(300, 0, families=(), days=10, seed=41, prompts=POOL)
    return logs, acc, ref.drop(columns=["label", "family"])


def test_untemplated_campaign_has_no_template_links(bare):
    logs, acc, _ = bare
    cl = link_campaigns(logs).merge(acc[["account_id", "campaign_id"]].rename(columns={"campaign_id": "truth"}),
                                    on="account_id")
    assert cl.loc[cl["truth"] == "proxy-1", "campaign_size"].max() < 5  # nothing to link them by text or address
    assert cl.loc[cl["truth"] == "proxy-0", "campaign_size"].min() >= 40


def test_behaviour_clusters_find_the_untemplated_campaign_and_only_it(bare):
    logs, acc, ref = bare
    scored = logs.drop(columns=["label", "family"])
    truth = acc.set_index("account_id")["campaign_id"]
    bare_ids = truth.index[truth == "proxy-1"]
    size = {}
    for cohorts in (True, False):
        sc = AccountScorer(target_fpr=0.01, cohorts=cohorts).fit(ref)
        out = sc.score_logs(scored).set_index("account_id")
        assert out.loc[truth.index[truth == ""], "flag"].mean() <= 0.05  # benign
        assert out.loc[bare_ids, "flag"].mean() >= 0.9
        size[cohorts] = out.loc[bare_ids, "campaign_size"]
        linked = out.loc[bare_ids, "campaign_id"].value_counts()
        if cohorts:  # one cohort cluster holds most of the campaign and no benign account
            members = out.index[out["campaign_id"] == linked.index[0]]
            assert linked.iloc[0] >= 30 and (truth.reindex(members) == "proxy-1").all()
    assert (size[False] < 5).all()  # without cohorts nothing links them


def test_cohort_cluster_border_points_are_not_linked():
    rng = np.random.default_rng(3)
    n = 200
    f = pd.DataFrame(rng.uniform(0, 1, size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(n, 3))
    f["account_id"] = [f"a{i}" for i in range(n)]
    f["n_requests"] = 100.0
    core = slice(0, 40)
    f.loc[core, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s", "maxtok_frac", "cot_frac",
                 "followup_rate"]] = [700.0, 40.0, 60.0, 1.0, 0.0, 0.05]
    strict = behaviour_clusters(f)  # default: membership strength >= 0.5
    loose = behaviour_clusters(f, min_probability=0.0)
    core_ids = [f"a{i}" for i in range(40)]
    assert set(strict.index) <= set(loose.index)
    k = loose.reindex(core_ids).mode().iloc[0]
    assert (strict.reindex(core_ids) == k).sum() >= 10  # the campaign's core stays linked
    inside = strict.index[strict == k]
    assert np.isin(inside, core_ids).mean() >= 0.9  # and hardly anything else


def test_pooled_features_are_the_typical_members_not_the_heaviest():
    """15 heavy harvesters inside a cluster of 128 ordinary accounts must not make it read as a harvester."""
    rng = np.random.default_rng(1)
    f = pd.DataFrame(0.0, index=range(143), columns=FEATURE_COLUMNS)
    f["account_id"] = [f"a{i}" for i in range(143)]
    f["n_requests"] = np.r_[rng.integers(20, 80, 128), rng.integers(2000, 8000, 15)].astype(float)
    f["completion_tokens_mean"] = np.r_[rng.normal(350, 30, 128), rng.normal(800, 20, 15)]
    f["maxtok_frac"] = np.r_[np.zeros(128), np.ones(15)]
    f["prompt_tokens_mean"] = 50.0
    p = pooled_features(f, pd.Series("g", index=f["account_id"]))
    assert p.loc["g", "completion_tokens_mean"] < 400 and p.loc["g", "maxtok_frac"] == 0.0
    assert p.loc["g", "n_requests"] == f["n_requests"].sum()


def test_cohort_evidence_needs_a_majority_of_the_members():
    """A minority opened together inside a group is not the group's cohort."""
    rng = np.random.default_rng(2)
    ids = [f"a{i}" for i in range(600)]
    first = pd.Series(rng.uniform(0, 14, 600), index=ids)
    first.iloc[:30] = rng.uniform(9, 9.5, 30)  # 30 accounts opened together
    act = pd.Series(5.0, index=ids)
    minority = pd.Series(["c"] * 100 + [f"s{i}" for i in range(500)], index=ids)  # 30 of 100
    majority = pd.Series(["c"] * 40 + [f"s{i}" for i in range(560)], index=ids)  # 30 of 40
    assert cohort_evidence(first, act, minority)["c"] == 0.0
    assert cohort_evidence(first, act, majority)["c"] > 5


def test_cohort_evidence_ignores_the_log_start():
    """Accounts first seen in the log's first window may predate the log: no evidence of being opened together.

    The same group first seen together a week later is a cohort (held-out seed 20261211: a behaviour cluster of
    136 ordinary accounts first seen at the log's start read cohort evidence 4.0 before the censoring).
    """
    rng = np.random.default_rng(3)
    ids = [f"a{i}" for i in range(600)]
    first = pd.Series(rng.uniform(0, 14, 600), index=ids)
    act = pd.Series(5.0, index=ids)
    camp = pd.Series(["c"] * 40 + [f"s{i}" for i in range(560)], index=ids)
    first.iloc[:40] = rng.uniform(0.0, 1.5, 40)  # old accounts, all active on the log's first days
    assert cohort_evidence(first, act, camp)["c"] == 0.0
    first.iloc[:40] = rng.uniform(7.0, 8.5, 40)
    assert cohort_evidence(first, act, camp)["c"] > 5


def test_cohort_window_members_drops_accounts_seen_before_the_cohort():
    # a behaviour cluster of 40 accounts first seen on days 8-10 and 5 seen on the log's first day (resellers
    # active all along, clustered by behaviour with a campaign: held-out seed 20261214 flagged them with it)
    rng = np.random.default_rng(0)
    ids = [f"a{i}" for i in range(445)]
    first = pd.Series(np.r_[rng.uniform(0, 14, 400), rng.uniform(8, 11, 40), rng.uniform(0, 0.2, 5)], index=ids)
    camp = pd.Series(["k"] * 45, index=ids[400:])
    inside = cohort_window_members(first, pd.Series(1.0, index=ids), camp)
    assert inside.iloc[:40].all() and not inside.iloc[40:].any()
    # no cohort window outside the censored start: every member stays
    early = pd.Series(["e"] * 20, index=ids[:20])
    first2 = first.copy()
    first2.iloc[:20] = rng.uniform(0, 1, 20)
    assert cohort_window_members(first2, pd.Series(1.0, index=ids), early).all()


def _world(rng: np.random.Generator, n: int, n_camp: int, n_window_ordinary: int):
    """Ordinary accounts first seen any day, a campaign of alike accounts first seen on days 8-10, and ordinary
    accounts first seen in that window too (new users: the campaign's window is not theirs)."""
    f = pd.DataFrame(rng.uniform(0, 1, size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(n, 3))
    ids = [f"a{i}" for i in range(n)]
    f["account_id"], f["n_requests"] = ids, 100.0
    camp = slice(0, n_camp - 1)
    f.loc[camp, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = (
        rng.normal([700.0, 40.0, 60.0], [60.0, 5.0, 8.0], size=(n_camp, 3)))
    f.loc[camp, "maxtok_frac"] = rng.normal(0.9, 0.05, n_camp)
    first = pd.Series(rng.uniform(0, 14, n), index=ids)
    first.iloc[:n_camp] = rng.uniform(8, 10.9, n_camp)
    first.iloc[n_camp:n_camp + n_window_ordinary] = rng.uniform(8, 10.9, n_window_ordinary)
    return f, first, ids


def test_cohort_recruits_take_the_campaign_left_out_of_its_core_and_few_ordinary_accounts():
    """HDBSCAN keeps a campaign's core (development seed 20261215: 67 of a bare campaign's 200 accounts); the rest,
    first seen in the cohort window and behaving like the core, are recruited; ordinary accounts first seen in the
    same window are recruited only when closer to the core than all but alpha of the accounts seen at other times."""
    rng = np.random.default_rng(5)
    f, first, ids = _world(rng, 1200, 120, 200)
    core = pd.Series("k0", index=ids[:40])
    r = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01)
    assert r.index.isin(ids[40:120]).sum() >= 60  # most of the campaign outside the core
    assert not r.index.isin(ids[:40]).any()
    ordinary = r.index[~r.index.isin(ids[:120])]
    window = first.index[(first >= 7.0) & (first < 12.0)]  # the 3-day cohort window and its one-day margins
    assert set(ordinary) <= set(window)  # never an account first seen outside the window
    assert len(ordinary) <= 8  # ~230 ordinary accounts in the window, alpha 0.01: about 2-3 expected
    assert (r == "k0").all()
    assert len(cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01,
                               eligible=pd.Series(False, index=ids))) == 0


def test_cohort_recruits_of_ordinary_accounts_stay_near_alpha():
    """With no campaign at all (the "core" is 40 ordinary accounts first seen in the window), window accounts are
    exchangeable with the background, so each is recruited with probability about alpha (rank p-value)."""
    rng = np.random.default_rng(6)
    rates = []
    for _ in range(5):
        f, first, ids = _world(rng, 1500, 0, 300)
        core = pd.Series("k0", index=ids[:40])
        r = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.02)
        window = first.index[(first >= 7.0) & (first < 12.0)].difference(ids[:40])
        assert set(r.index) <= set(window)
        rates.append(window.isin(r.index).mean())
    assert np.mean(rates) <= 0.04  # alpha 0.02 over 5 x 260 window accounts


def test_recruit_evidence_is_a_valid_p_value_when_behaviour_does_not_depend_on_first_seen():
    """No campaign: the "core" is 40 ordinary accounts first seen in the window and every other account's behaviour
    is drawn alike whenever it was first seen, so the recruit count is beta-binomial and ``10 ** -evidence`` is a
    p-value: over 300 independent logs its rejection rate at level a stays within the binomial 0.999 quantile of
    a (the binomial at alpha, which ignores that one background ranks every candidate, is what this guards)."""
    from scipy.stats import binom

    rng = np.random.default_rng(11)
    p = []
    for _ in range(300):
        f, first, ids = _world(rng, 500, 0, 120)
        core = pd.Series("k0", index=ids[:40])
        ev = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.02, return_evidence=True)[1]
        p.append(10.0 ** -float(ev.get("k0", 0.0)))
    p = np.asarray(p)
    for a in (0.01, 0.05, 0.2):
        assert (p <= a).sum() <= binom.ppf(0.999, len(p), a), a


def test_recruit_evidence_of_a_campaign_left_out_of_its_core_is_strong():
    """A campaign whose HDBSCAN core holds 40 of its 120 accounts: the other 80, first seen in its window and
    behaving like it, are recruited, and that count is overwhelming against chance (the evidence the core's
    cohort count alone cannot give: development seed 20261224, core 34 of 182, cohort evidence 2.47)."""
    rng = np.random.default_rng(5)
    f, first, ids = _world(rng, 1200, 120, 200)
    core = pd.Series("k0", index=ids[:40])
    r, ev = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01, return_evidence=True)
    assert list(ev.index) == ["k0"] and ev["k0"] >= 12.0  # capped at max_evidence
    assert r.equals(cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01))


def test_a_second_recruiting_round_reaches_the_shell_beyond_the_first_recruits():
    """A campaign whose accounts spread out from HDBSCAN's core: a ring one step away, a shell two steps away
    (lighter accounts; development seed 20261226: 72 of 200 first seen in the window at rank p 0.02-0.03 from the
    core). The first round takes the ring, the second the shell (near the ring); ordinary accounts first seen in
    the window are recruited at about alpha per round."""
    rng = np.random.default_rng(14)
    n = 1200
    f = pd.DataFrame(rng.uniform(0, 1, size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(n, 3))
    ids = [f"a{i}" for i in range(n)]
    f["account_id"], f["n_requests"] = ids, 100.0
    step = 1.2  # in log answer length
    ct = 150.0 * np.exp(np.repeat([0.0, step, 2 * step], 40))  # core, ring, shell
    f.loc[:119, "completion_tokens_mean"] = ct * np.exp(rng.normal(0, 0.03, 120))
    f.loc[:119, ["prompt_tokens_mean", "gap_median_s"]] = rng.normal([40.0, 60.0], [1.0, 2.0], size=(120, 2))
    f.loc[:119, ["maxtok_frac", "cot_frac", "followup_rate"]] = rng.normal([0.9, 0.1, 0.05], 0.01, size=(120, 3))
    first = pd.Series(rng.uniform(0, 14, n), index=ids)
    first.iloc[:120] = rng.uniform(8, 10.9, 120)
    core = pd.Series("k0", index=ids[:40])
    one = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01, rounds=1)
    two = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01, rounds=2)
    assert one.index.isin(ids[40:80]).sum() == 40 and one.index.isin(ids[80:120]).sum() <= 10
    assert two.index.isin(ids[80:120]).sum() >= 35
    window = first.index[(first >= 7.0) & (first < 12.0)].difference(ids[:120])
    assert (~two.index.isin(ids[:120])).sum() <= 2 * 0.01 * len(window) + 8


def test_cohort_recruits_rank_against_accounts_first_seen_in_the_censored_days():
    """A campaign opened just after the log's censored first day (held-out seed 20261221: a bare campaign opened on
    days 1-4, HDBSCAN core 62 of 200). Most active accounts are first seen on day 0 -- old accounts, which may
    predate the log: they are never candidates, and they are the background the candidates' distances are ranked
    against (with only the accounts first seen after the window as background there were 7 of them, too few to
    rank at alpha, and nothing was recruited; at a log's start the old accounts are also the ones most like an
    early campaign: 25 humans were recruited on seed 20261219 against the later background, 4 against this one)."""
    rng = np.random.default_rng(8)
    n, n_camp = 1200, 120
    f = pd.DataFrame(rng.uniform(0, 1, size=(n, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
    f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(n, 3))
    ids = [f"a{i}" for i in range(n)]
    f["account_id"], f["n_requests"] = ids, 100.0
    f.loc[: n_camp - 1, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = (
        rng.normal([700.0, 40.0, 60.0], [60.0, 5.0, 8.0], size=(n_camp, 3)))
    first = pd.Series(rng.uniform(0, 1, n), index=ids)  # old accounts: first seen on the censored day 0
    first.iloc[:n_camp] = rng.uniform(1, 3.9, n_camp)  # the campaign
    first.iloc[n_camp:n_camp + 100] = rng.uniform(1, 3.9, 100)  # new ordinary accounts in its window
    first.iloc[n_camp + 100:n_camp + 180] = rng.uniform(5, 14, 80)  # the few first seen after it
    core = pd.Series("k0", index=ids[:40])
    r = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.01, censored_days=1)
    assert r.index.isin(ids[40:n_camp]).sum() >= 60  # the campaign outside its core
    assert not r.index.isin(first.index[first < 1.0]).any()  # an account first seen on the censored day: never
    assert r.index.isin(ids[n_camp:n_camp + 100]).sum() <= 5  # new ordinary accounts in the window: about alpha


def test_a_core_split_off_the_same_campaign_joins_it_whole_and_an_ordinary_cluster_does_not():
    """HDBSCAN split one bare campaign into cores of 53, 37 and 32 accounts (development seed 20261218): each a
    campaign of its own, the smaller ones weak. A cluster most of whose members would be recruited by a larger
    one joins it; a cluster of ordinary accounts first seen in the same window does not."""
    rng = np.random.default_rng(7)
    f, first, ids = _world(rng, 1200, 120, 200)
    window_ordinary = ids[120:150]  # first seen in the campaign's window, behaving like anyone
    cores = pd.Series(["k0"] * 50 + ["k1"] * 30 + ["k2"] * 30, index=ids[:50] + ids[90:120] + window_ordinary)
    r = cohort_recruits(f, None, cores, first, pd.Series(1.0, index=ids), alpha=0.01)
    assert (r.reindex(ids[90:120]) == "k0").all()  # the split-off core, whole
    assert not r.index.isin(window_ordinary).any()  # the ordinary cluster stays what it was
    assert (r.reindex(ids[50:90]) == "k0").sum() >= 30  # and the free campaign accounts
    assert (~r.index.isin(ids[:120])).sum() <= 10  # ~250 ordinary accounts in the window, alpha 0.01 per cluster
    alone = cohort_recruits(f, None, cores, first, pd.Series(1.0, index=ids), alpha=0.01, join_clusters=False)
    assert not alone.index.isin(ids[90:120]).any()


def test_recruits_are_neither_counted_nor_left_out_of_the_cohort_null():
    """A recruit joined because it was first seen in the window: its campaign's evidence is that of the members
    it had before, with the recruit among the other accounts of the null (leaving recruits out of the null raised a
    split campaign's evidence from 6.3 to the 12 cap)."""
    rng = np.random.default_rng(8)
    ids = [f"a{i}" for i in range(800)]
    first = pd.Series(rng.uniform(0, 14, 800), index=ids)
    first.iloc[:80] = rng.uniform(5, 7, 80)
    act = pd.Series(rng.integers(1, 10, 800).astype(float), index=ids)
    camp = pd.Series(["c"] * 80 + [f"s{i}" for i in range(720)], index=ids)
    rec = pd.Series(np.arange(800) >= 40, index=ids) & (camp == "c")  # the last 40 members are recruits
    with_rec = cohort_evidence(first, act, camp, recruits=rec)["c"]
    as_others = cohort_evidence(first, act, camp.where(~rec, pd.Series(ids, index=ids)))["c"]
    left_out = cohort_evidence(first, act, camp, members=~rec)["c"]  # counted 40, null without all 80
    assert with_rec == pytest.approx(as_others) and 2 < with_rec < left_out


def test_pseudo_campaigns_do_not_count_recruits_in_their_cohort_evidence():
    """The campaign null's pseudo-campaigns are sub-samples of linked campaigns: drawn from a cluster that had
    recruited accounts first seen in its window, and counting them, they read evidence 6.5 where the cluster read
    2.5, and the inflated null held two real campaigns to 1.5 (seed 20261219, no reference: 0 of 400 found)."""
    rng = np.random.default_rng(9)
    ids = [f"a{i}" for i in range(900)]
    first = pd.Series(rng.uniform(0, 14, 900), index=ids)
    first.iloc[:60] = rng.uniform(5, 7.5, 60)  # 60 recruits, selected for being first seen in the window
    act = pd.Series(rng.integers(1, 10, 900).astype(float), index=ids)
    rec = pd.Series(np.arange(900) < 60, index=ids)
    groups = pd.Series(["g"] * 80, index=ids[:80])  # a pseudo-campaign: 60 recruits and 20 core members
    counted = group_cohort_evidence(first, act, groups)["g"]
    honest = group_cohort_evidence(first, act, groups, recruits=rec)["g"]
    alone = group_cohort_evidence(first, act, pd.Series(["g"] * 20, index=ids[60:80]))["g"]
    assert counted > 5 and honest < 2 and honest == pytest.approx(alone)
    assert group_cohort_evidence(first, act, pd.Series(["g"] * 62, index=ids[:62]), recruits=rec)["g"] == 0.0


def test_cohort_evidence_censors_the_log_start_through_its_first_weekday():
    """A campaign opened on days 1-3 of a log begun on a Monday is a cohort (held-out seed 20261217: a templated
    campaign first seen on days 1.0-3.4 was missed with a reference when the whole first 3-day window was
    censored); old accounts first seen on the log's first day are not; a log begun on a Saturday censors through
    Monday (accounts used on weekdays only are first seen then)."""
    rng = np.random.default_rng(4)
    ids = [f"a{i}" for i in range(600)]
    act = pd.Series(5.0, index=ids)
    camp = pd.Series(["c"] * 40 + [f"s{i}" for i in range(560)], index=ids)
    first = pd.Series(rng.uniform(0, 14, 600), index=ids)
    first.iloc[:40] = rng.uniform(1.0, 3.4, 40)
    monday, saturday = censored_start_days("2025-03-03T00:02Z"), censored_start_days("2025-03-08T00:02Z")
    assert (monday, saturday) == (1, 3)
    assert cohort_evidence(first, act, camp, censored_days=monday)["c"] > 5
    assert cohort_evidence(first, act, camp, censored_days=saturday)["c"] == 0.0
    assert cohort_evidence(first, act, camp)["c"] == 0.0  # default: the first 3-day window
    first.iloc[:40] = rng.uniform(0.0, 0.95, 40)  # old accounts, seen on the log's first day
    assert cohort_evidence(first, act, camp, censored_days=monday)["c"] == 0.0


@pytest.fixture(scope="module")
def talkers(monkeypatch_module):
    """Conversational logs: a bare proxy campaign (single turns) and a benign onboarding cohort with long answers."""
    import distillguard.detect.api_logs.simulate as simmod

    rng = np.random.default_rng(8)
    vocab = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz"), size=7)) for _ in range(5000)]  # letters only
    convs = []
    for _ in range(1200):  # each conversation's turns share its words: its follow-ups are detectable
        words = rng.choice(vocab, size=14, replace=False)
        convs.append([" ".join(rng.choice(words, size=10)) for _ in range(int(rng.integers(2, 7)))])
    real = simmod._onboarding_params

    def long_answers(r, days):
        return {**real(r, days), "open_day": 5.0, "open_span_days": 1.0, "ct_median": 450.0, "max_tokens": 4096.0,
                "volume_median": 80.0}

    monkeypatch_module.setattr(simmod, "_onboarding_params", long_answers)
    logs, acc = simulate_logs(300, 0, hydra_campaigns=0, proxy_campaigns=2, proxy_size=40, days=10, seed=6,
                              conversations=convs, families=("proxy_spread",), onboarding_cohorts=1,
                              onboarding_size=50)
    ref, _ = simulate_logs(300, 0, families=(), days=10, seed=42, conversations=convs)
    return logs.drop(columns=["label", "family"]), acc.set_index("account_id")["campaign_id"], ref.drop(
        columns=["label", "family"])


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_a_cohort_of_people_who_follow_up_is_not_accused_and_a_bare_campaign_still_is(talkers):
    logs, truth, ref = talkers
    out = {}
    for share in (None, 0.5):
        sc = AccountScorer(target_fpr=0.01, conversing_share=share).fit(ref)
        out[share] = sc.score_logs(logs).set_index("account_id")
    onb, bare = truth.index[truth == "onboard-0"], truth.index[truth == "proxy-1"]
    as_campaign = {k: o.loc[onb][o.loc[onb, "flag"]]["reasons"].str.startswith("campaign of").sum() for k, o in out.items()}
    assert as_campaign[None] >= 25  # without the gate the cohort is accused as a campaign
    assert as_campaign[0.5] == 0  # with it, only on their own evidence (long answers to short prompts, alone)
    assert out[0.5].loc[onb, "flag"].sum() <= out[None].loc[onb, "flag"].sum() - 25
    assert (out[0.5].loc[onb, "campaign_score"].fillna(0.0) == 0.0).all()
    assert out[0.5].loc[bare, "flag"].mean() >= 0.9 and out[None].loc[bare, "flag"].mean() >= 0.9


def test_the_cohort_gate_opens_for_a_piece_of_a_campaign_opened_over_days():
    """A campaign of 150 accounts opened over five days: HDBSCAN keeps pieces of it (development seed 20261228:
    24 and 17 of 200) whose own first-seen days are no cohort against a busy background, while the campaign's
    other accounts, first seen in the piece's window and behaving like it, are: the gate reads the larger."""
    rng = np.random.default_rng(8)
    f, first, ids = _world(rng, 1500, 150, 0)
    first.iloc[:150] = rng.uniform(3.0, 8.0, 150)
    act = pd.Series(1.0, index=ids)
    piece = pd.Series("k0", index=ids[:15])
    assert cohort_evidence(first, act, piece)["k0"] < 2.0
    assert cohort_gate_evidence(f, None, piece, first, act, alpha=0.01)["k0"] >= 6.0
    assert cohort_gate_evidence(f, None, piece, first, act, alpha=None)["k0"] < 2.0  # no recruit gate


def test_the_cohort_gate_is_a_p_value_up_to_a_factor_two_when_nothing_is_a_cohort():
    """No campaign: a cluster of 30 ordinary accounts first seen whenever the others were, behaviour independent
    of the first-seen day. Each of the two readings is a p-value; the gate, their larger ``-log10``, rejects at
    level a at most 2 a (a union bound) over 200 independent logs (binomial 0.999 quantile)."""
    from scipy.stats import binom

    rng = np.random.default_rng(12)
    g = []
    for _ in range(200):
        f, first, ids = _world(rng, 500, 0, 0)
        core = pd.Series("k0", index=list(rng.choice(ids, 30, replace=False)))
        g.append(float(cohort_gate_evidence(f, None, core, first, pd.Series(1.0, index=ids), alpha=0.02)["k0"]))
    p = 10.0 ** -np.asarray(g)
    for a in (0.01, 0.05, 0.2):
        assert (p <= a).sum() <= binom.ppf(0.999, len(p), 2 * a), a


def test_members_dropped_outside_the_window_are_not_the_recruits_background():
    """A cluster's members first seen outside its cohort window are dropped from it (cohort_window_members) but
    were chosen by HDBSCAN for behaving like it: left in the background they make the background's nearest
    distances those of the campaign, and the candidates -- never so chosen -- lose the rank test (development seed
    20261228: a piece's recruit evidence 0.4 with them, 7.8 without). With ``window_clusters`` they set the window
    and are neither background nor candidates."""
    rng = np.random.default_rng(9)
    f, first, ids = _world(rng, 1200, 120, 100)
    dropped = ids[300:320]  # ordinary accounts made campaign-like, first seen long before the window
    f.loc[300:319, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = f.loc[:19, [
        "completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]].to_numpy()
    f.loc[300:319, "maxtok_frac"] = f.loc[:19, "maxtok_frac"].to_numpy()
    first.iloc[300:320] = rng.uniform(1.5, 3.0, 20)
    act = pd.Series(1.0, index=ids)
    core = pd.Series("k0", index=ids[:30])
    whole = pd.concat([core, pd.Series("k0", index=dropped)])
    r, ev = cohort_recruits(f, None, core, first, act, alpha=0.01, return_evidence=True, window_clusters=whole)
    r_in, ev_in = cohort_recruits(f, None, core, first, act, alpha=0.01, return_evidence=True)
    assert ev["k0"] >= 12.0 and ev_in["k0"] < ev["k0"]
    assert not r.index.isin(dropped).any()
    assert r.index.isin(ids[30:120]).sum() > r_in.index.isin(ids[30:120]).sum()
