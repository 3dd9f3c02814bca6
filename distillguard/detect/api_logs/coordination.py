"""Coordinated accounts: link accounts that share IPs, rare user agents or prompt templates, then score clusters.

A hydra campaign spreads its harvest over many accounts that each stay under per-account thresholds. We link
accounts through shared infrastructure and habits (a bipartite account-value graph per evidence type, with
very common values such as a popular browser user agent ignored), take connected components, and score each
cluster as one pseudo-account: the concatenation of its members' logs goes through the same feature
function. Co-activity (the Jaccard similarity of active 10-minute buckets) is reported as extra evidence on
linked pairs; it is not used to create links (an all-pairs timing join is quadratic in accounts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from distillguard.detect.api_logs.features import prompt_row_features
from distillguard.errors import DistillguardError

__all__ = ["cluster_logs", "link_accounts"]


def _incidence(acc_codes: np.ndarray, values: pd.Series, n_acc: int, max_accounts: int) -> sparse.csr_matrix:
    vcodes, _ = pd.factorize(values)
    pairs = pd.DataFrame({"a": acc_codes, "v": vcodes}).drop_duplicates()
    pairs = pairs[pairs["v"] >= 0]
    per_value = pairs.groupby("v")["a"].transform("size")
    pairs = pairs[(per_value >= 2) & (per_value <= max_accounts)]
    data = np.ones(len(pairs), dtype=np.float64)
    n_val = int(vcodes.max()) + 1 if len(vcodes) else 0
    return sparse.csr_matrix((data, (pairs["a"].to_numpy(), pairs["v"].to_numpy())), shape=(n_acc, n_val))


def link_accounts(
    logs: pd.DataFrame,
    *,
    max_accounts_per_value: int = 500,
    min_shared_ips: int = 2,
    min_ip_jaccard: float = 0.2,
    template_min_share: float = 0.3,
    links: tuple[str, ...] = ("ip", "user_agent", "template"),
) -> pd.DataFrame:
    """Cluster accounts linked by shared IPs, rare user agents or a shared dominant prompt template.

    Two accounts are linked when they share at least ``min_shared_ips`` IPs with IP-set Jaccard
    ``>= min_ip_jaccard``; or share a rare user agent and at least one IP; or have the same dominant prompt
    prefix/suffix template (a key covering ``>= template_min_share`` of each account's prompts). Values used
    by more than ``max_accounts_per_value`` accounts (carrier NATs, popular browsers) are ignored. ``links``
    selects the evidence types that create links (:class:`.detectors.AccountScorer` scores clusters built from
    shared infrastructure only: a shared template alone also links independent customers of the same public
    eval harness or SDK boilerplate).

    Returns one row per account: ``account_id``, ``cluster_id`` (``c<k>``; singletons get their own),
    ``cluster_size``, ``link_evidence`` (e.g. ``"ip,template"``) and ``co_activity`` (mean Jaccard of
    active 10-minute buckets over the account's links).

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.coordination import link_accounts
        >>> logs = pd.DataFrame({"timestamp": pd.to_datetime(["2025-01-01T00:00:00Z"] * 5),
        ...     "account_id": ["a", "a", "b", "b", "c"], "ip": ["1.1.1.1", "2.2.2.2"] * 2 + ["9.9.9.9"],
        ...     "prompt": ["red", "green", "blue", "cyan", "pink"]})
        >>> link_accounts(logs).set_index("account_id")["cluster_size"].to_dict()
        {'a': 2, 'b': 2, 'c': 1}
    """
    acc = logs["account_id"].astype(str)
    codes, uniq = pd.factorize(acc, sort=True)
    n = len(uniq)
    adj = sparse.csr_matrix((n, n))
    evidence: dict[str, sparse.csr_matrix] = {}
    unknown = set(links) - {"ip", "user_agent", "template"}
    if unknown:
        raise DistillguardError(f"unknown link type {sorted(unknown)[0]!r} (use ip, user_agent, template)")
    if "ip" in logs.columns and ("ip" in links or "user_agent" in links):
        b = _incidence(codes, logs["ip"].astype(str), n, max_accounts_per_value)
        shared = (b @ b.T).tocoo()
        sizes = np.asarray(b.sum(axis=1)).ravel()
        m = shared.row != shared.col
        r, c, s = shared.row[m], shared.col[m], shared.data[m]
        jac = s / np.maximum(sizes[r] + sizes[c] - s, 1)
        keep = (s >= min_shared_ips) & (jac >= min_ip_jaccard)
        if "ip" in links:
            evidence["ip"] = sparse.csr_matrix((np.ones(keep.sum()), (r[keep], c[keep])), shape=(n, n))
        if "user_agent" in logs.columns and "user_agent" in links:
            u = _incidence(codes, logs["user_agent"].astype(str), n, max_accounts_per_value)
            both = (u @ u.T).multiply((b @ b.T) > 0).tocsr()
            both.setdiag(0)
            both.eliminate_zeros()
            evidence["user_agent"] = (both > 0).astype(np.float64)
    rowf = prompt_row_features(logs["prompt"].astype(str).tolist()) if "template" in links else None
    for key in ("prefix_key", "suffix_key") if rowf is not None else ():
        kf = pd.DataFrame({"a": codes, "k": rowf[key].to_numpy()})
        cnt = kf.value_counts().rename("c").reset_index()
        tot = kf.groupby("a").size()
        cnt = cnt[cnt["c"] / tot.reindex(cnt["a"]).to_numpy() >= template_min_share]
        if len(cnt):
            bt = _incidence(cnt["a"].to_numpy(), cnt["k"].astype(str), n, max_accounts_per_value)
            tt = (bt @ bt.T).tocsr()
            tt.setdiag(0)
            tt.eliminate_zeros()
            evidence["template"] = (evidence.get("template", sparse.csr_matrix((n, n))) + (tt > 0)).astype(bool)
    for mat in evidence.values():
        adj = adj + mat.astype(np.float64)
    adj = ((adj + adj.T) > 0).astype(np.float64).tocsr()
    n_comp, labels = connected_components(adj, directed=False)
    size = np.bincount(labels, minlength=n_comp)
    degree = {k: np.asarray(m.sum(axis=1)).ravel() + np.asarray(m.sum(axis=0)).ravel() for k, m in evidence.items()}
    ev_names = [",".join(k for k, d in degree.items() if d[i] > 0) for i in range(n)]
    t = pd.to_datetime(logs["timestamp"], utc=True).astype("datetime64[ns, UTC]").array.asi8 // (600 * 10**9)
    bk = pd.DataFrame({"a": codes, "b": t}).drop_duplicates()
    bcode, _ = pd.factorize(bk["b"])
    act = sparse.csr_matrix((np.ones(len(bk)), (bk["a"].to_numpy(), bcode)), shape=(n, int(bcode.max()) + 1))
    nb = np.asarray(act.sum(axis=1)).ravel()
    co = np.zeros(n)
    ar = adj.tocoo()
    if ar.nnz:
        inter = np.asarray(act[ar.row].multiply(act[ar.col]).sum(axis=1)).ravel()
        jac = inter / np.maximum(nb[ar.row] + nb[ar.col] - inter, 1)
        co = np.bincount(ar.row, weights=jac, minlength=n) / np.maximum(np.bincount(ar.row, minlength=n), 1)
    return pd.DataFrame({"account_id": uniq.astype(str), "cluster_id": [f"c{k}" for k in labels],
                         "cluster_size": size[labels].astype(np.int64), "link_evidence": ev_names,
                         "co_activity": co})


def cluster_logs(logs: pd.DataFrame, clusters: pd.DataFrame, *, min_size: int = 3) -> pd.DataFrame:
    """Logs of the members of clusters with ``>= min_size`` accounts, relabelled so each cluster is one account.

    The ``account_id`` column holds the ``cluster_id``; feed the result to the same feature function to score
    whole clusters.

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.coordination import cluster_logs
        >>> logs = pd.DataFrame({"account_id": ["a", "b", "c"], "prompt": ["x", "y", "z"]})
        >>> cl = pd.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": ["c0", "c0", "c1"],
        ...                    "cluster_size": [2, 2, 1]})
        >>> cluster_logs(logs, cl, min_size=2)["account_id"].tolist()
        ['c0', 'c0']
    """
    big = clusters[clusters["cluster_size"] >= min_size]
    mapping = dict(zip(big["account_id"], big["cluster_id"]))
    sub = logs[logs["account_id"].isin(mapping)].copy()
    sub["account_id"] = sub["account_id"].map(mapping)
    return sub.reset_index(drop=True)
