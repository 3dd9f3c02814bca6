"""Text similarity for text-only scoring: cosine of character n-gram count vectors (any tokenizer).

Example:
    >>> from distillguard.fingerprint.similarity import char_ngram_cosine
    >>> round(char_ngram_cosine("I am SmolLM", "I am SmolLM!"), 2) > 0.8
    True
"""

from __future__ import annotations

import math
from collections import Counter

__all__ = ["char_ngrams", "char_ngram_cosine"]


def char_ngrams(text: str, n: tuple[int, ...] = (3, 4, 5)) -> Counter:
    """Counts of the character n-grams of ``text`` (lower-cased, whitespace collapsed).

    Example:
        >>> from distillguard.fingerprint.similarity import char_ngrams
        >>> char_ngrams("abcd", (3,))["abc"]
        1
    """
    t = " ".join(text.lower().split())
    c: Counter = Counter()
    for k in n:
        c.update(t[i : i + k] for i in range(max(0, len(t) - k + 1)))
    return c


def char_ngram_cosine(a: str, b: str) -> float:
    """Cosine similarity of the character 3–5-gram count vectors of two texts (0 when either is empty).

    Example:
        >>> from distillguard.fingerprint.similarity import char_ngram_cosine
        >>> char_ngram_cosine("hello world", "hello world"), char_ngram_cosine("abc", "")
        (1.0, 0.0)
    """
    ca, cb = char_ngrams(a), char_ngrams(b)
    if not ca or not cb:
        return 0.0
    dot = sum(v * cb.get(k, 0) for k, v in ca.items())
    na = math.sqrt(sum(v * v for v in ca.values()))
    nb = math.sqrt(sum(v * v for v in cb.values()))
    return round(dot / (na * nb), 12)
