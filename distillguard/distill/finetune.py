"""Training the fingerprint zoo (resumable): from-scratch students of the teacher's tokenizer, chat-recipe
students on (prompt, answer) pairs, and Gemma-3-270M fine-tunes.

* :func:`train_zoo` -- ``distil-s<seed>`` / ``logit-s<seed>`` (logit-distilled from the clean teacher's top-k
  log-probs on ShareGPT answer text: positives) and ``sharegpt-s<seed>`` / ``text-s<seed>`` (the same texts'
  tokens: negatives); ``distil`` / ``sharegpt`` are the older weak recipe (d = 128, 2 epochs), ``logit`` /
  ``text`` the demo's (2 layers, d = 256, 6 epochs, exact restricted softmax).
* :func:`train_chat_students` -- a chat recipe on consecutive slices of (prompt, answer) pairs.
* :func:`gemma_finetune` -- Gemma-3-270M on (prompt, answer) pairs: Gemma-IT's turn format, the loss on the
  answers only, embeddings frozen, bf16 autocast.

Every trained model is a directory under :func:`distillguard.distill.zoo.zoo_dir` (``train.json`` or
``config.json`` marks it done; a rerun skips it).

Example:
    >>> from distillguard.distill.finetune import gemma_finetune
    >>> from distillguard.distill.zoo import zoo_dir
    >>> gemma_finetune(zoo_dir() / "gemmaft-x-s0", [("Hi", "Hello!")])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.distill.harvest import harvest_topk, load_topk, real_texts, watermark_topk
from distillguard.distill.student import (
    chat_examples,
    chat_sequences,
    make_student,
    save_student,
    text_targets,
    train_student,
    train_text_student,
)
from distillguard.distill.zoo import ANSWERED, GEMMA_CHAT_TEMPLATE, TEXT_HARVESTS, fingerprint_cache, zoo_dir
from distillguard.models import load_tokenizer

__all__ = ["RADIO_HARVEST", "ZOO_STUDENTS", "harvest_dir", "train_zoo", "train_chat_students", "gemma_finetune",
           "train_gemma_students"]

RADIO_HARVEST = Path("runs/radioactivity/topk_train_1000")  # the logit benchmark's top-k harvest, if present
#: the from-scratch students ``benchmarks/fingerprint_zoo.py`` trains by default
ZOO_STUDENTS = ("sharegpt-s0", "distil-s0", "sharegpt-s1", "distil-s1", "sharegpt-s2", "sharegpt-s3", "distil-s2",
                "logit-s10", "text-s10", "logit-s11", "text-s11", "logit-s12", "text-s12")


def harvest_dir(n_texts: int) -> Path:
    """The teacher's top-k harvest: the radioactivity run's if present (read only), else our own of ``n_texts``
    texts under ``fingerprint_cache()/topk_harvest``.

    Example:
        >>> harvest_dir(800).name  # doctest: +SKIP
        'topk_harvest'
    """
    if (RADIO_HARVEST / "meta.json").exists() and len(list(RADIO_HARVEST.glob("shard_*.npz"))) >= 4:
        return RADIO_HARVEST
    out = fingerprint_cache() / "topk_harvest"
    from distillguard.models import load_model

    harvest_topk(load_model(None), real_texts("train", n_texts), out, k=64, max_len=256, shard_size=50)
    return out


def train_zoo(names: list[str], *, n_texts: int = 200, epochs: int = 2, layers: int = 2, hidden: int = 128) -> None:
    """Train every named from-scratch student (``<kind>-s<seed>``) not yet on disk under :func:`zoo_dir`.

    Texts are a subset of the top-k harvest chosen by seed. ``logit`` / ``text``: the demo's recipe (2 layers,
    d = 256, 6 epochs, lr 3e-3, exact restricted softmax); ``distil`` / ``sharegpt``: ``layers``, ``hidden``,
    ``epochs`` (the older recipe).

    Example:
        >>> train_zoo(["logit-s10", "text-s10"])  # doctest: +SKIP
    """
    tok = load_tokenizer(None)
    h = load_topk(harvest_dir(4 * n_texts))
    for name in names:
        out = zoo_dir() / name
        if (out / "config.json").exists():
            print("have", name, flush=True)
            continue
        kind, seed_text = name.split("-s")
        seed = int(seed_text)
        n_all = len(h.lengths)
        texts = np.random.default_rng(1000 + seed).permutation(n_all)[:n_texts]
        sub = h.subset(texts)
        if kind in ("distil", "logit"):
            tid, tlp, _ = watermark_topk(sub, None, k=20)
        else:
            tid, tlp = text_targets(sub.ids, sub.lengths)
        demo_recipe = kind in ("logit", "text")  # 2L d=256, 6 epochs, lr 3e-3, exact restricted softmax
        shape: dict[str, Any] = dict(layers=2, hidden=256) if demo_recipe else dict(layers=layers, hidden=hidden)
        fit: dict[str, Any] = dict(epochs=6, lr=3e-3, restrict_vocab=True) if demo_recipe else dict(epochs=epochs)
        model = make_student(len(tok), seed=seed, **shape)
        t0 = time.time()
        loss = train_student(model, sub.ids, sub.lengths, tid, tlp, seed=seed, desc=name, **fit)
        save_student(model, tok, out)
        info = {"name": name, "kind": kind, "seed": seed, "texts": int(n_texts), "positions": int(sub.lengths.sum()),
                **shape, **fit, "final_loss": loss, "train_seconds": round(time.time() - t0, 1),
                "targets": "teacher top-20 log-probs" if kind in ("distil", "logit") else "ShareGPT text tokens"}
        (out / "train.json").write_text(json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)


def train_chat_students(names: list[str], pairs: list[tuple[str, str]], *, layers: int, hidden: int, epochs: int,
                        answer_tokens: int, first_seed: int, texts: int = 192, first_slice: int = 0) -> None:
    """Chat-recipe students (resumable): student ``i`` of ``names`` trains on slice ``first_slice + i`` of
    ``texts`` pairs, prompts cut at 128 tokens and answers at ``answer_tokens``, lr 3e-3, seed
    ``first_seed + i``. ``benchmarks/fingerprint_zoo.py`` passes the demo's quick profile (2 layers, d = 256,
    6 epochs).

    Example:
        >>> train_chat_students(["chat-sharegpt-s0"], pairs, layers=2, hidden=256, epochs=6, answer_tokens=64,
        ...                     first_seed=100)  # doctest: +SKIP
    """
    tok = load_tokenizer(None)
    for i, name in enumerate(names):
        out = zoo_dir() / name
        if (out / "config.json").exists():
            print("have", out.name, flush=True)
            continue
        k = first_slice + i
        seqs = chat_sequences(tok, pairs[k * texts : (k + 1) * texts], 128, answer_tokens)
        info = train_text_student(out, tok, seqs, layers=layers, hidden=hidden, epochs=epochs, lr=3e-3,
                                  seed=first_seed + i, desc=out.name)
        print(out.name, json.dumps(info), flush=True)


def gemma_finetune(out: Path, pairs: list[tuple[str, str]], *, epochs: int = 2, lr: float = 5e-5,
                   start: Path | None = None) -> None:
    """Fine-tune a fresh Gemma-3-270M on ``(prompt, answer)`` pairs into ``out`` (skipped when it is there).

    The zoo's recipe: Gemma-IT's turn format, prompt and answer cut at 128 tokens, the loss on the answers only,
    embeddings frozen, bf16 autocast, seed 0. ``start``: continue an earlier fine-tune (a saved directory)
    instead of the untouched base.

    Example:
        >>> gemma_finetune(zoo_dir() / "gemmaft-x-s0", [("Hi", "Hello!")], epochs=1)  # doctest: +SKIP
    """
    from distillguard.models import load_model

    if (out / "train.json").exists():
        print("have", out.name, flush=True)
        return
    loaded = load_model(str(start) if start else "gemma3-270m")  # a fresh copy each time
    tok = loaded.tokenizer
    tok.chat_template = GEMMA_CHAT_TEMPLATE
    seqs, starts = chat_examples(tok, pairs, 128, 128)
    info = train_text_student(out, tok, seqs, epochs=epochs, lr=lr, seed=0, init=loaded.model, desc=out.name,
                              answer_starts=starts, freeze_embeddings=True, bf16=True)
    print(out.name, json.dumps(info), flush=True)


def train_gemma_students(*, chatgpt: int = 1, epochs: int = 2, lr: float = 5e-5) -> None:
    """Gemma-3-270M fine-tuned on the teacher's answers (clean, watermarked: the radioactivity benchmark's
    harvests, skipped when missing) and on ChatGPT's (``chatgpt`` models on disjoint answer sets: the Gemma
    family's own null), resumable.

    Example:
        >>> train_gemma_students(chatgpt=3)  # doctest: +SKIP
    """
    from distillguard.data import sharegpt_pairs
    from distillguard.fingerprint.candidates import answered_candidates

    held_out = {c["prompt"] for c in answered_candidates(ANSWERED, seed=11)}
    sources = {}
    for name, path in TEXT_HARVESTS.items():
        if not path.exists():
            print(f"skip gemmaft-{name}: {path} missing (run benchmarks/radioactivity.py first)", flush=True)
            continue
        recs = [json.loads(line) for line in path.read_text().splitlines()]
        sources[name] = [(r["prompt"], r["response"]) for r in recs if r["prompt"] not in held_out]
    n = max((len(v) for v in sources.values()), default=256)
    chat = [pq for pq in sharegpt_pairs(None, seed=6, max_chars=2000) if pq[0] not in held_out]
    runs = [(f"gemmaft-{name}-s0", pairs) for name, pairs in sources.items()]
    runs += [(f"gemmaft-sharegpt-s{i}", chat[i * n : (i + 1) * n]) for i in range(chatgpt)]
    for name, pairs in runs:
        gemma_finetune(zoo_dir() / name, pairs, epochs=epochs, lr=lr)
