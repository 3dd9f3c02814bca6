"""Radioactivity: was a suspect model trained on our watermarked outputs, and from which account's?

Two modes (DESIGN.md contracts 3-5):

* **reading** (open weights, the teacher's tokenizer): the suspect reads text once (:func:`read_predictions`,
  key-independent, so any number of keys -- calibration, attribution -- cost milliseconds each). Two
  statistics:

  - ``top1``: its top-1 prediction after every prefix is scored against the green list of that prefix's own
    context window, deduplicated on green *coins* ``(arc, predicted token)`` -- the exact form of the
    (context window, prediction) dedup -- and the green coins are tested with an exact binomial tail
    against gamma (:func:`score_predictions`).
  - ``rank`` (h = 0 keys, where one green list serves every context): the suspect's *whole* next-token
    distribution, averaged over every position read, ranks the vocabulary; a student that learned the
    list ranks its tokens higher. The mean rank of the key's green tokens is tested against the mean of a
    random subset (:func:`score_ranks`: a Wilcoxon rank-sum test, p = the exact Chernoff bound of
    :func:`distillguard.detect.stats.rank_sum_test`).
    Every vocabulary entry carries evidence, not only the few dozen tokens a small model ever predicts top-1:
    measured on the benchmark's students, log10 p -143 where top-1 coins gave -6.6. For h >= 1 keys (left
    seeding) the distribution is averaged per frequent context window instead, and one window per keyed
    vocabulary order is tested (:func:`score_window_ranks`).
  ``auto`` (the default) uses ``rank`` for h = 0 keys and ``top1`` otherwise (``rank`` for h >= 1 is asked
  for explicitly: it needs a student that learned the per-context lists over a broad vocabulary).
* **generation** (black box, any tokenizer, local or HTTP): the suspect answers real prompts; the answers
  are re-tokenised with the teacher's tokenizer and scored with dedup across all answers.

**The text read must not depend on the key under test** (contract 4). A model that reads our watermarked
text predicts the actual next token, which is green-biased: a clean teacher reading its own watermarked
output is flagged by naive scoring. The default reading text is therefore held-out real text
(ShareGPT answers, written by another model), and :func:`reading_test` refuses text that itself tests
positive for a key under test (``allow_keyed_text=True`` lifts the guard for experiments).

Null hypothesis of every p-value: the suspect's predictions (or answers) are independent of the key. Then
distinct coins are independent Bernoulli(gamma) draws (negatively associated within one arc), so the
binomial tail is valid; and an h = 0 green list is a uniformly random gamma-subset of the vocabulary (an arc
of a keyed random order) independent of the suspect's ranking, so the rank test is valid. The test suite
checks both on thousands of random keys. Several accounts are
tested at once with Holm's family-wise correction.

Example:
    >>> import numpy as np
    >>> from distillguard.keys import WatermarkKey, WatermarkSpec
    >>> from distillguard.detect.radioactivity import Predictions, score_predictions
    >>> rng = np.random.default_rng(0)
    >>> ids = rng.integers(0, 500, 2000)
    >>> preds = Predictions(ids, np.zeros(2000, np.int64), rng.integers(0, 500, 2000), "random")
    >>> key = WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=500))
    >>> r = score_predictions(preds, [key])[0]
    >>> r.scored > 1900, r.p_value > 1e-3
    (True, True)
"""

from __future__ import annotations

import math
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from distillguard.detect.stats import (
    binom_test,
    blocked_rank_sum_test_ranked,
    holm,
    rank_scores,
    rank_sum_test,
    tied_block,
    top_count_test,
)
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

__all__ = [
    "DEFAULT_ALPHA",
    "Predictions",
    "KeyScore",
    "RadioactivityReport",
    "read_predictions",
    "score_predictions",
    "score_ranks",
    "teacher_vocabulary",
    "unigram_logprobs",
    "score_window_ranks",
    "green_masks",
    "score_generated",
    "reading_test",
    "generation_test",
    "account_keys",
    "attribute",
    "can_read",
    "conditional_test",
    "versions",
]

#: Default detection threshold, applied to Holm-adjusted p-values.
DEFAULT_ALPHA = 1e-3
#: A reading text that itself tests positive at this level for a key under test is refused.
KEYED_TEXT_ALPHA = 1e-2


@dataclass
class Predictions:
    """Texts read by a suspect and its top-1 predictions, all texts concatenated.

    Attributes:
        ids: ``[T]`` token ids of the texts read. segments: ``[T]`` text index of each token.
        preds: ``[T]`` ``preds[t]`` = the suspect's top-1 next token after ``ids[: t + 1]`` of its text.
        source: public identity of the suspect that predicted.
        mean_logprobs: ``[V]`` the suspect's next-token log-probabilities averaged over every position read
            (for the ``rank`` statistic), or ``None`` when the suspect did not give them.
        window_ids: ``[W, h]`` the W most frequent context windows of the text read (column 0 = the most recent
            token; most frequent first), read for the rank statistic of h >= 1 keys; else ``None``.
        window_logprobs: ``[W, V]`` the suspect's next-token log-probabilities averaged over each window's
            positions. window_counts: ``[W]`` positions per window.
        bucket_logprobs: ``[B, V]`` (h = 0 reading with ``curve_buckets``) the same average over each of B
            consecutive groups of texts; bucket_counts: ``[B]`` positions per group. They give the evidence
            curve of a report (log10 p as more text is read) without a second pass.
    """

    ids: np.ndarray
    segments: np.ndarray
    preds: np.ndarray
    source: str = "suspect"
    mean_logprobs: np.ndarray | None = None
    window_ids: np.ndarray | None = None
    window_logprobs: np.ndarray | None = None
    window_counts: np.ndarray | None = None
    bucket_logprobs: np.ndarray | None = None
    bucket_counts: np.ndarray | None = None

    @property
    def n_texts(self) -> int:
        """Number of texts read."""
        return int(self.segments.max()) + 1 if len(self.segments) else 0


@dataclass
class KeyScore:
    """The test of one key (or account sub-key) against one suspect.

    ``statistic`` is ``"coins"`` (exact binomial test: ``green`` of ``scored`` distinct coins, rate
    ``green_fraction`` vs ``gamma``) or ``"rank"`` (rank test: ``green`` of ``scored`` vocabulary entries are
    green, ``green_fraction`` is their mean normalised rank and ``gamma`` its null mean, 0.5).
    """

    key_fingerprint: str
    account: str | None
    scored: int
    green: int
    gamma: float
    green_fraction: float
    z: float
    p_value: float
    log10_p: float
    p_holm: float = math.nan
    log10_p_holm: float = math.nan
    detected: bool = False
    statistic: str = "coins"

    def describe(self) -> str:
        """One phrase for verdict lines, e.g. ``green 35/63 = 0.556 vs gamma 0.250``."""
        if self.statistic == "rank":
            return (f"green tokens' mean rank {self.green_fraction:.4f} vs {self.gamma:.1f} "
                    f"({self.green} green of {self.scored} ranked)")
        return f"green {self.green}/{self.scored} = {self.green_fraction:.3f} vs gamma {self.gamma:.3f}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class RadioactivityReport:
    """Verdict of a radioactivity test: every figure DESIGN.md contract 7 asks for.

    ``detected`` is true when at least one key's Holm-adjusted p-value is at most ``alpha``;
    ``attributed`` lists the accounts (or key fingerprints) flagged, most significant first.
    """

    mode: str
    suspect: str
    alpha: float
    results: list[KeyScore]
    units: dict[str, Any]
    spec: dict[str, Any]
    test: str = "one-sided exact binomial test of green coins vs gamma, Holm-adjusted over keys"
    notes: list[str] = field(default_factory=list)
    command: str = ""
    seconds: float = 0.0
    #: flagged keys whose evidence is explained by another flagged key's green lists (see :func:`attribute`)
    explained: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the best key's evidence as it grows: ``{"texts", "tokens", "scored", "log10_p"}`` on growing prefixes of
    #: the texts read (reading) or answers (generation); empty where it is not computed (h >= 1 rank statistic)
    curve: list[dict[str, float]] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        """Whether any key is flagged at ``alpha`` after Holm's correction."""
        return any(r.detected for r in self.results)

    @property
    def attributed(self) -> list[str]:
        """Flagged accounts (or fingerprints for keys without account), most significant first."""
        flagged = sorted((r for r in self.results if r.detected), key=lambda r: r.log10_p)
        names = [r.account or r.key_fingerprint for r in flagged]
        return [n for n in names if n not in self.explained]

    @property
    def best(self) -> KeyScore:
        """The key with the smallest p-value."""
        return min(self.results, key=lambda r: r.log10_p)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (no secret: keys appear only by public fingerprint)."""
        b = self.best
        return {
            "verdict": "detected" if self.detected else "not detected",
            "detected": self.detected,
            "attributed_to": self.attributed,
            "explained_by_overlap": self.explained,
            "mode": self.mode,
            "test": self.test,
            "statistic": {"kind": b.statistic, "green": b.green, "scored": b.scored,
                          "green_fraction": b.green_fraction, "z": b.z},
            "p_value": b.p_value,
            "log10_p": b.log10_p,
            "p_holm": b.p_holm,
            "log10_p_holm": b.log10_p_holm,
            "threshold": {"alpha": self.alpha, "applied_to": "Holm-adjusted p-value", "keys_tested": len(self.results)},
            "key_fingerprint": b.key_fingerprint,
            "suspect": self.suspect,
            "units": self.units,
            "spec": self.spec,
            "results": [r.to_dict() for r in self.results],
            "notes": self.notes,
            "curve": self.curve,
            "versions": versions(),
            "command": self.command,
            "seconds": round(self.seconds, 3),
        }


def versions() -> dict[str, str]:
    """Versions of the software that produced a verdict (for reports).

    Example:
        >>> from distillguard.detect.radioactivity import versions
        >>> "distillguard" in versions()
        True
    """
    import scipy

    import distillguard

    out = {"distillguard": distillguard.__version__, "python": platform.python_version(),
           "numpy": np.__version__, "scipy": scipy.__version__}
    for mod in ("torch", "transformers"):
        if mod in sys.modules:
            out[mod] = sys.modules[mod].__version__
    return out


def account_keys(key: WatermarkKey, accounts: Sequence[str] | None) -> list[WatermarkKey]:
    """The keys to test: the account sub-keys of ``key``'s master, or ``[key]`` when no account is given.

    Example:
        >>> from distillguard.keys import WatermarkKey
        >>> [k.account for k in account_keys(WatermarkKey(b"\\x01" * 32), ["a", "b"])]
        ['a', 'b']
    """
    if not accounts:
        return [key]
    names = [str(a).strip() for a in accounts]
    if any(not a for a in names):
        raise DistillguardError("empty account id in the account list")
    if len(set(names)) != len(names):
        raise DistillguardError("duplicate account ids in the account list")
    master = key.master()
    return [master.for_account(a) for a in names]


# -- reading mode ---------------------------------------------------------------------------------------------
def read_predictions(suspect: Any, sequences: Sequence[Sequence[int]], *, batch_size: int = 8,
                     context_width: int = 0, n_windows: int = 64, curve_buckets: int = 0) -> Predictions:
    """Run the suspect once over token sequences and keep its top-1 predictions (key-independent).

    Suspects with local weights also give their averaged next-token distribution and, with ``context_width``
    h >= 1, its average over the positions of each of the ``n_windows`` most frequent h-token context windows
    (the rank statistic of h >= 1 keys). Which windows are kept depends on the text alone, not on any key.
    With h = 0 and ``curve_buckets`` B > 0 it also averages over B consecutive groups of the sequences
    (``bucket_logprobs``), from which a report draws its evidence curve.

    Example:
        >>> from distillguard.detect.radioactivity import read_predictions  # doctest: +SKIP
        >>> preds = read_predictions(LocalSuspect.load(None), [[1, 2, 3]])  # doctest: +SKIP
    """
    seqs = [list(map(int, s)) for s in sequences if len(s) > 0]
    if not seqs:
        raise DistillguardError("nothing to read: every text is empty")
    mean_lp = window_ids = window_lp = window_counts = bucket_lp = bucket_counts = None
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
        out, mean_lp, group_lp = suspect.reading_pass(seqs, batch_size=batch_size, groups=groups, n_groups=n_groups)
        if context_width > 0:
            window_lp = group_lp
        else:
            bucket_lp = group_lp
    else:
        out = suspect.next_token_predictions(seqs, batch_size=batch_size)
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    segments = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
    preds = np.concatenate([np.asarray(p, dtype=np.int64) for p in out])
    return Predictions(ids, segments, preds, getattr(suspect, "identity", "suspect"), mean_lp, window_ids,
                       None if window_lp is None else window_lp.astype(np.float32), window_counts, bucket_lp,
                       bucket_counts)


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


def _reading_tuples(preds: Predictions, spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (context window, predicted token) tuples: ``windows [n, h]`` and ``tokens [n]``.

    The window of the prediction made after position t is ``ids[t], ids[t-1], ..., ids[t-h+1]`` (column 0
    = the most recent token), the same context the processor would have seeded the next token's list from.
    """
    h, V = spec.context_width, spec.vocab_size
    ids, seg, tok = preds.ids, preds.segments, preds.preds
    n = len(ids)
    pos = np.arange(n)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(seg)) + 1]) if n else np.zeros(0, np.int64)
    seg_start = starts[np.searchsorted(starts, pos, side="right") - 1] if n else pos
    ok = (pos - seg_start >= h - 1) & (tok >= 0) & (tok < V)
    t = pos[ok]
    windows = np.stack([ids[t - i] for i in range(h)], axis=1) if h else np.zeros((len(t), 0), np.int64)
    tokens = tok[t]
    rows = np.concatenate([windows, tokens[:, None]], axis=1)
    if len(rows):
        rows = np.unique(rows, axis=0)
    return rows[:, :h], rows[:, h]


def _count_coins(windows: np.ndarray, tokens: np.ndarray, key: WatermarkKey, spec: WatermarkSpec) -> tuple[int, int]:
    """(distinct coins, green coins) of the (window, token) tuples under one key."""
    if len(tokens) == 0:
        return 0, 0
    material = key_material(key, spec)
    V = spec.vocab_size
    seeds = context_seeds_np(material, windows, tokens)
    p, o = seed_to_arc_np(seeds, spec)
    green = is_green_np(p, o, tokens, material.positions, spec)
    coin = (p * V + o) * V + tokens
    _, first = np.unique(coin, return_index=True)
    return len(first), int(green[first].sum())


def _text_tuples(ids: np.ndarray, segments: np.ndarray, spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (context window, token) tuples of texts (generation mode), windows as in :func:`_reading_tuples`."""
    h = spec.context_width
    ids, segments = np.asarray(ids, np.int64), np.asarray(segments, np.int64)
    n = len(ids)
    pos = np.arange(n)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(segments)) + 1]) if n else np.zeros(0, np.int64)
    seg_start = starts[np.searchsorted(starts, pos, side="right") - 1] if n else pos
    t = pos[pos - seg_start >= h]
    windows = np.stack([ids[t - 1 - i] for i in range(h)], axis=1) if h else np.zeros((len(t), 0), np.int64)
    rows = np.concatenate([windows, ids[t][:, None]], axis=1)
    if len(rows):
        rows = np.unique(rows, axis=0)
    return rows[:, :h], rows[:, h]


def _arcs(windows: np.ndarray, tokens: np.ndarray, key: WatermarkKey, spec: WatermarkSpec):
    material = key_material(key, spec)
    p, o = seed_to_arc_np(context_seeds_np(material, windows, tokens), spec)
    return material, p, o, is_green_np(p, o, tokens, material.positions, spec)


def conditional_test(windows: np.ndarray, tokens: np.ndarray, key_x: WatermarkKey, key_y: WatermarkKey,
                     spec: WatermarkSpec) -> dict[str, Any]:
    """Is key X's evidence explained by key Y? Test X only on the coins that are *red* under Y.

    Sub-keys of one master share the keyed vocabulary orders, so two accounts' green lists can overlap (with
    h = 0 each account has a single list, and a pair can share much of it): a student that learned Y's list
    then also tests positive for X. Under H0' "the suspect learned nothing about X beyond Y", a token that
    is red under Y lies in X's list with probability ``q = |X ∩ not-Y| / |not-Y|`` (the orders are keyed
    random permutations, independent of language). The count of X-green coins among Y-red ones is then a
    Poisson-binomial with these ``q``; its upper tail is bounded by the binomial with their mean (Hoeffding
    1956), so the binomial p-value reported here is valid (conservative).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import conditional_test
        >>> m = WatermarkKey(b"\x05" * 32, WatermarkSpec(vocab_size=400, context_width=0))
        >>> r = conditional_test(np.zeros((50, 0), np.int64), np.arange(50), m.for_account("a"), m.for_account("b"),
        ...                      m.spec)
        >>> 0 <= r["p_value"] <= 1
        True
    """
    V, G = spec.vocab_size, spec.green_size
    mx, px, ox, gx = _arcs(windows, tokens, key_x, spec)
    my, py, oy, gy = _arcs(windows, tokens, key_y, spec)
    coin = (px * V + ox) * V + tokens
    _, first = np.unique(coin, return_index=True)  # X's coins, counted once, as in its own test
    keep = first[~gy[first]]
    if len(keep) == 0:
        return {"scored": 0, "green": 0, "q_mean": math.nan, "p_value": 1.0, "log10_p": 0.0}
    # q per coin: |X arc minus Y arc| / (V - G); computed once per distinct pair of arcs
    pairs, inv = np.unique(np.stack([px[keep], ox[keep], py[keep], oy[keep]], axis=1), axis=0, return_inverse=True)
    q = np.empty(len(pairs))
    span = np.arange(G)
    for j, (a, b, c, d) in enumerate(pairs):
        x_tokens = mx.orders[a][(b + span) % V]  # the tokens of X's arc
        in_y = (my.positions[c][x_tokens] - d) % V < G
        q[j] = (G - int(in_y.sum())) / (V - G)
    qm = float(q[np.asarray(inv).ravel()].mean())
    k = int(gx[keep].sum())
    pv, lp, _ = binom_test(k, len(keep), qm)
    return {"scored": int(len(keep)), "green": k, "q_mean": qm, "p_value": pv, "log10_p": lp}


def attribute(report: RadioactivityReport, windows: np.ndarray, tokens: np.ndarray,
              keys: Sequence[WatermarkKey], spec: WatermarkSpec) -> RadioactivityReport:
    """Explain away flagged accounts whose evidence another flagged account's green lists account for.

    Every flagged key X is tested on the coins red under the most significant *other* flagged key Y
    (:func:`conditional_test`); X stays attributed when that conditional p-value is <= alpha / #flagged
    (Bonferroni). The true source survives (its list predicts the suspect where Y's does not); a key that
    only overlaps it does not. Fills ``report.explained``; returns the report.

    Example:
        >>> from distillguard.detect.radioactivity import attribute  # doctest: +SKIP
    """
    flagged = sorted((i for i, r in enumerate(report.results) if r.detected),
                     key=lambda i: report.results[i].log10_p)
    if len(flagged) < 2:
        return report
    if spec.seeding == "min":  # the arc depends on the candidate token itself: q has no closed form here
        report.notes.append("attribution: overlap between flagged keys not explained away (min seeding)")
        return report
    level = report.alpha / len(flagged)
    for i in flagged:
        j = next(f for f in flagged if f != i)
        cond = conditional_test(windows, tokens, keys[i], keys[j], spec)
        name = report.results[i].account or report.results[i].key_fingerprint
        if cond["p_value"] > level:
            report.explained[name] = {"by": report.results[j].account or report.results[j].key_fingerprint,
                                      "conditional_p": cond["p_value"], "conditional_log10_p": cond["log10_p"],
                                      "scored_red_coins": cond["scored"], "green": cond["green"],
                                      "expected_rate": cond["q_mean"]}
    return report


def _finish(keys: Sequence[WatermarkKey], counts: list[tuple[int, int]], spec: WatermarkSpec,
            alpha: float) -> list[KeyScore]:
    gamma = spec.effective_gamma
    out = []
    for k, (scored, green) in zip(keys, counts):
        p, lp, z = binom_test(green, scored, gamma)
        out.append(KeyScore(k.fingerprint, k.account, scored, green, gamma,
                            green / scored if scored else math.nan, z, p, lp))
    return _holm_fill(out, alpha)


def _holm_fill(out: list[KeyScore], alpha: float) -> list[KeyScore]:
    """Holm-adjust the keys' p-values in place and flag those at most ``alpha``."""
    m = len(out)
    adj = holm([r.p_value for r in out])
    # log10 of the Holm-adjusted value, exact in the deep tail: holm = min(1, max_{j<=i} (m-j+1) p_(j))
    order = np.argsort([r.log10_p for r in out], kind="stable")
    running = -math.inf
    for rank, i in enumerate(order):
        running = max(running, math.log10(m - rank) + out[i].log10_p)
        out[i].log10_p_holm = min(0.0, running)
        out[i].p_holm = float(adj[i])
        out[i].detected = bool(out[i].scored > 0 and out[i].log10_p_holm <= math.log10(alpha))
    return out


def score_predictions(
    preds: Predictions, keys: Sequence[WatermarkKey], *, spec: WatermarkSpec | None = None,
    alpha: float = DEFAULT_ALPHA,
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
    counts = [_count_coins(windows, tokens, k, spec) for k in keys]
    return _finish(keys, counts, spec, alpha)


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
    alpha: float = DEFAULT_ALPHA, reference: np.ndarray | None = None, support: np.ndarray | None = None,
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
    if top is not None:
        if not 1 <= top < len(lp):
            raise DistillguardError(f"--reading-top {top}: choose 1 <= top < {len(lp)} (the entries ranked)")
        log10_p, z, share = top_count_test(lp, masks, top)
        n = masks.sum(axis=1)
        out = [KeyScore(k.fingerprint, k.account, top, int(round(share[i] * top)), float(n[i] / len(lp)),
                        float(share[i]), float(z[i]), 10.0 ** float(log10_p[i]), float(log10_p[i]), statistic="top")
               for i, k in enumerate(keys)]
        return _holm_fill(out, alpha)
    log10_p, z, mean = rank_sum_test(lp, masks, block_last=untrained_last)
    n = masks.sum(axis=1)
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
    alpha: float = DEFAULT_ALPHA,
) -> list[KeyScore]:
    """Rank test of h >= 1 keys (``left`` seeding) on the suspect's distribution after frequent context windows.

    Each kept window has its own green list, an arc of one of the key's keyed vocabulary orders. For every
    order, the most frequent window whose list comes from that order is used (at most ``num_permutations``
    windows): those lists are then independent uniformly random subsets -- different orders are independent
    permutations, and a window's arc offset is independent of which order it selects -- so the pooled
    rank sum of their green tokens has the Chernoff bound of
    :func:`~distillguard.detect.stats.blocked_rank_sum_test`. Using two windows of one order would make their
    lists dependent (arcs of the same permutation) and the bound invalid.

    Sibling account sub-keys share the master's vocabulary orders, so a student that learned one account's
    lists also shifts its siblings' statistics; :func:`reading_test` therefore attributes only the strongest
    account under this statistic.

    Example:
        >>> from distillguard.detect.radioactivity import score_window_ranks  # doctest: +SKIP
        >>> score_window_ranks(read_predictions(student, seqs, context_width=1), [key])[0].log10_p  # doctest: +SKIP
    """
    if not keys:
        raise DistillguardError("no key to test")
    spec = spec or keys[0].require_spec()
    h, V = spec.context_width, spec.vocab_size
    if h == 0 or spec.seeding != "left":
        raise DistillguardError("the windowed rank statistic needs an h >= 1 key with left seeding")
    if preds.window_ids is None or preds.window_logprobs is None or len(preds.window_ids) == 0:
        raise DistillguardError("the rank statistic for h >= 1 keys needs the suspect's distribution per context "
                                "window (read with local weights and context_width = h)")
    if preds.window_ids.shape[1] != h:
        raise DistillguardError(f"windows were read for h = {preds.window_ids.shape[1]}, the key has h = {h}")
    lp = np.asarray(preds.window_logprobs, dtype=np.float64)
    if lp.shape[1] < V:
        raise DistillguardError(f"the suspect's distribution has {lp.shape[1]} entries, the key's vocabulary {V}")
    ranked = [rank_scores(row) for row in lp[:, :V]]  # once per window, shared by every key
    tokens = np.arange(V, dtype=np.int64)
    out = []
    for k in keys:
        m = key_material(k, spec)
        p, o = seed_to_arc_np(context_seeds_np(m, preds.window_ids, np.zeros(len(preds.window_ids), np.int64)), spec)
        _, first = np.unique(p, return_index=True)  # windows are most frequent first: the first of each order
        green = is_green_np(p[first][:, None], o[first][:, None], tokens[None, :], m.positions, spec)
        log10_p, z, mean = blocked_rank_sum_test_ranked([ranked[i] for i in first], green)
        out.append(KeyScore(k.fingerprint, k.account, int(len(first)) * V, int(green.sum()), 0.5, mean, z,
                            10.0**log10_p, log10_p, statistic="rank"))
    return _holm_fill(out, alpha)


def can_read(suspect: Any, spec: WatermarkSpec) -> bool:
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


def _check_reading_tokenizer(suspect: Any, spec: WatermarkSpec) -> None:
    from distillguard.detect.text import check_tokenizer

    tok = getattr(suspect, "tokenizer", None)
    if tok is None or not getattr(suspect, "can_read", False):
        raise DistillguardError(
            f"{suspect.identity}: reading mode needs local weights; use --mode generation for this suspect")
    try:
        check_tokenizer(tok, spec)
    except DistillguardError as exc:
        raise DistillguardError(
            f"{exc}; reading mode needs the teacher's tokenizer: use --mode generation for this suspect") from None


def reading_test(
    suspect: Any,
    keys: Sequence[WatermarkKey],
    texts: Sequence[str] | None = None,
    *,
    n_texts: int = 200,
    max_tokens: int = 256,
    alpha: float = DEFAULT_ALPHA,
    batch_size: int = 8,
    allow_keyed_text: bool = False,
    predictions: Predictions | None = None,
    statistic: str = "auto",
    reference: Any = None,
    vocabulary_texts: Sequence[str] | None = None,
    untrained_last: bool = False,
    unigram_texts: Sequence[str] | None = None,
    top: int | None = None,
) -> RadioactivityReport:
    """Reading-mode radioactivity test of a local suspect that shares the teacher's tokenizer.

    ``texts`` default to ``n_texts`` held-out ShareGPT answers (independent of every key). Texts that
    themselves test positive (p <= 0.01, Bonferroni over the keys) for a key under test are refused unless ``allow_keyed_text``:
    reading them is biased (DESIGN.md contract 4). Pass ``predictions`` to reuse a previous reading.
    ``statistic``: ``rank`` (local weights; h = 0 keys, or h >= 1 keys with left seeding), ``top1``, or
    ``auto`` (``rank`` for h = 0 keys, else ``top1``); see the module docstring. ``reference`` (rank statistic only): a local
    model *independent of the key* -- typically the untouched teacher -- that reads the same text; the
    vocabulary is then ranked by the suspect's mean log-probability minus the reference's, which cancels the
    preferences a fine-tuned copy of that model keeps (see :func:`score_ranks`). ``vocabulary_texts`` (rank
    statistic, h = 0 keys): answers written by the teacher *without* watermark; only the vocabulary entries
    they contain are ranked (:func:`teacher_vocabulary`), which drops entries no student of the teacher can
    have learned the mark on. ``untrained_last`` (rank statistic, h = 0 keys): a large block of entries the
    suspect scores identically (never-trained output rows) ranks last (see :func:`score_ranks`).
    ``unigram_texts`` (rank statistic, h = 0 keys; instead of ``reference``): public text that no tested key
    marked; the vocabulary is ranked by the suspect's mean log-probability minus each entry's log-frequency in
    that text (:func:`unigram_logprobs`), which removes what a student learned from public data. ``top``
    (rank statistic, h = 0 keys): count the key's green entries among the ``top`` entries ranked highest
    instead of ranking them all (see :func:`score_ranks`).

    Example:
        >>> from distillguard.detect.radioactivity import reading_test  # doctest: +SKIP
        >>> reading_test(LocalSuspect.load("student/"), [key], n_texts=100).detected  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if not keys:
        raise DistillguardError("no key to test")
    if statistic not in ("auto", "rank", "top1"):
        raise DistillguardError(f"unknown reading statistic {statistic!r}: use auto, rank or top1")
    spec = keys[0].require_spec()
    if statistic == "rank" and spec.context_width > 0 and spec.seeding != "left":
        raise DistillguardError("the rank statistic supports h = 0 keys and h >= 1 keys with left seeding: "
                                "use --reading-statistic top1")
    if reference is not None and spec.context_width > 0:
        raise DistillguardError("a reading reference model is supported for h = 0 keys only")
    notes = []
    if predictions is None:
        _check_reading_tokenizer(suspect, spec)
        if texts is None:
            from distillguard.distill.harvest import real_texts

            texts = real_texts("read", n_texts)
            notes.append(f"read {len(texts)} held-out ShareGPT answers (written by another model: key-independent)")
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        if not texts:
            raise DistillguardError("no text to read: the text list is empty")
        seqs = [suspect.tokenizer.encode(t, add_special_tokens=False)[:max_tokens] for t in texts]
        h0_rank = spec.context_width == 0 and statistic in ("auto", "rank")  # only its curve needs the buckets
        predictions = read_predictions(suspect, seqs, batch_size=batch_size,
                                       context_width=spec.context_width if statistic == "rank" else 0,
                                       curve_buckets=CURVE_POINTS if h0_rank else 0)
    _guard_keyed_text(predictions, keys, spec, allow_keyed_text, notes)
    if statistic == "auto":  # h >= 1 keys keep top-1 coins unless asked: see the module docstring
        statistic = "rank" if spec.context_width == 0 and predictions.mean_logprobs is not None else "top1"
    if statistic == "rank" and predictions.mean_logprobs is None:
        raise DistillguardError("the rank statistic needs the suspect's next-token distribution (local weights)")
    units = {"texts_read": predictions.n_texts, "tokens_read": int(len(predictions.ids)), "statistic": statistic}
    if reference is not None and statistic != "rank":
        raise DistillguardError("a reading reference model is used only by the rank statistic (h = 0 keys)")
    if reference is not None and unigram_texts is not None:
        raise DistillguardError("choose one reading reference: a reference model or unigram texts, not both")
    h0_rank_options = [name for name, on in (("vocabulary texts", vocabulary_texts is not None),
                                             ("unigram texts", unigram_texts is not None),
                                             ("ranking never-trained entries last", untrained_last),
                                             ("the head of the ranking (top)", top is not None)) if on]
    if h0_rank_options and (statistic != "rank" or spec.context_width > 0):
        raise DistillguardError(f"{' and '.join(h0_rank_options)}: only for the rank statistic with h = 0 keys")
    curve: list[dict[str, float]] = []  # none for the h >= 1 rank statistic (its windows are not bucketed)
    if statistic == "rank" and spec.context_width > 0:
        results = score_window_ranks(predictions, keys, spec=spec, alpha=alpha)
        units["scored_unit"] = ("vocabulary entry after a frequent context window (one window per keyed order), "
                                "ranked by the suspect's mean next-token log-probability there")
        test = ("one-sided rank test: mean rank of the green tokens of one frequent window per keyed order vs "
                "random subsets (Wilcoxon rank sum, Chernoff bound, independent blocks), Holm-adjusted over keys")
    elif statistic == "rank":
        ref_lp = None
        if reference is not None:
            _check_reading_tokenizer(reference, spec)
            ref_lp = read_predictions(reference, _sequences(predictions), batch_size=batch_size).mean_logprobs
            units["reference"] = getattr(reference, "identity", "reference")
            notes.append(f"ranked by log-probability relative to the reference {units['reference']}")
        tok = getattr(suspect, "tokenizer", None)
        if tok is None and (vocabulary_texts is not None or unigram_texts is not None):
            raise DistillguardError("vocabulary and unigram texts need the suspect's tokenizer (a local suspect)")
        if unigram_texts is not None:
            texts_u = [t for t in unigram_texts if isinstance(t, str) and t.strip()]
            if not texts_u:
                raise DistillguardError("no unigram text: the list is empty")
            ref_lp = unigram_logprobs([tok.encode(t, add_special_tokens=False) for t in texts_u], spec.vocab_size)
            units["reference"] = f"unigram log-frequency of {len(texts_u)} public texts"
            notes.append(f"ranked by log-probability relative to the {units['reference']}")
        support = None
        if vocabulary_texts is not None:
            texts_v = [t for t in vocabulary_texts if isinstance(t, str) and t.strip()]
            if not texts_v:
                raise DistillguardError("no vocabulary text: the list is empty")
            support = teacher_vocabulary([tok.encode(t, add_special_tokens=False) for t in texts_v],
                                         spec.vocab_size)
            units["vocabulary_texts"], units["ranked_entries"] = len(texts_v), int(support.sum())
            notes.append(f"ranked only the {int(support.sum())} vocabulary entries of {len(texts_v)} teacher texts")
        results = score_ranks(predictions.mean_logprobs, keys, spec=spec, alpha=alpha, reference=ref_lp,
                              support=support, untrained_last=untrained_last, top=top)
        curve = _rank_curve(predictions, _best_key(keys, results), spec, reference=ref_lp, support=support,
                            untrained_last=untrained_last, top=top)
        units["scored_unit"] = "vocabulary entry, ranked by the suspect's mean next-token log-probability" + (
            " minus the reference's" if ref_lp is not None else "") + (
            " (the teacher's vocabulary only)" if support is not None else "") + (
            "; a tied block of never-trained entries ranks last" if untrained_last else "")
        test = ("one-sided rank test: mean rank of the key's green tokens vs a random subset (Wilcoxon rank "
                "sum, exact Chernoff bound), Holm-adjusted over keys")
        if top is not None:
            units["top"] = top
            test = (f"one-sided exact hypergeometric test: the key's green entries among the {top} entries ranked "
                    "highest vs a random subset, Holm-adjusted over keys")
    else:
        results = score_predictions(predictions, keys, spec=spec, alpha=alpha)
        curve = _coin_curve(predictions, _best_key(keys, results), spec)
        units["scored_unit"] = "distinct green coin of (context window, top-1 prediction)"
        test = RadioactivityReport.test
    report = RadioactivityReport("reading", predictions.source, alpha, results, units, spec.to_dict(), test=test,
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


CURVE_POINTS = 8  # prefixes of the texts (answers) on which a report shows the best key's evidence growing


def _prefix_sizes(n: int, points: int = CURVE_POINTS) -> list[int]:
    """How many of ``n`` texts each point of an evidence curve covers: ceil(n j / points), j = 1..points, distinct.
    The same boundaries as :func:`read_predictions`' buckets (text i goes to bucket i * points // n)."""
    return sorted({-(-n * j // points) for j in range(1, points + 1)})


def _best_key(keys: Sequence[WatermarkKey], results: Sequence[KeyScore]) -> WatermarkKey:
    """The key whose result has the smallest p-value (results are in the order of ``keys``)."""
    return keys[int(np.argmin([r.log10_p for r in results]))]


def _rank_curve(preds: Predictions, key: WatermarkKey, spec: WatermarkSpec, **options: Any) -> list[dict[str, float]]:
    """The h = 0 rank statistic of ``key`` on growing prefixes of the texts read (from the per-bucket means)."""
    if preds.bucket_logprobs is None or preds.bucket_counts is None or spec.context_width > 0:
        return []
    counts = np.asarray(preds.bucket_counts, dtype=np.float64)
    cum = np.cumsum(np.asarray(preds.bucket_logprobs, dtype=np.float64) * counts[:, None], axis=0)
    texts = _prefix_sizes(preds.n_texts, len(counts))
    out = []
    for b in range(len(counts)):
        r = score_ranks(cum[b] / counts[: b + 1].sum(), [key], spec=spec, **options)[0]
        out.append({"texts": texts[b], "tokens": int(counts[: b + 1].sum()), "scored": r.scored,
                    "log10_p": r.log10_p})
    return out


def _coin_curve(preds: Predictions, key: WatermarkKey, spec: WatermarkSpec) -> list[dict[str, float]]:
    """The coins test of ``key`` on growing prefixes of the texts read."""
    n = preds.n_texts
    out = []
    for k in _prefix_sizes(n):
        m = preds.segments < k
        r = score_predictions(Predictions(preds.ids[m], preds.segments[m], preds.preds[m]), [key], spec=spec)[0]
        out.append({"texts": k, "tokens": int(m.sum()), "scored": r.scored, "log10_p": r.log10_p})
    return out


def _sequences(preds: Predictions) -> list[list[int]]:
    """The token sequences a :class:`Predictions` was read from."""
    cuts = np.flatnonzero(np.diff(preds.segments)) + 1
    return [part.tolist() for part in np.split(preds.ids, cuts) if len(part)]


def _guard_keyed_text(preds: Predictions, keys: Sequence[WatermarkKey], spec: WatermarkSpec,
                      allow: bool, notes: list[str]) -> None:
    from distillguard.detect.text import green_coins

    worst = 0.0
    worst_fp = ""
    for k in keys:
        _, coin, green = green_coins(preds.ids, preds.segments, k, spec)
        _, first = np.unique(coin, return_index=True)
        _, lp, _ = binom_test(int(green[first].sum()), len(first), spec.effective_gamma)
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


# -- generation mode ------------------------------------------------------------------------------------------
def score_generated(
    answers: Sequence[str], tokenizer: Any, keys: Sequence[WatermarkKey], *, alpha: float = DEFAULT_ALPHA
) -> tuple[list[KeyScore], int]:
    """Re-tokenise answers with the teacher's tokenizer and score them, deduplicating coins across answers.

    Returns ``(scores per key, tokens)``.

    Example:
        >>> from distillguard.detect.radioactivity import score_generated  # doctest: +SKIP
        >>> scores, n = score_generated(["some answer"], teacher_tokenizer, [key])  # doctest: +SKIP
    """
    from distillguard.detect.text import check_tokenizer, green_coins

    if not keys:
        raise DistillguardError("no key to test")
    spec = keys[0].require_spec()
    check_tokenizer(tokenizer, spec)
    seqs = [tokenizer.encode(a, add_special_tokens=False) for a in answers]
    seqs = [s for s in seqs if len(s)]
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]) if seqs else np.zeros(0, np.int64)
    segments = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs]) if seqs else np.zeros(0, np.int64)
    counts = []
    for k in keys:
        _, coin, green = green_coins(ids, segments, k, spec)
        _, first = np.unique(coin, return_index=True)  # dedup across all answers, not per answer
        counts.append((len(first), int(green[first].sum())))
    return _finish(keys, counts, spec, alpha), int(len(ids))


def generation_test(
    suspect: Any,
    keys: Sequence[WatermarkKey],
    teacher_tokenizer: Any,
    prompts: Sequence[str] | None = None,
    *,
    n_prompts: int = 200,
    max_new_tokens: int = 128,
    temperature: float = 0.7,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
) -> RadioactivityReport:
    """Generation-mode test: prompt the suspect (any tokenizer, local or HTTP) and score its answers.

    ``prompts`` default to ``n_prompts`` real human prompts from ShareGPT.

    Example:
        >>> from distillguard.detect.radioactivity import generation_test  # doctest: +SKIP
        >>> generation_test(open_suspect("http://127.0.0.1:8000/v1"), [key], load_tokenizer()).detected  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    notes = []
    if prompts is None:
        from distillguard.data import sharegpt_prompts

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
    best, curve = _best_key(keys, results), []
    for k in _prefix_sizes(len(answers)):
        (r,), tokens = score_generated(answers[:k], teacher_tokenizer, [best], alpha=alpha)
        curve.append({"texts": k, "tokens": tokens, "scored": r.scored, "log10_p": r.log10_p})
    report = RadioactivityReport("generation", suspect.identity, alpha, results, units, spec.to_dict(), notes=notes,
                                 curve=curve)
    if sum(r.detected for r in results) > 1:
        seqs = [s for s in (teacher_tokenizer.encode(a, add_special_tokens=False) for a in answers) if s]
        ids = np.concatenate([np.asarray(s, np.int64) for s in seqs])
        segs = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])
        attribute(report, *_text_tuples(ids, segs, spec), keys, spec)
    report.seconds = time.perf_counter() - t0
    return report
