"""Benchmark: does the shadow student still help when its recipe does not match the suspect's?

Question: reading mode ranks the vocabulary relative to a *shadow student* (the provider distils its clean
teacher into a model shaped like the suspect; ``distillguard shadow``). The provider knows the suspect's
configuration (``config.json``) but not how long it was trained, on how much text, or with which seed. How
much of the shadow's gain survives when those differ?

The null does not depend on the recipe: the shadow never sees the key, so the rank test stays exact for any
shadow (checked again here on the 999 accounts the suspect never learned from). The recipe only moves the
power. Pre-registered before the run (2026-12-01): the suspect is the 5 % cell of the logit-distillation
benchmark (4L d=256, 2 epochs, 1,000 texts, h = 0, delta = 2) with a fresh key and ``--seed``; the shadows,
all distilled from the clean teacher on the provider's own 1,000 texts (disjoint from the suspect's), are:

* ``matched``: the suspect's recipe, seed + 1 (what ``benchmarks/radioactivity_logits.py --shadow`` trains);
* ``matched-seed``: the same recipe, seed + 2 (how much two shadows of one recipe differ);
* ``half-data``: the first 500 of those texts, 2 epochs (the provider has less text than the harvester);
* ``one-epoch``: 1 epoch instead of 2 (trained for half as long);
* ``shallower``: 2 layers instead of 4 (a wrong guess of the shape; d = 256, 2 epochs);
* ``narrower``: d = 128 instead of 256 (4 layers, 2 epochs).

    python benchmarks/shadow_mismatch.py --out runs/radio-logit-mm --seed 4   # the committed result
    python benchmarks/shadow_mismatch.py --quick                             # smoke run: prints only

Stages are cached under --out (the simulator's harvest, students and predictions; one directory per shadow).
Writes benchmarks/results/shadow_mismatch.json and .md (never edit them by hand).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.harvest import load_topk, real_texts
from distillguard.distill.simulate import (
    cached_predictions,
    make_key,
    mixed_targets,
    rank_row,
    run_simulation,
    train_logit_student,
)
from distillguard.keys import WatermarkKey
from distillguard.models import load_tokenizer
from distillguard.suspects import LocalSuspect

RESULTS = Path(__file__).resolve().parent / "results"
# name: (texts of the provider's harvest, epochs, layers, hidden, seed offset from --seed)
VARIANTS = {"matched": (None, None, 4, 256, 1), "matched-seed": (None, None, 4, 256, 2),
            "half-data": (0.5, None, 4, 256, 1), "one-epoch": (None, 1, 4, 256, 1),
            "shallower": (None, None, 2, 256, 1), "narrower": (None, None, 4, 128, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radio-logit-mm", help="cache directory (simulator stages, shadows)")
    ap.add_argument("--n-train", type=int, default=1000, help="texts of the suspect's and of the provider's harvest")
    ap.add_argument("--n-read", type=int, default=300, help="held-out texts both models read")
    ap.add_argument("--epochs", type=int, default=2, help="the suspect's epochs (and the matched shadow's)")
    ap.add_argument("--delta", type=float, default=2.0, help="delta of the new key (h = 0)")
    ap.add_argument("--fraction", type=float, default=0.05, help="watermarked fraction of the suspect's harvest")
    ap.add_argument("--accounts", type=int, default=1000, help="account sub-keys tested (Holm)")
    ap.add_argument("--seed", type=int, default=4, help="the suspect's seed (students, watermarked texts)")
    ap.add_argument("--variants", default=",".join(VARIANTS), help=f"shadows to train, in order: {','.join(VARIANTS)}")
    ap.add_argument("--quick", action="store_true", help="48 texts, 1 epoch: a smoke run that writes no result")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    t_start = time.perf_counter()
    out = Path(args.out if not args.quick else args.out + "-quick")
    n_train, n_read, epochs = (48, 24, 1) if args.quick else (args.n_train, args.n_read, args.epochs)
    names = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        ap.error(f"unknown variant(s) {unknown}: choose among {list(VARIANTS)}")

    # the suspect (and the matched shadow): the simulator's cached stages
    sim = run_simulation(out, fractions=[args.fraction], n_train=n_train, n_read=n_read, epochs=epochs,
                         quick=args.quick, n_accounts=args.accounts, delta=args.delta, context_width=0,
                         shadow=True, seed=args.seed, clean_control=False)
    tok = load_tokenizer(None)
    master = make_key(out / "teacher.key", tok, delta=args.delta, context_width=0)
    accounts = ["harvester"] + [f"acct-{i:04d}" for i in range(args.accounts - 1)]
    keys = [master.for_account(a) for a in accounts]
    other = WatermarkKey.generate(master.require_spec())
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", n_read)]
    suspect_name = f"wm{int(round(args.fraction * 100))}"
    suspect_lp = cached_predictions(None, [], out / "preds" / f"{suspect_name}.npz").mean_logprobs
    teacher_lp = cached_predictions(None, [], out / "preds" / f"teacher_read_{len(read_seqs)}.npz").mean_logprobs

    rows = [{"reference": "none (plain rank)", **rank_row(suspect_lp, keys, accounts, other)},
            {"reference": "untouched teacher", **rank_row(suspect_lp, keys, accounts, other, reference=teacher_lp)}]
    provider = load_topk(out / f"topk_shadow_{n_train}")  # the provider's own texts (clean teacher top-k)
    for name in names:
        share, n_ep, layers, hidden, offset = VARIANTS[name]
        n_ep = n_ep or epochs
        t0 = time.perf_counter()
        if name == "matched":  # trained by the simulator: same recipe, seed + 1
            sdir = out / "students" / "shadow"
        else:
            sdir = out / "students" / f"shadow-{name}"
        harvest = provider if share is None else provider.subset(np.arange(int(len(provider.lengths) * share)))
        ids, lp, _ = mixed_targets(harvest, None, 0.0)
        info = train_logit_student(harvest, ids, lp, tok, sdir, epochs=n_ep, layers=layers, hidden=hidden,
                                   desc=f"shadow {name}", seed=args.seed + offset)
        shadow_lp = cached_predictions(LocalSuspect.load(sdir), read_seqs,
                                       out / "preds" / f"shadow-{name}.npz").mean_logprobs
        rows.append({"reference": f"shadow: {name}", "variant": name,
                     "recipe": {"texts": int(len(harvest.lengths)), "positions": int(len(harvest.ids)),
                                "epochs": n_ep, "layers": layers, "hidden": hidden, "seed": args.seed + offset},
                     "train": info, "seconds": round(time.perf_counter() - t0, 1),
                     **rank_row(suspect_lp, keys, accounts, other, reference=shadow_lp)})
        print(_line(rows[-1]), flush=True)

    suspect_row = next(r for r in sim["rows"] if r["name"] == suspect_name)
    res = new_record(
        "benchmarks/shadow_mismatch.py", argv,
        question="how much of the shadow student's gain survives a recipe the provider guessed wrong?",
        suspect={"name": suspect_name, "fraction": args.fraction, "seed": args.seed,
                       "watermarked_positions": suspect_row["watermarked_positions"],
                       "positions": sim["positions"], "train": suspect_row["train"],
                       "spec": {"gamma": master.require_spec().gamma, "delta": args.delta, "context_width": 0}},
        texts_read=len(read_seqs), accounts=args.accounts, rows=rows,
        seconds_total=round(time.perf_counter() - t_start, 1))
    md = _markdown(res)
    print(md)
    if not args.quick:
        write_result("shadow_mismatch", res, md, RESULTS)
    return 0


def _cells(row: dict) -> list:
    k, o, n = row["key"], row["other_key"], row["null_accounts"]
    recipe = row.get("recipe")
    recipe = (f"{recipe['layers']}L d={recipe['hidden']}, {recipe['epochs']} ep, {recipe['texts']} texts "
              f"({recipe['positions']} pos.), seed {recipe['seed']}" if recipe else "-")
    return [row["reference"], recipe, f"{k['z']:.1f}", f"{k['log10_p']:.1f} ({k['log10_p_holm']:.1f})",
            ", ".join(row["flagged"]) or "none", f"{o['z']:.1f}",
            f"{n['rejections_0.01']} / {n['keys']} (bound {n['bound_0.01_rejections_q999']})",
            f"{n['ks_anticonservative_pvalue']:.2f}"]


_HEADER = ["reference", "shadow recipe", "z (harvester)", "log10 p (Holm)", "accounts flagged", "z (another key)",
           "null rejections at 0.01", "KS p"]


def _line(row: dict) -> str:
    """One row of the table (printed as each shadow is scored)."""
    return md_table(_HEADER, [_cells(row)])[-1]


def _markdown(res: dict) -> str:
    s = res["suspect"]
    lines = [
        "# Shadow students with a recipe that does not match the suspect's",
        "",
        f"{provenance_line(res)}; {res['seconds_total'] / 60:.1f} min (cached stages keep their own "
        "times: `train_seconds` in the JSON).",
        "",
        f"Suspect: from-scratch {s['train']['layers']}L d={s['train']['hidden']}, {s['train']['epochs']} epochs, "
        f"seed {s['seed']}, logit-distilled on {s['positions']} positions of which {s['watermarked_positions']} "
        f"({s['fraction']:.0%} of the texts) carry the harvester's watermark (h = 0, gamma = {s['spec']['gamma']}, "
        f"delta = {s['spec']['delta']}). Reading: {res['texts_read']} held-out ShareGPT answers. Every shadow is "
        "distilled from the clean teacher's top-20 on the provider's own texts (disjoint from the suspect's). "
        f"log10 p in brackets: Holm over {res['accounts']} account sub-keys; null accounts: rejections at 0.01 "
        "among the accounts the suspect never learned from (0.999 binomial bound) and the one-sided KS p.",
        "",
        *md_table(_HEADER, [_cells(r) for r in res["rows"]]),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
