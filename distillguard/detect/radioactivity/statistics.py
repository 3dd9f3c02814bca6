"""The statistics of a radioactivity test, each Holm-adjusted over the keys tested.

* coins (:func:`pooled_coin_test`, :func:`score_predictions`): distinct green coins ``(arc, token)`` vs
  gamma, exact binomial tail;
* rank (:func:`score_ranks`, h = 0 keys): mean rank of the key's green tokens in the suspect's averaged
  next-token distribution, Wilcoxon rank sum with an exact Chernoff bound;
* top-K (:func:`score_ranks` with ``top``): green entries among the K ranked highest, exact hypergeometric;
* windowed rank (:func:`score_window_ranks`, h >= 1 keys with left seeding): one frequent window per keyed order.

:func:`unigram_logprobs` and :func:`teacher_vocabulary` build the key-independent ``reference`` and ``support``
of the rank statistic.

Example:
    >>> import numpy as np
    >>> from distillguard.keys import WatermarkKey, WatermarkSpec
    >>> key = WatermarkKey(b"\\x02" * 32, WatermarkSpec(vocab_size=100))
    >>> pooled_coin_test(np.array([1, 2, 1, 2]), np.zeros(4, np.int64), key).scored  # (1 -> 2) twice, (2 -> 1)
    2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from distillguard.detect.radioactivity.predictions import Predictions, _reading_tuples
from distillguard.detect.radioactivity.result import DEFAULT_MODEL_ALPHA, KeyScore, _holm_fill
from distillguard.detect.stats import (
    binom_test,
    blocked_rank_sum_test_ranked,
    blocked_subset_sum_test,
    rank_scores,
    rank_sum_test,
    subset_lambda,
    subset_mean_cgf,
    tied_block,
    top_count_test,
)
from distillguard.detect.text import green_coins
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

__all__ = ["CoinTest", "pooled_coin_test", "score_predictions", "green_masks", "score_ranks", "unigram_logprobs",
           "teacher_vocabulary", "score_window_ranks"]


class CoinTest(NamedTuple):
    """One exact binomial test of distinct coins: ``green`` of ``scored`` coins green, vs rate gamma."""

    scored: int
    green: int
    p_value: float
    log10_p: float
    z: float


def _coin_test(coin: np.ndarray, green: np.ndarray, gamma: float) -> CoinTest:
    """Count each coin once (its first occurrence) and test the green count: P(Binomial(scored, gamma) >= green)."""
    _, first = np.unique(coin, return_index=True)
    scored, g = len(first), int(green[first].sum())
    return CoinTest(scored, g, *binom_test(g, scored, gamma))


def pooled_coin_test(ids: np.ndarray, segments: np.ndarray, key: WatermarkKey,
                     spec: WatermarkSpec | None = None) -> CoinTest:
    """One exact test of texts pooled: green coins of ``key``, each counted once across *all* the texts.

    ``ids`` ``[T]``: the texts' tokens concatenated; ``segments`` ``[T]``: each token's text index
    (non-decreasing). A coin is the random event (arc, token) of
    :func:`~distillguard.detect.text.green_coins`; distinct coins are independent Bernoulli(gamma) draws under
    the null (negatively associated within one arc), so the binomial tail is valid.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import pooled_coin_test
        >>> key = WatermarkKey(b"\\x02" * 32, WatermarkSpec(vocab_size=100))
        >>> t = pooled_coin_test(np.array([1, 2, 3, 4, 1, 2]), np.array([0, 0, 0, 0, 1, 1]), key)
        >>> t.scored, 0 < t.p_value <= 1  # (1, 2) occurs in both texts: 3 distinct coins, not 4
        (3, True)
    """
    spec = spec or key.require_spec()
    _, coin, green = green_coins(ids, segments, key, spec)
    return _coin_test(coin, green, spec.effective_gamma)


def _count_coins(windows: np.ndarray, tokens: np.ndarray, key: WatermarkKey, spec: WatermarkSpec) -> CoinTest:
    """The coin test of ``key`` on (window, predicted token) tuples (see :func:`_reading_tuples`)."""
    if len(tokens) == 0:
        return CoinTest(0, 0, *binom_test(0, 0, spec.effective_gamma))
    material = key_material(key, spec)
    V = spec.vocab_size
    p, o = seed_to_arc_np(context_seeds_np(material, windows, tokens), spec)
    green = is_green_np(p, o, tokens, material.positions, spec)
    return _coin_test((p * V + o) * V + tokens, green, spec.effective_gamma)


def _key_scores(keys: Sequence[WatermarkKey], tests: Sequence[CoinTest], spec: WatermarkSpec,
                alpha: float) -> list[KeyScore]:
    """One :class:`KeyScore` per key from its coin test, Holm-adjusted over ``keys``."""
    gamma = spec.effective_gamma
    out = [KeyScore(k.fingerprint, k.account, t.scored, t.green, gamma,
                    t.green / t.scored if t.scored else math.nan, t.z, t.p_value, t.log10_p)
           for k, t in zip(keys, tests)]
    return _holm_fill(out, alpha)


def score_predictions(
    preds: Predictions, keys: Sequence[WatermarkKey], *, spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_MODEL_ALPHA,
) -> list[KeyScore]:
    """Score fixed predictions against many keys (exact binomial tests, Holm-adjusted over ``keys``).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, score_predictions
        >>> key = WatermarkKey(b"\\x02" * 32, WatermarkSpec(vocab_size=100))
        >>> p = Predictions(np.array([1, 2, 1, 2]), np.zeros(4, np.int64), np.array([5, 6, 5, 6]))
        >>> score_predictions(p, [key])[0].scored  # (1 -> 5) and (2 -> 6): two distinct coins
        2
    """
    if not keys:
        raise DistillguardError("no key to test")
    spec = spec or keys[0].require_spec()
    windows, tokens = _reading_tuples(preds, spec)
    return _key_scores(keys, [_count_coins(windows, tokens, k, spec) for k in keys], spec, alpha)


def green_masks(keys: Sequence[WatermarkKey], spec: WatermarkSpec) -> np.ndarray:
    """``[K, V]`` bool: the green list of each h = 0 key (one list per key, the same for every context).

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import green_masks
        >>> spec = WatermarkSpec(vocab_size=400, gamma=0.25, context_width=0)
        >>> green_masks([WatermarkKey(b"\x03" * 32, spec)], spec).sum()
        np.int64(100)
    """
    if spec.context_width != 0:
        raise DistillguardError("green_masks: one green list per key exists only for h = 0 keys")
    V = spec.vocab_size
    tokens = np.arange(V, dtype=np.int64)
    rows = []
    for k in keys:
        m = key_material(k, spec)
        p, o = seed_to_arc_np(np.array([m.fixed_seed], dtype=np.uint64), spec)
        rows.append(is_green_np(np.full(V, p[0]), np.full(V, o[0]), tokens, m.positions, spec))
    return np.stack(rows) if rows else np.zeros((0, V), dtype=bool)


def score_ranks(
    mean_logprobs: np.ndarray, keys: Sequence[WatermarkKey], *, spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_MODEL_ALPHA, reference: np.ndarray | None = None, support: np.ndarray | None = None,
    untrained_last: bool = False, top: int | None = None,
) -> list[KeyScore]:
    """Rank test of h = 0 keys against a suspect's averaged next-token distribution (Holm over ``keys``).

    The vocabulary is ranked by ``mean_logprobs`` (ties share their mean rank; ranks scaled to [0, 1]). A
    model that learned the green list from watermarked text ranks green tokens higher. Under the null -- the
    suspect independent of the key -- the key's green list is a uniformly random gamma-subset of the
    vocabulary (an arc of a keyed random order), independent of the ranking, so its rank sum has the
    Wilcoxon rank-sum null distribution; :func:`~distillguard.detect.stats.rank_sum_test` bounds its tail.

    ``reference``: another model's ``mean_logprobs`` on the same text; the ranking then uses the difference.
    The null stays exact as long as the reference, too, is independent of the key (the untouched teacher is:
    its watermark is added at serving time). It helps when the suspect is a fine-tuned copy of the reference
    (the difference is what fine-tuning changed), and hurts a student trained from scratch (it adds the
    reference's own preferences as noise).

    ``support``: a boolean mask over the vocabulary; only these entries are ranked (see
    :func:`teacher_vocabulary`). It must not depend on the key -- the tokens the *unwatermarked* teacher
    emits, say. A uniformly random gamma-subset restricted to a fixed set is, given its size, a uniformly
    random subset of that set, so the null stays exact. It helps when most of the vocabulary is never
    written by the teacher: a student cannot have learned the mark on those entries, and their ranks, moved by
    everything else the student was trained on, only add noise.

    ``untrained_last``: entries sharing one value (at least 1 % of those ranked: a student's never-trained
    output rows) rank below every other entry instead of merging with the shorter side of the ranking (see
    :func:`~distillguard.detect.stats.rank_scores`). A student whose untrained rows stay at logit 0 otherwise
    ranks them above its rarely seen entries and ties away the top of its ranking. Which entries form the
    block depends on the suspect alone (it is found in the suspect's own scores, before a ``reference`` is
    subtracted), so the null stays exact.

    ``top``: instead of the mean rank of all green entries, count the green entries among the ``top`` entries
    ranked highest (:func:`~distillguard.detect.stats.top_count_test`, exact hypergeometric null; the
    never-trained block, with ``untrained_last``, never enters the head). It is the stronger test when the
    mark has moved a few hundred entries to the very top, and the weaker one when it moves the whole
    vocabulary a little (on the benchmark's 5 % sampled-text student the rare entries were not learned into
    the head and no K beat the mean rank: docs/radioactivity.md). Such results have ``statistic="top"``:
    ``green`` of ``scored`` = ``top`` head entries are green, ``green_fraction`` is their share, ``gamma``
    the key's green share of the ranked entries (its null mean).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import green_masks, score_ranks
        >>> spec = WatermarkSpec(vocab_size=2000, gamma=0.25, context_width=0)
        >>> key = WatermarkKey(b"\x04" * 32, spec)
        >>> lp = np.random.default_rng(0).normal(size=2000) + 0.5 * green_masks([key], spec)[0]
        >>> r = score_ranks(lp, [key])[0]
        >>> r.statistic, r.detected, r.green_fraction > 0.55
        ('rank', True, True)
        >>> t = score_ranks(lp, [key], top=100)[0]
        >>> t.statistic, t.scored, t.green > 25
        ('top', 100, True)
    """
    if not keys:
        raise DistillguardError("no key to test")
    spec = spec or keys[0].require_spec()
    V = spec.vocab_size
    lp = np.asarray(mean_logprobs, dtype=np.float64).ravel()
    if len(lp) < V:
        raise DistillguardError(f"the suspect's distribution has {len(lp)} entries, the key's vocabulary {V}")
    own = lp = lp[:V]  # entries past the tokenizer's vocabulary (padding rows) are never green
    if reference is not None:
        ref = np.asarray(reference, dtype=np.float64).ravel()
        if len(ref) < V:
            raise DistillguardError(f"the reference's distribution has {len(ref)} entries, the key's vocabulary {V}")
        lp = lp - ref[:V]
    masks = green_masks(keys, spec)
    if support is not None:
        keep = np.asarray(support, dtype=bool).ravel()
        if len(keep) < V:
            raise DistillguardError(f"the support mask has {len(keep)} entries, the key's vocabulary {V}")
        keep = keep[:V]
        if keep.sum() < 2:
            raise DistillguardError("the support mask keeps fewer than 2 vocabulary entries: nothing to rank")
        own, lp, masks = own[keep], lp[keep], masks[:, keep]
    if untrained_last and (reference is not None or top is not None):
        # the never-trained block is the suspect's own: subtracting a reference would scatter it
        block = tied_block(own)
        if block is not None:
            lp = np.where(block, -np.inf, lp)
    n = masks.sum(axis=1)
    if top is not None:
        if not 1 <= top < len(lp):
            raise DistillguardError(f"--reading-top {top}: choose 1 <= top < {len(lp)} (the entries ranked)")
        log10_p, z, share = top_count_test(lp, masks, top)
        out = [KeyScore(k.fingerprint, k.account, top, int(round(share[i] * top)), float(n[i] / len(lp)),
                        float(share[i]), float(z[i]), 10.0 ** float(log10_p[i]), float(log10_p[i]), statistic="top")
               for i, k in enumerate(keys)]
        return _holm_fill(out, alpha)
    log10_p, z, mean = rank_sum_test(lp, masks, block_last=untrained_last)
    out = [KeyScore(k.fingerprint, k.account, len(lp), int(n[i]), 0.5, float(mean[i]), float(z[i]),
                    10.0 ** float(log10_p[i]), float(log10_p[i]), statistic="rank") for i, k in enumerate(keys)]
    return _holm_fill(out, alpha)


def _token_counts(token_ids: Sequence[Sequence[int]], vocab_size: int) -> np.ndarray:
    """How often each vocabulary entry occurs in ``token_ids`` (float64); ids outside the vocabulary raise."""
    counts = np.zeros(vocab_size, dtype=np.float64)
    for ids in token_ids:
        a = np.asarray(ids, dtype=np.int64).ravel()
        if len(a) and (a.min() < 0 or a.max() >= vocab_size):
            raise DistillguardError(f"a token id lies outside the vocabulary of {vocab_size}: wrong tokenizer?")
        np.add.at(counts, a, 1.0)
    return counts


def unigram_logprobs(token_ids: Sequence[Sequence[int]], vocab_size: int, *, smoothing: float = 0.5) -> np.ndarray:
    """Log-frequency of every vocabulary entry in public text: a ``reference`` for :func:`score_ranks`.

    A student trained from scratch on a mixture ranks its vocabulary mostly by how often each entry occurs in
    its training data, and most of that data is public text, not our answers. Subtracting the log-frequency of
    each entry in a public corpus (add-``smoothing`` counts) leaves what the public text does not explain --
    the entries our watermarked answers taught it. The corpus must not depend on the key (never our
    watermarked output): then the reference is independent of the key and the rank test stays exact.

    Example:
        >>> from distillguard.detect.radioactivity import unigram_logprobs
        >>> lp = unigram_logprobs([[1, 2, 2], [2]], 4)
        >>> [round(float(x), 2) for x in lp]
        [-2.48, -1.39, -0.54, -2.48]
    """
    if vocab_size < 1 or smoothing <= 0:
        raise DistillguardError("vocab_size and smoothing must be positive")
    counts = _token_counts(token_ids, vocab_size) + smoothing
    return np.log(counts / counts.sum())


def teacher_vocabulary(token_ids: Sequence[Sequence[int]], vocab_size: int, *, min_count: int = 1) -> np.ndarray:
    """The vocabulary entries the teacher writes: a ``support`` mask for :func:`score_ranks`.

    ``token_ids``: the teacher's answers *without* watermark (or written under a key that is not tested), as
    token ids. Entries that occur at least ``min_count`` times are kept. The mask depends on the teacher and
    the prompts only, never on a key under test -- that is what keeps the rank test exact.

    Example:
        >>> from distillguard.detect.radioactivity import teacher_vocabulary
        >>> teacher_vocabulary([[1, 2, 2], [2, 4]], 6, min_count=2).nonzero()[0].tolist()
        [2]
    """
    if vocab_size < 1 or min_count < 1:
        raise DistillguardError("vocab_size and min_count must be positive")
    return _token_counts(token_ids, vocab_size) >= min_count


def score_window_ranks(
    preds: Predictions, keys: Sequence[WatermarkKey], *, spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_MODEL_ALPHA, reference: np.ndarray | None = None,
) -> list[KeyScore]:
    """Rank test of h >= 1 keys (``left`` seeding) on the suspect's distribution after frequent context windows.

    Each kept window has its own green list, an arc of one of the key's keyed vocabulary orders. For every
    order, the most frequent window whose list comes from that order is used (at most ``num_permutations``
    windows): those lists are then independent uniformly random subsets -- different orders are independent
    permutations, and a window's arc offset is independent of which order it selects -- so the pooled
    rank sum of their green tokens has the Chernoff bound of
    :func:`~distillguard.detect.stats.blocked_rank_sum_test`. Using two windows of one order would make their
    lists dependent (arcs of the same permutation) and the bound invalid.

    ``reference``: ``[W, V]`` mean log-probabilities of a model *independent of the key* (typically the
    untouched teacher) after the same windows (``preds.window_ids``); each window's vocabulary is then ranked by
    the suspect's log-probability minus the reference's. A fine-tuned copy of the teacher keeps almost all of
    the teacher's preferences, which swamp the few green entries the fine-tune moved; the difference keeps only
    what the fine-tune changed. The reference never sees the key, so each window's ranking is still
    key-independent and the bound is unchanged.

    Sibling account sub-keys share the master's vocabulary orders, so a student that learned one account's
    lists also shifts its siblings' statistics; ``reading_test`` therefore attributes only the strongest
    account under this statistic.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, score_window_ranks
        >>> key = WatermarkKey(b"\\x06" * 32, WatermarkSpec(vocab_size=300, context_width=1))
        >>> lp = np.random.default_rng(0).normal(size=(20, 300))  # a suspect that learned nothing
        >>> p = Predictions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
        ...                 window_ids=np.arange(20)[:, None], window_logprobs=lp)
        >>> r = score_window_ranks(p, [key])[0]
        >>> r.statistic, r.detected
        ('rank', False)
    """
    return score_window_ranks_many({"suspect": (preds, reference)}, keys, spec=spec, alpha=alpha)["suspect"]


def score_window_ranks_many(
    readings: Mapping[str, tuple[Predictions, np.ndarray | None]], keys: Sequence[WatermarkKey], *,
    spec: WatermarkSpec | None = None, alpha: float = DEFAULT_MODEL_ALPHA,
) -> dict[str, list[KeyScore]]:
    """:func:`score_window_ranks` of several readings of the same texts (``name -> (predictions, reference)``),
    each key's green lists built once for all of them (many null keys on many models).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, score_window_ranks, score_window_ranks_many
        >>> key = WatermarkKey(b"\\x06" * 32, WatermarkSpec(vocab_size=300, context_width=1))
        >>> rng = np.random.default_rng(0)
        >>> reads = {n: Predictions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
        ...                         window_ids=np.arange(20)[:, None], window_logprobs=rng.normal(size=(20, 300)))
        ...          for n in ("a", "b")}
        >>> many = score_window_ranks_many({n: (p, None) for n, p in reads.items()}, [key])
        >>> many["b"][0].log10_p == score_window_ranks(reads["b"], [key])[0].log10_p
        True
    """
    if not keys:
        raise DistillguardError("no key to test")
    if not readings:
        raise DistillguardError("no reading to score")
    spec = spec or keys[0].require_spec()
    window_ids, scores = _window_scores(readings, spec, "window_logprobs")
    ranked = {name: [rank_scores(row) for row in x] for name, x in scores.items()}  # once per window, for every key
    out: dict[str, list[KeyScore]] = {name: [] for name in readings}
    for k, first, green in _window_greens(keys, spec, window_ids):
        for name, r in ranked.items():
            log10_p, z, mean = blocked_rank_sum_test_ranked([r[i] for i in first], green)
            out[name].append(KeyScore(k.fingerprint, k.account, int(green.size), int(green.sum()), 0.5, mean,
                                      z, 10.0**log10_p, log10_p, statistic="rank"))
    return {name: _holm_fill(scores_, alpha) for name, scores_ in out.items()}


def _window_greens(keys: Sequence[WatermarkKey], spec: WatermarkSpec, window_ids: np.ndarray):
    """Per key: ``(key, first, green)`` -- the read windows used (the most frequent of each keyed order) and
    their green lists ``[len(first), V]``. Lists of different orders are independent uniformly random subsets."""
    tokens = np.arange(spec.vocab_size, dtype=np.int64)
    for k in keys:
        m = key_material(k, spec)
        p, o = seed_to_arc_np(context_seeds_np(m, window_ids, np.zeros(len(window_ids), np.int64)), spec)
        _, first = np.unique(p, return_index=True)  # windows are most frequent first: the first of each order
        yield k, first, is_green_np(p[first][:, None], o[first][:, None], tokens[None, :], m.positions, spec)


def _window_scores(readings: Mapping[str, tuple[Predictions, np.ndarray | None]], spec: WatermarkSpec,
                   field: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The common windows and, per reading, its ``[W, V]`` window values (``field``) minus its reference's."""
    h, V = spec.context_width, spec.vocab_size
    if h == 0 or spec.seeding != "left":
        raise DistillguardError("the windowed statistics need an h >= 1 key with left seeding")
    window_ids, out = None, {}
    for name, (preds, reference) in readings.items():
        values = getattr(preds, field)
        if preds.window_ids is None or values is None or len(preds.window_ids) == 0:
            raise DistillguardError("the windowed statistics need the suspect's distribution per context window "
                                    "(read with local weights and context_width = h)")
        if preds.window_ids.shape[1] != h:
            raise DistillguardError(f"windows were read for h = {preds.window_ids.shape[1]}, the key has h = {h}")
        if window_ids is not None and not np.array_equal(window_ids, preds.window_ids):
            raise DistillguardError("the readings kept different windows (other texts)")
        window_ids = preds.window_ids
        x = np.asarray(values, dtype=np.float64)
        if x.shape[1] < V:
            raise DistillguardError(f"the suspect's distribution has {x.shape[1]} entries, the key's vocabulary {V}")
        x = x[:, :V]
        if reference is not None:
            ref = np.asarray(reference, dtype=np.float64)
            if ref.shape[0] != x.shape[0] or ref.shape[1] < V:
                raise DistillguardError(f"the reference's window distribution has shape {ref.shape}, the "
                                        f"suspect's {x.shape}: read both on the same texts with the same context width")
            x = x - ref[:, :V]
        out[name] = x
    return window_ids, out


def score_window_mass(
    preds: Predictions, keys: Sequence[WatermarkKey], *, spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_MODEL_ALPHA, reference: np.ndarray | None = None,
) -> list[KeyScore]:
    """Green-mass test of h >= 1 keys (``left`` seeding): the suspect's next-token probability on each window's
    green list, one window per keyed order (as :func:`score_window_ranks`).

    A student that learned the mark moves probability *mass* onto green tokens where the distribution has mass;
    a rank over the whole vocabulary weighs the ten-thousand-odd tokens nobody predicts like the few that carry
    it. Here each window's score of token v is the suspect's mean probability after the window (minus the
    ``reference``'s: ``[W, V]`` mean probabilities of a key-independent model such as the untouched teacher,
    read on the same windows), and the statistic is the sum of the green tokens' scores over the windows used.
    Under the null each used window's green list is a uniformly random subset of its size, independently across
    windows, whatever the scores: :func:`~distillguard.detect.stats.blocked_subset_sum_test` bounds the tail
    (Chernoff, Hoeffding's with-replacement domination; no parametric tail, conservative by the finite-population
    factor). ``green_fraction`` reports the green share of the used windows' mass (of the *change* from the
    reference when there is one, summed over the windows).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, score_window_mass
        >>> key = WatermarkKey(b"\\x06" * 32, WatermarkSpec(vocab_size=300, context_width=1))
        >>> probs = np.random.default_rng(0).dirichlet(np.ones(300), size=20)  # a suspect that learned nothing
        >>> p = Predictions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
        ...                 window_ids=np.arange(20)[:, None], window_probs=probs)
        >>> r = score_window_mass(p, [key])[0]
        >>> r.statistic, r.detected
        ('mass', False)
    """
    return score_window_mass_many({"suspect": (preds, reference)}, keys, spec=spec, alpha=alpha)["suspect"]


def score_window_mass_many(
    readings: Mapping[str, tuple[Predictions, np.ndarray | None]], keys: Sequence[WatermarkKey], *,
    spec: WatermarkSpec | None = None, alpha: float = DEFAULT_MODEL_ALPHA,
) -> dict[str, list[KeyScore]]:
    """:func:`score_window_mass` of several readings of the same texts (``name -> (predictions, reference
    probabilities)``), each key's green lists built once for all of them and each window's CGF once per reading.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, score_window_mass, score_window_mass_many
        >>> key = WatermarkKey(b"\\x06" * 32, WatermarkSpec(vocab_size=300, context_width=1))
        >>> rng = np.random.default_rng(0)
        >>> reads = {n: Predictions(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64),
        ...                         window_ids=np.arange(20)[:, None], window_probs=rng.dirichlet(np.ones(300), 20))
        ...          for n in ("a", "b")}
        >>> many = score_window_mass_many({n: (p, None) for n, p in reads.items()}, [key])
        >>> many["b"][0].log10_p == score_window_mass(reads["b"], [key])[0].log10_p
        True
    """
    if not keys:
        raise DistillguardError("no key to test")
    if not readings:
        raise DistillguardError("no reading to score")
    spec = spec or keys[0].require_spec()
    window_ids, scores = _window_scores(readings, spec, "window_probs")
    prepared = {}
    for name, x in scores.items():
        centred = x - x.mean(axis=1, keepdims=True)
        scale = float(np.abs(centred).max())  # key-independent: fixed before any green list is drawn
        prepared[name] = (x, scale, [subset_mean_cgf(row, subset_lambda(scale)) for row in x])
    out: dict[str, list[KeyScore]] = {name: [] for name in readings}
    for k, first, green in _window_greens(keys, spec, window_ids):
        for name, (x, scale, cgfs) in prepared.items():
            log10_p, z = blocked_subset_sum_test([x[i] for i in first], green, cgfs=[cgfs[i] for i in first],
                                                 scale=scale)
            used = x[first]
            total = float(np.abs(used).sum())
            share = float(np.abs(used[green]).sum() / total) if total > 0 else 0.0
            out[name].append(KeyScore(k.fingerprint, k.account, int(used.size), int(green.sum()), spec.gamma,
                                      share, z, 10.0**log10_p, log10_p, statistic="mass"))
    return {name: _holm_fill(scores_, alpha) for name, scores_ in out.items()}
