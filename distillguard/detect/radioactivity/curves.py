"""Evidence curves: the best key's statistic on growing prefixes of the texts read (or answers), so a report shows
log10 p falling as more text is read.

Example:
    >>> _prefix_sizes(20)  # 8 points: ceil(20 j / 8), j = 1..8
    [3, 5, 8, 10, 13, 15, 18, 20]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from distillguard.detect.radioactivity.predictions import Predictions
from distillguard.detect.radioactivity.result import KeyScore
from distillguard.detect.radioactivity.statistics import pooled_coin_test, score_predictions, score_ranks
from distillguard.keys import WatermarkKey, WatermarkSpec

CURVE_POINTS = 8  # prefixes of the texts (answers) on which a report shows the best key's evidence growing


def _prefix_sizes(n: int, points: int = CURVE_POINTS) -> list[int]:
    """How many of ``n`` texts each point of an evidence curve covers: ceil(n j / points), j = 1..points, distinct.
    The same boundaries as ``read_predictions``' buckets (text i goes to bucket i * points // n)."""
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
    out = []
    for k in _prefix_sizes(preds.n_texts):
        m = preds.segments < k
        r = score_predictions(Predictions(preds.ids[m], preds.segments[m], preds.preds[m]), [key], spec=spec)[0]
        out.append({"texts": k, "tokens": int(m.sum()), "scored": r.scored, "log10_p": r.log10_p})
    return out


def _text_curve(ids: np.ndarray, segments: np.ndarray, n_texts: int, key: WatermarkKey,
                spec: WatermarkSpec) -> list[dict[str, float]]:
    """The pooled coin test of ``key`` on growing prefixes of ``n_texts`` texts (``segments``: text index)."""
    out = []
    for k in _prefix_sizes(n_texts):
        m = segments < k
        t = pooled_coin_test(ids[m], segments[m], key, spec)
        out.append({"texts": k, "tokens": int(m.sum()), "scored": t.scored, "log10_p": t.log10_p})
    return out
