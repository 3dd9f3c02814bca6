#!/usr/bin/env python
"""Antidistillation benchmark, pretrained students (issue 27): a copy of the teacher fine-tuned on the harvest.

Does a *pretrained* student -- a copy of the teacher, SmolLM2-135M-Instruct, fine-tuned on the teacher's marked
answers, the case real distillers are in -- become radioactive (reading mode) under ADFP or KGW at matched cost,
when the from-scratch students of ``benchmarks/antidistillation.py`` and ``benchmarks/antidistillation_dilution.py``
did not?

Reuses the steps of the other antidistillation benchmarks (``distillguard.distill.antidistillation_bench``): the
same teacher, public benchmark key (h = 1, gamma 0.25, left seeding), prompt source (ShareGPT human turns, seed
27: Q = the first 16, the same as the other benchmarks' Q; H = the next ``n_harvest``), sampling (T = 0.7,
forced answer length, H seed 3, Q seed 0) and reading texts. Caches (harvests, students) live under
``runs/antidistillation-pretrained/<preset>/``.

Comparison rule (fixed before the run, written here before the full-size run; one tiny smoke run preceded it):

* **The pair**: the KL-matched pair the project already chose (section 2 of ``benchmarks/antidistillation.py``,
  :func:`distillguard.distill.antidistillation_bench.matched_pair`): KGW delta = 2 vs ADFP lambda = 24 with the
  teacher as its own proxy (per-step KL 0.46 vs 0.48 at the CPU sizes). Not re-chosen here; the per-step KL of
  each harvest is measured and reported as a check.
* **Harvests**: the teacher's answers to the same ``n_harvest`` H prompts (cpu: 128 answers of 128 tokens,
  forced length) under KGW delta = 2, under ADFP lambda = 24, and unmarked (the clean control).
* **Students**: a fresh copy of the teacher per harvest, full fine-tune (no ``peft`` in the environment),
  float32, loss on the answers only (prompt in the chat template, answer + eos), AdamW lr 1e-4 (linear warm-up,
  cosine decay), batch 8, 2 epochs, gradient clip 1, batch-order seed 0 (``train_text_student`` with ``init``).
  Students: KGW, ADFP, CLEAN; plus the **base teacher copy** (not fine-tuned) as a control: it never saw a
  marked token, so its reading must be null.
* **Statistic** (primary): reading mode of ``distillguard.detect.radioactivity`` with the library's default
  statistic for this key (``reading_test``, ``statistic="auto"`` = ``top1`` for h = 1: distinct green coins of
  (previous token, the model's top-1 prediction), exact binomial), log10 p of the benchmark key, on ``--read``
  held-out ShareGPT answers (``real_texts("read")``, 256 tokens each; cpu: 100). The same 50 unrelated keys as the
  dilution benchmark (:func:`~distillguard.distill.antidistillation_bench.null_keys`) scored on each model give
  its null. Reported too, not used for the verdict: the windowed rank statistic (``statistic="rank"``), the
  held-out NLL and green probability mass on Q's clean teacher answers, paired against the base teacher and
  against the CLEAN student (t over the Q texts).
* **Verdict**: a student is *detected* when log10 p <= -6 (p <= 1e-6, the dilution benchmark's target) **and**
  log10 p is below the minimum of its 50 null keys. The run is valid only if neither the base teacher nor the
  CLEAN student is detected (else the test is miscalibrated here and no scheme is credited). ADFP beats KGW if
  ADFP's student is detected and KGW's is not (and vice versa); if both are, the smaller log10 p is reported as
  the stronger (one seed: an indication); if neither, the result is null at this size.
* **Seeds**: one student per harvest, batch-order seed 0; sampling seeds as above. Run the full size once.

Usage:
    python benchmarks/antidistillation_pretrained.py --threads 1            # CPU sizes (~1 h on one thread)
    python benchmarks/antidistillation_pretrained.py --preset tiny --threads 1   # smoke (a few minutes)
    python benchmarks/antidistillation_pretrained.py --threads 1 --posthoc  # diagnostics on the cached students

Post hoc (``--posthoc``, added after the full run's null result, not part of the rule above): the teacher is
the detector's own model, so a teacher-copy student can be read *relative to it*: the same coin test on only
the positions of the reading texts where the student's top-1 differs from the base teacher's (the fine-tune's
changes), with the same 50 null keys; and the green probability mass on the reading texts themselves (as chat
answers, 128 tokens), paired against the base teacher and the CLEAN student; and that green-mass change from
the base teacher, averaged over the reading texts, for the benchmark key and each of the 50 null keys (the
null keys' spread calibrates it: a z against them, and the benchmark key's rank). Written to
``antidistillation_pretrained_posthoc.{json,md}``.

Results: ``benchmarks/results/antidistillation_pretrained.{json,md}`` (cpu) and
``$DISTILLGUARD_CACHE/bench/antidistillation_pretrained_tiny.*`` (tiny).
"""

from __future__ import annotations

import argparse
import copy
import gc
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.data import real_texts
from distillguard.detect.radioactivity import Predictions, read_predictions, reading_test, score_predictions
from distillguard.distill import antidistillation_bench as ad
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.student import chat_examples, train_text_student
from distillguard.models import LoadedModel, cache_dir
from distillguard.suspects import LocalSuspect
from distillguard.watermark import ADFPLogitsProcessor, WatermarkLogitsProcessor

NAME = "antidistillation_pretrained"
NULL_KEYS = 50
TARGET_LOG10_P = -6.0
KGW_DELTA = 2.0  # the project's KL-matched pair (section 2), not re-chosen here
ADFP_LAM = 24.0
ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Finetune:
    """The pretrained students' recipe and the reading size."""

    lr: float
    epochs: int
    read: int  # held-out ShareGPT answers read (256 tokens each)


PRESETS: dict[str, tuple[ad.Config, Finetune]] = {
    "cpu": (replace(ad.PRESETS["cpu"], preset="pretrained_cpu", n_quality=16, n_direction=0, n_proxy=0,
                    n_harvest=128, new_tokens=128, batch_size=16, seed=0), Finetune(lr=1e-4, epochs=2, read=100)),
    "tiny": (replace(ad.PRESETS["tiny"], preset="pretrained_tiny", n_quality=4, n_direction=0, n_proxy=0,
                     n_harvest=8, new_tokens=12, batch_size=4, seed=0), Finetune(lr=1e-4, epochs=1, read=4)),
}


def parse_args(argv: Sequence[str] | None = None) -> tuple[ad.Config, Finetune, argparse.Namespace]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--read", type=int, default=None, help="held-out ShareGPT answers read (default: the preset's)")
    ap.add_argument("--posthoc", action="store_true", help="post hoc diagnostics on the cached students (see above)")
    ap.add_argument("--work", default=None, help="cache folder (default runs/antidistillation-pretrained/<preset>)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, ft = PRESETS[args.preset]
    if args.read:
        ft = replace(ft, read=args.read)
    return cfg, ft, args


def harvests(bench: ad.Bench) -> tuple[dict[str, list[tuple[str, str]]], dict[str, dict[str, Any]]]:
    """The teacher's answers to the H prompts under KGW delta = 2, ADFP lambda = 24 (teacher proxy) and unmarked
    (cached in the bench's folder): ``(pairs per harvest, stats per harvest)``.

    Example:
        >>> pairs, stats = harvests(bench)  # doctest: +SKIP
        >>> sorted(pairs), stats["kgw"]["label"]  # doctest: +SKIP
        (['adfp', 'clean', 'kgw'], 'KGW δ=2')
    """
    key, H = bench.key, bench.splits["H"]
    conds = {"kgw": (f"KGW δ={KGW_DELTA:g}", [WatermarkLogitsProcessor(key, delta=KGW_DELTA)]),
             "adfp": (f"ADFP λ={ADFP_LAM:g} (teacher proxy)", [ADFPLogitsProcessor(key, lam=ADFP_LAM)]),
             "clean": ("none (unmarked)", [])}
    harvest, hstats = {}, {}
    for name, (label, marks) in conds.items():
        ids, stats = bench.answers(H, marks, ad.BASE_T, key, 3, f"H_{name}")
        harvest[name] = list(zip(H, bench.text(ids)))
        hstats[name] = {"label": label, **stats, "answers": len(ids), "tokens": int(sum(map(len, ids)))}
        print(f"harvest {name}: {len(ids)} answers, KL/step {stats['kl']:.3f}, teacher green gain "
              f"{stats['teacher_gain']:.3f} ({stats['seconds']:.0f}s)", flush=True)
    return harvest, hstats


def finetune_copy(teacher: LoadedModel, pairs: list[tuple[str, str]], out: Path, ft: Finetune, seed: int,
                  desc: str) -> tuple[Any, dict[str, Any]]:
    """A fresh copy of the teacher fine-tuned on ``pairs`` (answers only), saved in ``out`` (reused when there).

    Example:
        >>> finetune_copy(bench.teacher, pairs, Path("runs/x"), Finetune(1e-4, 2, 100), 0, "kgw")  # doctest: +SKIP
    """
    tok = teacher.tokenizer
    seqs, starts = chat_examples(tok, pairs)
    init = None if (out / "train.json").exists() else copy.deepcopy(teacher.model)
    info = train_text_student(out, tok, seqs, epochs=ft.epochs, lr=ft.lr, seed=seed, init=init, desc=desc,
                              answer_starts=starts)
    del init
    gc.collect()
    model = ad.load_student(out, str(next(teacher.model.parameters()).device))
    return model, info


def verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared rule on the read models (``base``, ``clean``, ``kgw``, ``adfp``).

    Example:
        >>> m = {n: {"reading": {"log10_p": -0.5}, "null_keys_log10_p": {"min": -1.5}}
        ...      for n in ("base", "clean", "kgw", "adfp")}
        >>> m["adfp"]["reading"]["log10_p"] = -7.0
        >>> v = verdict(m)
        >>> v["detected"]["adfp"], v["detected"]["kgw"], v["valid"], v["winner"]
        (True, False, True, 'adfp')
    """
    det = {n: bool(r["reading"]["log10_p"] <= TARGET_LOG10_P and r["reading"]["log10_p"] < r["null_keys_log10_p"]["min"])
           for n, r in models.items()}
    valid = not det.get("base", False) and not det.get("clean", False)
    k, a = det.get("kgw", False), det.get("adfp", False)
    if not valid:
        winner, text = None, "invalid: a control (base teacher or CLEAN student) is detected"
    elif a and not k:
        winner, text = "adfp", "ADFP's student detected, KGW's not"
    elif k and not a:
        winner, text = "kgw", "KGW's student detected, ADFP's not"
    elif a and k:
        lk, la = models["kgw"]["reading"]["log10_p"], models["adfp"]["reading"]["log10_p"]
        winner = "adfp" if la < lk else "kgw"
        text = f"both detected; {winner.upper()} stronger (log10 p {min(la, lk):.2f} vs {max(la, lk):.2f}; one seed)"
    else:
        winner, text = None, "null: neither student detected at this size"
    return {"detected": det, "valid": valid, "winner": winner, "text": text}


def read_model(model: Any, tok: Any, read_seqs: list[list[int]], key: Any, nulls: list[Any],
               q_clean: list[tuple[str, str]], label: str) -> dict[str, Any]:
    """The primary reading (top-1 coins), the rank statistic, the null keys, and Q's NLL / green mass."""
    t0 = time.time()
    suspect = LocalSuspect(LoadedModel(model, tok, label, label, True))
    preds = read_predictions(suspect, read_seqs, context_width=key.require_spec().context_width)
    top1 = reading_test(None, [key], predictions=preds, statistic="auto").results[0]
    rank = reading_test(None, [key], predictions=preds, statistic="rank").results[0]
    null = np.array([s.log10_p for s in score_predictions(preds, nulls)])
    read = ad.read_student(model, tok, q_clean, key)
    return {"reading": {"statistic": top1.statistic, "green": top1.green, "scored": top1.scored,
                        "green_fraction": top1.green_fraction, "z": top1.z, "log10_p": top1.log10_p},
            "reading_rank": {"green_fraction": rank.green_fraction, "z": rank.z, "log10_p": rank.log10_p},
            "null_keys_log10_p": {"n": len(null), "median": float(np.median(null)), "min": float(null.min()),
                                  "max": float(null.max())},
            "heldout_nll": float(np.mean(read["nll"])), "green_mass": float(np.mean(read["green"])),
            "per_text_nll": read["nll"], "per_text_green": read["green"], "seconds": round(time.time() - t0, 1)}


def paired(a: Sequence[float], b: Sequence[float]) -> dict[str, float]:
    """Mean of a - b and its paired t (over texts).

    Example:
        >>> paired([1.0, 2.0, 3.0], [0.0, 1.0, 1.0])["mean"]
        1.3333333333333333
    """
    d = np.asarray(a, float) - np.asarray(b, float)
    sd = d.std(ddof=1) if len(d) > 1 else 0.0
    return {"mean": float(d.mean()), "t": float(d.mean() / (sd / math.sqrt(len(d)) + 1e-12))}


def run(cfg: ad.Config, ft: Finetune, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    """The whole benchmark; ``bench`` (a teacher, key and prompt splits) may be given, else :func:`ad.setup`."""
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or ad.setup(cfg, work=work)
    key, teacher, tok = bench.key, bench.teacher, bench.teacher.tokenizer
    Q = bench.splits["Q"]
    res: dict[str, Any] = {"config": {**asdict(cfg), "finetune": asdict(ft), "kgw_delta": KGW_DELTA,
                                      "adfp_lambda": ADFP_LAM, "null_keys": NULL_KEYS,
                                      "target_log10_p": TARGET_LOG10_P},
                           "splits": {s: len(v) for s, v in bench.splits.items()}, "timings_s": {}}

    t0 = time.time()
    harvest, hstats = harvests(bench)
    q_ids, _ = bench.answers(Q, [], ad.BASE_T, key, 0, "Q_none")
    q_clean = list(zip(Q, bench.text(q_ids)))
    res["harvest"] = hstats
    res["timings_s"]["harvest"] = round(time.time() - t0, 1)

    read_texts = real_texts("read", ft.read)
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in read_texts]
    nulls = ad.null_keys(key, NULL_KEYS)
    models: dict[str, dict[str, Any]] = {}

    def report(name: str, r: dict[str, Any]) -> None:
        rd = r["reading"]
        print(f"{name:>5}: top1 {rd['green']}/{rd['scored']} log10 p {rd['log10_p']:.2f} (nulls min "
              f"{r['null_keys_log10_p']['min']:.2f})  rank log10 p {r['reading_rank']['log10_p']:.2f}  "
              f"nll {r['heldout_nll']:.3f} green {r['green_mass']:.4f}  ({r['seconds']:.0f}s)", flush=True)

    t0 = time.time()
    models["base"] = {"condition": "base teacher copy (not fine-tuned)",
                      **read_model(teacher.model, tok, read_seqs, key, nulls, q_clean, "base teacher")}
    report("base", models["base"])
    for name in ("kgw", "adfp", "clean"):
        out = work / f"ft_{name}"
        model, info = finetune_copy(teacher, harvest[name], out, ft, cfg.seed, f"ft {name}")
        r = read_model(model, tok, read_seqs, key, nulls, q_clean, f"ft {name}")
        models[name] = {"condition": f"teacher copy fine-tuned on {hstats[name]['label']}", "student": out.name,
                        "train": info, **r}
        report(name, models[name])
        del model
        gc.collect()
    res["timings_s"]["students"] = round(time.time() - t0, 1)
    for name, r in models.items():  # green mass / NLL on Q's clean contexts, paired against the controls
        for ref in ("base", "clean"):
            if name != ref and not (name == "base" and ref == "clean"):
                r[f"green_vs_{ref}"] = paired(r["per_text_green"], models[ref]["per_text_green"])
                r[f"nll_vs_{ref}"] = paired(r["per_text_nll"], models[ref]["per_text_nll"])
    res["models"] = models
    res["verdict"] = verdict(models)
    res["read"] = {"texts": len(read_seqs), "tokens": int(sum(map(len, read_seqs)))}
    res["timings_s"]["total"] = round(time.time() - t_start, 1)
    print("verdict:", res["verdict"]["text"], flush=True)
    return res


def changed_coins(preds: Predictions, base: Predictions) -> Predictions:
    """The reading restricted to the positions where the top-1 differs from ``base``'s (others set to -1, which
    the coin test skips); the same texts must have been read.

    Example:
        >>> import numpy as np
        >>> a = Predictions(np.array([1, 2, 3]), np.zeros(3, np.int64), np.array([5, 6, 7]))
        >>> b = Predictions(np.array([1, 2, 3]), np.zeros(3, np.int64), np.array([5, 9, 7]))
        >>> changed_coins(a, b).preds.tolist()
        [-1, 6, -1]
    """
    if not np.array_equal(preds.ids, base.ids):
        raise ValueError("changed_coins: the two readings are of different texts")
    return Predictions(preds.ids, preds.segments, np.where(preds.preds != base.preds, preds.preds, -1))


@torch.no_grad()
def relative_green(models: dict[str, Any], base: Any, tok: Any, pairs: list[tuple[str, str]],
                   keys: Sequence[Any]) -> dict[str, np.ndarray]:
    """Per model, ``[keys, texts]``: the mean over a text's answer positions of the change of green probability
    mass from ``base`` (``sum_v (p_model - p_base)(v) * green_key(prev, v)``), for each key.

    Example:
        >>> relative_green({"kgw": student}, teacher, tok, pairs, [key, *nulls])["kgw"].shape  # doctest: +SKIP
        (51, 100)
    """
    procs = [ADFPLogitsProcessor(k, lam=1.0) for k in keys]
    V = keys[0].require_spec().vocab_size
    seqs, starts = chat_examples(tok, pairs)
    out = {n: np.zeros((len(keys), len(seqs))) for n in models}
    dev = next(base.parameters()).device
    for j, (seq, s) in enumerate(zip(seqs, starts)):
        ids = torch.tensor([seq], device=dev)
        pb = base(ids).logits[0, s - 1 : -1, :V].float().softmax(-1)
        ctx = ids[0, s - 1 : -1][:, None].cpu()
        masks = [p.green(ctx, len(ctx), torch.device("cpu")).to(dev) for p in procs]
        for n, m in models.items():
            d = m(ids).logits[0, s - 1 : -1, :V].float().softmax(-1) - pb
            for i, mk in enumerate(masks):
                out[n][i, j] = float((d * mk).sum(-1).mean())
    return out


def posthoc(cfg: ad.Config, ft: Finetune, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    """Post hoc diagnostics on the cached students (see the module docstring); not the pre-declared verdict."""
    t_start = time.time()
    missing = [n for n in ("kgw", "adfp", "clean") if not (work / f"ft_{n}" / "train.json").exists()]
    if missing:
        raise SystemExit(f"--posthoc: no cached student {missing} under {work}: run without --posthoc first")
    bench = bench or ad.setup(cfg, work=work)
    key, teacher, tok = bench.key, bench.teacher, bench.teacher.tokenizer
    read_texts = real_texts("read", ft.read)
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in read_texts]
    read_pairs = [("Continue the text.", t) for t in read_texts]
    nulls = ad.null_keys(key, NULL_KEYS)
    h = key.require_spec().context_width
    dev = str(next(teacher.model.parameters()).device)
    base_preds = read_predictions(LocalSuspect(LoadedModel(teacher.model, tok, "base", "base", True)), read_seqs,
                                  context_width=h)
    base_green = ad.read_student(teacher.model, tok, read_pairs, key)["green"]
    out: dict[str, Any] = {"config": {**asdict(cfg), "finetune": asdict(ft)},
                           "read": {"texts": len(read_seqs), "tokens": int(sum(map(len, read_seqs)))},
                           "base_green_mass_read": float(np.mean(base_green)), "models": {}}
    greens = {}
    for name in ("kgw", "adfp", "clean"):
        model = ad.load_student(work / f"ft_{name}", dev)
        preds = read_predictions(LocalSuspect(LoadedModel(model, tok, name, name, True)), read_seqs, context_width=h)
        scores = score_predictions(changed_coins(preds, base_preds), [key, *nulls])
        k, null = scores[0], np.array([s.log10_p for s in scores[1:]])
        greens[name] = ad.read_student(model, tok, read_pairs, key)["green"]
        out["models"][name] = {
            "changed_positions": int((preds.preds != base_preds.preds).sum()), "positions": int(len(preds.preds)),
            "changed_coins": {"green": k.green, "scored": k.scored, "green_fraction": k.green_fraction, "z": k.z,
                              "log10_p": k.log10_p},
            "changed_null_keys_log10_p": {"n": len(null), "median": float(np.median(null)), "min": float(null.min())},
            "green_mass_read": float(np.mean(greens[name])),
            "green_read_vs_base": paired(greens[name], base_green)}
        r = out["models"][name]
        print(f"{name:>5}: changed top-1 at {r['changed_positions']}/{r['positions']}; changed coins {k.green}/"
              f"{k.scored} log10 p {k.log10_p:.2f} (nulls min {null.min():.2f}); green mass on reading texts "
              f"{r['green_mass_read']:.4f} vs base {out['base_green_mass_read']:.4f}", flush=True)
        del model
        gc.collect()
    for name in ("kgw", "adfp"):
        out["models"][name]["green_read_vs_clean"] = paired(greens[name], greens["clean"])
    students = {n: ad.load_student(work / f"ft_{n}", dev) for n in ("kgw", "adfp", "clean")}
    rel = relative_green(students, teacher.model, tok, read_pairs, [key, *nulls])
    for name, a in rel.items():
        per_key = a.mean(1)
        null = per_key[1:]
        out["models"][name]["relative_green"] = {
            "key": float(per_key[0]), "null_mean": float(null.mean()), "null_sd": float(null.std(ddof=1)),
            "null_max": float(null.max()), "z_vs_null": float((per_key[0] - null.mean()) / (null.std(ddof=1) + 1e-12)),
            "null_keys_at_or_above": int((null >= per_key[0]).sum())}
        r = out["models"][name]["relative_green"]
        print(f"{name:>5}: green-mass change from the teacher, benchmark key {r['key']:+.4f}; null keys "
              f"{r['null_mean']:+.4f} ± {r['null_sd']:.4f} (max {r['null_max']:+.4f}); z {r['z_vs_null']:.1f}",
              flush=True)
    del students
    out["timings_s"] = {"total": round(time.time() - t_start, 1)}
    return out


def markdown_posthoc(res: dict[str, Any]) -> str:
    lines = ["# Antidistillation, pretrained students: post hoc diagnostics (not the pre-declared verdict)", "",
             provenance_line(res), "", f"Total {res['timings_s']['total']:.0f} s. Added after the full run's null "
             "result. The students are the cached ones of `antidistillation_pretrained.md`; reading texts: "
             f"{res['read']['texts']} held-out ShareGPT answers ({res['read']['tokens']} tokens).", "",
             "* **changed coins**: the coin test (distinct (previous token, top-1) coins, exact binomial vs 0.25) on "
             "only the positions where the student's top-1 differs from the base teacher's -- a reading relative to "
             "the teacher, which the detector owns; the same 50 null keys.",
             "* **green mass on the reading texts**: the model's green probability mass on the reading texts given as "
             "chat answers (first 128 tokens), paired t over the texts against the base teacher "
             f"({res['base_green_mass_read']:.4f}) and the CLEAN student.", ""]
    rows = []
    for n, r in res["models"].items():
        c, nl = r["changed_coins"], r["changed_null_keys_log10_p"]
        gc_ = r.get("green_read_vs_clean")
        rows.append([n, f"{r['changed_positions']}/{r['positions']}", f"{c['green']}/{c['scored']}",
                     f"{c['green_fraction']:.3f}", f"{c['z']:.2f}", f"{c['log10_p']:.2f}",
                     f"{nl['median']:.2f} / {nl['min']:.2f}", f"{r['green_mass_read']:.4f}",
                     f"{r['green_read_vs_base']['mean']:+.4f} (t {r['green_read_vs_base']['t']:.1f})",
                     f"{gc_['mean']:+.4f} (t {gc_['t']:.1f})" if gc_ else ""])
    lines += md_table(["student", "positions with a changed top-1", "changed coins green/scored", "green fraction",
                       "z", "log10 p", "50 null keys: median / min log10 p", "green mass (reading texts)",
                       "vs base teacher", "vs CLEAN student"], rows, align="lrrrrrrrrr")
    lines += ["", "Green-mass change from the base teacher on the reading texts, benchmark key against the 50 null "
              "keys (each key's change averaged over the texts; z = (key - null mean) / null sd; an empirical null "
              "of 50 keys cannot give p below 1/51):", ""]
    rows = [[n, f"{r['relative_green']['key']:+.4f}", f"{r['relative_green']['null_mean']:+.4f}",
             f"{r['relative_green']['null_sd']:.4f}", f"{r['relative_green']['null_max']:+.4f}",
             f"{r['relative_green']['z_vs_null']:.1f}", r["relative_green"]["null_keys_at_or_above"]]
            for n, r in res["models"].items()]
    lines += md_table(["student", "benchmark key", "null keys: mean", "sd", "max", "z vs null keys",
                       "null keys at or above"], rows, align="lrrrrrr")
    return "\n".join(lines) + "\n"


def markdown(res: dict[str, Any]) -> str:
    cfg, ft = res["config"], res["config"]["finetune"]
    lines = [f"# Antidistillation, pretrained students: a teacher copy fine-tuned on ADFP / KGW / clean harvests "
             f"({cfg['preset']} sizes)", "", provenance_line(res), "",
             f"Total {res['timings_s']['total']:.0f} s (harvests {res['timings_s']['harvest']:.0f} s, fine-tunes and "
             f"readings {res['timings_s']['students']:.0f} s; this invocation, cached artefacts reused).", "",
             f"Question: {res['question']}", "",
             f"Pair (the project's KL-matched pair, not re-chosen): KGW δ={cfg['kgw_delta']:g} vs ADFP "
             f"λ={cfg['adfp_lambda']:g} (teacher as proxy). Harvests: {res['splits']['H']} H prompts, "
             f"{cfg['new_tokens']} answer tokens each, T = 0.7. Students: fresh copies of the teacher, full fine-tune, "
             f"answers only, lr {ft['lr']:g}, {ft['epochs']} epochs, batch 8, seed {cfg['seed']}. Reading: "
             f"{res['read']['texts']} held-out ShareGPT answers ({res['read']['tokens']} tokens); "
             f"{cfg['null_keys']} unrelated keys per model.", "",
             f"**Verdict (pre-declared rule)**: {res['verdict']['text']}.", "", "## Harvests", ""]
    rows = [[n, h["label"], h["answers"], h["tokens"], f"{h['kl']:.3f}", f"{h['teacher_gain']:.4f}",
             f"{h['proxy_gain']:.4f}", f"{h['seconds']:.0f}"] for n, h in res["harvest"].items()]
    lines += md_table(["harvest", "mark", "answers", "tokens", "KL/step vs unmarked T=0.7", "teacher green-mass gain",
                       "ADFP objective gain", "s"], rows, align="llrrrrrr")
    lines += ["", "## Models", ""]
    rows = []
    for n, r in res["models"].items():
        rd, rk, nl = r["reading"], r["reading_rank"], r["null_keys_log10_p"]

        def pv(key, r=r):
            return f"{r[key]['mean']:+.4f} (t {r[key]['t']:.1f})" if key in r else ""

        rows.append([n, r["condition"], f"{rd['green']}/{rd['scored']}", f"{rd['z']:.2f}", f"{rd['log10_p']:.2f}",
                     f"{nl['median']:.2f} / {nl['min']:.2f}", f"{rk['log10_p']:.2f}",
                     "yes" if res["verdict"]["detected"][n] else "no", f"{r['heldout_nll']:.3f}",
                     f"{r['green_mass']:.4f}", pv("green_vs_base"), pv("green_vs_clean"),
                     f"{r['train']['seconds']}" if "train" in r else ""])
    lines += md_table(["model", "what", "top-1 green/coins", "z", "log10 p (primary)",
                       f"{cfg['null_keys']} null keys: median / min log10 p", "log10 p (window rank)", "detected",
                       "held-out NLL", "green mass", "green mass vs base teacher", "vs CLEAN student", "train s"],
                      rows, align="lllrrrrlrrrrr")
    lines += ["", "## Notes", ""] + [f"- {x}" for x in NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "Primary statistic: distillguard.detect.radioactivity.reading_test, statistic 'auto' (top-1 coins for this h = 1 "
    "key): distinct (previous token, top-1 prediction) coins on the reading texts, green ones vs gamma 0.25, exact "
    "binomial; the same test and green lists for both schemes. 'window rank' is statistic 'rank'; reported, not the "
    "verdict. 'detected': log10 p <= -6 and below the 50 null keys' minimum on the same model.",
    "Controls: the base teacher copy never saw a marked token (it is the teacher before any marking), so its "
    "reading is the test's behaviour on the exact starting point of every student; the CLEAN student is fine-tuned "
    "the same way on the teacher's unmarked answers to the same prompts (the effect of fine-tuning alone).",
    "Green mass: the model's green probability mass on Q's clean teacher answers (antidistillation_bench.read_student), "
    "paired against the base teacher and the CLEAN student, t over the Q texts: a diagnostic of whether the mark is in "
    "the weights at all, one seed per student, not a calibrated test.",
    "ADFP uses the teacher as its proxy, and these students start as exact copies of the teacher: ADFP's first-order "
    "objective is computed on the very model that is fine-tuned, its most favourable case.",
]


def main(argv: Sequence[str] | None = None, bench: ad.Bench | None = None) -> int:
    cfg, ft, args = parse_args(argv)
    argl = list(sys.argv[1:] if argv is None else argv)
    rec = new_record("benchmarks/antidistillation_pretrained.py", argl,
                     question=__doc__.split("\n\n")[1].replace("\n", " "))
    work = Path(args.work) if args.work else ROOT / "runs" / "antidistillation-pretrained" / args.preset
    name = NAME if args.preset == "cpu" else f"{NAME}_{args.preset}"
    out_dir = ROOT / "benchmarks" / "results" if args.preset == "cpu" else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.posthoc:
        res = {**rec, **posthoc(cfg, ft, work, bench)}
        js, md = write_result(f"{name}_posthoc", res, markdown_posthoc(res), out_dir=out_dir)
    else:
        res = {**rec, **run(cfg, ft, work, bench), "notes": NOTES}
        js, md = write_result(name, res, markdown(res), out_dir=out_dir)
    print(f"wrote {js}, {md}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
