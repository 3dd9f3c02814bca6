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

One module per job: :mod:`~.result` (the report), :mod:`~.predictions` (what was read), :mod:`~.statistics`
(coins, rank, top-K), :mod:`~.reading` and :mod:`~.options` (reading mode), :mod:`~.generation`,
:mod:`~.attribution` (accounts), :mod:`~.curves` (evidence as more text is read), :mod:`~.variants` (several
reading statistics in one call, Bonferroni-corrected: :func:`reading_variants_test`).

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

# the public API; the `X as X` imports are names other code imports from here (kept importable)
from distillguard.detect.radioactivity.attribution import account_keys, attribute, conditional_test
from distillguard.detect.radioactivity.curves import CURVE_POINTS as CURVE_POINTS
from distillguard.detect.radioactivity.curves import _best_key as _best_key
from distillguard.detect.radioactivity.curves import _prefix_sizes as _prefix_sizes
from distillguard.detect.radioactivity.generation import generation_test, score_generated
from distillguard.detect.radioactivity.options import ReadingOptions
from distillguard.detect.radioactivity.predictions import Predictions
from distillguard.detect.radioactivity.predictions import _reading_tuples as _reading_tuples
from distillguard.detect.radioactivity.predictions import _sequences as _sequences
from distillguard.detect.radioactivity.predictions import _text_tuples as _text_tuples
from distillguard.detect.radioactivity.reading import KEYED_TEXT_ALPHA as KEYED_TEXT_ALPHA
from distillguard.detect.radioactivity.reading import can_read, read_predictions, reading_test
from distillguard.detect.radioactivity.result import (
    DEFAULT_ALPHA,
    DEFAULT_MODEL_ALPHA,
    KeyScore,
    RadioactivityReport,
    versions,
)
from distillguard.detect.radioactivity.result import _holm_fill as _holm_fill
from distillguard.detect.radioactivity.statistics import (
    CoinTest,
    green_masks,
    pooled_coin_test,
    score_predictions,
    score_ranks,
    score_window_mass,
    score_window_mass_many,
    score_window_ranks,
    score_window_ranks_many,
    teacher_vocabulary,
    unigram_logprobs,
)
from distillguard.detect.radioactivity.variants import (
    DEFAULT_VARIANT,
    ReadingVariant,
    ReadingVariantsReport,
    parse_reading_variants,
    reading_variants_test,
)

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_MODEL_ALPHA",
    "Predictions",
    "KeyScore",
    "RadioactivityReport",
    "ReadingOptions",
    "CoinTest",
    "read_predictions",
    "pooled_coin_test",
    "score_predictions",
    "score_ranks",
    "teacher_vocabulary",
    "unigram_logprobs",
    "score_window_mass",
    "score_window_mass_many",
    "score_window_ranks",
    "score_window_ranks_many",
    "green_masks",
    "score_generated",
    "reading_test",
    "reading_variants_test",
    "parse_reading_variants",
    "ReadingVariant",
    "ReadingVariantsReport",
    "DEFAULT_VARIANT",
    "generation_test",
    "account_keys",
    "attribute",
    "can_read",
    "conditional_test",
    "versions",
]
