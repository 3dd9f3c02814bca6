"""Is this text watermarked? Exact, deduplicated green-token counts for one text or a whole batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from distillguard.detect.stats import binom_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, check_tokenizer
from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

__all__ = ["TextScore", "DEFAULT_ALPHA", "MAX_TEXT_CHARS", "check_text_size", "score_tokens", "score_batch",
           "score_text", "green_coins", "check_tokenizer"]

#: Default significance threshold for calling a single text watermarked.
DEFAULT_ALPHA = 1e-5
#: Longest single text scored (characters). Tokenising and scoring cost ~100x the text's size in memory;
#: a longer text is refused (split it: its halves are tested the same way). Batches are scored in chunks.
MAX_TEXT_CHARS = 2_000_000
#: Most tokens scored in one vectorised pass (``score_batch`` splits larger batches by sequence).
_MAX_BATCH_TOKENS = 1_000_000


def check_text_size(text: str, where: str = "text") -> str:
    """Return ``text``, or raise when it is longer than :data:`MAX_TEXT_CHARS` characters.

    Example:
        >>> from distillguard.detect.text import check_text_size
        >>> check_text_size("hello")
        'hello'
    """
    if len(text) > MAX_TEXT_CHARS:
        raise DistillguardError(f"{where}: {len(text)} characters is above the limit of {MAX_TEXT_CHARS} per text; "
                                "split it into smaller texts")
    return text


@dataclass(frozen=True)
class TextScore:
    """Result of testing one token sequence against one key.

    ``scored`` counts distinct green coins (the dedup of (context window, token) tuples), ``green`` how
    many of them were green; ``p_value`` is the exact binomial tail under the null "this text does not
    depend on the key" and ``log10_p`` keeps it readable below 1e-300.
    """

    tokens: int
    scored: int
    green: int
    gamma: float
    green_fraction: float
    z: float
    p_value: float
    log10_p: float
    alpha: float
    detected: bool
    key_fingerprint: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _validate_ids(ids: np.ndarray, spec: WatermarkSpec, where: str = "") -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= spec.vocab_size):
        bad = int(ids.max()) if ids.max() >= spec.vocab_size else int(ids.min())
        raise DistillguardError(
            f"{where}token id {bad} is outside the watermark vocabulary [0, {spec.vocab_size}): "
            "wrong tokenizer or vocab-size mismatch"
        )


def green_coins(
    ids: np.ndarray, segments: np.ndarray, key: WatermarkKey, spec: WatermarkSpec | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scored positions of a concatenation of texts: ``(segment, coin_id, is_green)`` per scored position.

    ``segments`` gives each token's text index (non-decreasing). A position is scored when it has
    ``context_width`` previous tokens inside its own text. ``coin_id`` identifies the random event
    (arc, token): equal ids are the same coin and must be counted once.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.text import green_coins
        >>> key = WatermarkKey(b"\\x02" * 32, WatermarkSpec(vocab_size=50))
        >>> seg, coin, green = green_coins(np.array([1, 2, 3, 4]), np.zeros(4, int), key)
        >>> len(coin)  # 4 tokens, h = 1 -> 3 scored positions
        3
    """
    spec = spec or key.require_spec()
    material = key_material(key, spec)
    ids = np.asarray(ids, dtype=np.int64)
    segments = np.asarray(segments, dtype=np.int64)
    h, V = spec.context_width, spec.vocab_size
    n = len(ids)
    pos = np.arange(n)
    # index of the first token of each position's segment
    seg_start = np.zeros(n, dtype=np.int64)
    if n:
        change = np.flatnonzero(np.diff(segments)) + 1
        starts = np.concatenate([[0], change])
        seg_start = starts[np.searchsorted(starts, pos, side="right") - 1]
    scored = pos[pos - seg_start >= h]
    windows = np.stack([ids[scored - 1 - i] for i in range(h)], axis=1) if h else np.zeros((len(scored), 0), np.int64)
    tokens = ids[scored]
    seeds = context_seeds_np(material, windows, tokens)
    p, o = seed_to_arc_np(seeds, spec)
    green = is_green_np(p, o, tokens, material.positions, spec)
    coin = (p * V + o) * V + tokens
    return segments[scored], coin, green


def _dedup_counts(seg: np.ndarray, coin: np.ndarray, green: np.ndarray, n_segments: int):
    if len(coin) == 0:
        return np.zeros(n_segments, np.int64), np.zeros(n_segments, np.int64)
    span = int(coin.max()) + 1
    if n_segments * span < 2**62:
        _, first = np.unique(seg * span + coin, return_index=True)
    else:  # very large vocabularies or batches: unique over (segment, coin) rows
        _, first = np.unique(np.stack([seg, coin], axis=1), axis=0, return_index=True)
    scored = np.bincount(seg[first], minlength=n_segments)
    greens = np.bincount(seg[first], weights=green[first], minlength=n_segments).astype(np.int64)
    return scored, greens


def _result(tokens: int, scored: int, green: int, spec: WatermarkSpec, key: WatermarkKey, alpha: float) -> TextScore:
    gamma = spec.effective_gamma
    p, log10_p, z = binom_test(green, scored, gamma)
    note = ""
    if scored == 0:
        note = f"too short to score: needs more than {spec.context_width} tokens"
    elif scored < 25:
        note = f"only {scored} scored tokens: weak evidence either way"
    return TextScore(
        tokens=tokens,
        scored=scored,
        green=green,
        gamma=gamma,
        green_fraction=green / scored if scored else math.nan,
        z=z,
        p_value=p,
        log10_p=log10_p,
        alpha=alpha,
        detected=bool(scored > 0 and p <= alpha),
        key_fingerprint=key.fingerprint,
        note=note,
    )


def score_batch(
    sequences: Sequence[Sequence[int] | np.ndarray],
    key: WatermarkKey,
    *,
    spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> list[TextScore]:
    """Score many token sequences at once (vectorised over the concatenation; ~millions of tokens/s).

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect import score_batch
        >>> key = WatermarkKey(b"\\x03" * 32, WatermarkSpec(vocab_size=100))
        >>> [r.scored for r in score_batch([[1, 2, 3], [4]], key)]
        [2, 0]
    """
    spec = spec or key.require_spec()
    arrays = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    if len(arrays) > 1 and sum(len(a) for a in arrays) > _MAX_BATCH_TOKENS:  # bounded memory: score in chunks
        out: list[TextScore] = []
        start, size = 0, 0
        for i, a in enumerate(arrays):
            if i > start and size + len(a) > _MAX_BATCH_TOKENS:
                out += _score_arrays(arrays[start:i], key, spec, alpha)
                start, size = i, 0
            size += len(a)
        return out + _score_arrays(arrays[start:], key, spec, alpha)
    return _score_arrays(arrays, key, spec, alpha)


def _score_arrays(arrays: list[np.ndarray], key: WatermarkKey, spec: WatermarkSpec, alpha: float) -> list[TextScore]:
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    ids = np.concatenate(arrays) if arrays else np.zeros(0, np.int64)
    _validate_ids(ids, spec)
    segments = np.repeat(np.arange(len(arrays)), lengths)
    seg, coin, green = green_coins(ids, segments, key, spec)
    scored, greens = _dedup_counts(seg, coin, green, len(arrays))
    return [_result(int(L), int(s), int(g), spec, key, alpha) for L, s, g in zip(lengths, scored, greens)]


def score_tokens(
    ids: Sequence[int] | np.ndarray,
    key: WatermarkKey,
    *,
    spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> TextScore:
    """Test one token sequence: green count, deduplicated scored count, exact p-value, log10 p, z.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect import score_tokens
        >>> key = WatermarkKey(b"\\x04" * 32, WatermarkSpec(vocab_size=100))
        >>> r = score_tokens([7, 7, 7, 7, 7, 7], key)
        >>> r.tokens, r.scored  # the repeated (7 -> 7) tuple is one coin
        (6, 1)
    """
    return score_batch([ids], key, spec=spec, alpha=alpha)[0]


def score_text(
    text: str,
    tokenizer: Any,
    key: WatermarkKey,
    *,
    spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> TextScore:
    """Tokenise ``text`` (no special tokens) and test it; refuses a tokenizer that differs from the spec's.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect import score_text
        >>> class Tok:  # any object with encode() and get_vocab()
        ...     def get_vocab(self): return {chr(97 + i): i for i in range(26)}
        ...     def encode(self, text, add_special_tokens=False): return [ord(c) - 97 for c in text]
        >>> key = WatermarkKey(b"\\x05" * 32, WatermarkSpec(vocab_size=26))
        >>> score_text("abcabd", Tok(), key).scored
        4
    """
    spec = spec or key.require_spec()
    if not isinstance(text, str) or not text.strip():
        raise DistillguardError("empty text: nothing to score")
    check_text_size(text)
    check_tokenizer(tokenizer, spec)
    ids = tokenizer.encode(text, add_special_tokens=False)
    return score_tokens(ids, key, spec=spec, alpha=alpha)


