"""Benchmark: students trained on sampled watermarked teacher answers -- detected, attributed, persistent?

Question (issue 3): with the key, do we detect and attribute a student that learned from the SmolLM2
teacher's watermarked answers -- at 100 %, 25 % and 5 % watermarked data, in reading and generation mode --
while clean students, other keys, the untouched teacher and Gemma-3-270M stay quiet? And how long does the
mark survive further clean fine-tuning or a paraphrased (randomly substituted) harvest?

Set-up: an h = 0 key (the demo's spec: gamma 0.25, delta 2, one keyed vocabulary order per account). The
teacher answers two disjoint sets of real ShareGPT prompts by sampling (T = 0.7): W with the sub-key of
account ``harvester``, C without watermark. A student of fraction f is trained on f x N answers from W and
(1 - f) x N from C (N answers in total, the same prompts' chat template + answer). Every student is tested
among ``--accounts`` account sub-keys (Holm), reading held-out ShareGPT answers (ChatGPT's text, independent
of the key) and answering held-out ShareGPT prompts. Every stage is cached under ``--out`` (harvests are
resumable JSONL, students carry a train.json marker, answers and predictions are saved), so a rerun costs
only the scoring.

    python benchmarks/radioactivity.py --out runs/radio-text --n 256 --teacher-copies 1:1,1:4,0.25:4
                                                                                        # the committed result
    python benchmarks/radioactivity.py --out runs/radio-quick --quick   # a few minutes; prints, writes nothing
Writes benchmarks/results/radioactivity.json and .md (never edit them by hand). The logit-distillation
(top-k) variant is benchmarks/radioactivity_logits.py.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results"
MODES = ("reading-rank", "reading-rank-ref", "reading", "generation")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def harvest_answers(teacher: Any, prompts: list[str], path: Path, key: Any, tokens: int, seed: int,
             log: dict[str, Any]) -> list[dict]:
    """Teacher answers (resumable JSONL); ``log`` records how many were reused, so timings stay honest."""
    from distillguard.watermark.generate import generate_jsonl

    recs = [{"id": f"r{i:05d}", "prompt": p} for i, p in enumerate(prompts)]
    log[path.stem] = generate_jsonl(teacher, recs, path, key, batch_size=32, max_new_tokens=tokens, do_sample=True,
                                    temperature=0.7, seed=seed)
    by_id = {r["id"]: r for r in _jsonl(path)}
    return [by_id[r["id"]] for r in recs]


def start_run(script: str, doc: str, args: argparse.Namespace) -> tuple[dict[str, Any], Path]:
    """The result skeleton every radioactivity benchmark writes (question, date, machine, command, settings) and
    the path of the run's record, ``<args.out>/run.json``.

    ``timings_s`` starts from that record when an earlier run left one: a rerun reuses cached stages, so it keeps
    the times of the run that did the work.
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "question": doc.split("\n\n")[1].replace("\n", " "),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "gpu": torch.cuda.is_available()},
        "command": "python " + " ".join(shlex.quote(a) for a in [script, *sys.argv[1:]]),
        "settings": vars(args), "timings_s": {}}
    previous = out / "run.json"
    if previous.exists():
        res["timings_s"].update(json.loads(previous.read_text()).get("timings_s", {}))
    return res, previous


def teacher_and_keys(out: Path, n_accounts: int, res: dict[str, Any]) -> tuple[Any, list[str], list, Any]:
    """The SmolLM2 teacher, the account names, their sub-keys (``harvester`` first) and an unrelated key.

    The master key (h = 0, gamma 0.25, delta 2) is created once per cache directory and reused by reruns;
    ``res["spec"]`` records its public parameters (never the key).
    """
    from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
    from distillguard.models import load_model

    teacher = load_model(None)
    tok = teacher.tokenizer
    key_path = out / "teacher.key"
    if key_path.exists():
        master = WatermarkKey.load(key_path)
    else:
        master = WatermarkKey.generate(WatermarkSpec(vocab_size=len(tok), gamma=0.25, delta=2.0, context_width=0,
                                                     tokenizer_id=tokenizer_id(tok)))
        master.save(key_path)
    spec = master.require_spec()
    res["spec"] = {k: v for k, v in spec.to_dict().items() if k in ("gamma", "delta", "context_width", "seeding")}
    accounts = ["harvester"] + [f"acct-{i:05d}" for i in range(n_accounts - 1)]
    keys = [master.for_account(a) for a in accounts]
    other = WatermarkKey.generate(spec)  # an unrelated master key: the "another key" control
    return teacher, accounts, keys, other


def prompt_slices(n: int, n_clean: int, n_queries: int) -> list[list[str]]:
    """The real prompts of W (``n``), C (``n_clean``) and generation mode (``n_queries``): consecutive slices of
    one fixed shuffle of the ShareGPT prompts, so every run with the same sizes sees the same prompts.

    Example:
        >>> w, c, q = prompt_slices(2, 1, 1)  # doctest: +SKIP
        >>> len(w), len(c), len(q), set(w) & set(c)  # doctest: +SKIP
        (2, 1, 1, set())
    """
    from distillguard.data import sharegpt_prompts

    pool = list(dict.fromkeys(sharegpt_prompts(None, seed=31, min_chars=8, max_chars=600)))
    return [pool[:n], pool[n : n + n_clean], pool[n + n_clean : n + n_clean + n_queries]]


def harvest_pair(teacher: Any, out: Path, n: int, n_queries: int, key: Any, tokens: int,
                 timings: dict[str, Any], n_clean: int | None = None
                 ) -> tuple[list[dict], list[dict], list[list[str]], dict[str, Any]]:
    """Harvest W (``n`` answers watermarked with ``key``) and C (``n_clean`` clean answers, default ``n``) to
    disjoint real prompts.

    ``prompt_slices`` gives the prompts of W, C and generation mode (returned as the third element, in that
    order). Answers that are only <eos> are dropped: they teach nothing. Returns the two
    harvests, the prompt slices and how many answers were generated vs reused (resumable JSONL caches: the
    answers to the first prompts of a slice are reused when ``n`` grows).
    """
    slices = prompt_slices(n, n if n_clean is None else n_clean, n_queries)
    counts: dict[str, Any] = {}
    harvests = []
    for name, prompts, k, seed in (("harvest_wm", slices[0], key, 1), ("harvest_clean", slices[1], None, 2)):
        t0 = time.perf_counter()
        recs = harvest_answers(teacher, prompts, out / f"{name}.jsonl", k, tokens, seed=seed, log=counts)
        if counts[name]["generated"]:
            timings[name] = round(time.perf_counter() - t0, 1)
        harvests.append([r for r in recs if r["response"].strip()])
    return harvests[0], harvests[1], slices, counts


def cached_answers(path: Path, n_prompts: int) -> list[str] | None:
    """The cached generation-mode answers at ``path``, or None when there are none for ``n_prompts`` prompts (a
    cache written with another ``--queries`` is not reused)."""
    if not path.exists():
        return None
    cached = json.loads(path.read_text())
    return cached if len(cached) == n_prompts else None


def _answers(suspect: Any, prompts: list[str], path: Path, tokens: int) -> list[str]:
    """The suspect's answers to the generation-mode prompts, cached (they do not depend on any key)."""
    cached = cached_answers(path, len(prompts))
    if cached is not None:
        return cached
    out = suspect.generate(prompts, max_new_tokens=tokens, temperature=0.7, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False))
    return out


def test_suspect(name: str, suspect: Any, tok: Any, keys: list, accounts: list[str], other: Any, read_seqs: list,
          gen_prompts: list[str], out: Path, gen_tokens: int, read: bool = True,
          reference_lp: np.ndarray | None = None, support: np.ndarray | None = None,
          untrained_last: bool = False, unigram_lp: np.ndarray | None = None,
          unigram_top: int | None = None) -> dict[str, Any]:
    """Reading + generation mode against every account sub-key (Holm) and one unrelated key. With
    ``reference_lp`` (the untouched teacher's averaged distribution) also the rank statistic relative to it;
    with ``support`` (the clean teacher's vocabulary) also the rank statistics restricted to it (``-vocab``);
    with ``untrained_last`` also the whole-vocabulary rank with the never-trained block last
    (``-untrained-last``); with ``unigram_lp`` (public text's token log-frequencies) also the rank relative to
    it with the never-trained block last (``-unigram``); with ``unigram_top`` too, the green count among that
    ranking's ``unigram_top`` highest entries (``-unigram-top``)."""
    from distillguard.detect.radioactivity import score_generated, score_predictions, score_ranks
    from distillguard.detect.stats import null_summary
    from distillguard.distill.simulate import cached_predictions

    row: dict[str, Any] = {"suspect": name}
    modes = []
    if read:
        t0 = time.perf_counter()
        preds = cached_predictions(suspect, read_seqs, out / "preds" / f"{name}.npz")
        units = {"texts_read": len(read_seqs), "tokens_read": int(len(preds.ids))}
        modes.append(("reading", score_predictions(preds, keys), score_predictions(preds, [other])[0], units,
                      time.perf_counter() - t0))
        t0 = time.perf_counter()  # the rank statistic: the same reading pass, the whole averaged distribution
        modes.append(("reading-rank", score_ranks(preds.mean_logprobs, keys),
                      score_ranks(preds.mean_logprobs, [other])[0], units, time.perf_counter() - t0))
        variants = [("-ref", {"reference": reference_lp})] if reference_lp is not None else []
        if support is not None:
            variants.append(("-vocab", {"support": support}))
            if reference_lp is not None:
                variants.append(("-vocab-ref", {"reference": reference_lp, "support": support}))
        if untrained_last:
            variants.append(("-untrained-last", {"untrained_last": True}))
        if unigram_lp is not None:
            variants.append(("-unigram", {"reference": unigram_lp, "untrained_last": True}))
            if unigram_top is not None:
                variants.append(("-unigram-top", {"reference": unigram_lp, "untrained_last": True, "top": unigram_top}))
        for suffix, options in variants:
            t0 = time.perf_counter()
            modes.append((f"reading-rank{suffix}", score_ranks(preds.mean_logprobs, keys, **options),
                          score_ranks(preds.mean_logprobs, [other], **options)[0], units, time.perf_counter() - t0))
    t0 = time.perf_counter()
    answers = _answers(suspect, gen_prompts, out / "answers" / f"{name}.json", gen_tokens)
    scores, n_tok = score_generated(answers, tok, keys)
    modes.append(("generation", scores, score_generated(answers, tok, [other])[0][0],
                  {"queries": len(gen_prompts), "answer_tokens": n_tok}, time.perf_counter() - t0))
    for mode, sc, oth, units, secs in modes:
        h = sc[0]  # accounts[0] is the harvester
        null_p = np.array([s.p_value for s in sc[1:]])
        row[mode] = {**units, "harvester": {k: getattr(h, k) for k in
                                            ("green", "scored", "green_fraction", "z", "log10_p", "log10_p_holm",
                                             "detected", "statistic")},
                     "flagged": [accounts[i] for i, s in enumerate(sc) if s.detected],
                     "other_key": {"green": oth.green, "scored": oth.scored, "log10_p": oth.log10_p},
                     "null_accounts": null_summary(null_p), "seconds": round(secs, 1)}
    return row


def fraction_epochs(text: str) -> list[tuple[float, int]]:
    """Parse ``FRACTION:EPOCHS,...`` (``--teacher-copies``; ``--longer`` of radioactivity_logits.py).

    argparse turns the ValueError into a one-line error."""
    out = []
    for item in filter(None, text.split(",")):
        frac, _, epochs = item.partition(":")
        f, e = float(frac), int(epochs)
        if not (0 < f <= 1 and e > 0):
            raise ValueError(item)
        out.append((f, e))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radio-text", help="cache directory (harvests, students, answers)")
    ap.add_argument("--n", type=int, default=256, help="answers per student (and per harvest)")
    ap.add_argument("--tokens", type=int, default=128, help="max new tokens per harvested answer")
    ap.add_argument("--fractions", default="1,0.25,0.05")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--accounts", type=int, default=1000, help="account sub-keys tested (harvester + others)")
    ap.add_argument("--read", type=int, default=100, help="held-out ShareGPT answers read (reading mode)")
    ap.add_argument("--queries", type=int, default=128, help="generation-mode prompts per suspect")
    ap.add_argument("--gemma-queries", type=int, default=32)
    ap.add_argument("--persist-epochs", default="1,4", help="epochs of further clean training of the 100%% student")
    ap.add_argument("--paraphrase", default="0.1,0.25", help="token substitution rates of the harvest")
    ap.add_argument("--teacher-copies", type=fraction_epochs, default=[],
                    help="comma-separated FRACTION:EPOCHS, one fine-tuned copy of the teacher each (slow on CPU), "
                         "e.g. 1:1,1:4,0.25:4 = the 100%% harvest for 1 and for 4 epochs, the 25%% mixture for 4")
    ap.add_argument("--quick", action="store_true", help="tiny sizes; prints the table, writes no result file")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.tokens, args.epochs, args.accounts, args.read = 32, 32, 3, 50, 12
        args.queries, args.gemma_queries, args.persist_epochs, args.paraphrase = 16, 0, "1", "0.25"
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from distillguard.distill.harvest import real_texts
    from distillguard.distill.student import chat_sequences, substitute_tokens, train_text_student
    from distillguard.suspects import LocalSuspect

    t_start = time.perf_counter()
    out = Path(args.out)
    res, previous = start_run("benchmarks/radioactivity.py", __doc__, args)
    timings = res["timings_s"]
    teacher, accounts, keys, other = teacher_and_keys(out, args.accounts, res)
    tok = teacher.tokenizer
    n = args.n
    wm, clean, (_, _, q_prompts), counts = harvest_pair(teacher, out, n, args.queries, keys[0], args.tokens, timings)
    n = min(n, len(wm), len(clean))
    w_seqs = chat_sequences(tok, [(r["prompt"], r["response"]) for r in wm], 128, args.tokens)
    c_seqs = chat_sequences(tok, [(r["prompt"], r["response"]) for r in clean], 128, args.tokens)
    if len(w_seqs) != len(wm) or len(c_seqs) != len(clean):
        raise SystemExit("harvest and training sequences are misaligned (an answer encodes to no token)")
    from distillguard.demo import pooled_score

    res["harvest"] = {"answers": [len(wm), len(clean)], "generated_in_this_run": counts,
                      "answer_tokens": [sum(len(r["response_ids"]) for r in wm),
                                        sum(len(r["response_ids"]) for r in clean)],
                      "served_wm_text": pooled_score([r["response_ids"] for r in wm], keys[0]),
                      "served_clean_text": pooled_score([r["response_ids"] for r in clean], keys[0])}
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", args.read)]

    def test(name: str, suspect: Any, read: bool = True, prompts: list[str] = q_prompts,
             reference_lp: np.ndarray | None = None) -> dict[str, Any]:
        t = time.perf_counter()
        fresh = not (out / "answers" / f"{name}.json").exists()
        row = test_suspect(name, suspect, tok, keys, accounts, other, read_seqs, prompts, out, args.tokens, read,
                    reference_lp)
        if fresh:
            timings[f"test_{name}"] = round(time.perf_counter() - t, 1)
        return row

    order = np.random.default_rng(7).permutation(n)

    def mixture(f: float) -> tuple[list, int]:
        """f x n watermarked answers and the rest clean (the same draw for every student of fraction f)."""
        k = int(round(f * n))
        return [w_seqs[i] for i in order[:k]] + [c_seqs[i] for i in order[k:]], k

    rows = []
    fractions = [float(f) for f in args.fractions.split(",")]
    for f in [*fractions, 0.0]:
        name = f"wm{int(round(f * 100))}" if f > 0 else "clean"
        seqs, k = mixture(f)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=args.epochs, seed=0, desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": "from scratch, 2 layers d=256", "fraction": f, "watermarked_answers": k,
                     "watermarked_tokens": int(sum(len(wm[i]["response_ids"]) for i in order[:k])), "train": info})

    # persistence: the 100 % student trained further on clean teacher answers
    from transformers import AutoModelForCausalLM

    for e in [int(x) for x in args.persist_epochs.split(",") if x]:
        name = f"wm100+clean{e}ep"
        base = AutoModelForCausalLM.from_pretrained(out / "students" / "wm100", use_safetensors=True)
        info = train_text_student(out / "students" / name, tok, c_seqs, epochs=e, lr=1e-3, seed=1, init=base,
                                  desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": "100% student + further clean training", "fraction": 1.0,
                     "clean_steps": info["steps"], "train": info})
    # paraphrase: answer tokens of the watermarked harvest randomly substituted before training
    starts = [len(s) - len(tok.encode(r["response"], add_special_tokens=False)[: args.tokens]) - 1
              for s, r in zip(w_seqs, wm)]
    for rate in [float(x) for x in args.paraphrase.split(",") if x]:
        name = f"wm100-sub{int(rate * 100)}"
        seqs = substitute_tokens(w_seqs, rate, len(tok), start=starts, seed=3)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=args.epochs, seed=0, desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name))
        rows.append({**row, "student": f"from scratch on the harvest with {rate:.0%} of answer tokens substituted",
                     "fraction": 1.0, "substitution": rate, "train": info})
    from distillguard.distill.simulate import cached_predictions

    # the untouched teacher's averaged distribution: the reference for its fine-tuned copies (independent of
    # the key: the watermark is added at serving time)
    teacher_lp = cached_predictions(LocalSuspect(teacher), read_seqs,
                                    out / "preds" / "untouched-teacher.npz").mean_logprobs
    for f, e in args.teacher_copies:
        pct = int(round(f * 100))
        name = f"teacher-ft-wm{pct}" + ("" if e == 1 else f"-{e}ep")
        seqs, _ = mixture(f) if f < 1 else (w_seqs, n)  # 100 %: the harvest's own order, as the cached copies had
        init = None if (out / "students" / name / "train.json").exists() else copy.deepcopy(teacher.model)
        info = train_text_student(out / "students" / name, tok, seqs, epochs=e, lr=1e-4, seed=0, init=init,
                                  desc=name)
        row = test(name, LocalSuspect.load(out / "students" / name), reference_lp=teacher_lp)
        rows.append({**row, "student": f"copy of the teacher fine-tuned on the {pct}% harvest ({e} epochs)",
                     "fraction": f, "train": info})
    res["students"] = rows
    res["controls"] = [test("untouched-teacher", LocalSuspect(teacher))]
    if args.gemma_queries:
        from distillguard.errors import DistillguardError

        try:
            gemma = LocalSuspect.load("gemma3-270m")
            res["controls"].append(test("gemma3-270m", gemma, read=False, prompts=q_prompts[: args.gemma_queries]))
        except DistillguardError as exc:
            res["controls"].append({"suspect": "gemma3-270m", "not_run": str(exc)})
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    md = _markdown(res)
    print(md)
    previous.write_text(json.dumps(res, indent=2, default=str) + "\n")
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "radioactivity.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        (RESULTS / "radioactivity.md").write_text(md)
    return 0


def _cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "- | - | - | -"
    h = m["harvester"]
    others = [a for a in m["flagged"] if a != "harvester"]
    stat = (f"mean rank {h['green_fraction']:.4f} (z {h['z']:.1f})" if h.get("statistic") == "rank" else
            f"{h['green']} / {h['scored']} = {h['green_fraction']:.3f}")
    return (f"{stat} | {h['log10_p']:.1f} ({h['log10_p_holm']:.1f}) | "
            f"{'**yes**' if h['detected'] else 'no'}{' + ' + ', '.join(others) if others else ''} | "
            f"{m['other_key']['log10_p']:.1f}")


def _markdown(res: dict[str, Any]) -> str:
    s = res["settings"]
    hv = res["harvest"]
    out = ["# Radioactivity of students trained on sampled watermarked answers\n",
           f"`{res['command']}` -- {res['date']}, {res['machine']['platform']}, {res['machine']['cpus']} CPUs, "
           f"GPU: {res['machine']['gpu']}; this run took {res['seconds_total'] / 60:.1f} min.\n",
           f"Key: h = {res['spec']['context_width']}, gamma = {res['spec']['gamma']}, delta = {res['spec']['delta']}. "
           f"Harvests: {hv['answers'][0]} watermarked answers ({hv['answer_tokens'][0]} tokens; served text "
           f"{hv['served_wm_text']['green']} / {hv['served_wm_text']['scored']} green, log10 p "
           f"{hv['served_wm_text']['log10_p']:.0f}) and {hv['answers'][1]} clean answers ({hv['answer_tokens'][1]} "
           f"tokens). Each student: {s['n']} answers, {s['epochs']} epochs unless stated. Tested among "
           f"{s['accounts']} account sub-keys (Holm, alpha 1e-3); reading = {s['read']} held-out ShareGPT answers, "
           f"generation = {s['queries']} held-out ShareGPT prompts. Modes: reading-rank = the rank statistic "
           "(mean rank of the key's green tokens under the suspect's averaged next-token distribution, null 0.5, "
           "Wilcoxon rank sum, exact Chernoff bound), reading-rank-ref = the same relative to the untouched "
           "teacher (teacher copies only), "
           "reading = green coins of top-1 predictions (exact binomial), generation = green coins "
           "of the answers (exact binomial); the two reading statistics come from one reading pass.\n",
           "| suspect | wm fraction | wm tokens in training | mode | harvester green / coins (or mean rank) | "
           "log10 p (Holm) | "
           "detected (+ other accounts flagged) | another key log10 p |", "|---|---|---|---|---|---|---|---|"]
    for r in res["students"] + res["controls"]:
        if "not_run" in r:
            out.append(f"| {r['suspect']} | - | - | - | not run: {r['not_run']} | | | |")
            continue
        for mode in MODES:
            if mode in r:
                frac = f"{r['fraction']:.0%}" if "fraction" in r else "-"
                out.append(f"| {r['suspect']} | {frac} | {r.get('watermarked_tokens', '-')} | {mode} | {_cell(r[mode])} |")
    out.append("\nCalibration (the accounts each suspect never learned from: their p-values are null):\n")
    out.append("| suspect | mode | null keys | FPR at 0.01 (bound) | FPR at 0.001 | min p |")
    out.append("|---|---|---|---|---|---|")
    for r in res["students"] + res["controls"]:
        for mode in MODES:
            if mode in r:
                c = r[mode]["null_accounts"]
                out.append(f"| {r['suspect']} | {mode} | {c['keys']} | {c['fpr_at_0.01']:.4f} "
                           f"({c['rejections_0.01']} <= {c['bound_0.01_rejections_q999']}) | {c['fpr_at_0.001']:.4f} | "
                           f"{c['min_p']:.2g} |")
    out.append("\nTimings (s; a stage reused from the cache keeps the time of the run that did it): "
               + ", ".join(f"{k} {v}" for k, v in res["timings_s"].items()))
    out.append("Training times are in each student's `train` entry of radioactivity.json.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
