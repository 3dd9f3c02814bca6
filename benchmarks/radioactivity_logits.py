"""Benchmark (logit distillation): is a student trained on watermarked top-k log-probs radioactive?

Question: with the key, do we detect (and attribute) a student trained on the teacher's watermarked
top-k log-probs, while clean students, another key, the untouched teacher, a clean model reading its own
watermarked output (the hard null) and an independent model (Gemma-3-270M, generation mode) stay quiet?

Every cell says which harvest it comes from: teacher-forced top-20 log-probs on real ShareGPT answers (the
teacher's forward pass is shared by every key and fraction, so it is cheap on a CPU). Students on sampled
watermarked text are benchmarks/radioactivity.py. Every student is scored by top-1 coins and, for h = 0
keys, by the rank statistic, among --null-keys account sub-keys (Holm). Stages are cached under --out
(harvest shards, students, predictions), so a rerun is cheap and an interrupted run resumes; the top-k
harvest does not depend on the key, so a link to another run's topk_train_N directory reuses it.

    python benchmarks/radioactivity_logits.py --out runs/radio-logit-h0 --n-train 1000 --epochs 2 \
        --context-width 0 --delta 2 --shadow              # the committed result
    python benchmarks/radioactivity_logits.py --out runs/radio-logit-rep --n-train 1000 --epochs 2 \
        --context-width 0 --delta 2 --shadow --fractions 0.05 --planned-fractions 0.05 --seed 2 \
        --no-clean-control --result-name radioactivity_logits_replication   # the 5 % cell, fresh key and seeds
    python benchmarks/radioactivity_logits.py --out runs/radioactivity --n-train 1000 --fractions 1  # h = 1
    python benchmarks/radioactivity_logits.py --quick   # smoke run: prints, writes no result file
Writes benchmarks/results/radioactivity_logits.json and .md (never edit them by hand).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from distillguard.detect.radioactivity import (
    account_keys,
    generation_test,
    reading_test,
    score_predictions,
    score_ranks,
)
from distillguard.detect.stats import null_summary
from distillguard.distill.bench import fraction_epochs, md_table, new_record, provenance_line, write_result
from distillguard.distill.harvest import real_texts
from distillguard.distill.simulate import cached_predictions, make_key, run_simulation
from distillguard.errors import DistillguardError
from distillguard.models import load_model
from distillguard.suspects import LocalSuspect

RESULTS = Path(__file__).resolve().parent / "results"


def _calibration(preds, master, n_keys: int, rank: bool = False, reference=None) -> dict:
    keys = account_keys(master, [f"null-{i:05d}" for i in range(n_keys)])
    scores = (score_ranks(preds.mean_logprobs, keys, alpha=1.0, reference=reference) if rank
              else score_predictions(preds, keys, alpha=1.0))
    return null_summary([r.p_value for r in scores])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radioactivity")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-read", type=int, default=300)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--context-width", type=int, default=1, help="h of a new key (0 = one green list per account)")
    ap.add_argument("--delta", type=float, default=3.0, help="delta of a new key")
    ap.add_argument("--longer", type=fraction_epochs, default=[],
                    help="extra students FRACTION:EPOCHS,... trained for other epoch counts, e.g. 0.05:6")
    ap.add_argument("--fractions", default="1,0.25,0.05")
    ap.add_argument("--planned-fractions", default="1,0.25,0.05", help="cells reported as not run if missing")
    ap.add_argument("--teacher-read", type=int, default=60, help="texts the untouched teacher reads")
    ap.add_argument("--hard-null-prompts", type=int, default=16)
    ap.add_argument("--gemma-prompts", type=int, default=16)
    ap.add_argument("--null-keys", type=int, default=1000)
    ap.add_argument("--shadow", action="store_true",
                    help="h = 0: also rank relative to a shadow student the provider distils itself (clean, other "
                    "texts, other seed)")
    ap.add_argument("--seed", type=int, default=0,
                    help="students' initialisation and which texts are watermarked (the shadow uses seed + 1)")
    ap.add_argument("--no-clean-control", action="store_true", help="skip the clean student (replicating a cell)")
    ap.add_argument("--result-name", default="radioactivity_logits",
                    help="file name under benchmarks/results/ (another name keeps the committed result)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-train", action="store_true", help="test only students already trained in --out")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    t_start = time.perf_counter()
    out = Path(args.out)
    fractions = [float(f) for f in args.fractions.split(",")]
    res = new_record("benchmarks/radioactivity_logits.py", argv,
                     question="is a student distilled from watermarked top-k log-probs detected and attributed, "
                     "and are all nulls quiet?",
                     note="2 shared CPU cores (other jobs running): absolute times are noisy")
    t0 = time.perf_counter()
    sim = run_simulation(out, fractions=fractions, n_train=args.n_train, n_read=args.n_read, epochs=args.epochs,
                         quick=args.quick, n_accounts=args.null_keys, delta=args.delta,
                         context_width=args.context_width, longer=args.longer,
                         train_missing=not args.no_train, shadow=args.shadow, seed=args.seed,
                         clean_control=not args.no_clean_control)
    res["simulation"] = {**sim, "seconds": round(time.perf_counter() - t0, 1)}
    done = {r["fraction"] for r in sim["rows"]}
    reason = "not run in this invocation (--fractions)"
    res["not_run"] = [{"cell": f"from-scratch student, {int(float(f) * 100)}% watermarked", "reason": reason}
                      for f in args.planned_fractions.split(",") if float(f) not in done]
    if 0.0 not in done:
        res["not_run"].append({"cell": "same student distilled from the unwatermarked teacher (clean control)",
                               "reason": "skipped (--no-clean-control)" if args.no_clean_control else reason})
    res["not_run"] += [
        {"cell": "students on sampled watermarked text", "reason": "benchmarks/radioactivity.py"},
        {"cell": "teacher copy fine-tuned on the top-k harvest, persistence, paraphrase",
         "reason": "not run here (CPU time); benchmarks/radioactivity.py has them for sampled text"}]

    teacher = load_model(None)
    tok = teacher.tokenizer
    master = make_key(out / "teacher.key", tok, delta=args.delta, context_width=args.context_width)
    key = master.for_account("harvester")
    n_read = min(args.n_read, 24) if args.quick else args.n_read
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", n_read)]

    # calibration: 1,000 null keys on the clean student's (and the untouched teacher's) fixed predictions
    cal = {}
    for name in ("clean", "wm100"):
        path = out / "preds" / f"{name}.npz"
        if path.exists():  # for wm100 these are the null accounts (every account but the harvester)
            preds = cached_predictions(None, [], path)
            label = f"{name}_student" if name == "clean" else "wm100_student_other_accounts"
            cal[label] = _calibration(preds, master, args.null_keys)
            if master.require_spec().context_width == 0 and preds.mean_logprobs is not None:
                cal[label + "_rank"] = _calibration(preds, master, args.null_keys, rank=True)
                if (out / "preds" / "shadow.npz").exists() and args.shadow:
                    shadow_lp = cached_predictions(None, [], out / "preds" / "shadow.npz").mean_logprobs
                    cal[label + "_rank_shadow"] = _calibration(preds, master, args.null_keys, rank=True,
                                                               reference=shadow_lp)
    t0 = time.perf_counter()
    n_t = min(args.teacher_read, 8) if args.quick else args.teacher_read
    tpreds = cached_predictions(LocalSuspect(teacher), read_seqs[:n_t], out / "preds" / f"teacher_{n_t}.npz")
    tr = reading_test(None, [key], predictions=tpreds)
    res["spec"] = {k: v for k, v in master.require_spec().to_dict().items()
                   if k in ("gamma", "delta", "context_width", "seeding")}
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
    md = _markdown(res)
    print(md)
    if not args.quick:  # a smoke run prints, it does not overwrite the committed result
        write_result(args.result_name, res, md, RESULTS)
    return 0


def _fmt_p(d: dict) -> list[str]:
    """Statistic, green rate / mean rank, scored, log10 p (Holm): four table cells."""
    holm = d.get("log10_p_holm")
    holm = f" ({holm:.1f})" if holm is not None and holm == holm else ""
    if d.get("statistic") == "rank":
        return ["rank", f"mean rank {d['green_fraction']:.4f} (z {d['z']:.1f})", f"{d['scored']} entries",
                f"{d['log10_p']:.1f}{holm}"]
    return ["top-1", f"green {d['green_fraction']:.3f}", f"{d['scored']} coins", f"{d['log10_p']:.1f}{holm}"]


_RANK_LABELS = (("rank", "rank"), ("rank_ref", "rank rel. teacher"), ("rank_shadow", "rank rel. shadow student"))


def _markdown(res: dict) -> str:
    sim = res["simulation"]
    rows = []
    for r in sim["rows"]:
        head = [f"{r['student']} ({r['name']})", f"{r['fraction']:.2f}", r["watermarked_positions"]]
        for label, d, flagged in [("top-1", r, r["attribution"]["flagged"]),
                                  *[(lab, r[key], r[key]["flagged"]) for key, lab in _RANK_LABELS if key in r]]:
            rows.append([*head, label, "harvester", *_fmt_p(d["key"])[1:], ", ".join(flagged) or "none"])
            rows.append([*head, label, "another key", *_fmt_p(d["other_key"])[1:], ""])
    t = res["teacher_control"]
    rows.append(["untouched teacher (reading clean text)", "-", "-", _fmt_p(t)[0], "harvester", *_fmt_p(t)[1:], ""])
    h = res["hard_null"]
    rows.append([f"untouched teacher reading its own watermarked samples ({h['sampled_tokens']} tokens), NAIVE", "-",
                 "-", _fmt_p(h["naive"])[0], "harvester", *_fmt_p(h["naive"])[1:], ""])
    g = res.get("gemma_generation", {})
    if "green_fraction" in g:
        rows.append([f"Gemma-3-270M (generation mode, {g['queries']} queries)", "-", "-", _fmt_p(g)[0], "harvester",
                     *_fmt_p(g)[1:], ""])
    lines = ["# Radioactivity of students logit-distilled from watermarked top-k log-probs\n",
             f"{provenance_line(res)}; this run "
             f"took {res['seconds_total'] / 60:.1f} min (cached stages keep the times of the run that did them: "
             "`train_seconds` in the JSON).\n",
             f"Key: h = {res['spec']['context_width']}, gamma = {res['spec']['gamma']}, delta = "
             f"{res['spec']['delta']}. Harvest: the teacher's top-20 log-probs on {sim['positions']} positions of real "
             "ShareGPT answers (teacher-forced); a student of fraction f learns from the watermarked top-20 of f of "
             "the texts and the clean top-20 of the rest. Reading: "
             f"{sim['texts_read']} held-out ShareGPT answers. log10 p in brackets: Holm over the "
             f"{sim['rows'][0]['attribution']['accounts'] if sim['rows'] else '-'} account sub-keys."
             + (f" Shadow student: {sim['shadow']['layers']}L d={sim['shadow']['hidden']}, seed "
                f"{sim['shadow']['seed']}, distilled from the clean teacher on {sim['shadow']['texts']}, "
                f"{sim['shadow']['positions']} positions." if sim.get("shadow") else "") + "\n",
             *md_table(["suspect", "wm fraction", "watermarked positions", "statistic", "test key",
                        "green rate / mean rank", "scored", "log10 p (Holm)", "accounts flagged"], rows)]
    lines.append("")
    lines.append(f"Default pipeline on the hard-null text: {h['default_pipeline'][:160]}")
    lines.append("")
    for r, key in [(r, key) for r in sim["rows"] for key, _ in _RANK_LABELS if key in r]:
        c = r[key]["null_accounts"]
        lines.append(f"- {key} calibration ({r['name']}, the {c['keys']} accounts it never learned from): "
                     f"{c['rejections_0.01']} rejections at 0.01 (0.999 bound {c['bound_0.01_rejections_q999']}), "
                     f"FPR {c['fpr_at_0.001']:.4f} at 0.001, min p {c['min_p']:.2g}, one-sided KS p "
                     f"{c['ks_anticonservative_pvalue']:.2f}")
    for name, c in res["calibration"].items():
        lines.append(f"- calibration ({name}, {c['keys']} null keys): FPR {c['fpr_at_0.01']:.3f} at 0.01, "
                     f"{c['fpr_at_0.001']:.4f} at 0.001; KS vs uniform p = {c['ks_uniform_pvalue']:.3f} (two-sided), "
                     f"{c['ks_anticonservative_pvalue']:.3f} (one-sided: small p-values too often?)")
    for r in sim["rows"]:
        lines.append(f"- {r['name']}: trained {r['train']['epochs']} epoch(s), final loss {r['train']['final_loss']:.3f}, "
                     f"{r['train']['train_seconds'] / 60:.1f} min")
    for n in res["not_run"]:
        lines.append(f"- {n['cell']}: {n['reason']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
