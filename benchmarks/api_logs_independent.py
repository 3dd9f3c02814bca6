"""Benchmark: ``distillguard logs score`` on traffic from a simulator written without sight of the detector.

``benchmarks/independent_logs.py`` was written by a separate agent that was not allowed to read the detector
(``distillguard/detect/``), the project's own simulator or its benchmarks and docs on API logs; it designed its
families (five harvesting families incl. a ~400-account proxy-spread campaign, ~3,100 benign accounts incl.
evaluation harnesses, batch jobs, tutoring platforms, resellers and an onboarding cohort) from the issue's
description of the independent traffic alone. This benchmark runs the CLI exactly as the README documents it,
as a subprocess, on the generator's ``scored.parquet`` (with ``--reference reference.parquet``, and without),
at ``--target-fpr 1e-3`` and ``1e-2``, and reads the labels only afterwards.

The rule, fixed here before the first full-size run of any seed (smoke-tested on ``--small`` seed 1 only):

* statistics: account TPR = share of labelled harvesters the CLI flags (its ``flag`` column) at 1e-3 and 1e-2;
  AUROC of the ``score`` column (1e-3 run); realised FPR = benign accounts flagged, with a Clopper-Pearson 95 %
  interval; per family the same; the proxy-spread campaign's share flagged at 1e-3.
* targets (issue 29): TPR >= 0.95 at 1e-3 with a reference, >= 0.80 without, >= 0.90 of the campaign flagged.
* **held-out seeds: 1001, then 1002**, each run once with the detector of the commit that holds this text
  (no detector change between them). Seed 1 is the generator's development seed (the generator's author ran
  it at full size; this benchmark did not). A failure is reported as measured; any diagnosis on a held-out seed
  afterwards is post hoc and makes that seed a development seed.
* 1001 and 1002 were run (b35ff7a's detector; ``api_logs_independent_seed1001.md``, ``..._seed1002.md``):
  with a reference 417 and 2 of 3,092 benign accounts flagged at 1e-3 (430 at 1e-2 on 1002), nearly all
  through one infrastructure cluster of 901 benign accounts read as a pooled pseudo-account. Diagnosed on
  1001 (now a development seed, as is 1002); the next version reads no pooled cluster by default
  (``AccountScorer(cluster_lift=False)``). **Held-out seed for that version: 1003**, recorded here before it
  is first generated; run once.
* 1003 was run (345aa4b; ``api_logs_independent_seed1003.md``): 0 of 3,092 benign flagged at 1e-3 and 1e-2,
  with and without a reference; TPR 0.665 / 0.527 at 1e-3, the campaign 266 of 400. Diagnosed afterwards (1003
  is a development seed since): one benign reference account set the 1e-3 threshold (docs/api_logs.md).
  **1004 is this version's second held-out seed** (recorded before it is generated, with no code change since
  1003); the next version's seed is 1005.
* 1004 was run (9d47f15's detector): with a reference TPR 0.943, benign 1/3,092 at 1e-3; without 0.655, benign 0.
  The next version trims each account's longest 5 % of answers from its mean answer length and, without a
  reference, reads the answer lengths' tails from their 70-90 % quantile band (the top of the scored logs is where
  harvesters sit) with a campaign null without the completion/prompt ratio. Developed on 1003 and 1004 (both
  development seeds now): with a reference 0.941 and 0.943, without 0.937 and 0.941, 0 benign flagged at 1e-3 in
  all four. **1005 is its held-out seed**, recorded here before it is generated; run once. The next version's
  seed is 1006.
* 1005 was run (a8133c8): with a reference TPR 0.941, benign 3/3,092 at 1e-3; without 0.364 (the campaign 184 of
  400), benign 0. Diagnosed afterwards (1005 is a development seed since): the conversing gate leaves a
  120-account behaviour campaign alone, and at 1 % of the fit accounts the robust fit's novelty cap let the rest
  of it look "known" to itself. The next version raises that cap to 5 % (``robust_novelty_share=0.05``): on 1005
  without a reference 0.935 (1 benign flagged, at the threshold), on 1003 / 1004 0.937 / 0.941 (0 / 1 benign).
  **1006 is its held-out seed**, recorded before it is generated; run once. The next version's seed is 1007.
* 1006 was run (bc8ed6e): without a reference TPR 0.939 (the campaign 399/400), benign 0 at 1e-3; with a reference
  0.671 (the campaign 265/400), benign 0. Diagnosed afterwards (1006 is a development seed since): a benign
  onboarding wave in the reference week (102 accounts first seen in one night, linked by new users' first
  prompts) read its cohort evidence alone held out of the fit and set the 1e-3 threshold at 8.35. The next
  version counts a campaign's cohort evidence only beside evidence of what its members ask for
  (``CampaignDetector(cohort_needs_content=True)``): on 1003-1006 with a reference 0.941, 0.943, 0.941, 0.941
  (0, 0, 3, 0 benign flagged at 1e-3); without a reference on 1005 / 1006 0.935 / 0.939 as before.
  **1007 is its held-out seed**, recorded before it is generated; run once. The next version's seed is 1008.

Usage:
    python benchmarks/api_logs_independent.py --seed 1001           # generates into a temp dir, then scores
    python benchmarks/api_logs_independent.py --data DIR --seed N   # scores what independent_logs.py wrote in DIR
    python benchmarks/api_logs_independent.py --seed 1 --small --out /tmp/res   # smoke test
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from distillguard.distill.bench import (
    clopper_pearson,
    exit_on_refusal,
    md_table,
    new_record,
    provenance_line,
    write_result,
)

HELD_OUT_SEEDS = (1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008)
DEV_SEED = 1
TARGETS = {"with_reference": 0.95, "without_reference": 0.80, "campaign": 0.90}
FPRS = (1e-3, 1e-2)
HERE = Path(__file__).resolve().parent
#: the console script the README runs, from the environment of this interpreter
CLI = str(Path(sys.executable).parent / "distillguard")


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


def run_cli(scored: Path, reference: Path | None, fpr: float, out: Path) -> tuple[pd.DataFrame, float, int]:
    """``distillguard logs score`` as a user runs it; returns (scores, seconds, exit code)."""
    cmd = [CLI, "logs", "score", str(scored), "--out", str(out),
           "--target-fpr", f"{fpr:g}"] + (["--reference", str(reference)] if reference else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        raise SystemExit(f"the CLI failed ({p.returncode}): {_last_line(p.stderr)}")
    return pd.read_csv(out), dt, p.returncode


def evaluate(scores: pd.DataFrame, labels: pd.DataFrame) -> dict:
    """Per-family TPR, realised FPR and campaign shares of one CLI run, from its ``flag`` and ``score`` columns."""
    s = scores.set_index(scores["account_id"].astype(str))
    lab = labels.set_index(labels["account_id"].astype(str)).reindex(s.index)
    if lab["label"].isna().any():
        raise SystemExit("scored accounts missing from labels.csv")
    flag, y = s["flag"].astype(bool), lab["label"].astype(int)
    neg = flag[y == 0]
    k = int(neg.sum())
    res = {"tpr": float(flag[y == 1].mean()), "auroc": float(roc_auc_score(y, s["score"])),
           "realised_fpr": {"flagged": k, "benign": int(len(neg)), "fpr": k / max(len(neg), 1),
                            "ci95": list(clopper_pearson(k, len(neg)))},
           "families": {}, "campaigns": {}}
    for fam, idx in lab.groupby("family").groups.items():
        res["families"][str(fam)] = {"label": int(y[idx].iloc[0]), "n": int(len(idx)), "flagged": int(flag[idx].sum())}
    camp = lab["campaign_id"].fillna("").astype(str)
    for c in sorted(set(camp) - {""}):
        m = camp == c
        res["campaigns"][c] = {"label": int(y[m].max()), "n": int(m.sum()), "flagged": int(flag[m].sum())}
    return res


def render(rec: dict) -> str:
    lines = [f"# API-log detectors on independently written traffic (seed {rec['seed']}, "
             f"{'held out' if rec['held_out'] else 'not held out'})", "", provenance_line(rec), "",
             f"{rec['rows']} requests, {rec['accounts']} accounts ({rec['harvesters']} harvesters); reference "
             f"{rec['reference_rows']} requests of {rec['reference_accounts']} accounts. Generator: "
             "`benchmarks/independent_logs.py` (written without sight of the detector).", ""]
    head = ["run", "AUROC", "TPR @ 1e-3", "TPR @ 1e-2", "realised FPR @ 1e-3 (95 % CI)", "realised @ 1e-2",
            "largest campaign @ 1e-3", "seconds"]
    rows = []
    for mode in ("with_reference", "without_reference"):
        a, b = rec[mode]["0.001"], rec[mode]["0.01"]
        big = max(a["campaigns"].items(), key=lambda kv: (kv[1]["label"], kv[1]["n"]), default=None)
        r = a["realised_fpr"]
        rows.append([mode.replace("_", " "), f"{a['auroc']:.3f}", f"**{a['tpr']:.3f}**", f"{b['tpr']:.3f}",
                     f"{r['flagged']}/{r['benign']} ({r['ci95'][0]:.4f}-{r['ci95'][1]:.4f})",
                     f"{b['realised_fpr']['flagged']}/{b['realised_fpr']['benign']}",
                     f"{big[0]}: {big[1]['flagged']}/{big[1]['n']}" if big else "-",
                     f"{a['seconds'] + b['seconds']:.0f}"])
    lines += md_table(head, rows, align="lrrrrrlr") + ["", "## Per family, flagged at 1e-3 (1e-2)", ""]
    fams = rec["with_reference"]["0.001"]["families"]
    rows = [[f, "harvester" if v["label"] else "benign", v["n"],
             *(f"{rec[m]['0.001']['families'][f]['flagged']} ({rec[m]['0.01']['families'][f]['flagged']})"
               for m in ("with_reference", "without_reference"))]
            for f, v in sorted(fams.items(), key=lambda kv: (-kv[1]["label"], kv[0]))]
    lines += md_table(["family", "kind", "accounts", "with reference", "without"], rows, align="llrrr")
    lines += ["", "Targets (issue 29): " + ", ".join(f"{k} {v}" for k, v in TARGETS.items()) + ".", ""]
    return "\n".join(lines)


def _main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[-4:]))
    ap.add_argument("--seed", type=int, required=True, help=f"generator seed; held out: {HELD_OUT_SEEDS}")
    ap.add_argument("--data", type=Path, default=None, help="a directory independent_logs.py wrote for --seed")
    ap.add_argument("--small", action="store_true", help="the generator's small size (smoke test)")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    args = ap.parse_args(argv)
    if args.data is not None:
        missing = [f for f in ("manifest.json", "scored.parquet", "reference.parquet", "labels.csv")
                   if not (args.data / f).is_file()]
        if missing:
            raise SystemExit(f"{args.data}: no {', '.join(missing)} (write it with benchmarks/independent_logs.py)")
    with tempfile.TemporaryDirectory(prefix="dg_indep_") as tmp:
        data = args.data
        if data is None:
            data = Path(tmp) / "data"
            gen = [sys.executable, str(HERE / "independent_logs.py"), "--seed", str(args.seed), "--out", str(data)]
            p = subprocess.run(gen + (["--small"] if args.small else []), capture_output=True, text=True)
            if p.returncode:
                raise SystemExit(f"the generator failed: {_last_line(p.stderr)}")
        manifest = json.loads((data / "manifest.json").read_text())
        if int(manifest.get("seed", -1)) != args.seed:
            raise SystemExit(f"{data} holds seed {manifest.get('seed')}, not {args.seed}")
        scored, reference = data / "scored.parquet", data / "reference.parquet"
        labels = pd.read_csv(data / "labels.csv", dtype={"account_id": str, "campaign_id": str})
        n_rows = len(pd.read_parquet(scored, columns=["account_id"]))
        ref_acc = pd.read_parquet(reference, columns=["account_id"])["account_id"]
        rec = new_record("benchmarks/api_logs_independent.py", argv if argv is not None else sys.argv[1:],
                         question="does logs score find the harvesters of traffic written by someone else?",
                         seed=args.seed, held_out=args.seed in HELD_OUT_SEEDS and not args.small,
                         small=args.small, rows=n_rows, accounts=int(len(labels)),
                         harvesters=int(labels["label"].sum()), reference_rows=int(len(ref_acc)),
                         reference_accounts=int(ref_acc.nunique()), generator_manifest=manifest)
        for mode, ref in (("with_reference", reference), ("without_reference", None)):
            rec[mode] = {}
            for fpr in FPRS:
                sc, dt, rc = run_cli(scored, ref, fpr, Path(tmp) / f"{mode}_{fpr:g}.csv")
                r = evaluate(sc, labels)
                r.update(seconds=dt, exit_code=rc)
                if rc != int(r["tpr"] > 0 or r["realised_fpr"]["flagged"] > 0):
                    raise SystemExit(f"exit code {rc} disagrees with the flags of {mode} at {fpr:g}")
                rec[mode][f"{fpr:g}"] = r
                print(f"{mode} @ {fpr:g}: TPR {r['tpr']:.3f}, benign flagged {r['realised_fpr']['flagged']}, "
                      f"{dt:.0f} s", file=sys.stderr)
    name = f"api_logs_independent_seed{args.seed}" + ("_small" if args.small else "")
    js, md = write_result(name, rec, render(rec), out_dir=args.out)
    print(f"wrote {js} and {md}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit code 0, or 2 with one line on stderr when the data, the generator or the CLI refuses."""
    return exit_on_refusal(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
