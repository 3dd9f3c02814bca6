"""Reading mode (open weights, the teacher's tokenizer): the suspect reads key-independent text once
(:func:`read_predictions`), and every key is scored on that one reading (:func:`reading_test`).

**The text read must not depend on the key under test** (contract 4): :func:`_guard_keyed_text` refuses text
that itself tests positive for a key under test.

Example:
    >>> class Remote:  # an HTTP suspect: no weights to read with
    ...     can_read, identity = False, "http-suspect"
    >>> can_read(Remote(), None)
    False
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from distillguard.data import real_texts
from distillguard.detect.radioactivity.attribution import attribute
from distillguard.detect.radioactivity.curves import CURVE_POINTS, _best_key, _coin_curve, _rank_curve
from distillguard.detect.radioactivity.options import ReadingOptions
from distillguard.detect.radioactivity.predictions import Predictions, _reading_tuples, _sequences
from distillguard.detect.radioactivity.result import KeyScore, RadioactivityReport
from distillguard.detect.radioactivity.statistics import (
    pooled_coin_test,
    score_predictions,
    score_ranks,
    score_window_mass,
    score_window_ranks,
    teacher_vocabulary,
    unigram_logprobs,
)
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, check_tokenizer
from distillguard.suspects import SuspectLike

__all__ = ["KEYED_TEXT_ALPHA", "read_predictions", "can_read", "reading_test"]

#: A reading text that itself tests positive at this level for a key under test is refused.
KEYED_TEXT_ALPHA = 1e-2


def read_predictions(suspect: SuspectLike, sequences: Sequence[Sequence[int]], *, batch_size: int = 8,
                     context_width: int = 0, n_windows: int = 64, curve_buckets: int = 0) -> Predictions:
    """Run the suspect once over token sequences and keep its top-1 predictions (key-independent).

    Suspects with local weights also give their averaged next-token distribution and, with ``context_width``
    h >= 1, its average over the positions of each of the ``n_windows`` most frequent h-token context windows
    (the rank statistic of h >= 1 keys), and its mean probabilities there (the mass statistic). Which windows
    are kept depends on the text alone, not on any key.
    With h = 0 and ``curve_buckets`` B > 0 it also averages over B consecutive groups of the sequences
    (``bucket_logprobs``), from which a report draws its evidence curve.

    Example:
        >>> from distillguard.detect.radioactivity import read_predictions
        >>> class Echo:  # a toy black-box suspect: predicts the token it has just read
        ...     identity = "echo"
        ...     def next_token_predictions(self, seqs, batch_size=8): return [list(s) for s in seqs]
        >>> p = read_predictions(Echo(), [[1, 2, 3], [], [4]])
        >>> p.n_texts, p.preds.tolist(), p.source, p.mean_logprobs is None
        (2, [1, 2, 3, 4], 'echo', True)
    """
    seqs = [list(map(int, s)) for s in sequences if len(s) > 0]
    if not seqs:
        raise DistillguardError("nothing to read: every text is empty")
    mean_lp = window_ids = window_lp = window_p = window_counts = bucket_lp = bucket_counts = None
    if hasattr(suspect, "reading_pass"):  # top-1 and the averaged distributions from one forward pass
        groups, n_groups = None, 0
        if context_width > 0:
            window_ids, window_counts, groups = _frequent_windows(seqs, context_width, n_windows)
            n_groups = len(window_ids)
        elif curve_buckets > 0:  # the same pass, averaged per group of consecutive texts as well
            n_groups = min(curve_buckets, len(seqs))
            which = [i * n_groups // len(seqs) for i in range(len(seqs))]
            groups = [np.full(len(s), b, dtype=np.int64) for s, b in zip(seqs, which)]
            bucket_counts = np.bincount(which, weights=[len(s) for s in seqs], minlength=n_groups)
        out, mean_lp, group_lp, group_p = suspect.reading_pass(seqs, batch_size=batch_size, groups=groups,
                                                               n_groups=n_groups, group_probs=context_width > 0)
        if context_width > 0:
            window_lp, window_p = group_lp, group_p
        else:
            bucket_lp = group_lp
    else:
        out = suspect.next_token_predictions(seqs, batch_size=batch_size)
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    segments = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    preds = np.concatenate([np.asarray(p, dtype=np.int64) for p in out])
    return Predictions(ids, segments, preds, getattr(suspect, "identity", "suspect"), mean_lp, window_ids,
                       None if window_lp is None else window_lp.astype(np.float32), window_counts, bucket_lp,
                       bucket_counts, None if window_p is None else window_p.astype(np.float32))


def _frequent_windows(seqs: list[list[int]], h: int, n: int) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The ``n`` most frequent h-token windows (``[W, h]``, column 0 = the token just read; most frequent first,
    ties in token order), their counts, and per sequence the window index of each position (-1: not kept)."""
    per_seq = []
    for s in seqs:
        a = np.asarray(s, dtype=np.int64)
        t = np.arange(h - 1, len(a))
        per_seq.append(np.stack([a[t - i] for i in range(h)], axis=1) if len(t) else np.zeros((0, h), np.int64))
    rows = np.concatenate(per_seq)
    if len(rows) == 0:
        return np.zeros((0, h), np.int64), np.zeros(0, np.int64), [np.full(len(s), -1) for s in seqs]
    uniq, inverse, counts = np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    keep = np.lexsort((np.arange(len(uniq)), -counts))[:n]  # by count, then by the window's token order
    index = np.full(len(uniq), -1, dtype=np.int64)
    index[keep] = np.arange(len(keep))
    inverse = np.asarray(inverse).ravel()
    groups, start = [], 0
    for s, w in zip(seqs, per_seq):
        g = np.full(len(s), -1, dtype=np.int64)
        g[h - 1 :] = index[inverse[start : start + len(w)]]
        groups.append(g)
        start += len(w)
    return uniq[keep], counts[keep], groups


def can_read(suspect: SuspectLike, spec: WatermarkSpec) -> bool:
    """Whether reading mode can run: local weights and the tokenizer the watermark spec was made for.

    Example:
        >>> from distillguard.detect.radioactivity import can_read
        >>> class Remote: can_read, identity = False, "http-suspect"
        >>> can_read(Remote(), None)
        False
    """
    try:
        _check_reading_tokenizer(suspect, spec)
        return True
    except DistillguardError:
        return False


def _check_reading_tokenizer(suspect: SuspectLike, spec: WatermarkSpec) -> None:
    tok = getattr(suspect, "tokenizer", None)
    if tok is None or not getattr(suspect, "can_read", False):
        raise DistillguardError(
            f"{suspect.identity}: reading mode needs local weights; use --mode generation for this suspect")
    try:
        check_tokenizer(tok, spec)
    except DistillguardError as exc:
        raise DistillguardError(
            f"{exc}; reading mode needs the teacher's tokenizer: use --mode generation for this suspect") from None


def _guard_keyed_text(preds: Predictions, keys: Sequence[WatermarkKey], spec: WatermarkSpec,
                      allow: bool, notes: list[str]) -> None:
    """Refuse (or, with ``allow``, warn about) text read that itself carries a tested key's watermark."""
    worst = 0.0
    worst_fp = ""
    for k in keys:
        lp = pooled_coin_test(preds.ids, preds.segments, k, spec).log10_p
        if lp < worst:
            worst, worst_fp = lp, k.fingerprint
    # Bonferroni over the keys: with hundreds of account sub-keys, clean text reaches p <= 0.01 for some key
    if worst <= math.log10(KEYED_TEXT_ALPHA / max(1, len(keys))):
        msg = (f"the text read carries the watermark of key {worst_fp} (log10 p = {worst:.1f}): reading mode is "
               "biased on key-dependent text (a clean model predicts its green next tokens); read clean text "
               "(the default) or use generation mode")
        if not allow:
            raise DistillguardError(msg)
        notes.append("WARNING: " + msg)


def reading_test(suspect: SuspectLike, keys: Sequence[WatermarkKey], texts: Sequence[str] | None = None, *,
                 options: ReadingOptions | None = None, predictions: Predictions | None = None,
                 **legacy_kwargs: Any) -> RadioactivityReport:
    """Reading-mode radioactivity test of a local suspect that shares the teacher's tokenizer.

    ``options``: a :class:`ReadingOptions`; its fields may also be given as keyword arguments (``n_texts=100``,
    ``statistic="rank"``, ...), which replace those of ``options``. ``texts`` default to ``n_texts`` held-out
    ShareGPT answers (independent of every key). Texts that themselves test positive (p <= 0.01, Bonferroni
    over the keys) for a key under test are refused unless ``allow_keyed_text``: reading them is biased
    (DESIGN.md contract 4). Pass ``predictions`` to reuse a previous reading.

    ``statistic``: ``rank`` (local weights; h = 0 keys, or h >= 1 keys with left seeding), ``mass`` (local
    weights, h >= 1 keys with left seeding: the green-mass test of :func:`score_window_mass`), ``top1``, or
    ``auto`` (``rank`` for h = 0 keys, else ``top1``); see the package docstring. ``reference`` (rank
    statistic only): a local model *independent of the key* -- typically the untouched teacher -- that reads
    the same text; the vocabulary is then ranked by the suspect's mean log-probability minus the reference's,
    which cancels the preferences a fine-tuned copy of that model keeps (see :func:`score_ranks`); with h >= 1
    keys the same holds per context window (:func:`score_window_ranks`), and ``statistic="auto"`` then selects
    the rank statistic.
    ``vocabulary_texts`` (rank statistic, h = 0 keys): answers written by the teacher *without* watermark;
    only the vocabulary entries they contain are ranked (:func:`teacher_vocabulary`), which drops entries no
    student of the teacher can have learned the mark on. ``untrained_last`` (rank statistic, h = 0 keys): a
    large block of entries the suspect scores identically (never-trained output rows) ranks last (see
    :func:`score_ranks`). ``unigram_texts`` (rank statistic, h = 0 keys; instead of ``reference``): public text
    that no tested key marked; the vocabulary is ranked by the suspect's mean log-probability minus each
    entry's log-frequency in that text (:func:`unigram_logprobs`), which removes what a student learned from
    public data. ``top`` (rank statistic, h = 0 keys): count the key's green entries among the ``top`` entries
    ranked highest instead of ranking them all (see :func:`score_ranks`).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, ReadingOptions, reading_test
        >>> rng = np.random.default_rng(0)  # a reading by a suspect that never saw the key
        >>> preds = Predictions(rng.integers(0, 500, 2000), np.repeat(np.arange(20), 100), rng.integers(0, 500, 2000))
        >>> key = WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=500))
        >>> r = reading_test(None, [key], predictions=preds, options=ReadingOptions(alpha=1e-4))
        >>> r.detected, r.units["statistic"], r.units["texts_read"], len(r.curve)
        (False, 'top1', 20, 8)
        >>> reading_test(None, [key], predictions=preds, alpha=1e-4).best.log10_p == r.best.log10_p
        True
    """
    t0 = time.perf_counter()
    opts = ReadingOptions.build(options, **legacy_kwargs)
    if not keys:
        raise DistillguardError("no key to test")
    spec = keys[0].require_spec()
    opts.check_spec(spec)
    notes = []
    if predictions is None:
        _check_reading_tokenizer(suspect, spec)
        if texts is None:
            texts = real_texts("read", opts.n_texts)
            notes.append(f"read {len(texts)} held-out ShareGPT answers (written by another model: key-independent)")
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        if not texts:
            raise DistillguardError("no text to read: the text list is empty")
        seqs = [suspect.tokenizer.encode(t, add_special_tokens=False)[: opts.max_tokens] for t in texts]
        h0_rank = spec.context_width == 0 and opts.statistic in ("auto", "rank")  # only its curve needs the buckets
        predictions = read_predictions(suspect, seqs, batch_size=opts.batch_size,
                                       context_width=spec.context_width if opts.reads_windows else 0,
                                       curve_buckets=CURVE_POINTS if h0_rank else 0)
    _guard_keyed_text(predictions, keys, spec, opts.allow_keyed_text, notes)
    statistic = opts.resolve(spec, predictions.mean_logprobs is not None)
    units = {"texts_read": predictions.n_texts, "tokens_read": int(len(predictions.ids)), "statistic": statistic}
    curve: list[dict[str, float]] = []  # none for the h >= 1 rank statistic (its windows are not bucketed)
    if statistic == "mass":
        ref_p = _window_reference(opts, predictions, spec, units, notes, field="window_probs")
        results = score_window_mass(predictions, keys, spec=spec, alpha=opts.alpha, reference=ref_p)
        units["scored_unit"] = ("vocabulary entry after a frequent context window (one window per keyed order), "
                                "scored by the suspect's mean next-token probability there"
                                + (" minus the reference's" if ref_p is not None else ""))
        test = ("one-sided green-mass test: the green tokens' summed (probability) scores of one frequent window per "
                "keyed order vs random subsets (Chernoff bound with Hoeffding's with-replacement domination, "
                "independent windows), Holm-adjusted over keys")
    elif statistic == "rank" and spec.context_width > 0:
        ref_lp = _window_reference(opts, predictions, spec, units, notes)
        results = score_window_ranks(predictions, keys, spec=spec, alpha=opts.alpha, reference=ref_lp)
        units["scored_unit"] = ("vocabulary entry after a frequent context window (one window per keyed order), "
                                "ranked by the suspect's mean next-token log-probability there"
                                + (" minus the reference's" if ref_lp is not None else ""))
        test = ("one-sided rank test: mean rank of the green tokens of one frequent window per keyed order vs "
                "random subsets (Wilcoxon rank sum, Chernoff bound, independent blocks), Holm-adjusted over keys")
    elif statistic == "rank":
        results, curve, test = _rank_reading(suspect, predictions, keys, spec, opts, units, notes)
    else:
        results = score_predictions(predictions, keys, spec=spec, alpha=opts.alpha)
        curve = _coin_curve(predictions, _best_key(keys, results), spec)
        units["scored_unit"] = "distinct green coin of (context window, top-1 prediction)"
        test = RadioactivityReport.test
    report = RadioactivityReport("reading", predictions.source, opts.alpha, results, units, spec.to_dict(), test=test,
                                 notes=notes, curve=curve)
    # explaining overlaps between flagged accounts works on coins. With h = 0 each account's list comes from its
    # own order: nothing to explain. With h >= 1 sibling accounts share the orders: only the strongest is named.
    if statistic == "top1":
        attribute(report, *_reading_tuples(predictions, spec), keys, spec)
    elif spec.context_width > 0 and sum(r.detected for r in results) > 1:
        best = report.best.account or report.best.key_fingerprint
        for r in results:
            name = r.account or r.key_fingerprint
            if r.detected and name != best:
                report.explained[name] = {"by": best, "reason": "h >= 1 rank statistic: sibling accounts share the "
                                          "master's vocabulary orders, so only the strongest account is attributed"}
    report.seconds = time.perf_counter() - t0
    return report


def _window_reference(opts: ReadingOptions, preds: Predictions, spec: WatermarkSpec, units: dict[str, Any],
                      notes: list[str], field: str = "window_logprobs") -> np.ndarray | None:
    """The reference model's mean log-probabilities (``field="window_probs"``: probabilities) after the suspect
    reading's windows (h >= 1), or None."""
    if opts.reference is None:
        return None
    _check_reading_tokenizer(opts.reference, spec)
    ref = read_predictions(opts.reference, _sequences(preds), batch_size=opts.batch_size,
                           context_width=spec.context_width, n_windows=len(preds.window_ids))
    if ref.window_ids is None or not np.array_equal(ref.window_ids, preds.window_ids):
        raise DistillguardError("the reference read other context windows than the suspect: read both on the same texts")
    units["reference"] = getattr(opts.reference, "identity", "reference")
    notes.append(f"scored relative to the reference {units['reference']}")
    return getattr(ref, field)


def _nonempty(texts: Sequence[str], what: str) -> list[str]:
    out = [t for t in texts if isinstance(t, str) and t.strip()]
    if not out:
        raise DistillguardError(f"no {what}: the list is empty")
    return out


def _rank_reading(suspect: SuspectLike, preds: Predictions, keys: Sequence[WatermarkKey], spec: WatermarkSpec,
                  opts: ReadingOptions, units: dict[str, Any], notes: list[str]
                  ) -> tuple[list[KeyScore], list[dict[str, float]], str]:
    """The h = 0 rank (or top-K) statistic of :func:`reading_test`: ``(results, curve, test)``; fills ``units``
    and ``notes``."""
    ref_lp = None
    if opts.reference is not None:
        _check_reading_tokenizer(opts.reference, spec)
        ref_lp = read_predictions(opts.reference, _sequences(preds), batch_size=opts.batch_size).mean_logprobs
        units["reference"] = getattr(opts.reference, "identity", "reference")
        notes.append(f"ranked by log-probability relative to the reference {units['reference']}")
    tok = getattr(suspect, "tokenizer", None)
    if tok is None and (opts.vocabulary_texts is not None or opts.unigram_texts is not None):
        raise DistillguardError("vocabulary and unigram texts need the suspect's tokenizer (a local suspect)")
    if opts.unigram_texts is not None:
        texts_u = _nonempty(opts.unigram_texts, "unigram text")
        ref_lp = unigram_logprobs([tok.encode(t, add_special_tokens=False) for t in texts_u], spec.vocab_size)
        units["reference"] = f"unigram log-frequency of {len(texts_u)} public texts"
        notes.append(f"ranked by log-probability relative to the {units['reference']}")
    support = None
    if opts.vocabulary_texts is not None:
        texts_v = _nonempty(opts.vocabulary_texts, "vocabulary text")
        support = teacher_vocabulary([tok.encode(t, add_special_tokens=False) for t in texts_v], spec.vocab_size)
        units["vocabulary_texts"], units["ranked_entries"] = len(texts_v), int(support.sum())
        notes.append(f"ranked only the {int(support.sum())} vocabulary entries of {len(texts_v)} teacher texts")
    ranking = {"reference": ref_lp, "support": support, "untrained_last": opts.untrained_last, "top": opts.top}
    results = score_ranks(preds.mean_logprobs, keys, spec=spec, alpha=opts.alpha, **ranking)
    curve = _rank_curve(preds, _best_key(keys, results), spec, **ranking)
    units["scored_unit"] = "vocabulary entry, ranked by the suspect's mean next-token log-probability" + (
        " minus the reference's" if ref_lp is not None else "") + (
        " (the teacher's vocabulary only)" if support is not None else "") + (
        "; a tied block of never-trained entries ranks last" if opts.untrained_last else "")
    test = ("one-sided rank test: mean rank of the key's green tokens vs a random subset (Wilcoxon rank "
            "sum, exact Chernoff bound), Holm-adjusted over keys")
    if opts.top is not None:
        units["top"] = opts.top
        test = (f"one-sided exact hypergeometric test: the key's green entries among the {opts.top} entries ranked "
                "highest vs a random subset, Holm-adjusted over keys")
    return results, curve, test
