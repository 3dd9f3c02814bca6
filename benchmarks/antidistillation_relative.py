#!/usr/bin/env python
"""Antidistillation benchmark, pretrained students read relative to the teacher (issue 27).

Is a copy of the teacher fine-tuned on KGW- or ADFP-marked answers found by the windowed rank statistic when
each window's vocabulary is ranked by the student's log-probability *minus the untouched teacher's*, at 100 %,
25 % and 5 % marked answers -- and does the test stay calibrated on 1,000 unrelated keys?

Why: ``benchmarks/antidistillation_pretrained.py`` found neither fully fine-tuned teacher copy with its
pre-declared statistic (top-1 coins; the fine-tune changes the top-1 at ~11 % of positions), but post hoc the
green probability mass *relative to the teacher* moved by z 6-7 against 50 null keys -- an empirical null that
cannot give p below 1/51. This benchmark makes a teacher-relative reading a pre-declared test with a bound that
can reach 1e-6: the library's windowed rank statistic for h >= 1 keys (one frequent context window per keyed
order, Wilcoxon rank sum, Chernoff bound; ``score_window_ranks``) with ``reference=`` the teacher. The reference
never sees the key, so the bound is as valid as without it.

Rule (fixed here, committed before any of these readings or any diluted student existed):

* **Harvests and recipe**: those of ``antidistillation_pretrained.py`` unchanged (cached there): the teacher's
  answers to the same 128 H prompts (128 tokens, T = 0.7) under KGW delta = 2, under ADFP lambda = 24 (teacher
  proxy; the project's KL-matched pair) and unmarked; a fresh teacher copy per training set, full fine-tune,
  answers only, lr 1e-4, 2 epochs, batch 8, seed 0.
* **Students**: 100 % = the cached KGW / ADFP students of that benchmark; 0 % = its cached CLEAN student;
  **25 % and 5 % (new)**: the same 128 prompts, one answer each, the first ``round(share * 128)`` (32, 6) answers
  from the marked harvest and the rest the teacher's *unmarked* answers to the remaining prompts -- the same
  training size and the same teacher style at every share, so a diluted student differs from the CLEAN student
  only in which answers carry the mark. Control: the base teacher copy (read against itself: no evidence at all).
* **Statistic (primary)**: ``score_window_ranks(predictions, keys, reference=teacher window log-probs)`` (computed
  for all models at once by ``score_window_ranks_many``, the same test) on the
  100 held-out ShareGPT reading texts of the other antidistillation benchmarks (``real_texts("read")``, 256 tokens
  each), the 64 most frequent one-token windows read, one window per keyed order used; log10 p of the benchmark
  key. Reported, not used for the verdict: the same statistic without the reference (the student's own ranking).
* **Calibration**: on every model, 1,000 unrelated keys (``ad.null_keys``, the first 50 are the other benchmarks'
  null keys). The test is *calibrated on a model* if the null keys rejected at p <= 0.01 and at p <= 0.001 do not
  exceed the 0.999 quantile of Binomial(1000, alpha) (21 and 5).
* **Verdict**: a student is *detected* when log10 p <= -6 **and** below the minimum of its 1,000 null keys. The
  run is valid only if neither control (base copy, CLEAN student) is detected and the test is calibrated on every
  model. Per share: ADFP beats KGW if only ADFP's student is detected (and vice versa); if both are, the smaller
  log10 p is called stronger (one seed: an indication); if neither, null at that share. The issue's 5 % target
  (p <= 1e-6) is met for a scheme if its 5 % student is detected.
* **Seeds**: one student per training set (batch-order seed 0); run once at the cpu size.

**Amendment** (written after the main run above came back null, before any diluted student or attribution
student was read with it): the *green-mass* statistic (``score_window_mass``): the same windows, each token
scored by the student's mean next-token *probability* after the window minus the teacher's, the green tokens'
scores summed over the windows, Chernoff bound with Hoeffding's with-replacement domination (valid at any
depth, conservative). It was chosen post hoc, on the 100 % KGW / ADFP students and the CLEAN student (valid bound:
log10 p -5.0 KGW, -3.2 ADFP, 0.0 CLEAN; null keys clean), which are therefore *development data* for it: their
mass numbers are reported, labelled, and do not count. Pre-declared for the **held-out** models -- the 25 % and
5 % students and the attribution students: the same verdict rule (log10 p <= -6 and below its 1,000 null keys'
minimum; calibrated on every model; controls null) with the mass statistic. The window-rank verdict above
stands as recorded.

Attribution (``--attribution``; rule fixed here, committed before the main run's result was seen): can the same
statistic name the *account* whose answers a teacher copy learned, among 1,000 accounts?

* The benchmark key's 1,000 account sub-keys ``acct-0000`` ... ``acct-0999`` (``account_keys``); the harvester
  is ``acct-0421`` (fixed here). Harvests: the teacher's answers to the same 128 H prompts under KGW delta = 2
  and ADFP lambda = 24 *with acct-0421's sub-key* (sampling seed 3, as above); a teacher copy fine-tuned on each
  (100 % marked, the recipe above). Controls: the base copy and the cached CLEAN student.
* Statistic: the primary statistic above for all 1,000 account keys, Holm-adjusted over them (as ``reading_test``
  does); the strongest account is the one named (sibling sub-keys share the master's vocabulary orders).
  Amended with the main rule (before any attribution harvest existed): the green-mass statistic is the primary,
  the window rank is reported.
* **Attributed** (per scheme): the strongest account is acct-0421 **and** its Holm-adjusted log10 p <= -6. The run
  is valid only if no account reaches Holm-adjusted p <= 1e-3 on either control and the 1,000 unrelated null keys
  are calibrated (the binomial bounds above) on every model. Reported: the source's rank and log10 p, the
  runner-up account's, and how many accounts reach Holm-adjusted p <= 1e-3.

Usage:
    python benchmarks/antidistillation_relative.py --threads 1            # cpu (~35 min; students cached)
    python benchmarks/antidistillation_relative.py --threads 1 --attribution   # ~25 min
    python benchmarks/antidistillation_relative.py --preset tiny --threads 1

Results: ``benchmarks/results/antidistillation_relative.{json,md,png}`` and ``..._attribution.{json,md}`` (cpu) and
``$DISTILLGUARD_CACHE/bench/antidistillation_relative_tiny.*`` (tiny). Students and harvests are cached under
``runs/antidistillation-pretrained/<preset>/`` (shared with ``antidistillation_pretrained.py``).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark's harvests and recipe
import antidistillation_pretrained as pre  # noqa: E402

from distillguard.data import real_texts  # noqa: E402
from distillguard.detect.radioactivity import (  # noqa: E402
    Predictions,
    account_keys,
    read_predictions,
    score_window_mass_many,
    score_window_ranks_many,
)
from distillguard.distill import antidistillation_bench as ad  # noqa: E402
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result  # noqa: E402
from distillguard.models import LoadedModel, cache_dir  # noqa: E402
from distillguard.suspects import LocalSuspect  # noqa: E402
from distillguard.watermark import ADFPLogitsProcessor, WatermarkLogitsProcessor  # noqa: E402

NAME = "antidistillation_relative"
NULL_KEYS = 1000
TARGET_LOG10_P = -6.0
SHARES = (0.25, 0.05)  # the new students; 100 % and 0 % are the sibling benchmark's cached ones
ATTR_ACCOUNTS = 1000
ATTR_SOURCE = "acct-0421"
ATTR_ALPHA = 1e-3
ROOT = Path(__file__).resolve().parents[1]


def mixture(marked: list[tuple[str, str]], clean: list[tuple[str, str]], share: float) -> list[tuple[str, str]]:
    """One answer per prompt: the first ``round(share * n)`` from ``marked``, the rest from ``clean``.

    Example:
        >>> mixture([("p1", "m1"), ("p2", "m2"), ("p3", "m3"), ("p4", "m4")],
        ...         [("p1", "c1"), ("p2", "c2"), ("p3", "c3"), ("p4", "c4")], 0.25)
        [('p1', 'm1'), ('p2', 'c2'), ('p3', 'c3'), ('p4', 'c4')]
    """
    if [p for p, _ in marked] != [p for p, _ in clean]:
        raise ValueError("mixture: the marked and clean harvests answer different prompts")
    m = int(round(share * len(marked)))
    return list(marked[:m]) + list(clean[m:])


def null_calibration(log10_p: np.ndarray) -> dict[str, Any]:
    """Rejections of the null keys at 0.01 / 0.001 against the 0.999 binomial quantiles, and the minimum.

    Example:
        >>> c = null_calibration(np.log10(np.linspace(0.001, 1, 1000)))
        >>> c["rejected_0.01"], c["bound_0.01"], c["calibrated"]
        (10, 21, True)
    """
    n = len(log10_p)
    out: dict[str, Any] = {"n": n, "min": float(log10_p.min()), "median": float(np.median(log10_p))}
    ok = True
    for a in (0.01, 0.001):
        r, b = int((log10_p <= np.log10(a) + 1e-12).sum()), int(stats.binom.ppf(0.999, n, a))
        out[f"rejected_{a:g}"], out[f"bound_{a:g}"] = r, b
        ok &= r <= b
    out["calibrated"] = bool(ok)
    return out


def verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared rule on the read models (``base``, ``clean``, and ``<scheme>_<pct>`` students).

    Example:
        >>> m = {n: {"log10_p": -0.5, "nulls": {"min": -2.5, "calibrated": True}, "scheme": s, "share": f}
        ...      for n, s, f in (("base", None, 0), ("clean", None, 0), ("kgw_5", "kgw", 0.05), ("adfp_5", "adfp", 0.05))}
        >>> m["adfp_5"]["log10_p"] = -8.0
        >>> v = verdict(m)
        >>> v["valid"], v["detected"]["adfp_5"], v["per_share"]["5 %"]["winner"], v["target_5pct"]
        (True, True, 'adfp', {'adfp': True, 'kgw': False})
    """
    det = {n: bool(r["log10_p"] <= TARGET_LOG10_P and r["log10_p"] < r["nulls"]["min"]) for n, r in models.items()}
    calibrated = all(r["nulls"]["calibrated"] for r in models.values())
    valid = calibrated and not det.get("base", False) and not det.get("clean", False)
    per_share: dict[str, dict[str, Any]] = {}
    for share in sorted({r["share"] for r in models.values() if r["scheme"]}, reverse=True):
        pair = {r["scheme"]: n for n, r in models.items() if r["scheme"] and r["share"] == share}
        k, a = det.get(pair.get("kgw", ""), False), det.get(pair.get("adfp", ""), False)
        if not valid:
            winner, text = None, "invalid run"
        elif a and k:
            lk, la = models[pair["kgw"]]["log10_p"], models[pair["adfp"]]["log10_p"]
            winner = "adfp" if la < lk else "kgw"
            text = f"both detected; {winner.upper()} stronger (log10 p {min(la, lk):.1f} vs {max(la, lk):.1f}; one seed)"
        elif a or k:
            winner = "adfp" if a else "kgw"
            text = f"only {winner.upper()}'s student detected"
        else:
            winner, text = None, "neither detected"
        per_share[f"{share * 100:g} %"] = {"winner": winner, "text": text}
    five = {r["scheme"]: det[n] for n, r in models.items() if r["scheme"] and abs(r["share"] - 0.05) < 1e-9}
    if not valid:
        why = "not calibrated on every model" if not calibrated else "a control is detected"
        text = f"invalid: {why}; no scheme is credited"
    else:
        text = "; ".join(f"{s}: {v['text']}" for s, v in per_share.items())
    return {"detected": det, "valid": valid, "calibrated": calibrated, "per_share": per_share,
            "target_5pct": {s: bool(valid and v) for s, v in sorted(five.items())}, "text": text}


def mass_verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The amended rule with the mass statistic, on the held-out models only (the controls' validity checks use
    every model; the development models' detections are not credited).

    Example:
        >>> base = {"log10_p": 0.0, "nulls": {"min": 0.0, "calibrated": True}, "scheme": None, "share": 0.0}
        >>> m = {"base": {**base, "mass": {"log10_p": 0.0, "z": 0.0, "nulls": {"min": 0.0, "calibrated": True}}},
        ...      "kgw_5": {**base, "scheme": "kgw", "share": 0.05,
        ...                "mass": {"log10_p": -8.0, "z": 6.0, "nulls": {"min": -2.0, "calibrated": True}}}}
        >>> mass_verdict(m)["target_5pct"]
        {'kgw': True}
    """
    view = mass_view(models)
    full = verdict(view)
    held = verdict({n: r for n, r in view.items() if n not in MASS_DEV})
    valid = full["valid"]  # controls (the CLEAN student included) and calibration checked on every model
    held["valid"] = valid
    held["target_5pct"] = {s: bool(valid and ok) for s, ok in held["target_5pct"].items()}
    held["dev_detected"] = {n: full["detected"][n] for n in MASS_DEV if n in full["detected"]}
    if not valid:
        held["text"] = "invalid: a control is detected or a model is not calibrated; no scheme is credited"
    return held


def read(model: Any, tok: Any, seqs: list[list[int]], h: int, label: str) -> Predictions:
    """The model's reading of the texts with its distribution after the 64 most frequent h-token windows."""
    return read_predictions(LocalSuspect(LoadedModel(model, tok, label, label, True)), seqs, context_width=h)


def scores(readings: dict[str, Predictions], keys: list[Any]) -> dict[str, dict[str, Any]]:
    """Per reading: ``keys[0]``'s window-rank score relative to the teacher (the ``base`` reading), its own
    ranking, and its green-mass score relative to the teacher (under ``"mass"``); the other keys are the null.
    Every key's green lists are built once for all the readings."""
    ref_lp = np.asarray(readings["base"].window_logprobs, dtype=np.float64)
    ref_p = np.asarray(readings["base"].window_probs, dtype=np.float64)
    rel = score_window_ranks_many({n: (p, ref_lp) for n, p in readings.items()}, keys)
    own = score_window_ranks_many({n: (p, None) for n, p in readings.items()}, keys[:1])
    mass = score_window_mass_many({n: (p, ref_p) for n, p in readings.items()}, keys)
    V = keys[0].require_spec().vocab_size
    out = {}
    for n, r in rel.items():
        null = np.array([x.log10_p for x in r[1:]])
        mnull = np.array([x.log10_p for x in mass[n][1:]])
        out[n] = {"log10_p": r[0].log10_p, "z": r[0].z, "mean_rank": r[0].green_fraction, "windows": r[0].scored // V,
                  "own_log10_p": own[n][0].log10_p, "own_z": own[n][0].z, "nulls": null_calibration(null),
                  "null_log10_p": [round(float(x), 4) for x in null],
                  "mass": {"log10_p": mass[n][0].log10_p, "z": mass[n][0].z,
                           "green_share": mass[n][0].green_fraction, "nulls": null_calibration(mnull),
                           "null_log10_p": [round(float(x), 4) for x in mnull]}}
    return out


#: models that chose the mass statistic (post hoc): their mass numbers are development data
MASS_DEV = ("kgw_100", "adfp_100", "clean")


def mass_view(models: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The models with their green-mass numbers in the places :func:`verdict` reads.

    Example:
        >>> m = {"a": {"log10_p": 0.0, "nulls": {"min": 0.0}, "scheme": "kgw", "share": 1.0,
        ...            "mass": {"log10_p": -7.0, "nulls": {"min": -2.0}}}}
        >>> mass_view(m)["a"]["log10_p"], mass_view(m)["a"]["scheme"]
        (-7.0, 'kgw')
    """
    return {n: {**r, "log10_p": r["mass"]["log10_p"], "z": r["mass"]["z"], "nulls": r["mass"]["nulls"]}
            for n, r in models.items()}


def run(cfg: ad.Config, ft: pre.Finetune, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    """Fine-tune the diluted students (cached), read every model once, score the key and its null keys."""
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or ad.setup(cfg, work=work)
    key, teacher, tok = bench.key, bench.teacher, bench.teacher.tokenizer
    h = key.require_spec().context_width
    harvest, hstats = pre.harvests(bench)
    students: dict[str, dict[str, Any]] = {
        "clean": {"scheme": None, "share": 0.0, "dir": "ft_clean", "pairs": harvest["clean"]},
        **{f"{s}_100": {"scheme": s, "share": 1.0, "dir": f"ft_{s}", "pairs": harvest[s]} for s in ("kgw", "adfp")}}
    for share in SHARES:
        for s in ("kgw", "adfp"):
            pct = f"{share * 100:g}"
            students[f"{s}_{pct}"] = {"scheme": s, "share": share, "dir": f"ft_{s}_s{pct}",
                                      "pairs": mixture(harvest[s], harvest["clean"], share)}
    seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", ft.read)]
    keys = [key, *ad.null_keys(key, NULL_KEYS)]
    t0 = time.time()
    readings = {"base": read(teacher.model, tok, seqs, h, "base teacher")}
    models = {"base": {"what": "base teacher copy (not fine-tuned)", "scheme": None, "share": 0.0}}
    for name, st in students.items():
        model, info = pre.finetune_copy(teacher, st["pairs"], work / st["dir"], ft, cfg.seed, f"ft {name}")
        t1 = time.time()
        readings[name] = read(model, tok, seqs, h, name)
        marked = sum(1 for (_, a), (_, c) in zip(st["pairs"], harvest["clean"]) if a != c) if st["scheme"] else 0
        models[name] = {"what": f"teacher copy fine-tuned on {st['share'] * 100:g} % {st['scheme'] or 'unmarked'}",
                        "scheme": st["scheme"], "share": st["share"], "student": st["dir"],
                        "marked_answers": marked, "train_seconds": info.get("seconds"),
                        "read_seconds": round(time.time() - t1, 1)}
        del model
        gc.collect()
    t1 = time.time()
    for name, r in scores(readings, keys).items():
        models[name].update(r)
        nl, ms = r["nulls"], r["mass"]
        print(f"{name:>9}: rank log10 p {r['log10_p']:.2f} (z {r['z']:.1f}; own ranking {r['own_log10_p']:.2f}); null "
              f"keys min {nl['min']:.2f}, rejected {nl['rejected_0.01']}/{nl['n']} at 0.01, "
              f"{nl['rejected_0.001']} at 0.001 | mass log10 p {ms['log10_p']:.2f} (z {ms['z']:.1f}); null min "
              f"{ms['nulls']['min']:.2f}, rejected {ms['nulls']['rejected_0.01']} / {ms['nulls']['rejected_0.001']}",
              flush=True)
    score_s = round(time.time() - t1, 1)
    res = {"config": {**asdict(cfg), "finetune": asdict(ft), "null_keys": NULL_KEYS, "shares": SHARES,
                      "target_log10_p": TARGET_LOG10_P, "kgw_delta": pre.KGW_DELTA, "adfp_lambda": pre.ADFP_LAM},
           "harvest": hstats, "models": models, "verdict": verdict(models), "verdict_mass": mass_verdict(models),
           "read": {"texts": len(seqs), "tokens": int(sum(map(len, seqs))), "windows_read": int(len(readings["base"].window_ids))},
           "timings_s": {"students_and_readings": round(time.time() - t0 - score_s, 1), "scoring": score_s,
                         "total": round(time.time() - t_start, 1)}}
    print("verdict (window rank):", res["verdict"]["text"], flush=True)
    print("verdict (mass, held-out models):", res["verdict_mass"]["text"], flush=True)
    return res


def attribution_verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared attribution rule on ``base``, ``clean`` and the schemes' students.

    Example:
        >>> m = {n: {"best": "acct-0001", "best_log10_p_holm": -0.1, "flagged": 0, "nulls": {"calibrated": True}}
        ...      for n in ("base", "clean", "kgw", "adfp")}
        >>> m["kgw"].update(best=ATTR_SOURCE, best_log10_p_holm=-9.0, flagged=1)
        >>> v = attribution_verdict(m)
        >>> v["valid"], v["attributed"]
        (True, {'adfp': False, 'kgw': True})
    """
    controls_clean = all(models[c]["flagged"] == 0 for c in ("base", "clean") if c in models)
    calibrated = all(r["nulls"]["calibrated"] for r in models.values())
    valid = controls_clean and calibrated
    attributed = {n: bool(valid and r["best"] == ATTR_SOURCE and r["best_log10_p_holm"] <= TARGET_LOG10_P)
                  for n, r in sorted(models.items()) if n not in ("base", "clean")}
    if not valid:
        text = "invalid: " + ("a control has a flagged account" if not controls_clean else "not calibrated")
    else:
        text = "; ".join(f"{n.upper()}: {'attributed to ' + ATTR_SOURCE if a else 'not attributed'}"
                         for n, a in attributed.items())
    return {"valid": valid, "calibrated": calibrated, "controls_clean": controls_clean, "attributed": attributed,
            "text": text}


def attribution(cfg: ad.Config, ft: pre.Finetune, work: Path, bench: ad.Bench | None = None) -> dict[str, Any]:
    """Teacher copies fine-tuned on one account's marked answers, scored under all 1,000 account sub-keys."""
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or ad.setup(cfg, work=work)
    key, teacher, tok, H = bench.key, bench.teacher, bench.teacher.tokenizer, bench.splits["H"]
    h = key.require_spec().context_width
    accounts = account_keys(key, [f"acct-{i:04d}" for i in range(ATTR_ACCOUNTS)])
    src = next(k for k in accounts if k.account == ATTR_SOURCE)
    seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", ft.read)]
    readings = {"base": read(teacher.model, tok, seqs, h, "base teacher")}
    ref_lp = np.asarray(readings["base"].window_logprobs, dtype=np.float64)
    ref_p = np.asarray(readings["base"].window_probs, dtype=np.float64)
    harvest, info = {}, {}
    conds = {"kgw": [WatermarkLogitsProcessor(src, delta=pre.KGW_DELTA)],
             "adfp": [ADFPLogitsProcessor(src, lam=pre.ADFP_LAM)]}
    clean_pairs = pre.harvests(bench)[0]["clean"]
    for name, marks in [*conds.items(), ("clean", None)]:
        if marks is None:
            pairs, hs = clean_pairs, {"answers": len(clean_pairs)}
            out = work / "ft_clean"
        else:
            ids, st = bench.answers(H, marks, ad.BASE_T, src, 3, f"H_{name}_{ATTR_SOURCE}")
            pairs = list(zip(H, bench.text(ids)))
            hs = {**st, "answers": len(ids), "tokens": int(sum(map(len, ids)))}
            out = work / f"ft_{name}_{ATTR_SOURCE}"
        model, tr = pre.finetune_copy(teacher, pairs, out, ft, cfg.seed, f"ft {name} {ATTR_SOURCE}")
        readings[name] = read(model, tok, seqs, h, name)
        harvest[name], info[name] = hs, {"student": out.name, "train_seconds": tr.get("seconds")}
        del model
        gc.collect()
    t1 = time.time()
    null_keys = ad.null_keys(key, NULL_KEYS)
    acc = score_window_mass_many({n: (p, ref_p) for n, p in readings.items()}, accounts, alpha=ATTR_ALPHA)
    nulls = score_window_mass_many({n: (p, ref_p) for n, p in readings.items()}, null_keys)
    acc_rank = score_window_ranks_many({n: (p, ref_lp) for n, p in readings.items()}, accounts, alpha=ATTR_ALPHA)
    models: dict[str, dict[str, Any]] = {}
    for n, rs in acc.items():
        order = sorted(rs, key=lambda r: r.log10_p)
        rank = next(i for i, r in enumerate(order) if r.account == ATTR_SOURCE) + 1
        source = order[rank - 1]
        models[n] = {**info.get(n, {"student": "base teacher"}), "best": order[0].account,
                     "best_log10_p": order[0].log10_p, "best_log10_p_holm": order[0].log10_p_holm,
                     "best_z": order[0].z, "runner_up": order[1].account, "runner_up_log10_p": order[1].log10_p,
                     "source_rank": rank, "source_log10_p": source.log10_p, "source_z": source.z,
                     "flagged": int(sum(r.detected for r in rs)),
                     "nulls": null_calibration(np.array([r.log10_p for r in nulls[n]]))}
        rk = sorted(acc_rank[n], key=lambda r: r.log10_p)
        models[n]["window_rank"] = {
            "best": rk[0].account, "best_log10_p": rk[0].log10_p, "best_log10_p_holm": rk[0].log10_p_holm,
            "source_rank": next(i for i, r in enumerate(rk) if r.account == ATTR_SOURCE) + 1}
        r = models[n]
        print(f"{n:>6}: best {r['best']} log10 p {r['best_log10_p']:.2f} (Holm {r['best_log10_p_holm']:.2f}); "
              f"{ATTR_SOURCE} rank {rank}, log10 p {r['source_log10_p']:.2f}; runner-up {r['runner_up']} "
              f"{r['runner_up_log10_p']:.2f}; {r['flagged']} accounts flagged", flush=True)
    res = {"config": {**asdict(cfg), "finetune": asdict(ft), "accounts": ATTR_ACCOUNTS, "source": ATTR_SOURCE,
                      "alpha": ATTR_ALPHA, "null_keys": NULL_KEYS, "kgw_delta": pre.KGW_DELTA,
                      "adfp_lambda": pre.ADFP_LAM},
           "harvest": harvest, "models": models, "verdict": attribution_verdict(models),
           "read": {"texts": len(seqs), "tokens": int(sum(map(len, seqs)))},
           "timings_s": {"scoring": round(time.time() - t1, 1), "total": round(time.time() - t_start, 1)}}
    print("attribution verdict:", res["verdict"]["text"], flush=True)
    return res


def markdown_attribution(res: dict[str, Any]) -> str:
    cfg, v = res["config"], res["verdict"]
    lines = ["# Antidistillation, pretrained students: attribution among 1,000 accounts (teacher-relative reading)",
             "", provenance_line(res), "", f"Total {res['timings_s']['total']:.0f} s.", "",
             f"Rule: `benchmarks/antidistillation_relative.py` docstring (attribution). Harvester {cfg['source']} among "
             f"{cfg['accounts']} account sub-keys; teacher copies fine-tuned on its KGW δ={cfg['kgw_delta']:g} / ADFP "
             f"λ={cfg['adfp_lambda']:g} answers (100 % marked); scored by the teacher-relative green-mass test "
             f"(primary, amended rule), Holm over the accounts; {cfg['null_keys']} unrelated keys per model check its "
             "calibration. Last column: the window-rank statistic (reported).", "",
             f"**Verdict (pre-declared rule)**: {v['text']}. Valid: {v['valid']}.", ""]
    rows = [[n, r["student"], r["best"], f"{r['best_log10_p']:.2f}", f"{r['best_log10_p_holm']:.2f}",
             r["source_rank"], f"{r['source_log10_p']:.2f}", f"{r['runner_up']} ({r['runner_up_log10_p']:.2f})",
             r["flagged"], f"{r['nulls']['rejected_0.01']} / {r['nulls']['rejected_0.001']}",
             f"{r['window_rank']['best']} {r['window_rank']['best_log10_p']:.2f}, source rank "
             f"{r['window_rank']['source_rank']}"]
            for n, r in res["models"].items()]
    lines += md_table(["model", "student", "strongest account", "log10 p", "Holm log10 p", f"{cfg['source']} rank",
                       f"{cfg['source']} log10 p", "runner-up (log10 p)", f"accounts flagged (Holm p <= {cfg['alpha']:g})",
                       "null keys rejected at 0.01 / 0.001", "window rank: strongest, log10 p"], rows,
                      align="lllrrrrlrrl")
    return "\n".join(lines) + "\n"


def plot(res: dict[str, Any], path: Path) -> None:
    """log10 p of the teacher-relative reading against the marked share, per scheme, with the null keys' range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ms = res["models"]
    for s, c in (("kgw", "tab:blue"), ("adfp", "tab:red")):
        pts = sorted((r["share"], r["log10_p"]) for r in ms.values() if r["scheme"] == s)
        ax.plot([100 * x for x, _ in pts], [y for _, y in pts], "o-", color=c, label=f"{s.upper()}: window rank")
        pts = sorted((r["share"], r["mass"]["log10_p"]) for r in ms.values() if r["scheme"] == s and "mass" in r)
        if pts:
            ax.plot([100 * x for x, _ in pts], [y for _, y in pts], "s--", color=c, mfc="white",
                    label=f"{s.upper()}: green mass (100 %: dev)")
    lo = min(r["nulls"]["min"] for r in ms.values())
    ax.axhspan(lo, 0, color="grey", alpha=0.15, label=f"window rank: range of {res['config']['null_keys']} null keys")
    if all("mass" in r for r in ms.values()):
        lo_m = min(r["mass"]["nulls"]["min"] for r in ms.values())
        ax.axhspan(lo_m, 0, color="tab:green", alpha=0.15, label="green mass: range of the null keys")
    ax.axhline(TARGET_LOG10_P, color="k", ls="--", lw=1, label="target p = 1e-6")
    ax.plot([0], [ms["clean"]["log10_p"]], "s", color="grey", label="CLEAN student (0 %)")
    ax.set_xscale("symlog", linthresh=5)
    ax.set_xticks([0, 5, 25, 100])
    ax.set_xticklabels(["0", "5", "25", "100"])
    ax.set_xlabel("marked answers in the fine-tuning set (%)")
    ax.set_ylabel("log10 p (relative to the teacher)")
    ax.set_title("Teacher copies fine-tuned on marked answers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict[str, Any], png: str | None) -> str:
    cfg, v = res["config"], res["verdict"]
    lines = ["# Antidistillation, pretrained students read relative to the teacher", "", provenance_line(res), "",
             f"Total {res['timings_s']['total']:.0f} s (this invocation; cached students and harvests reused).", "",
             f"Question: {res['question']}", "",
             f"Harvests and recipe of `antidistillation_pretrained.md` (KGW δ={cfg['kgw_delta']:g} vs ADFP "
             f"λ={cfg['adfp_lambda']:g}, {res['harvest']['kgw']['answers']} answers of {cfg['new_tokens']} tokens; "
             f"full fine-tune of a teacher copy, lr {cfg['finetune']['lr']:g}, {cfg['finetune']['epochs']} epochs, "
             f"seed {cfg['seed']}). Diluted students: one answer per prompt, the first share of them marked, the rest "
             f"the teacher's unmarked answers. Reading: {res['read']['texts']} held-out ShareGPT answers "
             f"({res['read']['tokens']} tokens), {res['read']['windows_read']} frequent windows read; "
             f"{cfg['null_keys']} null keys per model.", "",
             f"**Verdict (pre-declared rule)**: {v['text']}. Valid: {v['valid']} (calibrated on every model: "
             f"{v['calibrated']}). 5 % target (p <= 1e-6) met: "
             + ", ".join(f"{s.upper()} {'yes' if ok else 'no'}" for s, ok in v["target_5pct"].items()) + ".", ""]
    vm = res.get("verdict_mass")
    if vm:
        lines += [f"**Green-mass statistic (amended rule; held-out models: 25 % and 5 %)**: {vm['text']}. Valid: "
                  f"{vm['valid']}. 5 % target met: "
                  + ", ".join(f"{s.upper()} {'yes' if ok else 'no'}" for s, ok in vm["target_5pct"].items())
                  + ". Development models (chose the statistic; not credited): detected "
                  + ", ".join(f"{n} {'yes' if d else 'no'}" for n, d in vm["dev_detected"].items()) + ".", ""]
    if png:
        lines += [f"![log10 p against the marked share]({png})", ""]
    rows = []
    for n, r in res["models"].items():
        nl = r["nulls"]
        rows.append([n, r["what"], r.get("marked_answers", ""), f"{r['log10_p']:.2f}", f"{r['z']:.2f}",
                     f"{r['own_log10_p']:.2f}", f"{nl['median']:.2f} / {nl['min']:.2f}",
                     f"{nl['rejected_0.01']} (≤{nl['bound_0.01']}) / {nl['rejected_0.001']} (≤{nl['bound_0.001']})",
                     "yes" if v["detected"][n] else "no"])
        if "mass" in r:
            ms = r["mass"]
            rows[-1] += [f"{ms['log10_p']:.2f}", f"{ms['z']:.2f}", f"{ms['nulls']['min']:.2f}",
                         f"{ms['nulls']['rejected_0.01']} / {ms['nulls']['rejected_0.001']}",
                         ("yes" if vm and vm["detected"].get(n) else "no") if n not in MASS_DEV else "(dev)"]
    head = ["model", "what", "marked answers", "log10 p (rank, relative, primary)", "z", "log10 p (own ranking)",
            "null keys: median / min log10 p", "null keys rejected at 0.01 / 0.001 (bound)", "detected"]
    if vm:
        head += ["log10 p (mass, relative)", "mass z", "mass null keys min", "mass null rejected 0.01 / 0.001",
                 "mass detected"]
    lines += md_table(head, rows, align="llrrrrrrl" + ("rrrrl" if vm else ""))
    lines += ["", "## Notes", ""] + [f"- {x}" for x in NOTES]
    return "\n".join(lines) + "\n"


NOTES = [
    "Statistic: distillguard.detect.radioactivity.score_window_ranks with reference = the untouched teacher's "
    "window log-probabilities (the same as `distillguard detect --reading-statistic rank --reading-reference "
    "TEACHER`): per keyed order, the most frequent read window whose green list comes from it; its vocabulary "
    "ranked by the student's mean next-token log-probability there minus the teacher's; one-sided Wilcoxon rank "
    "sum of the green entries, Chernoff bound over independent windows (no parametric tail).",
    "The base teacher copy read against itself has identical distributions: every entry ties, z = 0 by construction.",
    "'own ranking': the same statistic without the reference, reported only.",
    "Mass: distillguard.detect.radioactivity.score_window_mass_many (= `distillguard detect --reading-statistic mass "
    "--reading-reference TEACHER`): the same windows; each token scored by the student's mean next-token probability "
    "after the window minus the teacher's; the green scores summed over the windows; Chernoff bound with Hoeffding's "
    "with-replacement domination (conservative). Chosen post hoc on kgw_100, adfp_100 and clean ('(dev)').",
    "Null keys: 1,000 keys unrelated to the harvests (the first 50 are the other antidistillation benchmarks' null "
    "keys); each picks its own windows among the 64 read. A model is 'calibrated' when the rejections at 0.01 and "
    "0.001 stay within the 0.999 binomial quantiles.",
    "One seed per student; the teacher is its own ADFP proxy and the students start as copies of it (ADFP's most "
    "favourable case).",
]


def main(argv: Sequence[str] | None = None, bench: ad.Bench | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(pre.PRESETS), default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--read", type=int, default=None, help="held-out ShareGPT answers read (default: the preset's)")
    ap.add_argument("--work", default=None, help="cache folder (default runs/antidistillation-pretrained/<preset>)")
    ap.add_argument("--attribution", action="store_true", help="the attribution run among 1,000 accounts (see above)")
    ap.add_argument("--replot", action="store_true", help="redraw the plot from the recorded JSON result only")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, ft = pre.PRESETS[args.preset]
    if args.read:
        ft = pre.Finetune(ft.lr, ft.epochs, args.read)
    argl = list(sys.argv[1:] if argv is None else argv)
    rec = new_record("benchmarks/antidistillation_relative.py", argl,
                     question=__doc__.split("\n\n")[1].replace("\n", " "))
    work = Path(args.work) if args.work else ROOT / "runs" / "antidistillation-pretrained" / args.preset
    name = NAME if args.preset == "cpu" else f"{NAME}_{args.preset}"
    out_dir = ROOT / "benchmarks" / "results" if args.preset == "cpu" else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    if args.replot:
        png = out_dir / f"{name}.png"
        plot(json.loads((out_dir / f"{name}.json").read_text()), png)
        print(f"wrote {png}")
        return 0
    if args.attribution:
        res = {**rec, **attribution(cfg, ft, work, bench)}
        js, md = write_result(f"{name}_attribution", res, markdown_attribution(res), out_dir=out_dir)
        print(f"wrote {js}, {md}")
        return 0
    res = {**rec, **run(cfg, ft, work, bench), "notes": NOTES}
    png = out_dir / f"{name}.png"
    plot(res, png)
    js, md = write_result(name, res, markdown(res, png.name), out_dir=out_dir)
    print(f"wrote {js}, {md}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
