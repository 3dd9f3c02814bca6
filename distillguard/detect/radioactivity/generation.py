"""Generation mode (black box, any tokenizer, local or HTTP): the suspect answers real prompts; the answers are
re-tokenised with the teacher's tokenizer and their green coins pooled over all answers.

Example:
    >>> from distillguard.keys import WatermarkKey, WatermarkSpec
    >>> class Tok:  # a toy teacher tokenizer: one token per character
    ...     def get_vocab(self): return {chr(97 + i): i for i in range(26)}
    ...     def encode(self, s, add_special_tokens=False): return [ord(c) - 97 for c in s if c.islower()]
    >>> scores, n = score_generated(["abc", "", "abd"], Tok(), [WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=26))])
    >>> n, scores[0].scored  # the coin of (a -> b) is counted once across the answers
    (6, 3)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from distillguard.data import sharegpt_prompts
from distillguard.detect.radioactivity.attribution import attribute
from distillguard.detect.radioactivity.curves import _best_key, _text_curve
from distillguard.detect.radioactivity.predictions import _concat, _text_tuples
from distillguard.detect.radioactivity.result import DEFAULT_MODEL_ALPHA, KeyScore, RadioactivityReport
from distillguard.detect.radioactivity.statistics import _key_scores, pooled_coin_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, check_tokenizer
from distillguard.suspects import SuspectLike

__all__ = ["score_generated", "generation_test"]


def score_generated(
    answers: Sequence[str], tokenizer: Any, keys: Sequence[WatermarkKey], *, alpha: float = DEFAULT_MODEL_ALPHA
) -> tuple[list[KeyScore], int]:
    """Re-tokenise answers with the teacher's tokenizer and score them, deduplicating coins across answers.

    Returns ``(scores per key, tokens)``.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import score_generated
        >>> class Tok:  # a toy teacher tokenizer: one token per character
        ...     def get_vocab(self): return {chr(97 + i): i for i in range(26)}
        ...     def encode(self, s, add_special_tokens=False): return [ord(c) - 97 for c in s if c.islower()]
        >>> key = WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=26))
        >>> scores, n = score_generated(["hello there", "general kenobi"], Tok(), [key])
        >>> n, scores[0].detected
        (23, False)
    """
    if not keys:
        raise DistillguardError("no key to test")
    spec = keys[0].require_spec()
    check_tokenizer(tokenizer, spec)
    ids, segments = _concat([tokenizer.encode(a, add_special_tokens=False) for a in answers])
    return _key_scores(keys, [pooled_coin_test(ids, segments, k, spec) for k in keys], spec, alpha), int(len(ids))


def generation_test(
    suspect: SuspectLike,
    keys: Sequence[WatermarkKey],
    teacher_tokenizer: Any,
    prompts: Sequence[str] | None = None,
    *,
    n_prompts: int = 200,
    max_new_tokens: int = 128,
    temperature: float = 0.7,
    alpha: float = DEFAULT_MODEL_ALPHA,
    seed: int = 0,
) -> RadioactivityReport:
    """Generation-mode test: prompt the suspect (any tokenizer, local or HTTP) and score its answers.

    ``prompts`` default to ``n_prompts`` real human prompts from ShareGPT.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import generation_test
        >>> class Tok:  # a toy teacher tokenizer: one token per character
        ...     def get_vocab(self): return {chr(97 + i): i for i in range(26)}
        ...     def encode(self, s, add_special_tokens=False): return [ord(c) - 97 for c in s if c.islower()]
        >>> class Echo:  # a toy suspect that repeats its prompts
        ...     identity = "echo"
        ...     def generate(self, prompts, **kw): return list(prompts)
        >>> key = WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=26))
        >>> r = generation_test(Echo(), [key], Tok(), ["the quick brown fox", "jumps over the lazy dog"])
        >>> r.detected, r.units["answer_tokens"], r.curve[-1]["texts"]
        (False, 35, 2)
    """
    t0 = time.perf_counter()
    notes = []
    if prompts is None:
        prompts = sharegpt_prompts(n_prompts, seed=seed + 17, max_chars=600)
        notes.append(f"prompted with {len(prompts)} real ShareGPT prompts")
    prompts = [p for p in prompts if isinstance(p, str) and p.strip()]
    if not prompts:
        raise DistillguardError("no prompt to send: the prompt list is empty")
    answers = suspect.generate(list(prompts), max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
    results, n_tokens = score_generated(answers, teacher_tokenizer, keys, alpha=alpha)
    spec = keys[0].require_spec()
    units = {"queries": len(prompts), "answer_tokens": n_tokens,
             "scored_unit": "distinct green coin of (context window, token) across all answers"}
    # tokenised once more for the curve and the attribution (score_generated keeps its public signature)
    ids, segments = _concat([teacher_tokenizer.encode(a, add_special_tokens=False) for a in answers])
    curve = _text_curve(ids, segments, len(answers), _best_key(keys, results), spec)
    report = RadioactivityReport("generation", suspect.identity, alpha, results, units, spec.to_dict(), notes=notes,
                                 curve=curve)
    if sum(r.detected for r in results) > 1:
        attribute(report, *_text_tuples(ids, segments, spec), keys, spec)
    report.seconds = time.perf_counter() - t0
    return report
