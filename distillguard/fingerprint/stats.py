"""The fingerprint test: one statistic, a p-value calibrated against independent models.

Statistic: ``T = mean_i d_i`` over the probes queried (``d_i`` from :mod:`distillguard.fingerprint.score`).

Null hypothesis H0: the suspect is one more independent model -- not derived from the teacher -- drawn
from the same population as the calibration models stored in the probe file. Its ``T`` is then
exchangeable with theirs, computed on the same probes. Two p-values:

* ``p_rank = (1 + #{T_null >= T}) / (R + 1)``: exact under exchangeability, no distributional assumption,
  but never below ``1 / (R + 1)`` with ``R`` calibration models (0.2 with 4).
* ``p_value``: Student-t prediction interval, ``t = (T - mean) / (sd * sqrt(1 + 1/R))`` with ``R - 1``
  degrees of freedom; valid if ``T`` is normal across independent models *and* the calibration models
  represent every kind of independent model. It can go below ``1 / (R + 1)``; that extrapolation is an
  assumption, and it failed on students of sources the null was not built from (issue 30: students of human
  text at p ~ 0.009, a student of another model's answers at p = 4.8e-4).

The verdict therefore rests on the exact p-value: ``detected = p_rank <= alpha``. When only the t tail
reaches ``alpha`` the result is ``indicative`` (reported, with ``assumption`` in words, never exit code 1).

Example:
    >>> import numpy as np
    >>> from distillguard.fingerprint.stats import calibrated_test
    >>> null = np.array([[0.0, 0.1], [0.1, 0.0], [-0.1, 0.0], [0.05, -0.05]])
    >>> r = calibrated_test(np.array([2.0, 2.2]), null)
    >>> r["p_value"] < 0.01, r["p_rank"], r["min_p_rank"], r["detected"], r["indicative"]
    (True, 0.2, 0.2, False, True)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as sps

from distillguard.errors import DistillguardError

__all__ = ["NULL_STATEMENT", "calibrated_test", "probe_z", "t_tail_assumption"]

NULL_STATEMENT = (
    "H0: the suspect is an independent model (not derived from the teacher), exchangeable with the calibration "
    "models; T = mean per-probe contrast. p_value: Student-t prediction interval over the calibration models' T "
    "on the same probes (assumes T normal across independent models); p_rank: exact rank p, >= 1/(R+1). "
    "The verdict uses p_rank; p_value alone is indicative.")


def t_tail_assumption(R: int) -> str:
    """The assumption a Student-t fingerprint p-value rests on, in words (printed beside every such p).

    Example:
        >>> from distillguard.fingerprint.stats import t_tail_assumption
        >>> t_tail_assumption(8)[:40]
        'Student-t tail over 8 calibration models'
    """
    return (f"Student-t tail over {R} calibration models: assumes their statistic is normal and that they "
            "represent every kind of independent model, untested on other sources; exact rank p >= "
            f"1/{R + 1}")


def calibrated_test(scores: np.ndarray, null_scores: np.ndarray, *, alpha: float = 0.01) -> dict[str, Any]:
    """Test per-probe ``scores`` [n] against ``null_scores`` [R, n] of R independent calibration models.

    Example:
        >>> import numpy as np
        >>> from distillguard.fingerprint.stats import calibrated_test
        >>> calibrated_test(np.zeros(3), np.zeros((1, 3)))
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: the calibrated test needs at least 2 calibration models, got 1
    """
    if not (math.isfinite(alpha) and 0 < alpha < 1):
        raise DistillguardError(f"alpha must be a number in (0, 1), got {alpha}")
    scores = np.asarray(scores, float)
    null_scores = np.atleast_2d(np.asarray(null_scores, float))
    R = null_scores.shape[0]
    if R < 2:
        raise DistillguardError(f"the calibrated test needs at least 2 calibration models, got {R}")
    if null_scores.shape[1] != scores.shape[0] or scores.size == 0:
        raise DistillguardError("scores and calibration scores must cover the same, non-empty set of probes")
    T = float(scores.mean())
    null_T = null_scores.mean(axis=1)
    mu, sd = float(null_T.mean()), float(null_T.std(ddof=1))
    sd = max(sd, 1e-9)
    t = (T - mu) / (sd * math.sqrt(1 + 1 / R))
    p = float(sps.t.sf(t, df=R - 1))
    log10_p = float(sps.t.logsf(t, df=R - 1) / math.log(10))
    p_rank = float((1 + np.sum(null_T >= T)) / (R + 1))
    return {
        "test": "fingerprint: mean probe contrast vs independent calibration models (Student-t prediction)",
        "null": NULL_STATEMENT,
        "statistic": T, "t": float(t), "null_mean": mu, "null_sd": sd, "null_statistics": null_T.tolist(),
        "p_value": p, "log10_p": log10_p, "p_rank": p_rank, "min_p_rank": 1.0 / (R + 1),
        "p_exact": p_rank, "p_floor": 1.0 / (R + 1), "assumption": t_tail_assumption(R),
        "calibration_models": R, "n_probes": int(scores.size), "alpha": alpha, "detected": bool(p_rank <= alpha),
        "indicative": bool(p <= alpha < p_rank),
    }


def probe_z(scores: np.ndarray, null_scores: np.ndarray) -> np.ndarray:
    """Per-probe z-scores of the suspect against the calibration models (for "which probes matched").

    Example:
        >>> import numpy as np
        >>> from distillguard.fingerprint.stats import probe_z
        >>> probe_z(np.array([1.0]), np.array([[0.0], [0.2]])).round(2).tolist()
        [6.36]
    """
    null_scores = np.atleast_2d(np.asarray(null_scores, float))
    mu = null_scores.mean(axis=0)
    sd = null_scores.std(axis=0, ddof=1) if null_scores.shape[0] > 1 else np.zeros_like(mu)
    pooled = float(np.sqrt(np.mean(sd**2))) if np.any(sd > 0) else 1.0
    return (np.asarray(scores, float) - mu) / np.maximum(sd, max(pooled * 0.1, 1e-9))
