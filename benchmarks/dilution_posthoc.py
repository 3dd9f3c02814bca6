"""Post-hoc diagnostics of radioactivity_dilution.py runs, from their caches (no training, no harvest).

Two questions about the sampled-text 5 % students, asked after they were scored (so: diagnostics, not tests):

* ``rare``: how many vocabulary entries do the watermarked answers W bring into the student's data that the
  diluent D lacks, and how many of them are green under the harvester's key? A student sees those entries only
  in W, so they are where a small mark can be learned; the excess over gamma is the count that matters.
  Counted on W's answer tokens (<= 128 each) against D's prompt and answer tokens (<= 128 each).
* ``read``: the reading-rank-unigram statistic when the student reads N held-out ShareGPT answers instead of
  the benchmark's 100 (issue 3 allows 250k scored tokens; 1,000 answers are about 213k). The public corpus
  excludes D, D', the harvest prompts and the N reading texts, as the benchmark does.

Each run is named ``OUT:WM_ANSWERS:CLEAN_ANSWERS`` (the benchmark's ``--out``, ``--wm-answers`` and
``--clean-answers``), at the benchmark's defaults otherwise (5 %, 128 queries, 100 reading texts for D):

    python benchmarks/dilution_posthoc.py rare runs/radio-dilution-5r:256:256 runs/radio-dilution-5w768:768:256
    python benchmarks/dilution_posthoc.py read --n-read 1000 runs/radio-dilution-5w768:768:256
    python benchmarks/dilution_posthoc.py read --n-read 1000 --student shadow runs/radio-dilution-5:256:256

* ``top``: where the mark sits in the student's ranking (relative to public text, never-trained entries last):
  the harvester's green count among the K entries ranked highest (``score_ranks(..., top=K)``), for a grid
  of K, against the other accounts' (null) counts; and the ranks of the W-only entries of ``rare``.

    python benchmarks/dilution_posthoc.py top runs/radio-dilution-5d:256:256

Prints one line per run (``top``: one per K); ``read`` caches the student's predictions under OUT/preds/ (they hold no key).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.distill.sampled import diluent_pairs, prompt_slices, public_exclusions


def run_data(spec: str, fraction: float = 0.05, queries: int = 128) -> dict[str, Any]:
    """The cached W answers and the pairs of D and D' of the run ``OUT:WM_ANSWERS:CLEAN_ANSWERS``, rebuilt the
    way radioactivity_dilution.py builds them (same prompt slices, same exclusions, same seed).

    Example:
        >>> run_data("runs/radio-dilution-5r:256:256")["D"][:1]  # doctest: +SKIP
        [('...', '...')]
    """
    from distillguard.distill.harvest import real_texts

    out, n, n_clean = spec.split(":")
    out_dir, n_wm = Path(out), int(n)
    w_p, c_p, q_p = prompt_slices(n_wm, int(n_clean), queries)
    by_id = {r["id"]: r for r in map(json.loads, (out_dir / "harvest_wm.jsonl").read_text().splitlines())}
    wm = [by_id[f"r{i:05d}"] for i in range(n_wm) if f"r{i:05d}" in by_id]
    wm = [r for r in wm if r["response"].strip()]  # as harvest_pair: empty answers teach nothing
    n_dil = int(round(len(wm) * (1 - fraction) / fraction))
    d, d2 = diluent_pairs(n_dil, set(w_p) | set(c_p) | set(q_p), set(real_texts("read", 100)))
    return {"out": out_dir, "W": wm, "D": d, "D'": d2, "W prompts": w_p, "C prompts": c_p}


def w_only(data: dict[str, Any], tok: Any) -> tuple[np.ndarray, np.ndarray]:
    """The entries W's answers hold and D's prompts and answers do not (bool ``[V]``), and W's occurrences of
    every entry; each text cut at 128 tokens.

    Example:
        >>> only, in_w = w_only(run_data("runs/radio-dilution-5r:256:256"), tok)  # doctest: +SKIP
    """
    V = len(tok)

    def counts(texts: list[str]) -> np.ndarray:
        return np.bincount(np.concatenate([tok.encode(t, add_special_tokens=False)[:128] for t in texts]),
                           minlength=V)[:V]

    in_w = counts([r["response"] for r in data["W"]])
    return (in_w > 0) & ~(counts([x for pair in data["D"] for x in pair]) > 0), in_w


def rare_entries(data: dict[str, Any], tok: Any, key: Any) -> dict[str, Any]:
    """Entries W's answers hold and D does not, their green count under ``key`` and the excess over gamma.

    Example:
        >>> rare_entries(run_data("runs/radio-dilution-5r:256:256"), tok, key)["excess"]  # doctest: +SKIP
        79.5
    """
    from distillguard.detect.radioactivity import green_masks

    only, in_w = w_only(data, tok)
    spec = key.require_spec()
    green = green_masks([key], spec)[0][: len(tok)]
    k, g = int(only.sum()), int((only & green).sum())
    return {"W answers": len(data["W"]), "D pairs": len(data["D"]), "W-only entries": k, "green": g,
            "green share": round(g / max(k, 1), 3), "excess": round(g - spec.gamma * k, 1),
            "occurrences": int(in_w[only].sum()), "green occurrences": int(in_w[only & green].sum())}


def read_more(data: dict[str, Any], student: str, n_read: int, keys: list) -> dict[str, Any]:
    """reading-rank-unigram of ``student`` reading ``n_read`` held-out answers; the harvester is ``keys[0]``.

    Example:
        >>> read_more(run_data("runs/radio-dilution-5r:256:256"), "dilute-wm", 1000, keys)["z"]  # doctest: +SKIP
        2.14
    """
    from distillguard.data import public_texts
    from distillguard.detect.radioactivity import score_ranks, unigram_logprobs
    from distillguard.distill.harvest import real_texts
    from distillguard.distill.simulate import cached_predictions
    from distillguard.suspects import LocalSuspect

    suspect = LocalSuspect.load(data["out"] / "students" / student)
    tok = suspect.tokenizer
    read = real_texts("read", n_read)
    public = public_texts(20_000, seed=7, exclude=public_exclusions(data["D"], data["D'"], data["W prompts"],
                                                                    data["C prompts"], read))
    unigram = unigram_logprobs([tok.encode(t, add_special_tokens=False) for t in public], len(tok))
    t0 = time.perf_counter()
    preds = cached_predictions(suspect, [tok.encode(t, add_special_tokens=False)[:256] for t in read],
                               data["out"] / "preds" / f"{student}-read{n_read}.npz")  # keyless: cached
    scores = score_ranks(preds.mean_logprobs, keys, reference=unigram, untrained_last=True)
    null_z = np.array([s.z for s in scores[1:]])
    return {"texts read": n_read, "tokens read": int(len(preds.ids)), "public texts": len(public),
            "z": round(scores[0].z, 2), "log10 p": round(scores[0].log10_p, 2),
            "log10 p Holm": round(scores[0].log10_p_holm, 2), "null z mean": round(float(null_z.mean()), 2),
            "null z sd": round(float(null_z.std()), 2), "null z max": round(float(null_z.max()), 2),
            "seconds": round(time.perf_counter() - t0)}


def head_of_ranking(data: dict[str, Any], student: str, keys: list, public_n: int = 20_000,
                    grid: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)) -> list[dict[str, Any]]:
    """The top-K count test of ``student`` (harvester = ``keys[0]``) for each K of ``grid``, on the benchmark's
    own reading (its cached predictions of 100 held-out answers) relative to public text, never-trained last.

    Example:
        >>> head_of_ranking(run_data("runs/radio-dilution-5d:256:256"), "dilute-wm", keys)[0]["K"]  # doctest: +SKIP
        16
    """
    from distillguard.data import public_texts
    from distillguard.detect.radioactivity import score_ranks, unigram_logprobs
    from distillguard.detect.stats import tied_block
    from distillguard.distill.harvest import real_texts
    from distillguard.models import load_tokenizer

    tok = load_tokenizer(None)
    read = real_texts("read", 100)
    public = public_texts(public_n, seed=7, exclude=public_exclusions(data["D"], data["D'"], data["W prompts"],
                                                                      data["C prompts"], read))
    unigram = unigram_logprobs([tok.encode(t, add_special_tokens=False) for t in public], len(tok))
    lp = np.load(data["out"] / "preds" / f"{student}.npz")["mean_logprobs"]
    V = len(tok)
    score = lp[:V] - unigram[:V]
    block = tied_block(lp[:V])
    if block is not None:
        score = np.where(block, -np.inf, score)
    order = np.argsort(-score, kind="stable")
    rank_of = np.empty(V, dtype=np.int64)
    rank_of[order] = np.arange(V)
    only, _ = w_only(data, tok)
    rows = []
    for K in grid:
        sc = score_ranks(lp, keys, reference=unigram, untrained_last=True, top=K)
        null_z = np.array([s.z for s in sc[1:]])
        null_p = np.array([s.p_value for s in sc[1:]])
        rows.append({"K": K, "green": sc[0].green, "share": round(sc[0].green_fraction, 3), "z": round(sc[0].z, 2),
                     "log10 p": round(sc[0].log10_p, 2), "log10 p Holm": round(sc[0].log10_p_holm, 2),
                     "W-only in head": int((rank_of[only] < K).sum()),
                     "null z mean": round(float(null_z.mean()), 2), "null z sd": round(float(null_z.std()), 2),
                     "null FPR@0.01": round(float((null_p <= 0.01).mean()), 4)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("rare", "read", "top"),
                    help="rare: W-only entries; read: rescoring with --n-read texts; top: the head of the ranking")
    ap.add_argument("runs", nargs="+", help="OUT:WM_ANSWERS:CLEAN_ANSWERS of a radioactivity_dilution.py run")
    ap.add_argument("--n-read", type=int, default=1000, help="held-out answers read (read)")
    ap.add_argument("--student", default="dilute-wm", help="student under OUT/students/ (read)")
    ap.add_argument("--accounts", type=int, default=1000, help="account sub-keys (harvester + others; read)")
    args = ap.parse_args(argv)
    for spec in args.runs:
        out, _, sizes = spec.partition(":")
        if not all(x.isdigit() and int(x) > 0 for x in sizes.split(":")) or sizes.count(":") != 1:
            ap.error(f"{spec!r}: expected OUT:WM_ANSWERS:CLEAN_ANSWERS (two positive integers)")
        needed = ["teacher.key", "harvest_wm.jsonl"] + ([f"students/{args.student}"] if args.what == "read" else []) + (
            [f"preds/{args.student}.npz"] if args.what == "top" else [])
        missing = [f for f in needed if not Path(out, f).exists()]
        if missing:
            ap.error(f"{spec!r}: {out} lacks {', '.join(missing)} (not a radioactivity_dilution.py cache)")
    torch.set_num_threads(2)
    from distillguard.keys import WatermarkKey
    from distillguard.models import load_tokenizer

    for spec in args.runs:
        data = run_data(spec)
        master = WatermarkKey.load(data["out"] / "teacher.key")
        if args.what == "rare":
            line = rare_entries(data, load_tokenizer(None), master.for_account("harvester"))
        else:
            keys = [master.for_account(a) for a in ["harvester"] + [f"acct-{i:05d}" for i in range(args.accounts - 1)]]
            if args.what == "top":
                for row in head_of_ranking(data, args.student, keys):
                    print(f"{spec}: " + ", ".join(f"{k} {v}" for k, v in row.items()), flush=True)
                continue
            line = {"student": args.student, **read_more(data, args.student, args.n_read, keys)}
        print(f"{spec}: " + ", ".join(f"{k} {v}" for k, v in line.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
