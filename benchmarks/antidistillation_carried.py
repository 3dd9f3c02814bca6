#!/usr/bin/env python
"""Antidistillation on a GPU from carried token ids (issue 27): from-scratch students of 100 / 25 / 5 % marked
data at GPU sizes, and attribution of their harvest among 1,000 accounts.

The CPU runs of ``benchmarks/antidistillation.py --dilution`` read no student, not even the 100 % ones: 48
marked answers of 48 tokens are too few for a 2x128 student. The device machine has no teacher (its GGUF is
larger than what travels, and it reaches no registry), so the run is split in two:

1. ``export`` (here, on the CPU, with the teacher): the teacher's answers to the ``gpu`` preset's H prompts
   under each scheme, the diluent and the reading texts, tokenised, plus the teacher's tokenizer files: a
   folder of ``.npz`` token ids (``uint16``; loaded with ``allow_pickle=False``) and ``manifest.json`` with
   their SHA-256. About 15 MB at the gpu size (an estimate). Answers are made 64 prompts at a time and cached per chunk, so
   a stopped export resumes.
2. ``run`` (on the device; also on a CPU at ``tiny``): trains the students in memory and reads them, from the
   artefacts alone (no teacher, no model file, no network). It writes its result after every student, so a run
   stopped by the device's time limit keeps what it has.

Rule (fixed here, committed before any artefact of the gpu size or any of these students exists):

* **Harvests**: the teacher (SmolLM2-135M-Instruct) answers the ``gpu`` preset's 1,024 H prompts (ShareGPT,
  ``antidistillation_bench.setup``), 128 tokens each (forced), T = 0.7, 64 prompts per chunk, chunk i with
  sampling seed 3 + i, under the project's pair -- **KGW delta = 2** and **ADFP lambda = 24** with the teacher as
  proxy (matched per-step KL 0.40 vs 0.44 at 128 tokens, ``antidistillation_pretrained``) -- both **with account
  ``acct-0421``'s sub-key** of the public benchmark key, and unmarked (the clean twin: the same prompts and seeds).
* **Mixtures**: all 1,024 answers of one scheme followed by ``dilute``'s prefix of the diluent (ShareGPT
  (prompt, ChatGPT answer) pairs, ``diluent_pairs`` seed 7, answers cut to 128 teacher tokens; none a prompt
  of the benchmark's splits or a reading text) at marked shares 1, 0.25 and 0.05; the clean twin mixed alike.
  Curve at 0.05: the first 256 and 512 marked answers with their own 19x diluent (KGW and ADFP).
* **Students**: from scratch, 4 layers x 384, answer-only loss, restricted-vocabulary softmax (the project's
  recipe, ``train_student``), 4 epochs, batch 32, lr 3e-3, seed 0, bfloat16 autocast on a GPU.
  Training order: 5 % first (the target), then 100 %, 25 %, the curve.
* **Statistic** (primary): the library's reading test (``reading_test``, ``statistic="auto"`` = top-1 coins for
  this h = 1 key, exact binomial) on 400 held-out ShareGPT answers (``real_texts("read", 400)``, 256 tokens each)
  under acct-0421's sub-key. Null: the same statistic under 1,000 unrelated keys (``null_keys``) on the same
  student; *calibrated* = the null keys rejected at 0.01 and at 0.001 stay within their 0.999 binomial quantiles.
* **Detected**: log10 p <= -6 and below all 1,000 null keys' log10 p. **Attributed**: among the 1,000 account
  sub-keys acct-0000 ... acct-0999 (Holm-adjusted), the strongest is acct-0421 and its Holm-adjusted log10 p
  <= -6. **Valid** only if no clean twin is detected, no account reaches Holm-adjusted p <= 1e-3 on a clean twin,
  and every student is calibrated. Per share: ADFP beats KGW if only its student is detected (and vice versa);
  both detected: the smaller log10 p is called stronger (one seed: an indication); neither: null at that share.
  The issue's target is met for a scheme if its 5 % student is detected.
* **Curve** (labelled an extrapolation when used): log10 p against marked answer tokens at 5 %, least squares
  through the origin (``antidistillation_dilution.extrapolate``); counted as signal only where a point is below its
  null keys' minimum.
* **Seeds**: one student per mixture. Run once at the gpu size; a rerun after a stop (``--resume``: the students
  already read are kept, the others trained) uses the same seeds, so it is the same run (GPU kernels are not
  bit-for-bit deterministic; each row records its device).

Usage:
    python benchmarks/antidistillation_carried.py export --out runs/carried/gpu            # CPU, ~1.5 h
    python benchmarks/antidistillation_carried.py run --artefacts runs/carried/gpu --out results_dir --device cuda
    python benchmarks/antidistillation_carried.py run --artefacts runs/carried/gpu --out results_dir --device cuda \
        --resume     # a second call after a stop: keeps the students already read
    (On this project's 2-core CPU one step of a 4x384 student took ~22 s, so the gpu size is device-only.)
    python benchmarks/antidistillation_carried.py export --preset tiny --out /tmp/a && \\
        python benchmarks/antidistillation_carried.py run --preset tiny --artefacts /tmp/a --out /tmp/r

Results: ``antidistillation_carried_<preset>.{json,md}`` in ``--out`` (the gpu run's are copied to
``benchmarks/results/`` with the device named).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmarks' rule helpers
from antidistillation_dilution import extrapolate  # noqa: E402
from antidistillation_relative import null_calibration  # noqa: E402

from distillguard.detect.radioactivity import Predictions, account_keys, read_predictions, score_predictions  # noqa: E402
from distillguard.detect.stats import holm_log10  # noqa: E402
from distillguard.distill import antidistillation_bench as ad  # noqa: E402
from distillguard.distill.bench import exit_on_refusal, md_table, new_record, write_result  # noqa: E402
from distillguard.distill.sampled import diluent_count  # noqa: E402
from distillguard.distill.student import make_student, sequence_targets, train_student  # noqa: E402
from distillguard.keys import WatermarkKey, WatermarkSpec  # noqa: E402
from distillguard.models import LoadedModel  # noqa: E402
from distillguard.suspects import LocalSuspect  # noqa: E402

NAME = "antidistillation_carried"
SOURCE = "acct-0421"
ACCOUNTS = [f"acct-{i:04d}" for i in range(1000)]
NULL_KEYS = 1000
TARGET_LOG10_P = -6.0
CONTROL_ALPHA = 1e-3
DILUENT_SEED = 7
SCHEMES = {"kgw": ("KGW δ=2", 2.0), "adfp": ("ADFP λ=24", 24.0)}
FORMAT = 1  # the artefact layout; a manifest of another layout is refused


@dataclass(frozen=True)
class Size:
    """One size of the experiment (``gpu``: the rule above; ``tiny``: a smoke test on a CPU)."""

    preset: str
    n_harvest: int
    new_tokens: int
    chunk: int
    n_read: int
    read_tokens: int
    fractions: tuple[float, ...]  # in training order
    curve: tuple[int, ...]  # marked answers at the smallest fraction besides all of them
    layers: int
    hidden: int
    epochs: int
    batch: int
    lr: float
    null_keys: int
    accounts: int


SIZES = {
    "gpu": Size("gpu", 1024, 128, 64, 400, 256, (0.05, 1.0, 0.25), (256, 512), 4, 384, 4, 32, 3e-3, NULL_KEYS, 1000),
    "tiny": Size("tiny", 4, 12, 2, 6, 64, (0.05, 1.0, 0.25), (1, 2), 1, 32, 1, 4, 3e-3, 40, 50),
}


# -- artefacts ---------------------------------------------------------------------------------------------
def save_seqs(path: Path, seqs: Sequence[Sequence[int]], starts: Sequence[int] | None = None) -> str:
    """Token-id sequences as ``uint16`` in one ``.npz`` (written atomically); returns its SHA-256.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "s.npz"
        >>> sha = save_seqs(p, [[1, 2, 3], [4]], [1, 0])
        >>> seqs, starts = load_seqs(p, sha)
        >>> seqs, starts
        ([[1, 2, 3], [4]], [1, 0])
    """
    flat = np.concatenate([np.asarray(s, np.int64) for s in seqs]) if seqs else np.zeros(0, np.int64)
    if flat.size and (flat.min() < 0 or flat.max() > np.iinfo(np.uint16).max):
        raise ValueError("token ids must fit in uint16")
    arrays = {"ids": flat.astype(np.uint16), "lengths": np.array([len(s) for s in seqs], np.int32)}
    if starts is not None:
        arrays["starts"] = np.asarray(starts, np.int32)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_seqs(path: Path, sha256: str) -> tuple[list[list[int]], list[int] | None]:
    """Read :func:`save_seqs`' file back after checking its SHA-256 (no pickle: nothing in it is executed)."""
    if hashlib.sha256(path.read_bytes()).hexdigest() != sha256:
        raise SystemExit(f"{path}: SHA-256 differs from the manifest's")
    with np.load(path, allow_pickle=False) as z:
        ids, lengths = z["ids"].astype(np.int64), z["lengths"]
        starts = z["starts"].tolist() if "starts" in z else None
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [ids[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])], starts


def export(bench: ad.Bench, size: Size, out: Path) -> dict[str, Any]:
    """The teacher's harvests (cached per chunk in ``bench.work``), the diluent and the reading texts as token
    ids in ``out``, with the tokenizer and ``manifest.json``."""
    from distillguard.data import real_texts
    from distillguard.distill.sampled import diluent_pairs
    from distillguard.distill.student import chat_examples
    from distillguard.watermark import ADFPLogitsProcessor, WatermarkLogitsProcessor

    out.mkdir(parents=True, exist_ok=True)
    bench.work.mkdir(parents=True, exist_ok=True)
    tok, key = bench.teacher.tokenizer, bench.key
    src = key.for_account(SOURCE)
    H = bench.splits["H"][: size.n_harvest]
    if len(H) < size.n_harvest:
        raise SystemExit(f"only {len(H)} H prompts; the size needs {size.n_harvest}")
    marks = {"kgw": [WatermarkLogitsProcessor(src, delta=SCHEMES["kgw"][1])],
             "adfp": [ADFPLogitsProcessor(src, lam=SCHEMES["adfp"][1])], "clean": []}
    files: dict[str, str] = {}
    harvest_stats: dict[str, list[dict[str, float]]] = {}
    t0 = time.time()
    for scheme, procs in marks.items():
        ids: list[list[int]] = []
        harvest_stats[scheme] = []
        for i in range(math.ceil(len(H) / size.chunk)):
            part = H[i * size.chunk : (i + 1) * size.chunk]
            a, st = bench.answers(part, procs, ad.BASE_T, src, 3 + i, f"carried_{size.preset}_{scheme}_c{i}")
            ids += a
            harvest_stats[scheme].append({"n": len(part), **st})
            print(f"{scheme}: {len(ids)}/{len(H)} answers ({time.time() - t0:.0f}s)", flush=True)
        seqs, starts = chat_examples(tok, list(zip(H, bench.text(ids))))
        files[f"harvest_{scheme}.npz"] = save_seqs(out / f"harvest_{scheme}.npz", seqs, starts)
    read_texts = real_texts("read", size.n_read)
    n_dil = diluent_count(size.n_harvest, min(size.fractions))
    pool = diluent_pairs(n_dil, {p for v in bench.splits.values() for p in v}, set(read_texts), seed=DILUENT_SEED)[0]
    pool = [(q, tok.decode(tok.encode(a, add_special_tokens=False)[: size.new_tokens])) for q, a in pool]
    seqs, starts = chat_examples(tok, pool)
    files["diluent.npz"] = save_seqs(out / "diluent.npz", seqs, starts)
    files["read.npz"] = save_seqs(out / "read.npz", [tok.encode(t, add_special_tokens=False)[: size.read_tokens]
                                                     for t in read_texts])
    tok.save_pretrained(out / "tokenizer")
    spec = key.require_spec()
    manifest = {"format": FORMAT, "size": asdict(size), "files": files, "source_account": SOURCE,
                "key": {"vocab_size": spec.vocab_size, "gamma": spec.gamma, "tokenizer_id": spec.tokenizer_id,
                        "fingerprint": key.fingerprint, "source_fingerprint": src.fingerprint},
                "teacher": bench.teacher.identity, "harvest_stats": harvest_stats,
                "diluent": {"pairs": len(pool), "seed": DILUENT_SEED},
                "export_seconds": round(time.time() - t0, 1)}
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(out / "manifest.json")
    mb = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 2**20
    print(f"wrote {out} ({mb:.1f} MB)", flush=True)
    return manifest


@dataclass
class Artefacts:
    manifest: dict[str, Any]
    harvest: dict[str, tuple[list[list[int]], list[int]]]
    diluent: tuple[list[list[int]], list[int]]
    read: list[list[int]]
    key: WatermarkKey
    tokenizer: Any


def load_artefacts(folder: Path) -> Artefacts:
    """Everything ``run`` needs, hash-checked; the benchmark key rebuilt from its public secret and checked."""
    from transformers import AutoTokenizer

    path = folder / "manifest.json"
    if not path.exists():
        raise SystemExit(f"{folder}: no manifest.json (run `export` first)")
    man = json.loads(path.read_text())
    if man.get("format") != FORMAT:
        raise SystemExit(f"{path}: artefact format {man.get('format')!r}, this script reads {FORMAT}")
    k = man["key"]
    key = WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=k["vocab_size"], gamma=k["gamma"], delta=2.0,
                                                      tokenizer_id=k["tokenizer_id"]))
    if key.fingerprint != k["fingerprint"] or key.for_account(SOURCE).fingerprint != k["source_fingerprint"]:
        raise SystemExit("the benchmark key rebuilt here is not the one the artefacts were made with")
    harvest = {s: load_seqs(folder / f"harvest_{s}.npz", man["files"][f"harvest_{s}.npz"]) for s in (*SCHEMES, "clean")}
    return Artefacts(man, harvest, load_seqs(folder / "diluent.npz", man["files"]["diluent.npz"]),
                     load_seqs(folder / "read.npz", man["files"]["read.npz"])[0], key,
                     AutoTokenizer.from_pretrained(folder / "tokenizer"))


# -- students and their reading ------------------------------------------------------------------------------
def plan(size: Size) -> list[tuple[float, int, str]]:
    """``(fraction, marked answers, scheme)`` in training order: the rule's mixtures, then the curve.

    Example:
        >>> plan(SIZES["tiny"])[:3]
        [(0.05, 4, 'kgw'), (0.05, 4, 'adfp'), (0.05, 4, 'clean')]
        >>> len(plan(SIZES["gpu"]))
        13
    """
    out = [(f, size.n_harvest, s) for f in size.fractions for s in (*SCHEMES, "clean")]
    return out + [(min(size.fractions), m, s) for m in size.curve for s in SCHEMES]


_FORKED_KEYS: dict[str, list[WatermarkKey]] = {}  # set before the key pool forks: keys are never pickled


def _score_chunk(args: tuple[Predictions, str, int, int]) -> list[float]:
    preds, name, i, n = args
    return [s.log10_p for s in score_predictions(preds, _FORKED_KEYS[name][i::n])]


def scores_later(preds: Predictions, keys: list[WatermarkKey], pool: ProcessPoolExecutor | None = None,
                 name: str = "", workers: int = 1) -> Callable[[], np.ndarray]:
    """Each key's own (unadjusted) log10 p of the top-1 coin test, submitted now and collected by calling the
    result (the device trains the next student meanwhile). With ``pool`` (:func:`key_pool`), ``keys`` must be
    its key set ``name``; they are split over its ``workers`` processes.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> ks = ad.null_keys(WatermarkKey(ad.BENCH_SECRET, WatermarkSpec(vocab_size=100)), 3)
        >>> p = Predictions(np.array([1, 2, 1, 3]), np.zeros(4, np.int64), np.array([5, 6, 7, 8]))
        >>> scores_later(p, ks)().shape
        (3,)
    """
    if pool is None:
        out = np.array([s.log10_p for s in score_predictions(preds, keys)])
        return lambda: out
    if _FORKED_KEYS.get(name) is not keys:
        raise ValueError(f"key set {name!r} is not the one the pool was forked with")
    futures = [pool.submit(_score_chunk, (preds, name, i, workers)) for i in range(workers)]

    def collect() -> np.ndarray:
        got = np.empty(len(keys))
        for i, fut in enumerate(futures):
            got[i::workers] = fut.result()
        return got
    return collect


def key_pool(workers: int, key_sets: dict[str, list[WatermarkKey]]) -> ProcessPoolExecutor | None:
    """``workers`` processes for the key scoring, forked and started now with ``key_sets`` in their memory (a
    key refuses to be pickled): before torch starts its thread pool (a fork after that can hang), and once for
    the whole run rather than once per student."""
    if workers <= 1:
        return None
    _FORKED_KEYS.clear()
    _FORKED_KEYS.update(key_sets)
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
    list(pool.map(abs, range(4 * workers)))
    return pool


def account_names(size: Size) -> list[str]:
    """The accounts attribution ranks: all 1,000, or (a smaller size) ``size.accounts`` of them around the source.

    Example:
        >>> names = account_names(SIZES["tiny"])
        >>> len(names), SOURCE in names
        (50, True)
    """
    lo = min(max(0, ACCOUNTS.index(SOURCE) - size.accounts // 2), len(ACCOUNTS) - size.accounts)
    return ACCOUNTS[lo : lo + size.accounts]


def start_student(art: Artefacts, size: Size, f: float, m: int, scheme: str, device: str,
                  null: list[WatermarkKey], accts: list[WatermarkKey], pool: ProcessPoolExecutor | None = None,
                  workers: int = 1) -> tuple[dict[str, Any], Callable[[], None]]:
    """Train one mixture's student and read it; its null keys and (the rule's mixtures and clean twins) its
    attribution are scored in ``pool`` meanwhile. Returns the row and the call that completes it."""
    marked, mstarts = art.harvest[scheme]
    dseqs, dstarts = art.diluent
    n_dil = diluent_count(m, f)
    if n_dil > len(dseqs):
        raise SystemExit(f"{m} marked answers at {f:g} need {n_dil} diluent pairs; the artefacts hold {len(dseqs)}")
    seqs, starts = marked[:m] + dseqs[:n_dil], mstarts[:m] + dstarts[:n_dil]
    ids, lengths, tgt, lp = sequence_targets(seqs, starts)
    torch.manual_seed(0)
    model = make_student(len(art.tokenizer), layers=size.layers, hidden=size.hidden, seed=0).to(device)
    t0 = time.time()
    loss = train_student(model, ids, lengths, tgt, lp, epochs=size.epochs, batch_size=size.batch, lr=size.lr, seed=0,
                         desc=f"{scheme} f={f:g} m={m}", restrict_vocab=True, bf16=device.startswith("cuda"))
    t_train = time.time() - t0
    suspect = LocalSuspect(LoadedModel(model, art.tokenizer, f"student {scheme} {f:g} {m}", f"{scheme}-{f:g}-{m}", True))
    preds = read_predictions(suspect, art.read, context_width=art.key.require_spec().context_width, batch_size=32)
    main = score_predictions(preds, [art.key.for_account(SOURCE)])[0]
    t1 = time.time()
    nulls = scores_later(preds, null, pool, "null", workers)
    attributes = m == size.n_harvest  # attribution: the rule's mixtures and their clean twins
    acc_later = scores_later(preds, accts, pool, "accounts", workers) if attributes else None
    row = {"fraction": f, "marked_answers": m, "scheme": scheme,
           "teacher": SCHEMES[scheme][0] if scheme in SCHEMES else "none (clean twin)",
           "answers": len(seqs), "marked_tokens": int(sum(len(s) - a for s, a in zip(seqs[:m], starts[:m]))),
           "answer_tokens": int(sum(len(s) - a for s, a in zip(seqs, starts))), "final_loss": round(loss, 4),
           "train_seconds": round(t_train, 1), "device": device,
           "reading": {"green": main.green, "scored": main.scored, "green_fraction": main.green_fraction,
                       "z": main.z, "log10_p": main.log10_p}}

    def finish() -> None:
        row["nulls"] = null_calibration(nulls())
        if acc_later is not None:
            acc = acc_later()
            holm = holm_log10(acc)
            best, names = int(np.argmin(acc)), [k.account for k in accts]
            i_src = names.index(SOURCE)
            row["attribution"] = {"best": names[best], "best_log10_p": float(acc[best]),
                                  "best_log10_p_holm": float(holm[best]), "accounts": len(names),
                                  "source_rank": int(1 + (acc < acc[i_src]).sum()),
                                  "source_log10_p": float(acc[i_src]),
                                  "flagged": int((holm <= math.log10(CONTROL_ALPHA)).sum())}
        row["score_wait_seconds"] = round(time.time() - t1, 1)  # from submitting the keys to having them all
        row["detected"] = bool(main.log10_p <= TARGET_LOG10_P and main.log10_p < row["nulls"]["min"])
    return row, finish


def student_row(*args: Any, **kwargs: Any) -> dict[str, Any]:
    """:func:`start_student`, completed at once."""
    row, finish = start_student(*args, **kwargs)
    finish()
    return row


def verdict(rows: list[dict[str, Any]], size: Size) -> dict[str, Any]:
    """The pre-declared rule on the rows read so far (``complete`` says whether all the rule's rows are there).

    Example:
        >>> r = lambda f, s, d, lp: {"fraction": f, "marked_answers": 4, "scheme": s, "detected": d,
        ...     "reading": {"log10_p": lp}, "nulls": {"calibrated": True},
        ...     "attribution": {"best": SOURCE if d else "acct-0001", "best_log10_p_holm": lp, "flagged": int(d)}}
        >>> v = verdict([r(0.05, "kgw", True, -7.0), r(0.05, "adfp", False, -1.0), r(0.05, "clean", False, -0.5)],
        ...             replace(SIZES["tiny"], fractions=(0.05,)))
        >>> v["valid"], v["per_share"]["0.05"], v["target_met"]
        (True, 'KGW beats ADFP', {'kgw': True, 'adfp': False})
    """
    main = [r for r in rows if r["marked_answers"] == size.n_harvest]
    clean = [r for r in main if r["scheme"] == "clean"]
    controls_ok = all(not r["detected"] and r["attribution"]["flagged"] == 0 for r in clean)
    calibrated = all(r["nulls"]["calibrated"] for r in rows)
    valid = controls_ok and calibrated
    per_share, attributed = {}, {}
    for f in size.fractions:
        got = {r["scheme"]: r for r in main if r["fraction"] == f and r["scheme"] in SCHEMES}
        if len(got) < len(SCHEMES):
            continue
        k, a = got["kgw"], got["adfp"]
        if k["detected"] and a["detected"]:
            text = "both detected; " + ("ADFP" if a["reading"]["log10_p"] < k["reading"]["log10_p"] else "KGW") + " stronger"
        elif k["detected"] or a["detected"]:
            text = "ADFP beats KGW" if a["detected"] else "KGW beats ADFP"
        else:
            text = "null (neither detected)"
        per_share[f"{f:g}"] = text
        for s, r in got.items():
            attributed[f"{s}_{f:g}"] = bool(r["attribution"]["best"] == SOURCE
                                            and r["attribution"]["best_log10_p_holm"] <= TARGET_LOG10_P)
    f_min = min(size.fractions)
    target = {s: bool(valid and any(r["scheme"] == s and r["fraction"] == f_min and r["detected"] for r in main))
              for s in SCHEMES}
    complete = len(main) == len(size.fractions) * (len(SCHEMES) + 1)
    return {"valid": valid, "controls_clean": controls_ok, "calibrated": calibrated, "per_share": per_share,
            "attributed": attributed, "target_met": target, "complete": complete}


def previous_rows(path: Path, art: Artefacts, size: Size, device: str) -> list[dict[str, Any]]:
    """The students an earlier run of the same artefacts, size and device kind left in ``path`` (``--resume``)."""
    if not path.exists():
        return []
    prev = json.loads(path.read_text())
    same = (prev.get("artefacts", {}).get("files") == art.manifest["files"]
            and prev.get("size") == json.loads(json.dumps(asdict(size)))
            and prev.get("device", "").split(":")[0] == device.split(":")[0])
    if not same:
        raise SystemExit(f"{path}: made from other artefacts, another size or another device kind; "
                         "choose another --out to start afresh")
    return prev["students"]


def run(art: Artefacts, size: Size, device: str, out: Path, workers: int, command: list[str],
        resume: bool = False) -> dict[str, Any]:
    """Every student of :func:`plan`, the result rewritten after each one; ``resume`` keeps the students an
    earlier run of the same artefacts left in ``out`` and trains only the others (same seeds)."""
    done = previous_rows(out / f"{NAME}_{size.preset}.json", art, size, device) if resume else []
    rec = new_record("benchmarks/antidistillation_carried.py", command,
                     question=__doc__.split("\n\n")[0].replace("\n", " "))
    if device.startswith("cuda"):
        rec["run"]["gpu"] = torch.cuda.get_device_name(0)
    null = ad.null_keys(art.key, size.null_keys)
    accts = account_keys(art.key, account_names(size))
    pool = key_pool(workers, {"null": null, "accounts": accts})
    rows: list[dict[str, Any]] = list(done)
    t0 = time.time()
    res = result(rec, art, size, device, rows, 0.0)
    pending: list[tuple[dict[str, Any], Callable[[], None]]] = []
    have = {(r["fraction"], r["marked_answers"], r["scheme"]) for r in done}
    todo = [p for p in plan(size) if p not in have]
    for k, (f, m, scheme) in enumerate(todo):
        pending.append(start_student(art, size, f, m, scheme, device, null, accts, pool, workers))
        while pending and (len(pending) > 1 or k == len(todo) - 1):  # keys of student i scored while i+1 trains
            row, finish = pending.pop(0)
            finish()
            rows.append(row)
            r = row["reading"]
            print(f"f={row['fraction']:g} m={row['marked_answers']} {row['scheme']}: {r['green']}/{r['scored']} log10 p "
                  f"{r['log10_p']:.2f} (nulls min {row['nulls']['min']:.2f}) train {row['train_seconds']:.0f}s "
                  f"[{time.time() - t0:.0f}s]", flush=True)
            res = result(rec, art, size, device, rows, time.time() - t0)
            write_result(f"{NAME}_{size.preset}", res, markdown(res), out_dir=out)
    if pool is not None:
        pool.shutdown()
    return res


def result(rec: dict[str, Any], art: Artefacts, size: Size, device: str, rows: list[dict[str, Any]],
           seconds: float) -> dict[str, Any]:
    """The result document of the rows read so far: verdict and curve included."""
    order = {p: i for i, p in enumerate(plan(size))}
    rows = sorted(rows, key=lambda x: order[(x["fraction"], x["marked_answers"], x["scheme"])])
    res = {**rec, "size": asdict(size), "device": device, "artefacts": {k: art.manifest[k] for k in
           ("files", "source_account", "key", "teacher", "harvest_stats", "diluent")},
           "students": rows, "verdict": verdict(rows, size), "seconds": round(seconds, 1)}
    f_min = min(size.fractions)
    res["extrapolation"] = {s: {**extrapolate(sorted((x["marked_tokens"], x["reading"]["log10_p"]) for x in rows
                                                      if x["scheme"] == s and x["fraction"] == f_min)),
                                "below_null_min": sum(x["reading"]["log10_p"] < x["nulls"]["min"] for x in rows
                                                      if x["scheme"] == s and x["fraction"] == f_min)}
                            for s in SCHEMES if any(x["scheme"] == s and x["fraction"] == f_min for x in rows)}
    return res


def markdown(res: dict[str, Any]) -> str:
    size, run_, v = res["size"], res["run"], res["verdict"]
    lines = [f"# Antidistillation from carried token ids: from-scratch students of 100 / 25 / 5 % marked data "
             f"({size['preset']} size)", "",
             f"Command: `{run_['command']}`; {run_['utc']}; device: {run_.get('gpu', res['device'])}; "
             f"{res['seconds']:.0f} s. Rule: `benchmarks/antidistillation_carried.py` docstring.", "",
             f"Harvests: {size['n_harvest']} teacher answers of {size['new_tokens']} tokens per scheme under "
             f"{res['artefacts']['source_account']}'s sub-key; students {size['layers']}x{size['hidden']}, "
             f"{size['epochs']} epochs; reading {size['n_read']} held-out ShareGPT answers; {size['null_keys']} null "
             f"keys; attribution among {size['accounts']} accounts.", "",
             f"**Verdict** ({'complete' if v['complete'] else 'INCOMPLETE: the run stopped before every student'}; "
             f"{'valid' if v['valid'] else 'NOT valid'}): "
             + "; ".join(f"{k}: {t}" for k, t in v["per_share"].items())
             + ". 5 % target met: " + ", ".join(f"{s.upper()} {'yes' if ok else 'no'}" for s, ok in v["target_met"].items())
             + ". Attributed: " + (", ".join(k for k, ok in v["attributed"].items() if ok) or "none") + ".", ""]
    rows = []
    for s in res["students"]:
        r, n, a = s["reading"], s["nulls"], s.get("attribution")
        rows.append([f"{s['fraction']:g}", s["scheme"], s["marked_answers"], f"{s['marked_tokens']}/{s['answer_tokens']}",
                     f"{r['green']}/{r['scored']}", f"{r['z']:.2f}", f"{r['log10_p']:.2f}",
                     f"{n['median']:.2f} / {n['min']:.2f}", f"{n['rejected_0.01']} / {n['rejected_0.001']}",
                     "yes" if s["detected"] else "no",
                     f"{a['best']} ({a['best_log10_p_holm']:.2f}); source rank {a['source_rank']}" if a else "",
                     f"{s['final_loss']:.3f}", f"{s['train_seconds']:.0f}"])
    lines += md_table(["fraction", "student", "marked answers", "marked / all answer tokens", "top-1 green/coins", "z",
                       "log10 p", "null keys median / min", "nulls at 0.01 / 0.001", "detected",
                       "best account (Holm log10 p)", "final loss", "train s"], rows, align="llrrrrrrrlllr")
    if res.get("extrapolation"):
        lines += ["", "Curve at the smallest share (an extrapolation where used, not a measurement):", ""]
        for s, e in res["extrapolation"].items():
            need = e["tokens_for_target"]
            lines.append(f"- {s}: " + ", ".join(f"{x}: {y:.2f}" for x, y in e["points"])
                         + f"; {e['below_null_min']} point(s) below the null keys' minimum; "
                         + (f"~{need:,} marked tokens for 1e-6 (extrapolated)" if need else "no downward trend"))
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """Exit code 0, or 2 with one line on stderr for any refusal (bad artefacts, an exported folder, ...)."""
    return exit_on_refusal(_main, argv)


def _main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring for the rule and examples.")
    ap.add_argument("step", choices=("export", "run"))
    ap.add_argument("--preset", choices=sorted(SIZES), default="gpu")
    ap.add_argument("--out", type=Path, required=True, help="export: the artefact folder (its answers are cached "
                    "per chunk in OUT_cache beside it); run: the result folder")
    ap.add_argument("--artefacts", type=Path, help="run: the exported folder")
    ap.add_argument("--device", default=None, help="run: cuda or cpu (default: cuda when there is one)")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--workers", type=int, default=None, help="run: processes scoring the keys (default: CPUs - 1)")
    ap.add_argument("--resume", action="store_true", help="run: keep the students an earlier run of the same "
                    "artefacts left in --out and train only the others")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = SIZES[args.preset]
    if args.step == "export":
        if (args.out / "manifest.json").exists():
            raise SystemExit(f"{args.out}: already exported (manifest.json); choose another --out")
        cfg = replace(ad.PRESETS["gpu" if size.preset == "gpu" else "tiny"], device="cpu", new_tokens=size.new_tokens,
                      batch_size=size.chunk)
        bench = ad.setup(cfg, work=args.out.with_name(args.out.name + "_cache"))  # the teacher's answers, per chunk
        export(bench, size, args.out)
        return 0
    if args.artefacts is None:
        ap.error("run needs --artefacts")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    art = load_artefacts(args.artefacts)
    if art.manifest["size"]["preset"] != size.preset:
        raise SystemExit(f"the artefacts are of size {art.manifest['size']['preset']!r}, not {size.preset!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    workers = args.workers or max(1, (os.cpu_count() or 2) - 1)
    res = run(art, size, device, args.out, workers, list(sys.argv[1:] if argv is None else argv), args.resume)
    print("verdict:", json.dumps(res["verdict"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
