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
The training code is :mod:`distillguard.distill.finetune`, the zoo's definitions :mod:`distillguard.distill.zoo`.
Run: ``python benchmarks/fingerprint_zoo.py --chat 8 --gemma 3`` (``--chat 8`` adds eight chat-recipe ShareGPT
students, ``--gemma K`` the Gemma fine-tunes, K of them on ChatGPT answers: about 11 min each on 2 CPU cores).
"""

from __future__ import annotations

import argparse

from distillguard.data import sharegpt_pairs
from distillguard.demo import PROFILES
from distillguard.distill.finetune import ZOO_STUDENTS, train_chat_students, train_gemma_students, train_zoo
from distillguard.distill.zoo import held_out


def chat_students(n: int, *, prefix: str = "chat-sharegpt", first_slice: int = 0) -> None:
    """Chat-recipe ShareGPT students ``<prefix>-s0 .. s<n-1>`` (the demo's quick shape), resumable; student i
    trains on slice ``first_slice + i`` of 192 pairs (so the null and the selection models never share)."""
    prof = PROFILES["quick"]
    ho = held_out()
    pairs = [pq for pq in sharegpt_pairs(None, seed=5, max_chars=2000) if pq[0] not in ho]
    train_chat_students([f"{prefix}-s{i}" for i in range(n)], pairs, layers=prof.student_layers,
                        hidden=prof.student_hidden, epochs=prof.epochs, answer_tokens=prof.harvest_tokens,
                        first_seed=100, first_slice=first_slice)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--names", nargs="*", default=list(ZOO_STUDENTS))
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
        chat_students(a.chat)
    if a.select:
        chat_students(a.select, prefix="select-sharegpt", first_slice=8)  # after the 8 null students' slices
    if a.gemma:
        train_gemma_students(chatgpt=a.gemma)
