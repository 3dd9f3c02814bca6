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
import datetime as dt
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from fingerprint_zoo import ANSWERED  # the answered prompts its chat students never trained on

from distillguard.fingerprint.answers import sample_answers
from distillguard.fingerprint.api import make_probes, select_probes
from distillguard.fingerprint.candidates import CORPUS_REFERENCE, answered_candidates, candidate_pool
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.score import answer_logprobs, logprob_contrast, suspect_answers, text_scores
from distillguard.fingerprint.stats import NULL_STATEMENT, calibrated_test
from distillguard.models import cache_dir
from distillguard.suspects import open_suspect

ROOT = Path(__file__).resolve().parent
CACHE = cache_dir() / "fingerprint"
NS = [4, 8, 16, 32, 64]
NULL_PREFIX = "chat-sharegpt"
GEMMA_NULL = ("gemmaft-sharegpt", "gemmaft-human", "gemmaft-self")  # Gemma fine-tunes not on our teacher
TRAINED_ON = [Path("runs/radio-text/harvest_wm.jsonl"), Path("runs/radio-text/harvest_clean.jsonl")]
ANCHORS = {  # published figures quoted from the issue, not re-run here
    "Wadhwa et al. 2025 (POS templates, teacher attribution, no watermark)": "accuracy ~0.67-0.68",
    "Nikolic et al. 2025 (black-box provenance testing)": "90-95% precision, 80-90% recall, thousands of prompts",
    "LLMmap (closed set of 42 model versions)": ">95% accuracy with 8 queries",
    "TRAP (optimised suffix)": ">95% TPR at <0.2% FPR from one query",
}


def zoo(demo_dir: Path) -> list[dict]:
    """Models of the zoo that exist on disk: name, source, label (1 = derived from the teacher), kind."""
    out = [{"name": "teacher", "source": None, "label": 1, "kind": "the teacher itself (sanity positive)"},
           {"name": "gemma3-270m", "source": "gemma3-270m", "label": 0, "kind": "independent base model"}]
    kinds = {"distil": (1, "from-scratch 2L d=128, logit-distilled from teacher top-20 (no watermark)"),
             "sharegpt": (0, "from-scratch 2L d=128, 2 epochs on ShareGPT ChatGPT answer text (older recipe)"),
             NULL_PREFIX: (0, "demo recipe 2L d=256, 6 epochs on 192 ShareGPT chat pairs (the null population)"),
             "logit": (1, "demo recipe 2L d=256, 6 epochs, teacher top-20 log-probs on 200 ShareGPT answer texts"),
             "text": (0, "demo recipe 2L d=256, 6 epochs on the tokens of 200 ShareGPT answer texts"),
             "select-sharegpt": (0, "demo recipe on 192 further ShareGPT chat pairs (probe selection only, "
                                   "benchmarks/fingerprint_selection.py)"),
             "gemmaft-teacher": (1, "Gemma-3-270M fine-tuned (2 epochs, answers only) on 256 clean teacher answers"),
             "gemmaft-teacherwm": (1, "Gemma-3-270M fine-tuned (2 epochs) on 256 watermarked teacher answers"),
             "gemmaft-sharegpt": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 ShareGPT (ChatGPT) answers "
                                    "(disjoint sets; with Gemma itself, the Gemma family's null)"),
             "gemmaft-human": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 human replies (ShareGPT; "
                                 "benchmarks/fingerprint_family.py)"),
             "gemmaft-self": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 of its own sampled answers"),
             "chat-teacher": (1, "demo recipe 2L d=256, 6 epochs on 192 of the teacher's sampled answers "
                                 "(clean harvest; benchmarks/fingerprint_issue_zoo.py)"),
             "chat-teacherwm": (1, "demo recipe 2L d=256, 6 epochs on 192 of the teacher's watermarked answers "
                                   "(benchmarks/fingerprint_issue_zoo.py)")}
    for d in sorted((CACHE / "zoo").glob("*/config.json")):
        name = d.parent.name
        label, kind = kinds[name.rsplit("-s", 1)[0]]
        out.append({"name": name, "source": str(d.parent), "label": label, "kind": kind})
    for d in sorted(Path("runs/radio-text/students").glob("*/config.json")):
        out.append({"name": f"radio-{d.parent.name}", "source": str(d.parent), "label": 1, "kind": (
            "radioactivity benchmark student trained on the teacher's sampled answers: " + d.parent.name)})
    if (demo_dir / "student" / "config.json").exists():
        out.append({"name": "demo-student", "source": str(demo_dir / "student"), "label": 1,
                    "kind": "the quick demo's student (192 watermarked teacher answers)"})
    return out


def score_path(pool: str, name: str, mode: str) -> Path:
    """Where :func:`model_scores` caches one model's per-probe scores (and, in log-prob mode, every log-prob)."""
    return CACHE / "scores" / f"{pool}_{name}_{mode}.json"


def model_scores(m: dict, probes: list, mode: str, max_new_tokens: int, pool: str,
                 teacher_answers: int | None = None) -> np.ndarray:
    """Per-probe scores of one zoo model on all probes of a pool (cached; log-prob mode caches every answer's
    log-prob, so the contrast can use the first ``teacher_answers`` teacher answers only)."""
    path = score_path(pool, m["name"], mode)
    if path.exists():
        cached = json.loads(path.read_text())
        if cached["ids"] == [p.id for p in probes] and (mode == "text" or "teacher_lps" in cached):
            if mode == "text":
                return np.array(cached["scores"])
            return logprob_contrast([np.array(t) for t in cached["teacher_lps"]],
                                    [np.array(r) for r in cached["reference_lps"]], teacher_answers)
    s = open_suspect(m["source"])
    t0 = time.time()
    extra: dict = {}
    if mode == "logprob":
        t_lp, r_lp = answer_logprobs(s, probes)
        sc, ans = logprob_contrast(t_lp, r_lp), None
        extra = {"teacher_lps": [t.tolist() for t in t_lp], "reference_lps": [r.tolist() for r in r_lp]}
    else:
        ans = suspect_answers(s, probes, max_new_tokens=max_new_tokens, temperature=0.7, seed=7)
        sc = text_scores(probes, ans)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scores": sc.tolist(), "answers": ans, "queries": s.queries, **extra,
                                "seconds": round(time.time() - t0, 1), "ids": [p.id for p in probes]}))
    print(f"scored {m['name']} {pool}/{mode} in {time.time() - t0:.0f}s", flush=True)
    return sc if mode == "text" else logprob_contrast(t_lp, r_lp, teacher_answers)


def _big(name: str) -> bool:
    """The models whose text-mode generation is slow on a CPU (135M-270M parameters)."""
    return name in ("teacher", "gemma3-270m") or name.startswith("gemmaft-")


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def null_models(name: str, names: list[str], family: bool = False) -> list[str]:
    """Calibration models for ``name`` (leave-one-out): the chat-sharegpt students; with ``family`` a model built on
    Gemma-3-270M gets its own family's null instead: Gemma itself and its fine-tunes on other sources."""
    if family and name.startswith("gemma"):
        pool = [c for c in names if c == "gemma3-270m" or c.startswith(GEMMA_NULL)]
    else:
        pool = [c for c in names if c.startswith(NULL_PREFIX)]
    return [c for c in pool if c != name]


def evaluate(models: list[dict], S: dict[str, np.ndarray], idx_pool: np.ndarray, n: int, reps: int,
             rng: np.random.Generator, alpha: float = 0.01, family: bool = False) -> dict:
    """AUROC, TPR and FPR at alpha over ``reps`` random subsets of ``n`` probes from ``idx_pool``."""
    names = [m["name"] for m in models]
    n = min(n, len(idx_pool))
    reps = 1 if n == len(idx_pool) else reps
    aucs, rej = [], {m["name"]: [] for m in models}
    for _ in range(reps):
        sub = rng.choice(idx_pool, n, replace=False)
        stat = {}
        for m in models:
            null = null_models(m["name"], names, family)
            if len(null) < 2:
                continue
            r = calibrated_test(S[m["name"]][sub], np.array([S[c][sub] for c in null]), alpha=alpha)
            stat[m["name"]] = r["t"]
            rej[m["name"]].append(r["p_value"] <= alpha)
        aucs.append(auroc([stat[m["name"]] for m in models if m["label"] and m["name"] in stat],
                          [stat[m["name"]] for m in models if not m["label"] and m["name"] in stat]))
    neg = [m["name"] for m in models if not m["label"] and rej[m["name"]]]
    pos = [m["name"] for m in models if m["label"] and rej[m["name"]]]
    return {"n_probes": n, "subsets": reps, "auroc_mean": float(np.mean(aucs)), "auroc_min": float(np.min(aucs)),
            "share_auroc_1": float(np.mean(np.array(aucs) == 1.0)),
            "fpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in neg])),
            "tpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in pos])),
            "rejection_rate": {k: float(np.mean(v)) for k, v in rej.items() if v},
            "evaluated": neg + pos}


def full_statistics(models: list[dict], S: dict[str, np.ndarray], idx: np.ndarray, family: bool = False) -> dict:
    """The test on every probe of ``idx`` for every model (leave-one-out null for the null's members)."""
    out = {}
    for m in models:
        null = null_models(m["name"], list(S), family)
        if len(null) >= 2:
            out[m["name"]] = calibrated_test(S[m["name"]][idx], np.array([S[c][idx] for c in null]))
    return out


def _trained_prompts(demo_dir: Path) -> set[str]:
    """Prompts the positives were trained on (radioactivity harvests, the demo's harvest)."""
    out: set[str] = set()
    for path in [*TRAINED_ON, demo_dir / "harvest.jsonl"]:
        if path.exists():
            out |= {json.loads(line)["prompt"] for line in path.read_text().splitlines() if line.strip()}
    return out


def _table(results: dict) -> list[str]:
    md = ["| mode | pool | probes | n probes | queries | subsets | AUROC mean | AUROC min | TPR@0.01 | FPR@0.01 |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    # scored answers per probe (text: 1 generation)
    per_probe = {("logprob", "designed"): 3, ("logprob", "answered"): 5, ("logprob", "answered", "one_answer"): 2}
    for mode, r in results["modes"].items():
        for pool, src in (("designed", "selected"), ("designed", "random_real"), ("answered", "random"),
                          ("answered", "one_answer"), ("answered", "family_null")):
            for e in r[pool].get(src, []):
                q = e["n_probes"] * per_probe.get((mode, pool, src), per_probe.get((mode, pool), 1))
                md.append(f"| {mode} | {pool} | {src} | {e['n_probes']} | {q} | {e['subsets']} | "
                          f"{e['auroc_mean']:.3f} | {e['auroc_min']:.3f} | {e['tpr_at_alpha']:.2f} | "
                          f"{e['fpr_at_alpha']:.3f} |")
    return md


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
    trained = _trained_prompts(demo_dir)
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
    out = {
        "question": "AUROC of the fingerprint test over the zoo vs number of probes; FPR at alpha=0.01; ablations "
                    "(log-prob vs text; designed pool with Gemma references vs answered pool with ChatGPT's)",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(), "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(), "command": " ".join(sys.argv),
        "null": NULL_STATEMENT, "calibration_models": f"{NULL_PREFIX}-* students (leave-one-out for themselves)",
        "designed_pool": {"candidates": len(cands), "selected_probes": len(selected), "real_prompts": int(len(real_idx)),
                          "selected_families": {f: sum(p.family == f for p in selected)
                                                for f in sorted({p.family for p in selected})}},
        "answered_pool": {"probes": len(ansp), "dropped_as_trained_on": ANSWERED - len(acands),
                          "queries_per_probe_logprob": 5, "queries_per_probe_logprob_one_answer": 2},
        "zoo": models, "anchors_published_not_rerun": ANCHORS, **results,
        "seconds": round(time.time() - t_start, 1),
    }
    res_dir = ROOT / "results"
    (res_dir / "fingerprint.json").write_text(json.dumps(out, indent=2, default=str))
    md = [f"# Fingerprint benchmark ({out['date'][:10]}, {out['machine']})", "",
          f"Command: `{out['command']}`", "",
          f"Zoo: {', '.join(m['name'] + ('+' if m['label'] else '-') for m in models)} (+ derived from teacher, "
          "- independent).",
          f"Null = {out['calibration_models']}. Designed pool: {len(cands)} candidates, {len(selected)} selected, "
          f"Gemma-3-270M references. Answered pool: {len(ansp)} real prompts, ChatGPT's recorded answer as the "
          "reference, 4 teacher answers each (5 log-prob queries per probe; `one_answer`: the first teacher "
          "answer only, 2 queries per probe; `family_null`: models built on Gemma-3-270M calibrated on Gemma and "
          "its ChatGPT fine-tunes, the others as before).", "", *_table(results), "",
          "All probes of a pool, per model (t, p; p_rank = exact rank p-value and its floor):", "",
          "| mode | pool | model | + / - | T | t | p | p_rank (min) |", "|---|---|---|---|---|---|---|---|"]
    label = {m["name"]: "+" if m["label"] else "-" for m in models}
    for mode, r in results["modes"].items():
        tables = [("designed", r["designed"]["full_statistics"]), ("answered", r["answered"]["full_statistics"])]
        if "one_answer_full_statistics" in r["answered"]:
            tables.append(("answered, 1 answer", r["answered"]["one_answer_full_statistics"]))
            fam = r["answered"]["family_null_full_statistics"]
            tables.append(("answered, family null", {k: v for k, v in fam.items() if k.startswith("gemma")}))
        for pool, stats_of in tables:
            for name, st in stats_of.items():
                md.append(f"| {mode} | {pool} | {name} | {label[name]} | {st['statistic']:.4f} | {st['t']:.2f} | "
                          f"{st['p_value']:.3g} | {st['p_rank']:.2f} ({st['min_p_rank']:.2f}) |")
    md += ["", "Published anchors (quoted, not re-run): " + "; ".join(f"{k}: {v}" for k, v in ANCHORS.items()),
           "", f"Wall time {out['seconds'] / 60:.1f} min (cached scores are reused; delete "
           f"{CACHE}/scores to recompute)."]
    (res_dir / "fingerprint.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
