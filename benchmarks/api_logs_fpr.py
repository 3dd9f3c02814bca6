"""Benchmark: is ``distillguard logs score`` calibrated, with and without a reference? Realised benign FPR.

For each seed a benign reference (``--n-ref`` accounts) and, from another seed, benign traffic to score
(``--n-scored`` accounts, no attackers: every flag is a false positive) are simulated; ``AccountScorer`` is
fitted on the reference with the cross-conformal calibration (``calibration_folds=5``, the default) and with
the single 30 % split (``calibration_folds=None``), and the flagged share of the scored accounts is counted at
the 1e-3 and 1e-2 targets. Without a reference (``robust=True``, the CLI's default when ``--reference`` is not
given) the scorer is fitted on the scored logs themselves, trims what it finds overwhelming and calibrates on
the rest: every account it trims or flags there is a false positive too. The pooled rate has a Clopper-Pearson 95 % interval; it counts accounts, and the
accounts of one benign campaign (an eval harness's users) are flagged together, so the interval is too narrow
when flags cluster -- the per-seed counts are printed as well.

The statistic (pooled realised FPR per calibration mode and target, with its interval) and the seeds
(``HELD_OUT_SEEDS``) were written here and committed before the first run. Development used seed 7 (the
``benchmarks/api_logs.py`` development seed), where a 1,600-account reference flagged 48 of 1,600 benign
accounts at 1e-3 before the bounded-feature and cohort-tail fixes of this version (see docs/api_logs.md).

Onboarding cohorts (``--onboarding N``, default 2 from held-out seeds 353-356 on; added on 2026-12-06 as a
development stress test, statistic fixed before its first run): the scored logs of each seed also hold N benign
``onboarding`` cohorts of ``--onboarding-size`` accounts (``simulate_logs(onboarding_cohorts=...)``: people an
organisation signs up within a day or two, in one time zone, each from their own addresses -- the benign twin of
a bare proxy campaign); the reference has none. Reported: the onboarding accounts flagged per mode and target,
beside every benign flag (they count in it). Any flag among them is a false accusation of a group the cohort
test was built to find: on development seeds 341-344 the version before the conversing gate flagged 70 of 800
with a reference (``api_logs_fpr_seeds341-344_dev_onboarding_before_gate.md``). ``--onboarding 0``: none (the
seeds before 353).

Usage: python benchmarks/api_logs_fpr.py [--quick] [--seeds S ...] [--onboarding N]
(writes benchmarks/results/api_logs_fpr.{json,md})
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from distillguard.detect.api_logs import AccountScorer, simulate_logs, threshold_for_fpr  # noqa: E402
from distillguard.detect.api_logs.simulate import sharegpt_conversations  # noqa: E402
from distillguard.distill.bench import clopper_pearson, md_table, new_record, provenance_line, write_result  # noqa: E402

#: written and committed before the first run of this benchmark; never used for development. 301-304 measured
#: the version before cohort clusters once (cross-conformal 1/6400 at 1e-3, 5/6400 at 1e-2). 305-308 were
#: recorded for the first cohort-cluster version; its run was stopped before it printed anything (that version
#: had failed benchmarks/api_logs.py's seed 20261209). The fixed version is measured on 309-312, recorded here
#: before their first run.
#: 309-312 measured that version once (cross-conformal 0/6400 at 1e-3). The version with the member gate and the
#: left-censored cohort test, and the new no-reference mode (the robust fit on purely benign logs), are measured
#: on 313-316, recorded here before their first run. 313-316 measured it once (no reference: 6/6400 at 1e-3 with
#: the split). The version whose robust fit reads each campaign against a null without its own accounts and
#: calibrates cross-conformally is measured on 317-320, recorded here before their first run (the cross-conformal
#: part was dropped before the run; 317-320 measured the split). They measured it once (no reference: 1/6400 at
#: 1e-3). The version where, without a reference, that reading counts only past the trim level is measured on
#: 321-324, recorded here before their first run. They measured it once (cross-conformal 0/6400, no reference
#: 3/6400 at 1e-3). The version whose behaviour clusters keep only members first seen near their cohort window
#: is measured on 325-328, recorded here before their first run. They measured it once (no reference: 14/6400 at
#: 1e-3, 12 on seed 326). The version whose robust fit calibrates cross-conformally is measured on 329-332,
#: recorded here before their first run. They measured it once (cross-conformal 2/6400, no reference 0/6400 at
#: 1e-3). The next version is measured on 333-336, recorded here before their first run: it adds cohort
#: recruits (development run on 329-332 with --seeds: the same flags as before). They measured it once
#: (cross-conformal 0/6400, no reference 0/6400 at 1e-3). The next version is measured on 337-340, recorded here
#: before their first run: it censors the cohort test only through the log's first weekday (development run on
#: 329-332: the same flags as before). They measured it once (cross-conformal 0/6400, no reference 0/6400 at
#: 1e-3). The next version is measured on 341-344, recorded here before their first run: split campaign cores
#: join, look-alikes leave the robust reference, held-out scores past the trim level are trimmed (development run
#: on 329-332: the same flags as before). They measured it once (cross-conformal 1/6400, no reference 0/6400 at
#: 1e-3; the 30 % split 80/6400). The next version is measured on 345-348, recorded here before their first run:
#: the campaign null does not count recruits in its cohort evidence (development run on 329-332: the same flags).
#: They measured it once (cross-conformal 0/6400, no reference 0/6400 at 1e-3). The next version is measured on
#: 349-352, recorded here before their first run: the recruit test ranks against the accounts first seen in the
#: log's censored days and never recruits them; the 30 % split warns (development run on 341-344, now
#: development seeds after the split's diagnosis). They measured it once (cross-conformal 4/6400 at 1e-3, all on
#: seed 350: four humans linked by a shared prompt; no reference 0/6400; the 30 % split 76/6400). The next version
#: is measured on 353-356, recorded here before their first run. That version (the conversing gate: a behaviour
#: campaign whose members follow up like ordinary users is not lifted) is measured there with two benign
#: onboarding cohorts of 100 in each seed's scored logs (``--onboarding``, the default from these seeds on).
#: They measured it once (cross-conformal 0/7200 at 1e-3, onboarding 0/800; no reference 0/7200; the 30 % split
#: 17/7200). The next version is measured on 357-360, recorded here before their first run. That version reads
#: the campaign null one value per benign source (the fix of the tutoring false positives on api_logs seed
#: 20261223's fraction axis). A first form of it also floored every exponential tail; it lost the individual
#: harvesters on api_logs seed 20261224 and was not run here, so 357-360 measure the form without the floor.
#: They measured it once (cross-conformal 0/7200 at 1e-3, onboarding 0/800, 2/7200 at 1e-2; no reference
#: 0/7200 and 25/7200; the 30 % split 25/7200). The next version is measured on 361-364, recorded here before
#: their first run. That version adds a behaviour cluster's recruit evidence (campaigns.cohort_recruits); on the
#: development seeds 341-344 it flagged what the version before did at 1e-3 (cross-conformal 5/7200, onboarding
#: 2/800; no reference 0/7200; at 1e-2 no reference 22/7200, 25 before). 361-364 measured it once
#: (cross-conformal 0/7200 at 1e-3, onboarding 0/800, 13/7200 at 1e-2; no reference 0/7200 and 19/7200; the
#: 30 % split 35/7200). The next version is measured on 365-368, recorded here before their first run. That
#: version adds a second recruiting round (campaigns.cohort_recruits(rounds=2)); on the development seeds 341-344:
#: cross-conformal 5/7200 at 1e-3 (as before), no reference 0/7200. 365-368 measured it once (cross-conformal
#: 0/7200 at 1e-3, onboarding 0/800, 13/7200 at 1e-2; no reference 0/7200 and 18/7200; the 30 % split 20/7200).
#: The next version is measured on 369-372, recorded here before their first run. That version makes the campaign
#: detector's novelty cap count sources; on the development seeds 341-344 cross-conformal 5/7200 at 1e-3 and
#: 14/7200 at 1e-2, no reference 0/7200 and 21/7200 (all as before; the non-default 30 % split 51/7200 and
#: 208/7200, from 50 and 175). The version after it is measured on 373-376, recorded here before 369-372 are run.
#: 369-372 measured it once (cross-conformal 0/7200 at 1e-3, onboarding 0/800, 8/7200 at 1e-2; no reference
#: 0/7200 and 26/7200; the 30 % split 26/7200). 373-376 measure the version that opens a behaviour cluster by its
#: recruit evidence too (e1c16b9); on the development seeds 341-344 cross-conformal 5/7200 at 1e-3 and 14/7200 at
#: 1e-2, no reference 0/7200 and 19/7200 (21 before), the 30 % split 51/7200 and 208/7200 (as before). The version
#: after it is measured on 377-380 (NEXT_HELD_OUT_SEEDS), recorded here before 373-376 are run. 373-376 measured
#: it once (cross-conformal 0/7200 at 1e-3, 9/7200 at 1e-2; no reference 0/7200 and 25/7200). 377-380 measure the
#: version that reads no coordinated cluster as a pooled pseudo-account (345aa4b, cluster_lift off); the version
#: after it on 381-384, recorded here before 377-380 are run. 377-380 measured it once (cross-conformal 1/7200 at
#: 1e-3, 14/7200 at 1e-2; no reference 0/7200 and 19/7200). 381-384 measure the version that trims each account's
#: longest 5 % of answers from its mean answer length and, without a reference, reads the answer lengths' tails from
#: the 70-90 % quantile band with a campaign null without the completion/prompt ratio; on the development seeds
#: 341-344 cross-conformal 2/7200 at 1e-3 and 15/7200 at 1e-2, no reference 0/7200 and 13/7200 (the non-default
#: 30 % split 131/7200 and 142/7200, from 51 and 208: the trimmed mean, not the band). The version after it on
#: 385-388, recorded here before 381-384 are run. 381-384 measured it once (cross-conformal 0/7200 at 1e-3,
#: 2/7200 at 1e-2; no reference 0/7200 and 14/7200; the 30 % split 12/7200). 385-388 measure the version that
#: raises the robust fit's novelty cap from 1 % to 5 % of the fit accounts (robust_novelty_share=0.05); on the
#: development seeds 341-344 no reference 0/7200 at 1e-3 and 16/7200 at 1e-2. The version after it on 389-392,
#: recorded here before 385-388 are run. 385-388 measured it once (cross-conformal 0/7200 at 1e-3, 0/7200 at 1e-2;
#: no reference 0/7200 and 19/7200; the 30 % split 10/7200). 389-392 measure the version that counts a campaign's
#: cohort evidence only beside evidence of what its members ask for (cohort_needs_content=True); on the
#: development seeds 341-344 every count as before (cross-conformal 2/7200 at 1e-3, 15/7200 at 1e-2; no reference
#: 0/7200 and 16/7200). The version after it on 393-396, recorded here before 389-392 are run.
HELD_OUT_SEEDS_USED = (301, 302, 303, 304, 309, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320,
                       321, 322, 323, 324, 325, 326, 327, 328, 329, 330, 331, 332, 333, 334, 335, 336,
                       337, 338, 339, 340, 341, 342, 343, 344, 345, 346, 347, 348, 349, 350, 351, 352,
                       353, 354, 355, 356, 357, 358, 359, 360, 361, 362, 363, 364, 365, 366, 367, 368,
                       369, 370, 371, 372, 373, 374, 375, 376, 377, 378, 379, 380, 381, 382, 383, 384,
                       385, 386, 387, 388)
HELD_OUT_SEEDS = (389, 390, 391, 392)
NEXT_HELD_OUT_SEEDS = (393, 394, 395, 396)
TARGETS = (1e-3, 1e-2)
#: calibration mode -> AccountScorer arguments; "robust" modes fit on the scored logs (no reference)
MODES: dict[str, dict[str, Any]] = {
    "cross-conformal (5 folds, default)": {"calibration_folds": 5},
    "30 % split": {"calibration_folds": None},
    "no reference (robust fit on the scored logs)": {"robust": True},
}



def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def one_seed(seed: int, n_ref: int, n_scored: int, days: int, pool: list[list[str]], onboarding: int = 0,
             onboarding_size: int = 100) -> dict[str, Any]:
    """Fit each calibration mode on a benign reference of ``seed``; count flags on benign traffic of another seed
    (with ``onboarding`` benign onboarding cohorts in it)."""
    ref = simulate_logs(n_ref, 0, families=(), days=days, seed=seed, conversations=pool)[0]
    scored = simulate_logs(n_scored, 0, families=(), days=days, seed=seed + 500, conversations=pool,
                           onboarding_cohorts=onboarding, onboarding_size=onboarding_size)[0]
    fam = scored.groupby("account_id")["family"].first()
    ref, scored = ref.drop(columns=["label", "family"]), scored.drop(columns=["label", "family"])
    row: dict[str, Any] = {"seed": seed, "reference_accounts": int(ref["account_id"].nunique()),
                           "scored_accounts": int(scored["account_id"].nunique()),
                           "onboarding_accounts": int((fam == "onboarding").sum())}
    for name, kw in MODES.items():
        t0 = time.perf_counter()
        sc = AccountScorer(target_fpr=min(TARGETS), **kw).fit(scored if kw.get("robust") else ref)
        sl = sc.score_logs(scored)
        s = sl["score"].to_numpy()
        onb = (sl["account_id"].map(fam) == "onboarding").to_numpy()
        r: dict[str, Any] = {"n_calibration": sc.n_calibration_, "seconds": time.perf_counter() - t0}
        if kw.get("robust"):
            r["trimmed"], r["contamination_estimate"] = int(len(sc.excluded_)), float(sc.contamination_)
            r["oof_trim_rounds"] = int(sc.n_oof_trim_rounds_)
        for t in TARGETS:
            thr = threshold_for_fpr(sc.calibration_scores_, t)
            r[f"flagged@{t:g}"] = int((s > thr).sum())
            r[f"onboarding_flagged@{t:g}"] = int((s[onb] > thr).sum())
            r[f"threshold@{t:g}"] = thr
        row[name] = r
        log(f"seed {seed} {name}: " + ", ".join(f"{r[f'flagged@{t:g}']}/{len(s)} at {t:g} (onboarding "
                                                f"{r[f'onboarding_flagged@{t:g}']}/{int(onb.sum())})" for t in TARGETS))
    return row


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n = sum(r["scored_accounts"] for r in rows)
    for name in MODES:
        out[name] = {}
        for t in TARGETS:
            k = sum(r[name][f"flagged@{t:g}"] for r in rows)
            lo, hi = clopper_pearson(k, n)
            out[name][f"{t:g}"] = {"flagged": k, "benign": n, "fpr": k / n, "ci95": [lo, hi],
                                   "per_seed": [r[name][f"flagged@{t:g}"] for r in rows],
                                   "onboarding_flagged": sum(r[name].get(f"onboarding_flagged@{t:g}", 0) for r in rows),
                                   "onboarding": sum(r.get("onboarding_accounts", 0) for r in rows)}
    return out


def to_markdown(res: dict[str, Any]) -> str:
    lines = ["# API logs: realised benign FPR, with and without a reference, over held-out seeds", "",
             provenance_line(res), "",
             f"Seeds {', '.join(map(str, res['seeds']))} (held out: {res['held_out']}); per seed a benign reference "
             f"of {res['n_ref']} accounts and {res['n_scored']} benign accounts to score (another seed), "
             f"{res['days']} days; without a reference the scorer is fitted on the scored logs. Every flag is a "
             "false positive.", ""]
    rows = []
    for name in MODES:
        for t in TARGETS:
            c = res["summary"][name][f"{t:g}"]
            rows.append([name, f"{t:g}", f"{c['flagged']}/{c['benign']}", f"{c['fpr']:.4f}",
                         f"{c['ci95'][0]:.4f}-{c['ci95'][1]:.4f}", " ".join(map(str, c["per_seed"]))])
    head = ["calibration", "target FPR", "flagged", "realised FPR", "95 % CI (accounts independent)", "flagged per seed"]
    if res.get("onboarding"):
        head.append("of them onboarding")
        rows = [r + [f"{res['summary'][r[0]][r[1]]['onboarding_flagged']}/{res['summary'][r[0]][r[1]]['onboarding']}"]
                for r in rows]
        lines += [f"The scored logs of each seed hold {res['onboarding']} benign onboarding cohort(s) of "
                  f"{res['onboarding_size']} accounts (module docstring); the reference has none.", ""]
    lines += md_table(head, rows)
    ncal = {name: sorted({r[name]["n_calibration"] for r in res["rows"]}) for name in MODES}
    lines += ["", "Calibration accounts: " + "; ".join(f"{k}: {v}" for k, v in ncal.items()) + ". A 1e-3 "
              "threshold from n calibration accounts is the largest score when n + 1 < 1,000 (guarantee "
              "1/(n + 1)); the interval assumes independent accounts, and benign campaigns are flagged together.",
              "", "Without a reference, accounts trimmed from the fit (contamination estimate; every one is benign "
              "here): " + ", ".join(str(r[rob]["trimmed"]) for r in res["rows"] for rob in MODES
                                    if "trimmed" in r[rob]) + " per seed.",
              "", f"Total time {res['total_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny run (development seed 7, 200 + 200 accounts)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    ap.add_argument("--seeds", type=int, nargs="+", default=None,
                    help=f"development seeds instead of the held-out ones ({' '.join(map(str, HELD_OUT_SEEDS))}); "
                         "the result is then written as api_logs_fpr_dev.*")
    ap.add_argument("--onboarding", type=int, default=2,
                    help="benign onboarding cohorts in each seed's scored logs (default 2; 0 for the seeds before 353)")
    ap.add_argument("--onboarding-size", type=int, default=100, help="accounts per onboarding cohort")
    args = ap.parse_args(argv)
    rec = new_record("benchmarks/api_logs_fpr.py", argv if argv is not None else sys.argv[1:])
    seeds = (7,) if args.quick else tuple(args.seeds) if args.seeds else HELD_OUT_SEEDS
    n_ref, n_scored, days = (200, 200, 7) if args.quick else (1600, 1600, 14)
    t0 = time.perf_counter()
    pool = sharegpt_conversations(0)
    rows = [one_seed(s, n_ref, n_scored, days, pool, args.onboarding, args.onboarding_size) for s in seeds]
    held_out = not args.quick and not args.seeds
    res = {**rec, "seeds": list(seeds), "held_out": held_out, "n_ref": n_ref, "n_scored": n_scored,
           "days": days, "onboarding": args.onboarding, "onboarding_size": args.onboarding_size, "rows": rows,
           "summary": summarise(rows), "total_seconds": time.perf_counter() - t0}
    md = to_markdown(res)
    name = "api_logs_fpr_quick" if args.quick else "api_logs_fpr" if held_out else "api_logs_fpr_dev"
    write_result(name, res, md, args.out)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
