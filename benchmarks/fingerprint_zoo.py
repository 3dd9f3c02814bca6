"""Train the from-scratch part of the fingerprint zoo (resumable): students of the teacher's tokenizer.

* ``distil-s<seed>``: logit-distilled from the clean teacher's top-k log-probs on ShareGPT answer text
  (positives: distilled from our teacher, harvest without watermark).
* ``sharegpt-s<seed>``: next-token cross-entropy on the same kind of text (ChatGPT's answers): distilled,
  but from another teacher (negatives).
Texts are disjoint subsets of the top-k harvest chosen by seed.
* ``chat-sharegpt-s<i>``: the demo's recipe (quick profile: 2 layers, d=256, 6 epochs) on 192 ShareGPT
  (prompt, ChatGPT answer) pairs each, chat-formatted -- the null population of the answered probes. The
  answered probe prompts (``answered_candidates(ANSWERED, seed=11)``) are kept out of their data.
Run: ``python benchmarks/fingerprint_zoo.py`` (``--chat 8`` adds eight chat-recipe ShareGPT students).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distillguard.distill.harvest import harvest_topk, load_topk, real_texts, watermark_topk
from distillguard.distill.student import make_student, save_student, text_targets, train_student
from distillguard.models import cache_dir, load_tokenizer

RADIO_HARVEST = Path("runs/radioactivity/topk_train_1000")
ANSWERED = 128  # answered probe candidates the benchmark draws from (held out of every chat student's data)


def harvest_dir(n_texts: int) -> Path:
    """The teacher's top-k harvest: the radioactivity run's if present (read only), else our own."""
    if (RADIO_HARVEST / "meta.json").exists() and len(list(RADIO_HARVEST.glob("shard_*.npz"))) >= 4:
        return RADIO_HARVEST
    out = cache_dir() / "fingerprint" / "topk_harvest"
    from distillguard.models import load_model

    harvest_topk(load_model(None), real_texts("train", n_texts), out, k=64, max_len=256, shard_size=50)
    return out


def train_zoo(names: list[str], *, n_texts: int = 200, epochs: int = 2, layers: int = 2, hidden: int = 128) -> None:
    """Train every named student not yet on disk under ``cache_dir()/fingerprint/zoo``."""
    tok = load_tokenizer(None)
    h = load_topk(harvest_dir(4 * n_texts))
    zoo = cache_dir() / "fingerprint" / "zoo"
    for name in names:
        out = zoo / name
        if (out / "config.json").exists():
            print("have", name, flush=True)
            continue
        kind, seed = name.split("-s")
        seed = int(seed)
        n_all = len(h.lengths)
        texts = np.random.default_rng(1000 + seed).permutation(n_all)[:n_texts]
        sub = h.subset(texts)
        if kind == "distil":
            tid, tlp, _ = watermark_topk(sub, None, k=20)
        else:
            tid, tlp = text_targets(sub.ids, sub.lengths)
        model = make_student(len(tok), layers=layers, hidden=hidden, seed=seed)
        t0 = time.time()
        loss = train_student(model, sub.ids, sub.lengths, tid, tlp, epochs=epochs, seed=seed, desc=name)
        save_student(model, tok, out)
        info = {"name": name, "kind": kind, "seed": seed, "texts": int(n_texts), "positions": int(sub.lengths.sum()),
                "epochs": epochs, "layers": layers, "hidden": hidden, "final_loss": loss,
                "train_seconds": round(time.time() - t0, 1),
                "targets": "teacher top-20 log-probs" if kind == "distil" else "ShareGPT text tokens"}
        (out / "train.json").write_text(json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)


def train_chat_nulls(n: int, *, texts: int = 192) -> None:
    """Chat-recipe ShareGPT students ``chat-sharegpt-s0 .. s<n-1>`` (the demo's quick shape), resumable."""
    from distillguard.data import sharegpt_pairs
    from distillguard.demo import PROFILES
    from distillguard.distill.student import chat_sequences, train_text_student
    from distillguard.fingerprint.candidates import answered_candidates

    prof = PROFILES["quick"]
    tok = load_tokenizer(None)
    held_out = {c["prompt"] for c in answered_candidates(ANSWERED, seed=11)}
    pairs = [pq for pq in sharegpt_pairs(None, seed=5, max_chars=2000) if pq[0] not in held_out]
    for i in range(n):
        out = cache_dir() / "fingerprint" / "zoo" / f"chat-sharegpt-s{i}"
        seqs = chat_sequences(tok, pairs[i * texts : (i + 1) * texts], 128, prof.harvest_tokens)
        info = train_text_student(out, tok, seqs, layers=prof.student_layers, hidden=prof.student_hidden,
                                  epochs=prof.epochs, lr=3e-3, seed=100 + i, desc=out.name)
        print(out.name, json.dumps(info), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--names", nargs="*", default=["sharegpt-s0", "distil-s0", "sharegpt-s1", "distil-s1",
                                                     "sharegpt-s2", "sharegpt-s3", "distil-s2"])
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--chat", type=int, default=0, help="also train this many chat-recipe ShareGPT students")
    a = ap.parse_args()
    train_zoo(a.names, n_texts=a.texts, epochs=a.epochs)
    if a.chat:
        train_chat_nulls(a.chat)
