"""Properties of the text detector (hypothesis; small example counts so the file runs in seconds)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.detect.stats import binom_test
from distillguard.detect.text import score_batch, score_tokens
from distillguard.keys import WatermarkKey, WatermarkSpec

KEYS = {h: WatermarkKey(bytes([7 + h]) * 32, WatermarkSpec(vocab_size=64, gamma=0.25, context_width=h))
        for h in (0, 1, 2)}
FAST = settings(max_examples=40, deadline=None)

token_lists = st.lists(st.integers(min_value=0, max_value=63), min_size=0, max_size=60)


@FAST
@given(n=st.integers(min_value=0, max_value=400), data=st.data(),
       gamma=st.sampled_from([0.01, 0.1, 0.25, 0.5, 0.9]))
def test_p_value_is_a_probability_and_non_increasing_in_green(n, data, gamma):
    k = data.draw(st.integers(min_value=0, max_value=n))
    p, log10_p, z = binom_test(k, n, gamma)
    assert 0.0 <= p <= 1.0 and not math.isnan(log10_p) and log10_p <= 1e-12
    if k < n:
        p_next, log10_next, _ = binom_test(k + 1, n, gamma)
        assert p_next <= p * (1 + 1e-9) + 1e-300
        assert log10_next <= log10_p + 1e-9


@FAST
@given(ids=token_lists, h=st.sampled_from([0, 1, 2]))
def test_score_fields_are_consistent(ids, h):
    r = score_tokens(ids, KEYS[h])
    assert r.tokens == len(ids)
    assert 0 <= r.green <= r.scored <= max(0, len(ids) - h)
    assert 0.0 <= r.p_value <= 1.0
    assert r.detected == (r.scored > 0 and r.p_value <= r.alpha)


@FAST
@given(ids=token_lists, h=st.sampled_from([0, 1, 2]))
def test_a_text_repeated_twice_scores_the_same_coins(ids, h):
    once = score_tokens(ids, KEYS[h])
    twice = score_tokens(ids + ids, KEYS[h])
    # the repeat only adds the coins that straddle the seam (their context window crosses it); h = 0 adds none
    assert twice.scored - once.scored <= h
    assert twice.green - once.green <= h
    if h == 0:
        assert (twice.scored, twice.green, twice.p_value) == (once.scored, once.green, once.p_value)


@FAST
@given(seqs=st.lists(token_lists, min_size=1, max_size=6), h=st.sampled_from([0, 1, 2]))
def test_batch_scores_each_text_as_alone(seqs, h):
    together = score_batch(seqs, KEYS[h])
    alone = [score_tokens(s, KEYS[h]) for s in seqs]
    assert [(r.scored, r.green) for r in together] == [(r.scored, r.green) for r in alone]


@FAST
@given(seqs=st.lists(token_lists, min_size=2, max_size=6), h=st.sampled_from([0, 1]),
       limit=st.integers(min_value=1, max_value=40))
def test_chunked_batches_score_the_same(seqs, h, limit):
    import distillguard.detect.text as text

    whole = score_batch(seqs, KEYS[h])
    saved = text._MAX_BATCH_TOKENS
    text._MAX_BATCH_TOKENS = limit  # force the bounded-memory path
    try:
        chunked = score_batch(seqs, KEYS[h])
    finally:
        text._MAX_BATCH_TOKENS = saved
    assert whole == chunked
