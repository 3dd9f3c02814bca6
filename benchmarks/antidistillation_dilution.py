#!/usr/bin/env python
"""Antidistillation benchmark, dilution (issue 27): ADFP vs KGW at matched cost, students of diluted harvests.

Does an ADFP-marked harvest make a student more radioactive than a KGW-marked one at the same cost to the
teacher's answers, when the marked answers are only 100 %, 25 % or 5 % of the student's training answers?

Reuses the steps of ``benchmarks/antidistillation.py`` (``distillguard.distill.antidistillation_bench``;
``python benchmarks/antidistillation.py --dilution 1,0.25,0.05`` runs this script): the same teacher (SmolLM2-135M-Instruct), public benchmark key (h = 1, gamma 0.25, left
seeding), prompt splits Q/D/P/H, sampling seeds, student recipe (``--preset``'s layers, hidden size and epochs,
from scratch, answer-only loss, seed ``cfg.seed``) and caches; a student of the 100 % mixture *is* section 2's
student.

Comparison rule (fixed before the run, written here before any dilution student was trained):

* **Which lambda matches which delta**: section 2's rule, unchanged (:func:`distillguard.distill.antidistillation_bench.matched_pair`):
  KGW delta = 2 against ADFP (the teacher as proxy) at the grid lambda whose mean per-step KL from the unmarked
  T = 0.7 distribution, measured on Q, is nearest KGW delta = 2's on a log scale. At the CPU sizes that is
  ADFP lambda = 24 (KL 0.48 vs 0.46; paired PPL ratio 1.67 vs 1.71, so the pair is matched on both).
* **Training data**: the ``n_harvest`` marked H answers (48 tokens each, forced) of each scheme, followed by
  :func:`distillguard.distill.sampled.dilute`'s unmarked answers: ShareGPT (human prompt, ChatGPT answer)
  pairs (``diluent_pairs``, seed 7; none of them a prompt of Q/D/P/H or a reading text), each answer cut to
  ``new_tokens`` tokens so that the answer share is also the token share. The same diluent prefix for KGW,
  ADFP and the clean twin (the teacher's *unmarked* H answers in place of the marked ones: the null control).
* **Statistic** (primary): reading mode of ``distillguard.detect.radioactivity`` with the library's default
  statistic for this key (``reading_test``, ``statistic="auto"`` = ``top1`` for h = 1: distinct green coins of
  (previous token, the student's top-1 prediction), exact binomial) on ``--read`` held-out ShareGPT answers
  (``real_texts("read")``, 256 tokens each). Reported too, not used for the verdict: the windowed rank
  statistic (``statistic="rank"``), the held-out NLL and green mass on Q's clean answers, and the primary
  statistic of 50 unrelated keys on each student (its null).
* **Seeds**: one student per mixture, seed ``cfg.seed`` (0); sampling seeds as section 2 (H: 3). ``--seed 1
  --no-curve`` (added after the seed-0 run, a replicate of the diagnostic green-mass shifts, not part of the
  rule) trains the 25 % and 5 % mixtures again with student seed 1: ``antidistillation_dilution_seed1.*``.
* **Curve and extrapolation**: at the smallest fraction, students on the first 1/4, 1/2 and all of the marked
  answers (each with its 19x diluent at 5 %); log10 p (primary) against the number of marked answer tokens,
  least squares through the origin (log10 p = b x, the zero-signal point is exact); the marked tokens that
  would reach log10 p = -6 are -6 / b, labelled as an extrapolation, and none when b >= 0.
* **Target**: 5 % students with p <= 1e-6.

Usage:
    python benchmarks/antidistillation.py --dilution 1,0.25,0.05 --threads 1      # CPU sizes
    python benchmarks/antidistillation.py --dilution 1,0.25,0.05 --preset tiny    # smoke (seconds once cached)
    python benchmarks/antidistillation.py --dilution 0.25,0.05 --threads 1 --seed 1 --no-curve   # replicate

Results: ``benchmarks/results/antidistillation_dilution.{json,md}`` (cpu), ``..._gpu`` (gpu), and
``$DISTILLGUARD_CACHE/bench/antidistillation_dilution_tiny.*`` (tiny).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.data import real_texts
from distillguard.detect.radioactivity import read_predictions, reading_test, score_predictions
from distillguard.distill import antidistillation_bench as ad
from distillguard.distill.bench import machine_text, md_table, new_record, write_result
from distillguard.distill.sampled import diluent_count, diluent_pairs, dilute
from distillguard.distill.student import chat_examples
from distillguard.models import LoadedModel, cache_dir
from distillguard.suspects import LocalSuspect
from distillguard.watermark import ADFPLogitsProcessor, WatermarkLogitsProcessor

NAME = "antidistillation_dilution"
NULL_KEYS = 50
TARGET_LOG10_P = -6.0


def parse_args(argv: Sequence[str] | None = None) -> tuple[ad.Config, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dilution", default="1,0.25,0.05", help="marked shares of the training answers")
    ap.add_argument("--preset", choices=sorted(ad.PRESETS), default="cpu")
    ap.add_argument("--tiny", dest="preset", action="store_const", const="tiny", help="same as --preset tiny")
    ap.add_argument("--gpu", dest="preset", action="store_const", const="gpu", help="same as --preset gpu")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: the preset's)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--read", type=int, default=None, help="held-out ShareGPT answers read (default 100, tiny 8)")
    ap.add_argument("--seed", type=int, default=None, help="student seed (default the preset's, 0); another seed "
                    "is a replicate: its students and result file carry the seed in their names")
    ap.add_argument("--no-curve", action="store_true", help="skip the smaller marked sets at the smallest fraction")
    args = ap.parse_args(argv)
    fractions = sorted({float(x) for x in args.dilution.split(",") if x.strip()}, reverse=True)
    if not fractions or not all(0 < f <= 1 for f in fractions):
        ap.error("--dilution: comma-separated shares in (0, 1]")
    args.fractions = fractions
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = ad.PRESETS[args.preset]
    if args.device:
        cfg = replace(cfg, device=args.device)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    args.read = args.read or (8 if cfg.preset == "tiny" else 100)
    if args.seed is not None:
        cfg = replace(cfg, seed=args.seed)
    return cfg, args



def extrapolate(points: list[tuple[int, float]]) -> dict[str, Any]:
    """log10 p = b x through the origin (x = marked tokens), least squares; tokens to reach 1e-6 = -6 / b.

    Example:
        >>> extrapolate([(100, -1.0), (200, -2.0)])["tokens_for_target"]
        600
        >>> extrapolate([(100, 0.0), (200, -0.0)])["tokens_for_target"] is None
        True
    """
    x = np.array([p[0] for p in points], float)
    y = np.array([p[1] for p in points], float)
    b = float((x * y).sum() / (x * x).sum())
    need = int(round(TARGET_LOG10_P / b)) if b < 0 else None
    return {"model": "log10 p = b * marked_tokens (least squares through the origin)", "b_per_1k_tokens": b * 1e3,
            "points": [[int(a), float(c)] for a, c in points], "tokens_for_target": need,
            "target_log10_p": TARGET_LOG10_P}


def run(cfg: ad.Config, args: argparse.Namespace) -> dict[str, Any]:
    t_start = time.time()
    bench = ad.setup(cfg)
    key, tok, work = bench.key, bench.teacher.tokenizer, bench.work
    Q, H = bench.splits["Q"], bench.splits["H"]
    res: dict[str, Any] = {"config": asdict(cfg), "fractions": args.fractions,
                           "splits": {s: len(v) for s, v in bench.splits.items()}, "timings_s": {}}

    # the matching rule of section 2 on the Q grid of KGW and ADFP (cached generations and Gemma NLLs reused)
    t0 = time.time()
    grid = []
    base_ppl = None
    for kind, value, marks in ([("none", 0.0, [])] + [("kgw", d, [WatermarkLogitsProcessor(key, delta=d)])
                                                     for d in cfg.kgw_deltas]
                               + [("adfp", lam, [ADFPLogitsProcessor(key, lam=lam)]) for lam in cfg.adfp_lams]):
        _, stats = bench.answers(Q, marks, ad.BASE_T, key, 0, f"Q_{kind}_{value:g}")
        row = {"kind": kind, "value": value, "label": {"none": "none", "kgw": f"KGW δ={value:g}",
                                                        "adfp": f"ADFP λ={value:g}"}[kind], "kl": stats["kl"]}
        ppl_path = work / f"ppl_Q_{kind}_{value:g}.json"  # section 1's paired PPL, when it has been measured
        if ppl_path.exists():
            ppl = np.array([math.exp(a / b) if b else math.nan for a, b in json.loads(ppl_path.read_text())])
            base_ppl = ppl if kind == "none" else base_ppl
            if base_ppl is not None:
                row["paired_ppl_ratio"] = ad.paired_ratio(ppl, base_ppl)[0]
        grid.append(row)
    kgw, adfp = ad.matched_pair(grid)
    res["matched"] = {"kgw": kgw, "adfp": adfp}
    print(f"matched: {kgw['label']} (KL {kgw['kl']:.3f}) vs {adfp['label']} (KL {adfp['kl']:.3f})", flush=True)

    # the marked harvests (section 2's, cached) and the teacher's unmarked answers to the same prompts
    conds = {"kgw": (kgw, [WatermarkLogitsProcessor(key, delta=kgw["value"])]),
             "adfp": (adfp, [ADFPLogitsProcessor(key, lam=adfp["value"])]),
             "clean": ({"kind": "none", "value": 0.0, "label": "none (clean twin)"}, [])}
    section2 = {"kgw": "kgw", "adfp": "adfp", "clean": "none"}
    harvest = {}
    for name, (row, marks) in conds.items():
        ids, _ = bench.answers(H, marks, ad.BASE_T, key, 3, f"H_{section2[name]}_{row['value']:g}")
        harvest[name] = list(zip(H, bench.text(ids)))
    res["timings_s"]["harvest"] = round(time.time() - t0, 1)

    # the diluent: public ShareGPT pairs, answers cut to new_tokens tokens; none a prompt of ours or a reading text
    read_texts = real_texts("read", args.read)
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in read_texts]
    n_h = len(H)
    curve_sizes = sorted({max(1, n_h // 4), max(1, n_h // 2), n_h})
    f_min = min(args.fractions)
    n_dil = diluent_count(n_h, f_min)
    pool = diluent_pairs(max(n_dil, 1), {p for v in bench.splits.values() for p in v}, set(read_texts))[0] if n_dil else []
    pool = [(q, tok.decode(tok.encode(a, add_special_tokens=False)[: cfg.new_tokens])) for q, a in pool]

    plan = []  # (fraction, marked answers, condition): the full harvest at every fraction, the curve at f_min
    for f in sorted(args.fractions):
        plan += [(f, n_h, c) for c in ("kgw", "adfp", "clean")]
    if not args.no_curve:
        plan += [(f_min, m, c) for m in curve_sizes if m < n_h for c in ("kgw", "adfp")]
    seed_tag = f"_s{cfg.seed}" if cfg.seed != ad.PRESETS[cfg.preset].seed else ""  # replicates: their own students
    nulls = ad.null_keys(key, NULL_KEYS)
    q_clean = list(zip(Q, bench.text(bench.answers(Q, [], ad.BASE_T, key, 0, "Q_none_0")[0])))
    students = []
    t0 = time.time()
    for f, m, name in plan:
        row = conds[name][0]
        pairs = dilute(harvest[name][:m], pool, f)
        if f == 1 and m == n_h and not seed_tag:  # section 2's student: the same data, recipe and seed
            out = work / f"student_{section2[name]}_{row['value']:g}"
        else:
            out = work / f"dil_student_{section2[name]}_{row['value']:g}_f{f:g}_m{m}{seed_tag}"
        seqs, starts = chat_examples(tok, pairs)
        ans_tokens = [len(s) - a - 1 for s, a in zip(seqs, starts)]
        t1 = time.time()
        model = ad.student_on(tok, pairs, out, cfg, f"{name} f={f:g} m={m}")
        train = json.loads((out / "train.json").read_text())
        suspect = LocalSuspect(LoadedModel(model, tok, f"student {out.name}", out.name, True))
        preds = read_predictions(suspect, read_seqs, context_width=key.require_spec().context_width)
        top1 = reading_test(None, [key], predictions=preds, statistic="auto").results[0]
        rank = reading_test(None, [key], predictions=preds, statistic="rank").results[0]
        null = np.array([s.log10_p for s in score_predictions(preds, nulls)])
        read = ad.read_student(model, tok, q_clean, key)
        st = {"fraction": f, "marked_answers": m, "condition": name, "teacher_condition": row["label"],
              "answers": len(seqs), "marked_tokens": int(sum(ans_tokens[:m])), "answer_tokens": int(sum(ans_tokens)),
              "student": out.name, "train_seconds": train.get("seconds"), "train_steps": train.get("steps"),
              "reading": {"statistic": top1.statistic, "green": top1.green, "scored": top1.scored,
                          "green_fraction": top1.green_fraction, "z": top1.z, "log10_p": top1.log10_p},
              "reading_rank": {"green_fraction": rank.green_fraction, "z": rank.z, "log10_p": rank.log10_p},
              "null_keys_log10_p": {"n": len(null), "median": float(np.median(null)), "min": float(null.min())},
              "heldout_nll": float(np.mean(read["nll"])), "green_mass": float(np.mean(read["green"])),
              "per_text_green": read["green"],
              "seconds": round(time.time() - t1, 1)}
        students.append(st)
        print(f"f={f:g} m={m:>3} {name:>5}: {st['marked_tokens']}/{st['answer_tokens']} marked tokens  top1 "
              f"{top1.green}/{top1.scored} log10 p {top1.log10_p:.2f}  rank log10 p {rank.log10_p:.2f}  "
              f"nll {st['heldout_nll']:.3f}  ({st['seconds']:.0f}s)", flush=True)
    for st in students:  # green mass against the clean twin of the same mixture (paired over Q texts)
        twin = next((t for t in students if t["condition"] == "clean" and t["fraction"] == st["fraction"]
                     and t["marked_answers"] == st["marked_answers"]), None)
        if twin is not None and twin is not st:
            d = np.array(st["per_text_green"]) - np.array(twin["per_text_green"])
            st["green_vs_twin"] = {"mean": float(d.mean()),
                                   "t": float(d.mean() / (d.std(ddof=1) / math.sqrt(len(d)) + 1e-12))}
    res["students"] = students
    res["timings_s"]["students"] = round(time.time() - t0, 1)
    res["extrapolation"] = {}
    for name in ("kgw", "adfp") if not args.no_curve else ():
        pts = sorted((s["marked_tokens"], s["reading"]["log10_p"]) for s in students
                     if s["fraction"] == f_min and s["condition"] == name)
        below = sum(s["reading"]["log10_p"] < s["null_keys_log10_p"]["min"] for s in students
                    if s["fraction"] == f_min and s["condition"] == name)
        res["extrapolation"][name] = {**extrapolate(pts), "fraction": f_min, "below_null_min": int(below)}
    res["read"] = {"texts": len(read_seqs), "tokens": int(sum(map(len, read_seqs)))}
    res["diluent"] = {"source": "ShareGPT (human prompt, ChatGPT answer) pairs, diluent_pairs seed 7",
                      "pairs": len(pool), "answer_tokens_max": cfg.new_tokens}
    res["timings_s"]["total"] = round(time.time() - t_start, 1)
    return res


def markdown(res: dict[str, Any]) -> str:
    cfg, run = res["config"], res["run"]
    kgw, adfp = res["matched"]["kgw"], res["matched"]["adfp"]

    def ppl(r):
        return f"{r['paired_ppl_ratio']:.2f}" if "paired_ppl_ratio" in r else "n/a"

    lines = [f"# Antidistillation, dilution: ADFP vs KGW students of 100 / 25 / 5 % marked data ({cfg['preset']} sizes)",
             "", f"Command: `{run['command']}`; {run['utc']}; machine: {machine_text(run['machine'])}; "
             f"total {res['timings_s']['total']:.0f} s (this invocation; cached harvests and students are reused); "
             f"student training {sum(s['train_seconds'] or 0 for s in res['students']):.0f} s in all (their "
             "train.json).", "",
             f"Question: {res['question']}", "",
             f"Matched pair (section 2's rule, fixed before the run): {kgw['label']} (KL/step {kgw['kl']:.3f}, "
             f"paired PPL ratio {ppl(kgw)}) vs {adfp['label']} (KL/step {adfp['kl']:.3f}, paired PPL ratio "
             f"{ppl(adfp)}). Marked data: the {res['splits']['H']} H answers ({cfg['new_tokens']} tokens each) of "
             f"each scheme; the rest: {res['diluent']['source']}, answers cut to {cfg['new_tokens']} tokens. "
             f"Students {cfg['student_layers']}x{cfg['student_hidden']}, {cfg['student_epochs']} epochs, seed "
             f"{cfg['seed']}. Reading: {res['read']['texts']} held-out ShareGPT answers "
             f"({res['read']['tokens']} tokens).", "",
             "## Students", ""]
    rows = []
    for s in res["students"]:
        r, rk, nl = s["reading"], s["reading_rank"], s["null_keys_log10_p"]
        rows.append([f"{s['fraction']:g}", s["condition"], s["teacher_condition"], s["marked_answers"],
                     f"{s['marked_tokens']}/{s['answer_tokens']}", f"{r['green']}/{r['scored']}", f"{r['z']:.2f}",
                     f"{r['log10_p']:.2f}", f"{nl['median']:.2f} / {nl['min']:.2f}", f"{rk['log10_p']:.2f}",
                     f"{s['heldout_nll']:.3f}", f"{s['green_mass']:.4f}",
                     f"{s['green_vs_twin']['mean']:+.4f} (t {s['green_vs_twin']['t']:.1f})" if "green_vs_twin" in s else "",
                     f"{s['train_seconds']}"])
    lines += md_table(["fraction", "student", "teacher", "marked answers", "marked / all answer tokens",
                       "top-1 green/coins", "z", "log10 p (primary)", "50 null keys: median / min log10 p",
                       "log10 p (window rank)", "held-out NLL", "green mass", "vs clean twin", "train s"], rows,
                      align="lllrrrrrrrrrrr")
    if res["extrapolation"]:
        lines += ["", f"## Curve at {min(res['fractions']):g} and extrapolation (labelled: a fit, not a measurement)", ""]
    erows = []
    for name, e in res["extrapolation"].items():
        pts = ", ".join(f"{x}: {y:.2f}" for x, y in e["points"])
        need = e["tokens_for_target"]
        erows.append([name, pts, f"{e['below_null_min']}/{len(e['points'])}", f"{e['b_per_1k_tokens']:+.3f}",
                      f"~{need:,} (extrapolated)" if need else "none (no downward trend: not extrapolable)"])
    if erows:
        lines += md_table(["student", "marked tokens: log10 p", "points below the null keys' min",
                           "fitted log10 p per 1k marked tokens", "marked tokens for p = 1e-6"], erows, align="llrlr")
    lines += ["", "## Notes", ""] + [f"- {x}" for x in NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "Primary statistic: distillguard.detect.radioactivity.reading_test with statistic 'auto' (top-1 coins for this "
    "h = 1 key): distinct (previous token, top-1 prediction) coins on the reading texts, green ones vs gamma 0.25, "
    "exact binomial. The same test and the same green lists for both schemes. 'window rank' is reading_test's "
    "statistic 'rank' (h >= 1 with left seeding: one frequent window per keyed order); reported, not the verdict.",
    "Clean twin: the same mixture with the teacher's unmarked answers to the same H prompts in place of the marked "
    "ones; with the 50 unrelated keys, the null of each row. The 100 % students are section 2's (same data, "
    "recipe and seed; their cache is reused).",
    "Held-out NLL and green mass: the student on Q's clean teacher answers (antidistillation.read_student); 'vs "
    "clean twin' is the green-mass difference to the clean twin of the same mixture, paired t over the Q texts "
    "(a diagnostic: is the mark in the weights at all; not a test with a calibrated null, one seed each).",
    "A point of the curve counts as signal only below the 50 unrelated keys' minimum log10 p on the same student; "
    "when no point is, the fitted line measures noise and its token count is not an estimate: under the null "
    "log10 p is not 0 but -0.43 on average (median -0.30), so a line through the origin fitted to null points "
    "still slopes down.",
    "Extrapolation: a straight line through the origin in (marked tokens, log10 p) over the smallest fraction's "
    "points; with a linear growth of the student's bias, log10 p would fall faster (quadratically), so the line "
    "errs on the side of more tokens. One seed per mixture: read single rows as indications.",
]


def main(argv: Sequence[str] | None = None) -> int:
    cfg, args = parse_args(argv)
    argl = list(sys.argv[1:] if argv is None else argv)
    script = "benchmarks/antidistillation.py" if "--dilution" in argl else "benchmarks/antidistillation_dilution.py"
    rec = new_record(script, argl, question=__doc__.split("\n\n")[1].replace("\n", " "))
    res = {**rec, **run(cfg, args), "notes": NOTES}
    name = {"cpu": NAME, "gpu": f"{NAME}_gpu"}.get(cfg.preset, f"{NAME}_{cfg.preset}")
    if cfg.seed != ad.PRESETS[cfg.preset].seed:
        name += f"_seed{cfg.seed}"
    out_dir = Path(__file__).resolve().parent / "results" if cfg.preset in ("cpu", "gpu") else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    js, md = write_result(name, res, markdown(res), out_dir=out_dir)
    print(f"wrote {js}, {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
