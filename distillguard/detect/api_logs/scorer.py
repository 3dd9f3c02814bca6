"""The end-to-end account scorer on raw logs: features, coordinated clusters and campaigns, one calibrated threshold."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from distillguard.detect.api_logs._base import _Flagging
from distillguard.detect.api_logs.account_detectors import SupervisedDetector, UnsupervisedDetector
from distillguard.detect.api_logs.calibration import _split, threshold_for_fpr
from distillguard.detect.api_logs.campaigns import (
    _POOLED_MIN_REQUESTS,
    CampaignDetector,
    RobustCampaignDetector,
    behaviour_clusters,
    campaign_lookalikes,
    censored_start_days,
    cohort_evidence,
    cohort_gate_evidence,
    cohort_recruits,
    cohort_window_members,
    group_cohort_evidence,
    hour_vector,
    link_campaigns,
    null_groups,
    null_sources,
    pooled_features,
)
from distillguard.detect.api_logs.coordination import cluster_logs, link_accounts
from distillguard.detect.api_logs.features import account_features
from distillguard.errors import DistillguardError

__all__ = ["AccountScorer"]


class AccountScorer(_Flagging, BaseEstimator):
    """End-to-end scorer on raw logs: features, coordinated clusters, one FPR-calibrated threshold.

    ``fit(logs)`` treats ``logs`` as benign reference traffic (or, with ``labels`` -- a Series of 0/1
    indexed by account_id -- trains the supervised detector). The threshold is calibrated on held-out scores:
    with ``calibration_folds=K`` (default 5, cross-conformal) the accounts are split into K folds (whole
    linked campaigns per fold: a benign campaign is calibrated at its full size, against a null without it), each
    fold is scored by models fitted on the other folds, every benign account calibrates, and the models used
    for scoring are then fitted on all of them (validity: the held-out fold's models see 1/K less data, so
    their scores are if anything higher; the worst-case guarantee of cross-conformal is about twice the target,
    in practice the target -- measured in ``benchmarks/api_logs.py``); with ``calibration_folds=None`` a random
    ``calibration_fraction`` of the benign accounts is held out of one fit (split-conformal; it warns: on fresh
    benign traffic it flagged 80 and 76 of 6,400 accounts at a 1e-3 target, 63 of the 80 a tutoring platform
    calibrated on 30 % of its accounts and scored whole; a split of whole linked groups still flagged 38). The
    robust fit (no reference) trims with the split (while attackers are still in, held-out folds would all hold
    some) and, once the trimmed set has settled, calibrates the same way on every account left in. ``calibration_folds=None`` keeps the split there: more
    power (the fraction axis's 1 % campaign, lost otherwise on development seeds), but it flagged 12 of 1,600
    benign accounts at 1e-3 on one held-out seed, where its threshold was the largest of 465 scores.
    Group evidence (a campaign's, below; with ``cluster_lift`` also a coordinated cluster's) lifts an
    account's score to the group's only when the account's own score exceeds ``member_gate_`` (the
    ``member_gate_quantile`` of benign training accounts' own scores, each left out of its own novelty cap;
    ``None``: no gate), or when it is template-linked (it sent the group's near-duplicate templates itself): a
    benign account swept into an attackers' group by a behaviour cluster or a shared address keeps its own
    score unless its own evidence is already in the benign top 10 %, so group evidence never lowers a score.
    Accounts are clustered by shared infrastructure (``cluster_links``: shared IPs and rare user agents; a
    shared prompt template alone also links independent users of one public eval harness) and reported
    (``cluster_id``, ``link_evidence``, ``co_activity``); these links also join campaigns, whose null is made of
    benign groups. ``cluster_lift=True`` (off by default) also scores each cluster as one pooled pseudo-account
    with the *account-level* detector and lifts its members to that score. That is not a test of the group:
    pooled, any large group is voluminous and round-the-clock against single accounts, and only the reference's
    own clusters calibrate it. On traffic written without sight of this code (``benchmarks/independent_logs.py``,
    held-out seed 1001) carrier NATs, VPN exits and office addresses shared with popular user agents chained 901
    benign accounts into one cluster, twice the size of the reference week's: with the lift, 417 of
    3,092 benign accounts were flagged at a 1e-3 target (416 through the cluster); without it 1, at the same
    TPR (0.941). What the lift adds is pooled volume: on the project's own simulator at full size it changed no
    flag (development seeds 20261227-28), but in the tests' small 7-day simulation 3 of 12 hydra accounts
    fall under the threshold without it (their campaign evidence reads what they ask, not how much).
    ``threshold_`` is the :func:`threshold_for_fpr` quantile of the held-out benign accounts' final scores.

    With ``campaigns`` (default) an account's score is also at least its campaign's: accounts linked by
    near-duplicate prompt templates (MinHash-LSH) or shared infrastructure (:func:`.campaigns.link_campaigns`)
    are pooled and scored by a :class:`.campaigns.CampaignDetector` fitted on benign pseudo-campaigns of the
    reference's training accounts (sub-samples of its own linked benign clusters and random groups), on what
    the members ask for (long outputs, max-token requests, reasoning) and on the cohort evidence (members
    first seen together). The calibration accounts' campaign scores come from their own members only,
    disjoint from the pseudo-campaigns the null was built from. With ``cohorts`` (default) accounts that
    neither templates nor infrastructure link are clustered by behaviour (:func:`.campaigns.behaviour_clusters`:
    a campaign that sends bare prompts from a residential proxy pool), and a cluster becomes a campaign when its
    members' cohort evidence (first seen together) is at least ``min_cohort_evidence`` -- or, with
    ``recruit_gate`` (default), its recruit evidence (below) is, computed for every cluster before the gate (one
    round, no joining): a campaign opened over several days against a busy background breaks into pieces whose
    own cohort evidence is under the gate, while the accounts first seen in a piece's window that behave like it
    are many more than chance (development seed 20261228: pieces of 24 and 17 accounts of a bare campaign read
    cohort evidence 0.77 and 0.54, recruit evidence 6.5 and 9.7; a benign onboarding cohort 0.95 and 0.98; the
    reference's clusters none: no cohort window). It then recruits the
    unclustered accounts first seen in its cohort window that behave like it, and takes in whole the smaller
    clusters most of whose members it would recruit (a campaign HDBSCAN split into several cores;
    :func:`.campaigns.cohort_recruits` at ``recruit_alpha``; ``None``: none). Recruits do not count in its cohort
    evidence and stay among the other accounts of its null; how many there are against chance (a beta-binomial
    tail) is the cluster's ``recruit_evidence``, read in the campaign's cohort evidence group (the larger of the
    two) and, in a robust fit, left out of the reference past ``trim_evidence`` like the cohort evidence. Such a behaviour campaign lifts its members only
    when its typical member converses less than ordinary users: the median follow-up rate of its members
    (with at least 20 requests) under ``conversing_share`` times the median of the benign training accounts'
    (``conversing_gate_``; ``None``: no such gate). People an organisation signs up together -- one time zone,
    one client setting, a shared use case with longer answers -- are first seen together and alike, and their
    pooled answer length stands out against random groups of benign accounts; what they do not do is stop
    following up on the answers (development stress test, ``benchmarks/api_logs_fpr.py --onboarding``: without
    this gate 70 of 800 such benign accounts were flagged over four seeds with a reference, up to 32 of 200 on one). Cohort evidence ignores
    the log's first days, where accounts that predate the log are first seen: with ``censor_weekdays`` (default)
    through the log's first weekday (:func:`.campaigns.censored_start_days`: one day for a log begun on a
    weekday morning, three for one begun on a Saturday), otherwise its first 3-day window.
    ``robust=True`` fits on logs that may hold
    attackers (see :meth:`fit`: ``trim_evidence``, ``max_trim_iter``, ``oof_trim_rounds``, ``lookalike_share``);
    ``novelty_k`` is the detector's novelty cap (raised to
    ``robust_novelty_share`` of the fit accounts in robust mode, so a group of similar attackers smaller
    than that share stays novel; default 5 %: at 1 % the rest of a 120-account campaign that the conversing gate
    had left alone looked "known" to itself on independent seed 1005, found post hoc, see docs/api_logs.md).
    With ``robust_tail_band=(a, b)`` (default ``(0.7, 0.9)``) a robust fit reads the answer lengths' tails
    from the band between their ``a`` and ``b`` quantiles, not from the top 2 % (:func:`.calibration._band_tail`): the top of the scored logs is where harvesters sit, and 139 long-answer
    harvesters of four families (4 % of the accounts, independent development seed 1003) were each other's
    reference there, every one of them read at p ~ 0.01. Its campaign null then drops the completion/prompt ratio
    (:class:`.campaigns.RobustCampaignDetector`). ``None``: the top-fraction tails and the full campaign
    evidence, as before. The band was set from the contamination it has to survive (up to 10 % of accounts at
    a feature's top), before its first run. On the held-out independent seed 1005 the gain did not carry over
    (0.36 of the harvesters without a reference, against 0.94 on development seeds 1003-1004; docs/api_logs.md).
    With ``cohort_needs_content`` (default) a campaign's cohort evidence (first seen together) counts only
    beside evidence of what its members ask for (:meth:`.campaigns.CampaignDetector._evidence`): a benign
    onboarding wave in the reference, read held out with its cohort alone, set the 1e-3 threshold over 135
    campaign accounts on independent seed 1006 (post hoc). ``False``: the cohort alone lifts, as before.

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
                 cluster_links: tuple[str, ...] = ("ip", "user_agent"), campaigns: bool = True,
                 robust: bool = False, trim_evidence: float = 4.0, max_trim_iter: int = 4,
                 novelty_k: int | None = 2, robust_novelty_share: float = 0.05, calibration_folds: int | None = 5,
                 cohorts: bool = True, min_cohort_evidence: float = 2.0, member_gate_quantile: float | None = 0.9,
                 recruit_alpha: float | None = 0.01, censor_weekdays: bool = True, oof_trim_rounds: int = 2,
                 lookalike_share: float | None = 0.05, conversing_share: float | None = 0.5,
                 recruit_gate: bool = True, cluster_lift: bool = False,
                 robust_tail_band: tuple[float, float] | None = (0.7, 0.9), cohort_needs_content: bool = True):
        self.cohort_needs_content = cohort_needs_content
        self.robust_tail_band = robust_tail_band
        self.cluster_lift = cluster_lift
        self.recruit_gate = recruit_gate
        self.conversing_share = conversing_share
        self.lookalike_share = lookalike_share
        self.oof_trim_rounds = oof_trim_rounds
        self.censor_weekdays = censor_weekdays
        self.recruit_alpha = recruit_alpha
        self.member_gate_quantile = member_gate_quantile
        self.cohorts = cohorts
        self.min_cohort_evidence = min_cohort_evidence
        self.calibration_folds = calibration_folds
        self.cluster_links = cluster_links
        self.target_fpr = target_fpr
        self.method = method
        self.min_cluster_size = min_cluster_size
        self.calibration_fraction = calibration_fraction
        self.random_state = random_state
        self.progress = progress
        self.campaigns = campaigns
        self.robust = robust
        self.trim_evidence = trim_evidence
        self.novelty_k = novelty_k
        self.robust_novelty_share = robust_novelty_share
        self.max_trim_iter = max_trim_iter

    def _features(self, logs: pd.DataFrame) -> dict:
        feats = account_features(logs, progress=self.progress)
        clusters = link_accounts(logs, links=tuple(self.cluster_links))
        # a cluster's pooled pseudo-account is read only with cluster_lift (see the class docstring)
        cl = cluster_logs(logs, clusters, min_size=self.min_cluster_size) if self.cluster_lift else logs.iloc[:0]
        cfeats = account_features(cl, progress=self.progress) if len(cl) else feats.iloc[:0]
        prep = {"feats": feats, "clusters": clusters, "cfeats": cfeats}
        if self.campaigns:
            camp = link_campaigns(logs).set_index("account_id").reindex(feats["account_id"])
            ts = pd.to_datetime(logs["timestamp"], utc=True)
            first = ts.groupby(logs["account_id"].astype(str).to_numpy()).min()
            prep["first_seen"] = ((first - ts.min()).dt.total_seconds() / 86400.0).reindex(feats["account_id"])
            # the log's first days up to its first weekday: accounts first seen there may predate the log
            prep["censored"] = cen = censored_start_days(ts.min()) if self.censor_weekdays else None
            camp = camp.assign(cohort_recruit=False, behaviour_linked=False)
            prep["recruit_evidence"] = pd.Series(dtype=np.float64)  # behaviour campaign -> its recruit evidence
            prep["hour_vector"] = hv = hour_vector(logs)
            if self.cohorts:  # accounts without template or address links: alike, and first seen together
                single = camp["campaign_size"] <= 1
                k = behaviour_clusters(feats, hv, eligible=single)
                vol = pd.Series(feats["active_days"].to_numpy(), index=feats["account_id"].to_numpy())
                if len(k):  # a cluster is a link only when its members were first seen together
                    # ... or the accounts first seen in its window behave like it past chance (recruit_gate)
                    ev = cohort_gate_evidence(feats, hv, k, prep["first_seen"], vol, eligible=single,
                                              alpha=self.recruit_alpha if self.recruit_gate else None,
                                              min_size=self.min_cluster_size, censored_days=cen)
                    k = k[k.map(ev).fillna(0.0).to_numpy() >= self.min_cohort_evidence]
                    gated = k  # the clusters as gated: their first-seen days set the windows they recruit in
                    # a member first seen outside its cluster's cohort window is not of the cohort
                    k = k[cohort_window_members(prep["first_seen"], vol, k, censored_days=cen).to_numpy()]
                    k = k[k.groupby(k).transform("size").to_numpy() >= self.min_cluster_size]
                if len(k) and self.recruit_alpha is not None:
                    # the campaign's accounts HDBSCAN left out of its core: first seen in its window, behaving like it
                    r, rev = cohort_recruits(feats, hv, k, prep["first_seen"], vol, eligible=single,
                                             alpha=self.recruit_alpha, censored_days=cen, return_evidence=True,
                                             window_clusters=gated)
                    k = pd.concat([k.drop(r.index, errors="ignore"), r])
                    camp.loc[r.index, "cohort_recruit"] = True
                    prep["recruit_evidence"] = rev.astype(np.float64)
                if len(k):
                    camp.loc[k.index, "campaign_id"] = k.to_numpy()
                    camp.loc[k.index, "behaviour_linked"] = True
                    camp["campaign_size"] = camp.groupby("campaign_id")["campaign_id"].transform("size")
            prep["campaign"] = camp
        return prep

    def fit(self, logs: pd.DataFrame, labels: pd.Series | None = None) -> AccountScorer:
        """Fit on reference logs (benign, or labelled with ``labels``); with ``robust``, on contaminated logs.

        With ``robust=True`` (and no labels) the logs may hold attackers (tested up to 30 % of the accounts):
        accounts whose score exceeds ``trim_evidence`` (overwhelming evidence: about ``-log10 p`` of 5 on
        one evidence group, against the current fit) and the members of linked campaigns whose cohort
        evidence exceeds it are left out of the detectors' reference, of the campaign null and of the
        calibration, and the fit is repeated (at most ``max_trim_iter`` fits) until that set stops growing;
        with ``calibration_folds`` a cross-conformal fit then calibrates on every account left in. Accounts
        whose held-out (out-of-fold) score exceeds ``trim_evidence`` are left out too and the whole fit is
        repeated (at most ``oof_trim_rounds`` times; 0: calibrate once): in-sample, an attacker is read against
        a reference and a campaign null that hold its own look-alikes, and a template-linked group scoring 5-9
        held out set the 1e-3 threshold. The threshold is then a quantile of held-out scores at most
        ``trim_evidence``, so a benign account's flag rate is at most the target plus the rate at which benign
        accounts score past the trim level held out (none of 6,400 benign accounts did in the development
        FPR runs; ``benchmarks/api_logs_fpr.py`` measures it). Attackers with weaker evidence that stay in the
        calibration can only raise the threshold (fewer flags, never more false positives from them).
        Accounts behaving most like a campaign set aside for its cohort evidence (the ``lookalike_share`` of
        the other accounts nearest to its members: :func:`.campaigns.campaign_lookalikes`; ``None``: none) are
        left out of the detectors' reference and of the campaign null but stay in the calibration: uncaught
        accounts of the campaign would otherwise make its members look known. A look-alike is then scored
        out of the reference, as every calibration account is (its fold held out), so the threshold is still a
        quantile of held-out scores of the very accounts scored. ``contamination_`` is the share of accounts
        left out (a lower bound on the attackers' share) and ``excluded_`` lists them; without ``robust`` they
        are ``None`` / empty.

        Example:
            >>> from distillguard.detect.api_logs import simulate_logs, AccountScorer
            >>> logs, acc = simulate_logs(300, 2, hydra_size=5, proxy_size=10, days=3, seed=1,
            ...                           prompts=[f"q {i}" for i in range(99)])
            >>> sc = AccountScorer(target_fpr=0.01, robust=True).fit(logs)
            >>> 0.0 <= sc.contamination_ <= 1.0, sc.n_trim_iter_ >= 1
            (True, True)
        """
        if not self.calibration_folds:
            warnings.warn("calibration_folds=None: the single 30 % calibration split is not calibrated on fresh benign "
                          "traffic (benchmarks/api_logs_fpr.py, seeds 341-344: 131 of 7,200 benign accounts flagged "
                          "at a 1e-3 target, 142 at 1e-2); keep the default cross-conformal calibration "
                          "(calibration_folds=5) for any flag you act on", UserWarning, stacklevel=2)
        prep = self._features(logs)
        ids = prep["feats"]["account_id"].to_numpy()
        if labels is None:
            y = np.zeros(len(ids), dtype=int)
        else:
            y = labels.reindex(ids).fillna(0).to_numpy().astype(int)
        self.contamination_, self.excluded_, self.n_trim_iter_ = None, np.zeros(0, dtype=object), 1
        self.n_lookalikes_ = 0
        self.fit_unlabelled_ = labels is None
        none = np.zeros(len(ids), bool)
        if not self.robust or labels is not None:
            self._fit_prepared(prep, y, none, none)
            return self
        ex = none.copy()
        if self.campaigns:
            camp = prep["campaign"]["campaign_id"]
            vol = pd.Series(prep["feats"]["active_days"].to_numpy(), index=ids)
            recruits = prep["campaign"]["cohort_recruit"].astype(bool)  # selected by first-seen: not counted
            coh = cohort_evidence(prep["first_seen"], vol, camp, recruits=recruits, min_size=self.min_cluster_size,
                                  censored_days=prep["censored"])
            # first seen together: the members' cohort evidence, or the recruits' (those it may not count)
            first_seen_together = np.fmax(camp.map(coh).fillna(0.0).to_numpy(),
                                          camp.map(prep["recruit_evidence"]).fillna(0.0).to_numpy())
            ex = first_seen_together > self.trim_evidence
        look = none.copy()
        if self.campaigns and self.lookalike_share and ex.any():
            # out of the reference, not of the calibration: left in the fit, a campaign's uncaught accounts make its
            # members look known; each look-alike is still calibrated on its held-out score, like every account
            li = campaign_lookalikes(prep["feats"], prep["hour_vector"], pd.Series(ex, index=ids),
                                     share=self.lookalike_share)
            look = np.isin(ids, li) & ~ex
        self.n_lookalikes_ = int(look.sum())
        self.n_trim_iter_, self.n_oof_trim_rounds_ = 0, 0
        for rnd in range(self.oof_trim_rounds + 1):
            ex = self._trim_in_sample(prep, y, ex, ids, look)
            if not self.calibration_folds:
                break
            # the trimmed set settled: calibrate cross-conformally on every account left in. The split rests a
            # 1e-3 threshold on ~30 % of the accounts, their largest score: on held-out benign logs (seed 326) it
            # fell to 1.23 and flagged 12 of 1,600 (eval harnesses and resellers on their own scores)
            self._fit_prepared(prep, y, ex | look, ex)
            # an attacker whose evidence the in-sample fit hid (its look-alikes in the null, its campaign among
            # the pseudo-campaigns) shows once its fold is held out: past the trim level it is left out too and
            # the fit repeated -- else a template-linked group with held-out scores of 5-9 set the 1e-3 threshold
            new = ex | (self._held_out_scores_all > self.trim_evidence)
            if rnd == self.oof_trim_rounds or (new == ex).all():
                break
            ex = new
            self.n_oof_trim_rounds_ += 1
        self.contamination_ = float(np.mean(ex)) if len(ids) else 0.0
        self.excluded_ = ids[ex]
        return self

    def _trim_in_sample(self, prep: dict, y: np.ndarray, ex: np.ndarray, ids: np.ndarray,
                        look: np.ndarray) -> np.ndarray:
        """Refit without the accounts past ``trim_evidence`` (in-sample scores) until that set stops growing."""
        for _ in range(self.max_trim_iter):
            self._fit_prepared(prep, y, ex | look, ex, cross_fit=False)  # held-out folds would all hold attackers
            s = self._combine(prep).set_index("account_id")["score"].reindex(ids).to_numpy()
            new = ex | (s > self.trim_evidence)
            self.n_trim_iter_ += 1
            if (new == ex).all():
                break
            ex = new
        return ex

    def _fit_models(self, prep: dict, y: np.ndarray, train: np.ndarray, rng: np.random.Generator) -> None:
        """Fit the account detector and the campaign null on the accounts of mask ``train``."""
        feats = prep["feats"]
        if train.sum() < 20:
            raise DistillguardError(f"only {int(train.sum())} accounts left to fit on (need 20); pass a reference")
        trainf = feats.iloc[np.flatnonzero(train)]
        if (y == 1).any():
            self.detector_ = SupervisedDetector(target_fpr=self.target_fpr, calibration_fraction=0.0,
                                                random_state=self.random_state).fit(trainf, y[train])
        else:
            k = self.novelty_k
            if self.robust and k:  # attackers in the fit: a group needs this share of accounts to look "known"
                k = max(k, int(np.ceil(self.robust_novelty_share * train.sum())))
            self.detector_ = UnsupervisedDetector(method=self.method, target_fpr=self.target_fpr,
                                                  calibration_fraction=0.0, novelty_k=k,
                                                  tail_band=self.robust_tail_band if self.robust else None,
                                                  random_state=self.random_state).fit(trainf)
        self.member_gate_ = -np.inf
        if self.member_gate_quantile is not None:
            # the quantile of unlinked benign accounts' own scores that an account's own score must exceed before
            # group evidence may lift it; unlinked, because a robust fit's training accounts still hold campaign
            # members (a 200-account campaign set a no-reference gate above most of its own members)
            own = (self.detector_.training_suspicion(trainf) if isinstance(self.detector_, UnsupervisedDetector)
                   else np.asarray(self.detector_.suspicion_score(trainf)))
            ids = feats["account_id"].to_numpy()[train]
            size = (prep["campaign"]["campaign_size"] if self.campaigns
                    else prep["clusters"].set_index("account_id")["cluster_size"])
            unlinked = ~(size.reindex(ids).fillna(1).to_numpy() >= self.min_cluster_size)
            pick = (y[train] == 0) & unlinked
            if pick.sum() < 20:
                pick = y[train] == 0
            self.member_gate_ = float(np.quantile(own[pick], self.member_gate_quantile))
        self.conversing_gate_ = np.inf
        if self.conversing_share is not None:
            # half the typical benign account's follow-up rate (a median: robust to a fit that still holds attackers)
            rate = feats["followup_rate"].to_numpy(dtype=np.float64)
            heavy = train & (y == 0) & (feats["n_requests"].to_numpy(dtype=np.float64) >= _POOLED_MIN_REQUESTS)
            med = float(np.nanmedian(rate[heavy])) if heavy.sum() >= 20 else 0.0
            if med > 0:  # logs without conversations (no follow-ups at all) say nothing either way
                self.conversing_gate_ = self.conversing_share * med
        self.campaign_detector_ = None
        if self.campaigns:
            pool = feats["account_id"].to_numpy()[train & (y == 0)]
            groups = null_groups(prep["campaign"]["campaign_id"], pool, rng, min_size=self.min_cluster_size)
            pooled = pooled_features(feats, groups)
            vol = pd.Series(feats["active_days"].to_numpy(), index=feats["account_id"].to_numpy())
            pooled["cohort_evidence"] = group_cohort_evidence(
                prep["first_seen"], vol, groups, recruits=prep["campaign"]["cohort_recruit"].astype(bool),
                censored_days=prep["censored"], min_size=self.min_cluster_size).reindex(pooled.index)
            # a sub-sample of a behaviour cluster carries the cluster's recruit evidence; a random group has none
            src = null_sources(pooled.index)
            pooled["recruit_evidence"] = pd.Series(src, index=pooled.index).map(prep["recruit_evidence"]).fillna(0.0)
            self.campaign_detector_ = self._campaign_detector().fit(pooled, sources=src)
            self.n_campaign_null_ = int(groups.nunique())
            # kept to read a campaign against the pseudo-campaigns that hold none of its accounts (calibration
            # members, and every campaign of a robust fit: see _campaign_suspicion)
            self.campaign_null_ = (groups, pooled)

    def _campaign_detector(self) -> CampaignDetector:
        kind = RobustCampaignDetector if self.robust and self.robust_tail_band else CampaignDetector
        return kind(cohort_needs_content=self.cohort_needs_content)

    def _leave_own_out(self) -> bool:
        return bool(self.robust and getattr(self, "fit_unlabelled_", False))

    def _campaign_suspicion(self, pooled: pd.DataFrame, cid: pd.Series,
                            leave_own_out: bool) -> tuple[pd.Series, pd.Series]:
        """Campaign scores and explanations; with ``leave_own_out`` against the null without the campaign's accounts.

        A robust fit's pseudo-campaigns are drawn from the very logs being scored: sub-samples of each linked
        campaign and random groups, some holding its members. Read against them, a campaign of 200 templated
        harvesters was its own benign look-alike (score 0.0005; against the pseudo-campaigns holding none of its
        accounts, 7.3 -- seed 20261212, a campaign opened in the log's first days, where the cohort evidence is
        censored). Leaving out every pseudo-campaign that shares an account with the campaign (any of its
        accounts, also when only some are pooled) reads it as new to the null, as a reference would. The same
        holds for calibration members: the null holds sub-samples of their campaign's training members, so a
        benign campaign would calibrate as known and be scored, in other logs, as new (with cross-fitting whole
        campaigns are held out and this changes nothing; with the 30 % split it removed some flags at 1e-2 on
        development seeds, none at 1e-3). In a robust fit the reading without its own accounts replaces the
        full one only past ``trim_evidence``: one number for a whole campaign, calibrated on its calibration
        members pooled apart, put a benign platform on either side of the threshold by a hair.
        """
        det = self.campaign_detector_
        total = pd.Series(det.suspicion_score(pooled), index=pooled.index)
        expl = pd.Series(det._explain(pooled, 3), index=pooled.index)
        null = getattr(self, "campaign_null_", None)
        if not leave_own_out or null is None or not len(pooled):
            return total, expl
        groups, npooled = null
        robust = self._leave_own_out()
        # the pseudo-campaigns holding at least one account of each scored campaign
        pairs = pd.DataFrame({"c": cid.reindex(groups.index).to_numpy(), "g": groups.to_numpy()}).dropna()
        own_groups = pairs.groupby("c")["g"].unique()
        for c in pooled.index.intersection(own_groups.index):
            keep = ~npooled.index.isin(own_groups[c])
            if keep.sum() < 20:  # too little null left: keep the full null's (lower) reading
                continue
            d = self._campaign_detector().fit(npooled[keep], sources=null_sources(npooled.index[keep]))
            s = float(d.suspicion_score(pooled.loc[[c]])[0])
            if robust and s <= self.trim_evidence:
                # without a reference a campaign's own reading counts only when overwhelming: a benign tutoring
                # platform of 144 accounts sharing a system prompt, with answers twice the usual length, read
                # 1.78 against a threshold of 1.75 (its calibration members, pooled apart, 1.75) and all 144 were
                # flagged (development seed 7); below the trim level it keeps the full null's reading
                continue
            total[c], expl[c] = s, d._explain(pooled.loc[[c]], 3)[0]
        return total, expl

    def _held_out_scores(self, prep: dict, held: np.ndarray) -> np.ndarray:
        """Final scores of the accounts of mask ``held``; their campaigns pooled from held-out members only."""
        ids = prep["feats"]["account_id"].to_numpy()
        final = self._combine(prep, members=pd.Series(held, index=ids)).set_index("account_id")["score"]
        return final.reindex(ids).to_numpy()

    def _folds(self, prep: dict, rng: np.random.Generator) -> np.ndarray:
        """Cross-fitting folds of whole linked groups (campaigns, which include infrastructure clusters).

        A benign campaign is scored at its full size (its cohort evidence grows with its members) against a
        null that never saw it -- as a new benign campaign is when scored; folds of single accounts scored 1/K
        of its members against a null holding the rest, and under-read benign campaigns (4-5 of 500 benign
        accounts flagged at a 1e-3 target in the fraction-axis benchmark). Largest groups first, each to the
        fold with the fewest accounts so far (ties at random).
        """
        ids = prep["feats"]["account_id"].to_numpy()
        linked = (prep["campaign"]["campaign_id"] if self.campaigns
                  else prep["clusters"].set_index("account_id")["cluster_id"])
        group = linked.reindex(ids).astype(object).to_numpy()
        group = np.where(pd.isna(group), ids, group)  # unlinked accounts are their own group
        codes, uniq = pd.factorize(pd.Series(group), sort=False)
        sizes = np.bincount(codes, minlength=len(uniq))
        order = np.lexsort((rng.random(len(uniq)), -sizes))
        load = np.zeros(self.calibration_folds)
        fold_of = np.empty(len(uniq), dtype=np.int64)
        for g in order:
            k = int(np.flatnonzero(load == load.min())[rng.integers((load == load.min()).sum())])
            fold_of[g] = k
            load[k] += sizes[g]
        return fold_of[codes]

    def _fit_prepared(self, prep: dict, y: np.ndarray, ex_fit: np.ndarray, ex_cal: np.ndarray, *,
                      cross_fit: bool = True) -> np.ndarray:
        feats = prep["feats"]
        n = len(feats)
        rng = np.random.default_rng(self.random_state)
        usable = ~ex_fit & ((y == 0) | (y == 1))
        benign = (y == 0) & ~ex_cal
        if self.calibration_folds and cross_fit:
            # cross-conformal: every benign account is scored by models fitted without its fold, so all of them
            # calibrate (a 1e-3 quantile needs ~1,000 of them; a 30 % split wastes 70 % of the reference)
            folds = self._folds(prep, rng)
            oof = np.full(n, np.nan)
            for k in range(self.calibration_folds):
                held = folds == k
                self._fit_models(prep, y, usable & ~held, np.random.default_rng([self.random_state, k]))
                oof[held] = self._held_out_scores(prep, held)[held]
            self._fit_models(prep, y, usable, rng)
            calmask = benign
            ref = oof[calmask]
            self._held_out_scores_all = oof
        else:
            split = _split(n, self.calibration_fraction, rng)
            self._fit_models(prep, y, usable & ~split, rng)
            calmask = benign & split if (benign & split).any() else benign
            # held-out benign campaigns: the calibration members of each campaign pooled on their own (disjoint
            # from the training members the campaign null was drawn from)
            ref = self._held_out_scores(prep, calmask)[calmask]
        self.calibration_scores_ = ref
        self.threshold_ = threshold_for_fpr(ref, self.target_fpr)
        self.n_calibration_ = int(len(ref))
        return calmask

    def _suspicion(self, logs: pd.DataFrame) -> pd.Series:
        prep = self._features(logs)
        ids = pd.Index(prep["feats"]["account_id"].to_numpy(), name="account_id")
        return self._combine(prep).set_index("account_id")["score"].reindex(ids)

    def _campaign_scores(self, prep: dict, members: pd.Series | None) -> pd.DataFrame:
        feats, camp = prep["feats"], prep["campaign"]
        ids = feats["account_id"].to_numpy()
        cid = camp["campaign_id"]
        keep = cid.groupby(cid).transform("size") >= self.min_cluster_size
        if members is not None:
            keep &= members.reindex(cid.index).eq(True).to_numpy()
        keep &= cid.map(cid[keep].value_counts()).fillna(0).to_numpy() >= self.min_cluster_size
        if not keep.any():
            return pd.DataFrame({"campaign_id": pd.Series(dtype=object), "campaign_score": pd.Series(dtype=float),
                                 "cohort_evidence": pd.Series(dtype=float), "recruit_evidence": pd.Series(dtype=float),
                                 "campaign_reasons": pd.Series(dtype=object)})
        groups = cid[keep]
        pooled = pooled_features(feats, groups)
        vol = pd.Series(feats["active_days"].to_numpy(), index=ids)
        # a recruit joined its campaign *because* it was first seen in the cohort window: it does not count there
        rec = camp["cohort_recruit"].reindex(ids).fillna(False).astype(bool)
        cm = None if members is None else members.reindex(ids).eq(True)
        cohort = cohort_evidence(prep["first_seen"], vol, cid, members=cm, recruits=rec, min_size=self.min_cluster_size,
                                 censored_days=prep["censored"])
        pooled["cohort_evidence"] = cohort.reindex(pooled.index).fillna(0.0)
        pooled["recruit_evidence"] = prep["recruit_evidence"].reindex(pooled.index).fillna(0.0)
        total, expl = self._campaign_suspicion(pooled, cid, self._leave_own_out() or members is not None)
        # a behaviour campaign (linked only by when its members arrived and how they behave) whose typical member
        # follows up on answers as ordinary users do is not lifted: see the class docstring (conversing_share)
        bl = camp["behaviour_linked"].reindex(groups.index).fillna(False).astype(bool)
        followup = pooled["followup_rate"].where(bl.groupby(groups.to_numpy()).any().reindex(pooled.index))
        talk = followup.notna() & (followup.fillna(0.0) > getattr(self, "conversing_gate_", np.inf))
        total = total.where(~talk, 0.0)
        expl = expl.where(~talk, expl + " -- not lifted: its members follow up on answers like ordinary users "
                                        "(median follow-up rate " + followup.round(3).astype(str) + ")")
        k = pooled["n_members"].astype(int)
        reasons = [f"campaign of {k[c]} linked accounts: {expl[c]}" for c in pooled.index]
        return pd.DataFrame({"campaign_id": pooled.index, "campaign_score": total.to_numpy(),
                             "cohort_evidence": pooled["cohort_evidence"].to_numpy(),
                             "recruit_evidence": pooled["recruit_evidence"].to_numpy(), "campaign_reasons": reasons})

    def _combine(self, prep: dict, members: pd.Series | None = None) -> pd.DataFrame:
        feats, clusters, cfeats = prep["feats"], prep["clusters"], prep["cfeats"]
        own = self.detector_.score_accounts(feats)
        out = own.merge(clusters, on="account_id", how="left")
        if len(cfeats):
            cs = self.detector_.score_accounts(cfeats).rename(
                columns={"account_id": "cluster_id", "score": "cluster_score", "reasons": "cluster_reasons"})
            out = out.merge(cs.drop(columns="flag"), on="cluster_id", how="left")
        else:
            out["cluster_score"], out["cluster_reasons"] = np.nan, ""
        out["own_score"] = out["score"]
        # group evidence lifts only accounts whose own evidence is in the benign top (1 - member_gate_quantile),
        # or that sent the group's near-duplicate templates themselves: a benign account swept into an attackers'
        # cluster or campaign by address or behaviour alone is then flagged with probability about 0.1, not 1
        # (seen on the development seed: one human in a behaviour cluster of 61 proxy accounts)
        passed = (out["own_score"] > getattr(self, "member_gate_", -np.inf)).to_numpy()
        if self.campaigns:
            tl = prep["campaign"]["template_linked"].reindex(out["account_id"].to_numpy())
            passed |= tl.fillna(False).to_numpy(dtype=bool)
        out["member_gate_passed"] = passed
        lift = np.where(out["member_gate_passed"], out["cluster_score"].fillna(-np.inf), -np.inf)
        out["score"] = np.fmax(out["own_score"], lift)
        use_cluster = lift > out["own_score"]
        out["reasons"] = np.where(use_cluster, "cluster: " + out["cluster_reasons"].fillna(""), out["reasons"])
        if self.campaigns and getattr(self, "campaign_detector_", None) is not None:
            camp = prep["campaign"].reset_index()[["account_id", "campaign_id", "campaign_size", "cohort_recruit"]]
            out = out.merge(camp, on="account_id", how="left")
            out = out.merge(self._campaign_scores(prep, members), on="campaign_id", how="left")
            lift = np.where(out["member_gate_passed"], out["campaign_score"].fillna(-np.inf), -np.inf)
            use = lift > out["score"]
            out["score"] = np.fmax(out["score"], lift)
            out["reasons"] = np.where(use, out["campaign_reasons"].fillna(""), out["reasons"])
            recruit = use & out["cohort_recruit"].fillna(False).to_numpy(dtype=bool)
            out.loc[recruit, "reasons"] += " (joined it as a recruit: first seen in its cohort window, behaving like it)"
            out = out.drop(columns=["campaign_reasons"])
        else:
            for c in ("campaign_id", "campaign_size", "campaign_score", "cohort_evidence", "recruit_evidence"):
                out[c] = np.nan
            out["cohort_recruit"] = False
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
        out = self._combine(self._features(logs))
        out["flag"] = out["score"] > self.threshold_
        out["cohort_recruit"] = out["cohort_recruit"].fillna(False).astype(bool)
        excluded = set(getattr(self, "excluded_", ()))
        out["excluded_from_fit"] = out["account_id"].isin(excluded)
        c = getattr(self, "contamination_", None)
        out["fit_contamination"] = np.nan if c is None else c
        cols = ["account_id", "score", "flag", "reasons", "own_score", "cluster_id", "cluster_size",
                "cluster_score", "link_evidence", "co_activity", "campaign_id", "campaign_size", "campaign_score",
                "cohort_evidence", "recruit_evidence", "cohort_recruit", "member_gate_passed", "excluded_from_fit", "fit_contamination"]
        return out[cols].sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
