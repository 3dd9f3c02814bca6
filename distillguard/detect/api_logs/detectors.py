"""Detectors of harvesting accounts, scikit-learn style, with thresholds set from a target FPR on benign data.

* :class:`UnsupervisedDetector` -- fitted on traffic assumed benign. The default ``method="harvest"`` scores
  *directional* evidence: for each feature, the one-sided benign tail probability in the direction that
  harvesting pushes it (more volume, longer outputs, more reasoning/rubric prompts, round-the-clock and steady
  pacing, template reuse), with an exponential (peaks-over-threshold) fit to the top ``tail_fraction`` of
  the benign reference so that evidence keeps growing past the largest benign value; features are shrunk
  towards the benign median by account size (a fraction from 5 requests is weak evidence); evidence is grouped (max within a group, so correlated features count once), and
  the score is the sum over groups of the excess of ``-log10 p`` over a margin, capped by the distance to the
  ``novelty_k``-th nearest benign training account in that evidence space (an account whose profile matches
  known benign heavy users -- batch jobs, eval harnesses, resellers -- is not novel). ``"robust_z"`` (largest
  two-sided robust z) and ``"iforest"`` (IsolationForest) are kept as baselines.
* :class:`SupervisedDetector` -- HistGradientBoosting on labelled accounts;
* :class:`MMDWindowDetector` -- the window-level two-sample test (MMD, RBF kernel) of a client's prompt
  representations against benign traffic, the published baseline (1,500-query windows), with its threshold
  from a calibrated null of benign windows;
* :class:`HarvestWindowDetector` -- our window test on the same windows without embeddings: directional
  excess of reasoning/rubric prompts, long and max-token completions, repeated templates and near-duplicates
  over benign windows;
* :class:`AccountScorer` -- the end-to-end pipeline: features, coordinated clusters scored as pseudo-accounts,
  an account's score = max(own score, its cluster's score) (cluster evidence never lowers a score), one
  threshold calibrated on held-out benign accounts.

Conventions (scikit-learn's): every ``fit`` returns ``self``, and every method that needs a fitted estimator
raises :class:`sklearn.exceptions.NotFittedError` before ``fit``. Each detector has one score, higher = more
harvest-like (``suspicion_score``), and flags when it exceeds ``threshold_``; the other methods are views of it:

* the detectors fitted on benign traffic (:class:`UnsupervisedDetector`, :class:`MMDWindowDetector`,
  :class:`HarvestWindowDetector`) are outlier detectors (:class:`~sklearn.base.OutlierMixin`), and
  :class:`AccountScorer` follows the same convention per account: ``score_samples = -suspicion_score`` (higher =
  more normal), ``decision_function = score_samples - offset_`` with ``offset_ = -threshold_`` (negative =
  flagged), ``predict`` -1 for a flagged (harvester-like) account or window and +1 for a normal one (-1 exactly
  where ``decision_function < 0``, i.e. ``suspicion_score > threshold_``), ``flag`` the same as 0/1 (1 = flagged);
* :class:`SupervisedDetector` is a classifier: ``classes_`` from ``fit``, ``predict`` the class labels at the
  FPR-calibrated threshold (1 = harvester), ``decision_function = log-odds - threshold_`` (positive =
  ``classes_[1]``), ``predict_proba`` the model's class probabilities (not thresholded);
* ``score_accounts`` (feature-table detectors) and :meth:`AccountScorer.score_logs` return a DataFrame with
  ``account_id``, ``score`` (= ``suspicion_score``), ``flag`` (bool) and the top reasons.

Changing ``threshold_`` after ``fit`` (recalibration on held-out benign scores) moves ``offset_``, ``predict``,
``flag`` and ``decision_function`` with it.

Thresholds (:func:`threshold_for_fpr`) are finite-sample (conformal) quantiles of held-out benign scores: for a
new benign account exchangeable with the calibration accounts, P(flag) <= target FPR.

This module only gathers the public names; the code lives in one module per job: :mod:`.calibration`
(thresholds, the exponential benign tail), :mod:`._base` (feature matrix, robust scaling, reasons, the shared
flagging methods), :mod:`.account_detectors` (unsupervised and supervised account detectors),
:mod:`.window_detectors` (MMD and harvest window tests) and :mod:`.scorer` (:class:`AccountScorer`).

Example:
    >>> from distillguard.detect.api_logs.detectors import AccountScorer, threshold_for_fpr
    >>> AccountScorer.__module__, threshold_for_fpr([0.0, 1.0, 2.0], 0.5)
    ('distillguard.detect.api_logs.scorer', 1.0)
"""

from distillguard.detect.api_logs.account_detectors import (
    HARVEST_EVIDENCE,
    SupervisedDetector,
    UnsupervisedDetector,
)
from distillguard.detect.api_logs.calibration import threshold_for_fpr
from distillguard.detect.api_logs.scorer import AccountScorer
from distillguard.detect.api_logs.window_detectors import (
    WINDOW_STATISTICS,
    HarvestWindowDetector,
    MMDWindowDetector,
)

__all__ = ["HARVEST_EVIDENCE", "WINDOW_STATISTICS", "AccountScorer", "HarvestWindowDetector", "MMDWindowDetector",
           "SupervisedDetector", "UnsupervisedDetector", "threshold_for_fpr"]
