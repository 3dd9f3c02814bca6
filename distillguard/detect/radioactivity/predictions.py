"""What a suspect read and predicted (:class:`Predictions`), and the distinct (context window, token) tuples drawn
from it -- the units the coin statistics and the attribution test count.

Example:
    >>> import numpy as np
    >>> from distillguard.keys import WatermarkSpec
    >>> p = Predictions(np.array([1, 2, 1, 2]), np.zeros(4, np.int64), np.array([5, 6, 5, 6]))
    >>> windows, tokens = _reading_tuples(p, WatermarkSpec(vocab_size=100))
    >>> windows[:, 0].tolist(), tokens.tolist()  # (1 -> 5) and (2 -> 6), each once
    ([1, 2], [5, 6])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from distillguard.keys import WatermarkSpec

__all__ = ["Predictions"]


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
        window_probs: ``[W, V]`` the suspect's next-token *probabilities* averaged over each window's positions
            (the ``mass`` statistic of h >= 1 keys), read with ``window_logprobs``.

    Example:
        >>> import numpy as np
        >>> Predictions(np.array([1, 2, 3]), np.array([0, 0, 1]), np.array([2, 3, 4])).n_texts
        2
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
    window_probs: np.ndarray | None = None

    @property
    def n_texts(self) -> int:
        """Number of texts read."""
        return int(self.segments.max()) + 1 if len(self.segments) else 0


def _concat(seqs: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token sequences as one stream: ``(ids [T], segments [T])``, segment = the sequence's index in ``seqs``
    (empty sequences leave a gap in the numbering, which no statistic sees: only segment changes count)."""
    if not len(seqs):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    return ids, np.repeat(np.arange(len(seqs)), [len(s) for s in seqs])


def _sequences(preds: Predictions) -> list[list[int]]:
    """The token sequences a :class:`Predictions` was read from."""
    cuts = np.flatnonzero(np.diff(preds.segments)) + 1
    return [part.tolist() for part in np.split(preds.ids, cuts) if len(part)]


def _segment_starts(segments: np.ndarray) -> np.ndarray:
    """``[T]`` the position of the first token of each position's segment."""
    n = len(segments)
    pos = np.arange(n)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(segments)) + 1]) if n else np.zeros(0, np.int64)
    return starts[np.searchsorted(starts, pos, side="right") - 1] if n else pos


def _distinct(windows: np.ndarray, tokens: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of ``(windows, tokens)``, split back into ``windows [n, h]`` and ``tokens [n]``."""
    rows = np.concatenate([windows, tokens[:, None]], axis=1)
    if len(rows):
        rows = np.unique(rows, axis=0)
    return rows[:, :h], rows[:, h]


def _reading_tuples(preds: Predictions, spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (context window, predicted token) tuples: ``windows [n, h]`` and ``tokens [n]``.

    The window of the prediction made after position t is ``ids[t], ids[t-1], ..., ids[t-h+1]`` (column 0
    = the most recent token), the same context the processor would have seeded the next token's list from.
    """
    h, V = spec.context_width, spec.vocab_size
    ids, tok = preds.ids, preds.preds
    pos = np.arange(len(ids))
    ok = (pos - _segment_starts(preds.segments) >= h - 1) & (tok >= 0) & (tok < V)
    t = pos[ok]
    windows = np.stack([ids[t - i] for i in range(h)], axis=1) if h else np.zeros((len(t), 0), np.int64)
    return _distinct(windows, tok[t], h)


def _text_tuples(ids: np.ndarray, segments: np.ndarray, spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (context window, token) tuples of texts (generation mode), windows as in :func:`_reading_tuples`."""
    h = spec.context_width
    ids, segments = np.asarray(ids, np.int64), np.asarray(segments, np.int64)
    pos = np.arange(len(ids))
    t = pos[pos - _segment_starts(segments) >= h]
    windows = np.stack([ids[t - 1 - i] for i in range(h)], axis=1) if h else np.zeros((len(t), 0), np.int64)
    return _distinct(windows, ids[t], h)
