"""The end-to-end account scorer on raw logs: features, coordinated clusters, one FPR-calibrated threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs._base import _Flagging
from distillguard.detect.api_logs.account_detectors import SupervisedDetector, UnsupervisedDetector
from distillguard.detect.api_logs.calibration import _split, threshold_for_fpr
from distillguard.detect.api_logs.coordination import cluster_logs, link_accounts
from distillguard.detect.api_logs.features import account_features

__all__ = ["AccountScorer"]


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
    suspicious first. The per-account methods follow the outlier-detector convention of :mod:`.detectors`
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
