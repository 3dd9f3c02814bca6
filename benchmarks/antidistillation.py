#!/usr/bin/env python
"""Antidistillation benchmark (issue 27): what ADFP and ADS cost in teacher quality, and what they buy.

Does ADFP (antidistillation fingerprinting) put more of the mark into a student than KGW at the same cost to
the teacher's answers, and does ADS (antidistillation sampling) teach a student less than temperature
sampling at the same cost?

Teacher SmolLM2-135M-Instruct, real ShareGPT prompts in four disjoint splits: Q (quality and held-out
evaluation), D (held-out answers that make the ADS direction), P (answers that train the proxy), H (the
harvest the students are trained on). Every condition uses the same prompts and the same sampling seeds
(paired), answers forced to exactly ``--new-tokens`` tokens.

1. **Quality grid** on Q: none (T = 0.7), KGW delta in {1, 2, 3}, ADFP lambda grid (proxy = the teacher),
   ADFP with that proxy instead, ADS lambda grid (proxy = a student-shaped model trained on P; direction
   from D), temperature sampling at
   several T. For each: the existing paired-perplexity metric under Gemma-3-270M (answer given the prompt),
   the degenerate rate, and -- measured inside generation at every step -- the mean KL of the sampled
   distribution from the unmarked T = 0.7 one, the teacher's green-mass gain and the *proxy's* first-order
   green-mass gain ``E_p'[D] - E_p[D]`` (``D`` = ADFP's shift with the teacher as proxy: what one SGD step of
   a logit-space student on the sampled token adds to its green mass, per unit learning rate).
2. **Students** (from scratch, ``--student-layers`` x ``--student-hidden``, answer-only loss, same seed)
   trained on the H answers of: none, KGW delta = 2, ADFP at the lambda whose KL matches KGW delta = 2's
   (nearest grid point; the comparison rule fixed before the run), ADS at the middle grid lambda,
   temperature at the grid T whose PPL cost is nearest that ADS point's. Measured: held-out
   NLL on Q's clean answers, the student's green mass on Q's clean contexts (reading), and generation-mode
   detection (student samples for Q prompts, coins pooled, exact binomial).
3. **Per-step cost** of each processor vs the KGW processor and the add floor, B in {1, 16, 64}, V = 49152.

Sizes: ``--preset cpu`` (default; ~15 min on 2 shared cores), ``--preset tiny`` (smoke, CPU, ~2 min; results
under $DISTILLGUARD_CACHE/bench), ``--preset gpu`` (larger; ``--device cuda``; results to
``antidistillation_gpu.{json,md}``). Results go to ``benchmarks/results/antidistillation.{json,md}`` and
``antidistillation.png``.

``--dilution 1,0.25,0.05`` instead trains students on the matched KGW / ADFP harvests diluted to those marked
shares and reports their reading-mode radioactivity (``benchmarks/antidistillation_dilution.py``, its rule in
that docstring; results ``antidistillation_dilution.{json,md}``).

Usage:
    python benchmarks/antidistillation.py                 # CPU sizes
    python benchmarks/antidistillation.py --tiny          # smoke run (= --preset tiny)
    python benchmarks/antidistillation.py --gpu           # GPU sizes on cuda (= --preset gpu)
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.detect.radioactivity import score_generated
from distillguard.detect.text import score_batch
from distillguard.distill.antidistillation_bench import (
    BASE_T,
    GAMMA,
    PRESETS,
    Config,
    ads_proxy,
    degenerate,
    matched_pair,
    paired_ratio,
    read_student,
    reference_nll,
    setup,
    step_costs,
    student_on,
    student_samples,
)
from distillguard.distill.bench import machine_text, md_table, new_record, write_result
from distillguard.models import REFERENCE, cache_dir, load_model
from distillguard.watermark import ADFPLogitsProcessor, ADSLogitsProcessor, WatermarkLogitsProcessor

NAME = "antidistillation"
def parse_args(argv: Sequence[str] | None = None) -> Config:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--tiny", dest="preset", action="store_const", const="tiny", help="same as --preset tiny")
    ap.add_argument("--gpu", dest="preset", action="store_const", const="gpu", help="same as --preset gpu")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: the preset's)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = PRESETS[args.preset]
    if args.device:
        cfg = replace(cfg, device=args.device)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    return cfg


def run(cfg: Config) -> dict[str, Any]:
    t_start = time.time()
    bench = setup(cfg)
    work, teacher, key, answers, text = bench.work, bench.teacher, bench.key, bench.answers, bench.text
    tok = teacher.tokenizer
    Q, D, P, H = (bench.splits[s] for s in "QDPH")
    res: dict[str, Any] = {"config": asdict(cfg), "splits": {s: len(v) for s, v in bench.splits.items()}, "timings_s": {}}

    # proxy (student-shaped) and the ADS direction
    t0 = time.time()
    p_ids, _ = answers(P, [], BASE_T, key, 1, "P_none")
    d_ids, _ = answers(D, [], BASE_T, key, 2, "D_none")
    ap = ads_proxy(bench, list(zip(P, text(p_ids))), list(zip(D, text(d_ids))))
    proxy, g, dinfo, ads_sd = ap.proxy, ap.direction, ap.info, ap.shift_sd  # lambda grid in units of 1 / sd(D)
    ads_lams = [round(sc / ads_sd, 4) for sc in cfg.ads_scales]
    res["ads_direction"] = {**dinfo, "shift_sd": ads_sd, "lambdas": ads_lams, "epsilon": cfg.ads_epsilon}
    res["timings_s"]["proxy_and_direction"] = round(time.time() - t0, 1)

    # 1. quality grid on Q
    t0 = time.time()
    conds: list[tuple[str, str, float, list[Any], float]] = [("none", "none", 0.0, [], BASE_T)]
    conds += [("kgw", f"KGW δ={d:g}", d, [WatermarkLogitsProcessor(key, delta=d)], BASE_T) for d in cfg.kgw_deltas]
    conds += [("adfp", f"ADFP λ={lam:g}", lam, [ADFPLogitsProcessor(key, lam=lam)], BASE_T) for lam in cfg.adfp_lams]
    conds += [("adfp_proxy", f"ADFP(proxy) λ={lam:g}", lam,
               [ADFPLogitsProcessor(key, lam=lam, proxy=proxy, pad_token_id=tok.pad_token_id)], BASE_T)
              for lam in cfg.adfp_proxy_lams]
    conds += [("ads", f"ADS λ={lam:g}", lam, [ADSLogitsProcessor(proxy, g, lam, cfg.ads_epsilon, temperature=BASE_T,
                                                                  spec=key.spec, pad_token_id=tok.pad_token_id)],
               BASE_T) for lam in ads_lams]
    conds += [("temp", f"T={t:g}", t, [], t) for t in cfg.temps]
    ref = load_model(REFERENCE, device=cfg.device)
    grid, base_ppl = [], None
    for kind, label, value, marks, t in conds:
        ids, stats = answers(Q, marks, t, key, 0, f"Q_{kind}_{value:g}")
        txt = text(ids)
        ppl_path = work / f"ppl_Q_{kind}_{value:g}.json"
        if ppl_path.exists():
            nl = json.loads(ppl_path.read_text())
        else:
            with torch.inference_mode():
                nl = [reference_nll(ref, p, a) for p, a in zip(Q, txt)]
            ppl_path.write_text(json.dumps(nl))
        ppl = np.array([math.exp(a / b) if b else math.nan for a, b in nl])
        if base_ppl is None:
            base_ppl = ppl
        ratio, lo, hi = paired_ratio(ppl, base_ppl)
        scores = score_batch([np.asarray(x) for x in ids], key)
        grid.append({"kind": kind, "label": label, "value": value, "temperature": t, **stats,
                     "ppl_median": float(np.nanmedian(ppl)), "paired_ppl_ratio": ratio, "ppl_ci95": [lo, hi],
                     "degenerate": float(np.mean([degenerate(x) for x in ids])),
                     "median_log10_p": float(np.median([s.log10_p for s in scores])),
                     "green_fraction": float(np.mean([s.green_fraction for s in scores]))})
        print(f"{label:>12}: KL {stats['kl']:.3f}  ppl x{ratio:.3f}  proxy gain {stats['proxy_gain']:.4f}  "
              f"teacher gain {stats['teacher_gain']:.3f}  {stats['seconds']:.1f}s", flush=True)
    del ref
    res["grid"] = grid
    res["timings_s"]["quality_grid"] = round(time.time() - t0, 1)

    # 2. students: conditions chosen by the fixed rules above
    t0 = time.time()
    kgw2, adfp_m = matched_pair(grid)
    adfp_pm = min((r for r in grid if r["kind"] == "adfp_proxy"),
                  key=lambda r: abs(math.log(max(r["kl"], 1e-9) / max(kgw2["kl"], 1e-9))))
    ads_rows = sorted((r for r in grid if r["kind"] == "ads"), key=lambda r: r["value"])
    ads_m = ads_rows[len(ads_rows) // 2]  # the middle of the grid, fixed before the run
    temp_m = min((r for r in grid if r["kind"] == "temp"),
                 key=lambda r: abs(r["paired_ppl_ratio"] - ads_m["paired_ppl_ratio"]))
    chosen = {"none": next(r for r in grid if r["kind"] == "none"), "kgw": kgw2, "adfp": adfp_m,
              "adfp_proxy": adfp_pm, "ads": ads_m, "temp": temp_m}
    mark_of = {"none": [], "kgw": [WatermarkLogitsProcessor(key, delta=kgw2["value"])],
               "adfp": [ADFPLogitsProcessor(key, lam=adfp_m["value"])],
               "adfp_proxy": [ADFPLogitsProcessor(key, lam=adfp_pm["value"], proxy=proxy,
                                                  pad_token_id=tok.pad_token_id)],
               "ads": [ADSLogitsProcessor(proxy, g, ads_m["value"], cfg.ads_epsilon, temperature=BASE_T, spec=key.spec,
                                          pad_token_id=tok.pad_token_id)], "temp": []}
    q_clean = list(zip(Q, text(answers(Q, [], BASE_T, key, 0, "Q_none_0")[0])))
    students = {}
    for name, row in chosen.items():
        ids, _ = answers(H, mark_of[name], row["temperature"], key, 3, f"H_{name}_{row['value']:g}")
        model = student_on(tok, list(zip(H, text(ids))), work / f"student_{name}_{row['value']:g}", cfg, name)
        read = read_student(model, tok, q_clean, key)
        gen_scores, _ = score_generated(student_samples(model, tok, Q, cfg), tok, [key])
        students[name] = {"condition": row["label"], "heldout_nll": float(np.mean(read["nll"])),
                          "green_mass": float(np.mean(read["green"])), "_nll": read["nll"], "_green": read["green"],
                          "generation": {k: getattr(gen_scores[0], k) for k in ("scored", "green", "z", "log10_p")}}
        print(f"student {name:>5} ({row['label']}): nll {students[name]['heldout_nll']:.3f}  green mass "
              f"{students[name]['green_mass']:.4f}  gen z {gen_scores[0].z:.2f}", flush=True)
    from distillguard.distill.student import make_student

    fresh = make_student(len(tok), layers=cfg.student_layers, hidden=cfg.student_hidden, seed=cfg.seed).to(cfg.device).eval()
    res["untrained_student_nll"] = float(np.mean(read_student(fresh, tok, q_clean, key)["nll"]))
    base = students["none"]
    for s in students.values():
        dn = np.array(s["_nll"]) - np.array(base["_nll"])
        dg = np.array(s["_green"]) - np.array(base["_green"])
        s["nll_vs_none"] = {"mean": float(dn.mean()), "t": float(dn.mean() / (dn.std(ddof=1) / math.sqrt(len(dn)) + 1e-12))}
        s["green_vs_none"] = {"mean": float(dg.mean()), "t": float(dg.mean() / (dg.std(ddof=1) / math.sqrt(len(dg)) + 1e-12))}
    for s in students.values():  # the ADFP students against the KGW one, paired over Q texts (green mass)
        dk = np.array(s["_green"]) - np.array(students["kgw"]["_green"])
        s["green_vs_kgw"] = {"mean": float(dk.mean()), "t": float(dk.mean() / (dk.std(ddof=1) / math.sqrt(len(dk)) + 1e-12))}
    res["students"] = {k: {("per_text_" + kk[1:] if kk.startswith("_") else kk): vv for kk, vv in v.items()}
                       for k, v in students.items()}
    res["student_rule"] = ("ADFP (teacher as proxy, and separately the student-shaped proxy) at the grid lambda whose "
                           "per-step KL is nearest (log scale) KGW delta=2's; ADS at the "
                           "middle grid lambda; temperature at the grid T whose paired PPL ratio is nearest that ADS "
                           "point's")
    res["timings_s"]["students"] = round(time.time() - t0, 1)

    # 3. per-step cost
    t0 = time.time()
    res["step_ms"] = step_costs(key, proxy, g, ads_lams[len(ads_lams) // 2], cfg)
    res["timings_s"]["step_costs"] = round(time.time() - t0, 1)
    res["timings_s"]["total"] = round(time.time() - t_start, 1)
    return res


# -- report -------------------------------------------------------------------------------------------------
def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = {"kgw": "tab:blue", "adfp": "tab:red", "adfp_proxy": "tab:orange", "ads": "tab:green",
              "temp": "tab:gray", "none": "black"}
    for kind in ("none", "kgw", "adfp", "adfp_proxy", "ads", "temp"):
        rows = [r for r in res["grid"] if r["kind"] == kind]
        if not rows:
            continue
        kl = [r["kl"] for r in rows]
        axes[0].plot(kl, [r["proxy_gain"] for r in rows], "o-", color=colors[kind], label=kind)
        axes[1].plot([r["paired_ppl_ratio"] for r in rows], [r["teacher_gain"] for r in rows], "o-",
                     color=colors[kind], label=kind)
        for r in rows:
            axes[0].annotate(r["label"].split(" ")[-1], (r["kl"], r["proxy_gain"]), fontsize=7)
    axes[0].set_xlabel("mean per-step KL from the unmarked T=0.7 distribution (nats)")
    axes[0].set_ylabel("proxy's first-order green-mass gain E_p'[D] - E_p[D]")
    axes[0].set_xscale("symlog", linthresh=1e-3)
    axes[1].set_xlabel("paired PPL ratio under Gemma-3-270M (quality cost, log scale)")
    axes[1].set_xscale("log")
    axes[1].set_ylabel("teacher's green-mass gain per step")
    for ax in axes:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"ADFP / ADS / KGW / temperature, SmolLM2-135M teacher ({res['config']['preset']} sizes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict[str, Any], png: str | None) -> str:
    cfg, run = res["config"], res["run"]
    lines = [f"# Antidistillation: ADFP and ADS vs KGW and temperature ({cfg['preset']} sizes)", "",
             f"Command: `{run['command']}`; {run['utc']}; machine: {machine_text(run['machine'])}; "
             f"total {res['timings_s']['total']:.0f} s.", "",
             f"Question: {res['question']}", "",
             f"Teacher SmolLM2-135M-Instruct; prompts Q/D/P/H = {res['splits']['Q']}/{res['splits']['D']}/"
             f"{res['splits']['P']}/{res['splits']['H']} real ShareGPT prompts; {cfg['new_tokens']}-token answers "
             f"(forced), gamma {GAMMA}, h = 1, left seeding. ADS proxy: a {cfg['student_layers']}x"
             f"{cfg['student_hidden']} student-shaped model trained on P's answers; direction from D's answers "
             f"(grad norm {res['ads_direction']['grad_norm']:.3g}); ADS lambda = scale / sd(D) with sd(D) = "
             f"{res['ads_direction']['shift_sd']:.4g}.", "",
             "## 1. Quality grid (Q split, paired: same prompts and sampling seeds)", ""]
    rows = [[r["label"], f"{r['kl']:.4f}", f"{r['paired_ppl_ratio']:.3f} [{r['ppl_ci95'][0]:.2f}, {r['ppl_ci95'][1]:.2f}]",
             f"{r['degenerate']:.2f}", f"{r['teacher_gain']:+.3f}", f"{r['proxy_gain']:+.4f}",
             f"{r['green_fraction']:.3f}", f"{r['median_log10_p']:.1f}", f"{r['seconds']:.1f}"] for r in res["grid"]]
    lines += md_table(["condition", "KL/step", "paired PPL ratio [95% CI]", "degenerate", "teacher green gain",
                       "proxy green gain", "green fraction", "median log10 p", "gen s"], rows, align="lrrrrrrrr")
    if png:
        lines += ["", f"![quality vs effect]({png})"]
    lines += ["", "## 2. Students trained on the H harvest", "", f"Rule (fixed before the run): {res['student_rule']}.",
              f"An untrained student of the same recipe has held-out NLL {res['untrained_student_nll']:.3f}.", ""]
    srows = []
    for name, s in res["students"].items():
        gmode = s["generation"]
        srows.append([name, s["condition"], f"{s['heldout_nll']:.4f}", f"{s['nll_vs_none']['mean']:+.4f} "
                      f"(t {s['nll_vs_none']['t']:.1f})", f"{s['green_mass']:.4f}",
                      f"{s['green_vs_none']['mean']:+.4f} (t {s['green_vs_none']['t']:.1f})",
                      f"{s['green_vs_kgw']['mean']:+.4f} (t {s['green_vs_kgw']['t']:.1f})",
                      f"{gmode['green']}/{gmode['scored']}", f"{gmode['z']:.2f}", f"{gmode['log10_p']:.2f}"])
    lines += md_table(["student", "teacher condition", "held-out NLL", "vs none", "green mass (reading)", "vs none",
                       "vs KGW", "gen. green/coins", "gen. z", "gen. log10 p"], srows, align="llrrrrrrrr")
    lines += ["", "## 3. Per-step cost (ms, median)", ""]
    heads = list(res["step_ms"][0])
    lines += md_table(heads, [[r[h] if h == "B" else f"{r[h]:.3f}" for h in heads] for r in res["step_ms"]],
                      align="r" * len(heads))
    lines += ["", "## Notes", ""] + [f"- {x}" for x in res["notes"]]
    return "\n".join(lines) + "\n"


NOTES = [
    "KL/step: mean over every generated position of KL(p' || p), p' the distribution actually sampled (after the "
    "defence and the temperature), p the unmarked T = 0.7 distribution.",
    "Teacher green gain: sum over green tokens of p' - p (the teacher's own green mass). Proxy green gain: "
    "sum_v (p'_v - p_v) D_v with D = ADFP's shift for the teacher as proxy -- the first-order green-mass gain of a "
    "logit-space student after one SGD step on the sampled token (per unit learning rate). For a fixed KL, the "
    "exponential tilt by D (ADFP) maximises it; KGW maximises the teacher's own green mass instead.",
    "PPL: Gemma-3-270M on '<bos>' + prompt + blank line + answer (answer re-tokenised with Gemma's tokenizer); "
    "paired ratio = exp(mean log PPL ratio to 'none'), 95% bootstrap CI over prompts. Degenerate: fewer distinct "
    "(previous token, token) pairs than half the answer's positions (teacher token ids).",
    "Students are small from-scratch Llamas trained with the project's train_text_student (answer-only loss, "
    "restricted-vocabulary softmax). Reading: mean green probability mass on Q's clean answer contexts; t is a "
    "paired t over Q texts against the 'none' student. Generation: the student samples for Q prompts, coins pooled "
    "and deduplicated across answers (distillguard.detect.radioactivity.score_generated).",
    "Per-step cost: one processor call on random [B, 49152] float32 scores (KGW, ADFP with the teacher as proxy "
    "need no forward pass); proxy rows include the proxy's incremental KV-cached forward(s), context ~32-60 tokens. "
    "The 2 CPU cores were shared with other jobs: timings are indicative.",
    "Every stage is cached under $DISTILLGUARD_CACHE/bench/antidistillation_<preset> (generations with their "
    "measurements, Gemma NLLs, the proxy, the direction, the students): a rerun reuses them, and 'gen s' is the "
    "time of the run that generated the answers; the run record's total is this invocation's wall time.",
    "The benchmark key is a fixed public test key; only its fingerprint is reported. Small sizes: read the "
    "student rows as indications, not as the published-scale result.",
]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if any(a == "--dilution" or a.startswith("--dilution=") for a in args):  # students of diluted harvests
        import antidistillation_dilution

        return antidistillation_dilution.main(args)
    cfg = parse_args(argv)
    rec = new_record("benchmarks/antidistillation.py", args,
                     question=__doc__.split("\n\n")[1].replace("\n", " "))
    res = {**rec, **run(cfg), "notes": NOTES}
    name = {"cpu": NAME, "gpu": f"{NAME}_gpu"}.get(cfg.preset, f"{NAME}_{cfg.preset}")
    out_dir = Path("benchmarks/results") if cfg.preset in ("cpu", "gpu") else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{name}.png"
    plot(res, png)
    js, md = write_result(name, res, markdown(res, png.name), out_dir=out_dir)
    print(f"wrote {js}, {md}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
