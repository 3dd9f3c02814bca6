"""FPR-calibrated thresholds: the conformal benign quantile, the exponential benign tail, the calibration split.

Thresholds (:func:`threshold_for_fpr`) are finite-sample (conformal) quantiles of held-out benign scores: for a
new benign account exchangeable with the calibration accounts, P(flag) <= target FPR.
"""

from __future__ import annotations

import numpy as np

from distillguard.errors import DistillguardError

__all__ = ["supported_fpr", "threshold_for_fpr"]


def threshold_for_fpr(benign_scores: np.ndarray, target_fpr: float) -> float:
    """Finite-sample threshold: flags are ``score > threshold`` with expected benign FPR <= ``target_fpr``.

    The threshold is the ``ceil((n + 1) * (1 - target_fpr))``-th smallest of the ``n`` held-out benign
    scores (the conformal quantile): for a new benign account exchangeable with them, P(flag) <= target_fpr.
    When ``n + 1 < 1 / target_fpr`` no finite-sample guarantee is possible and the maximum benign score is
    returned (its guarantee is ``1 / (n + 1)``).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.detectors import threshold_for_fpr
        >>> threshold_for_fpr(np.arange(1000.0), 0.01)
        990.0
        >>> threshold_for_fpr(np.arange(50.0), 0.001)
        49.0
    """
    s = np.sort(np.asarray(benign_scores, dtype=float))
    s = s[~np.isnan(s)]
    if len(s) == 0:
        raise DistillguardError("no benign scores to calibrate the threshold on")
    if not 0.0 < target_fpr < 1.0:
        raise DistillguardError(f"target FPR must be in (0, 1), got {target_fpr}")
    k = int(np.ceil((len(s) + 1) * (1.0 - target_fpr)))
    return float(s[min(k, len(s)) - 1])


def supported_fpr(n_calibration: int, target_fpr: float) -> float:
    """The account FPR a threshold from ``n_calibration`` benign scores supports: ``max(target, 1 / (n + 1))``.

    Below ``1 / (n + 1)`` no finite-sample guarantee exists (the threshold is then the largest benign score).

    Example:
        >>> from distillguard.detect.api_logs.calibration import supported_fpr
        >>> supported_fpr(343, 1e-3), supported_fpr(1600, 1e-3)
        (0.0029069767441860465, 0.001)
    """
    return max(target_fpr, 1.0 / (n_calibration + 1))


def _exp_tail(ref: np.ndarray, fraction: float) -> tuple[float, float, float] | None:
    """Exponential tail of a sorted benign reference: ``(u, beta, -log10 p(u))`` or ``None``.

    Beyond ``u`` (the value with a ``fraction`` of the reference above it, at least 10 values) the tail
    probability is modelled as ``p(u) * exp(-(x - u) / beta)`` with ``beta`` the mean excess over ``u`` (the
    maximum-likelihood exponential fit, peaks-over-threshold), so evidence keeps growing past the largest
    benign value instead of saturating at ``log10(n + 1)``. ``None`` when the tail is degenerate (ties).
    """
    n = len(ref)
    k = max(10, int(np.ceil(fraction * n)))
    if fraction <= 0 or n < 2 * k:
        return None
    u = float(ref[n - k - 1])
    beta = float(np.mean(ref[n - k:] - u))
    if not np.isfinite(beta) or beta <= 1e-9 * max(1.0, abs(u)):
        return None
    ge = n - np.searchsorted(ref, u, side="left")
    return u, beta, float(-np.log10((1.0 + ge) / (n + 1.0)))



def _band_tail(ref: np.ndarray, band: tuple[float, float]) -> tuple[float, float, float] | None:
    """Exponential tail from two quantiles of a sorted reference: ``(u, beta, -log10 p(u))`` or ``None``.

    For a reference that may hold attackers at its top (a robust fit on the scored logs), the tail is read
    from a band below the top: with ``band = (a, b)`` the tail starts at ``u`` = the ``b`` quantile, where
    ``p(u) = 1 - b``, and its scale is ``beta = (q_b - q_a) / ln((1 - a) / (1 - b))`` (the exponential's
    quantile spacing), so the values above the ``b`` quantile -- where a few percent of harvesters sit --
    do not shape it. ``None`` when the band is degenerate (ties).

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.calibration import _band_tail
        >>> ref = np.sort(np.random.default_rng(0).exponential(2.0, 20000))
        >>> u, beta, lp = _band_tail(ref, (0.7, 0.9))
        >>> round(beta, 1), round(lp, 3)
        (2.0, 1.0)
    """
    a, b = band
    qa, qb = (float(v) for v in np.quantile(ref, [a, b]))
    beta = (qb - qa) / np.log((1.0 - a) / (1.0 - b))
    if not np.isfinite(beta) or beta <= 1e-9 * max(1.0, abs(qb)):
        return None
    return qb, float(beta), float(-np.log10(1.0 - b))


def _split(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the calibration rows (empty when ``fraction`` is 0)."""
    if fraction <= 0:
        return np.zeros(n, dtype=bool)
    cal = rng.random(n) < fraction
    if cal.sum() < 10 or (~cal).sum() < 10:
        cal = np.zeros(n, dtype=bool)
        cal[::2] = True
    return cal

