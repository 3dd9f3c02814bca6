"""Students of sampled teacher answers: the shared steps of the sampled-text radioactivity benchmarks.

``benchmarks/radioactivity.py`` (students of 100 / 25 / 5 % watermarked answers), ``radioactivity_dilution.py``
(the watermarked answers diluted in public chat pairs) and ``dilution_posthoc.py`` (diagnostics from their
caches) build on the same steps, kept here so that the scripts import only the library:

* :func:`teacher_and_keys` -- the SmolLM2 teacher, account sub-keys (h = 0, gamma 0.25, delta 2) and a control key;
* :func:`prompt_slices` / :func:`harvest_pair` -- disjoint real prompts, the teacher's watermarked (W) and clean (C)
  sampled answers, in resumable JSONL caches;
* :func:`score_suspect` -- reading and generation mode against every account sub-key (Holm) and one unrelated key;
* :func:`diluent_pairs`, :func:`public_exclusions`, :func:`rank_breakdown` -- the dilution benchmark's public data
  and its per-part breakdown of the rank statistic;
* :func:`diluent_count` / :func:`dilute` -- a training mixture in which the marked answers are a given share.

Example:
    >>> from pathlib import Path
    >>> from distillguard.distill.sampled import harvest_pair, teacher_and_keys  # doctest: +SKIP
    >>> teacher, accounts, keys, other = teacher_and_keys(Path("runs/x"), 10, {})  # doctest: +SKIP
    >>> wm, clean, slices, counts = harvest_pair(teacher, Path("runs/x"), 8, 4, keys[0], 32, {})  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["read_jsonl", "harvest_answers", "teacher_and_keys", "prompt_slices", "harvest_pair", "cached_answers",
           "suspect_answers", "score_suspect", "diluent_pairs", "public_exclusions", "rank_breakdown", "diluent_count",
           "dilute"]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a JSONL file (blank lines skipped).

    Example:
        >>> import os, tempfile
        >>> from pathlib import Path
        >>> from distillguard.distill.sampled import read_jsonl
        >>> p = Path(tempfile.mkdtemp()) / "a.jsonl"; _ = p.write_text('{"a": 1}\\n\\n{"a": 2}\\n')
        >>> read_jsonl(p)
        [{'a': 1}, {'a': 2}]
    """
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def harvest_answers(teacher: Any, prompts: list[str], path: Path, key: Any, tokens: int, seed: int,
                    log: dict[str, Any]) -> list[dict]:
    """Teacher answers (sampled at T = 0.7, resumable JSONL); ``log`` records how many were reused, so timings
    stay honest.

    Example:
        >>> recs = harvest_answers(teacher, ["Hi"], Path("runs/x/h.jsonl"), None, 32, 1, {})  # doctest: +SKIP
        >>> sorted(recs[0])[:2]  # doctest: +SKIP
        ['id', 'prompt']
    """
    from distillguard.watermark.generate import generate_jsonl

    recs = [{"id": f"r{i:05d}", "prompt": p} for i, p in enumerate(prompts)]
    log[path.stem] = generate_jsonl(teacher, recs, path, key, batch_size=32, max_new_tokens=tokens, do_sample=True,
                                    temperature=0.7, seed=seed)
    by_id = {r["id"]: r for r in read_jsonl(path)}
    return [by_id[r["id"]] for r in recs]


def teacher_and_keys(out: Path, n_accounts: int, res: dict[str, Any]) -> tuple[Any, list[str], list, Any]:
    """The SmolLM2 teacher, the account names, their sub-keys (``harvester`` first) and an unrelated key.

    The master key (h = 0, gamma 0.25, delta 2) is created once per cache directory and reused by reruns;
    ``res["spec"]`` records its public parameters (never the key).

    Example:
        >>> teacher, accounts, keys, other = teacher_and_keys(Path("runs/x"), 3, {})  # doctest: +SKIP
        >>> accounts  # doctest: +SKIP
        ['harvester', 'acct-00000', 'acct-00001']
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

    :func:`prompt_slices` gives the prompts of W, C and generation mode (returned as the third element, in that
    order). Answers that are only <eos> are dropped: they teach nothing. Returns the two harvests, the prompt
    slices and how many answers were generated vs reused (resumable JSONL caches: the answers to the first
    prompts of a slice are reused when ``n`` grows).

    Example:
        >>> wm, clean, (w, c, q), counts = harvest_pair(teacher, Path("runs/x"), 8, 4, key, 32, {})  # doctest: +SKIP
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
    cache written with another ``--queries`` is not reused).

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from distillguard.distill.sampled import cached_answers
        >>> p = Path(tempfile.mkdtemp()) / "a.json"; _ = p.write_text('["x", "y"]')
        >>> cached_answers(p, 2), cached_answers(p, 3), cached_answers(p.with_name("none.json"), 2)
        (['x', 'y'], None, None)
    """
    if not path.exists():
        return None
    cached = json.loads(path.read_text())
    return cached if len(cached) == n_prompts else None


def suspect_answers(suspect: Any, prompts: list[str], path: Path, tokens: int) -> list[str]:
    """The suspect's answers to the generation-mode prompts (T = 0.7, seed 0), cached at ``path`` (they do not
    depend on any key).

    Example:
        >>> suspect_answers(suspect, ["Hi"], Path("runs/x/answers/s.json"), 32)  # doctest: +SKIP
        ['Hello! How can I help?']
    """
    cached = cached_answers(path, len(prompts))
    if cached is not None:
        return cached
    out = suspect.generate(prompts, max_new_tokens=tokens, temperature=0.7, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False))
    return out


def score_suspect(name: str, suspect: Any, tok: Any, keys: list, accounts: list[str], other: Any, read_seqs: list,
                 gen_prompts: list[str], out: Path, gen_tokens: int, read: bool = True,
                 reference_lp: np.ndarray | None = None, support: np.ndarray | None = None,
                 untrained_last: bool = False, unigram_lp: np.ndarray | None = None,
                 unigram_top: int | None = None) -> dict[str, Any]:
    """Reading + generation mode against every account sub-key (Holm) and one unrelated key.

    With ``reference_lp`` (the untouched teacher's averaged distribution) also the rank statistic relative to
    it (``-ref``); with ``support`` (the clean teacher's vocabulary) also the rank statistics restricted to it
    (``-vocab``); with ``untrained_last`` also the whole-vocabulary rank with the never-trained block last
    (``-untrained-last``); with ``unigram_lp`` (public text's token log-frequencies) also the rank relative to
    it with the never-trained block last (``-unigram``); with ``unigram_top`` too, the green count among that
    ranking's ``unigram_top`` highest entries (``-unigram-top``). Predictions and answers are cached under
    ``out`` (``preds/<name>.npz``, ``answers/<name>.json``).

    Example:
        >>> row = score_suspect("wm100", suspect, tok, keys, accounts, other, read_seqs, prompts,
        ...                    Path("runs/x"), 32)  # doctest: +SKIP
        >>> row["reading-rank"]["harvester"]["detected"]  # doctest: +SKIP
        True
    """
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
    answers = suspect_answers(suspect, gen_prompts, out / "answers" / f"{name}.json", gen_tokens)
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



def diluent_pairs(n: int, exclude_prompts: set[str], exclude_answers: set[str], *, seed: int = 7
                  ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Two disjoint lists of ``n`` ShareGPT (prompt, ChatGPT answer) pairs, none in the excluded sets.

    Raises SystemExit when ShareGPT has fewer than ``2 n`` such pairs.

    Example:
        >>> d, d2 = diluent_pairs(3, set(), set())  # doctest: +SKIP
        >>> len(d), len(d2), set(d) & set(d2)  # doctest: +SKIP
        (3, 3, set())
    """
    from distillguard.data import sharegpt_pairs

    seen: set[tuple[str, str]] = set()
    pool = []
    for q, a in sharegpt_pairs(None, seed=seed, max_chars=2000):
        if q in exclude_prompts or a in exclude_answers or (q, a) in seen:
            continue
        seen.add((q, a))
        pool.append((q, a))
        if len(pool) == 2 * n:
            return pool[:n], pool[n:]
    raise SystemExit(f"only {len(pool)} ShareGPT pairs are left, {2 * n} are needed")


def public_exclusions(d_pairs: list[tuple[str, str]], d2_pairs: list[tuple[str, str]], w_prompts: list[str],
                      c_prompts: list[str], read_texts: list[str]) -> set[str]:
    """What the public corpus of reading-rank-unigram must leave out: every prompt and answer of D and D', the
    harvest prompts and the reading texts (the investigator does not know D; the benchmark keeps it out).

    Example:
        >>> from distillguard.distill.sampled import public_exclusions
        >>> sorted(public_exclusions([("q", "a")], [], ["w"], ["c"], ["r"]))
        ['a', 'c', 'q', 'r', 'w']
    """
    return {x for pair in d_pairs + d2_pairs for x in pair} | set(w_prompts) | set(c_prompts) | set(read_texts)


def rank_breakdown(mean_logprobs: np.ndarray, keys: list, seen: np.ndarray, support: np.ndarray) -> dict[str, Any]:
    """The whole-vocabulary rank statistic of ``keys[0]`` (the harvester) split over parts of the vocabulary.

    ``seen``: the entries that occur in the student's training sequences. train_text_student keeps the output
    rows of the others at 0 (restricted-vocabulary softmax), so the never-seen entries form one tied block at
    logit 0, above the rarely seen ones, whose logits training pushed below 0. ``support``: the teacher's
    vocabulary. Every part is fixed before a key is looked at, so each row's null is exact; the other keys' z
    (mean and sd) show it.

    Example:
        >>> import numpy as np
        >>> from distillguard.distill.sampled import rank_breakdown
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> spec = WatermarkSpec(vocab_size=400, gamma=0.25, context_width=0)
        >>> keys = [WatermarkKey(bytes([i]) * 32, spec) for i in range(1, 6)]
        >>> lp, seen = np.random.default_rng(0).normal(size=400), np.arange(400) < 300
        >>> rank_breakdown(lp, keys, seen, np.arange(400) < 100)["never seen (tied block)"]["entries"]
        100
    """
    from distillguard.detect.radioactivity import green_masks, score_ranks

    V = len(support)
    lp = np.asarray(mean_logprobs, dtype=np.float64)[:V]
    green = green_masks(keys[:1], keys[0].require_spec())[0]
    parts = {"whole vocabulary": np.ones(V, dtype=bool), "teacher's vocabulary": support,
             "outside the teacher's vocabulary": ~support, "seen in training": seen,
             "seen, outside the teacher's vocabulary": seen & ~support, "never seen (tied block)": ~seen}
    out = {}
    for name, mask in parts.items():
        z = np.array([s.z for s in score_ranks(lp, keys, support=mask)]) if mask.sum() >= 2 else np.zeros(len(keys))
        out[name] = {"entries": int(mask.sum()), "green_share": round(float(green[mask].mean()), 4),
                     "mean_logprob": round(float(lp[mask].mean()), 3), "harvester_z": round(float(z[0]), 2),
                     "null_z_mean": round(float(z[1:].mean()), 2), "null_z_sd": round(float(z[1:].std()), 2)}
    return out


def diluent_count(n_marked: int, fraction: float) -> int:
    """How many unmarked examples make ``n_marked`` marked ones ``fraction`` of a mixture:
    ``round(n_marked * (1 - fraction) / fraction)``.

    Raises ValueError unless ``0 < fraction <= 1``.

    Example:
        >>> from distillguard.distill.sampled import diluent_count
        >>> diluent_count(48, 1.0), diluent_count(48, 0.25), diluent_count(48, 0.05)
        (0, 144, 912)
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction {fraction!r}: must be in (0, 1]")
    return int(round(n_marked * (1 - fraction) / fraction))


def dilute(marked: list, diluent: list, fraction: float) -> list:
    """The marked examples followed by the first :func:`diluent_count` examples of ``diluent``.

    Every mixture of one diluent list draws the same prefix, so mixtures at several fractions (or of several
    marked sets of one size) differ only where they must. Raises ValueError when ``diluent`` is too short.

    Example:
        >>> from distillguard.distill.sampled import dilute
        >>> dilute(["m1", "m2"], ["d1", "d2", "d3", "d4", "d5", "d6", "d7"], 0.25)
        ['m1', 'm2', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6']
        >>> dilute(["m1"], ["d1"], 1.0)
        ['m1']
    """
    n = diluent_count(len(marked), fraction)
    if n > len(diluent):
        raise ValueError(f"{len(marked)} marked examples at fraction {fraction:g} need {n} unmarked ones, "
                         f"{len(diluent)} given")
    return list(marked) + list(diluent[:n])
