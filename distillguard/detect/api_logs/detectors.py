"""Detectors of harvesting accounts, scikit-learn style, with thresholds set from a target FPR on benign data.

* :class:`UnsupervisedDetector` -- IsolationForest (or robust z) fitted on traffic assumed benign;
* :class:`SupervisedDetector` -- HistGradientBoosting on labelled accounts;
* :class:`MMDWindowDetector` -- the window-level two-sample test (MMD, RBF kernel) of a client's prompt
  representations against benign traffic, the published baseline (1,500-query windows);
* :class:`AccountScorer` -- the end-to-end pipeline: features, coordinated clusters scored as pseudo-accounts,
  an account's score = max(own score, its cluster's score), one FPR-calibrated threshold.

``decision_function`` returns higher-is-more-suspicious scores, ``predict`` 0/1 flags (score > ``threshold_``),
and ``score_accounts`` a DataFrame with ``account_id``, ``score``, ``flag`` and the top reasons (the features
furthest from benign, in robust z units).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, OutlierMixin

from distillguard.detect.api_logs.features import FEATURE_COLUMNS

__all__ = ["AccountScorer", "MMDWindowDetector", "SupervisedDetector", "UnsupervisedDetector",
           "threshold_for_fpr"]

_LOG_COLS = {"n_requests", "active_days", "span_days", "req_per_active_day", "max_req_per_hour", "gap_median_s",
             "prompt_tokens_mean", "completion_tokens_mean", "completion_tokens_p90", "completion_prompt_ratio",
             "n_ips", "n_user_agents"}


def threshold_for_fpr(benign_scores: np.ndarray, target_fpr: float) -> float:
    """The smallest threshold whose false-positive rate on ``benign_scores`` is at most ``target_fpr``.

    Flags are ``score > threshold``. With ``n`` benign scores the achievable FPR resolution is ``1/n``;
    ``target_fpr < 1/n`` gives the maximum benign score.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.detectors import threshold_for_fpr
        >>> threshold_for_fpr(np.arange(1000.0), 0.01)
        989.0
    """
    s = np.sort(np.asarray(benign_scores, dtype=float))[::-1]
    if len(s) == 0:
        raise ValueError("no benign scores to calibrate on")
    k = int(np.floor(target_fpr * len(s)))
    return float(s[min(k, len(s) - 1)])


def _matrix(X: pd.DataFrame) -> np.ndarray:
    missing = [c for c in FEATURE_COLUMNS if c not in X.columns]
    if missing:
        from distillguard.errors import DistillguardError

        raise DistillguardError(f"feature table lacks column {missing[0]!r}")
    M = X[FEATURE_COLUMNS].to_numpy(dtype=np.float64, copy=True)
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
        return (M - self.med) / self.scale


def _reasons(z: np.ndarray, raw: np.ndarray, top: int) -> list[str]:
    idx = np.argsort(-np.abs(z), axis=1)[:, :top]
    return ["; ".join(f"{FEATURE_COLUMNS[j]}={raw[i, j]:.3g} (z={z[i, j]:+.1f})" for j in row)
            for i, row in enumerate(idx)]


class _Base(BaseEstimator):
    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    def score_accounts(self, X: pd.DataFrame, top: int = 3) -> pd.DataFrame:
        """Scores, flags and the ``top`` most unusual features per account, most suspicious first."""
        s = self.decision_function(X)
        raw = X[FEATURE_COLUMNS].to_numpy(dtype=np.float64)
        return pd.DataFrame({"account_id": _ids(X), "score": s, "flag": s > self.threshold_,
                             "reasons": _reasons(self.scale_.z(_matrix(X)), raw, top)}
                            ).sort_values("score", ascending=False, kind="stable").reset_index(drop=True)


class UnsupervisedDetector(OutlierMixin, _Base):
    """Anomaly detector fitted on per-account features of traffic assumed benign.

    ``method="iforest"`` (IsolationForest on robust-scaled, log-compressed features) or ``"robust_z"`` (mean
    of the three largest |z|). A random ``calibration_fraction`` of the benign accounts is held out of the
    fit and sets ``threshold_`` at ``target_fpr``.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.detectors import UnsupervisedDetector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(400, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> det = UnsupervisedDetector(target_fpr=0.05, n_estimators=50).fit(X)
        >>> X.iloc[:1] = 25.0
        >>> int(det.predict(X)[0])
        1
    """

    def __init__(self, method: str = "iforest", target_fpr: float = 1e-3, n_estimators: int = 300,
                 calibration_fraction: float = 0.3, random_state: int = 0):
        self.method = method
        self.target_fpr = target_fpr
        self.n_estimators = n_estimators
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y=None) -> UnsupervisedDetector:
        M = _matrix(X)
        rng = np.random.default_rng(self.random_state)
        cal = rng.random(len(M)) < self.calibration_fraction
        if cal.sum() < 10 or (~cal).sum() < 10:
            cal = np.zeros(len(M), dtype=bool)
            cal[::2] = True
        self.scale_ = _RobustScale(M[~cal])
        if self.method == "iforest":
            from sklearn.ensemble import IsolationForest

            self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state,
                                          n_jobs=1).fit(self.scale_.z(M[~cal]))
        elif self.method != "robust_z":
            raise ValueError(f"unknown method {self.method!r}")
        self.n_features_in_ = M.shape[1]
        self.threshold_ = threshold_for_fpr(self._score(M[cal]), self.target_fpr)
        return self

    def _score(self, M: np.ndarray) -> np.ndarray:
        z = self.scale_.z(M)
        if self.method == "iforest":
            return -self.model_.score_samples(z)
        return np.sort(np.abs(z), axis=1)[:, -3:].mean(axis=1)

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self._score(_matrix(X))


class SupervisedDetector(ClassifierMixin, _Base):
    """HistGradientBoosting on labelled accounts (1 = harvester); threshold from held-out benign accounts.

    The decision function is the log-odds. ``calibration_fraction`` of the benign accounts are held out of
    training to set ``threshold_`` at ``target_fpr``.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.detectors import SupervisedDetector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(rng.normal(size=(600, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> y = (np.arange(600) < 60).astype(int); X.loc[y == 1, "cot_frac"] += 6
        >>> det = SupervisedDetector(target_fpr=0.01).fit(X, y)
        >>> float(det.predict(X)[y == 1].mean()) > 0.9
        True
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

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.decision_function(_matrix(X))


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return np.maximum((A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2 * A @ B.T, 0)


class MMDWindowDetector(BaseEstimator):
    """Two-sample MMD test of a window of a client's prompt vectors against benign reference traffic.

    The published baseline scores 1,500-query windows; the statistic is the unbiased MMD² with an RBF
    kernel (median-heuristic bandwidth on the reference). ``fit`` takes benign windows: the first
    ``n_reference`` vectors of a random permutation form the reference, and the remaining windows set
    ``threshold_`` at ``target_fpr``.

    Example:
        >>> import numpy as np
        >>> from distillguard.detect.api_logs.detectors import MMDWindowDetector
        >>> rng = np.random.default_rng(0)
        >>> benign = [rng.normal(size=(100, 8)) for _ in range(40)]
        >>> det = MMDWindowDetector(n_reference=300, target_fpr=0.05).fit(benign)
        >>> bool(det.predict([rng.normal(size=(100, 8)) + 1.0])[0])
        True
    """

    def __init__(self, window: int = 1500, n_reference: int = 1000, target_fpr: float = 0.003,
                 random_state: int = 0):
        self.window = window
        self.n_reference = n_reference
        self.target_fpr = target_fpr
        self.random_state = random_state

    def fit(self, benign_windows: list[np.ndarray], y=None) -> MMDWindowDetector:
        rng = np.random.default_rng(self.random_state)
        n_ref_windows = max(1, len(benign_windows) // 4)
        ref = np.concatenate(benign_windows[:n_ref_windows])
        self.reference_ = ref[rng.permutation(len(ref))[: self.n_reference]]
        d = _sqdist(self.reference_[:500], self.reference_[:500])
        self.gamma_ = 1.0 / max(np.median(d[np.triu_indices(len(d), 1)]), 1e-12)
        k = np.exp(-self.gamma_ * _sqdist(self.reference_, self.reference_))
        m = len(k)
        self._kyy = (k.sum() - np.trace(k)) / (m * (m - 1))
        self.threshold_ = threshold_for_fpr(self.decision_function(benign_windows[n_ref_windows:]),
                                            self.target_fpr)
        return self

    def _mmd2(self, X: np.ndarray) -> float:
        n = len(X)
        kxx = np.exp(-self.gamma_ * _sqdist(X, X))
        kxy = np.exp(-self.gamma_ * _sqdist(X, self.reference_))
        return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + self._kyy - 2 * kxy.mean())

    def decision_function(self, windows: list[np.ndarray]) -> np.ndarray:
        return np.array([self._mmd2(np.asarray(w, dtype=np.float64)) for w in windows])

    def predict(self, windows: list[np.ndarray]) -> np.ndarray:
        return (self.decision_function(windows) > self.threshold_).astype(np.int64)


class AccountScorer(BaseEstimator):
    """End-to-end scorer on raw logs: features, coordinated clusters, one FPR-calibrated threshold.

    ``fit(logs)`` treats ``logs`` as benign reference traffic (or, with ``labels`` -- a Series of 0/1
    indexed by account_id -- trains the supervised detector). An account's score is the maximum of its own
    score and the score of its coordinated cluster (members' logs pooled as one pseudo-account), and the
    threshold is set on benign held-out accounts' final scores.

    Example:
        >>> from distillguard.detect.api_logs import simulate_logs, AccountScorer
        >>> logs, acc = simulate_logs(300, 2, hydra_size=5, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
        >>> scorer = AccountScorer(target_fpr=0.01, n_estimators=50).fit(logs[logs["label"] == 0])
        >>> out = scorer.score_logs(logs)
        >>> list(out.columns)[:4]
        ['account_id', 'score', 'flag', 'reasons']
    """

    def __init__(self, target_fpr: float = 1e-3, n_estimators: int = 300, min_cluster_size: int = 3,
                 random_state: int = 0, progress: bool = False):
        self.target_fpr = target_fpr
        self.n_estimators = n_estimators
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state
        self.progress = progress

    def _features(self, logs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        from distillguard.detect.api_logs.coordination import cluster_logs, link_accounts
        from distillguard.detect.api_logs.features import account_features

        feats = account_features(logs, progress=self.progress)
        clusters = link_accounts(logs)
        cl = cluster_logs(logs, clusters, min_size=self.min_cluster_size)
        cfeats = account_features(cl, progress=self.progress) if len(cl) else feats.iloc[:0]
        return feats, clusters, cfeats

    def fit(self, logs: pd.DataFrame, labels: pd.Series | None = None) -> AccountScorer:
        feats, clusters, cfeats = self._features(logs)
        if labels is None:
            self.detector_ = UnsupervisedDetector(target_fpr=self.target_fpr, n_estimators=self.n_estimators,
                                                  random_state=self.random_state).fit(feats)
            benign = np.ones(len(feats), dtype=bool)
        else:
            y = labels.reindex(feats["account_id"]).fillna(0).to_numpy().astype(int)
            self.detector_ = SupervisedDetector(target_fpr=self.target_fpr,
                                                random_state=self.random_state).fit(feats, y)
            benign = y == 0
        final = self._combine(feats, clusters, cfeats)
        self.threshold_ = threshold_for_fpr(final["score"].to_numpy()[benign], self.target_fpr)
        return self

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
        """Score every account of ``logs``: account_id, score, flag, reasons, cluster columns."""
        out = self._combine(*self._features(logs))
        out["flag"] = out["score"] > self.threshold_
        cols = ["account_id", "score", "flag", "reasons", "own_score", "cluster_id", "cluster_size",
                "cluster_score", "link_evidence", "co_activity"]
        return out[cols].sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
