"""Campaigns that share no infrastructure: accounts linked by what they ask, scored against benign clusters.

A campaign behind a large residential proxy pool shares no IPs between its accounts, but it reuses a few prompt
templates across them. Three steps, each near-linear in the number of requests:

1. :func:`template_signatures` -- per account, the recurring prompt fragments: word 5-shingles (digits masked)
   of the first and last 12 words of its distinct prompts that recur in at least 2 prompts and 2 % of them
   (a sample of at most ``max_prompts`` distinct prompts per account). A human who pastes one question twice
   has none; an account that wraps questions in a template has the template's shingles.
2. :func:`link_campaigns` -- MinHash (64 seeded hashes, numpy) of each account's fragment set, LSH (32 bands
   of 2), bucket members joined to the bucket's first member when their estimated Jaccard similarity is at
   least ``min_jaccard``; connected components of these links and of the shared-infrastructure links
   (:func:`~.coordination.link_accounts`) are the candidate campaigns.
3. scoring a candidate (:class:`CampaignDetector`, :func:`cohort_evidence`): what the pooled members ask the
   model to produce (long outputs, max-token requests, elicited reasoning: members' traffic pooled, so many
   small accounts add up), measured against a **campaign-level null** -- pooled pseudo-campaigns of benign
   reference accounts: sub-samples of the benign clusters the same linking finds there (independent users of
   one eval harness share its template; tutoring platforms share wrappers; batch jobs share task prompts) and
   random groups of benign accounts -- capped by the distance to the 2nd-nearest benign pseudo-campaign; plus
   the **cohort** evidence: how many members were first seen within ``window_days`` of each other against
   what the other accounts active on as many days show (a Poisson tail, Bonferroni over windows).

Example:
    >>> import pandas as pd
    >>> from distillguard.detect.api_logs.campaigns import link_campaigns
    >>> tpl = "You are an expert physician. Answer the question below in depth, covering caveats. {q} Be thorough."
    >>> rows = [(f"a{i}", tpl.format(q=f"question number {j} about topic {i * 7 + j}")) for i in range(4)
    ...         for j in range(6)] + [("h", "hello there how are you today my friend"), ("h", "what is 2+2")]
    >>> logs = pd.DataFrame(rows, columns=["account_id", "prompt"])
    >>> cl = link_campaigns(logs).set_index("account_id")
    >>> cl.loc[["a0", "a1", "a2", "a3"], "campaign_size"].tolist(), int(cl.loc["h", "campaign_size"])
    ([4, 4, 4, 4], 1)
"""

from __future__ import annotations

import re
import zlib

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.special import logsumexp
from scipy.stats import betabinom, poisson
from sklearn.cluster import HDBSCAN
from sklearn.neighbors import NearestNeighbors

from distillguard.detect.api_logs.account_detectors import _EXTRAPOLATED, _HEAVY_TAILED, UnsupervisedDetector
from distillguard.detect.api_logs.features import FEATURE_COLUMNS
from distillguard.errors import DistillguardError

__all__ = ["CAMPAIGN_EVIDENCE", "COHORT_BEHAVIOUR", "CampaignDetector", "RobustCampaignDetector", "behaviour_clusters", "campaign_lookalikes", "cohort_gate_evidence",
           "censored_start_days", "cohort_evidence",
           "cohort_recruits", "cohort_window_members", "group_cohort_evidence", "hour_vector", "link_campaigns", "null_groups", "null_sources", "pooled_features",
           "template_signatures"]

_DIGITS = re.compile(r"\d+")
_N_HASH = 64
_ROWS = 2
_MASK32 = np.uint64(0xFFFFFFFF)
_HA = np.random.default_rng(20260529).integers(1, 2**61, size=_N_HASH, dtype=np.uint64) | np.uint64(1)
_HB = np.random.default_rng(20260530).integers(0, 2**61, size=_N_HASH, dtype=np.uint64)

#: evidence groups of a pooled campaign (feature -> direction): what the members ask the model to produce.
#: Volume and timing are left out on purpose: pooled, any large benign group is voluminous and round-the-clock.
CAMPAIGN_EVIDENCE: dict[str, dict[str, int]] = {
    "long_outputs": {"completion_tokens_mean": 1, "completion_prompt_ratio": 1, "long_completion_frac": 1,
                     "maxtok_frac": 1},
    "reasoning": {"cot_frac": 1, "rubric_frac": 1},
    "cohort": {"cohort_evidence": 1, "recruit_evidence": 1},
}
#: share of a group's members its cohort window must hold (see :func:`cohort_evidence`)
_COHORT_MAJORITY = 0.5
#: members with fewer requests do not enter a group's medians when it has heavier members (see pooled_features)
_POOLED_MIN_REQUESTS = 20
_POOLED_MEANS = ("completion_tokens_mean", "long_completion_frac", "maxtok_frac", "cot_frac", "rubric_frac",
                 "prompt_tokens_mean", "followup_rate")  # followup_rate: not scored; the scorer's conversing gate


def _prompt_shingles(p: str, words: int, edge: int) -> set[int]:
    head = _DIGITS.sub("#", p[:240].lower()).split()[:edge]
    tail = _DIGITS.sub("#", p[-240:].lower()).split()[-edge:]
    crc = zlib.crc32
    out = set()
    for w in (head, tail):
        for i in range(len(w) - words + 1):
            out.add(crc(" ".join(w[i:i + words]).encode()))
    return out


def template_signatures(logs: pd.DataFrame, *, shingle_words: int = 5, edge_words: int = 12,
                        min_prompts: int = 2, min_share: float = 0.02, min_shingles: int = 3,
                        max_prompts: int = 200) -> pd.DataFrame:
    """Recurring prompt fragments per account: one row per (``account_id``, ``shingle``).

    A fragment is a CRC32 of ``shingle_words`` consecutive words (lower case, digits masked) among the first
    or last ``edge_words`` words of a prompt; it recurs when it appears in at least ``min_prompts`` and
    ``min_share`` of the account's distinct prompts (at most ``max_prompts`` distinct prompts per account, a
    deterministic sample by prompt hash). Accounts with fewer than ``min_shingles`` recurring fragments have
    no signature.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import template_signatures
        >>> tpl = "Act as a senior tax lawyer and answer in depth: {q} Cover edge cases and common mistakes."
        >>> logs = pd.DataFrame({"account_id": ["a"] * 3 + ["b", "b"],
        ...                      "prompt": [tpl.format(q=f"case {i} about leases") for i in range(3)]
        ...                                + ["what is a lease", "what is a lease"]})
        >>> sig = template_signatures(logs)
        >>> sig["account_id"].unique().tolist(), len(sig) >= 3
        (['a'], True)
    """
    df = pd.DataFrame({"a": logs["account_id"].astype(str).to_numpy(),
                       "p": logs["prompt"].astype(str).to_numpy()}).drop_duplicates()
    if len(df) == 0:
        return pd.DataFrame({"account_id": pd.Series(dtype=object), "shingle": pd.Series(dtype=np.int64)})
    df["h"] = pd.util.hash_pandas_object(df["p"], index=False).to_numpy()
    df = df.sort_values(["a", "h"], kind="stable")
    df = df[df.groupby("a", sort=False).cumcount() < max_prompts]
    n_prompts = df.groupby("a").size()
    codes, uniq = pd.factorize(df["p"])
    sh_u, sh_h = [], []
    for k, p in enumerate(uniq):
        s = _prompt_shingles(p, shingle_words, edge_words)
        sh_u.extend([k] * len(s))
        sh_h.extend(s)
    sh = pd.DataFrame({"u": np.asarray(sh_u, dtype=np.int64), "shingle": np.asarray(sh_h, dtype=np.int64)})
    rows = pd.DataFrame({"account_id": df["a"].to_numpy(), "u": codes}).merge(sh, on="u")
    cnt = rows.groupby(["account_id", "shingle"]).size().rename("c").reset_index()
    need = np.maximum(min_prompts, min_share * n_prompts.reindex(cnt["account_id"]).to_numpy())
    cnt = cnt[cnt["c"].to_numpy() >= need]
    size = cnt.groupby("account_id")["shingle"].transform("size")
    return cnt.loc[size >= min_shingles, ["account_id", "shingle"]].reset_index(drop=True)


def _minhash(sig: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``(account_ids, (n, 64) MinHash matrix)`` of the signature sets."""
    sig = sig.sort_values("account_id", kind="stable")
    ids, starts = np.unique(sig["account_id"].to_numpy(), return_index=True)
    h = sig["shingle"].to_numpy().astype(np.uint64)
    M = np.empty((len(ids), _N_HASH), dtype=np.uint64)
    for k in range(_N_HASH):
        v = ((h ^ _HB[k]) * _HA[k]) >> np.uint64(29)
        M[:, k] = np.minimum.reduceat(v, starts)
    return ids.astype(str), M


def _template_edges(ids: np.ndarray, M: np.ndarray, min_jaccard: float) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = [], []
    for b in range(_N_HASH // _ROWS):
        band = M[:, b * _ROWS:(b + 1) * _ROWS]
        key = pd.util.hash_array(band[:, 0]) ^ (pd.util.hash_array(band[:, 1]) * np.uint64(31))
        codes, _ = pd.factorize(key)
        order = np.argsort(codes, kind="stable")
        cs = codes[order]
        first = np.r_[True, cs[1:] != cs[:-1]]
        rep = order[np.flatnonzero(first)[np.cumsum(first) - 1]]
        m = rep != order
        a, r = order[m], rep[m]
        if len(a):
            jac = (M[a] == M[r]).mean(axis=1)
            ok = jac >= min_jaccard
            rows.append(a[ok])
            cols.append(r[ok])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def link_campaigns(logs: pd.DataFrame, *, min_jaccard: float = 0.4, infrastructure: bool = True,
                   **signature_options) -> pd.DataFrame:
    """Candidate campaigns: accounts linked by near-duplicate prompt templates (MinHash-LSH) or infrastructure.

    Returns one row per account: ``account_id``, ``campaign_id`` (``t<k>``, singletons included),
    ``campaign_size`` and ``template_linked`` (the account has a template link). With ``infrastructure`` the
    shared-IP / rare-user-agent links of :func:`~.coordination.link_accounts` join the same graph (when the
    logs have an ``ip`` column). ``signature_options`` go to :func:`template_signatures`.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import link_campaigns
        >>> link_campaigns(pd.DataFrame({"account_id": ["a", "b"], "prompt": ["x", "y"]}))["campaign_size"].tolist()
        [1, 1]
    """
    acc = np.unique(logs["account_id"].astype(str).to_numpy())
    n = len(acc)
    pos = pd.Series(np.arange(n), index=acc)
    adj = sparse.csr_matrix((n, n))
    linked = np.zeros(n, dtype=bool)
    sig = template_signatures(logs, **signature_options)
    if len(sig):
        ids, M = _minhash(sig)
        a, r = _template_edges(ids, M, min_jaccard)
        if len(a):
            ia, ir = pos[ids[a]].to_numpy(), pos[ids[r]].to_numpy()
            adj = adj + sparse.csr_matrix((np.ones(len(ia)), (ia, ir)), shape=(n, n))
            linked[ia] = True
            linked[ir] = True
    if infrastructure and "ip" in logs.columns and n:
        from distillguard.detect.api_logs.coordination import link_accounts

        infra = link_accounts(logs, links=("ip", "user_agent"))
        big = infra[infra["cluster_size"] > 1]
        if len(big):
            rep = big.groupby("cluster_id")["account_id"].transform("first")
            ia, ir = pos[big["account_id"]].to_numpy(), pos[rep].to_numpy()
            adj = adj + sparse.csr_matrix((np.ones(len(ia)), (ia, ir)), shape=(n, n))
    _, labels = connected_components(adj, directed=False) if n else (0, np.zeros(0, np.int64))
    size = np.bincount(labels, minlength=int(labels.max()) + 1 if n else 0)
    return pd.DataFrame({"account_id": acc, "campaign_id": [f"t{k}" for k in labels],
                         "campaign_size": size[labels].astype(np.int64), "template_linked": linked})


#: per-account behaviour that one operator's script makes alike across its accounts (what it asks for, how it
#: paces: log scale for lengths and gaps); with the hour of day, the space in which :func:`behaviour_clusters`
#: looks for dense groups. Chosen from what a script fixes, not fitted on attackers.
COHORT_BEHAVIOUR: tuple[str, ...] = ("completion_tokens_mean", "prompt_tokens_mean", "maxtok_frac", "cot_frac",
                                     "followup_rate", "gap_median_s")
_COHORT_LOG = {"completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"}


def behaviour_clusters(feats: pd.DataFrame, hour_vector: pd.DataFrame | None = None, *,
                       eligible: pd.Series | None = None, min_requests: int = 20, min_cluster_size: int = 10,
                       min_samples: int = 5, min_probability: float = 0.5, selection: str = "eom",
                       max_cluster_size: int | None = 150) -> pd.Series:
    """Candidate campaigns without shared templates or infrastructure: accounts whose behaviour is alike.

    A campaign behind a residential proxy pool, with no prompt template, shares neither text nor addresses;
    its accounts share what the operator's script does. Each account with at least ``min_requests`` requests
    (lighter accounts' features are noise) is a point: the robust z-scores (median / IQR over the eligible
    accounts) of :data:`COHORT_BEHAVIOUR` and of ``hour_vector`` (the circular mean of its request hours, two
    columns ``hour_cos``, ``hour_sin``: the operator's time zone); scikit-learn's HDBSCAN finds the dense
    groups (``min_cluster_size``, ``min_samples``, ``selection`` of the clusters in its tree, at most
    ``max_cluster_size`` accounts each). Only members whose HDBSCAN membership strength is at least
    ``min_probability`` are kept: a border point would otherwise inherit a campaign's score. Returns
    ``account_id`` -> cluster id (``k<j>``) for kept members only.

    When the accounts were first seen is deliberately *not* a coordinate: downstream
    (:class:`~.scorer.AccountScorer`) a cluster becomes a campaign only when its members were first seen together
    (:func:`cohort_evidence` at least ``min_cohort_evidence``), and that test is only honest on groups not
    selected for it. With the first-seen day as a coordinate (the first version), HDBSCAN picked groups dense in
    time and the test confirmed them: a cluster of 143 ordinary accounts first seen at the log's start read
    cohort evidence 3.6 and 128 benign accounts were flagged; and uncapped excess-of-mass clusters merged a
    bare proxy campaign with 400 ordinary accounts (370 of 1,600 benign flagged on one seed). Linked clusters
    are then scored like any campaign against benign pseudo-campaigns, which include the clusters this
    function finds in the benign reference.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import behaviour_clusters
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame(rng.uniform(0, 1, size=(300, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(300, 3))
        >>> f["account_id"] = [f"a{i}" for i in range(300)]; f["n_requests"] = 100.0
        >>> f.loc[:39, "completion_tokens_mean"] = rng.normal(700, 5, 40)
        >>> f.loc[:39, ["prompt_tokens_mean", "gap_median_s", "maxtok_frac", "cot_frac", "followup_rate"]] = [40.0, 60.0, 1.0, 0.0, 0.05]
        >>> k = behaviour_clusters(f).reindex([f"a{i}" for i in range(40)])
        >>> bool(k.notna().mean() > 0.5), k.nunique()
        (True, 1)
    """
    ids, Z = _behaviour_space(feats, hour_vector, eligible, min_requests)
    if len(ids) < 2 * min_cluster_size:
        return pd.Series(dtype=object, index=pd.Index([], name="account_id"))
    hdb = HDBSCAN(min_cluster_size=min_cluster_size, min_samples=min_samples, cluster_selection_method=selection,
                  max_cluster_size=max_cluster_size, copy=True).fit(Z)
    lab = hdb.labels_
    keep = (lab >= 0) & (hdb.probabilities_ >= min_probability)
    return pd.Series([f"k{j}" for j in lab[keep]], index=pd.Index(ids[keep], name="account_id"))


def _behaviour_space(feats: pd.DataFrame, hour_vector: pd.DataFrame | None, eligible: pd.Series | None,
                     min_requests: int) -> tuple[np.ndarray, np.ndarray]:
    """The eligible accounts' ids and their robust z-scores (median / IQR) of the behaviour coordinates."""
    ids = feats["account_id"].astype(str).to_numpy()
    ok = feats["n_requests"].to_numpy(dtype=np.float64) >= min_requests
    if eligible is not None:
        ok &= eligible.reindex(ids).fillna(False).to_numpy(dtype=bool)
    if not ok.any():
        return ids[ok], np.zeros((0, len(COHORT_BEHAVIOUR)))
    cols = {c: feats[c].to_numpy(dtype=np.float64)[ok] for c in COHORT_BEHAVIOUR}
    for c in _COHORT_LOG:
        cols[c] = np.log1p(np.maximum(cols[c], 0.0))
    if hour_vector is not None:
        hv = hour_vector.reindex(ids[ok])
        cols["hour_cos"], cols["hour_sin"] = hv["hour_cos"].to_numpy(dtype=np.float64), hv["hour_sin"].to_numpy(dtype=np.float64)
    B = np.nan_to_num(np.column_stack(list(cols.values())))
    q1, med, q3 = np.quantile(B, [0.25, 0.5, 0.75], axis=0)
    iqr = np.where(q3 - q1 > 0, q3 - q1, np.maximum(np.std(B, axis=0), 1e-9))
    return ids[ok], (B - med) / iqr


def cohort_recruits(feats: pd.DataFrame, hour_vector: pd.DataFrame | None, clusters: pd.Series,
                    first_seen_days: pd.Series, activity: pd.Series, *, eligible: pd.Series | None = None,
                    alpha: float = 0.01, min_requests: int = 20, window_days: float = 3.0,
                    margin_days: int = 1, censored_days: int | None = None, join_clusters: bool = True,
                    return_evidence: bool = False, max_evidence: float = 12.0, rounds: int = 2,
                    window_clusters: pd.Series | None = None) -> pd.Series | tuple[pd.Series, pd.Series]:
    """Accounts a behaviour campaign left out that were first seen in its cohort window and behave like it.

    HDBSCAN keeps a campaign's dense core, at most ``max_cluster_size`` accounts: a bare campaign of 200 proxy
    accounts came out as cores of 40 and 27 and 129 unclustered accounts (development seed 20261215: 67 of 200
    flagged with a reference), although 196 of the 198 eligible accounts first seen in its window were its own.
    For each cluster of ``clusters`` (account -> cluster id, campaigns already through the cohort gate), a
    *candidate* is an eligible account (``eligible`` and ``min_requests``, as in :func:`behaviour_clusters`) in no
    cluster, first seen inside the cluster's cohort window (:func:`cohort_window_members`' window). Its distance
    in the behaviour space to the nearest member is ranked among the same distances of the *background*: the
    eligible accounts first seen outside the window, which are not of the cohort by construction. A candidate
    closer than all but ``alpha`` of them (``(1 + #background at most as close) / (n + 1) <= alpha``) is
    recruited; one that qualifies for several clusters goes to the one it is closest to. So an ordinary account
    first seen in the window is recruited with probability about ``alpha`` (if its behaviour is drawn like the
    background's); downstream it still needs its own score past the member gate to inherit the campaign's, and
    its first-seen day does not count in the campaign's cohort evidence (it was selected by it). Returns
    account id -> cluster id for the recruits.

    Recruiting runs ``rounds`` times: a later round ranks the accounts still free by their distance to the members
    so far (core and earlier recruits; the window stays the core's). HDBSCAN keeps a campaign's dense core; its
    lighter accounts (fewer requests, noisier features) sit in a shell one step further out, near the recruits
    rather than the core (development seed 20261226: 72 of a bare campaign's 200 accounts were first seen in its
    window at rank p-values 0.02-0.03 from the core; a second round took 65 of them and none of the 16 ordinary
    accounts first seen there). Each round recruits an ordinary account with probability about ``alpha``.

    ``window_clusters`` (account -> cluster id; default ``clusters``) sets each cluster's cohort window from other
    members than those that recruit: the scorer passes the clusters as HDBSCAN found them and the gate read them,
    before the members first seen outside the window were dropped (:func:`cohort_window_members`), so the window
    the cluster was gated on is the window it recruits in. Those dropped members are neither background nor
    candidates: chosen by HDBSCAN for behaving like the cluster, in the background they made its nearest distances
    the campaign's own (development seed 20261228: a piece of 24 accounts of a bare campaign opened over four days
    kept 18; with the 6 dropped in the background its recruit evidence was 0.4 and it recruited 2 accounts, without
    them 7.8 and 16). Candidates and background are then alike again: neither holds an account HDBSCAN chose for
    the cluster (the count's beta-binomial null asks them to be exchangeable).

    With ``return_evidence`` it also returns each cluster's **recruit evidence** (cluster id -> ``-log10 p``,
    capped at ``max_evidence``): how many of the ``m`` candidates first seen in its window are closer to it than
    the background's ``j``-th nearest (``j = floor(alpha (n + 1))`` of ``n`` background accounts), against what
    chance gives. If an account's behaviour does not depend on when it was first seen (candidates and background
    exchangeable), that count is beta-binomial ``(m, j, n + 1 - j)``: each candidate falls below the ``j``-th
    order statistic with probability ``F``, itself ``Beta(j, n + 1 - j)`` given the background -- exact, not
    the binomial at ``alpha``, which ignores that one background sets every candidate's rank. This is the cohort
    evidence of the accounts :func:`cohort_evidence` may not count (they were selected by their first-seen day):
    a bare campaign's HDBSCAN core of 34 accounts read cohort evidence 2.47, while 148 of the accounts first
    seen in its window were recruited (development seed 20261224: no reference, 154 of 200 flagged on held-out
    seed 20261225). Counted are the first round's candidates at most ``alpha`` for this cluster, whichever cluster
    they joined (later rounds' candidates were selected by not being recruited before: no exact count).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import cohort_recruits
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame(rng.uniform(0, 1, size=(400, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(400, 3))
        >>> ids = [f"a{i}" for i in range(400)]; f["account_id"] = ids; f["n_requests"] = 100.0
        >>> f.loc[:59, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = [700.0, 40.0, 60.0]
        >>> f.loc[:59, "maxtok_frac"] = rng.normal(0.9, 0.02, 60)
        >>> first = pd.Series(rng.uniform(0, 14, 400), index=ids); first.iloc[:60] = rng.uniform(8, 10.5, 60)
        >>> core = pd.Series("k0", index=ids[:30])     # the dense core a clustering kept
        >>> r = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids))
        >>> int(r.index.isin(ids[30:60]).sum()) >= 25, int((~r.index.isin(ids[:60])).sum())
        (True, 0)
        >>> ev = cohort_recruits(f, None, core, first, pd.Series(1.0, index=ids), return_evidence=True)[1]
        >>> bool(ev["k0"] > 6)
        True
    """
    out = pd.Series(dtype=object, index=pd.Index([], name="account_id"))
    evidence = pd.Series(dtype=np.float64, index=pd.Index([], name="campaign_id"))
    ids, Z = _behaviour_space(feats, hour_vector, eligible, min_requests)
    if not len(clusters) or len(ids) < 2:
        return (out, evidence) if return_evidence else out
    st = _cohort_setup(first_seen_days, activity, censored_days)
    st["ids_pos"] = st["pos"].reindex(ids).to_numpy()
    day = st["day"][st["ids_pos"]]
    lab = clusters.reindex(ids).to_numpy(dtype=object)
    win = clusters if window_clusters is None else window_clusters  # whose first-seen days set each window
    if join_clusters:
        # a campaign HDBSCAN split into several cores: a cluster most of whose members would be recruited by a
        # larger one joins it whole (its members become that campaign's recruits)
        joined: dict = {}
        sizes = pd.Series(lab[~pd.isna(lab)]).value_counts()
        for c in sizes.index:  # largest first; a cluster that joined another takes none in
            if c in joined:
                continue
            inside, p = _recruit_ranks(Z, day, st, lab == c, win, c, window_days, margin_days, alpha)
            if p is None:
                continue
            ok = inside & (p <= alpha)
            for j in sizes.index:
                if j == c or j in joined or j in joined.values() or sizes[j] > sizes[c]:
                    continue
                if ok[lab == j].mean() >= 0.5:
                    joined[j] = c
        if joined:
            moved = pd.Series(lab).map(joined)
            lab = np.where(moved.notna(), moved.to_numpy(dtype=object), lab)
            out = pd.Series(lab[moved.notna().to_numpy()], index=pd.Index(ids[moved.notna().to_numpy()], name="account_id"),
                            dtype=object)
            clusters = pd.Series(lab[~pd.isna(lab)], index=pd.Index(ids[~pd.isna(lab)], name="account_id"))
    ev: dict = {}
    new = pd.Series(dtype=object, index=pd.Index([], name="account_id"))
    for rnd in range(rounds):
        # each round ranks the accounts still free against the members so far (core and earlier recruits); the
        # cohort window stays the core's, and the recruit evidence is the first round's count (the test that is
        # exact: later rounds' candidates were selected by not being recruited before)
        free = pd.isna(lab)
        best_p, best_d = np.full(len(ids), np.inf), np.full(len(ids), np.inf)
        best_c = np.full(len(ids), None, dtype=object)
        for c in pd.unique(clusters.to_numpy()):
            mem = lab == c
            inside, p, d, n_bg = _recruit_ranks(Z, day, st, mem, win, c, window_days, margin_days, alpha,
                                                distances=True)
            if p is None or not (free & inside).any():
                continue
            hit = free & inside & (p <= alpha)
            if rnd == 0:
                j = int(np.floor(alpha * (n_bg + 1) + 1e-9))  # p <= alpha <=> closer than the j-th nearest background
                tail = _betabinom_log10_tail(int(hit.sum()), int((free & inside).sum()), j, n_bg + 1 - j)
                ev[c] = float(np.clip(-tail, 0.0, max_evidence))
            better = hit & ((p < best_p) | ((p == best_p) & (d < best_d)))
            best_p[better], best_d[better], best_c[better] = p[better], d[better], c
        got = pd.notna(best_c)
        if not got.any():
            break
        lab = np.where(got, best_c, lab)
        new = pd.concat([new, pd.Series(best_c[got], index=pd.Index(ids[got], name="account_id"), dtype=object)])
    recruits = pd.concat([out, new]) if len(out) else new
    if not return_evidence:
        return recruits
    return recruits, pd.Series(ev, dtype=np.float64).rename_axis("campaign_id")


def cohort_gate_evidence(feats: pd.DataFrame, hour_vector: pd.DataFrame | None, clusters: pd.Series,
                         first_seen_days: pd.Series, activity: pd.Series, *, eligible: pd.Series | None = None,
                         alpha: float | None = 0.01, min_size: int = 3,
                         censored_days: int | None = None) -> pd.Series:
    """The evidence that each behaviour cluster is a cohort: the larger of its members' and its recruits'.

    A cluster becomes a campaign when its accounts were first seen together. :func:`cohort_evidence` reads the
    members' first-seen days; :func:`cohort_recruits`' recruit evidence (one round, no joining, every cluster
    at once) reads how many of the other accounts first seen in the cluster's window behave like it. A
    campaign opened over several days against a busy background is broken by HDBSCAN into pieces whose own
    cohort evidence is low, while many of its other accounts are first seen in each piece's window and behave
    like it (development seed 20261228: two pure pieces of 24 and 17 accounts of a bare campaign opened over
    four days read cohort evidence 0.77 and 0.54, recruit evidence 6.5 and 9.7; a benign onboarding cohort
    0.95 and 0.98). Each is ``-log10`` of a p-value under its own null (members' first-seen days like the other
    accounts'; behaviour independent of first-seen day); the larger of the two is ``-log10`` of ``2 p`` at worst
    (a union bound), and downstream it is only a gate: the campaign is then scored against benign
    pseudo-campaigns that went through the same gate. ``alpha=None``: the members' evidence alone. Indexed by
    cluster id.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import cohort_evidence, cohort_gate_evidence
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame(rng.uniform(0, 1, size=(900, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> f[["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = rng.uniform(10, 2000, size=(900, 3))
        >>> ids = [f"a{i}" for i in range(900)]; f["account_id"] = ids; f["n_requests"] = 100.0
        >>> f.loc[:99, ["completion_tokens_mean", "prompt_tokens_mean", "gap_median_s"]] = [700.0, 40.0, 60.0]
        >>> f.loc[:99, "maxtok_frac"] = rng.normal(0.9, 0.02, 100)
        >>> first = pd.Series(rng.uniform(0, 14, 900), index=ids); first.iloc[:100] = rng.uniform(4, 9, 100)
        >>> piece = pd.Series("k0", index=ids[:12])   # one piece of a campaign opened over five days
        >>> act = pd.Series(1.0, index=ids)
        >>> bool(cohort_evidence(first, act, piece)["k0"] < 2), bool(cohort_gate_evidence(f, None, piece, first, act)["k0"] > 6)
        (True, True)
    """
    ev = cohort_evidence(first_seen_days, activity, clusters, min_size=min_size, censored_days=censored_days)
    if alpha is None or not len(clusters):
        return ev
    rev = cohort_recruits(feats, hour_vector, clusters, first_seen_days, activity, eligible=eligible, alpha=alpha,
                          censored_days=censored_days, rounds=1, join_clusters=False, return_evidence=True)[1]
    return pd.Series(np.fmax(ev.to_numpy(), rev.reindex(ev.index).fillna(0.0).to_numpy()), index=ev.index)


def _betabinom_log10_tail(x: int, m: int, a: float, b: float) -> float:
    """``log10 P(X >= x)`` for ``X ~ BetaBinomial(m, a, b)``, summed from the pmf in log space.

    scipy's ``betabinom.logsf`` is ``log(sf)``: NaN once the tail underflows (137 of 546 candidates recruited,
    ``a=9, b=931``), which read as no evidence at all.

    Example:
        >>> from distillguard.detect.api_logs.campaigns import _betabinom_log10_tail
        >>> _betabinom_log10_tail(0, 10, 2.0, 50.0), bool(_betabinom_log10_tail(137, 546, 9.0, 931.0) < -50)
        (0.0, True)
    """
    if x <= 0:
        return 0.0
    if x > m:
        return -np.inf
    return float(min(0.0, logsumexp(betabinom.logpmf(np.arange(x, m + 1), m, a, b)) / np.log(10.0)))


def _recruit_ranks(Z: np.ndarray, day: np.ndarray, st: dict, mem: np.ndarray, clusters: pd.Series, c: object,
                   window_days: float, margin_days: int, alpha: float, distances: bool = False) -> tuple:
    """Cluster ``c``'s cohort window (``inside``) and each account's rank p-value of its nearest-member distance.

    The distances are ranked among those of the *background* (accounts first seen outside the window and not
    members); ``p`` is ``None`` when the cluster has no window or too little background to rank at ``alpha``.
    """
    none = (np.zeros(len(Z), bool), None) + ((None, 0) if distances else ())
    m = np.zeros(len(st["day"]), bool)
    m[st["pos"].reindex(clusters.index[clusters.to_numpy() == c]).dropna().to_numpy(dtype=np.int64)] = True
    lp, w, first = _cohort_windows(st, m, m, window_days)
    if not mem.any() or len(lp) == 0 or lp.max() <= 0:
        return none
    start = first + int(np.argmax(lp))
    # an account first seen in the log's censored first days may predate the log: never a cohort candidate, and
    # part of the background (old accounts are the ones most like a campaign opened early in the log)
    inside = (day >= max(start - margin_days, first)) & (day < start + w + margin_days)
    # the window-setting members first seen outside it (dropped from the cluster: cohort_window_members) are
    # neither background nor candidates: chosen by HDBSCAN for behaving like it, they would shrink the background's
    # nearest distances -- a test the candidates, never so chosen, do not face
    bg = ~mem & ~inside & ~m[st["ids_pos"]]
    if bg.sum() < 1.0 / alpha - 1:
        return none  # too little background to rank a distance at alpha
    d = NearestNeighbors(n_neighbors=1).fit(Z[mem]).kneighbors(Z)[0][:, 0]
    ref = np.sort(d[bg])
    p = (1.0 + np.searchsorted(ref, d, side="right")) / (len(ref) + 1.0)
    return (inside, p, d, int(bg.sum())) if distances else (inside, p)


def campaign_lookalikes(feats: pd.DataFrame, hour_vector: pd.DataFrame | None, members: pd.Series, *,
                        share: float = 0.05, eligible: pd.Series | None = None, min_requests: int = 20) -> pd.Index:
    """The accounts outside ``members`` that behave most like them: the ``share`` of non-members nearest to one.

    Distances are in the behaviour space of :func:`behaviour_clusters` (accounts with ``min_requests``, and
    ``eligible`` when given); ``members`` is a boolean Series indexed by account id. A robust fit leaves these out
    of the reference it reads accounts against (not out of its calibration): a campaign's accounts that no link
    or cluster caught sit there, and each of them made the campaign's members look known (development seed
    20261218: 39 of a bare campaign's 200 accounts left in the fit held its members' own scores under the member
    gate).

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import campaign_lookalikes
        >>> rng = np.random.default_rng(0)
        >>> f = pd.DataFrame(rng.uniform(0, 1, size=(400, len(FEATURE_COLUMNS))), columns=FEATURE_COLUMNS)
        >>> f.loc[:59, FEATURE_COLUMNS] = 5.0 + rng.normal(0, 0.05, size=(60, len(FEATURE_COLUMNS)))
        >>> ids = [f"a{i}" for i in range(400)]; f["account_id"] = ids; f["n_requests"] = 100.0
        >>> look = campaign_lookalikes(f, None, pd.Series(np.arange(400) < 40, index=ids), share=0.05)
        >>> len(look), bool(look.isin(ids[40:60]).all())
        (18, True)
    """
    ids, Z = _behaviour_space(feats, hour_vector, eligible, min_requests)
    mem = members.reindex(ids).eq(True).to_numpy()
    if not mem.any() or mem.all():
        return pd.Index([], name="account_id")
    d = NearestNeighbors(n_neighbors=1).fit(Z[mem]).kneighbors(Z[~mem])[0][:, 0]
    return pd.Index(ids[~mem][d <= np.quantile(d, share)], name="account_id")


def hour_vector(logs: pd.DataFrame) -> pd.DataFrame:
    """Per account, the circular mean of its requests' UTC hour of day: ``hour_cos``, ``hour_sin``.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import hour_vector
        >>> ts = pd.to_datetime(["2025-01-01T06:00Z", "2025-01-02T06:00Z"], utc=True)
        >>> hour_vector(pd.DataFrame({"account_id": ["a", "a"], "timestamp": ts})).round(3).values.tolist()
        [[0.0, 1.0]]
    """
    ts = pd.to_datetime(logs["timestamp"], utc=True)
    ang = (ts.dt.hour.to_numpy() + ts.dt.minute.to_numpy() / 60.0) / 24.0 * 2.0 * np.pi
    acc = logs["account_id"].astype(str).to_numpy()
    out = pd.DataFrame({"hour_cos": np.cos(ang), "hour_sin": np.sin(ang)}).groupby(acc).mean()
    out.index.name = "account_id"
    return out


def pooled_features(feats: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Features of campaigns as pooled pseudo-accounts, from their members' per-account features.

    ``groups`` maps ``account_id`` to a group id (an account may be listed once per group: pass a Series with
    a repeated index for overlapping groups). Means and fractions are the medians over members with at least
    20 requests (all members when none has; the typical member: request-weighted means let 15 heavy harvesters
    inside a cohort cluster of 128 ordinary accounts speak for all of them, and flag them),
    ``completion_prompt_ratio`` is the ratio of those medians and
    ``n_requests`` the pooled total; the result has every column of :data:`FEATURE_COLUMNS` (those not pooled
    are 0; ``followup_rate`` is pooled but not scored) and ``n_members``.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import pooled_features
        >>> f = pd.DataFrame(0.0, index=range(3), columns=FEATURE_COLUMNS).assign(account_id=["a", "b", "c"])
        >>> f[["n_requests", "completion_tokens_mean", "prompt_tokens_mean"]] = [[30, 100, 10], [40, 300, 10], [900, 4000, 10]]
        >>> p = pooled_features(f, pd.Series(["g", "g", "g"], index=["a", "b", "c"]))
        >>> float(p.loc["g", "completion_tokens_mean"]), float(p.loc["g", "completion_prompt_ratio"]), float(p.loc["g", "n_requests"])
        (300.0, 30.0, 970.0)
    """
    f = feats.set_index("account_id")
    m = f.reindex(groups.index)
    n = m["n_requests"].to_numpy(dtype=np.float64)
    g = pd.Series(groups.to_numpy(), name="g")
    parts = {"n_requests": pd.Series(n).groupby(g).sum(), "n_members": pd.Series(np.ones(len(n))).groupby(g).sum()}
    # the typical member: a few heavy members must not speak for the rest; members with fewer than
    # _POOLED_MIN_REQUESTS requests are left out of the median (their means are noise: two 6-request accounts
    # with long answers made a benign trio read as a long-output campaign) unless the group has no other
    heavy = pd.Series(n >= _POOLED_MIN_REQUESTS)
    use = heavy | ~heavy.groupby(g).transform("any")
    for c in _POOLED_MEANS:
        parts[c] = pd.Series(m[c].to_numpy(dtype=np.float64)).where(use).groupby(g).median()
    out = pd.DataFrame(0.0, index=parts["n_requests"].index, columns=FEATURE_COLUMNS)
    for c, v in parts.items():
        out[c] = v
    out["completion_prompt_ratio"] = out["completion_tokens_mean"] / np.maximum(out["prompt_tokens_mean"], 1.0)
    out.index.name = "group"
    return out


def censored_start_days(log_start: pd.Timestamp | str) -> int:
    """Days at a log's start in which being first seen says nothing about when an account was opened.

    An account that predates the log is first seen on its first active day in it; for most accounts that is the
    log's first weekday (accounts used on weekdays only appear on the Monday of a log begun on a Saturday).
    Censored: the days (24 h from ``log_start``, as in :func:`cohort_evidence`) up to the end of the first UTC
    weekday of which the log holds at least 12 hours. A log begun on a Monday morning: 1; on a Saturday: 3.

    Example:
        >>> from distillguard.detect.api_logs.campaigns import censored_start_days
        >>> [censored_start_days(t) for t in ("2025-03-03T00:05Z", "2025-03-08T10:00Z", "2025-03-05T15:00Z")]
        [1, 3, 2]
    """
    t = pd.Timestamp(log_start)
    t = t.tz_convert("UTC").tz_localize(None) if t.tzinfo is not None else t
    d = t.normalize()
    while d.dayofweek >= 5 or d + pd.Timedelta(hours=12) < t:
        d += pd.Timedelta(days=1)
    return int(np.ceil((d + pd.Timedelta(days=1) - t) / pd.Timedelta(days=1)))


def _cohort_setup(first_seen_days: pd.Series, activity: pd.Series, censored: int | None = None) -> dict:
    day = np.floor(first_seen_days.to_numpy(dtype=np.float64)).astype(np.int64)
    day = day - (day.min() if len(day) else 0)
    n_days = int(day.max()) + 1 if len(day) else 1
    lv = np.log1p(activity.reindex(first_seen_days.index).to_numpy(dtype=np.float64))
    edges = np.unique(np.quantile(lv, np.linspace(0, 1, 11)[1:-1])) if len(lv) else np.zeros(0)
    dec = np.searchsorted(edges, lv, side="right")
    allc = np.zeros((len(edges) + 1, n_days))
    np.add.at(allc, (dec, day), 1.0)
    return {"day": day, "dec": dec, "allc": allc, "pos": pd.Series(np.arange(len(day)), index=first_seen_days.index),
            "censored": censored}


def _cohort_one(st: dict, counted: np.ndarray, left_out: np.ndarray, window_days: float) -> float:
    """``-log10 p`` (Bonferroni over windows) for the ``counted`` members, the null leaving ``left_out`` out."""
    lp, _, _ = _cohort_windows(st, counted, left_out, window_days)
    if len(lp) == 0:
        return 0.0
    return float(lp.max() - np.log10(len(lp)))


def _cohort_windows(st: dict, counted: np.ndarray, left_out: np.ndarray,
                    window_days: float) -> tuple[np.ndarray, int, int]:
    """Per-window ``-log10 p`` (uncorrected) of the uncensored windows, the window length and the first one's day."""
    day, dec, allc = st["day"], st["dec"], st["allc"]
    n_dec, n_days = allc.shape
    own = np.zeros_like(allc)
    np.add.at(own, (dec[left_out], day[left_out]), 1.0)
    rest = allc - own
    cnt = np.zeros_like(allc)
    np.add.at(cnt, (dec[counted], day[counted]), 1.0)
    w = int(min(max(1, round(window_days)), n_days))
    n_win = n_days - w + 1
    cs_rest = np.concatenate([np.zeros((n_dec, 1)), np.cumsum(rest, axis=1)], axis=1)
    cs_cnt = np.concatenate([np.zeros((n_dec, 1)), np.cumsum(cnt, axis=1)], axis=1)
    p = (cs_rest[:, w:w + n_win] - cs_rest[:, :n_win] + 0.5) / (rest.sum(axis=1, keepdims=True) + 1.0)
    mu = (cnt.sum(axis=1)[:, None] * p).sum(axis=0)
    obs = (cs_cnt[:, w:w + n_win] - cs_cnt[:, :n_win]).sum(axis=0)
    # only a window that holds at least half of the members speaks for the group: a minority opened together
    # (a few harvesters inside a cluster of ordinary accounts) is not the group's cohort
    lp = np.where(obs >= _COHORT_MAJORITY * cnt.sum(), -(poisson.logsf(obs - 1, mu) / np.log(10.0)), 0.0)
    # the log's first days are left-censored: accounts first seen there may simply predate the log (every active
    # old account is), so it is no evidence of accounts opened together. Counting them, a behaviour cluster of 136
    # ordinary accounts seen from the log's start read cohort evidence 4.0 against a null pushed later by a
    # campaign opened mid-log, and 22 of 500 benign accounts were flagged (held-out seed 20261211, 30 % attackers).
    # Censored: st["censored"] days (censored_start_days: through the first weekday), or by default the first window
    first = min(w if st.get("censored") is None else int(st["censored"]), n_win)
    return lp[first:], w, first  # window i starts on day first + i


def cohort_evidence(first_seen_days: pd.Series, activity: pd.Series, campaign: pd.Series, *,
                    members: pd.Series | None = None, recruits: pd.Series | None = None, window_days: float = 3.0,
                    min_size: int = 3, max_evidence: float = 12.0, censored_days: int | None = None) -> pd.Series:
    """``-log10 p`` that a campaign's members were first seen this close together, per campaign.

    For each window of ``window_days`` starting on each day, the expected number of members first seen in
    it is the sum over members of the share of the *other* accounts (those outside the campaign) of the same
    ``activity`` decile (the scorer passes active days: an account active on a few days is first seen
    anywhere in the log, one active every day near its start) first seen in it; the p-value is the Poisson tail of the observed count (the Poisson is more
    spread than the exact Poisson-binomial, so the tail is conservative), Bonferroni-corrected over windows.
    ``members`` (a boolean Series) restricts the counted members (the null still leaves the whole campaign
    out). ``recruits`` (a boolean Series) marks members that joined *because* they were first seen in the
    campaign's window (:func:`cohort_recruits`): they are neither counted nor left out of the null -- they stay
    among the other accounts, which can only lower the evidence (leaving 108 joined accounts of a split campaign
    out of the null raised its evidence from 6.3 to the 12 cap on development seed 20261218). Indexed by
    campaign id; campaigns under ``min_size`` counted members get 0. Benign clusters can
    show some of it too (an eval harness run on one day); :class:`CampaignDetector` reads it against benign
    pseudo-campaigns.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import cohort_evidence
        >>> rng = np.random.default_rng(0)
        >>> ids = [f"a{i}" for i in range(400)]
        >>> first = pd.Series(rng.uniform(0, 14, 400), index=ids); first.iloc[:40] = rng.uniform(5, 6, 40)
        >>> camp = pd.Series(["c"] * 40 + [f"s{i}" for i in range(360)], index=ids)
        >>> ev = cohort_evidence(first, pd.Series(1.0, index=ids), camp)
        >>> bool(ev["c"] > 5), bool(ev.drop("c").max() == 0)
        (True, True)
    """
    st = _cohort_setup(first_seen_days, activity, censored_days)
    cvals = campaign.reindex(first_seen_days.index).to_numpy()
    sizes = pd.Series(cvals).value_counts()
    counted = (np.ones(len(cvals), bool) if members is None
               else members.reindex(first_seen_days.index).eq(True).to_numpy())
    joined = (np.zeros(len(cvals), bool) if recruits is None
              else recruits.reindex(first_seen_days.index).eq(True).to_numpy())
    counted &= ~joined
    out = pd.Series(0.0, index=sizes.index)
    for c in sizes.index[sizes >= min_size]:
        mine = cvals == c
        if (mine & counted).sum() >= min_size:
            out[c] = float(np.clip(_cohort_one(st, mine & counted, mine & ~joined, window_days), 0.0, max_evidence))
    return out


def cohort_window_members(first_seen_days: pd.Series, activity: pd.Series, campaign: pd.Series, *,
                          window_days: float = 3.0, margin_days: int = 1, censored_days: int | None = None) -> pd.Series:
    """Whether each account of ``campaign`` was first seen inside its campaign's cohort window.

    The cohort window is the ``window_days`` window of :func:`cohort_evidence` with the strongest evidence,
    widened by ``margin_days`` on each side (a campaign may take a little longer to open than the window). A
    behaviour cluster is a campaign *because* its members were first seen together; a member first seen outside
    that window has no cohort link to it (five resellers, active since the log's first day, were clustered by
    behaviour with a bare campaign opened on days 8-11 and flagged with it: held-out seed 20261214). Indexed
    like ``campaign``; campaigns without an uncensored window keep every member.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import cohort_window_members
        >>> ids = [f"a{i}" for i in range(60)]
        >>> first = pd.Series([i * 14 / 50 for i in range(50)] + [8.1, 8.2, 8.3, 8.5, 9.0, 9.1, 9.2, 9.9, 10.5, 0.1],
        ...                   index=ids)
        >>> camp = pd.Series(["k"] * 10, index=ids[50:])
        >>> inside = cohort_window_members(first, pd.Series(1.0, index=ids), camp)
        >>> inside.tolist()
        [True, True, True, True, True, True, True, True, True, False]
    """
    st = _cohort_setup(first_seen_days, activity, censored_days)
    pos = st["pos"].reindex(campaign.index).to_numpy()
    inside = pd.Series(True, index=campaign.index)
    for rows in pd.Series(campaign.to_numpy()).groupby(campaign.to_numpy()).groups.values():
        m = np.zeros(len(st["day"]), bool)
        m[pos[np.asarray(rows)]] = True
        lp, w, first = _cohort_windows(st, m, m, window_days)
        if len(lp) == 0 or lp.max() <= 0:
            continue
        start = first + int(np.argmax(lp))
        days = st["day"][pos[np.asarray(rows)]]
        inside.iloc[np.asarray(rows)] = (days >= start - margin_days) & (days < start + w + margin_days)
    return inside


def group_cohort_evidence(first_seen_days: pd.Series, activity: pd.Series, groups: pd.Series, *,
                          recruits: pd.Series | None = None, window_days: float = 3.0, max_evidence: float = 12.0,
                          censored_days: int | None = None, min_size: int = 3) -> pd.Series:
    """:func:`cohort_evidence` for explicit (possibly overlapping) groups: ``groups`` maps account -> group id.

    ``recruits`` (a boolean Series) marks accounts that joined a campaign because they were first seen in its
    window: as in :func:`cohort_evidence` they are neither counted nor left out (groups under ``min_size``
    counted members get 0). Counted, the pseudo-campaigns drawn from a cluster that had recruited 36 accounts
    at the log's start read cohort evidence 6.5 where the cluster itself read 2.5, and the campaign null they
    inflated held two real campaigns to a score of 1.5 (seed 20261219 without a reference: 0 of 400 found).

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import group_cohort_evidence
        >>> first = pd.Series([0.1, 0.2, 5.0, 9.0], index=list("abcd"))
        >>> ev = group_cohort_evidence(first, pd.Series(1.0, index=list("abcd")), pd.Series(["g", "g"], index=["a", "b"]))
        >>> list(ev.index), bool(ev["g"] >= 0)
        (['g'], True)
    """
    st = _cohort_setup(first_seen_days, activity, censored_days)
    pos = st["pos"].reindex(groups.index).to_numpy()
    joined = (np.zeros(len(groups), bool) if recruits is None
              else recruits.reindex(groups.index).eq(True).to_numpy())
    g = pd.Series(groups.to_numpy())
    out = {}
    for gid, rows in g.groupby(g).groups.items():
        rows = np.asarray(rows)
        rows = rows[~joined[rows]]
        if len(rows) < min_size:
            out[gid] = 0.0
            continue
        m = np.zeros(len(st["day"]), bool)
        m[pos[rows]] = True
        out[gid] = float(np.clip(_cohort_one(st, m, m, window_days), 0.0, max_evidence))
    return pd.Series(out, dtype=np.float64)


class CampaignDetector(UnsupervisedDetector):
    """The ``harvest`` evidence on pooled campaigns (:data:`CAMPAIGN_EVIDENCE`), fitted on benign pseudo-campaigns.

    ``fit(X)`` takes :func:`pooled_features` of benign pseudo-campaigns (the campaign-level null); the score
    is the sum over groups of ``-log10`` benign-tail probability beyond ``margin``, capped by the distance to
    the 2nd-nearest benign pseudo-campaign (a campaign that looks like a known kind of benign cluster is not
    novel). ``threshold_`` is a benign quantile of the training pseudo-campaigns (informational: the account
    scorer calibrates its threshold on held-out benign accounts). Shrinkage is off: a campaign's pooled
    traffic is large.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
        >>> from distillguard.detect.api_logs.campaigns import CampaignDetector
        >>> rng = np.random.default_rng(0)
        >>> X = pd.DataFrame(0.0, index=range(300), columns=FEATURE_COLUMNS)
        >>> X["n_requests"] = 1000.0; X["completion_tokens_mean"] = rng.normal(300, 20, 300)
        >>> X["cohort_evidence"] = 0.0
        >>> det = CampaignDetector().fit(X)
        >>> x = X.iloc[:2].copy(); x["completion_tokens_mean"] = [300.0, 700.0]
        >>> s = det.suspicion_score(x); bool(s[0] < 1 < s[1])
        True
        >>> x["cohort_evidence"] = 12.0  # first seen together: counts beside long answers, alone it lifts nobody
        >>> E = det.evidence(x); float(E["cohort"].iloc[0]), bool(E["cohort"].iloc[1] > 0)
        (0.0, True)
        >>> float(CampaignDetector(cohort_needs_content=False).fit(X).evidence(x)["cohort"].iloc[0]) > 0
        True
    """

    evidence_groups = CAMPAIGN_EVIDENCE
    extrapolated_features = _EXTRAPOLATED | {"cohort_evidence", "recruit_evidence"}

    def __init__(self, target_fpr: float = 1e-2, shrinkage: float = 0.0, margin: float = 1.0,
                 novelty_k: int | None = 2, tail_fraction: float = 0.05, max_evidence: float = 12.0,
                 cohort_needs_content: bool = True):
        super().__init__(method="harvest", target_fpr=target_fpr, shrinkage=shrinkage, margin=margin,
                         novelty_k=novelty_k, calibration_fraction=0.0, tail_fraction=tail_fraction,
                         max_evidence=max_evidence)
        self.cohort_needs_content = cohort_needs_content

    def _evidence(self, X: pd.DataFrame) -> np.ndarray:
        """Per-group evidence; with ``cohort_needs_content`` the cohort group counts only beside another group.

        First seen together says *coordinated*, not *harvesting*: a benign onboarding wave (102 reference
        accounts first seen in one night, linked by the first prompts new users send -- "hello", "What can you
        do?") read cohort evidence 12 held out of the fit, nothing else, and its members set the 1e-3 threshold
        at 8.35 over 135 campaign accounts (independent seed 1006, post hoc). A harvest campaign also asks for
        something a harvester needs; its cohort adds to that evidence, alone it lifts nobody (the class
        example shows both).
        """
        E = super()._evidence(X)
        if self.cohort_needs_content:
            j = list(self.evidence_groups).index("cohort")
            content = np.delete(E, j, axis=1).sum(axis=1)
            E[:, j] = np.where(content > 0, E[:, j], 0.0)
        return E

    def fit(self, X: pd.DataFrame, y=None, sources: np.ndarray | pd.Index | None = None) -> CampaignDetector:
        """Fit on benign pseudo-campaigns; ``sources`` names each row's source (:func:`null_sources`).

        Sub-samples of one benign campaign are not independent draws of the null: each feature's reference
        holds one value per source, its farthest reach (the largest signed value over its rows), and both the
        empirical p-values and the exponential tail rest on those. Read row by row, a reference whose one
        tutoring platform (12 accounts) gave 18 near-identical pseudo-campaigns at 507-511 tokens fitted its
        tail inside that clump (scale 0.004 in log tokens) and read a new benign platform at 528 tokens as
        p = 9e-7 (seed 20261223's fraction axis: 15 benign accounts flagged at 1e-3). ``None``: every row is
        its own source.

        Example:
            >>> import numpy as np, pandas as pd
            >>> from distillguard.detect.api_logs.features import FEATURE_COLUMNS
            >>> from distillguard.detect.api_logs.campaigns import CampaignDetector, null_sources
            >>> ids = [f"random/{j}" for j in range(60)] + [f"t1/{j}" for j in range(9)]
            >>> X = pd.DataFrame(0.0, index=ids, columns=FEATURE_COLUMNS)
            >>> X["n_requests"] = 1000.0
            >>> X["completion_tokens_mean"] = np.r_[np.linspace(250, 350, 60), np.full(9, 500.0)]
            >>> det = CampaignDetector().fit(X, sources=null_sources(X.index))
            >>> len(det.reference_["completion_tokens_mean"])  # 60 random groups and one benign campaign
            61
        """
        self.sources_ = None if sources is None else np.asarray(sources)
        if self.sources_ is not None and len(self.sources_) != len(X):
            raise DistillguardError(f"sources has {len(self.sources_)} entries for {len(X)} pseudo-campaigns")
        return super().fit(X, y)

    def _reference_values(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if getattr(self, "sources_", None) is None:
            return values
        return pd.Series(values).groupby(self.sources_[rows]).max().to_numpy()

    def _shrink(self, c: str, v: np.ndarray, n: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        return np.log1p(np.maximum(v, 0)) if c in _HEAVY_TAILED else v

    def _novelty_cap(self, E: np.ndarray, leave_self_out: bool = False) -> np.ndarray:
        # the novelty cap counts sources, as the reference does: "known" is near the nearest pseudo-campaign of
        # novelty_k different sources. Counted row by row, the nine sub-samples of one source were nine
        # neighbours, and a campaign that came out of clustering in two parts was capped by its other part,
        # left in a robust fit's null as one benign source (development seed 20261223: 3.25 against 3.30).
        src = getattr(self, "sources_", None)
        if src is None:
            return super()._novelty_cap(E, leave_self_out)
        codes = pd.factorize(src)[0]
        k = min(self.novelty_k + int(leave_self_out), int(codes.max()) + 1)
        # the k nearest sources are among the (k - 1) * (largest source's rows) + 1 nearest rows (pigeonhole):
        # no need to rank the whole null for every query
        n = min(self.knn_.n_samples_fit_, (k - 1) * int(np.bincount(codes).max()) + 1)
        dist, idx = self.knn_.kneighbors(E, n_neighbors=n)  # each row sorted by distance
        S = codes[idx]
        rows = np.arange(len(E))
        at = np.zeros(len(E), dtype=np.int64)  # position of the nearest row of the j-th nearest source
        fresh = np.ones(S.shape, dtype=bool)  # rows of sources not met yet
        for _ in range(k - 1):
            fresh &= S != S[rows, at][:, None]
            at = np.argmax(fresh, axis=1)  # k never exceeds the number of sources: one is always left
        return dist[rows, at]

    def _feature_logp(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        # the cohort evidence is itself a -log10 p (a Poisson model of first-seen days); past the benign
        # pseudo-campaigns' range the fitted tail and the model must agree: the smaller of the two is kept (a
        # benign campaign with cohort evidence 0.45, p = 0.35 by the model, read p = 1e-9 off a tail fitted to
        # a null that is almost all zeros)
        # The recruit evidence (a beta-binomial -log10 p, :func:`cohort_recruits`) exists for behaviour clusters
        # only, so the null's values are nearly all zeros, no tail can be fitted and the empirical reading would
        # saturate at log10(n + 1) (2.35 on development seed 20261224: a campaign with 148 recruits against
        # chance's ~3 read as p = 0.004). Past every benign source its model's reading stands; where benign
        # sources reach far enough to fit a tail, the smaller of the two.
        lp = super()._feature_logp(X)
        D = self._derived(X)
        for c in ("cohort_evidence", "recruit_evidence"):  # both are -log10 p of a model of first-seen days
            own = np.maximum(np.nan_to_num(D[c].to_numpy(dtype=np.float64), nan=0.0), 0.0)
            read = lp[c]
            if c == "recruit_evidence" and self.tails_.get(c) is None:
                read = np.where(own > self.reference_[c][-1], own, read)
            lp[c] = np.minimum(read, own)
        return lp

    @staticmethod
    def _derived(X: pd.DataFrame) -> pd.DataFrame:
        D = UnsupervisedDetector._derived(X)
        return D.assign(**{c: X[c].to_numpy(dtype=np.float64) if c in X.columns else 0.0
                           for c in ("cohort_evidence", "recruit_evidence")})


def null_sources(group_ids: pd.Index | np.ndarray) -> np.ndarray:
    """The source of each pseudo-campaign of :func:`null_groups`: its benign campaign, or itself for a random group.

    Example:
        >>> from distillguard.detect.api_logs.campaigns import null_sources
        >>> null_sources(["t5/0", "t5/3", "random/0", "random/1"]).tolist()
        ['t5', 't5', 'random/0', 'random/1']
    """
    ids = pd.Index(np.asarray(group_ids, dtype=object)).astype(str)
    head = ids.str.rsplit("/", n=1).str[0]
    return np.where(head == "random", ids, head)


def null_groups(campaign: pd.Series, pool: np.ndarray, rng: np.random.Generator, *, min_size: int = 3,
                per_campaign: int = 8, n_random: int = 150, max_random: int = 300) -> pd.Series:
    """Benign pseudo-campaigns: sub-samples of the benign linked campaigns and random groups of benign accounts.

    ``campaign`` maps account -> campaign id, ``pool`` holds the benign accounts to draw from. Returns a Series
    mapping ``account_id`` (repeated) to pseudo-campaign ids. Raises when there are too few accounts.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from distillguard.detect.api_logs.campaigns import null_groups
        >>> ids = np.array([f"a{i}" for i in range(50)])
        >>> g = null_groups(pd.Series(["c"] * 10 + list(ids[10:]), index=ids), ids, np.random.default_rng(0))
        >>> bool(g.groupby(g).size().min() >= 3), g.nunique() > 100
        (True, True)
    """
    if len(pool) < 2 * min_size:
        raise DistillguardError(f"need at least {2 * min_size} benign accounts for the campaign null")
    camp = campaign.reindex(pool)
    idx, grp = [], []
    for cid, members in camp.groupby(camp).groups.items():
        m = np.asarray(members)
        if len(m) < min_size:
            continue
        for j in range(per_campaign + 1):
            k = len(m) if j == 0 else int(rng.integers(min_size, len(m) + 1))
            idx.extend(rng.choice(m, size=k, replace=False))
            grp.extend([f"{cid}/{j}"] * k)
    # a random group is at most a quarter of the pool: a group of nearly every benign account is measured, in
    # its cohort evidence, against almost nothing but the left-out attackers (cohort evidence 12 in a test)
    hi = min(max_random, max(min_size, len(pool) // 4))
    for j in range(n_random):
        k = int(np.exp(rng.uniform(np.log(min_size), np.log(hi))))
        idx.extend(rng.choice(pool, size=k, replace=False))
        grp.extend([f"random/{j}"] * k)
    return pd.Series(grp, index=pd.Index(idx, name="account_id"))


class RobustCampaignDetector(CampaignDetector):
    """:class:`CampaignDetector` without the completion/prompt ratio: the campaign null of a robust fit.

    Without a reference the campaign null is drawn from the scored logs, and once the band tails
    (``AccountScorer(robust_tail_band=...)``) have trimmed the long-answer harvesters from it, random groups of the
    accounts left are people whose pooled ratio is tightly clustered. A benign evaluation harness -- short prompts,
    a few hundred tokens of reasoning back -- then read ``completion_prompt_ratio`` = 2.98 as p = 1e-9 and 20 of its
    24 accounts were flagged (development, independent seed 1003). How long the answers are is what a harvester
    needs; how long they are against a short prompt is not.

    Example:
        >>> from distillguard.detect.api_logs.campaigns import CampaignDetector, RobustCampaignDetector
        >>> "completion_prompt_ratio" in CampaignDetector.evidence_groups["long_outputs"]
        True
        >>> sorted(RobustCampaignDetector.evidence_groups["long_outputs"])
        ['completion_tokens_mean', 'long_completion_frac', 'maxtok_frac']
    """

    evidence_groups = {g: {c: d for c, d in f.items() if c != "completion_prompt_ratio"}
                       for g, f in CAMPAIGN_EVIDENCE.items()}
