"""Train the from-scratch part of the fingerprint zoo (resumable): students of the teacher's tokenizer.

* ``distil-s<seed>``: logit-distilled from the clean teacher's top-k log-probs on ShareGPT answer text
  (positives: distilled from our teacher, harvest without watermark).
* ``sharegpt-s<seed>``: next-token cross-entropy on the same kind of text (ChatGPT's answers): distilled,
  but from another teacher (negatives).
Texts are subsets of the top-k harvest chosen by seed. These two are the older, weak recipe (d=128, 2 epochs
= 50 steps of the full 49k softmax: loss ~7 nats, next to unigram statistics). The demo's recipe (2 layers,
d=256, 6 epochs, exact restricted softmax; about a minute each) on the same kind of data:
* ``logit-s<seed>``: teacher top-20 log-probs on ShareGPT answer text (positives, no watermark);
* ``text-s<seed>``: the same texts' tokens (negatives).
* ``chat-sharegpt-s<i>``: the demo's recipe (quick profile: 2 layers, d=256, 6 epochs) on 192 ShareGPT
  (prompt, ChatGPT answer) pairs each, chat-formatted -- the null population of the answered probes. The
  answered probe prompts (``answered_candidates(ANSWERED, seed=11)``) are kept out of their data.
* ``select-sharegpt-s<i>``: the same recipe on the next slices of ShareGPT pairs: used only to choose
  probes (``benchmarks/fingerprint_selection.py``), never to calibrate or to evaluate.
* ``gemmaft-teacher-s0`` / ``gemmaft-teacherwm-s0``: Gemma-3-270M (another lab's base, another tokenizer)
  fine-tuned on the teacher's sampled answers, clean / watermarked harvest (positives), and
  ``gemmaft-sharegpt-s<i>``: the same recipe on disjoint sets of ChatGPT's answers (negatives).
  Gemma-IT's chat template is added, the loss is on the answers, embeddings frozen, bf16 autocast.
Run: ``python benchmarks/fingerprint_zoo.py --chat 8 --gemma 3`` (``--chat 8`` adds eight chat-recipe ShareGPT
students, ``--gemma K`` the Gemma fine-tunes, K of them on ChatGPT answers: about 11 min each on 2 CPU cores).
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
TEXT_HARVESTS = {"teacher": Path("runs/radio-text/harvest_clean.jsonl"),  # the teacher's sampled answers
                 "teacherwm": Path("runs/radio-text/harvest_wm.jsonl")}  # (radioactivity benchmark, 256 each)
# Gemma-IT's turn format: a lab fine-tuning the Gemma base for chat would add it; suspects are queried with it
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n{{ message['content'] | trim }}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")
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
        if kind in ("distil", "logit"):
            tid, tlp, _ = watermark_topk(sub, None, k=20)
        else:
            tid, tlp = text_targets(sub.ids, sub.lengths)
        demo_recipe = kind in ("logit", "text")  # 2L d=256, 6 epochs, lr 3e-3, exact restricted softmax
        shape = dict(layers=2, hidden=256) if demo_recipe else dict(layers=layers, hidden=hidden)
        fit = dict(epochs=6, lr=3e-3, restrict_vocab=True) if demo_recipe else dict(epochs=epochs)
        model = make_student(len(tok), seed=seed, **shape)
        t0 = time.time()
        loss = train_student(model, sub.ids, sub.lengths, tid, tlp, seed=seed, desc=name, **fit)
        save_student(model, tok, out)
        info = {"name": name, "kind": kind, "seed": seed, "texts": int(n_texts), "positions": int(sub.lengths.sum()),
                **shape, **fit, "final_loss": loss, "train_seconds": round(time.time() - t0, 1),
                "targets": "teacher top-20 log-probs" if kind in ("distil", "logit") else "ShareGPT text tokens"}
        (out / "train.json").write_text(json.dumps(info, indent=2))
        print(json.dumps(info), flush=True)


def train_chat_nulls(n: int, *, texts: int = 192, prefix: str = "chat-sharegpt", first_slice: int = 0) -> None:
    """Chat-recipe ShareGPT students ``<prefix>-s0 .. s<n-1>`` (the demo's quick shape), resumable; student i
    trains on slice ``first_slice + i`` of ``texts`` pairs (so the null and the selection models never share)."""
    from distillguard.data import sharegpt_pairs
    from distillguard.demo import PROFILES
    from distillguard.distill.student import chat_sequences, train_text_student
    from distillguard.fingerprint.candidates import answered_candidates

    prof = PROFILES["quick"]
    tok = load_tokenizer(None)
    held_out = {c["prompt"] for c in answered_candidates(ANSWERED, seed=11)}
    pairs = [pq for pq in sharegpt_pairs(None, seed=5, max_chars=2000) if pq[0] not in held_out]
    for i in range(n):
        out = cache_dir() / "fingerprint" / "zoo" / f"{prefix}-s{i}"
        if (out / "config.json").exists():
            print("have", out.name, flush=True)
            continue
        k = first_slice + i
        seqs = chat_sequences(tok, pairs[k * texts : (k + 1) * texts], 128, prof.harvest_tokens)
        info = train_text_student(out, tok, seqs, layers=prof.student_layers, hidden=prof.student_hidden,
                                  epochs=prof.epochs, lr=3e-3, seed=100 + i, desc=out.name)
        print(out.name, json.dumps(info), flush=True)


def train_gemma_students(*, chatgpt: int = 1, epochs: int = 2, lr: float = 5e-5) -> None:
    """Gemma-3-270M fine-tuned on the teacher's answers (clean, watermarked) and on ChatGPT's (``chatgpt``
    models on disjoint answer sets: the Gemma family's own null), resumable."""
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
        gemma_finetune(cache_dir() / "fingerprint" / "zoo" / name, pairs, epochs=epochs, lr=lr)


def gemma_finetune(out: Path, pairs: list[tuple[str, str]], *, epochs: int = 2, lr: float = 5e-5,
                   start: Path | None = None) -> None:
    """Fine-tune a fresh Gemma-3-270M on ``(prompt, answer)`` pairs into ``out`` (skipped when it is there).

    The zoo's recipe: Gemma-IT's turn format, prompt and answer cut at 128 tokens, the loss on the answers only,
    embeddings frozen, bf16 autocast, seed 0. ``start``: continue an earlier fine-tune (a saved directory)
    instead of the untouched base.
    """
    from distillguard.distill.student import chat_examples, train_text_student
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


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--names", nargs="*", default=["sharegpt-s0", "distil-s0", "sharegpt-s1", "distil-s1",
                                                     "sharegpt-s2", "sharegpt-s3", "distil-s2",
                                                     "logit-s10", "text-s10", "logit-s11", "text-s11",
                                                     "logit-s12", "text-s12"])
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--chat", type=int, default=0, help="also train this many chat-recipe ShareGPT students")
    ap.add_argument("--select", type=int, default=0,
                    help="also train this many selection students (select-sharegpt-s<i>: the chat recipe on ShareGPT "
                         "pairs after the null's; used only to choose probes, never to calibrate or evaluate)")
    ap.add_argument("--gemma", type=int, nargs="?", const=1, default=0, metavar="K",
                    help="also fine-tune Gemma-3-270M on teacher answers and on K ChatGPT answer sets (default K 1)")
    a = ap.parse_args()
    train_zoo(a.names, n_texts=a.texts, epochs=a.epochs)
    if a.chat:
        train_chat_nulls(a.chat)
    if a.select:
        train_chat_nulls(a.select, prefix="select-sharegpt", first_slice=8)  # after the 8 null students' slices
    if a.gemma:
        train_gemma_students(chatgpt=a.gemma)
