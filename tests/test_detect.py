import math

import numpy as np
import pytest
from scipy import stats

from distillguard.detect import score_batch, score_text, score_tokens
from distillguard.detect.stats import binom_sf_log10, binom_test, holm
from distillguard.detect.text import green_coins
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id

V = 5000


def _natural_like_text(n: int, seed: int) -> np.ndarray:
    """Zipf-distributed tokens with a phrase repeated many times (what dedup must handle)."""
    rng = np.random.default_rng(seed)
    ranks = np.minimum(rng.zipf(1.3, size=n), V) - 1
    perm = rng.permutation(V)
    text = perm[ranks]
    phrase = text[:12].copy()
    for start in range(40, n - 12, 60):
        text[start : start + 12] = phrase
    return text


def _fpr(spec_kwargs, n_keys=1000, dedup=True):
    texts = [_natural_like_text(400, s) for s in range(3)]
    pvals = []
    for k in range(n_keys):
        key = WatermarkKey(k.to_bytes(4, "big") * 8, WatermarkSpec(vocab_size=V, **spec_kwargs))
        if dedup:
            pvals.extend(r.p_value for r in score_batch(texts, key))
        else:  # the naive count, kept here to show that this test can fail
            for t in texts:
                _, _, green = green_coins(t, np.zeros(len(t), int), key)
                pvals.append(binom_test(int(green.sum()), len(green), key.spec.effective_gamma)[0])
    return np.array(pvals)


@pytest.mark.parametrize("spec_kwargs", [dict(), dict(context_width=4, seeding="min"), dict(context_width=2)])
def test_calibration_over_1000_random_keys(spec_kwargs):
    p = _fpr(spec_kwargs)
    n = len(p)
    for alpha in (0.01, 0.001):
        limit = stats.binom.ppf(0.999, n, alpha)  # one-sided 99.9% bound on the count under a valid test
        assert (p <= alpha).sum() <= limit, f"FPR {(p <= alpha).mean():.4f} at alpha={alpha}"
    # and the p-values are not uselessly conservative: mean near 1/2 + discreteness
    assert 0.4 < p.mean() < 0.65


def test_without_dedup_the_same_check_fails():
    p = _fpr({}, n_keys=300, dedup=False)
    assert (p <= 0.01).sum() > stats.binom.ppf(0.999, len(p), 0.01)


def test_repeated_ngrams_are_counted_once():
    key = WatermarkKey(b"\x01" * 32, WatermarkSpec(vocab_size=V))
    phrase = list(range(10, 20))
    r = score_tokens(phrase * 50, key)
    assert r.tokens == 500 and r.scored <= 10


def test_detector_finds_planted_green_tokens_and_other_keys_do_not():
    """Tokens chosen green for key A at every step: p tiny under A, null-like under B and A's sub-keys."""
    spec = WatermarkSpec(vocab_size=V, delta=2.0)
    a = WatermarkKey(b"\x02" * 32, spec)
    rng = np.random.default_rng(0)
    ids = [int(rng.integers(V))]
    import torch

    from distillguard.watermark import WatermarkLogitsProcessor

    proc = WatermarkLogitsProcessor(a)
    for _ in range(199):
        bias = proc(torch.tensor([ids]), torch.zeros(1, V))[0]
        probs = torch.softmax(bias, 0).numpy()
        ids.append(int(rng.choice(V, p=probs / probs.sum())))
    assert score_tokens(ids, a).p_value < 1e-6
    for other in (WatermarkKey(b"\x03" * 32, spec), a.for_account("x"), a.for_account("y")):
        assert score_tokens(ids, other).p_value > 1e-3


def test_batch_equals_single():
    key = WatermarkKey(b"\x04" * 32, WatermarkSpec(vocab_size=V, context_width=3))
    texts = [_natural_like_text(n, n) for n in (0, 2, 3, 50, 300)]
    batch = score_batch(texts, key)
    for t, b in zip(texts, batch):
        assert score_tokens(t, key) == b


def test_short_and_empty_inputs():
    key = WatermarkKey(b"\x05" * 32, WatermarkSpec(vocab_size=V, context_width=4))
    r = score_tokens([1, 2, 3], key)
    assert r.scored == 0 and r.p_value == 1.0 and not r.detected and "too short" in r.note
    assert "weak evidence" in score_tokens(list(range(10)), key).note
    with pytest.raises(DistillguardError, match="outside"):
        score_tokens([1, V + 1, 2], key)


class _CharTok:
    def __init__(self, n=26):
        self.n = n

    def get_vocab(self):
        return {chr(97 + i): i for i in range(self.n)}

    def encode(self, text, add_special_tokens=False):
        return [ord(c) - 97 for c in text if "a" <= c <= "z"]


def test_score_text_checks_tokenizer_identity():
    tok = _CharTok()
    spec = WatermarkSpec(vocab_size=26, tokenizer_id=tokenizer_id(tok))
    key = WatermarkKey(b"\x06" * 32, spec)
    assert score_text("abcdefgh", tok, key).tokens == 8
    with pytest.raises(DistillguardError, match="wrong tokenizer"):
        score_text("abcdefgh", _CharTok(20), key)
    with pytest.raises(DistillguardError, match="empty"):
        score_text("   ", tok, key)
    big = WatermarkKey(b"\x06" * 32, WatermarkSpec(vocab_size=10))
    with pytest.raises(DistillguardError, match="vocab mismatch"):
        score_text("abc", tok, big)


def test_log10_p_stays_finite_far_below_float_range():
    assert math.isclose(binom_sf_log10(2000, 2000, 0.25), 2000 * math.log10(0.25), rel_tol=1e-9)
    p, lp, z = binom_test(0, 0, 0.25)
    assert (p, lp, z) == (1.0, 0.0, 0.0)
    # agrees with scipy where scipy is representable
    assert math.isclose(binom_sf_log10(80, 200, 0.25), math.log10(stats.binom.sf(79, 200, 0.25)), rel_tol=1e-9)


def test_holm_controls_family():
    adj = holm([0.001, 0.2, 0.01, 0.04])
    assert adj.tolist() == pytest.approx([0.004, 0.2, 0.03, 0.08])
