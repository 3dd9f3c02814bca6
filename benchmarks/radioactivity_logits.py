"""Benchmark (logit distillation): is a student trained on watermarked top-k log-probs radioactive?

Question: with the key, do we detect (and attribute) a student trained on the teacher's watermarked
top-k log-probs, while clean students, another key, the untouched teacher, a clean model reading its own
watermarked output (the hard null) and an independent model (Gemma-3-270M, generation mode) stay quiet?

Every cell says which harvest it comes from. Only logit distillation (teacher-forced top-20 log-probs on
real ShareGPT answers) fits this CPU machine; sampled-text students need ~1M+ harvested tokens and are
covered by benchmarks/radioactivity.py (h = 0 keys). Stages are cached under --out (harvest shards, students, predictions), so a rerun is
cheap and an interrupted run resumes.

    python benchmarks/radioactivity_logits.py --out runs/radioactivity --n-train 1000 --fractions 1
    python benchmarks/radioactivity_logits.py --quick   # CI smoke run
Writes benchmarks/results/radioactivity_logits.json and .md (never edit them by hand).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from distillguard.detect.radioactivity import (
    account_keys,
    generation_test,
    reading_test,
    score_predictions,
    versions,
)
from distillguard.detect.stats import null_summary
from distillguard.distill.harvest import real_texts
from distillguard.distill.simulate import cached_predictions, make_key, run_simulation
from distillguard.errors import DistillguardError
from distillguard.models import load_model
from distillguard.suspects import LocalSuspect

RESULTS = Path(__file__).resolve().parent / "results"


def _calibration(preds, master, n_keys: int) -> dict:
    keys = account_keys(master, [f"null-{i:05d}" for i in range(n_keys)])
    return null_summary([r.p_value for r in score_predictions(preds, keys, alpha=1.0)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radioactivity")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-read", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--fractions", default="1,0.25,0.05")
    ap.add_argument("--planned-fractions", default="1,0.25,0.05", help="cells reported as not run if missing")
    ap.add_argument("--teacher-read", type=int, default=60, help="texts the untouched teacher reads")
    ap.add_argument("--hard-null-prompts", type=int, default=16)
    ap.add_argument("--gemma-prompts", type=int, default=16)
    ap.add_argument("--null-keys", type=int, default=1000)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-train", action="store_true", help="test only students already trained in --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    t_start = time.perf_counter()
    out = Path(args.out)
    fractions = [float(f) for f in args.fractions.split(",")]
    res: dict = {"question": "is a student distilled from watermarked top-k log-probs detected and attributed, "
                 "and are all nulls quiet?",
                 "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                 "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                             "torch_threads": torch.get_num_threads(), "gpu": torch.cuda.is_available(),
                             "note": "2 shared CPU cores (other jobs running): absolute times are noisy"},
                 "command": " ".join(shlex.quote(a) for a in [sys.executable.split("/")[-1], *sys.argv]),
                 "versions": versions()}
    t0 = time.perf_counter()
    sim = run_simulation(out, fractions=fractions, n_train=args.n_train, n_read=args.n_read, epochs=args.epochs,
                         quick=args.quick, n_accounts=args.null_keys,
                         train_missing=not args.no_train)
    res["simulation"] = {**sim, "seconds": round(time.perf_counter() - t0, 1)}
    done = {r["fraction"] for r in sim["rows"]}
    reason = "not run: CPU time budget of this session (a student took 20+ min on 2 overloaded shared cores)"
    res["not_run"] = [{"cell": f"from-scratch student, {int(float(f) * 100)}% watermarked", "reason": reason}
                      for f in args.planned_fractions.split(",") if float(f) not in done]
    if 0.0 not in done:
        res["not_run"].append({"cell": "same student distilled from the unwatermarked teacher (clean control)",
                               "reason": reason})
    res["not_run"] += [
        {"cell": "students on sampled watermarked text (fine-tuned teacher copy, from-scratch student)",
         "reason": "not run: needs ~1M+ sampled tokens; sampling runs at ~105 tokens/s on this machine "
                   "(~3 h). Issue 3 measured here: 16k-29k sampled tokens give no signal. Use a GPU."},
        {"cell": "teacher copy fine-tuned on the top-k harvest", "reason": "not run: CPU time budget"},
        {"cell": "persistence (further clean fine-tuning, paraphrased harvest)", "reason": "not run: CPU time budget"}]

    teacher = load_model(None)
    tok = teacher.tokenizer
    master = make_key(out / "teacher.key", tok)
    key = master.for_account("harvester")
    n_read = min(args.n_read, 24) if args.quick else args.n_read
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", n_read)]

    # calibration: 1,000 null keys on the clean student's (and the untouched teacher's) fixed predictions
    cal = {}
    for name in ("clean", "wm100"):
        path = out / "preds" / f"{name}.npz"
        if path.exists():  # for wm100 these are the null accounts (every account but the harvester)
            preds = cached_predictions(None, [], path)
            cal[f"{name}_student" if name == "clean" else "wm100_student_other_accounts"] = _calibration(
                preds, master, args.null_keys)
    t0 = time.perf_counter()
    n_t = min(args.teacher_read, 8) if args.quick else args.teacher_read
    tpreds = cached_predictions(LocalSuspect(teacher), read_seqs[:n_t], out / "preds" / f"teacher_{n_t}.npz")
    tr = reading_test(None, [key], predictions=tpreds)
    res["teacher_control"] = {"suspect": "untouched SmolLM2 teacher (reading mode, clean text)",
                              "texts_read": n_t, **tr.best.to_dict(), "seconds": round(time.perf_counter() - t0, 1)}
    cal["untouched_teacher"] = _calibration(tpreds, master, args.null_keys)
    res["calibration"] = cal

    # hard null: the clean teacher reading its own watermarked output
    t0 = time.perf_counter()
    from distillguard.data import sharegpt_prompts
    from distillguard.watermark.generate import generate_jsonl

    n_hn = min(args.hard_null_prompts, 4) if args.quick else args.hard_null_prompts
    hn_path = out / f"hard_null_{n_hn}.jsonl"
    prompts = [{"id": f"hn{i}", "prompt": p} for i, p in enumerate(sharegpt_prompts(n_hn, seed=5, max_chars=400))]
    generate_jsonl(teacher, prompts, hn_path, key, batch_size=16, max_new_tokens=128, temperature=1.0)
    texts = [json.loads(x)["response"] for x in hn_path.read_text().splitlines()]
    naive = reading_test(LocalSuspect(teacher), [key], texts, allow_keyed_text=True)
    try:
        reading_test(LocalSuspect(teacher), [key], texts)
        guarded = "scored (text not detected as keyed)"
    except DistillguardError as exc:
        guarded = f"refused: {exc}"
    res["hard_null"] = {"suspect": "untouched teacher reading its own watermarked samples (same key)",
                        "sampled_tokens": naive.units["tokens_read"], "naive": naive.best.to_dict(),
                        "default_pipeline": guarded, "seconds": round(time.perf_counter() - t0, 1)}

    # Gemma-3-270M: independent model, other tokenizer -> generation mode
    t0 = time.perf_counter()
    try:
        gemma = LocalSuspect.load("gemma3-270m")
        n_g = min(args.gemma_prompts, 4) if args.quick else args.gemma_prompts
        g = generation_test(gemma, [key], tok, n_prompts=n_g, max_new_tokens=96)
        res["gemma_generation"] = {"suspect": gemma.identity, "queries": n_g, **g.units, **g.best.to_dict(),
                                   "seconds": round(time.perf_counter() - t0, 1)}
    except DistillguardError as exc:
        res["gemma_generation"] = {"not_run": str(exc)}
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "radioactivity_logits.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    md = _markdown(res)
    (RESULTS / "radioactivity_logits.md").write_text(md)
    print(md)
    return 0


def _fmt_p(d: dict) -> str:
    return f"{d['green_fraction']:.3f} | {d['scored']} | {d['log10_p']:.2f}"


def _markdown(res: dict) -> str:
    lines = ["| suspect | harvest | wm fraction | harvested positions | test key | green rate | scored coins | "
             "log10 p |", "|---|---|---|---|---|---|---|---|"]
    for r in res["simulation"]["rows"]:
        pos = r["train"]["positions"]
        lines.append(f"| {r['student']} ({r['name']}) | {r['harvest']} | {r['fraction']:.2f} | {pos} | "
                     f"our key | {_fmt_p(r['key'])} |")
        lines.append(f"| {r['student']} ({r['name']}) | same | {r['fraction']:.2f} | {pos} | another key | "
                     f"{_fmt_p(r['other_key'])} |")
    t = res["teacher_control"]
    lines.append(f"| untouched teacher (reading clean text) | none | - | - | our key | {_fmt_p(t)} |")
    h = res["hard_null"]
    lines.append(f"| untouched teacher reading its own watermarked samples, NAIVE | sampled text "
                 f"({h['sampled_tokens']} tokens) | - | - | our key | {_fmt_p(h['naive'])} |")
    g = res.get("gemma_generation", {})
    if "green_fraction" in g:
        lines.append(f"| Gemma-3-270M (generation mode, {g['queries']} queries) | none | - | - | our key | "
                     f"{_fmt_p(g)} |")
    lines.append("")
    lines.append(f"Default pipeline on the hard-null text: {h['default_pipeline'][:160]}")
    lines.append("")
    for r in res["simulation"]["rows"]:
        a = r["attribution"]
        lines.append(f"- attribution ({r['name']}): {a['accounts']} account sub-keys, flagged: "
                     f"{a['flagged'] or 'none'} (Holm, alpha 1e-3)")
    for name, c in res["calibration"].items():
        lines.append(f"- calibration ({name}, {c['keys']} null keys): FPR {c['fpr_at_0.01']:.3f} at 0.01, "
                     f"{c['fpr_at_0.001']:.4f} at 0.001; KS vs uniform p = {c['ks_uniform_pvalue']:.3f}")
    for n in res["not_run"]:
        lines.append(f"- {n['cell']}: {n['reason']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
