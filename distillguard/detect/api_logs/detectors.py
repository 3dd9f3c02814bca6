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
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs.features import FEATURE_COLUMNS
from distillguard.errors import DistillguardError

__all__ = ["HARVEST_EVIDENCE", "WINDOW_STATISTICS", "AccountScorer", "HarvestWindowDetector", "MMDWindowDetector",
           "SupervisedDetector", "UnsupervisedDetector", "threshold_for_fpr"]

_LOG_COLS = {"n_requests", "active_days", "span_days", "req_per_active_day", "max_req_per_hour", "gap_median_s",
             "prompt_tokens_mean", "completion_tokens_mean", "completion_tokens_p90", "completion_prompt_ratio",
             "n_ips", "n_user_agents"}

#: Evidence groups of the ``harvest`` method: feature -> direction (+1: high is suspicious, -1: low is).
#: Chosen from what harvesting needs (many long completions, elicited reasoning, automated pacing, templated
#: sweeps), not fitted on attacker data. Prompt diversity is deliberately absent: humans are as diverse.
HARVEST_EVIDENCE: dict[str, dict[str, int]] = {
    "volume": {"n_requests": 1, "req_per_active_day": 1, "total_completion_tokens": 1},
    "long_outputs": {"completion_tokens_mean": 1, "completion_tokens_p90": 1, "completion_prompt_ratio": 1,
                     "long_completion_frac": 1, "maxtok_frac": 1},
    "reasoning": {"cot_frac": 1, "rubric_frac": 1},
    "round_the_clock": {"active_hours_frac": 1, "hour_entropy": 1},
    "steady_pacing": {"burstiness": -1, "gap_cv": -1},
    "templates": {"template_prefix_share": 1, "template_suffix_share": 1, "near_dup_rate": 1},
}
#: Window statistics of :class:`HarvestWindowDetector` (all oriented so that high is harvest-like).
WINDOW_STATISTICS: tuple[str, ...] = ("cot_frac", "rubric_frac", "long_completion_frac", "completion_log_mean",
                                      "maxtok_frac", "template_repeat_frac", "near_dup_rate")
_VOLUME = {"n_requests", "req_per_active_day", "total_completion_tokens"}


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


def _with_derived(X: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in FEATURE_COLUMNS if c not in X.columns]
    if missing:
        raise DistillguardError(f"feature table lacks column {missing[0]!r}")
    D = X[FEATURE_COLUMNS].astype(np.float64)
    return D.assign(total_completion_tokens=D["n_requests"] * D["completion_tokens_mean"])


def _matrix(X: pd.DataFrame) -> np.ndarray:
    M = _with_derived(X)[FEATURE_COLUMNS].to_numpy(dtype=np.float64, copy=True)
    for j, c in enumerate(FEATURE_COLUMNS):
        if c in _LOG_COLS:
            M[:, j] = np.log1p(np.maximum(M[:, j], 0))
    return np.nan_to_num(M, nan=0.0, posinf=1e6, neginf=-1e6)


def _ids(X: pd.DataFrame) -> np.ndarray:
    return (X["account_id"] if "account_id" in X.columns else X.index.to_series()).astype(str).to_numpy()


class _RobustScale:
    def __init__(self, M: np.ndarray):
        self.med = np.median(M, axis=0)
        q75, q25 = np.percentile(M, [75, 25], axis=0)
        spread = (q75 - q25) / 1.349
        sd = M.std(axis=0)
        self.scale = np.where(spread > 1e-9, spread, np.where(sd > 1e-9, sd, 1.0))
        self.scale = np.maximum(self.scale, 0.02 * np.maximum(np.abs(self.med), 1e-3))

    def z(self, M: np.ndarray) -> np.ndarray:
        return np.clip((M - self.med) / self.scale, -50, 50)


def _reasons(z: np.ndarray, raw: np.ndarray, top: int) -> list[str]:
    idx = np.argsort(-np.abs(z), axis=1)[:, :top]
    return ["; ".join(f"{FEATURE_COLUMNS[j]}={raw[i, j]:.3g} (z={z[i, j]:+.1f})" for j in row)
            for i, row in enumerate(idx)]


def _named(x, name: str):
    """``x`` renamed ``name`` when it is a Series (:class:`AccountScorer`'s per-account outputs), else ``x``."""
    return x.rename(name) if isinstance(x, pd.Series) else x


def _no_2d_array_tags(tags):
    # X is a named-column feature table, a list of windows or a raw log table, never an arbitrary numeric
    # matrix: scikit-learn's generic checks (check_estimator), which feed such matrices, do not apply
    # (tests/test_api_logs_sklearn.py runs the applicable subset)
    tags.input_tags.two_d_array = False
    return tags


class _Flagging:
    """scikit-learn's outlier-detector methods over ``_suspicion`` (higher = more harvest-like) and ``threshold_``.

    Subclasses implement ``_suspicion(X)`` (no fitted check) and set ``threshold_`` in ``fit``; a flag is
    ``suspicion_score > threshold_``, so ``offset_ = -threshold_`` and ``decision_function < 0`` exactly there.
    """

    @property
    def offset_(self) -> float:
        """``-threshold_``: ``decision_function = score_samples - offset_`` (follows a changed ``threshold_``)."""
        return -self.threshold_

    @offset_.setter
    def offset_(self, value: float) -> None:
        self.threshold_ = -value

    def __sklearn_tags__(self):
        return _no_2d_array_tags(super().__sklearn_tags__())

    def suspicion_score(self, X):
        """The detector's own score, higher = more harvest-like; flagged where ``> threshold_``.

        The score ``threshold_`` is a benign quantile of (``score`` in :meth:`score_accounts`).

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> s = det.suspicion_score([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2])
            >>> bool(s[0] <= det.threshold_ < s[1])
            True
        """
        check_is_fitted(self)
        return _named(self._suspicion(X), "suspicion_score")

    def score_samples(self, X):
        """scikit-learn's normality score: ``-suspicion_score`` (higher = more normal).

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> w = [rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2]
            >>> bool((det.score_samples(w) == -det.suspicion_score(w)).all())
            True
        """
        return _named(-self.suspicion_score(X), "score_samples")

    def decision_function(self, X):
        """``score_samples - offset_`` (= ``threshold_ - suspicion_score``): negative = flagged (outlier).

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> d = det.decision_function([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2])
            >>> bool(d[0] >= 0 > d[1])
            True
        """
        return _named(self.score_samples(X) - self.offset_, "decision_function")

    def predict(self, X):
        """-1 for a flagged (harvester-like) input, +1 for a normal one: -1 exactly where ``decision_function < 0``.

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> det.predict([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2]).tolist()
            [1, -1]
        """
        d = self.decision_function(X)
        p = np.where(np.asarray(d) < 0, -1, 1)
        return pd.Series(p, index=d.index, name="predict") if isinstance(d, pd.Series) else p

    def flag(self, X):
        """The 0/1 flags (1 = flagged, ``suspicion_score > threshold_``): ``predict(X) == -1`` as integers.

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> det.flag([rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 2]).tolist()
            [0, 1]
        """
        return _named((self.predict(X) == -1).astype(np.int64), "flag")


class _Base(BaseEstimator):
    def _explain(self, X: pd.DataFrame, top: int) -> list[str]:
        raw = X[FEATURE_COLUMNS].to_numpy(dtype=np.float64)
        return _reasons(self.scale_.z(_matrix(X)), raw, top)

    def __sklearn_tags__(self):
        return _no_2d_array_tags(super().__sklearn_tags__())

    def score_accounts(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Scores (``suspicion_score``), flags (bool) and the ``top`` reasons per account, most suspicious first.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import UnsupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.random(size=(100, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> det = UnsupervisedDetector(target_fpr=0.05).fit(X)
            >>> out = det.score_accounts(X)
            >>> list(out.columns), bool((out["flag"] == (out["score"] > det.threshold_)).all())
            (['account_id', 'score', 'flag', 'reasons'], True)
        """
        check_is_fitted(self)
        s = self._suspicion(X)
        return pd.DataFrame({"account_id": _ids(X), "score": s, "flag": s > self.threshold_,
                             "reasons": self._explain(X, top)}
                            ).sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


def _split(n: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the calibration rows (empty when ``fraction`` is 0)."""
    if fraction <= 0:
        return np.zeros(n, dtype=bool)
    cal = rng.random(n) < fraction
    if cal.sum() < 10 or (~cal).sum() < 10:
        cal = np.zeros(n, dtype=bool)
        cal[::2] = True
    return cal


class UnsupervisedDetector(OutlierMixin, _Flagging, _Base):
    """Detector fitted on per-account features of traffic assumed benign (no attacker labels).

    ``method="harvest"`` (default, see the module docstring and :data:`HARVEST_EVIDENCE`): directional
    benign-tail evidence per group, ``shrinkage`` pseudo-requests pull small accounts' features towards the
    benign median, beyond the top ``tail_fraction`` of the reference ``-log10 p`` follows an exponential tail
    fit (capped at ``max_evidence`` per feature; ``tail_fraction=0``: purely empirical p-values, which
    saturate at ``log10(n + 1)``), the score is ``sum_g max(0, -log10 p_g - margin)`` capped by the Euclidean distance of the
    account's group-evidence vector to its ``novelty_k``-th nearest benign training account (``None``: no cap).
    ``"robust_z"``: mean of the three largest two-sided robust z; ``"iforest"``: IsolationForest on robust z.

    A random ``calibration_fraction`` of the benign accounts is held out of the fit and sets ``threshold_``
    at ``target_fpr`` (:func:`threshold_for_fpr`); with 0 the threshold comes from the training accounts
    (optimistic; recalibrate on held-out benign scores). The reference must be benign: harvesters in it
    become neighbours of harvesters.

    ``X`` is a feature table (:func:`~distillguard.detect.api_logs.features.account_features`: the columns of
    :data:`FEATURE_COLUMNS`, optionally ``account_id``). An outlier detector in scikit-learn's convention (module
    docstring): ``suspicion_score`` is the score above, ``predict`` -1 for a flagged account (``suspicion_score >
    threshold_``) and +1 otherwise, ``decision_function = threshold_ - suspicion_score`` (negative = flagged),
    ``flag`` the 0/1 flags.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.detectors import UnsupervisedDetector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.random(size=(400, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> X["n_requests"] = rng.integers(1, 100, size=400).astype(float)
        >>> det = UnsupervisedDetector(target_fpr=0.01).fit(X)
        >>> x = X.iloc[:1].copy()
        >>> x[["n_requests", "completion_tokens_mean", "cot_frac", "active_hours_frac"]] = [5000, 9, 9, 9]
        >>> int(det.predict(x)[0]), bool(det.decision_function(x)[0] < 0), int(det.flag(x)[0])
        (-1, True, 1)
        >>> p = det.predict(X.iloc[1:])
        >>> sorted(set(p.tolist())), int((p == -1).sum()) <= 8
        ([-1, 1], True)
        >>> det.fit_predict(X).shape
        (400,)
    """

    def __init__(self, method: str = "harvest", target_fpr: float = 1e-3, shrinkage: float = 30.0,
                 margin: float = 1.0, novelty_k: int | None = 2, n_estimators: int = 300,
                 calibration_fraction: float = 0.3, random_state: int = 0, tail_fraction: float = 0.02,
                 max_evidence: float = 12.0):
        self.method = method
        self.target_fpr = target_fpr
        self.tail_fraction = tail_fraction
        self.max_evidence = max_evidence
        self.shrinkage = shrinkage
        self.margin = margin
        self.novelty_k = novelty_k
        self.n_estimators = n_estimators
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None) -> UnsupervisedDetector:
        if self.method not in ("harvest", "robust_z", "iforest"):
            raise DistillguardError(f"unknown method {self.method!r} (use harvest, robust_z or iforest)")
        if len(X) < 20:
            raise DistillguardError(f"need at least 20 benign accounts to fit, got {len(X)}")
        M = _matrix(X)
        cal = _split(len(M), self.calibration_fraction, np.random.default_rng(self.random_state))
        fit_rows = ~cal
        self.scale_ = _RobustScale(M[fit_rows])
        self.n_features_in_ = M.shape[1]
        if self.method == "harvest":
            D = _with_derived(X.iloc[np.flatnonzero(fit_rows)])
            n = D["n_requests"].to_numpy()
            self.medians_, self.reference_ = {}, {}
            self.tails_ = {}
            for feats in HARVEST_EVIDENCE.values():
                for c, sign in feats.items():
                    v = D[c].to_numpy()
                    self.medians_[c] = float(np.median(v))
                    self.reference_[c] = ref = np.sort(sign * self._shrink(c, v, n))
                    self.tails_[c] = _exp_tail(ref, self.tail_fraction)
            E = self._evidence(X.iloc[np.flatnonzero(fit_rows)])
            if self.novelty_k:
                from sklearn.neighbors import NearestNeighbors

                self.knn_ = NearestNeighbors(n_neighbors=min(self.novelty_k, len(E))).fit(E)
        elif self.method == "iforest":
            from sklearn.ensemble import IsolationForest

            self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state,
                                          n_jobs=1).fit(self.scale_.z(M[fit_rows]))
        ref = X.iloc[np.flatnonzero(cal if cal.any() else fit_rows)]
        self.threshold_ = threshold_for_fpr(self._suspicion(ref), self.target_fpr)
        return self

    def _shrink(self, c: str, v: np.ndarray, n: np.ndarray) -> np.ndarray:
        if c in _VOLUME:
            return np.log1p(np.maximum(v, 0))
        w = n / (n + self.shrinkage)
        return self.medians_[c] + (v - self.medians_[c]) * w

    def _feature_logp(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        D = _with_derived(X)
        n = D["n_requests"].to_numpy()
        out = {}
        for feats in HARVEST_EVIDENCE.values():
            for c, sign in feats.items():
                ref = self.reference_[c]
                x = np.nan_to_num(sign * self._shrink(c, D[c].to_numpy(), n), nan=-np.inf)
                ge = len(ref) - np.searchsorted(ref, x, side="left")
                lp = -np.log10((1.0 + ge) / (len(ref) + 1.0))
                tail = self.tails_.get(c) if self.tail_fraction else None
                if tail is not None:
                    u, beta, lp_u = tail
                    ext = lp_u + (x - u) / (beta * np.log(10.0))
                    lp = np.where(x > u, np.minimum(np.maximum(lp, ext), self.max_evidence), lp)
                out[c] = lp
        return out

    def _evidence(self, X: pd.DataFrame) -> np.ndarray:
        lp = self._feature_logp(X)
        cols = [np.max(np.vstack([lp[c] for c in feats]), axis=0) for feats in HARVEST_EVIDENCE.values()]
        return np.maximum(np.vstack(cols).T - self.margin, 0.0)

    def evidence(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-group evidence (``-log10`` benign tail probability beyond the margin) of the harvest method.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import HARVEST_EVIDENCE, UnsupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.random(size=(100, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> E = UnsupervisedDetector(target_fpr=0.05).fit(X).evidence(X)
            >>> list(E.columns) == list(HARVEST_EVIDENCE), bool((E >= 0).all().all())
            (True, True)
        """
        check_is_fitted(self)
        if self.method != "harvest":
            raise DistillguardError(f"evidence groups exist for method 'harvest' only, not {self.method!r}")
        return pd.DataFrame(self._evidence(X), columns=list(HARVEST_EVIDENCE), index=_ids(X))

    def _suspicion(self, X: pd.DataFrame) -> np.ndarray:
        if self.method == "harvest":
            E = self._evidence(X)
            s = E.sum(axis=1)
            if self.novelty_k:
                s = np.minimum(s, self.knn_.kneighbors(E)[0][:, -1])
            return s
        z = self.scale_.z(_matrix(X))
        if self.method == "iforest":
            return -self.model_.score_samples(z)
        return np.sort(np.abs(z), axis=1)[:, -3:].mean(axis=1)

    def _explain(self, X: pd.DataFrame, top: int) -> list[str]:
        if self.method != "harvest":
            return super()._explain(X, top)
        lp = self._feature_logp(X)
        D = _with_derived(X)
        groups = list(HARVEST_EVIDENCE)
        best = []
        for feats in HARVEST_EVIDENCE.values():
            names = list(feats)
            stack = np.vstack([lp[c] for c in names])
            j = stack.argmax(axis=0)
            best.append((np.array(names)[j], stack.max(axis=0)))
        G = np.vstack([b[1] for b in best]).T
        order = np.argsort(-G, axis=1)[:, :top]
        out = []
        for i, row in enumerate(order):
            parts = []
            for g in row:
                if G[i, g] <= self.margin:
                    break
                c = best[g][0][i]
                parts.append(f"{groups[g]}: {c}={D[c].iat[i]:.3g} (p={10 ** -G[i, g]:.1g})")
            out.append("; ".join(parts) or "nothing beyond benign range")
        return out


class SupervisedDetector(ClassifierMixin, _Base):
    """HistGradientBoosting on labelled accounts (1 = harvester); threshold from held-out benign accounts.

    The score (``suspicion_score``) is the model's log-odds of class 1. ``calibration_fraction`` of the benign
    accounts are held out of training to set ``threshold_`` at ``target_fpr``. A classifier in scikit-learn's
    convention: ``classes_`` (``[0, 1]``) set in ``fit``; ``predict`` returns class labels, 1 where the log-odds
    exceed ``threshold_`` (not 0: the threshold is FPR-calibrated); ``decision_function = log-odds -
    threshold_`` (positive = ``classes_[1]``, consistent with ``predict``); ``predict_proba`` the model's class
    probabilities, columns in ``classes_`` order, not thresholded (trained with balanced class weights, so
    ``argmax`` of it is not ``predict``); ``flag`` the 0/1 flags.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(600, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> y = (np.arange(600) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
        >>> det = SupervisedDetector(target_fpr=0.01).fit(X, y)
        >>> det.classes_.tolist(), float(det.predict(X)[y == 1].mean()) > 0.9
        ([0, 1], True)
        >>> bool(((det.decision_function(X) > 0) == (det.predict(X) == 1)).all())
        True
        >>> det.predict_proba(X).shape
        (600, 2)
    """

    def __init__(self, target_fpr: float = 1e-3, max_iter: int = 200, learning_rate: float = 0.1,
                 calibration_fraction: float = 0.3, random_state: int = 0):
        self.target_fpr = target_fpr
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SupervisedDetector:
        from sklearn.ensemble import HistGradientBoostingClassifier

        M, y = _matrix(X), np.asarray(y).astype(int)
        rng = np.random.default_rng(self.random_state)
        cal = (y == 0) & (rng.random(len(M)) < self.calibration_fraction)
        self.scale_ = _RobustScale(M[(y == 0) & ~cal])
        self.model_ = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=self.learning_rate,
                                                     class_weight="balanced", random_state=self.random_state)
        self.model_.fit(M[~cal], y[~cal])
        self.classes_ = self.model_.classes_
        self.n_features_in_ = M.shape[1]
        # with calibration_fraction=0 the threshold comes from the (optimistic) training benign scores;
        # recalibrate on held-out benign data with threshold_for_fpr in that case
        ref = M[cal] if cal.any() else M[y == 0]
        self.threshold_ = threshold_for_fpr(self.model_.decision_function(ref), self.target_fpr)
        return self

    def _suspicion(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.decision_function(_matrix(X))

    def suspicion_score(self, X: pd.DataFrame) -> np.ndarray:
        """The model's log-odds of class 1 (harvester): higher = more harvest-like, flagged where ``> threshold_``.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.normal(size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> y = (np.arange(300) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
            >>> det = SupervisedDetector(target_fpr=0.05, max_iter=20).fit(X, y)
            >>> s = det.suspicion_score(X)
            >>> bool(s[y == 1].min() > s[y == 0].max()), bool(((s > det.threshold_) == det.flag(X)).all())
            (True, True)
        """
        check_is_fitted(self)
        return self._suspicion(X)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """``log-odds - threshold_``: positive = ``classes_[1]`` (harvester), exactly where ``predict`` says so.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.normal(size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> y = (np.arange(300) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
            >>> det = SupervisedDetector(target_fpr=0.05, max_iter=20).fit(X, y)
            >>> d = det.decision_function(X)
            >>> bool((det.classes_[(d > 0).astype(int)] == det.predict(X)).all()), bool((d[y == 1] > 0).all())
            (True, True)
        """
        return self.suspicion_score(X) - self.threshold_

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Class labels: ``classes_[1]`` (1, harvester) where the log-odds exceed ``threshold_``, else 0.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.normal(size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> y = (np.arange(300) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
            >>> det = SupervisedDetector(target_fpr=0.05, max_iter=20).fit(X, y)
            >>> bool((det.predict(X)[y == 1] == 1).all()), bool(det.score(X, y) > 0.9)
            (True, True)
        """
        check_is_fitted(self)
        return self.classes_[(self.decision_function(X) > 0).astype(np.int64)]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """The model's class probabilities, columns in ``classes_`` order (not thresholded: see the class).

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.normal(size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> y = (np.arange(300) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
            >>> P = SupervisedDetector(target_fpr=0.05, max_iter=20).fit(X, y).predict_proba(X)
            >>> P.shape, bool(np.allclose(P.sum(axis=1), 1.0)), bool((P[y == 1, 1] > 0.5).all())
            ((300, 2), True, True)
        """
        check_is_fitted(self)
        return self.model_.predict_proba(_matrix(X))

    def flag(self, X: pd.DataFrame) -> np.ndarray:
        """The 0/1 flags (1 = harvester, log-odds ``> threshold_``), as ``score_accounts``' ``flag`` column.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.normal(size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> y = (np.arange(300) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
            >>> det = SupervisedDetector(target_fpr=0.05, max_iter=20).fit(X, y)
            >>> bool((det.flag(X) == (det.predict(X) == det.classes_[1])).all())
            True
        """
        return (self.decision_function(X) > 0).astype(np.int64)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T, 0)


class MMDWindowDetector(OutlierMixin, _Flagging, BaseEstimator):
    """Two-sample MMD test of a window of a client's prompt vectors against benign reference traffic.

    The published baseline scores 1,500-query windows; the statistic is the unbiased MMD² with an RBF kernel
    (median-heuristic bandwidth on the reference). ``fit(benign_windows, reference=...)`` takes the benign
    reference vectors and a calibrated null: benign windows disjoint from the reference, whose statistics
    (``null_scores_``) set ``threshold_`` at ``target_fpr`` (:func:`threshold_for_fpr`; FPR 0.3% needs at
    least 333 null windows for a finite-sample guarantee) and give each window an empirical p-value
    (:meth:`p_values`). Without ``reference``, the first quarter of the windows forms it.

    ``X`` is a list of windows (arrays of vectors, one row per query). An outlier detector in scikit-learn's
    convention (module docstring): ``suspicion_score`` is the MMD² statistic, ``predict`` -1 for a flagged window
    (MMD² ``> threshold_``) and +1 otherwise, ``decision_function = threshold_ - MMD²``, ``flag`` the 0/1 flags.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
        >>> rng = np.random.default_rng(0)
        >>> benign = [rng.normal(size=(100, 8)) for _ in range(40)]
        >>> det = MMDWindowDetector(window=100, target_fpr=0.05).fit(benign, reference=rng.normal(size=(300, 8)))
        >>> int(det.predict([rng.normal(size=(100, 8)) + 1.0])[0]), len(det.null_scores_)
        (-1, 40)
    """

    def __init__(self, window: int = 1500, n_reference: int = 1000, target_fpr: float = 0.003,
                 random_state: int = 0):
        self.window = window
        self.n_reference = n_reference
        self.target_fpr = target_fpr
        self.random_state = random_state

    def fit(self, benign_windows: list[np.ndarray], y=None, reference: np.ndarray | None = None
            ) -> MMDWindowDetector:
        rng = np.random.default_rng(self.random_state)
        windows = list(benign_windows)
        if reference is None:
            n_ref = max(1, len(windows) // 4)
            reference, windows = np.concatenate(windows[:n_ref]), windows[n_ref:]
        if not windows:
            raise DistillguardError("MMD calibration needs benign windows besides the reference")
        ref = np.asarray(reference, dtype=np.float32)
        self.reference_ = ref[rng.permutation(len(ref))[: self.n_reference]]
        sub = self.reference_[:500]
        d = _sqdist(sub, sub)
        self.gamma_ = 1.0 / max(float(np.median(d[np.triu_indices(len(d), 1)])), 1e-12)
        k = np.exp(-self.gamma_ * _sqdist(self.reference_, self.reference_))
        m = len(k)
        self.kyy_ = float((k.sum() - np.trace(k)) / (m * (m - 1)))
        self.null_scores_ = self._suspicion(windows)
        self.threshold_ = threshold_for_fpr(self.null_scores_, self.target_fpr)
        return self

    def _mmd2(self, X: np.ndarray) -> float:
        n = len(X)
        if n < 2:
            raise DistillguardError("an MMD window needs at least 2 vectors")
        kxx = np.exp(-self.gamma_ * _sqdist(X, X))
        kxy = np.exp(-self.gamma_ * _sqdist(X, self.reference_))
        return float((kxx.sum(dtype=np.float64) - np.trace(kxx)) / (n * (n - 1)) + self.kyy_
                     - 2 * kxy.mean(dtype=np.float64))

    def _suspicion(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.array([self._mmd2(np.asarray(w, dtype=np.float32)) for w in windows])

    def p_values(self, windows: list[np.ndarray]) -> np.ndarray:
        """Empirical p-values against the calibrated null: ``(1 + #null >= s) / (n_null + 1)``.

        Example:
            >>> import numpy as np
            >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
            >>> rng = np.random.default_rng(0)
            >>> det = MMDWindowDetector(window=50, target_fpr=0.05).fit([rng.normal(size=(50, 3)) for _ in range(40)])
            >>> float(det.p_values([rng.normal(size=(50, 3)) + 2])[0]) == 1 / 31
            True
        """
        check_is_fitted(self)
        s = self._suspicion(windows)
        ref = np.sort(self.null_scores_)
        return (1.0 + len(ref) - np.searchsorted(ref, s, side="left")) / (len(ref) + 1.0)


class HarvestWindowDetector(OutlierMixin, _Flagging, BaseEstimator):
    """Window-level directional test on per-request features (no embeddings): our answer to the MMD baseline.

    A window is a slice of one client's traffic (the published detector uses 1,500 queries). Instead of asking
    "is this window's prompt distribution different?" (MMD), it asks "does this window hold more of what
    harvesting needs than benign windows do?": the window fractions of chain-of-thought and rubric prompts,
    of completions of at least 1,000 tokens, of max-token requests, the mean log completion length, the
    fraction of requests whose prompt template (first four words, digits masked) repeats at least
    ``min_repeat`` times in the window, and the MinHash near-duplicate rate (:data:`WINDOW_STATISTICS`).
    Each statistic is standardised on benign fit windows and the score is ``sum_j max(0, z_j)^2`` (only
    excesses in the harvesting direction count). ``threshold_`` and the p-values come from separate benign
    calibration windows (:func:`threshold_for_fpr`). Windows are log tables (``prompt``,
    ``completion_tokens``, optional ``max_tokens``) or the output of :meth:`request_features`.

    ``X`` is a list of windows. An outlier detector in scikit-learn's convention (module docstring):
    ``suspicion_score`` is ``sum_j max(0, z_j)^2``, ``predict`` -1 for a flagged window (score ``> threshold_``)
    and +1 otherwise, ``decision_function = threshold_ - score``, ``flag`` the 0/1 flags.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.detectors import HarvestWindowDetector
        >>> rng = np.random.default_rng(0)
        >>> def win(k_cot):
        ...     p = [f"question {i} about topic {rng.integers(1e6)}" for i in range(200)]
        ...     p[:k_cot] = [f"Think step by step: item {i}" for i in range(k_cot)]
        ...     return pd.DataFrame({"prompt": p, "completion_tokens": rng.integers(50, 400, 200)})
        >>> det = HarvestWindowDetector(target_fpr=0.05).fit([win(int(rng.integers(0, 4))) for _ in range(80)])
        >>> det.predict([win(40), win(1)]).tolist(), det.flag([win(40), win(1)]).tolist()
        ([-1, 1], [1, 0])
    """

    def __init__(self, target_fpr: float = 0.003, min_repeat: int = 5, fit_fraction: float = 0.35,
                 random_state: int = 0):
        self.target_fpr = target_fpr
        self.min_repeat = min_repeat
        self.fit_fraction = fit_fraction
        self.random_state = random_state

    @staticmethod
    def request_features(logs: pd.DataFrame) -> pd.DataFrame:
        """Per-request inputs of the window statistics (CoT/rubric markers, lengths, template keys)."""
        from distillguard.detect.api_logs.features import prompt_row_features

        rowf = prompt_row_features(logs["prompt"].astype(str).tolist())
        ct = logs["completion_tokens"].to_numpy(dtype=np.float64)
        maxtok = np.zeros(len(logs), dtype=bool)
        if "max_tokens" in logs.columns:
            mx = pd.to_numeric(logs["max_tokens"], errors="coerce").to_numpy(dtype=np.float64)
            maxtok = (mx >= 4000) | (ct >= np.where(np.isnan(mx), np.inf, mx))
        mh = rowf[[f"mh{k}" for k in range(4)]].to_numpy()
        return pd.DataFrame({"cot": rowf["cot"].to_numpy(), "rubric": rowf["rubric"].to_numpy(),
                             "long": ct >= 1000, "log_ct": np.log1p(np.maximum(ct, 0)), "maxtok": maxtok,
                             "prefix_key": rowf["prefix_key"].to_numpy(),
                             "band0": mh[:, 0] * np.int64(1 << 32) + mh[:, 1],
                             "band1": mh[:, 2] * np.int64(1 << 32) + mh[:, 3]})

    def window_statistics(self, windows: list[pd.DataFrame]) -> pd.DataFrame:
        """One row per window, the columns of :data:`WINDOW_STATISTICS`."""
        rows = []
        for w in windows:
            r = w if "log_ct" in w.columns else self.request_features(w)
            if len(r) < 2:
                raise DistillguardError("a window needs at least 2 requests")
            _, inv, cnt = np.unique(r["prefix_key"].to_numpy(), return_inverse=True, return_counts=True)
            dup = np.zeros(len(r), dtype=bool)
            for b in ("band0", "band1"):
                dup |= pd.Series(r[b].to_numpy()).duplicated(keep=False).to_numpy()
            rows.append([float(r["cot"].mean()), float(r["rubric"].mean()), float(r["long"].mean()),
                         float(r["log_ct"].mean()), float(r["maxtok"].mean()),
                         float(np.mean(cnt[inv] >= self.min_repeat)), float(dup.mean())])
        return pd.DataFrame(rows, columns=list(WINDOW_STATISTICS))

    def fit(self, benign_windows: list[pd.DataFrame], y=None,
            calibration_windows: list[pd.DataFrame] | None = None) -> HarvestWindowDetector:
        S = self.window_statistics(benign_windows).to_numpy()
        if calibration_windows is None:
            if len(S) < 20:
                raise DistillguardError(f"need at least 20 benign windows, got {len(S)}")
            order = np.random.default_rng(self.random_state).permutation(len(S))
            k = max(2, int(round(self.fit_fraction * len(S))))
            fit_rows, cal_rows = order[:k], order[k:]
            C = S[cal_rows]
            S = S[fit_rows]
        else:
            C = self.window_statistics(calibration_windows).to_numpy()
        if len(S) < 2 or len(C) < 1:
            raise DistillguardError("need benign fit and calibration windows")
        self.mean_ = S.mean(axis=0)
        sd = S.std(axis=0, ddof=1)
        self.scale_ = np.where(sd > 1e-9, sd, 1e-3 + 1e-3 * np.abs(self.mean_))
        self.null_scores_ = self._score(C)
        self.threshold_ = threshold_for_fpr(self.null_scores_, self.target_fpr)
        return self

    def _score(self, S: np.ndarray) -> np.ndarray:
        z = np.clip((S - self.mean_) / self.scale_, 0.0, 1e3)
        return (z * z).sum(axis=1)

    def _suspicion(self, windows: list[pd.DataFrame]) -> np.ndarray:
        return self._score(self.window_statistics(windows).to_numpy())

    def p_values(self, windows: list[pd.DataFrame]) -> np.ndarray:
        """Empirical p-values against the calibration null: ``(1 + #null >= s) / (n_null + 1)``.

        Example:
            >>> import pandas as pd
            >>> from distillguard.detect.api_logs.detectors import HarvestWindowDetector
            >>> win = lambda k: pd.DataFrame({"prompt": [f"think step by step {i}" if i < k else f"hi {i % 7}"
            ...                                          for i in range(50)], "completion_tokens": 100})
            >>> det = HarvestWindowDetector().fit([win(1)] * 10, calibration_windows=[win(i % 3) for i in range(19)])
            >>> det.p_values([win(30), win(0)]).tolist()
            [0.05, 0.7]
        """
        check_is_fitted(self)
        s = self._suspicion(windows)
        ref = np.sort(self.null_scores_)
        return (1.0 + len(ref) - np.searchsorted(ref, s, side="left")) / (len(ref) + 1.0)


class AccountScorer(_Flagging, BaseEstimator):
    """End-to-end scorer on raw logs: features, coordinated clusters, one FPR-calibrated threshold.

    ``fit(logs)`` treats ``logs`` as benign reference traffic (or, with ``labels`` -- a Series of 0/1
    indexed by account_id -- trains the supervised detector). A random ``calibration_fraction`` of the benign
    accounts is held out of the detector's fit; an account's score is the maximum of its own score and the
    score of its coordinated cluster (members' logs pooled as one pseudo-account), so cluster evidence never
    lowers a score. Clusters are built from ``cluster_links`` (default: shared IPs and rare user agents; a
    shared prompt template alone also links independent users of one public eval harness, whose pooled
    traffic then looks like one huge templated harvester), and ``threshold_`` is the :func:`threshold_for_fpr` quantile of the held-out benign
    accounts' final scores.

    It takes raw logs, not a feature matrix: ``fit(logs, labels=None)`` and every scoring method take a log
    table in the canonical schema (:func:`~distillguard.detect.api_logs.schema.load_logs`). :meth:`score_logs`
    returns one row per account (``account_id``, ``score``, ``flag``, ``reasons``, cluster columns), most
    suspicious first. The per-account methods follow the outlier-detector convention of the module docstring
    (also with ``labels``) and return a Series indexed by ``account_id`` (sorted): ``suspicion_score`` (=
    ``score_logs``' ``score``), ``score_samples`` (its negation), ``decision_function = threshold_ - score``
    (negative = flagged), ``predict`` (-1 flagged, +1 not) and ``flag`` (0/1 = ``score_logs``' ``flag``).

    Example:
        >>> from distillguard.detect.api_logs import simulate_logs, AccountScorer
        >>> logs, acc = simulate_logs(300, 2, hydra_size=5, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
        >>> scorer = AccountScorer(target_fpr=0.01).fit(logs[logs["label"] == 0])
        >>> out = scorer.score_logs(logs)
        >>> list(out.columns)[:4]
        ['account_id', 'score', 'flag', 'reasons']
        >>> bool((out["score"] >= out["own_score"]).all())
        True
        >>> pred = scorer.predict(logs)
        >>> sorted(pred.index[pred == -1]) == sorted(out.loc[out["flag"], "account_id"])
        True
        >>> bool(((scorer.decision_function(logs) < 0) == (pred == -1)).all())
        True
    """

    def __init__(self, target_fpr: float = 1e-3, method: str = "harvest", min_cluster_size: int = 3,
                 calibration_fraction: float = 0.3, random_state: int = 0, progress: bool = False,
                 cluster_links: tuple[str, ...] = ("ip", "user_agent")):
        self.cluster_links = cluster_links
        self.target_fpr = target_fpr
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.progress = progress

    def _features(self, logs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        from distillguard.detect.api_logs.coordination import cluster_logs, link_accounts
        from distillguard.detect.api_logs.features import account_features

        feats = account_features(logs, progress=self.progress)
        clusters = link_accounts(logs, links=tuple(self.cluster_links))
        cl = cluster_logs(logs, clusters, min_size=self.min_cluster_size)
        cfeats = account_features(cl, progress=self.progress) if len(cl) else feats.iloc[:0]
        return feats, clusters, cfeats

    def fit(self, logs: pd.DataFrame, labels: pd.Series | None = None) -> AccountScorer:
        feats, clusters, cfeats = self._features(logs)
        rng = np.random.default_rng(self.random_state)
        if labels is None:
            y = np.zeros(len(feats), dtype=int)
        else:
            y = labels.reindex(feats["account_id"]).fillna(0).to_numpy().astype(int)
        cal = (y == 0) & _split(len(feats), self.calibration_fraction, rng)
        train = feats.iloc[np.flatnonzero(~cal)]
        if labels is None:
            self.detector_ = UnsupervisedDetector(method=self.method, target_fpr=self.target_fpr,
                                                  calibration_fraction=0.0,
                                                  random_state=self.random_state).fit(train)
        else:
            self.detector_ = SupervisedDetector(target_fpr=self.target_fpr, calibration_fraction=0.0,
                                                random_state=self.random_state).fit(train, y[~cal])
        final = self._combine(feats, clusters, cfeats).set_index("account_id")["score"]
        ref = feats["account_id"].to_numpy()[cal if cal.any() else y == 0]
        self.threshold_ = threshold_for_fpr(final.reindex(ref).to_numpy(), self.target_fpr)
        self.n_calibration_ = int(len(ref))
        return self

    def _suspicion(self, logs: pd.DataFrame) -> pd.Series:
        feats, clusters, cfeats = self._features(logs)
        ids = pd.Index(feats["account_id"].to_numpy(), name="account_id")
        return self._combine(feats, clusters, cfeats).set_index("account_id")["score"].reindex(ids)

    def _combine(self, feats, clusters, cfeats) -> pd.DataFrame:
        own = self.detector_.score_accounts(feats)
        out = own.merge(clusters, on="account_id", how="left")
        if len(cfeats):
            cs = self.detector_.score_accounts(cfeats).rename(
                columns={"account_id": "cluster_id", "score": "cluster_score", "reasons": "cluster_reasons"})
            out = out.merge(cs.drop(columns="flag"), on="cluster_id", how="left")
        else:
            out["cluster_score"], out["cluster_reasons"] = np.nan, ""
        out["own_score"] = out["score"]
        out["score"] = np.fmax(out["own_score"], out["cluster_score"].fillna(-np.inf))
        use_cluster = out["cluster_score"].fillna(-np.inf) > out["own_score"]
        out["reasons"] = np.where(use_cluster, "cluster: " + out["cluster_reasons"].fillna(""), out["reasons"])
        return out.drop(columns=["cluster_reasons"])

    def score_logs(self, logs: pd.DataFrame) -> pd.DataFrame:
        """Score every account of ``logs``: account_id, score, flag, reasons, cluster columns.

        Example:
            >>> from distillguard.detect.api_logs import simulate_logs, AccountScorer
            >>> logs, _ = simulate_logs(60, 1, hydra_size=3, days=2, seed=2, prompts=[f"q {i}" for i in range(50)])
            >>> out = AccountScorer(target_fpr=0.05).fit(logs[logs["label"] == 0]).score_logs(logs)
            >>> bool(out["score"].is_monotonic_decreasing), out["flag"].dtype.name
            (True, 'bool')
        """
        check_is_fitted(self)
        out = self._combine(*self._features(logs))
        out["flag"] = out["score"] > self.threshold_
        cols = ["account_id", "score", "flag", "reasons", "own_score", "cluster_id", "cluster_size",
                "cluster_score", "link_evidence", "co_activity"]
        return out[cols].sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
