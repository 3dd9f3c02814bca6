"""Benchmark: the whole investigation on students nobody tuned for -- false positives and power (issue 30).

Does ``investigate`` accuse students that never saw our teacher, when they learned from sources and recipes the
fingerprint's null was not built from; and does it still find students distilled with other recipes?

Everything is measured against one demo world (``distillguard demo``, default ``runs/demo-quick``): its key,
its probe set (teacher answers against a reference panel of ChatGPT's and Gemma-3-270M's answers, closest per
probe) and its null (calibration students on ChatGPT answers, human replies, Gemma answers and a mixture, with
recipes other than the harvester's). This script trains new students the world never saw:

* negatives -- from-scratch students of the teacher's tokenizer on non-teacher text: ChatGPT answers (4
  recipes), human replies (4), Gemma-3-270M's answers (1) and a mixture (1), plus the world's two hard
  negatives and, leave-one-out, its eight calibration students (each against the other seven); the harvester's recipe is one of them, the others differ in depth, width, epochs and amount. No training pair is shared with the world's
  students (``distillguard.distill.sources.disjoint_sets``);
* positives -- students of the harvester's watermarked answers with other recipes (and half of the harvest).

Statistics, fixed before any of these students existed: the investigation's verdict at alpha = 1e-3 (the
documented rule, ``combine_lines``: DISTILLED only when the Bonferroni combination of exact p-values is <=
alpha); per line, radioactivity's exact p (reading mode only: generation mode is skipped to fit the CPU
budget, which can only lower power, never validity) and the fingerprint's exact rank p and Student-t tail. Secondary (labelled): each
negative's fingerprint against the null *without* its own source's calibration students (leave-one-source-
out: how a source the null never saw lands), and the fingerprint contrast with ChatGPT's answer as the only
reference (the statistic before the panel) on the same students and null.

Run: ``python benchmarks/fingerprint_sources.py`` (after ``distillguard demo --out runs/demo-quick``; about
30-60 min on 2 CPU cores: training 13 students, then an investigation of each of the 25). Writes
``benchmarks/results/fingerprint_sources.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from distillguard.demo import HARD_NEGATIVE_NAMES, PROFILES, null_plan
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.sources import disjoint_sets
from distillguard.distill.student import chat_sequences, train_text_student
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.score import answer_logprobs, logprob_contrast
from distillguard.fingerprint.stats import calibrated_test
from distillguard.investigation import combine_lines, fingerprint_evidence, radioactivity_evidence
from distillguard.keys import WatermarkKey
from distillguard.models import load_tokenizer
from distillguard.suspects import LocalSuspect

ALPHA = 1e-3
#: (layers, hidden, epochs, pairs); the first is the harvester's recipe (pairs = the harvest's size)
NEG_RECIPES = [(2, 256, 6, None), (1, 128, 6, 160), (3, 256, 4, 192), (2, 192, 8, 224)]
# Gemma's committed answers are few (the world's students use most): one Gemma student and one mixture here
NEGATIVES = [("chatgpt", r) for r in NEG_RECIPES] + [("human", r) for r in NEG_RECIPES] + \
            [("gemma", NEG_RECIPES[1]), ("mix", NEG_RECIPES[2])]
#: distilled from the harvest: (layers, hidden, epochs, fraction of the harvest)
POS_RECIPES = [(1, 128, 6, 1.0), (3, 256, 4, 1.0), (2, 256, 6, 0.5)]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def train_all(world: Path, cache: Path, tok: Any) -> dict[str, dict[str, Any]]:
    """Train (cached) every negative and positive; return name -> {dir, label, source, recipe}."""
    prof = PROFILES[json.loads((world / "steps" / "settings.json").read_text())["profile"]["name"]]
    ps = ProbeSet.load(world / "probes.json")
    held_out = {p.prompt for p in ps.probes}
    rows = _jsonl(world / "harvest.jsonl")
    # no training pair shared with the world's students: every prompt they learned from is left out
    used = {q for f in world.glob("*/*/training_prompts.json") for q in json.loads(f.read_text())}
    if len(list(world.glob("*/*/training_prompts.json"))) < prof.null_students + len(prof.hard_negatives):
        raise SystemExit(f"{world}: the students' training_prompts.json files are missing (a demo of this version)")
    mine = [(src, n or len(rows)) for src, (_, _, _, n) in NEGATIVES]
    sets = disjoint_sets(mine, exclude=held_out | used, seed=900)
    out: dict[str, dict[str, Any]] = {}
    mt = prof.harvest_tokens
    for k, ((src, (layers, hidden, epochs, _)), pairs) in enumerate(zip(NEGATIVES, sets)):
        name = f"neg-{src}-{layers}L{hidden}-e{epochs}-n{len(pairs)}"
        d = cache / name
        train_text_student(d, tok, chat_sequences(tok, pairs, 128, mt), layers=layers, hidden=hidden, epochs=epochs,
                           lr=3e-3, seed=1000 + k, desc=name)
        out[name] = {"dir": d, "label": 0, "source": src, "recipe": [layers, hidden, epochs, len(pairs)]}
    harvest = [(r["prompt"], r["response"]) for r in rows]
    for k, (layers, hidden, epochs, frac) in enumerate(POS_RECIPES):
        pairs = harvest[: int(round(frac * len(harvest)))]
        name = f"pos-teacher-{layers}L{hidden}-e{epochs}-n{len(pairs)}"
        d = cache / name
        train_text_student(d, tok, chat_sequences(tok, pairs, 128, mt), layers=layers, hidden=hidden, epochs=epochs,
                           lr=3e-3, seed=2000 + k, desc=name)
        out[name] = {"dir": d, "label": 1, "source": "teacher (watermarked harvest)",
                     "recipe": [layers, hidden, epochs, len(pairs)]}
    for source in prof.hard_negatives:  # the world's own hard negatives and harvester student, for reference
        out[HARD_NEGATIVE_NAMES[source]] = {"dir": world / "hard-negatives" / source, "label": 0, "source": source,
                                            "recipe": [prof.student_layers, prof.student_hidden, prof.epochs,
                                                       len(rows)], "in_world": True}
    for i, r in enumerate(null_plan(prof)):  # each calibration student, tested leave-one-out against the others
        out[f"null-student-{i}"] = {"dir": world / "null-students" / f"s{i}", "label": 0, "source": r["source"],
                                    "recipe": [r["layers"], r["hidden"], r["epochs"], r["pairs"]], "in_world": True,
                                    "in_null": True}
    out["student"] = {"dir": world / "student", "label": 1, "source": "teacher (watermarked harvest)",
                      "recipe": [prof.student_layers, prof.student_hidden, prof.epochs, len(rows)], "in_world": True}
    return out


def fingerprint_ablations(world: Path, models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per-answer log-probs of every model and null member -> the fingerprint under three contrasts and two nulls."""
    prof = PROFILES[json.loads((world / "steps" / "settings.json").read_text())["profile"]["name"]]
    ps = ProbeSet.load(world / "probes.json")
    plan = {f"null-student-{i}": r["source"] for i, r in enumerate(null_plan(prof))}
    lps: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
    for i in range(prof.null_students):
        lps[f"null-student-{i}"] = answer_logprobs(LocalSuspect.load(world / "null-students" / f"s{i}"), ps.probes)
    for name, m in models.items():
        if name not in lps:
            lps[name] = answer_logprobs(LocalSuspect.load(m["dir"]), ps.probes)
    contrasts = {
        "panel-closest": lambda t, r: logprob_contrast(t, r, contrast="closest"),
        "panel-mean": lambda t, r: logprob_contrast(t, r, contrast="mean"),
        "chatgpt-only": lambda t, r: logprob_contrast(t, [x[:1] for x in r]),
    }
    out: dict[str, Any] = {}
    for cname, f in contrasts.items():
        scores = {n: f(*v) for n, v in lps.items()}
        null_names = list(plan)
        rows = {}
        for name, m in models.items():
            others = [n for n in null_names if n != name]  # a calibration student is tested against the rest
            full = calibrated_test(scores[name], np.array([scores[n] for n in others]), alpha=ALPHA)
            rec = {"T": full["statistic"], "t": full["t"], "p_t": full["p_value"], "p_rank": full["p_rank"]}
            if m["label"] == 0 and m["source"] in set(plan.values()):
                loo = [n for n in others if plan[n] != m["source"]]
                r2 = calibrated_test(scores[name], np.array([scores[n] for n in loo]), alpha=ALPHA)
                rec.update(loso_t=r2["t"], loso_p_t=r2["p_value"], loso_p_rank=r2["p_rank"], loso_R=len(loo))
            rows[name] = rec
        null_T = {n: float(np.mean(scores[n])) for n in null_names}
        per_source = {}
        for src in sorted(set(plan.values())):
            v = [null_T[n] for n in null_names if plan[n] == src]
            per_source[src] = {"n": len(v), "mean_T": float(np.mean(v)), "values": v}
        out[cname] = {"models": rows, "null_T": null_T, "null_by_source": per_source}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="example: python benchmarks/fingerprint_sources.py --world runs/demo-quick")
    ap.add_argument("--world", default="runs/demo-quick", help="a finished distillguard demo directory")
    ap.add_argument("--cache", default="runs/fingerprint-sources", help="where the new students are trained")
    ap.add_argument("--read-texts", type=int, default=60, help="reading-mode texts per suspect")
    ap.add_argument("--out", default="benchmarks/results", help="result folder")
    args = ap.parse_args()
    world, cache = Path(args.world), Path(args.cache)
    if not (world / "probes.json").exists() or not (world / "steps" / "settings.json").exists():
        raise SystemExit(f"{world}: not a finished demo world (run distillguard demo --out {world} first)")
    rec = new_record("benchmarks/fingerprint_sources.py", question="false positives of the whole investigation on "
                     "students of non-teacher sources and recipes, and power on distilled students of other recipes")
    t0 = time.time()
    tok = load_tokenizer(None)
    models = train_all(world, cache, tok)
    t_train = time.time() - t0
    key = WatermarkKey.load(world / "teacher.key")
    accounts = sorted(set(__import__("pandas").read_csv(world / "ground_truth_accounts.csv")["account_id"].astype(str)))
    abl = fingerprint_ablations(world, models)
    rows = []
    for name, m in tqdm(models.items(), desc="investigations", unit="suspect"):
        suspect = LocalSuspect.load(m["dir"])
        ra = radioactivity_evidence(suspect, key, tok, accounts=accounts, n_texts=args.read_texts,
                                    modes=("reading",), alpha=ALPHA)
        if m.get("in_null"):  # a calibration student: its fingerprint against the other seven
            a = abl["panel-closest"]["models"][name]
            fp = {"p_value": a["p_t"], "p_exact": a["p_rank"], "p_floor": 1 / len(abl["panel-closest"]["null_T"]),
                  "assumption": "Student-t tail (leave-one-out)", "t": a["t"], "p_rank": a["p_rank"]}
        else:
            fp = fingerprint_evidence(world / "probes.json", suspect, alpha=ALPHA)
        verdict = combine_lines({"radioactivity": ra, "fingerprint": fp}, alpha=ALPHA)
        rows.append({"name": name, "label": m["label"], "source": m["source"], "recipe": m["recipe"],
                     "in_world": bool(m.get("in_world")), "in_null": bool(m.get("in_null")),
                     "verdict": verdict["status"], "p_combined": verdict.get("overall_p_exact"),
                     "radioactivity_p": ra.get("p_value"), "attributed": ra.get("attributed"),
                     "fingerprint_p_rank": fp.get("p_rank"), "fingerprint_p_t": fp.get("p_value"),
                     "fingerprint_t": fp.get("t"), "loso": abl["panel-closest"]["models"][name].get("loso_p_t")})
    harvester = json.loads((world / "steps" / "traffic.json").read_text())["harvester"]
    neg = [r for r in rows if r["label"] == 0]
    pos = [r for r in rows if r["label"] == 1]
    summary = {
        "negatives": len(neg), "positives": len(pos),
        "negatives_distilled": sum(r["verdict"] == "DISTILLED" for r in neg),
        "negatives_fingerprint_p_t_below_0.01": sum((r["fingerprint_p_t"] or 1) < 0.01 for r in neg),
        "negatives_fingerprint_p_rank_below_0.01": sum((r["fingerprint_p_rank"] or 1) < 0.01 for r in neg),
        "positives_distilled": sum(r["verdict"] == "DISTILLED" for r in pos),
        "positives_right_account": sum(r["attributed"] == [harvester] for r in pos),
        "train_seconds": round(t_train, 1), "total_seconds": round(time.time() - t0, 1),
    }
    rec.update(settings=vars(args), world=str(world), summary=summary, rows=rows, ablations=abl,
               world_settings=json.loads((world / "steps" / "settings.json").read_text()))
    write_result("fingerprint_sources", rec, markdown(rec), out_dir=args.out)
    print(json.dumps(summary, indent=2))


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.2g}"


def markdown(rec: dict[str, Any]) -> str:
    s = rec["summary"]
    lines = [f"# The whole investigation on students nobody tuned for ({rec['run']['utc'][:10]})", "",
             provenance_line(rec), "", f"Command: `{rec['run']['command']}`", "",
             f"World: `{rec['world']}` (profile {rec['world_settings']['profile']['name']}); alpha = {ALPHA}; "
             f"radioactivity in reading mode only ({rec['settings']['read_texts']} texts per suspect, Holm over the "
             "world's accounts; generation mode skipped for time), fingerprint on the world's probes. Statistics fixed before these students were trained (module docstring). A "
             "calibration student's verdict comes from an investigation with itself inside the null (conservative); "
             "its fingerprint columns are leave-one-out (against the other seven).", "",
             f"**Negatives: {s['negatives_distilled']} of {s['negatives']} called DISTILLED; fingerprint Student-t "
             f"p < 0.01 for {s['negatives_fingerprint_p_t_below_0.01']}, exact rank p < 0.01 for "
             f"{s['negatives_fingerprint_p_rank_below_0.01']}. Positives: {s['positives_distilled']} of "
             f"{s['positives']} DISTILLED, {s['positives_right_account']} attributed to the harvester's account alone.**", "",
             "## Every suspect", ""]
    lines += md_table(["suspect", "truth", "source", "recipe (L, d, epochs, pairs)", "verdict", "radioactivity p",
                       "fingerprint t", "fingerprint p (t tail)", "rank p", "t-tail p, own source left out of null"],
                      [[r["name"] + (" (null, leave-one-out)" if r["in_null"] else " (demo world)" if r["in_world"]
                                     else ""),
                        "distilled" if r["label"] else "clean", r["source"], ", ".join(map(str, r["recipe"])),
                        r["verdict"], _p(r["radioactivity_p"]),
                        "-" if r["fingerprint_t"] is None else f"{r['fingerprint_t']:.2f}",
                        _p(r["fingerprint_p_t"]), _p(r["fingerprint_p_rank"]), _p(r["loso"])]
                       for r in rec["rows"]])
    lines += ["", "## The null by source (fingerprint statistic T of the calibration students)", ""]
    for cname, a in rec["ablations"].items():
        lines += [f"- **{cname}**: " + "; ".join(f"{src}: {', '.join(f'{v:.3f}' for v in d['values'])}"
                                                 for src, d in a["null_by_source"].items())]
    lines += ["", "## Contrast ablation (secondary): negatives with Student-t p < 0.01, and positives' median t", ""]
    abl_rows = []
    for cname, a in rec["ablations"].items():
        m = a["models"]
        neg = [n for n in m if n.startswith(("neg-", "clean:", "null-student-"))]
        pos = [n for n in m if n.startswith("pos-") or n == "student"]
        abl_rows.append([cname, sum(m[n]["p_t"] < 0.01 for n in neg), len(neg),
                         f"{max(m[n]['t'] for n in neg):.2f}", f"{np.median([m[n]['t'] for n in pos]):.2f}",
                         sum(m[n]["p_rank"] <= 1 / 9 + 1e-9 for n in pos)])
    lines += md_table(["contrast", "negatives p_t < 0.01", "of", "max negative t", "median positive t",
                       "positives above every null member"], abl_rows)
    lines += ["", f"Wall time {s['total_seconds'] / 60:.1f} min (training {s['train_seconds'] / 60:.1f} min)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
