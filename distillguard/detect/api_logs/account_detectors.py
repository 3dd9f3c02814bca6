"""Account-level detectors on per-account feature tables: unsupervised (benign reference) and supervised.

The ``harvest`` method, the scikit-learn conventions and the thresholds are described in :mod:`.detectors`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin, OutlierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs._base import _Base, _Flagging, _ids, _matrix, _RobustScale, _with_derived
from distillguard.detect.api_logs.calibration import _band_tail, _exp_tail, _split, threshold_for_fpr
from distillguard.errors import DistillguardError

__all__ = ["HARVEST_EVIDENCE", "SupervisedDetector", "UnsupervisedDetector"]

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
    "no_follow_ups": {"followup_rate_one_client": -1},
}
_VOLUME = {"n_requests", "req_per_active_day", "total_completion_tokens"}
#: positive features with heavy benign tails (a light account of one-word follow-ups such as "continue" has a
#: completion/prompt ratio in the hundreds): their tails are fitted on the log scale (a Pareto tail), an
#: exponential tail on the raw scale made such a human the most extreme account of a benign reference
_HEAVY_TAILED = {"completion_prompt_ratio", "completion_tokens_mean", "completion_tokens_p90"}
#: the answer lengths, whose tails a robust fit reads from a band below the top (``tail_band``): harvesters ask
#: for long answers, a few percent of them at the top of the scored logs would otherwise be their own reference.
#: Not the completion/prompt ratio: one-word follow-ups put people at ratios in the hundreds
_BAND_TAILED = frozenset({"completion_tokens_mean", "completion_tokens_p90"})
#: the features whose evidence may grow past the largest reference value (a fitted tail): the unbounded ones.
#: Shares, fractions, entropies and burstiness are bounded; near their bound the top of the reference is
#: compressed, its mean excess tiny, and an exponential tail read a value barely past the reference as
#: p = 1e-12 (a new benign eval harness slightly steadier than the reference's: a false positive at 1e-3).
#: Their evidence stays empirical and saturates at log10(n + 1).
_EXTRAPOLATED = frozenset(_VOLUME | _HEAVY_TAILED)


class UnsupervisedDetector(OutlierMixin, _Flagging, _Base):
    """Detector fitted on per-account features of traffic assumed benign (no attacker labels).

    ``method="harvest"`` (default, see :mod:`.detectors` and :data:`HARVEST_EVIDENCE`): directional
    benign-tail evidence per group, ``shrinkage`` pseudo-requests pull small accounts' features towards the
    benign median, beyond the top ``tail_fraction`` of the reference ``-log10 p`` follows an exponential tail
    fit (capped at ``max_evidence`` per feature; unbounded features only -- volume and the heavy-tailed
    lengths --, bounded ones and ``tail_fraction=0``: purely empirical p-values, which
    saturate at ``log10(n + 1)``), the score is ``sum_g max(0, -log10 p_g - margin)`` capped by the Euclidean distance of the
    account's group-evidence vector to its ``novelty_k``-th nearest benign training account (``None``: no cap).
    ``tail_band=(a, b)`` reads the answer lengths' tails (:data:`_BAND_TAILED`) from the band between their ``a``
    and ``b`` quantiles instead of the top ``tail_fraction`` (a robust fit, whose reference holds harvesters at
    its top: :func:`.calibration._band_tail`).
    ``"robust_z"``: mean of the three largest two-sided robust z; ``"iforest"``: IsolationForest on robust z.

    A random ``calibration_fraction`` of the benign accounts is held out of the fit and sets ``threshold_``
    at ``target_fpr`` (:func:`threshold_for_fpr`); with 0 the threshold comes from the training accounts
    (optimistic; recalibrate on held-out benign scores). The reference must be benign: harvesters in it
    become neighbours of harvesters.

    ``X`` is a feature table (:func:`~distillguard.detect.api_logs.features.account_features`: the columns of
    :data:`FEATURE_COLUMNS`, optionally ``account_id``). An outlier detector in scikit-learn's convention
    (:mod:`.detectors`): ``suspicion_score`` is the score above, ``predict`` -1 for a flagged account
    (``suspicion_score > threshold_``) and +1 otherwise, ``decision_function = threshold_ - suspicion_score``
    (negative = flagged), ``flag`` the 0/1 flags.

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
        >>> set(p.tolist()) <= {-1, 1}, int((p == -1).sum()) <= 8
        (True, True)
        >>> det.fit_predict(X).shape
        (400,)
    """

    #: the evidence groups (feature -> direction) the ``harvest`` method reads; subclasses may narrow them
    evidence_groups: ClassVar[dict[str, dict[str, int]]] = HARVEST_EVIDENCE
    #: the features whose evidence may grow past the reference's largest value (see :data:`_EXTRAPOLATED`)
    extrapolated_features: ClassVar[frozenset[str]] = _EXTRAPOLATED

    def __init__(self, method: str = "harvest", target_fpr: float = 1e-3, shrinkage: float = 30.0,
                 margin: float = 1.0, novelty_k: int | None = 2, n_estimators: int = 300,
                 calibration_fraction: float = 0.3, random_state: int = 0, tail_fraction: float = 0.02,
                 max_evidence: float = 12.0, tail_band: tuple[float, float] | None = None):
        self.method = method
        self.tail_band = tail_band
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
            fit_idx = np.flatnonzero(fit_rows)
            D = self._derived(X.iloc[fit_idx])
            n = D["n_requests"].to_numpy()
            self.medians_, self.reference_ = {}, {}
            self.tails_ = {}
            for feats in self.evidence_groups.values():
                for c, sign in feats.items():
                    v = D[c].to_numpy()
                    have = ~np.isnan(v)  # a feature undefined for an account (follow-ups of a shared key)
                    self.medians_[c] = float(np.median(v[have])) if have.any() else 0.0
                    ref = self._reference_values(sign * self._shrink(c, v[have], n[have]), fit_idx[have])
                    self.reference_[c] = ref = np.sort(ref)
                    self.tails_[c] = (_band_tail(ref, self.tail_band) if self.tail_band and c in _BAND_TAILED
                                      else _exp_tail(ref, self.tail_fraction))
            E = self._evidence(X.iloc[np.flatnonzero(fit_rows)])
            if self.novelty_k:
                self.knn_ = NearestNeighbors(n_neighbors=min(self.novelty_k, len(E))).fit(E)
        elif self.method == "iforest":
            self.model_ = IsolationForest(n_estimators=self.n_estimators, random_state=self.random_state,
                                          n_jobs=1).fit(self.scale_.z(M[fit_rows]))
        ref = X.iloc[np.flatnonzero(cal if cal.any() else fit_rows)]
        self.threshold_ = threshold_for_fpr(self._suspicion(ref), self.target_fpr)
        self.n_calibration_ = len(ref)  # benign accounts the threshold rests on: FPR bound >= 1 / (n + 1)
        return self

    @staticmethod
    def _derived(X: pd.DataFrame) -> pd.DataFrame:
        return _with_derived(X)

    def _reference_values(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The benign reference of one feature from its (signed, shrunk) values at positions ``rows`` of ``X``."""
        return values

    def _shrink(self, c: str, v: np.ndarray, n: np.ndarray) -> np.ndarray:
        if c in _VOLUME:
            return np.log1p(np.maximum(v, 0))
        w = n / (n + self.shrinkage)
        shrunk = self.medians_[c] + (v - self.medians_[c]) * w
        return np.log1p(np.maximum(shrunk, 0)) if c in _HEAVY_TAILED else shrunk

    def _feature_logp(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        D = self._derived(X)
        n = D["n_requests"].to_numpy()
        out = {}
        for feats in self.evidence_groups.values():
            for c, sign in feats.items():
                ref = self.reference_[c]
                x = np.nan_to_num(sign * self._shrink(c, D[c].to_numpy(), n), nan=-np.inf)
                ge = len(ref) - np.searchsorted(ref, x, side="left")
                lp = -np.log10((1.0 + ge) / (len(ref) + 1.0))
                tail = self.tails_.get(c) if self.tail_fraction and c in self.extrapolated_features else None
                if tail is not None:
                    u, beta, lp_u = tail
                    ext = lp_u + (x - u) / (beta * np.log(10.0))
                    lp = np.where(x > u, np.minimum(np.maximum(lp, ext), self.max_evidence), lp)
                out[c] = lp
        return out

    def _evidence(self, X: pd.DataFrame) -> np.ndarray:
        lp = self._feature_logp(X)
        cols = [np.max(np.vstack([lp[c] for c in feats]), axis=0) for feats in self.evidence_groups.values()]
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
        return pd.DataFrame(self._evidence(X), columns=list(self.evidence_groups), index=_ids(X))

    def _suspicion(self, X: pd.DataFrame) -> np.ndarray:
        if self.method == "harvest":
            E = self._evidence(X)
            s = E.sum(axis=1)
            if self.novelty_k:
                s = np.minimum(s, self._novelty_cap(E))
            return s
        z = self.scale_.z(_matrix(X))
        if self.method == "iforest":
            return -self.model_.score_samples(z)
        return np.sort(np.abs(z), axis=1)[:, -3:].mean(axis=1)

    def training_suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Suspicion scores of the accounts this detector was fitted on, each left out of its own novelty cap.

        In-sample, an account is its own nearest neighbour and its cap is its distance to the nearest *other*
        one; leaving it out reads it as a new account would be read (the next neighbour), so quantiles of these
        scores estimate quantiles of new benign accounts' scores. Other methods: the in-sample scores.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.detectors import UnsupervisedDetector
            >>> rng = np.random.default_rng(0)
            >>> X = pd.DataFrame(rng.random(size=(100, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
            >>> det = UnsupervisedDetector(calibration_fraction=0.0).fit(X)
            >>> bool((det.training_suspicion(X) >= det.suspicion_score(X)).all())
            True
        """
        check_is_fitted(self)
        if self.method != "harvest" or not self.novelty_k:
            return np.asarray(self._suspicion(X))
        E = self._evidence(X)
        return np.minimum(E.sum(axis=1), self._novelty_cap(E, leave_self_out=True))

    def _novelty_cap(self, E: np.ndarray, leave_self_out: bool = False) -> np.ndarray:
        """Distance of each evidence vector to its ``novelty_k``-th nearest benign training row (one more if
        ``leave_self_out``: the rows of ``E`` are training rows, each its own nearest)."""
        k = min(self.novelty_k + int(leave_self_out), self.knn_.n_samples_fit_)
        return self.knn_.kneighbors(E, n_neighbors=k)[0][:, -1]

    def _explain(self, X: pd.DataFrame, top: int) -> list[str]:
        if self.method != "harvest":
            return super()._explain(X, top)
        lp = self._feature_logp(X)
        D = self._derived(X)
        groups = list(self.evidence_groups)
        best = []
        for feats in self.evidence_groups.values():
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
        self.n_calibration_ = len(ref)  # benign accounts the threshold rests on: FPR bound >= 1 / (n + 1)
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


