#!/usr/bin/env python
"""Antidistillation benchmark, a checkable-answer task (issue 27): does ADS cut what a student learns to *do*?

ADS (antidistillation sampling) against plain temperature sampling at matched teacher cost, on a task whose
answers are scored automatically, so that both costs are accuracies: the teacher's own accuracy under each
sampling (its cost to the user) and the accuracy of a student trained on its answers (what distillation buys).

**Task** (chosen after a probe of the teacher, ``runs/antidistillation-task/probe.py``, 48 problems per task,
24 tokens: 2-digit addition greedy 0.33 / T=0.7 0.15 / T=1 0.04; 1-digit addition 0.60 / 0.23 / 0.10; "is n
even or odd" 0.38 / 0.15 / 0.06; successor 0.38 / 0.06 / 0.02; upper-casing a word 0.00 / 0.06 / 0.02; **copying a
4-digit number 1.00 / 0.56 / 0.21** -- the only task where SmolLM2-135M-Instruct is clearly able; a 2x128
from-scratch student learned it from 512 perfect answers to 1.00 held-out accuracy in 35 s):

* prompt ``"Repeat this number exactly: NNNN"`` with NNNN a 4-digit number (1000-9999), in the teacher's chat
  template; every number appears in one split only.
* **scoring rule**: an answer is correct when the first integer in it (regex ``\\d+``) equals the prompt's
  number (:func:`correct`). Chance is about 1 / 9000.
* splits (numbers drawn without replacement, ``random.Random(27)``): E = 200 evaluation problems (held out:
  never in any harvest), D = 64 (teacher answers that make the ADS direction), P = 256 (teacher answers that
  train the student-shaped ADS proxy), H = 384 (the harvest prompts, the same for every condition).

**Conditions** (the teacher's answers to H, ``new_tokens`` = 16 tokens each, forced length, sampling seed 3 for
all): clean = plain sampling at the project's base temperature T = 0.7 (``BASE_T``; T = 1 was the brief's
suggestion, but the teacher copies only 21 % of numbers at T = 1, which leaves little to distil and no room
for a temperature grid above it); ADS at lambda = scale / sd(D) for scale in ``ads_scales`` (cpu: 0.0075, 0.015,
0.03, 0.06, 0.12, and -- added after the first run's harvests showed the teacher's accuracy unchanged and the
per-step KL <= 0.04 up to 0.12, *before any student was trained* -- 0.24, 0.48, 0.96, 1.92; proxy: a 2x128 student-shaped model trained on P's clean answers, direction: the unit gradient
of its NLL on D's clean answers, epsilon 1e-2, applied at T = 0.7 as in ``benchmarks/antidistillation.py``); temperature T in
``temps`` (cpu: 0.75, 0.8, 0.9, 1.0).

**Measured, per condition**: teacher accuracy on H (the rule above) and the per-step KL from the T = 0.7
distribution; **teacher cost** = 1 - acc_teacher(condition) / acc_teacher(clean). Per student (the project's
from-scratch recipe, 2 layers x 128, 6 epochs, lr 3e-3, answer-only loss, trained on the condition's H
answers; seeds 0 and 1): greedy answers (16 tokens) to the E prompts, scored by the same rule. **Undistilled
student** = the same recipe and seed, untrained (no harvest: what the student can do without the teacher;
its accuracy is measured, not assumed).

**Statistic (fixed before the first full-size run)**: per condition, student accuracy acc_s = mean over seeds
and E problems; **gain cut** = 1 - (acc_s(cond) - acc_s(undistilled)) / (acc_s(clean) - acc_s(undistilled)),
with a 95 % percentile bootstrap CI over the E problems (2,000 resamples, the seeds' mean per problem, the
same resample for all students); Clopper-Pearson 95 % intervals for each accuracy. **Matched teacher cost**:
each ADS point is paired with the temperature whose teacher accuracy on H is nearest. **Verdict against the
issue's target**: take the ADS grid point with the largest lambda whose teacher cost is <= 10 % (point
estimate); the target is met when its gain cut is >= 0.5. If no ADS point costs <= 10 %, the target is not met
on this grid. The temperature point paired with it is reported beside it.

Not measured: the Gemma paired-perplexity quality metric of the other benchmark (the teacher's task accuracy
is the cost here), the GPU sizes, pretrained students.

Usage:
    python benchmarks/antidistillation_task.py --threads 1          # CPU sizes (~30 min on one thread)
    python benchmarks/antidistillation_task.py --tiny --threads 1   # smoke run (results under the cache)

Results: ``benchmarks/results/antidistillation_task.{json,md,png}``; caches (harvests, proxy, direction,
students) under ``runs/antidistillation-task/<preset>/``.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.distill import antidistillation_bench as ad
from distillguard.distill.bench import clopper_pearson, md_table, new_record, provenance_line, write_result
from distillguard.distill.student import make_student
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import cache_dir, load_model
from distillguard.watermark import ADSLogitsProcessor
from distillguard.watermark.generate import encode_prompt_text

NAME = "antidistillation_task"
ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Repeat this number exactly: {n}"
SPLIT_SEED = 27
HARVEST_SEED = 3
TARGET_COST = 0.10
TARGET_CUT = 0.5


@dataclass(frozen=True)
class Task:
    """Split sizes and student seeds of one run (the teacher-side sizes are in :class:`ad.Config`)."""

    n_eval: int
    seeds: tuple[int, ...]


PRESETS: dict[str, tuple[ad.Config, Task]] = {
    "cpu": (replace(ad.PRESETS["cpu"], preset="task_cpu", n_quality=0, n_direction=64, n_proxy=256, n_harvest=384,
                    new_tokens=16, batch_size=32, ads_scales=(0.0075, 0.015, 0.03, 0.06, 0.12, 0.24, 0.48, 0.96, 1.92),
                    temps=(0.75, 0.8, 0.9, 1.0),
                    student_layers=2, student_hidden=128, student_epochs=6, seed=0), Task(n_eval=200, seeds=(0, 1))),
    "tiny": (replace(ad.PRESETS["tiny"], preset="task_tiny", n_quality=0, n_direction=4, n_proxy=8, n_harvest=8,
                     new_tokens=8, batch_size=8, ads_scales=(0.06,), temps=(1.0,), student_layers=1, student_hidden=32,
                     student_epochs=1, seed=0), Task(n_eval=8, seeds=(0,))),
}


# -- the task ------------------------------------------------------------------------------------------------
def problems(cfg: ad.Config, task: Task) -> dict[str, list[str]]:
    """Disjoint splits E / D / P / H of prompts, each a distinct 4-digit number.

    Example:
        >>> s = problems(PRESETS["cpu"][0], PRESETS["cpu"][1])
        >>> [len(s[k]) for k in "EDPH"], s["E"][0].startswith("Repeat this number exactly: ")
        ([200, 64, 256, 384], True)
        >>> len({target(p) for v in s.values() for p in v}) == 200 + 64 + 256 + 384
        True
    """
    sizes = {"E": task.n_eval, "D": cfg.n_direction, "P": cfg.n_proxy, "H": cfg.n_harvest}
    nums = random.Random(SPLIT_SEED).sample(range(1000, 10000), sum(sizes.values()))
    out, i = {}, 0
    for name, n in sizes.items():
        out[name] = [PROMPT.format(n=x) for x in nums[i : i + n]]
        i += n
    return out


def target(prompt: str) -> str:
    """The number the prompt asks for.

    Example:
        >>> target("Repeat this number exactly: 3714")
        '3714'
    """
    return re.findall(r"\d+", prompt)[-1]


def correct(prompt: str, answer: str) -> bool:
    """The pre-declared scoring rule: the first integer in the answer is the prompt's number.

    Example:
        >>> correct("Repeat this number exactly: 3714", "Repeat this number exactly: 3714.")
        True
        >>> correct("Repeat this number exactly: 3714", "37 is 3714"), correct("Repeat this number exactly: 3714", "")
        (False, False)
    """
    m = re.search(r"\d+", answer)
    return bool(m and m.group() == target(prompt))


def gain_cut(acc: float, clean: float, none: float) -> float:
    """1 - (acc - none) / (clean - none): the share of the clean student's gain that a condition removes (NaN when
    the clean student gained nothing).

    Example:
        >>> gain_cut(0.5, 0.9, 0.1), gain_cut(0.9, 0.9, 0.1), math.isnan(gain_cut(0.2, 0.1, 0.1))
        (0.5, 0.0, True)
    """
    gain = clean - none
    return 1.0 - (acc - none) / gain if gain > 0 else math.nan


def bootstrap_cut(c: np.ndarray, clean: np.ndarray, none: np.ndarray, n_boot: int = 2000,
                  seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap CI of :func:`gain_cut` over problems (per-problem scores in [0, 1], paired).

    Example:
        >>> lo, hi = bootstrap_cut(np.r_[np.ones(50), np.zeros(50)], np.ones(100), np.zeros(100))
        >>> 0.35 < lo < 0.5 < hi < 0.65
        True
    """
    rng = np.random.default_rng(seed)
    n = len(c)
    cuts = []
    for _ in range(n_boot):
        i = rng.integers(0, n, n)
        cuts.append(gain_cut(float(c[i].mean()), float(clean[i].mean()), float(none[i].mean())))
    cuts = np.array(cuts)
    cuts = cuts[np.isfinite(cuts)]
    if len(cuts) == 0:
        return math.nan, math.nan
    return float(np.percentile(cuts, 2.5)), float(np.percentile(cuts, 97.5))


def verdict(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared rule: the largest-lambda ADS row whose teacher cost is <= 10 %, met if its cut >= 0.5.

    Example:
        >>> rows = [{"kind": "ads", "value": 1.0, "teacher_cost": 0.05, "gain_cut": 0.2},
        ...         {"kind": "ads", "value": 2.0, "teacher_cost": 0.08, "gain_cut": 0.6},
        ...         {"kind": "ads", "value": 4.0, "teacher_cost": 0.30, "gain_cut": 0.9}]
        >>> v = verdict(rows)
        >>> v["lambda"], v["met"]
        (2.0, True)
        >>> verdict([{"kind": "ads", "value": 1.0, "teacher_cost": 0.2, "gain_cut": 0.9}])["met"]
        False
    """
    ok = [r for r in rows if r["kind"] == "ads" and r["teacher_cost"] <= TARGET_COST]
    if not ok:
        return {"lambda": None, "met": False, "text": f"no ADS grid point costs the teacher <= {TARGET_COST:.0%}: "
                "the target is not met on this grid"}
    best = max(ok, key=lambda r: r["value"])
    if not math.isfinite(best["gain_cut"]):
        return {"lambda": best["value"], "met": False, "teacher_cost": best["teacher_cost"], "gain_cut": math.nan,
                "text": "the clean student gained nothing over the undistilled one: no gain to cut, no verdict"}
    met = bool(best["gain_cut"] >= TARGET_CUT)
    return {"lambda": best["value"], "met": met, "teacher_cost": best["teacher_cost"], "gain_cut": best["gain_cut"],
            "text": (f"ADS lambda={best['value']:g} (teacher cost {best['teacher_cost']:.1%}) cuts the student's gain "
                     f"by {best['gain_cut']:.0%}: the target (>= {TARGET_CUT:.0%} at <= {TARGET_COST:.0%}) is "
                     f"{'met' if met else 'not met'}")}


# -- the run -------------------------------------------------------------------------------------------------
@torch.no_grad()
def greedy_answers(model: Any, tok: Any, prompts: Sequence[str], new_tokens: int, batch_size: int) -> list[str]:
    """A student's greedy answers (chat template, left padding)."""
    dev = next(model.parameters()).device
    out_txt = []
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    for b0 in range(0, len(prompts), batch_size):
        enc = tok([encode_prompt_text(tok, p) for p in prompts[b0 : b0 + batch_size]], return_tensors="pt",
                  padding=True, add_special_tokens=False).to(dev)
        out = model.generate(**enc, do_sample=False, max_new_tokens=new_tokens, pad_token_id=pad)
        out_txt += tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out_txt


def make_bench(cfg: ad.Config, task: Task, work: Path) -> ad.Bench:
    teacher = load_model(None, device=cfg.device)
    tok = teacher.tokenizer
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    return ad.Bench(cfg, work, teacher, key, problems(cfg, task))


def run(cfg: ad.Config, task: Task, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or make_bench(cfg, task, work)
    teacher, key, answers, text = bench.teacher, bench.key, bench.answers, bench.text
    tok = teacher.tokenizer
    E, D, P, H = (bench.splits[s] for s in "EDPH")
    res: dict[str, Any] = {"config": asdict(cfg), "task": {**asdict(task), "prompt": PROMPT, "split_seed": SPLIT_SEED},
                           "splits": {s: len(v) for s, v in bench.splits.items()}, "timings_s": {}}

    # the student-shaped proxy and the ADS direction (as benchmarks/antidistillation.py, on this task's answers)
    t0 = time.time()
    p_ids, _ = answers(P, [], ad.BASE_T, key, 1, "P_clean")
    d_ids, _ = answers(D, [], ad.BASE_T, key, 2, "D_clean")
    ap = ad.ads_proxy(bench, list(zip(P, text(p_ids))), list(zip(D, text(d_ids))))
    proxy_model, proxy, g, dinfo, ads_sd = ap.model, ap.proxy, ap.direction, ap.info, ap.shift_sd
    res["proxy"] = {"teacher_acc_P": float(np.mean([correct(p, a) for p, a in zip(P, text(p_ids))])),
                    "acc_E": float(np.mean([correct(p, a) for p, a in
                                            zip(E, greedy_answers(proxy_model, tok, E, cfg.new_tokens, cfg.batch_size))]))}
    res["ads_direction"] = {**dinfo, "shift_sd": ads_sd, "epsilon": cfg.ads_epsilon}
    res["timings_s"]["proxy_and_direction"] = round(time.time() - t0, 1)

    # harvests: clean, ADS grid, temperature grid -- the teacher's accuracy on H is its cost
    t0 = time.time()
    conds = [("clean", "clean T=0.7", ad.BASE_T, ad.BASE_T, [])]
    for sc in cfg.ads_scales:
        lam = round(sc / ads_sd, 4)
        conds.append(("ads", f"ADS λ={lam:g}", lam, ad.BASE_T,
                      [ADSLogitsProcessor(proxy, g, lam, cfg.ads_epsilon, temperature=ad.BASE_T, spec=key.spec,
                                          pad_token_id=tok.pad_token_id)]))
    conds += [("temp", f"T={t:g}", t, t, []) for t in cfg.temps]
    rows, harvests = [], {}
    for kind, label, value, t, marks in conds:
        ids, stats = answers(H, marks, t, key, HARVEST_SEED, f"H_{kind}_{value:g}")
        txt = text(ids)
        hits = [correct(p, a) for p, a in zip(H, txt)]
        harvests[label] = txt
        lo, hi = clopper_pearson(int(sum(hits)), len(hits))
        rows.append({"kind": kind, "label": label, "value": value, "temperature": t, "kl": stats["kl"],
                     "gen_seconds": stats["seconds"], "teacher_acc": float(np.mean(hits)), "teacher_acc_ci95": [lo, hi],
                     "example": txt[0]})
        print(f"{label:>14}: teacher acc {np.mean(hits):.3f}  KL {stats['kl']:.3f}  {stats['seconds']:.0f}s", flush=True)
    base_acc = rows[0]["teacher_acc"]
    for r in rows:
        r["teacher_cost"] = 1.0 - r["teacher_acc"] / base_acc if base_acc > 0 else math.nan
    res["timings_s"]["harvests"] = round(time.time() - t0, 1)

    # students: the same recipe and seeds on every harvest; the undistilled student = same recipe, untrained
    t0 = time.time()
    per_problem: dict[str, np.ndarray] = {}
    fresh = [np.array([correct(p, a) for p, a in zip(E, greedy_answers(
        make_student(len(tok), layers=cfg.student_layers, hidden=cfg.student_hidden, seed=s).to(cfg.device).eval(),
        tok, E, cfg.new_tokens, cfg.batch_size))], float) for s in task.seeds]
    per_problem["undistilled"] = np.mean(fresh, axis=0)
    for r in rows:
        accs = []
        for s in task.seeds:
            model = ad.student_on(tok, list(zip(H, harvests[r["label"]])),
                                  work / f"student_{r['kind']}_{r['value']:g}_s{s}", replace(cfg, seed=s),
                                  f"{r['label']} s{s}")
            got = greedy_answers(model, tok, E, cfg.new_tokens, cfg.batch_size)
            accs.append(np.array([correct(p, a) for p, a in zip(E, got)], float))
            r.setdefault("student_example", got[0])
        per_problem[r["label"]] = np.mean(accs, axis=0)
        r["student_acc_per_seed"] = [float(a.mean()) for a in accs]
        print(f"{r['label']:>14}: student acc {r['student_acc_per_seed']}", flush=True)
    none, clean = per_problem["undistilled"], per_problem[rows[0]["label"]]
    n_e = len(E) * len(task.seeds)
    for r in rows:
        c = per_problem[r["label"]]
        r["student_acc"] = float(c.mean())
        r["student_acc_ci95"] = list(clopper_pearson(int(round(c.sum() * len(task.seeds))), n_e))
        r["gain_cut"] = gain_cut(float(c.mean()), float(clean.mean()), float(none.mean()))
        r["gain_cut_ci95"] = list(bootstrap_cut(c, clean, none))
    temps = [r for r in rows if r["kind"] == "temp"]
    for r in rows:
        if r["kind"] == "ads" and temps:
            m = min(temps, key=lambda x: abs(x["teacher_acc"] - r["teacher_acc"]))
            r["matched_temperature"] = m["label"]
    res["undistilled"] = {"student_acc": float(none.mean()), "student_acc_per_seed": [float(a.mean()) for a in fresh]}
    res["rows"] = rows
    res["verdict"] = verdict(rows)
    res["timings_s"]["students"] = round(time.time() - t0, 1)
    res["timings_s"]["total"] = round(time.time() - t_start, 1)
    print("verdict:", res["verdict"]["text"], flush=True)
    return res


# -- report -------------------------------------------------------------------------------------------------
def plot(res: dict[str, Any], path: Path) -> None:
    """Left: what each sampling costs the teacher (task accuracy) against how far it moves the distribution
    (per-step KL); right: teacher cost against the student's gain cut (empty when no gain was measured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3))
    names = {"ads": "ADS", "ads_posthoc": "ADS, post hoc points", "temp": "temperature",
             "temp_posthoc": "temperature, post hoc points", "clean": "clean T=0.7"}
    for kind, color in (("ads", "tab:green"), ("ads_posthoc", "tab:olive"), ("temp", "tab:gray"),
                        ("temp_posthoc", "tab:brown"), ("clean", "black")):
        rs = sorted([r for r in res["rows"] if r["kind"] == kind], key=lambda r: r["value"])
        if not rs:
            continue
        fmt = {"clean": "o", "ads_posthoc": "s", "temp_posthoc": "s"}.get(kind, "o-")
        acc = [r["teacher_acc"] for r in rs]
        err = np.array([[a - r["teacher_acc_ci95"][0], r["teacher_acc_ci95"][1] - a] for a, r in zip(acc, rs)]).T
        axes[0].errorbar([r["kl"] for r in rs], acc, yerr=err, fmt=fmt, color=color, capsize=3, label=names[kind])
        for r in rs:
            axes[0].annotate(r["label"].replace(" (post hoc)", "").replace("clean ", "").split(" ")[-1],
                             (r["kl"], r["teacher_acc"]), fontsize=7,
                             xytext=(3, 3), textcoords="offset points")
        x = [100 * r["teacher_cost"] for r in rs]
        y = [r["gain_cut"] for r in rs]
        if any(math.isfinite(v) for v in y):
            cerr = np.array([[r["gain_cut"] - r["gain_cut_ci95"][0], r["gain_cut_ci95"][1] - r["gain_cut"]] for r in rs]).T
            axes[1].errorbar(x, y, yerr=np.nan_to_num(cerr), fmt=fmt, color=color, capsize=3, label=names[kind])
    base = res["rows"][0]["teacher_acc"]
    axes[0].axhline(base * (1 - TARGET_COST), color="tab:red", ls=":", lw=1, label="10 % teacher cost")
    axes[0].set_xscale("symlog", linthresh=1e-2)
    axes[0].set_xlim(left=0)
    axes[1].set_xlim(-5, max([60.0] + [100 * r["teacher_cost"] + 5 for r in res["rows"] if math.isfinite(r["teacher_cost"])]))
    axes[0].set_xlabel("mean per-step KL from the T=0.7 distribution (nats)")
    axes[0].set_ylabel("teacher accuracy on H (CP 95 %)")
    axes[1].axvline(100 * TARGET_COST, color="tab:red", ls=":", lw=1)
    axes[1].axhline(TARGET_CUT, color="tab:red", ls=":", lw=1, label="target (cost <= 10 %, cut >= 0.5)")
    if not any(math.isfinite(r["gain_cut"]) for r in res["rows"]):
        axes[1].text(0.5, 0.5, "no gain to cut:\nthe clean student learned nothing\n(accuracy = the undistilled one's)",
                     ha="center", va="center", transform=axes[1].transAxes, fontsize=9)
    axes[1].set_xlabel("teacher cost: relative drop of its accuracy on H (%)")
    axes[1].set_ylabel("student gain cut (95 % bootstrap CI over E)")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(res.get("title", f"ADS vs temperature, 4-digit copy task, SmolLM2-135M teacher "
                                  f"({res['config']['preset']})"), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict[str, Any], png: str | None) -> str:
    cfg, task = res["config"], res["task"]
    lines = [f"# Antidistillation, checkable-answer task: ADS vs temperature ({cfg['preset']})", "",
             provenance_line(res) + f"; total {res['timings_s']['total']:.0f} s "
             f"(stages: {', '.join(f'{k} {v:.0f} s' for k, v in res['timings_s'].items() if k != 'total')}).", "",
             f"Question: {res['question']}", "",
             f"Task: `{task['prompt']}` with a 4-digit number; correct = the first integer of the answer is the number. "
             f"Splits E/D/P/H = {res['splits']['E']}/{res['splits']['D']}/{res['splits']['P']}/{res['splits']['H']} "
             f"distinct numbers. Teacher SmolLM2-135M-Instruct, {cfg['new_tokens']}-token answers. Students: "
             f"{cfg['student_layers']}x{cfg['student_hidden']} from scratch, {cfg['student_epochs']} epochs, seeds "
             f"{', '.join(map(str, task['seeds']))}; greedy answers to E. ADS proxy: the same shape trained on P "
             f"(teacher acc on P {res['proxy']['teacher_acc_P']:.2f}; proxy's own greedy acc on E "
             f"{res['proxy']['acc_E']:.2f}); direction grad norm {res['ads_direction']['grad_norm']:.3g}, shift sd "
             f"{res['ads_direction']['shift_sd']:.4g}.", "",
             f"Undistilled student (same recipe, untrained): accuracy {res['undistilled']['student_acc']:.3f}.", "",
             f"**Verdict (pre-declared rule)**: {res['verdict']['text']}.", ""]
    rows = []
    for r in res["rows"]:
        rows.append([r["label"], f"{r['kl']:.3f}",
                     f"{r['teacher_acc']:.3f} [{r['teacher_acc_ci95'][0]:.2f}, {r['teacher_acc_ci95'][1]:.2f}]",
                     f"{100 * r['teacher_cost']:+.1f} %",
                     f"{r['student_acc']:.3f} [{r['student_acc_ci95'][0]:.2f}, {r['student_acc_ci95'][1]:.2f}]",
                     " / ".join(f"{a:.3f}" for a in r["student_acc_per_seed"]),
                     f"{r['gain_cut']:+.2f} [{r['gain_cut_ci95'][0]:+.2f}, {r['gain_cut_ci95'][1]:+.2f}]",
                     r.get("matched_temperature", "")])
    lines += md_table(["teacher sampling", "KL/step", "teacher acc on H [CP 95%]", "teacher cost",
                       "student acc on E [CP 95%]", "per seed", "gain cut [bootstrap 95%]", "matched T"], rows,
                      align="lrrrrrrl")
    if png:
        lines += ["", f"![teacher cost vs gain cut]({png})"]
    lines += ["", "Examples (first H answer of the teacher, first E answer of the seed-0 student):", ""]
    lines += md_table(["condition", "teacher", "student"],
                      [[r["label"], repr(r["example"]), repr(r.get("student_example", ""))] for r in res["rows"]])
    lines += ["", "## Notes", ""] + [f"- {x}" for x in NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "Teacher cost = 1 - acc_teacher(condition) / acc_teacher(clean), accuracy on the 384 H prompts (the harvest "
    "itself), same sampling seed for every condition. KL/step: mean KL of the sampled distribution from the "
    "unmarked T = 0.7 one (measured inside generation).",
    "Gain cut = 1 - (acc - acc_undistilled) / (acc_clean - acc_undistilled), student accuracy averaged over the "
    "seeds; CI: 2,000 bootstrap resamples of the E problems (the same resample for every student).",
    "Matched T: the temperature whose teacher accuracy on H is nearest the ADS point's.",
    "ADS lambda = scale / sd(D): the other antidistillation benchmark's unit; the proxy and direction are this "
    "task's (trained on / computed from the teacher's clean answers to P and D).",
    "Every stage is cached under runs/antidistillation-task/<preset>/ (harvests, proxy, direction, students): a "
    "rerun reuses them; 'gen s' in the JSON is the time of the run that generated a harvest.",
]


def main(argv: Sequence[str] | None = None, bench: ad.Bench | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--tiny", dest="preset", action="store_const", const="tiny", help="same as --preset tiny")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--seeds", default=None, help="student seeds, comma-separated (default: the preset's)")
    ap.add_argument("--work", default=None, help="cache folder (default runs/antidistillation-task/<preset>)")
    args = ap.parse_args(args_list)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, task = PRESETS[args.preset]
    if args.seeds:
        task = replace(task, seeds=tuple(int(s) for s in args.seeds.split(",")))
    work = Path(args.work) if args.work else ROOT / "runs" / "antidistillation-task" / args.preset
    rec = new_record("benchmarks/antidistillation_task.py", args_list,
                     question=__doc__.split("\n\n")[0].split(": ", 1)[1])
    res = {**rec, **run(cfg, task, work, bench=bench), "notes": NOTES}
    out_dir = ROOT / "benchmarks" / "results" if args.preset == "cpu" else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = NAME if args.preset == "cpu" else f"{NAME}_{args.preset}"
    png = out_dir / f"{name}.png"
    plot(res, png)
    js, md = write_result(name, res, markdown(res, png.name), out_dir=out_dir)
    print(f"wrote {js}, {md}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
