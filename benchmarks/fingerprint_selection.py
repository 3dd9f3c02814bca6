"""Benchmark: which probes, and how many teacher answers each, for a fingerprint verdict on few queries?

Question (issue 4: AUROC 1.0 with <= 32 queries). ``benchmarks/fingerprint.py`` draws answered probes at
random. Here every configuration gets the same number of *queries* (log-prob requests to the suspect):

* ``random-4``: random probes, 4 teacher answers + ChatGPT's recorded answer each (5 queries per probe);
* ``random-1``: random probes, the first teacher answer + ChatGPT's (2 queries per probe) -- the baseline;
* ``snr-1``: the probes where the teacher stands furthest from independent chat models, per unit of their
  spread, ``snr_i = (d_i(teacher) - mean_k d_ik) / s_i``, measured on *selection* students
  (``select-sharegpt-*``: the null's recipe on other ShareGPT pairs). They choose probes and nothing else: the
  null (``chat-sharegpt-*``, leave-one-out) and the evaluated zoo never take part in the choice, so the choice
  is not fitted to them; whether models outside the selectors' population stay at alpha is what the FPR column
  checks (measured: Gemma-3-270M does not);
* ``snr-1-z``: the same probes, each contrast standardised by the selection students,
  ``z_i = (d_i - mean_k d_ik) / s_i`` (a weighted mean: noisy probes count less).

``s_i`` shrinks the selection students' per-probe variance half-way to its median (4 models estimate a
variance poorly). Every repetition draws a random half of the answered probes as the candidate pool and
selects within it, so the choice itself is resampled. AUROC is over the zoo minus the selection models
(t statistics); TPR / FPR = share of positive / negative tests at p <= 0.01.

Second block, ``wide`` selectors: the selection students plus one model of each other kind of independent
model in the zoo (``WIDE``: Gemma-3-270M, an older ShareGPT student, a text-trained twin), which then leave
the evaluated zoo -- for ``random-1`` too, so the two rows of the block compare the same models. (Added after
the first run showed the chat-student selectors flag Gemma-3-270M: an exploratory follow-up, not planned.)
Then each of the three extra selection models is held out in turn (evaluated, not selecting): does a wide
selection keep a kind of model it never saw at alpha?

Data: the per-answer log-probs of every zoo model on the shipped answered probe set
(``benchmarks/data/fingerprint/probes.json``) go to ``benchmarks/data/fingerprint/answered_logprobs.npz``;
``--from-data`` re-runs the analysis from that file alone, with no model.

Run: ``python benchmarks/fingerprint_zoo.py --chat 8 --select 4 && python benchmarks/fingerprint_selection.py``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.evaluate import auroc, contrasts, model_scores, null_models, score_path
from distillguard.distill.zoo import NULL_PREFIX, zoo
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.stats import calibrated_test

ROOT = Path(__file__).resolve().parent
PROBES = ROOT / "data" / "fingerprint" / "probes.json"
DATA = ROOT / "data" / "fingerprint" / "answered_logprobs.npz"
SELECT_PREFIX = "select-sharegpt"
BUDGETS = [8, 16, 32, 64]
CONFIGS = {"random-4": 4, "random-1": 1, "snr-1": 1, "snr-1-z": 1}  # name -> teacher answers per probe
WIDE = ("gemma3-270m", "sharegpt-s0", "text-s10")  # the wide block's extra selection models
WIDE_CONFIGS = {"random-1": 1, "snr-1": 1}


def collect(probes: list, demo_dir: Path) -> dict:
    """Per-answer log-probs [models, probes, answers] of every zoo model on disk (cached by fingerprint.py)."""
    models = zoo(demo_dir)
    t_lp, r_lp = [], []
    for m in models:
        model_scores(m, probes, "logprob", 40, "answered")  # computes and caches, or reuses the cache
        cached = json.loads(score_path("answered", m["name"], "logprob").read_text())
        t_lp.append(np.array(cached["teacher_lps"], float))
        r_lp.append(np.array(cached["reference_lps"], float)[:, 0])
    return {"names": np.array([m["name"] for m in models]), "labels": np.array([m["label"] for m in models]),
            "kinds": np.array([m["kind"] for m in models]), "probe_ids": np.array([p.id for p in probes]),
            "teacher_lps": np.stack(t_lp), "reference_lps": np.stack(r_lp)}


def selection_scale(D: dict[str, np.ndarray], selectors: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and shrunken spread of the selection students' contrast, per probe."""
    sel = np.array([D[s] for s in selectors])
    var = sel.var(axis=0, ddof=1)
    return sel.mean(axis=0), np.sqrt(0.5 * var + 0.5 * np.median(var))


def choose(config: str, pool: np.ndarray, n: int, snr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``n`` probes of ``pool``: at random, or the highest teacher-vs-selection SNR."""
    if config.startswith("random"):
        return rng.choice(pool, n, replace=False)
    return pool[np.argsort(-snr[pool], kind="stable")[:n]]


def evaluate(data: dict, reps: int, configs: dict[str, int], extra_selectors: tuple[str, ...] = (),
             block: str = "chat", seed: int = 0, alpha: float = 0.01) -> tuple[list[dict], dict]:
    """AUROC / TPR / FPR per configuration and query budget over ``reps`` random candidate pools.

    Selection models: the ``select-sharegpt-*`` students plus ``extra_selectors``; none of them is evaluated.
    """
    names = [str(n) for n in data["names"]]
    label = dict(zip(names, (int(v) for v in data["labels"])))
    selectors = [n for n in names if n.startswith(SELECT_PREFIX) or n in extra_selectors]
    evaluated = [n for n in names if n not in selectors]
    if sum(n.startswith(SELECT_PREFIX) for n in selectors) < 2:
        raise SystemExit(f"need >= 2 {SELECT_PREFIX}-* students (python benchmarks/fingerprint_zoo.py --select 4)")
    D = {a: contrasts(data, a) for a in (1, 4)}
    scale = {a: selection_scale(D[a], selectors) for a in (1, 4)}
    snr = {a: (D[a]["teacher"] - scale[a][0]) / scale[a][1] for a in (1, 4)}
    n_probes = len(data["probe_ids"])
    rng = np.random.default_rng(seed)
    pools = [rng.permutation(n_probes)[: n_probes // 2] for _ in range(reps)]
    rows, per_model = [], {}
    for config, answers in configs.items():
        S = D[answers]
        if config.endswith("-z"):
            mu, s = scale[answers]
            S = {k: (v - mu) / s for k, v in S.items()}
        for q in BUDGETS:
            n = q // (answers + 1)
            if n < 1:
                continue
            aucs, rej, tvals = [], {m: [] for m in evaluated}, {m: [] for m in evaluated}
            sub_rng = np.random.default_rng(seed + q)
            for pool in pools:
                idx = choose(config, pool, n, snr[answers], sub_rng)
                t = {}
                for m in evaluated:
                    null = null_models(m, evaluated)
                    r = calibrated_test(S[m][idx], np.array([S[c][idx] for c in null]), alpha=alpha)
                    t[m] = r["t"]
                    tvals[m].append(r["t"])
                    rej[m].append(r["p_value"] <= alpha)
                aucs.append(auroc([t[m] for m in evaluated if label[m]], [t[m] for m in evaluated if not label[m]]))
            rows.append({"selectors": block, "config": config, "queries": q, "n_probes": n, "teacher_answers": answers,
                         "auroc_mean": float(np.mean(aucs)), "auroc_min": float(np.min(aucs)),
                         "auroc_1_share": float(np.mean(np.array(aucs) == 1.0)),
                         "tpr_at_alpha": float(np.mean([np.mean(rej[m]) for m in evaluated if label[m]])),
                         "fpr_at_alpha": float(np.mean([np.mean(rej[m]) for m in evaluated if not label[m]]))})
            per_model[f"{block}/{config}@{q}"] = {m: {"t_median": float(np.median(tvals[m])),
                                                      "detected_share": float(np.mean(rej[m]))} for m in evaluated}
            print(f"{block:4s} {config:9s} {q:3d} queries ({n:2d} probes): AUROC {rows[-1]['auroc_mean']:.3f} "
                  f"(min {rows[-1]['auroc_min']:.3f}) TPR {rows[-1]['tpr_at_alpha']:.2f} "
                  f"FPR {rows[-1]['fpr_at_alpha']:.3f}", flush=True)
    return rows, per_model


def plot(rows: list[dict], path: Path) -> None:
    """AUROC (mean over candidate pools) vs queries, one line per configuration."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    for block, configs, style in (("chat", CONFIGS, "-"), ("wide", WIDE_CONFIGS, "--")):
        for config in configs:
            r = [x for x in rows if x["config"] == config and x["selectors"] == block]
            ax.plot([x["queries"] for x in r], [x["auroc_mean"] for x in r], style, marker="o",
                    label=f"{config} [{block} block] FPR {r[-1]['fpr_at_alpha']:.3f} at {r[-1]['queries']} q")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("log-prob queries to the suspect")
    ax.set_ylabel("AUROC over the zoo (mean)")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.legend(fontsize=7)
    ax.set_title("Fingerprint: probe choice at a fixed query budget")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--from-data", action="store_true", help=f"analyse {DATA.relative_to(ROOT.parent)} only")
    ap.add_argument("--reps", type=int, default=200, help="random candidate pools (half of the probes each)")
    ap.add_argument("--demo", default="runs/demo", help="a quick demo's output directory (its student joins the zoo)")
    a = ap.parse_args()
    t0 = time.time()
    if a.from_data:
        data = dict(np.load(DATA))
    else:
        ps = ProbeSet.load(PROBES)
        data = collect(ps.probes, Path(a.demo))
        np.savez_compressed(DATA, **data)
    rows, per_model = evaluate(data, a.reps, CONFIGS)
    wide_rows, wide_per_model = evaluate(data, a.reps, WIDE_CONFIGS, WIDE, "wide")
    rows, per_model = rows + wide_rows, {**per_model, **wide_per_model}
    # does a wide selection keep a kind of model it never saw at alpha? hold each extra selector out in turn
    held_out = {}
    for kind in WIDE:
        r, pm = evaluate(data, a.reps, {"snr-1": 1}, tuple(w for w in WIDE if w != kind), f"wide-minus-{kind}")
        held_out[kind] = {f"{x['queries']}": {"fpr_at_alpha": x["fpr_at_alpha"], "auroc_mean": x["auroc_mean"],
                                              "held_out_detected_share": pm[f"wide-minus-{kind}/snr-1@{x['queries']}"]
                                              [kind]["detected_share"]} for x in r}
    names = [str(n) for n in data["names"]]
    out = new_record(
        "benchmarks/fingerprint_selection.py",
        question="AUROC / TPR / FPR of the fingerprint test at a fixed number of log-prob queries: random "
                 "probes (1 or 4 teacher answers) vs probes chosen by the teacher's SNR against selection "
                 "students", data=str(DATA.relative_to(ROOT.parent)),
        probes=len(data["probe_ids"]), candidate_pool=len(data["probe_ids"]) // 2, reps=a.reps,
        selection_models={"chat": [n for n in names if n.startswith(SELECT_PREFIX)],
                          "wide": [n for n in names if n.startswith(SELECT_PREFIX) or n in WIDE]},
        null_models=[n for n in names if n.startswith(NULL_PREFIX)],
        zoo=[{"name": n, "label": int(lab), "kind": str(k)} for n, lab, k in zip(names, data["labels"], data["kinds"])],
        results=rows, per_model=per_model, held_out_selector=held_out, seconds=round(time.time() - t0, 1))
    res = ROOT / "results"
    plot(rows, res / "fingerprint_selection.png")
    md = markdown(out)
    write_result("fingerprint_selection", out, md, res)
    print(md, end="")


def markdown(out: dict) -> str:
    """The result page: AUROC / TPR / FPR per configuration and budget, median t per model, held-out selectors."""
    rows, per_model, held_out = out["results"], out["per_model"], out["held_out_selector"]
    ev = [z for z in out["zoo"] if not z["name"].startswith(SELECT_PREFIX)]
    md = [f"# Fingerprint probe selection ({out['run']['utc'][:10]})", "",
          f"Command: {provenance_line(out)}", "",
          f"Zoo: {', '.join(z['name'] + ('+' if z['label'] else '-') for z in ev)}. "
          f"Null: {NULL_PREFIX}-* (leave-one-out). Selection models, `chat` block: "
          f"{', '.join(out['selection_models']['chat'])}; `wide` block: these and {', '.join(WIDE)} (which then "
          f"leave the evaluated zoo, for both of the block's rows). {out['reps']} random candidate pools of "
          f"{out['candidate_pool']} of the {out['probes']} answered probes. The `random` rows ignore the selection "
          "models but are evaluated on their block's zoo.", "",
          *md_table(["selectors", "config", "queries", "probes", "answers / probe", "AUROC mean", "AUROC min",
                     "share AUROC = 1", "TPR@0.01", "FPR@0.01"],
                    [[r["selectors"], r["config"], r["queries"], r["n_probes"], r["teacher_answers"],
                      f"{r['auroc_mean']:.3f}", f"{r['auroc_min']:.3f}", f"{r['auroc_1_share']:.2f}",
                      f"{r['tpr_at_alpha']:.2f}", f"{r['fpr_at_alpha']:.3f}"] for r in rows])]
    cols = [f"chat/{c}" for c in CONFIGS] + [f"wide/{c}" for c in WIDE_CONFIGS]
    table = []
    for z in ev:
        cells = []
        for c in cols:
            r = per_model[f"{c}@32"].get(z["name"])
            cells.append("-" if r is None else f"{r['t_median']:.2f} ({r['detected_share']:.2f})")
        table.append([z["name"], "+" if z["label"] else "-", *cells])
    md += ["", "Median t per model at 32 queries (share of tests with p <= 0.01 in brackets; - = a selection "
           "model, not evaluated):", "", *md_table(["model", "+ / -", *cols], table)]
    md += ["", "Wide selection with one of its extra models held out (it is then evaluated; snr-1): share of its "
           "tests with p <= 0.01, and the FPR over all negatives:", "",
           *md_table(["held out", "detected at 16 q", "32 q", "64 q", "FPR at 32 q", "FPR at 64 q"],
                     [[kind, *(f"{h[q]['held_out_detected_share']:.2f}" for q in ("16", "32", "64")),
                       f"{h['32']['fpr_at_alpha']:.3f}", f"{h['64']['fpr_at_alpha']:.3f}"]
                      for kind, h in held_out.items()]),
           "", "![AUROC vs queries](fingerprint_selection.png)", "", f"Wall time {out['seconds']:.0f} s."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
