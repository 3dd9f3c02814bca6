#!/usr/bin/env python
"""Antidistillation benchmark, context distillation (issue 27): does ADS cut a skill a pretrained student learns?

``benchmarks/antidistillation_task.py`` could not answer the issue's ADS question: its from-scratch students
learned nothing from the clean answers either, so there was no gain to cut. Here the student is *pretrained* (a
copy of the teacher's open base, as real distillers start from a pretrained model) and the skill it lacks lives
in the provider's **hidden context** -- a system prompt with three worked examples, never shown to the API user.
Distilling the answers without the context is *context distillation*: the student must learn the skill from the
answers alone.

**Task** (chosen after a probe of the teacher, 48 problems per task drawn with ``random.Random(99)``, 16-token
answers, greedy / T = 0.7, hidden context / bare model): "reply with the number plus one" 0.56 / 0.42 with the
context, 0.00 / 0.02 without -- the skill is in the context, and at T = 0.7 the teacher is right less than half
the time, which leaves room for a sampling defence to cost it accuracy; two format tasks ("[N]", "Number: N")
were 1.00 with the context (saturated) and digit reversal 0.00 (no skill to distil). Recipe check, before this
rule was written and on the *clean* answers only (256 teacher answers to ``Random(98)`` numbers, 48 check
problems from the same generator, which may share numbers with E): the project's pretrained-student recipe
(``antidistillation_pretrained.py``: full fine-tune, lr 1e-4, 2 epochs) reached 0.85 greedy accuracy, 1 epoch
0.06; the bare copy 0.00.

* visible prompt ``"Repeat this number exactly: N"`` (N a 4-digit number, 1000-9998); the teacher sees it after
  the hidden context (:data:`HIDDEN_SYSTEM` and :data:`SHOTS`, rendered by the chat template); the student sees
  only the visible prompt (the chat template's default system prompt).
* **scoring rule** (:func:`correct`): the first integer in the answer is N + 1.
* splits (numbers without replacement, ``random.Random(27)``): E = 200 evaluation problems (never harvested),
  D = 64 (teacher answers that make the ADS direction), H = 256 (the harvest prompts, the same for every
  condition); the shots' numbers are in no split.

**Conditions** (the teacher's answers to H, 8 tokens each, forced length, sampling seed 3 for all): clean =
plain sampling at T = 0.7 (the project's base temperature); **ADS** at lambda = scale / sd(D) for scale in
0.06, 0.24, 0.96, 3.84, 15.36 (a x4 grid; every point harvested), proxy = the **bare copy** (the student's
starting weights: a proxy of the student's shape and weights), direction = the unit gradient of its NLL on D's
clean answers after the *visible* prompts (what the student trains on), epsilon 1e-2, applied at T = 0.7; the
proxy reads the teacher's full context, hidden part included, as a provider's processor would; **temperature**
T = 0.8, 0.9, 1.0.

**Students** (one seed, 0, for time: seed-to-seed variation is not in the intervals): a fresh copy of the
teacher's weights, fully fine-tuned on (visible prompt, answer) pairs of one condition, answer-only loss, lr
1e-4, 2 epochs; greedy 8-token answers to E, scored by the rule. Trained on: clean, every temperature point,
every ADS point whose teacher cost is <= 10 % and the smallest-lambda ADS point above 10 % (teacher costs are
measured before any student is trained; the verdict uses only points <= 10 %). **Undistilled student** = the
bare copy, untrained (measured, not assumed).

**Statistic and verdict** (as ``antidistillation_task.py``, fixed before any student of this module was
trained): teacher cost = 1 - acc_teacher(cond) / acc_teacher(clean) on H; gain cut = 1 - (acc_s(cond) -
acc_s(undistilled)) / (acc_s(clean) - acc_s(undistilled)) with a 95 % percentile bootstrap over E; Clopper-Pearson
intervals for accuracies; each ADS point paired with the temperature whose teacher accuracy is nearest. **The
target is met** when the largest-lambda ADS point with teacher cost <= 10 % cuts the gain by >= 0.5.

**Added after the first full run (exploratory, not part of the verdict)**: that run's grid jumped from 3.6 % to
12.3 % teacher cost (lambda 0.0209 -> 0.0836), so two ADS points between its points, scales 0.48 and 1.92
(``posthoc_scales``, kind ``ads_posthoc``), are harvested and get students regardless of their cost, to draw
the cost / cut curve. They are labelled "post hoc" in every output and the rule above ignores them. Added after
the second seed (same status): temperatures T = 1.2 and 1.5 (``posthoc_temps``, kind ``temp_posthoc``), because
the declared grid stopped at 5 % teacher cost and so could not be matched with ADS's costlier points.

Not measured: the Gemma paired-perplexity metric (the task accuracy is the teacher's cost here), other seeds,
the GPU sizes.

Usage:
    python benchmarks/antidistillation_context.py --threads 2          # CPU sizes (~45 min on 2 threads)
    python benchmarks/antidistillation_context.py --seeds 1 --threads 2  # another student seed, same harvests
    python benchmarks/antidistillation_context.py --tiny --threads 1   # smoke run (results under the cache)

Results: ``benchmarks/results/antidistillation_context.{json,md,png}``; caches under
``runs/antidistillation-context/<preset>/``.
"""

from __future__ import annotations

import argparse
import copy
import gc
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark's statistic and verdict
import antidistillation_pretrained as pre  # noqa: E402
import antidistillation_task as task_bench  # noqa: E402

from distillguard.distill import antidistillation_bench as ad  # noqa: E402
from distillguard.distill.bench import clopper_pearson, md_table, new_record, provenance_line, write_result  # noqa: E402
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id  # noqa: E402
from distillguard.models import LoadedModel, cache_dir, load_model  # noqa: E402
from distillguard.watermark import ADSLogitsProcessor  # noqa: E402

NAME = "antidistillation_context"
ROOT = Path(__file__).resolve().parents[1]
PROMPT = "Repeat this number exactly: {n}"
HIDDEN_SYSTEM = "Reply with the number plus one."
SHOTS = (4821, 7305, 2916)  # the worked examples of the hidden context (in no split)
SPLIT_SEED = 27
HARVEST_SEED = 3
TARGET_COST = task_bench.TARGET_COST


@dataclass(frozen=True)
class Finetune:
    """The pretrained students' recipe and the evaluation size."""

    lr: float
    epochs: int
    n_eval: int
    seeds: tuple[int, ...]
    posthoc_scales: tuple[float, ...] = ()  # ADS points added after the first run: students always, no verdict
    posthoc_temps: tuple[float, ...] = ()  # temperatures added after the second seed: the same status


PRESETS: dict[str, tuple[ad.Config, Finetune]] = {
    "cpu": (replace(ad.PRESETS["cpu"], preset="context_cpu", n_quality=0, n_direction=64, n_proxy=0, n_harvest=256,
                    new_tokens=8, batch_size=64, ads_scales=(0.06, 0.24, 0.96, 3.84, 15.36), temps=(0.8, 0.9, 1.0),
                    seed=0), Finetune(lr=1e-4, epochs=2, n_eval=200, seeds=(0,), posthoc_scales=(0.48, 1.92),
                                    posthoc_temps=(1.2, 1.5))),
    "tiny": (replace(ad.PRESETS["tiny"], preset="context_tiny", n_quality=0, n_direction=4, n_proxy=0, n_harvest=8,
                     new_tokens=6, batch_size=8, ads_scales=(0.06, 15.36), temps=(1.0,), seed=0),
             Finetune(lr=1e-4, epochs=1, n_eval=8, seeds=(0,), posthoc_scales=(1.0,), posthoc_temps=(1.5,))),
}


# -- the task ------------------------------------------------------------------------------------------------
def problems(cfg: ad.Config, ft: Finetune) -> dict[str, list[str]]:
    """Disjoint splits E / D / H of visible prompts, each a distinct 4-digit number not among the shots.

    Example:
        >>> s = problems(*PRESETS["cpu"])
        >>> [len(s[k]) for k in "EDH"], s["E"][0].startswith("Repeat this number exactly: ")
        ([200, 64, 256], True)
        >>> nums = [task_bench.target(p) for v in s.values() for p in v]
        >>> len(set(nums)) == len(nums) and not {str(n) for n in SHOTS} & set(nums)
        True
    """
    sizes = {"E": ft.n_eval, "D": cfg.n_direction, "H": cfg.n_harvest}
    pool = [n for n in range(1000, 9999) if n not in SHOTS]
    nums = random.Random(SPLIT_SEED).sample(pool, sum(sizes.values()))
    out, i = {}, 0
    for name, n in sizes.items():
        out[name] = [PROMPT.format(n=x) for x in nums[i : i + n]]
        i += n
    return out


def correct(prompt: str, answer: str) -> bool:
    """The pre-declared scoring rule: the first integer in the answer is the prompt's number plus one.

    Example:
        >>> correct("Repeat this number exactly: 3714", "3715")
        True
        >>> correct("Repeat this number exactly: 3714", "3714"), correct("Repeat this number exactly: 3714", "x 37 15")
        (False, False)
    """
    m = re.search(r"\d+", answer)
    return bool(m and m.group() == str(int(task_bench.target(prompt)) + 1))


def hidden_prompt(tok: Any, prompt: str) -> str:
    """What the teacher is fed: the hidden system prompt and worked examples, then the user's prompt.

    Example:
        >>> class Plain: chat_template = None
        >>> print(hidden_prompt(Plain(), "Repeat this number exactly: 1000").splitlines()[0])
        Reply with the number plus one.
    """
    msgs = [{"role": "system", "content": HIDDEN_SYSTEM}]
    for n in SHOTS:
        msgs += [{"role": "user", "content": PROMPT.format(n=n)}, {"role": "assistant", "content": str(n + 1)}]
    msgs.append({"role": "user", "content": prompt})
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False)
    return "\n".join(m["content"] for m in msgs) + "\n"


# -- the run -------------------------------------------------------------------------------------------------
def make_bench(cfg: ad.Config, ft: Finetune, work: Path) -> ad.Bench:
    teacher = load_model(None, device=cfg.device)
    tok = teacher.tokenizer
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=len(tok), gamma=ad.GAMMA, delta=2.0,
                                                      tokenizer_id=tokenizer_id(tok)))
    return ad.Bench(cfg, work, teacher, key, problems(cfg, ft))


def ads_setup(bench: ad.Bench, d_pairs: list[tuple[str, str]]) -> tuple[LoadedModel, dict[str, torch.Tensor],
                                                                        dict[str, Any], float]:
    """The bare copy as ADS proxy, its direction from D's answers (cached, hash-checked) and the shift's sd."""
    teacher = bench.teacher
    proxy = LoadedModel(copy.deepcopy(teacher.model).eval(), teacher.tokenizer, "bare teacher copy", "proxy-bare",
                        teacher.is_chat)
    g, info, sd = ad.cached_direction(bench, proxy, d_pairs)
    gc.collect()
    return proxy, g, info, sd


def students_for(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pre-declared student set: clean, every temperature, ADS points costing <= 10 % and the
    smallest-lambda ADS point above 10 % (and every post hoc point: kinds ``ads_posthoc``, ``temp_posthoc``).

    Example:
        >>> rows = [{"kind": "clean", "value": 0.7, "teacher_cost": 0.0}]
        >>> rows += [{"kind": "ads", "value": v, "teacher_cost": c} for v, c in ((1, 0.0), (4, 0.2), (16, 0.5))]
        >>> rows += [{"kind": "temp", "value": 1.0, "teacher_cost": 0.4}]
        >>> [(r["kind"], r["value"]) for r in students_for(rows)]
        [('clean', 0.7), ('ads', 1), ('ads', 4), ('temp', 1.0)]
    """
    over = [r for r in rows if r["kind"] == "ads" and not r["teacher_cost"] <= TARGET_COST]
    first_over = min(over, key=lambda r: r["value"]) if over else None
    return [r for r in rows if r["kind"] != "ads" or r["teacher_cost"] <= TARGET_COST or r is first_over]


def run(cfg: ad.Config, ft: Finetune, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or make_bench(cfg, ft, work)
    teacher, key, text = bench.teacher, bench.key, bench.text
    tok = teacher.tokenizer
    E, D, H = (bench.splits[s] for s in "EDH")
    # the teacher as the API serves it: the hidden context in front of every prompt, fed as plain text
    served = ad.Bench(cfg, work, LoadedModel(teacher.model, tok, teacher.source, teacher.identity, False), key,
                      bench.splits)
    res: dict[str, Any] = {"config": asdict(cfg), "finetune": asdict(ft),
                           "task": {"prompt": PROMPT, "hidden_system": HIDDEN_SYSTEM, "shots": list(SHOTS),
                                    "split_seed": SPLIT_SEED},
                           "splits": {s: len(v) for s, v in bench.splits.items()}, "timings_s": {}}

    t0 = time.time()
    d_ids, _ = served.answers([hidden_prompt(tok, p) for p in D], [], ad.BASE_T, key, 2, "D_clean")
    d_txt = text(d_ids)
    proxy, g, dinfo, ads_sd = ads_setup(bench, list(zip(D, d_txt)))
    res["ads_direction"] = {**dinfo, "shift_sd": ads_sd, "epsilon": cfg.ads_epsilon,
                            "teacher_acc_D": float(np.mean([correct(p, a) for p, a in zip(D, d_txt)]))}
    res["timings_s"]["direction"] = round(time.time() - t0, 1)

    # harvests: clean, the ADS grid, the temperature grid -- the teacher's accuracy on H is its cost
    t0 = time.time()
    hp = [hidden_prompt(tok, p) for p in H]
    conds = [("clean", "clean T=0.7", ad.BASE_T, ad.BASE_T)]
    conds += [("ads", f"ADS λ={round(sc / ads_sd, 4):g}", round(sc / ads_sd, 4), ad.BASE_T) for sc in cfg.ads_scales]
    conds += [("temp", f"T={t:g}", t, t) for t in cfg.temps]
    conds += [("ads_posthoc", f"ADS λ={round(sc / ads_sd, 4):g} (post hoc)", round(sc / ads_sd, 4), ad.BASE_T)
              for sc in ft.posthoc_scales]
    conds += [("temp_posthoc", f"T={t:g} (post hoc)", t, t) for t in ft.posthoc_temps]
    rows, harvests = [], {}
    for kind, label, value, t in conds:
        marks = ([ADSLogitsProcessor(proxy, g, value, cfg.ads_epsilon, temperature=ad.BASE_T, spec=key.spec,
                                     pad_token_id=tok.pad_token_id)] if kind.startswith("ads") else [])
        ids, stats = served.answers(hp, marks, t, key, HARVEST_SEED, f"H_{kind.split('_')[0]}_{value:g}")
        del marks
        gc.collect()
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
    del proxy
    gc.collect()

    # students: the pre-declared set; the undistilled student = the bare copy, untrained
    t0 = time.time()
    per_problem: dict[str, np.ndarray] = {}
    bare = task_bench.greedy_answers(teacher.model, tok, E, cfg.new_tokens, cfg.batch_size)
    per_problem["undistilled"] = np.array([correct(p, a) for p, a in zip(E, bare)], float)
    trained = students_for(rows)
    for r in trained:
        accs = []
        for s in ft.seeds:
            model, _ = pre.finetune_copy(teacher, list(zip(H, harvests[r["label"]])),
                                         work / f"student_{r['kind'].split('_')[0]}_{r['value']:g}_s{s}", ft, s,
                                         f"{r['label']} s{s}")
            got = task_bench.greedy_answers(model, tok, E, cfg.new_tokens, cfg.batch_size)
            accs.append(np.array([correct(p, a) for p, a in zip(E, got)], float))
            r.setdefault("student_example", got[0])
            del model
            gc.collect()
        per_problem[r["label"]] = np.mean(accs, axis=0)
        r["student_acc_per_seed"] = [float(a.mean()) for a in accs]
        print(f"{r['label']:>14}: student acc {r['student_acc_per_seed']}", flush=True)
    none, clean = per_problem["undistilled"], per_problem[rows[0]["label"]]
    n_e = len(E) * len(ft.seeds)
    for r in rows:
        if r["label"] not in per_problem:
            r.update(student_acc=math.nan, student_acc_ci95=[math.nan, math.nan], student_acc_per_seed=[],
                     gain_cut=math.nan, gain_cut_ci95=[math.nan, math.nan], trained=False)
            continue
        c = per_problem[r["label"]]
        r["trained"] = True
        r["student_acc"] = float(c.mean())
        r["student_acc_ci95"] = list(clopper_pearson(int(round(c.sum() * len(ft.seeds))), n_e))
        r["gain_cut"] = task_bench.gain_cut(float(c.mean()), float(clean.mean()), float(none.mean()))
        r["gain_cut_ci95"] = list(task_bench.bootstrap_cut(c, clean, none))
    temps = [r for r in rows if r["kind"].startswith("temp")]
    for r in rows:
        if r["kind"].startswith("ads") and temps:
            r["matched_temperature"] = min(temps, key=lambda x: abs(x["teacher_acc"] - r["teacher_acc"]))["label"]
    res["undistilled"] = {"student_acc": float(none.mean()), "example": bare[0]}
    res["rows"] = rows
    res["verdict"] = task_bench.verdict(rows)
    res["timings_s"]["students"] = round(time.time() - t0, 1)
    res["timings_s"]["total"] = round(time.time() - t_start, 1)
    print("verdict:", res["verdict"]["text"], flush=True)
    return res


# -- report -------------------------------------------------------------------------------------------------
def markdown(res: dict[str, Any], png: str | None) -> str:
    cfg, ft, task = res["config"], res["finetune"], res["task"]
    lines = [f"# Antidistillation, context distillation: ADS vs temperature ({cfg['preset']})", "",
             provenance_line(res) + f"; total {res['timings_s']['total']:.0f} s "
             f"(stages: {', '.join(f'{k} {v:.0f} s' for k, v in res['timings_s'].items() if k != 'total')}).", "",
             f"Question: {res['question']}", "",
             f"Teacher: SmolLM2-135M-Instruct behind a hidden context (system prompt `{task['hidden_system']}` and "
             f"{len(task['shots'])} worked examples). Visible prompt `{task['prompt']}`; correct = the first integer "
             f"of the answer is the number plus one. Splits E/D/H = {res['splits']['E']}/{res['splits']['D']}/"
             f"{res['splits']['H']}, {cfg['new_tokens']}-token answers. Students: a copy of the teacher's weights "
             f"fully fine-tuned on the visible prompts and the answers (lr {ft['lr']:g}, {ft['epochs']} epochs, seeds "
             f"{', '.join(map(str, ft['seeds']))}); greedy answers to E. ADS proxy: the bare copy; direction from "
             f"its NLL on D's clean answers (grad norm {res['ads_direction']['grad_norm']:.3g}, shift sd "
             f"{res['ads_direction']['shift_sd']:.4g}; teacher acc on D {res['ads_direction']['teacher_acc_D']:.2f}).",
             "", f"Undistilled student (the bare copy): accuracy {res['undistilled']['student_acc']:.3f}.", "",
             f"**Verdict (pre-declared rule)**: {res['verdict']['text']}.", ""]

    def fmt(v: float, ci: Sequence[float], pct: bool = False) -> str:
        if not math.isfinite(v):
            return "not trained (rule)"
        return f"{v:+.2f} [{ci[0]:+.2f}, {ci[1]:+.2f}]" if pct else f"{v:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]"

    rows = [[r["label"], f"{r['kl']:.3f}",
             f"{r['teacher_acc']:.3f} [{r['teacher_acc_ci95'][0]:.2f}, {r['teacher_acc_ci95'][1]:.2f}]",
             f"{100 * r['teacher_cost']:+.1f} %", fmt(r["student_acc"], r["student_acc_ci95"]),
             fmt(r["gain_cut"], r["gain_cut_ci95"], pct=True), r.get("matched_temperature", "")] for r in res["rows"]]
    lines += md_table(["teacher sampling", "KL/step", "teacher acc on H [CP 95%]", "teacher cost",
                       "student acc on E [CP 95%]", "gain cut [bootstrap 95%]", "matched T"], rows, align="lrrrrrl")
    if png:
        lines += ["", f"![teacher cost vs gain cut]({png})"]
    lines += ["", "Examples (first H answer of the teacher, first E answer of the seed-0 student):", ""]
    lines += md_table(["condition", "teacher", "student"],
                      [[r["label"], repr(r["example"]), repr(r.get("student_example", ""))] for r in res["rows"]])
    lines += ["", "## Notes", ""] + [f"- {x}" for x in NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "Teacher cost = 1 - acc_teacher(condition) / acc_teacher(clean), accuracy on the H prompts (the harvest itself), "
    "same sampling seed for every condition. KL/step: mean KL of the sampled distribution from the unmarked T = 0.7 "
    "one (measured inside generation, with the hidden context).",
    "Gain cut = 1 - (acc - acc_undistilled) / (acc_clean - acc_undistilled); CI: 2,000 bootstrap resamples of the E "
    "problems. One student seed: the variation between training seeds is not in the interval.",
    "ADS lambda = scale / sd(D), the unit of the other antidistillation benchmarks; the proxy is the student's "
    "starting point (the bare copy), its direction computed on D's answers after the visible prompts.",
    "Every stage is cached under runs/antidistillation-context/<preset>/: a rerun reuses harvests, direction and "
    "students.",
]


def main(argv: Sequence[str] | None = None, bench: ad.Bench | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--tiny", dest="preset", action="store_const", const="tiny", help="same as --preset tiny")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--seeds", default=None,
                    help="student seeds, comma-separated (default: the preset's); a cpu run with other seeds writes "
                         "antidistillation_context_seed<S...>.*, the harvests are shared")
    ap.add_argument("--work", default=None, help="cache folder (default runs/antidistillation-context/<preset>)")
    args = ap.parse_args(args_list)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, ft = PRESETS[args.preset]
    default_seeds = ft.seeds
    if args.seeds:
        ft = replace(ft, seeds=tuple(int(s) for s in args.seeds.split(",")))
    work = Path(args.work) if args.work else ROOT / "runs" / "antidistillation-context" / args.preset
    rec = new_record("benchmarks/antidistillation_context.py", args_list,
                     question=__doc__.split("\n\n")[0].split(": ", 1)[1])
    res = {**rec, **run(cfg, ft, work, bench=bench), "notes": NOTES}
    out_dir = ROOT / "benchmarks" / "results" if args.preset == "cpu" else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    name = NAME if args.preset == "cpu" else f"{NAME}_{args.preset}"
    if ft.seeds != default_seeds:
        name += "_seed" + "-".join(map(str, ft.seeds))
    png = out_dir / f"{name}.png"
    task_bench.plot({**res, "title": "ADS vs temperature, context distillation (number plus one), pretrained student "
                     f"({cfg.preset})"}, png)
    js, md = write_result(name, res, markdown(res, png.name), out_dir=out_dir)
    print(f"wrote {js}, {md}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
