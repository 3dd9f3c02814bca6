"""Benchmark: which harvesting accounts does ``distillguard logs score`` find, at which realised false-positive rate?

Run exactly as the CLI runs (:class:`AccountScorer` on raw logs), on simulated labelled traffic (real ShareGPT
prompts) of a seed recorded as held out before its first run:

1. with a benign reference (another simulated period, benign accounts only): per attacker family, AUROC and
   TPR at account FPR 1e-2 / 1e-3, the proxy-spread campaign's share of accounts flagged, benign look-alikes
   flagged (from seed 20261223 on, also a benign onboarding cohort of 100 people signed up together: the bare
   campaign's benign twin), and the realised FPR on the benign accounts of the scored logs with a
   Clopper-Pearson 95 % interval;
2. without a reference (``robust=True``, the CLI default then): the same, with the contamination estimate;
3. the fraction-of-attackers axis: 1 %, 5 %, 15 %, 30 % of accounts are attackers (half of them one
   proxy-spread campaign, the rest spread over the other families), with and without a reference;
4. verbatim-prompt harvesters: their ROC points and which single features separate them from humans (AUROC);
5. throughput of the new linking step (template signatures + MinHash-LSH + infrastructure links) on one core.

Every family is held out in the leave-one-family-out sense: the detector never sees attacker labels (its
evidence directions are domain priors). The randomised families (proxy_spread, verbatim) draw new parameters
per seed.

Usage: python benchmarks/api_logs.py [--quick]   (writes benchmarks/results/api_logs.{json,md})
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from distillguard.detect.api_logs import (  # noqa: E402
    ATTACK_FAMILIES,
    BENIGN_FAMILIES,
    AccountScorer,
    account_features,
    simulate_logs,
    threshold_for_fpr,
)
from distillguard.detect.api_logs.campaigns import link_campaigns  # noqa: E402
from distillguard.detect.api_logs.simulate import sharegpt_conversations  # noqa: E402
from distillguard.distill.bench import clopper_pearson, md_table, provenance_line, write_result  # noqa: E402
from distillguard.provenance import run_record  # noqa: E402

#: Seeds. DEV_SEED (7) is the one the campaign linking, cohort evidence and robust fit were developed on.
#: HELD_OUT_SEED was written here, and committed, before the benchmark was first run on it; it is run once.
#: 20261205 was the first held-out seed (commit e69e275: with reference 0.886 at 1e-3, its threshold set by one
#: human's completion/prompt ratio; that diagnosis led to the log-scale tails), so the next version is
#: measured on a second seed, recorded here before its first run.
#: 20261206 measured that version once (with reference 0.976 at 1e-3). The next version (bounded features
#: without a fitted tail, the cohort evidence no stronger than its own model, cross-conformal calibration:
#: fixes of false positives found on the development seed, see benchmarks/api_logs_fpr.py) is measured on a
#: third seed, recorded here before its first run. 20261207 measured it once: with reference 0.907 at 1e-3,
#: realised 0/1600; but the fraction axis's 500-account reference flagged 2-5 of 500 benign accounts at 1e-3
#: (folds of single accounts under-read benign campaigns' cohort evidence). Folds of whole linked campaigns
#: fix that; that version is measured on a fourth seed, recorded here before its first run.
#: 20261208 measured it once (with reference 0.897 at 1e-3, realised 0/1600). The next version adds cohort
#: clusters (campaigns with no template and no shared address) and the scored logs gain a second proxy campaign
#: that sends its prompts bare (proxy-1); it is measured on a fifth seed, recorded here before its first run.
#: 20261209 measured it once and failed: 370 of 1,600 benign accounts flagged at 1e-3 (one cohort cluster
#: merged the bare campaign with 400 ordinary accounts; result kept as api_logs_seed20261209.*). That seed then
#: became a development seed (with 7) for the fixes: behaviour-only clusters capped at 150, a cohort-evidence
#: gate, members' medians in pooled features, a cohort window holding half the members. The fixed version is
#: measured on a sixth seed, recorded here before its first run.
#: 20261210 measured it once (with reference 0.888 at 1e-3, realised 0/1600; without 0.776). A full run on the
#: development seed 7 then showed one human swept into a behaviour cluster of 61 proxy accounts and flagged at
#: 1e-3 on the cluster's evidence (its own score 0; the conformal guarantee does not cover a benign account
#: grouped with attackers). Group evidence now lifts only accounts past the member gate (own score above the 90 %
#: quantile of unlinked benign training accounts', or template-linked). That version is measured on a seventh
#: seed, recorded here before its first run.
#: 20261211 measured it once: with reference 1.000 at 1e-3 (realised 0/1600), without 0.580, but the fraction
#: axis at 30 % attackers flagged 22 of 500 benign accounts with a reference (kept as api_logs_seed20261211.*):
#: a behaviour cluster of 136 ordinary accounts first seen at the log's start read cohort evidence 4.0 (without
#: the member gate all 136 would have been flagged; the previous version had the bug too). That seed then became
#: a development seed: the log's first cohort window is left-censored (accounts first seen there may predate the
#: log). The fixed version is measured on an eighth seed, recorded here before its first run.
#: 20261212 measured it once (with reference 1.000 at 1e-3, realised 0/1600; without 0.198: a templated campaign
#: of 200 opened in the log's first days was read against pseudo-campaigns sub-sampled from itself). That seed
#: then became a development seed: a campaign is read against the pseudo-campaigns that hold none of its
#: accounts, and the robust fit calibrates cross-conformally once its trimmed set settles. That version is
#: measured on a ninth seed, recorded here before its first run.
#: 20261213 measured it once (with reference 0.980 at 1e-3, realised 1/1600; without 0.794, 0/1600). A
#: constructed benign platform on the development seed 7 (144 users sharing a system prompt, answers twice the
#: usual length) was then flagged whole without a reference; a campaign's reading without its own accounts now
#: counts, without a reference, only past the trim level. That version is measured on a tenth seed, recorded
#: here before its first run.
#: 20261214 measured it once (with reference 0.851 at 1e-3 but realised 5/1600: five resellers active since the
#: log's first day were clustered by behaviour with a bare campaign opened on days 8-11, passed the member gate
#: and were flagged with it; without 0.753, the same five). A behaviour cluster now keeps only the members first
#: seen within a day of its cohort window. That version is measured on an eleventh seed, recorded here before
#: its first run.
#: 20261215 measured it once (with reference 0.576 at 1e-3, realised 0/1600, fraction axis 11/2000 benign flagged;
#: without 0.492, 2/1600). The FPR benchmark's seed 326 then showed the robust fit's split calibration flagging
#: 12/1600 benign accounts; the robust fit now calibrates cross-conformally once its trimmed set settles. That
#: version is measured on a twelfth seed, recorded here before its first run.
#: 20261216 measured it once (with reference 0.949 at 1e-3, realised 0/1600; without 0.773, 0/1600; fraction axis
#: 0/2000 benign flagged). The next version is measured on a thirteenth seed, recorded here before its first run.
#: That version adds cohort recruits (campaigns.cohort_recruits: the accounts a behaviour campaign's HDBSCAN core
#: left out, first seen in its cohort window and closer to its members than all but 1 % of the accounts first seen
#: at other times), developed on 20261215 (bare campaign 67/200 -> 176/200 with a reference), 20261216 and 7.
#: 20261217 measured it once (with reference 0.553 at 1e-3, realised 0/1600; without 0.355, 0/1600; the version
#: before, rerun on it afterwards: 0.553 / 0.353): its templated campaign was opened on days 1.0-3.4, inside the
#: censored first window, and was missed with a reference too (0/200). The next version is measured on a
#: fourteenth seed, recorded here before its first run. That version censors the cohort test only through the
#: log's first weekday (campaigns.censored_start_days: 1 day for these logs, which begin on a Monday), developed
#: on 20261217, 20261211 and 20261212.
#: 20261218 measured it once (with reference 0.951 at 1e-3, realised 0/1600; without 0.580, 0/1600; fraction axis
#: with the 500-account reference 4/2000 benign flagged). The next version is measured on a fifteenth seed,
#: recorded here before its first run. That version (developed on 20261218, now a development seed, and checked
#: on 20261211, 20261215, 20261217 and 7) lets a behaviour cluster take in whole the smaller clusters of its
#: campaign, leaves a set-aside campaign's behaviour look-alikes out of the robust reference (not the
#: calibration), and trims accounts whose held-out score exceeds the trim level.
#: 20261219 measured it once: with reference 0.941 at 1e-3 (realised 0/1600), without 0.000 (0/1600) -- the
#: version before, rerun on it afterwards, also 0.000: the campaign null's pseudo-campaigns counted a behaviour
#: cluster's recruits in their cohort evidence. 20261219 is now a development seed; the next version is measured
#: on a sixteenth seed, recorded here before its first run. That version's campaign null does not count
#: recruits in its pseudo-campaigns' cohort evidence (development: 20261219 without a reference 0.000 -> 0.802).
#: 20261220 measured it once (with reference 0.986 at 1e-3, realised 0/1600; without 0.788, 0/1600; the version
#: before, rerun afterwards: the same). The next version is measured on a seventeenth seed, recorded here before
#: its first run.
#: 20261221, recorded before any run on it, measured the same version once more (commit ef16832; no change to the
#: scoring since 20261220): with reference 0.980 at 1e-3 (realised 0/1600), without 0.408 (0/1600; the bare proxy
#: campaign 0/200). The next version is measured on an eighteenth seed, recorded here before its first run.
#: That version's cohort recruits are ranked against the accounts first seen in the log's censored first days
#: (never candidates themselves), developed on 20261221 (now a development seed; its bare campaign's core recruits
#: 61 accounts, 0 before) and 20261219 (humans recruited 25 -> 4), checked on 20261218, 20261211, 20261215,
#: 20261217 and 7.
#: 20261222 measured it once (with reference 0.961 at 1e-3, realised 0/1600; without 0.408, 0/1600 -- the bare
#: campaign 0/200, split by HDBSCAN into three clusters; the version before, rerun afterwards: identical). The
#: next version is measured on a nineteenth seed, recorded here before its first run.
#: That version (20261223) has the conversing gate (a behaviour campaign whose typical member follows up on answers
#: like ordinary users is not lifted), found needed by a benign onboarding cohort (benchmarks/api_logs_fpr.py
#: --onboarding, development seeds 341-344: 70 of 800 flagged with a reference before, 2 after) and checked on
#: development seeds 20261222 (identical) and 20261220 (without a reference 0.788 -> 0.806); from 20261223 on the
#: scored logs also hold a benign onboarding cohort of 100 accounts.
#: 20261223 measured it once (with reference 0.939 at 1e-3, realised 0/1700, onboarding 0/100; without 0.408,
#: 0/1700 -- the bare campaign 0/200; the fraction axis with its 500-account reference flagged benign tutoring
#: platforms: 15, 10, 1 and 9 of 500). The next version is measured on a twentieth seed, recorded here before its
#: first run. That version (20261224) reads the campaign null one value per benign source (a benign campaign's
#: sub-samples count once, at their farthest reach) and floors every exponential tail so that it is nowhere
#: rarer than the reference's own top values; found needed by those tutoring false positives and checked, after
#: the fact, on 20261223's fraction axis (benign flagged 15, 10, 1, 9 -> 1, 0, 1, 0 of 500).
#: 20261224 measured it once (428359e; api_logs_seed20261224_envelope.md): with reference 0.408 at 1e-3 (every
#: individual harvester 0/10, the bare campaign 0/200; realised 0/1700), without 0.000; fraction axis benign
#: flagged 2, 2, 2, 4 of 500. Diagnosed after the run: the tail floor lowered the harvesters' own evidence below a
#: benign calibration maximum of 2.91 (heavy harvesters 3.1 -> 2.8). The next version drops the floor and keeps one
#: value per source (on 20261224, now a development seed: with reference 0.694 at 1e-3, one human flagged on its
#: own score, 1/1700; without 0.408; fraction axis benign flagged 0, 1, 1, 0 of 500;
#: api_logs_seed20261224_dev_one_value_per_source.md); it is measured on a twenty-first seed, recorded here before
#: its first run. 20261225 measured it once (00fc074: with reference 0.955 at 1e-3, bare campaign 197/200, realised
#: 0/1700, onboarding 0/100; without 0.722, bare campaign 154/200, 0/1700; fraction axis benign flagged 0 of 500
#: on all four). The next version is measured on a twenty-second seed, recorded here before its first run.
#: That version adds the recruit evidence (campaigns.cohort_recruits(return_evidence=True): how many accounts first
#: seen in a behaviour cluster's window behave like it, a beta-binomial tail against chance; read in the campaign's
#: cohort group, past every benign source at its model's value, and past trim_evidence it sets a campaign aside in a
#: robust fit). Found needed on development seed 20261224 (a bare campaign's core of 34 read cohort evidence 2.47
#: while 148 of its accounts were recruited): there with reference 0.694 -> 0.878 at 1e-3, without 0.408 -> 0.780
#: (bare campaign 0 -> 182 of 200), realised 1/1700 and 0/1700 as before, onboarding 0/100; api_logs_fpr.py on
#: development seeds 341-344: 5/7200 with and 0/7200 without at 1e-3, as before.
#: 20261226 measured it once (80b6c05: with reference 0.837 at 1e-3, bare campaign 128/200, realised 0/1700,
#: onboarding 0/100; without 0.602, bare campaign 95/200, 0/1700; fraction axis benign flagged 0 of 500 on all
#: four). After the run, the version before on the same seed: 0.837 with, 0.408 without (bare 0/200); kept as
#: api_logs_seed20261226_before_recruit_evidence.*. The next version is measured on a twenty-third seed,
#: recorded here before its first run. That version adds a second recruiting round (cohort_recruits(rounds=2):
#: the accounts still free ranked against core and first recruits). Found needed on 20261226, now a development
#: seed (72 of the bare campaign's accounts in its window at rank p 0.02-0.03 from the core): there with reference
#: 0.837 -> 0.957, without 0.602 -> 0.790 (bare 128 and 95 -> 187 of 200), realised 0/1700; on 20261224 0.878 ->
#: 0.890 and 0.780 -> 0.804. 20261227 measured it once (73fe4e5: with reference 0.859 at 1e-3, bare campaign
#: 193/200, hydra 0/30, realised 0/1700, onboarding 0/100; without 0.802, bare 193/200, 0/1700; fraction axis
#: benign flagged 0 of 500 on all four). The next version is measured on a twenty-fourth seed, recorded here
#: before its first run. That version makes the campaign detector's novelty cap count sources (the distance to
#: the nearest pseudo-campaign of the 2nd-nearest source, not the 2nd-nearest row), as its reference does. On
#: development seeds: 20261227 unchanged at the account level (0.859 / 0.802), its fraction axis with reference
#: 0.773 / 0.814 / 0.807 -> 0.909 / 0.884 / 0.873 at 5 / 15 / 30 %, benign 0 of 500 as before; 20261223 identical
#: to the version before (0.939 / 0.645; measured for the first time with the second round); api_logs_fpr.py on
#: 341-344 as before at 1e-3 (5/7200 and 0/7200). The next version after it is measured on a twenty-fifth seed,
#: 20261229, recorded here before the twenty-fourth is run. 20261228 measured it once (bdd1a40: with reference
#: 0.563 at 1e-3, bare campaign 0/200, hydra 30/30, realised 0/1700, onboarding 0/100; without 0.408, bare 0/200,
#: 0/1700; fraction axis benign flagged 1 of 500 with a reference at 1 %, 0 elsewhere). After the run, the version
#: before on the same seed: the same numbers (api_logs_seed20261228_before_novelty_by_source.*). The bare campaign,
#: opened over days 3.2-7.4, came out of HDBSCAN as two pure clusters of 24 and 17 with cohort evidence 0.77 and
#: 0.54 (under the gate of 2) and 22 accounts inside a cluster of 95 with humans. The version after it (e1c16b9)
#: opens a behaviour cluster as a campaign when its recruit evidence reaches the gate too, recruits in the window
#: the cluster was gated on, and keeps members dropped outside that window out of the recruits' background. On
#: development seeds: 20261228 bare campaign 0 -> 77 of 200 with a reference (0.563 -> 0.720), 0 -> 26 without
#: (0.408 -> 0.461), realised 0/1700; 20261227 identical; 20261223 0.939 -> 0.937 with a reference, 0.645 -> 0.790
#: without (bare 116 -> 187 of 200), 0/1700; api_logs_fpr.py on 341-344 as before at 1e-3 (5/7200 and 0/7200).
#: It is measured once on 20261229 (recorded above before it existed); the version after it on a twenty-sixth seed,
#: 20261230, recorded here before 20261229 is run. 20261229 measured it once (6557092: with reference 0.982 at
#: 1e-3, realised 0/1700; without 0.802, 0/1700). The version after it (345aa4b) stops reading a coordinated
#: cluster as one pooled pseudo-account (AccountScorer(cluster_lift=False)): on traffic written without sight of
#: the detector (benchmarks/api_logs_independent.py, seed 1001) that read flagged 417 of 3,092 benign accounts;
#: on development seeds 20261227-28 no flag changed. It is measured once on 20261230 (recorded before it existed);
#: the version after it on 20261231, recorded here before 20261230 is run. 20261230 measured it once (with a
#: reference 0.851 at 1e-3, realised 0/1700; without 0.802). The version after it reads each account's mean answer
#: length without its longest 5 % of answers, and without a reference reads the answer lengths' tails from the band
#: between their 70 % and 90 % quantiles, its campaign null without the completion/prompt ratio; on development
#: seed 20261228 0.645 with a reference (proxy-1 0.18 of 200) and 0.408 without, realised 0/1700 both. It is
#: measured once on 20261231 (recorded before 20261230 was run); the version after it on 20261232, recorded here
#: before 20261231 is run. 20261231 measured it once (with a reference 0.980 at 1e-3, realised 0/1700; without
#: 0.763, 0/1700). The version after it raises the robust fit's novelty cap from 1 % to 5 % of the fit accounts
#: (AccountScorer(robust_novelty_share=0.05); found post hoc on independent seed 1005); on development seed
#: 20261228 unchanged (0.408 without a reference, 0/1700). It is measured once on 20261232 (recorded before
#: 20261231 was run); the version after it on 20261233, recorded here before 20261232 is run. 20261232 measured it
#: once (with a reference 0.929 at 1e-3, realised 0/1700; without 0.782, 0/1700). The version after it counts a
#: campaign's cohort evidence only beside evidence of what its members ask for (CampaignDetector(
#: cohort_needs_content=True); found post hoc on independent seed 1006); on development seed 20261228 every table
#: unchanged (0.645 with a reference, 0.408 without, 0/1700 both). It is measured once on 20261233 (recorded before
#: 20261232 was run); the version after it on 20261234, recorded here before 20261233 is run.
DEV_SEED = 7
HELD_OUT_SEEDS_USED = (20261205, 20261206, 20261207, 20261208, 20261209, 20261210, 20261211, 20261212, 20261213,
                       20261214, 20261215, 20261216, 20261217, 20261218, 20261219, 20261220, 20261221,
                       20261222, 20261223, 20261224, 20261225, 20261226, 20261227, 20261228, 20261229, 20261230,
                       20261231, 20261232, 20261233)
HELD_OUT_SEED = 20261233  # run once with the cohort-needs-content version; the next version's is NEXT_HELD_OUT_SEED
NEXT_HELD_OUT_SEED = 20261234
FPRS = (1e-2, 1e-3)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)



def evaluate(scorer: AccountScorer, out: pd.DataFrame, acc: pd.DataFrame) -> dict:
    s = out.set_index("account_id")["score"]
    fam = acc.set_index("account_id")["family"].reindex(s.index)
    lab = acc.set_index("account_id")["label"].reindex(s.index)
    thr = {f: threshold_for_fpr(scorer.calibration_scores_, f) for f in FPRS}
    neg = s[lab == 0]
    res = {"threshold@1e-3": float(scorer.threshold_), "n_calibration": int(scorer.n_calibration_), "families": {}}
    for f in [*ATTACK_FAMILIES, "overall"]:
        pos = s[lab == 1] if f == "overall" else s[fam == f]
        if len(pos) == 0:
            continue
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        row = {"n": int(len(pos)), "auroc": float(roc_auc_score(y, np.r_[pos.to_numpy(), neg.to_numpy()]))}
        for fp, t in thr.items():
            row[f"tpr@{fp:g}"] = float(np.mean(pos > t))
        res["families"][f] = row
    for fp, t in thr.items():
        k = int((neg > t).sum())
        lo, hi = clopper_pearson(k, len(neg))
        res[f"realised_fpr@{fp:g}"] = {"flagged": k, "benign": int(len(neg)), "fpr": k / max(len(neg), 1),
                                       "ci95": [lo, hi]}
    res["benign_flagged@1e-3"] = {b: f"{int((s[fam == b] > thr[1e-3]).sum())}/{int((fam == b).sum())}"
                                  for b in BENIGN_FAMILIES}
    camp = acc.set_index("account_id")["campaign_id"].reindex(s.index)
    res["campaigns@1e-3"] = {c: {"accounts": int((camp == c).sum()), "flagged": float(np.mean(s[camp == c] > thr[1e-3]))}
                             for c in sorted(camp[camp.astype(str) != ""].dropna().unique())}
    if scorer.contamination_ is not None:
        res["contamination_estimate"] = scorer.contamination_
        res["true_contamination"] = float(lab.mean())
        res["trim_iterations"] = scorer.n_trim_iter_
        res["oof_trim_rounds"] = scorer.n_oof_trim_rounds_
    return res


def fraction_mix(n_benign: int, frac: float) -> dict:
    """Simulator settings with ``frac`` of the accounts attackers: half one proxy campaign, half the rest."""
    n_att = max(2, int(round(frac * n_benign / (1 - frac))))
    proxy = max(3, n_att // 2)
    others = [f for f in ATTACK_FAMILIES if f not in ("proxy_spread", "hydra")]
    per = max(1, (n_att - proxy) // (len(others) + 1))
    return dict(n_benign=n_benign, n_per_attack=per, hydra_campaigns=1, hydra_size=max(3, per),
                proxy_campaigns=1, proxy_size=proxy)


def verbatim_study(out: pd.DataFrame, feats: pd.DataFrame, acc: pd.DataFrame) -> dict:
    s = out.set_index("account_id")["score"]
    fam = acc.set_index("account_id")["family"]
    v, h = fam.index[fam == "verbatim"], fam.index[fam.isin(["human", "power_user", "tutoring"])]
    y = np.r_[np.ones(len(v)), np.zeros(len(h))]
    sc = np.r_[s.reindex(v).to_numpy(), s.reindex(h).to_numpy()]
    curve = {f"tpr@fpr{f:g}": float(np.mean(s.reindex(v) > np.quantile(s.reindex(h), 1 - f)))
             for f in (1e-3, 1e-2, 5e-2, 1e-1, 2e-1)}
    fi = feats.set_index("account_id")
    per_feature = {}
    for c in fi.columns:
        x = np.r_[fi[c].reindex(v).to_numpy(), fi[c].reindex(h).to_numpy()]
        if np.nanstd(x) > 0:
            per_feature[c] = float(roc_auc_score(y, np.nan_to_num(x)))
    top = dict(sorted(per_feature.items(), key=lambda kv: -abs(kv[1] - 0.5))[:8])
    return {"n_verbatim": int(len(v)), "n_human_like": int(len(h)), "auroc_vs_human_like": float(roc_auc_score(y, sc)),
            "roc_points_vs_human_like": curve, "most_separating_features_auroc": top}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small run for CI smoke tests (development seed)")
    ap.add_argument("--seed", type=int, default=None, help=f"default: {HELD_OUT_SEED} (held out), --quick: {DEV_SEED}")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else (DEV_SEED if args.quick else HELD_OUT_SEED)
    t_start = time.perf_counter()
    pool = sharegpt_conversations(0)  # real conversations: humans follow up, attackers draw single turns
    # two proxy campaigns: proxy-0 reuses templates, proxy-1 sends its prompts bare (simulate_logs)
    # and a benign onboarding cohort, the bare campaign's benign twin (from seed 20261223 on; simulate_logs)
    main_cfg = (dict(n_benign=400, n_per_attack=4, hydra_campaigns=1, hydra_size=12, proxy_campaigns=2,
                     proxy_size=40, onboarding_cohorts=1, onboarding_size=40) if args.quick else
                dict(n_benign=1600, n_per_attack=10, hydra_campaigns=1, hydra_size=30, proxy_campaigns=2,
                     proxy_size=200, onboarding_cohorts=1, onboarding_size=100))
    n_ref = 400 if args.quick else 1600
    n_axis = 300 if args.quick else 500
    results: dict = {"seed": seed, "held_out": seed == HELD_OUT_SEED, "dev_seed": DEV_SEED, "config": main_cfg,
                     "reference_benign_accounts": n_ref, "axis_benign_accounts": n_axis, "days": 14}
    log(f"simulating seed {seed}: {main_cfg}")
    logs, acc = simulate_logs(**main_cfg, days=14, seed=seed, conversations=pool)
    ref, _ = simulate_logs(n_ref, 0, families=(), days=14, seed=seed + 1000, conversations=pool)
    ref = ref.drop(columns=["label", "family"])
    scored = logs.drop(columns=["label", "family"])
    results.update(rows=int(len(logs)), accounts=int(len(acc)), attackers=int(acc["label"].sum()),
                   reference_rows=int(len(ref)))

    log("with a reference")
    t0 = time.perf_counter()
    sc = AccountScorer(target_fpr=1e-3).fit(ref)
    out = sc.score_logs(scored)
    results["with_reference"] = evaluate(sc, out, acc)
    results["with_reference"]["seconds"] = time.perf_counter() - t0
    study = acc.loc[acc["family"].isin(["verbatim", "human", "power_user", "tutoring"]), "account_id"]
    feats = account_features(scored[scored["account_id"].isin(study)])
    results["verbatim"] = verbatim_study(out, feats, acc)

    log("without a reference (robust fit on the scored logs)")
    t0 = time.perf_counter()
    sc = AccountScorer(target_fpr=1e-3, robust=True).fit(scored)
    out = sc.score_logs(scored)
    results["without_reference"] = evaluate(sc, out, acc)
    results["without_reference"]["seconds"] = time.perf_counter() - t0

    log("fraction-of-attackers axis")
    axis_ref = AccountScorer(target_fpr=1e-3).fit(
        simulate_logs(n_axis, 0, families=(), days=14, seed=seed + 2000, conversations=pool)[0].drop(columns=["label", "family"]))
    axis = {}
    for frac in (0.01, 0.05, 0.15, 0.30):
        cfg = fraction_mix(n_axis, frac)
        lg, ac = simulate_logs(**cfg, days=14, seed=seed + int(frac * 1000), conversations=pool)
        lg = lg.drop(columns=["label", "family"])
        row = {"config": cfg, "true_fraction": float(ac["label"].mean())}
        row["with_reference"] = evaluate(axis_ref, axis_ref.score_logs(lg), ac)
        rob = AccountScorer(target_fpr=1e-3, robust=True).fit(lg)
        row["without_reference"] = evaluate(rob, rob.score_logs(lg), ac)
        axis[f"{frac:g}"] = row
        log(f"  {frac:g}: done")
    results["fraction_axis"] = axis

    log("throughput of the linking step")
    n = min(len(scored), 100_000 if args.quick else 400_000)
    sub = scored.iloc[:n]
    t0, c0 = time.perf_counter(), time.process_time()
    link_campaigns(sub)
    t_link, c_link = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    account_features(sub)
    t_feat, c_feat = time.perf_counter() - t0, time.process_time() - c0
    results["throughput"] = {"rows": n, "accounts": int(sub["account_id"].nunique()), "link_seconds": t_link,
                             "link_cpu_seconds": c_link, "link_rows_per_min": n / c_link * 60,
                             "features_seconds": t_feat, "features_cpu_seconds": c_feat,
                             "features_rows_per_min": n / c_feat * 60,
                             "features_plus_link_rows_per_min": n / (c_link + c_feat) * 60,
                             "load_average_1min": os.getloadavg()[0],
                             "note": "rows per minute of CPU time of the one process (one core); the wall clock on "
                                     "this shared 2-core machine is in *_seconds"}
    results["total_seconds"] = time.perf_counter() - t_start
    results["run"] = run_record(["python", "benchmarks/api_logs.py", *sys.argv[1:]])
    try:
        md = to_markdown(results)
    except Exception as exc:  # the numbers are kept even if rendering fails
        md = f"rendering failed ({type(exc).__name__}: {exc}); see the JSON"
    write_result("api_logs" if not args.quick else "api_logs_quick", results, md, args.out)
    print(md)


def _f(v) -> str:
    return "n/a" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def _fpr_line(r: dict) -> str:
    parts = []
    for fp in FPRS:
        m = r[f"realised_fpr@{fp:g}"]
        parts.append(f"target {fp:g}: {m['flagged']}/{m['benign']} = {m['fpr']:.4f} "
                     f"(95 % CI {m['ci95'][0]:.4f}-{m['ci95'][1]:.4f})")
    return "Realised FPR on the scored logs' benign accounts -- " + "; ".join(parts) + "."


def to_markdown(r: dict) -> str:
    """Render the results as markdown tables."""
    lines = [f"# API-log detectors ({'held-out seed' if r['held_out'] else 'seed ' + str(r['seed'])})", "",
             f"{provenance_line(r)}; {r['rows']} requests, {r['accounts']} accounts ({r['attackers']} attackers), "
             f"14 days; reference: {r['reference_benign_accounts']} benign accounts, {r['reference_rows']} requests. "
             f"Seed {r['seed']} (held out: {r['held_out']}; development seed {r['dev_seed']}).", ""]
    fams = list(r["with_reference"]["families"])
    rows = []
    for f in fams:
        a, b = r["with_reference"]["families"][f], r["without_reference"]["families"].get(f, {})
        rows.append([f, a["n"], _f(a["auroc"]), _f(a["tpr@0.01"]), _f(a["tpr@0.001"]), _f(b.get("auroc")),
                     _f(b.get("tpr@0.01")), _f(b.get("tpr@0.001"))])
    lines += ["## Per family (account level)", "",
              *md_table(["family", "n", "ref AUROC", "ref TPR@1e-2", "ref TPR@1e-3", "no-ref AUROC",
                         "no-ref TPR@1e-2", "no-ref TPR@1e-3"], rows), ""]
    for key, name in (("with_reference", "With a reference"), ("without_reference", "Without a reference")):
        m = r[key]
        lines += [f"**{name}** ({m['seconds']:.0f} s, threshold {m['threshold@1e-3']:.3f} on {m['n_calibration']} "
                  f"calibration accounts). {_fpr_line(m)} Campaigns flagged at 1e-3: "
                  + ", ".join(f"{c} {v['flagged']:.3f} of {v['accounts']}" for c, v in m["campaigns@1e-3"].items())
                  + ". Benign look-alikes flagged at 1e-3: "
                  + ", ".join(f"{k} {v}" for k, v in m["benign_flagged@1e-3"].items()) + "."
                  + (f" Contamination estimate {m['contamination_estimate']:.3f} (true {m['true_contamination']:.3f}),"
                     f" {m['trim_iterations']} fits." if "contamination_estimate" in m else ""), ""]
    rows = []
    for frac, a in r["fraction_axis"].items():
        w, o = a["with_reference"], a["without_reference"]
        rows.append([frac, _f(a["true_fraction"]), _f(w["families"]["overall"]["tpr@0.001"]),
                     f"{w['realised_fpr@0.001']['flagged']}/{w['realised_fpr@0.001']['benign']}",
                     _f(o["families"]["overall"]["tpr@0.001"]),
                     f"{o['realised_fpr@0.001']['flagged']}/{o['realised_fpr@0.001']['benign']}",
                     _f(o.get("contamination_estimate"))])
    lines += ["## Fraction of attackers (half one proxy-spread campaign)", "",
              *md_table(["attackers", "true share", "ref TPR@1e-3", "ref benign flagged", "no-ref TPR@1e-3",
                         "no-ref benign flagged", "no-ref contamination estimate"], rows), ""]
    v = r["verbatim"]
    lines += ["## Verbatim-prompt harvesters vs human-like benign accounts (with reference)", "",
              f"AUROC {v['auroc_vs_human_like']:.3f} ({v['n_verbatim']} vs {v['n_human_like']}); TPR at FPR "
              + ", ".join(f"{k[7:]}: {x:.3f}" for k, x in v["roc_points_vs_human_like"].items())
              + ". Single features (AUROC, verbatim vs human-like): "
              + ", ".join(f"{k} {x:.2f}" for k, x in v["most_separating_features_auroc"].items()) + ".", ""]
    t = r["throughput"]
    lines += ["## Throughput (one core)", "",
              f"{t['rows']} rows, {t['accounts']} accounts, per minute of CPU time on one core (machine load "
              f"{t['load_average_1min']:.1f} on 2 cores; wall {t['link_seconds']:.0f} s + {t['features_seconds']:.0f} s): "
              f"campaign linking {t['link_rows_per_min'] / 1e6:.2f} M rows/min, "
              f"account features {t['features_rows_per_min'] / 1e6:.2f} M rows/min, both "
              f"{t['features_plus_link_rows_per_min'] / 1e6:.2f} M rows/min.", "",
              f"Total benchmark time {r['total_seconds']:.0f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
