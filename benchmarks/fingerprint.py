"""Benchmark: does the fingerprint probe suite tell students of our teacher from independent models?

Zoo (see docs/fingerprint.md for what was scaled down): positives = the teacher itself, from-scratch
students logit-distilled from the teacher (``benchmarks/fingerprint_zoo.py``), the radioactivity
benchmark's students trained on the teacher's sampled answers (clean and watermarked harvests, paraphrased,
continued on clean text) and the quick demo's student, where present; negatives = Gemma-3-270M untouched,
chat-recipe students trained on ShareGPT (ChatGPT) answers and the older text-only ShareGPT students.
Null calibration: the chat-recipe ShareGPT students (``chat-sharegpt-*``), leave-one-out for themselves.

Two probe pools: ``designed`` (the designed families + real prompts; references = Gemma-3-270M's answers;
ranked by n-gram distinctiveness) and ``answered`` (real ShareGPT prompts; reference = the answer ChatGPT
recorded for each; random subsets). Prompts a zoo student was trained on are dropped from the answered pool.
Writes benchmarks/results/fingerprint.{json,md} and ships the answered probe set with its calibration.

Run: ``python benchmarks/fingerprint_zoo.py --chat 8 --gemma 3 && python benchmarks/fingerprint.py``
(``--no-big-text`` skips text-mode generation by teacher/Gemma).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.evaluate import evaluate, full_statistics, model_scores
from distillguard.distill.zoo import ANSWERED, NULL_PREFIX, fingerprint_cache, trained_prompts, zoo
from distillguard.fingerprint.answers import sample_answers
from distillguard.fingerprint.api import make_probes, select_probes
from distillguard.fingerprint.candidates import CORPUS_REFERENCE, answered_candidates, candidate_pool
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.stats import NULL_STATEMENT
from distillguard.suspects import open_suspect

ROOT = Path(__file__).resolve().parent
CACHE = fingerprint_cache()
NS = [4, 8, 16, 32, 64]
ANCHORS = {  # published figures quoted from the issue, not re-run here
    "Wadhwa et al. 2025 (POS templates, teacher attribution, no watermark)": "accuracy ~0.67-0.68",
    "Nikolic et al. 2025 (black-box provenance testing)": "90-95% precision, 80-90% recall, thousands of prompts",
    "LLMmap (closed set of 42 model versions)": ">95% accuracy with 8 queries",
    "TRAP (optimised suffix)": ">95% TPR at <0.2% FPR from one query",
}


def _big(name: str) -> bool:
    """The models whose text-mode generation is slow on a CPU (135M-270M parameters)."""
    return name in ("teacher", "gemma3-270m") or name.startswith("gemmaft-")


def _table(results: dict) -> list[str]:
    # scored answers per probe (text: 1 generation)
    per_probe = {("logprob", "designed"): 3, ("logprob", "answered"): 5, ("logprob", "answered", "one_answer"): 2}
    rows = []
    for mode, r in results["modes"].items():
        for pool, src in (("designed", "selected"), ("designed", "random_real"), ("answered", "random"),
                          ("answered", "one_answer"), ("answered", "family_null")):
            for e in r[pool].get(src, []):
                q = e["n_probes"] * per_probe.get((mode, pool, src), per_probe.get((mode, pool), 1))
                rows.append([mode, pool, src, e["n_probes"], q, e["subsets"], f"{e['auroc_mean']:.3f}",
                             f"{e['auroc_min']:.3f}", f"{e['tpr_at_alpha']:.2f}", f"{e['fpr_at_alpha']:.3f}"])
    return md_table(["mode", "pool", "probes", "n probes", "queries", "subsets", "AUROC mean", "AUROC min",
                     "TPR@0.01", "FPR@0.01"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-big-text", action="store_true",
                    help="skip text-mode generation by the teacher and the Gemma models")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--demo", default="runs/demo", help="a quick demo's output directory (its student joins the zoo)")
    a = ap.parse_args()
    t_start = time.time()
    demo_dir = Path(a.demo)
    teacher = open_suspect(None)
    # pool 1: designed families + real prompts, Gemma's answers as references, ranked by distinctiveness
    cands = candidate_pool(32)
    t_ans = sample_answers(teacher, cands, n_samples=2, max_new_tokens=a.max_new_tokens,
                           cache=CACHE / "cand_teacher.jsonl", batch_size=76, progress=True)
    r_ans = sample_answers(open_suspect("gemma3-270m"), cands, n_samples=1, max_new_tokens=a.max_new_tokens,
                           cache=CACHE / "cand_gemma.jsonl", batch_size=76, progress=True)
    allp = make_probes(cands, t_ans, r_ans)
    selected = select_probes(allp, 64, min_consistency=0.1)
    pos_of = {p.id: i for i, p in enumerate(allp)}
    sel_idx = np.array([pos_of[p.id] for p in selected])
    real_idx = np.array([i for i, p in enumerate(allp) if p.family == "real"])
    # pool 2: real prompts answered by ChatGPT (the recorded answer is the reference), 4 teacher samples each
    trained = trained_prompts(demo_dir)
    acands = [c for c in answered_candidates(ANSWERED, seed=11) if c["prompt"] not in trained]
    a_t = sample_answers(teacher, acands, n_samples=4, max_new_tokens=a.max_new_tokens,
                         cache=CACHE / "answered_teacher.jsonl", batch_size=64, progress=True)
    ansp = make_probes(acands, a_t, {c["id"]: c["reference_answers"] for c in acands})
    ans_idx = np.arange(len(ansp))
    models = zoo(demo_dir)
    results: dict = {"modes": {}}
    for mode in ("logprob", "text"):
        ms = [m for m in models if mode == "logprob" or not a.no_big_text or not _big(m["name"])]
        S = {m["name"]: model_scores(m, allp, mode, a.max_new_tokens, "designed") for m in ms}
        SA = {m["name"]: model_scores(m, ansp, mode, a.max_new_tokens, "answered") for m in ms}
        rng = np.random.default_rng(0)
        results["modes"][mode] = {
            "models": [m["name"] for m in ms],
            "designed": {
                "selected": [evaluate(ms, S, sel_idx, n, a.reps, rng) for n in NS if n <= max(len(sel_idx), 4)],
                "random_real": [evaluate(ms, S, real_idx, n, a.reps, rng) for n in NS if n <= max(len(real_idx), 4)],
                "full_statistics": full_statistics(ms, S, sel_idx)},
            "answered": {
                "random": [evaluate(ms, SA, ans_idx, n, a.reps, rng) for n in [*NS, len(ans_idx)]],
                "full_statistics": full_statistics(ms, SA, ans_idx)},
        }
        if mode == "logprob":  # ablation: one teacher answer per probe (2 queries: it and ChatGPT's answer)
            SA1 = {m["name"]: model_scores(m, ansp, mode, a.max_new_tokens, "answered", teacher_answers=1) for m in ms}
            results["modes"][mode]["answered"]["one_answer"] = [
                evaluate(ms, SA1, ans_idx, n, a.reps, rng) for n in [2, *NS, len(ans_idx)]]
            results["modes"][mode]["answered"]["one_answer_full_statistics"] = full_statistics(ms, SA1, ans_idx)
            # ablation: models built on Gemma-3-270M calibrated on their own family (Gemma + its ChatGPT fine-tunes)
            results["modes"][mode]["answered"]["family_null"] = [
                evaluate(ms, SA, ans_idx, n, a.reps, rng, family=True) for n in [*NS, len(ans_idx)]]
            results["modes"][mode]["answered"]["family_null_full_statistics"] = full_statistics(ms, SA, ans_idx, True)
            # ship the answered probe set with its null calibration
            ps = ProbeSet(teacher=teacher.identity, references=[CORPUS_REFERENCE], probes=ansp,
                          settings={"max_new_tokens": a.max_new_tokens, "temperature": 0.7, "strategy": "random-real",
                                    "teacher_samples": 4, "reference_samples": 1, "candidates": len(acands)})
            ps.calibration["logprob"] = {c: SA[c].round(6).tolist() for c in SA if c.startswith(NULL_PREFIX)}
            results["probe_file"] = str(ps.save(ROOT / "data" / "fingerprint" / "probes.json").relative_to(ROOT.parent))
    out = new_record(
        "benchmarks/fingerprint.py",
        question="AUROC of the fingerprint test over the zoo vs number of probes; FPR at alpha=0.01; ablations "
                 "(log-prob vs text; designed pool with Gemma references vs answered pool with ChatGPT's)",
        null=NULL_STATEMENT, calibration_models=f"{NULL_PREFIX}-* students (leave-one-out for themselves)",
        designed_pool={"candidates": len(cands), "selected_probes": len(selected), "real_prompts": int(len(real_idx)),
                       "selected_families": {f: sum(p.family == f for p in selected)
                                             for f in sorted({p.family for p in selected})}},
        answered_pool={"probes": len(ansp), "dropped_as_trained_on": ANSWERED - len(acands),
                       "queries_per_probe_logprob": 5, "queries_per_probe_logprob_one_answer": 2},
        zoo=models, anchors_published_not_rerun=ANCHORS, **results,
        seconds=round(time.time() - t_start, 1))
    md = markdown(out)
    write_result("fingerprint", out, md, ROOT / "results")
    print(md, end="")


def markdown(out: dict) -> str:
    """The result page: the subset table, then every model's statistic on every probe of each pool."""
    models, dp, ap = out["zoo"], out["designed_pool"], out["answered_pool"]
    label = {m["name"]: "+" if m["label"] else "-" for m in models}
    rows = []
    for mode, r in out["modes"].items():
        tables = [("designed", r["designed"]["full_statistics"]), ("answered", r["answered"]["full_statistics"])]
        if "one_answer_full_statistics" in r["answered"]:
            tables.append(("answered, 1 answer", r["answered"]["one_answer_full_statistics"]))
            fam = r["answered"]["family_null_full_statistics"]
            tables.append(("answered, family null", {k: v for k, v in fam.items() if k.startswith("gemma")}))
        rows += [[mode, pool, name, label[name], f"{st['statistic']:.4f}", f"{st['t']:.2f}", f"{st['p_value']:.3g}",
                  f"{st['p_rank']:.2f} ({st['min_p_rank']:.2f})"]
                 for pool, stats_of in tables for name, st in stats_of.items()]
    md = [f"# Fingerprint benchmark ({out['run']['utc'][:10]})", "",
          f"Command: {provenance_line(out)}", "",
          f"Zoo: {', '.join(m['name'] + ('+' if m['label'] else '-') for m in models)} (+ derived from teacher, "
          "- independent).",
          f"Null = {out['calibration_models']}. Designed pool: {dp['candidates']} candidates, "
          f"{dp['selected_probes']} selected, "
          f"Gemma-3-270M references. Answered pool: {ap['probes']} real prompts, ChatGPT's recorded answer as the "
          "reference, 4 teacher answers each (5 log-prob queries per probe; `one_answer`: the first teacher "
          "answer only, 2 queries per probe; `family_null`: models built on Gemma-3-270M calibrated on Gemma and "
          "its ChatGPT fine-tunes, the others as before).", "", *_table(out), "",
          "All probes of a pool, per model (t, p; p_rank = exact rank p-value and its floor):", "",
          *md_table(["mode", "pool", "model", "+ / -", "T", "t", "p", "p_rank (min)"], rows)]
    md += ["", "Published anchors (quoted, not re-run): " + "; ".join(f"{k}: {v}" for k, v in ANCHORS.items()),
           "", f"Wall time {out['seconds'] / 60:.1f} min (cached scores are reused; delete "
           f"{CACHE}/scores to recompute)."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
