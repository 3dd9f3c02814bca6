"""Benchmark: students trained on sampled watermarked teacher answers -- detected, attributed, persistent?

Question (issue 3): with the key, do we detect and attribute a student that learned from the SmolLM2
teacher's watermarked answers -- at 100 %, 25 % and 5 % watermarked data, in reading and generation mode --
while clean students, other keys, the untouched teacher and Gemma-3-270M stay quiet? And how long does the
mark survive further clean fine-tuning or a paraphrased (randomly substituted) harvest?

Set-up: an h = 0 key (the demo's spec: gamma 0.25, delta 2, one keyed vocabulary order per account). The
teacher answers two disjoint sets of real ShareGPT prompts by sampling (T = 0.7): W with the sub-key of
account ``harvester``, C without watermark. A student of fraction f is trained on f x N answers from W and
(1 - f) x N from C (N answers in total, the same prompts' chat template + answer). Every student is tested
among ``--accounts`` account sub-keys (Holm), reading held-out ShareGPT answers (ChatGPT's text, independent
of the key) and answering held-out ShareGPT prompts. Every stage is cached under ``--out`` (harvests are
resumable JSONL, students carry a train.json marker, answers and predictions are saved), so a rerun costs
only the scoring.

    python benchmarks/radioactivity.py --out runs/radio-text --n 256 --teacher-copies 1:1,1:4,0.25:4
                                                                                        # the committed result
    python benchmarks/radioactivity.py --out runs/radio-quick --quick   # a few minutes; prints, writes nothing
Writes benchmarks/results/radioactivity.json and .md (never edit them by hand). The logit-distillation
(top-k) variant is benchmarks/radioactivity_logits.py.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.distill.bench import fraction_epochs, md_table, provenance_line, start_run, write_result
from distillguard.distill.sampled import harvest_pair, score_suspect, teacher_and_keys

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("reading-rank", "reading-rank-ref", "reading", "generation")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radio-text", help="cache directory (harvests, students, answers)")
    ap.add_argument("--n", type=int, default=256, help="answers per student (and per harvest)")
    ap.add_argument("--tokens", type=int, default=128, help="max new tokens per harvested answer")
    ap.add_argument("--fractions", default="1,0.25,0.05")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--accounts", type=int, default=1000, help="account sub-keys tested (harvester + others)")
    ap.add_argument("--read", type=int, default=100, help="held-out ShareGPT answers read (reading mode)")
    ap.add_argument("--queries", type=int, default=128, help="generation-mode prompts per suspect")
    ap.add_argument("--gemma-queries", type=int, default=32)
    ap.add_argument("--persist-epochs", default="1,4", help="epochs of further clean training of the 100%% student")
    ap.add_argument("--paraphrase", default="0.1,0.25", help="token substitution rates of the harvest")
    ap.add_argument("--teacher-copies", type=fraction_epochs, default=[],
                    help="comma-separated FRACTION:EPOCHS, one fine-tuned copy of the teacher each (slow on CPU), "
                         "e.g. 1:1,1:4,0.25:4 = the 100%% harvest for 1 and for 4 epochs, the 25%% mixture for 4")
    ap.add_argument("--quick", action="store_true", help="tiny sizes; prints the table, writes no result file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.tokens, args.epochs, args.accounts, args.read = 32, 32, 3, 50, 12
        args.queries, args.gemma_queries, args.persist_epochs, args.paraphrase = 16, 0, "1", "0.25"
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from distillguard.distill.harvest import real_texts
    from distillguard.distill.student import chat_sequences, substitute_tokens, train_text_student
    from distillguard.suspects import LocalSuspect

    t_start = time.perf_counter()
    out = Path(args.out)
    res, previous = start_run("benchmarks/radioactivity.py", __doc__, args)
    timings = res["timings_s"]
    teacher, accounts, keys, other = teacher_and_keys(out, args.accounts, res)
    tok = teacher.tokenizer
    n = args.n
    wm, clean, (_, _, q_prompts), counts = harvest_pair(teacher, out, n, args.queries, keys[0], args.tokens, timings)
    n = min(n, len(wm), len(clean))
    w_seqs = chat_sequences(tok, [(r["prompt"], r["response"]) for r in wm], 128, args.tokens)
    c_seqs = chat_sequences(tok, [(r["prompt"], r["response"]) for r in clean], 128, args.tokens)
    if len(w_seqs) != len(wm) or len(c_seqs) != len(clean):
        raise SystemExit("harvest and training sequences are misaligned (an answer encodes to no token)")
    from distillguard.demo import pooled_score

    res["harvest"] = {"answers": [len(wm), len(clean)], "generated_in_this_run": counts,
                      "answer_tokens": [sum(len(r["response_ids"]) for r in wm),
                                        sum(len(r["response_ids"]) for r in clean)],
                      "served_wm_text": pooled_score([r["response_ids"] for r in wm], keys[0]),
                      "served_clean_text": pooled_score([r["response_ids"] for r in clean], keys[0])}
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", args.read)]

    def test(name: str, suspect: Any, read: bool = True, prompts: list[str] = q_prompts,
             reference_lp: np.ndarray | None = None) -> dict[str, Any]:
        t = time.perf_counter()
        fresh = not (out / "answers" / f"{name}.json").exists()
        row = score_suspect(name, suspect, tok, keys, accounts, other, read_seqs, prompts, out, args.tokens, read,
                    reference_lp)
        if fresh:
            timings[f"test_{name}"] = round(time.perf_counter() - t, 1)
        return row

    order = np.random.default_rng(7).permutation(n)

    def mixture(f: float) -> tuple[list, int]:
        """f x n watermarked answers and the rest clean (the same draw for every student of fraction f)."""
        k = int(round(f * n))
        return [w_seqs[i] for i in order[:k]] + [c_seqs[i] for i in order[k:]], k

    rows = []
    fractions = [float(f) for f in args.fractions.split(",")]
    for f in [*fractions, 0.0]:
        name = f"wm{int(round(f * 100))}" if f > 0 else "clean"
        seqs, k = mixture(f)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=args.epochs, seed=0, desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": "from scratch, 2 layers d=256", "fraction": f, "watermarked_answers": k,
                     "watermarked_tokens": int(sum(len(wm[i]["response_ids"]) for i in order[:k])), "train": info})

    # persistence: the 100 % student trained further on clean teacher answers
    from transformers import AutoModelForCausalLM

    for e in [int(x) for x in args.persist_epochs.split(",") if x]:
        name = f"wm100+clean{e}ep"
        base = AutoModelForCausalLM.from_pretrained(out / "students" / "wm100", use_safetensors=True)
        info = train_text_student(out / "students" / name, tok, c_seqs, epochs=e, lr=1e-3, seed=1, init=base,
                                  desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": "100% student + further clean training", "fraction": 1.0,
                     "clean_steps": info["steps"], "train": info})
    # paraphrase: answer tokens of the watermarked harvest randomly substituted before training
    starts = [len(s) - len(tok.encode(r["response"], add_special_tokens=False)[: args.tokens]) - 1
              for s, r in zip(w_seqs, wm)]
    for rate in [float(x) for x in args.paraphrase.split(",") if x]:
        name = f"wm100-sub{int(rate * 100)}"
        seqs = substitute_tokens(w_seqs, rate, len(tok), start=starts, seed=3)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=args.epochs, seed=0, desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": f"from scratch on the harvest with {rate:.0%} of answer tokens substituted",
                     "fraction": 1.0, "substitution": rate, "train": info})
    from distillguard.distill.simulate import cached_predictions

    # the untouched teacher's averaged distribution: the reference for its fine-tuned copies (independent of
    # the key: the watermark is added at serving time)
    teacher_lp = cached_predictions(LocalSuspect(teacher), read_seqs,
                                    out / "preds" / "untouched-teacher.npz").mean_logprobs
    for f, e in args.teacher_copies:
        pct = int(round(f * 100))
        name = f"teacher-ft-wm{pct}" + ("" if e == 1 else f"-{e}ep")
        seqs, _ = mixture(f) if f < 1 else (w_seqs, n)  # 100 %: the harvest's own order, as the cached copies had
        init = None if (out / "students" / name / "train.json").exists() else copy.deepcopy(teacher.model)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=e, lr=1e-4, seed=0, init=init,
                                  desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name), reference_lp=teacher_lp)
        rows.append({**row, "student": f"copy of the teacher fine-tuned on the {pct}% harvest ({e} epochs)",
                     "fraction": f, "train": info})
    res["students"] = rows
    res["controls"] = [test("untouched-teacher", LocalSuspect(teacher))]
    if args.gemma_queries:
        from distillguard.errors import DistillguardError

        try:
            gemma = LocalSuspect.load("gemma3-270m")
            res["controls"].append(test("gemma3-270m", gemma, read=False, prompts=q_prompts[: args.gemma_queries]))
        except DistillguardError as exc:
            res["controls"].append({"suspect": "gemma3-270m", "not_run": str(exc)})
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    md = _markdown(res)
    print(md)
    previous.write_text(json.dumps(res, indent=2, default=str) + "\n")
    if not args.quick:
        write_result("radioactivity", res, md, RESULTS)
    return 0


def _cells(m: dict[str, Any]) -> list[str]:
    """The harvester's statistic, log10 p (Holm), detected (+ other accounts flagged), another key's log10 p."""
    h = m["harvester"]
    others = [a for a in m["flagged"] if a != "harvester"]
    stat = (f"mean rank {h['green_fraction']:.4f} (z {h['z']:.1f})" if h.get("statistic") == "rank" else
            f"{h['green']} / {h['scored']} = {h['green_fraction']:.3f}")
    return [stat, f"{h['log10_p']:.1f} ({h['log10_p_holm']:.1f})",
            f"{'**yes**' if h['detected'] else 'no'}{' + ' + ', '.join(others) if others else ''}",
            f"{m['other_key']['log10_p']:.1f}"]


def _markdown(res: dict[str, Any]) -> str:
    s = res["settings"]
    hv = res["harvest"]
    rows = []
    for r in res["students"] + res["controls"]:
        if "not_run" in r:
            rows.append([r["suspect"], "-", "-", "-", f"not run: {r['not_run']}", "", "", ""])
            continue
        frac = f"{r['fraction']:.0%}" if "fraction" in r else "-"
        rows += [[r["suspect"], frac, r.get("watermarked_tokens", "-"), mode, *_cells(r[mode])]
                 for mode in MODES if mode in r]
    calibration = [[r["suspect"], mode, c["keys"], f"{c['fpr_at_0.01']:.4f} ({c['rejections_0.01']} <= "
                    f"{c['bound_0.01_rejections_q999']})", f"{c['fpr_at_0.001']:.4f}", f"{c['min_p']:.2g}"]
                   for r in res["students"] + res["controls"] for mode in MODES if mode in r
                   for c in [r[mode]["null_accounts"]]]
    out = ["# Radioactivity of students trained on sampled watermarked answers\n",
           f"{provenance_line(res)}; this run took {res['seconds_total'] / 60:.1f} min.\n",
           f"Key: h = {res['spec']['context_width']}, gamma = {res['spec']['gamma']}, delta = {res['spec']['delta']}. "
           f"Harvests: {hv['answers'][0]} watermarked answers ({hv['answer_tokens'][0]} tokens; served text "
           f"{hv['served_wm_text']['green']} / {hv['served_wm_text']['scored']} green, log10 p "
           f"{hv['served_wm_text']['log10_p']:.0f}) and {hv['answers'][1]} clean answers ({hv['answer_tokens'][1]} "
           f"tokens). Each student: {s['n']} answers, {s['epochs']} epochs unless stated. Tested among "
           f"{s['accounts']} account sub-keys (Holm, alpha 1e-3); reading = {s['read']} held-out ShareGPT answers, "
           f"generation = {s['queries']} held-out ShareGPT prompts. Modes: reading-rank = the rank statistic "
           "(mean rank of the key's green tokens under the suspect's averaged next-token distribution, null 0.5, "
           "Wilcoxon rank sum, exact Chernoff bound), reading-rank-ref = the same relative to the untouched "
           "teacher (teacher copies only), "
           "reading = green coins of top-1 predictions (exact binomial), generation = green coins "
           "of the answers (exact binomial); the two reading statistics come from one reading pass.\n",
           *md_table(["suspect", "wm fraction", "wm tokens in training", "mode",
                      "harvester green / coins (or mean rank)", "log10 p (Holm)",
                      "detected (+ other accounts flagged)", "another key log10 p"], rows),
           "\nCalibration (the accounts each suspect never learned from: their p-values are null):\n",
           *md_table(["suspect", "mode", "null keys", "FPR at 0.01 (bound)", "FPR at 0.001", "min p"], calibration),
           "\nTimings (s; a stage reused from the cache keeps the time of the run that did it): "
           + ", ".join(f"{k} {v}" for k, v in res["timings_s"].items()),
           "Training times are in each student's `train` entry of radioactivity.json."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
