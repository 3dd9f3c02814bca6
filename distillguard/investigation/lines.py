"""Two lines of evidence as investigation entries: the API logs (who harvested) and the fingerprint.

Each calls its module's calibrated test and records the outputs (nothing re-implemented): :func:`logs_evidence`
scores every account with :class:`~distillguard.detect.api_logs.AccountScorer`, :func:`flagged_groups` lists
the flagged accounts a coordinated cluster at a time, :func:`fingerprint_evidence` probes a suspect
(:func:`~distillguard.fingerprint.api.probe_suspect`). The radioactivity line,
:func:`~distillguard.investigation.radioactivity_evidence`, sits with :func:`~distillguard.investigation.investigate`
in the package itself: both look up the detectors they call in the package's namespace.

Example:
    >>> import pandas as pd
    >>> from distillguard.investigation import flagged_groups
    >>> flagged_groups(pd.DataFrame({"account_id": ["a"], "score": [1.0], "flag": [False], "reasons": [""],
    ...                              "cluster_id": ["a"], "cluster_size": [1]}))
    []
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from distillguard.detect.api_logs import AccountScorer, supported_fpr
from distillguard.fingerprint.api import probe_suspect
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.investigation.verdict import DEFAULT_ALPHA
from distillguard.suspects import SuspectLike

__all__ = ["logs_evidence", "flagged_groups", "fingerprint_evidence"]


# -- API logs -------------------------------------------------------------------------------------------------
def logs_evidence(logs: pd.DataFrame, *, target_fpr: float = 1e-3, reference: pd.DataFrame | None = None,
                  progress: bool = False) -> tuple[dict[str, Any], pd.DataFrame]:
    """Score every account of validated ``logs``; return (evidence dict, per-account scores DataFrame).

    The detector is fitted on ``reference`` traffic (default: the logs themselves, assumed mostly benign);
    its threshold gives an account-level false-positive rate of ``target_fpr`` on that traffic.

    Example:
        >>> from distillguard.detect.api_logs import simulate_logs, validate_logs
        >>> from distillguard.investigation import logs_evidence
        >>> logs, acc = simulate_logs(60, 1, hydra_size=4, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
        >>> ev, scores = logs_evidence(validate_logs(logs.drop(columns=["label", "family"])), target_fpr=0.05)
        >>> ev["line"], len(scores) == logs["account_id"].nunique()
        ('api_logs', True)
    """
    t0 = time.perf_counter()
    scorer = AccountScorer(target_fpr=target_fpr, progress=progress, robust=reference is None)  # as the CLI
    scorer.fit(reference if reference is not None else logs)
    scores = scorer.score_logs(logs)
    flagged = scores[scores["flag"]]
    n_cal = int(scorer.n_calibration_)  # the scorer's held-out benign accounts (not the detector's fit size)
    fpr_bound = supported_fpr(n_cal, target_fpr)
    clusters = flagged.loc[flagged["cluster_size"] > 1, "cluster_id"].nunique() if len(flagged) else 0
    ev = {
        "line": "api_logs",
        "accounts": int(len(scores)),
        "requests": int(len(logs)),
        "flagged": flagged["account_id"].astype(str).tolist(),
        "flagged_clusters": int(clusters),
        "target_fpr": target_fpr,
        "calibration_accounts": n_cal,
        "fpr_bound": fpr_bound,
        "fitted_on": ("reference traffic assumed benign" if reference is not None else
                      "the scored logs themselves (assumed mostly benign; give reference traffic for a sharper "
                      "threshold)"),
        "threshold": float(scorer.threshold_),
        "detected": bool(len(flagged)),
        "top": [{"account_id": str(r.account_id), "score": float(r.score), "flag": bool(r.flag),
                 "reasons": str(r.reasons), "cluster_size": int(r.cluster_size)}
                for r in scores.head(15).itertuples()],
        "flagged_groups": flagged_groups(scores),
        "expected_false_positives": round(fpr_bound * len(scores), 2),
        "summary": (f"{len(flagged)} of {len(scores)} accounts flagged at account FPR <= {fpr_bound:.2g}"
                    + (f" (target {target_fpr:g}; {n_cal} held-out benign accounts cannot support less)"
                       if fpr_bound > target_fpr else "")
                    + (f" ({clusters} coordinated cluster(s))" if clusters else "")),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    return ev, scores


def flagged_groups(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """Every flagged account, a coordinated cluster as one group, most suspicious first.

    Each group: ``accounts`` (ids), ``score`` (the highest), ``percentile`` (of that score among all scored
    accounts), ``reasons`` (the detector's words, once per group), ``cluster_id`` (None for a lone account).

    Example:
        >>> import pandas as pd
        >>> from distillguard.investigation import flagged_groups
        >>> s = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "score": [9.0, 8.0, 7.0, 1.0],
        ...                   "flag": [True, True, True, False], "reasons": ["r1", "r1", "r2", ""],
        ...                   "cluster_id": ["c0", "c0", "c", "d"], "cluster_size": [2, 2, 1, 1]})
        >>> [(g["accounts"], g["cluster_id"]) for g in flagged_groups(s)]
        [(['a', 'b'], 'c0'), (['c'], None)]
    """
    ranks = scores["score"].rank(pct=True)
    out: list[dict[str, Any]] = []
    seen: dict[str, dict[str, Any]] = {}
    for i, r in scores[scores["flag"]].sort_values("score", ascending=False).iterrows():
        clustered = int(r["cluster_size"]) > 1
        cid = str(r["cluster_id"]) if clustered else None
        if cid is not None and cid in seen:
            seen[cid]["accounts"].append(str(r["account_id"]))
            continue
        group = {"accounts": [str(r["account_id"])], "score": float(r["score"]),
                 "percentile": round(100 * float(ranks[i]), 1), "reasons": str(r["reasons"]), "cluster_id": cid}
        out.append(group)
        if cid is not None:
            seen[cid] = group
    return out


# -- fingerprint ----------------------------------------------------------------------------------------------
def fingerprint_evidence(probes: Any, suspect: SuspectLike, *, alpha: float = DEFAULT_ALPHA, budget: int | None = None,
                         mode: str = "auto") -> dict[str, Any]:
    """Fingerprint test of one suspect with a probe set (a :class:`ProbeSet` or the path of a probe file).

    Example:
        >>> from distillguard.investigation import fingerprint_evidence  # doctest: +SKIP
        >>> fingerprint_evidence("probes.json", LocalSuspect.load("student/"))["p_value"]  # doctest: +SKIP
    """
    ps = probes if isinstance(probes, ProbeSet) else ProbeSet.load(probes)
    t0 = time.perf_counter()
    res = probe_suspect(ps, suspect, mode=mode, budget=budget, alpha=alpha).to_dict()
    keep = ("mode", "statistic", "t", "p_value", "log10_p", "p_rank", "min_p_rank", "p_exact", "p_floor",
            "assumption", "detected", "indicative", "null_mean", "null_sd", "null_statistics", "calibration_models",
            "calibration_names", "n_probes", "queries_used", "partial", "references", "test", "null",
            "null_by_source", "reference_contrast")
    out = {k: res[k] for k in keep if k in res}
    out["probes"] = sorted(res["probes"], key=lambda r: -r["z"])[:8]
    word = ("teacher fingerprint found" if res["detected"] else
            "indicative only (parametric tail)" if res["indicative"] else "not detected")
    out.update({
        "line": "fingerprint", "suspect": suspect.identity, "alpha": alpha,
        "seconds": round(time.perf_counter() - t0, 1),
        "summary": (f"{word}: t = {res['t']:.1f}, p = {res['p_value']:.3g} (Student-t), exact rank p = "
                    f"{res['p_rank']:.3g} (>= {res['min_p_rank']:.2g}) over {res['n_probes']} probes vs "
                    f"{res['calibration_models']} independent models"),
    })
    return out
