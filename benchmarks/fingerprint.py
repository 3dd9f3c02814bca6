"""Benchmark: does the fingerprint probe suite tell students of our teacher from independent models?

Zoo (see docs/fingerprint.md for what was scaled down): positives = the teacher itself, from-scratch
students logit-distilled from the teacher (``benchmarks/fingerprint_zoo.py``), and the radioactivity
helper's students if present (watermarked / clean harvests); negatives = Gemma-3-270M untouched and
from-scratch students trained on ShareGPT (ChatGPT) answers. Null calibration: the ShareGPT students,
leave-one-out when the model tested is one of them. Writes benchmarks/results/fingerprint.{json,md}.

Run: ``python benchmarks/fingerprint.py`` (``--no-big-text`` skips text-mode generation by teacher/Gemma).
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

from distillguard.fingerprint.answers import sample_answers
from distillguard.fingerprint.api import make_probes, select_probes
from distillguard.fingerprint.candidates import candidate_pool
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.score import logprob_scores, suspect_answers, text_scores
from distillguard.fingerprint.stats import NULL_STATEMENT, calibrated_test
from distillguard.models import cache_dir
from distillguard.suspects import open_suspect

ROOT = Path(__file__).resolve().parent
CACHE = cache_dir() / "fingerprint"
NS = [4, 8, 16, 32, 64]
ANCHORS = {  # published figures quoted from the issue, not re-run here
    "Wadhwa et al. 2025 (POS templates, teacher attribution, no watermark)": "accuracy ~0.67-0.68",
    "Nikolic et al. 2025 (black-box provenance testing)": "90-95% precision, 80-90% recall, thousands of prompts",
    "LLMmap (closed set of 42 model versions)": ">95% accuracy with 8 queries",
    "TRAP (optimised suffix)": ">95% TPR at <0.2% FPR from one query",
}


def zoo() -> list[dict]:
    """Models of the zoo that exist on disk: name, source, label (1 = derived from the teacher), kind."""
    out = [{"name": "teacher", "source": None, "label": 1, "kind": "the teacher itself (sanity positive)"},
           {"name": "gemma3-270m", "source": "gemma3-270m", "label": 0, "kind": "independent base model"}]
    for d in sorted((CACHE / "zoo").glob("*/config.json")):
        name = d.parent.name
        pos = name.startswith("distil")
        out.append({"name": name, "source": str(d.parent), "label": int(pos), "kind": (
            "from-scratch 2L d=128, logit-distilled from teacher top-20 (no watermark)" if pos else
            "from-scratch 2L d=128, trained on ShareGPT ChatGPT answers")})
    for d in sorted(Path("runs/radioactivity/students").glob("*/config.json")):
        out.append({"name": f"radio-{d.parent.name}", "source": str(d.parent), "label": 1, "kind": (
            "radioactivity helper's 4L d=256 student, logit-distilled, harvest "
            + ("watermarked" if d.parent.name.startswith("wm") else "clean"))})
    return out


def model_scores(m: dict, probes: list, mode: str, max_new_tokens: int) -> np.ndarray:
    """Per-probe scores of one zoo model on all candidate probes (cached)."""
    path = CACHE / "scores" / f"{m['name']}_{mode}.json"
    if path.exists():
        return np.array(json.loads(path.read_text())["scores"])
    s = open_suspect(m["source"])
    t0 = time.time()
    if mode == "logprob":
        sc, ans = logprob_scores(s, probes), None
    else:
        ans = suspect_answers(s, probes, max_new_tokens=max_new_tokens, temperature=0.7, seed=7)
        sc = text_scores(probes, ans)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scores": sc.tolist(), "answers": ans, "queries": s.queries,
                                "seconds": round(time.time() - t0, 1), "ids": [p.id for p in probes]}))
    print(f"scored {m['name']} {mode} in {time.time() - t0:.0f}s", flush=True)
    return sc


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count half)."""
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def evaluate(models: list[dict], S: dict[str, np.ndarray], idx_pool: np.ndarray, n: int, reps: int,
             rng: np.random.Generator, alpha: float = 0.01) -> dict:
    """AUROC, TPR and FPR at alpha over ``reps`` random subsets of ``n`` probes from ``idx_pool``."""
    calib = [m["name"] for m in models if m["name"].startswith("sharegpt")]
    n = min(n, len(idx_pool))
    reps = 1 if n == len(idx_pool) else reps
    aucs, rej = [], {m["name"]: [] for m in models}
    for _ in range(reps):
        sub = rng.choice(idx_pool, n, replace=False)
        stat = {}
        for m in models:
            null = [c for c in calib if c != m["name"]]
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
            "fpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in neg])),
            "tpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in pos])),
            "rejection_rate": {k: float(np.mean(v)) for k, v in rej.items() if v},
            "evaluated": neg + pos}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-big-text", action="store_true", help="skip text-mode generation by teacher and Gemma")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    a = ap.parse_args()
    t_start = time.time()
    cands = candidate_pool(32)
    teacher = open_suspect(None)
    t_ans = sample_answers(teacher, cands, n_samples=2, max_new_tokens=a.max_new_tokens,
                           cache=CACHE / "cand_teacher.jsonl", batch_size=76, progress=True)
    r_ans = sample_answers(open_suspect("gemma3-270m"), cands, n_samples=1, max_new_tokens=a.max_new_tokens,
                           cache=CACHE / "cand_gemma.jsonl", batch_size=76, progress=True)
    allp = make_probes(cands, t_ans, r_ans)
    selected = select_probes(allp, 64, min_consistency=0.1)
    pos_of = {p.id: i for i, p in enumerate(allp)}
    sel_idx = np.array([pos_of[p.id] for p in selected])
    real_idx = np.array([i for i, p in enumerate(allp) if p.family == "real"])
    models = zoo()
    results: dict = {"modes": {}}
    for mode in ("logprob", "text"):
        ms = [m for m in models if mode == "logprob" or not a.no_big_text or m["name"] not in ("teacher", "gemma3-270m")]
        S = {m["name"]: model_scores(m, allp, mode, a.max_new_tokens) for m in ms}
        rng = np.random.default_rng(0)
        results["modes"][mode] = {
            "models": [m["name"] for m in ms],
            "selected": [evaluate(ms, S, sel_idx, n, a.reps, rng) for n in NS if n <= max(len(sel_idx), 4)],
            "random_real": [evaluate(ms, S, real_idx, n, a.reps, rng) for n in NS if n <= max(len(real_idx), 4)],
            "full_selected_statistics": {m["name"]: calibrated_test(
                S[m["name"]][sel_idx], np.array([S[c][sel_idx] for c in S if c.startswith("sharegpt") and c != m["name"]]))
                for m in ms if sum(c.startswith("sharegpt") and c != m["name"] for c in S) >= 2},
        }
        if mode == "logprob":  # ship the selected probe set with its null calibration (ShareGPT students)
            ps = ProbeSet(teacher=teacher.identity, references=["gemma3-270m"],
                          probes=selected, settings={"max_new_tokens": a.max_new_tokens, "temperature": 0.7,
                                                     "strategy": "distinctive", "teacher_samples": 2,
                                                     "reference_samples": 1, "candidates": len(cands)})
            ps.calibration["logprob"] = {c: S[c][sel_idx].round(6).tolist() for c in S if c.startswith("sharegpt")}
            results["probe_file"] = str(ps.save(ROOT / "data" / "fingerprint" / "probes.json").relative_to(ROOT.parent))
        else:
            (ROOT / "data" / "fingerprint").mkdir(parents=True, exist_ok=True)
    out = {
        "question": "AUROC of the fingerprint test over the zoo vs number of probes; FPR at alpha=0.01; ablations",
        "date": dt.datetime.now(dt.timezone.utc).isoformat(), "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(), "command": " ".join(sys.argv),
        "null": NULL_STATEMENT, "calibration_models": "ShareGPT students (leave-one-out for themselves)",
        "candidates": len(cands), "selected_probes": len(selected), "real_prompts": int(len(real_idx)),
        "selected_families": {f: sum(p.family == f for p in selected) for f in sorted({p.family for p in selected})},
        "zoo": models, "anchors_published_not_rerun": ANCHORS, **results,
        "seconds": round(time.time() - t_start, 1),
    }
    res_dir = ROOT / "results"
    (res_dir / "fingerprint.json").write_text(json.dumps(out, indent=2, default=str))
    md = [f"# Fingerprint benchmark ({out['date'][:10]}, {out['machine']})", "",
          f"Zoo: {', '.join(m['name'] + ('+' if m['label'] else '-') for m in models)} (+ derived from teacher, - independent).",
          f"Candidates {len(cands)}, selected {len(selected)}; null = {out['calibration_models']}.", "",
          "| mode | probes from | n probes | subsets | AUROC mean | AUROC min | TPR@0.01 | FPR@0.01 |",
          "|---|---|---|---|---|---|---|---|"]
    for mode, r in results["modes"].items():
        for src in ("selected", "random_real"):
            for e in r[src]:
                md.append(f"| {mode} | {src} | {e['n_probes']} | {e['subsets']} | {e['auroc_mean']:.3f} | "
                          f"{e['auroc_min']:.3f} | {e['tpr_at_alpha']:.2f} | {e['fpr_at_alpha']:.3f} |")
    md += ["", "Full selected probe set, per model (t, p):", "", "| mode | model | T | t | p | p_rank (min) |",
           "|---|---|---|---|---|---|"]
    for mode, r in results["modes"].items():
        for name, s in r["full_selected_statistics"].items():
            md.append(f"| {mode} | {name} | {s['statistic']:.4f} | {s['t']:.2f} | {s['p_value']:.3g} | "
                      f"{s['p_rank']:.2f} ({s['min_p_rank']:.2f}) |")
    md += ["", "Published anchors (quoted, not re-run): " + "; ".join(f"{k}: {v}" for k, v in ANCHORS.items())]
    (res_dir / "fingerprint.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
