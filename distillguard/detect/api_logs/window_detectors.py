"""Window-level detectors: the MMD two-sample baseline on prompt vectors and our directional window test.

A window is a slice of one client's traffic; both detectors calibrate ``threshold_`` on a null of benign
windows (:func:`~.calibration.threshold_for_fpr`). Conventions: :mod:`.detectors`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs._base import _Flagging
from distillguard.detect.api_logs.calibration import threshold_for_fpr
from distillguard.detect.api_logs.features import prompt_row_features
from distillguard.errors import DistillguardError

__all__ = ["WINDOW_STATISTICS", "HarvestWindowDetector", "MMDWindowDetector"]

#: Window statistics of :class:`HarvestWindowDetector` (all oriented so that high is harvest-like).
WINDOW_STATISTICS: tuple[str, ...] = ("cot_frac", "rubric_frac", "long_completion_frac", "completion_log_mean",
                                      "maxtok_frac", "template_repeat_frac", "near_dup_rate")


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
    convention (:mod:`.detectors`): ``suspicion_score`` is the MMD² statistic, ``predict`` -1 for a flagged
    window (MMD² ``> threshold_``) and +1 otherwise, ``decision_function = threshold_ - MMD²``, ``flag`` the 0/1
    flags.

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

    ``X`` is a list of windows. An outlier detector in scikit-learn's convention (:mod:`.detectors`):
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
        """Per-request inputs of the window statistics (CoT/rubric markers, lengths, template keys).

        Example:
            >>> import pandas as pd
            >>> from distillguard.detect.api_logs.detectors import HarvestWindowDetector
            >>> logs = pd.DataFrame({"prompt": ["Think step by step: 2+2?", "hi"], "completion_tokens": [1200, 5]})
            >>> r = HarvestWindowDetector.request_features(logs)
            >>> r["cot"].tolist(), r["long"].tolist()
            ([True, False], [True, False])
        """
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
        """One row per window, the columns of :data:`WINDOW_STATISTICS`.

        Example:
            >>> import pandas as pd
            >>> from distillguard.detect.api_logs.detectors import WINDOW_STATISTICS, HarvestWindowDetector
            >>> w = pd.DataFrame({"prompt": ["Think step by step: 2+2?", "hi"], "completion_tokens": [1200, 5]})
            >>> S = HarvestWindowDetector().window_statistics([w, w])
            >>> S.shape == (2, len(WINDOW_STATISTICS)), float(S.loc[0, "cot_frac"])
            (True, 0.5)
        """
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


