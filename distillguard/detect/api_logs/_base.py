"""Shared pieces of the API-log detectors: the feature matrix, robust scaling, reasons, the flagging mixin.

:class:`_Flagging` gives the outlier detectors (and :class:`~.scorer.AccountScorer`) scikit-learn's
``score_samples`` / ``decision_function`` / ``predict`` / ``flag`` as views of one score, ``suspicion_score``
(higher = more harvest-like) against ``threshold_``; :class:`_Base` gives the feature-table detectors
``score_accounts`` and per-account reasons. The conventions are described in :mod:`.detectors`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs.features import FEATURE_COLUMNS
from distillguard.errors import DistillguardError

_LOG_COLS = {"n_requests", "active_days", "span_days", "req_per_active_day", "max_req_per_hour", "gap_median_s",
             "prompt_tokens_mean", "completion_tokens_mean", "completion_tokens_p90", "completion_prompt_ratio",
             "n_ips", "n_user_agents"}


#: at most this many user agents count as one client (a person's laptop and phone)
_ONE_CLIENT_AGENTS = 2


def _with_derived(X: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in FEATURE_COLUMNS if c not in X.columns]
    if missing:
        raise DistillguardError(f"feature table lacks column {missing[0]!r}")
    D = X[FEATURE_COLUMNS].astype(np.float64)
    # follow-ups are read within one client: an account whose requests come from many user agents (a key
    # shared by many end users) interleaves their sessions, and a low follow-up rate says nothing there
    one_client = D["n_user_agents"] <= _ONE_CLIENT_AGENTS
    return D.assign(total_completion_tokens=D["n_requests"] * D["completion_tokens_mean"],
                    followup_rate_one_client=D["followup_rate"].where(one_client))


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

