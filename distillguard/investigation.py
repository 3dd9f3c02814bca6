"""One investigation: every line of evidence the provider has, on its own inputs, in one report.

Three independent lines, each optional, each with its own calibrated test (DESIGN.md contracts 3-6):

* **API logs** -- which accounts harvested the teacher (:class:`~distillguard.detect.api_logs.AccountScorer`,
  threshold set for a target account-level false-positive rate on the traffic assumed benign);
* **radioactivity** -- did the suspect learn from our watermarked answers, and from which account's
  (:mod:`distillguard.detect.radioactivity`): reading mode when the suspect's weights and tokenizer allow
  it, generation mode always; Holm over the accounts within a mode, Bonferroni over the modes;
* **fingerprint** -- does the suspect answer the probes like our teacher, compared with independent models
  (:mod:`distillguard.fingerprint`).

Verdict per suspect (:func:`combine_lines`): Bonferroni over the ``m`` lines that ran, ``min(1, m * min_i p_i)``,
valid whatever the dependence between lines. The suspect is called **DISTILLED** only when that combination of
the lines' *exact* p-values is <= ``alpha`` (default 1e-3); when only a p-value that rests on an assumption
reaches it (the fingerprint's Student-t tail over a few calibration models), the verdict is **INDICATIVE**,
with the assumption named, and ``distilled`` stays false: an untested tail alone never accuses anyone.
Nothing here re-implements a test: it calls the modules and records their outputs.

The report is written atomically: ``report.json``/``report.html`` appear only when every requested line has
finished, so a crash never leaves a report that looks complete.

Example:
    >>> from distillguard.investigation import combine_lines
    >>> combine_lines({"radioactivity": 1e-9, "fingerprint": 0.2}, alpha=1e-3)["status"]
    'DISTILLED'
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from distillguard.detect.api_logs import AccountScorer
from distillguard.detect.radioactivity import account_keys, can_read, generation_test, reading_test
from distillguard.errors import DistillguardError
from distillguard.fingerprint.api import probe_suspect
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.keys import WatermarkKey
from distillguard.provenance import run_record

__all__ = [
    "DEFAULT_ALPHA",
    "combine_lines",
    "evidence_strength",
    "logs_evidence",
    "flagged_groups",
    "radioactivity_evidence",
    "fingerprint_evidence",
    "check_expected",
    "line_power",
    "investigate",
]

DEFAULT_ALPHA = 1e-3
REPORT_VERSION = 1


def _line_evidence(value: float | dict[str, Any]) -> dict[str, Any]:
    """One line's p-values: a bare float is an exact p-value; a dict may add ``p_exact`` and ``assumption``."""
    if isinstance(value, dict):
        p = value.get("p_value")
        exact = value.get("p_exact", p)
        return {"p_value": p, "p_exact": exact, "assumption": value.get("assumption"),
                "p_floor": value.get("p_floor")}
    return {"p_value": value, "p_exact": value, "assumption": None, "p_floor": None}


def _ran(p: Any) -> bool:
    return p is not None and not math.isnan(float(p))


def evidence_strength(p_exact: float, alpha: float, status: str) -> str:
    """The evidence in words, from the exact combined p-value (what a reader acts on).

    Example:
        >>> from distillguard.investigation import evidence_strength
        >>> evidence_strength(1e-40, 1e-3, "DISTILLED")
        'overwhelming: exact p = 1e-40, far below alpha 0.001'
        >>> evidence_strength(0.2, 1e-3, "INDICATIVE")
        'indicative only: the exact p-value (0.2) does not reach alpha 0.001'
    """
    if status == "INDICATIVE":
        return f"indicative only: the exact p-value ({p_exact:.2g}) does not reach alpha {alpha:g}"
    if status != "DISTILLED":
        return f"not enough: exact p = {p_exact:.2g} > alpha {alpha:g}"
    word = ("overwhelming" if p_exact <= 1e-20 else "very strong" if p_exact <= alpha * 1e-3 else "strong")
    where = "far below" if p_exact <= alpha * 1e-3 else "below"
    return f"{word}: exact p = {p_exact:.2g}, {where} alpha {alpha:g}"


def combine_lines(lines: dict[str, float | dict[str, Any]], *, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Combine one suspect's lines of evidence into a verdict that never rests on an untested tail.

    Each line gives its headline ``p_value`` and, where that p-value rests on a distributional assumption
    (the fingerprint's Student-t tail over a few calibration models), an exact ``p_exact`` (its rank p-value)
    and the ``assumption`` in words; a bare float is an exact p-value (radioactivity's binomial tails).
    Both are combined over the ``m`` lines that ran with Bonferroni, ``min(1, m * min_i p_i)``, valid whatever
    the dependence between lines. Status:

    * ``DISTILLED`` -- the combination of the *exact* p-values is <= ``alpha``;
    * ``INDICATIVE`` -- only the combination of the headline p-values is: the evidence rests on an
      assumption that was not tested on this kind of suspect, so it is reported, not acted on;
    * ``not distilled`` -- neither.

    ``distilled`` is true only for ``DISTILLED``; ``caveats`` lists, in words, what the verdict rests on and
    what limits it (a parametric tail, a line whose exact p-value cannot reach ``alpha``, a single line).

    Example:
        >>> from distillguard.investigation import combine_lines
        >>> v = combine_lines({"radioactivity": 0.01, "fingerprint": 0.3}, alpha=1e-3)
        >>> v["overall_p"], v["status"], v["distilled"]
        (0.02, 'not distilled', False)
        >>> fp = {"p_value": 1e-5, "p_exact": 1 / 9, "p_floor": 1 / 9, "assumption": "Student-t tail"}
        >>> v = combine_lines({"radioactivity": 0.2, "fingerprint": fp}, alpha=1e-3)
        >>> v["status"], v["distilled"], round(v["overall_p_exact"], 3)
        ('INDICATIVE', False, 0.222)
    """
    ran = {k: ev for k, v in lines.items() if _ran((ev := _line_evidence(v))["p_value"])}
    if not ran:
        return {"lines": 0, "overall_p": None, "overall_p_exact": None, "distilled": False,
                "status": "not distilled", "alpha": alpha, "caveats": ["no line of evidence ran"],
                "rule": "no line of evidence ran"}
    m = len(ran)
    p = {k: float(ev["p_value"]) for k, ev in ran.items()}
    exact = {k: float(ev["p_exact"]) if _ran(ev["p_exact"]) else 1.0 for k, ev in ran.items()}
    overall, overall_exact = min(1.0, m * min(p.values())), min(1.0, m * min(exact.values()))
    status = "DISTILLED" if overall_exact <= alpha else "INDICATIVE" if overall <= alpha else "not distilled"
    caveats = []
    for k, ev in ran.items():
        if ev["assumption"] and p[k] < min(exact[k], 0.05):  # only where a reader could take the tail as evidence
            caveats.append(f"{k}: p = {p[k]:.2g} rests on an assumption ({ev['assumption']}); its exact p-value "
                           f"is {exact[k]:.2g}")
        if ev["p_floor"] is not None and m * float(ev["p_floor"]) > alpha:
            caveats.append(f"{k}: its exact p-value cannot go below {float(ev['p_floor']):.2g}, so this line alone "
                           f"can never reach alpha = {alpha:g} (more calibration models are needed)")
    if status == "DISTILLED" and sum(m * x <= alpha for x in exact.values()) == 1:
        caveats.append(f"rests on one line of evidence ({min(exact, key=exact.get)}); the other line(s) did not "
                       "reach alpha on their own")
    return {"lines": m, "overall_p": overall, "overall_p_exact": overall_exact, "status": status,
            "strength": evidence_strength(overall_exact, alpha, status),
            "distilled": status == "DISTILLED", "alpha": alpha, "strongest_line": min(exact, key=exact.get),
            "caveats": caveats,
            "rule": (f"DISTILLED iff min(1, {m} x min exact line p) <= {alpha:g} (Bonferroni over lines); "
                     "INDICATIVE when only a p-value resting on an assumption reaches it")}


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
    scorer = AccountScorer(target_fpr=target_fpr, progress=progress)
    scorer.fit(reference if reference is not None else logs)
    scores = scorer.score_logs(logs)
    flagged = scores[scores["flag"]]
    n_cal = int(scorer.detector_.n_calibration_)
    fpr_bound = max(target_fpr, 1.0 / (n_cal + 1))  # conformal: no finite-sample guarantee below 1 / (n + 1)
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


# -- radioactivity --------------------------------------------------------------------------------------------
def radioactivity_evidence(
    suspect: Any,
    key: WatermarkKey,
    teacher_tokenizer: Any,
    *,
    accounts: Sequence[str] | None = None,
    prompts: Sequence[str] | None = None,
    prompt_source: str = "ShareGPT prompts",
    texts: Sequence[str] | None = None,
    n_prompts: int = 200,
    n_texts: int = 200,
    max_new_tokens: int = 128,
    alpha: float = DEFAULT_ALPHA,
    modes: Sequence[str] = ("reading", "generation"),
) -> dict[str, Any]:
    """Radioactivity of one suspect for the master key and every account sub-key (attribution).

    Reading mode runs only when the suspect has local weights and the teacher's tokenizer. The line's p-value
    is ``min(1, modes x min Holm p)``; the accounts attributed are those whose ``modes x Holm p`` is <= ``alpha``
    in some mode (one correction over accounts and modes) and that no mode explained away as an overlap with a
    more significant account (:func:`~distillguard.detect.radioactivity.attribute`). Without ``accounts`` only
    the master key is tested, and the line's notes say loudly that account-keyed marks cannot be seen.

    Example:
        >>> from distillguard.investigation import radioactivity_evidence  # doctest: +SKIP
        >>> radioactivity_evidence(LocalSuspect.load("student/"), key, tok, accounts=["acct-1"])["p_value"]  # doctest: +SKIP
    """
    keys = account_keys(key, list(accounts) if accounts else None)
    reports = {}
    notes = []
    if "reading" in modes:
        if can_read(suspect, key.require_spec()):
            reports["reading"] = reading_test(suspect, keys, texts, n_texts=n_texts, alpha=alpha)
        else:
            notes.append("reading mode skipped: the suspect has no local weights or another tokenizer")
    if "generation" in modes:
        reports["generation"] = generation_test(suspect, keys, teacher_tokenizer, prompts, n_prompts=n_prompts,
                                                max_new_tokens=max_new_tokens, alpha=alpha)
        notes.append(f"generation mode prompted with {reports['generation'].units.get('queries')} {prompt_source}")
    if not reports:
        raise DistillguardError("no radioactivity mode can run on this suspect")
    mode_p = {m: float(min(r.p_holm for r in rep.results)) for m, rep in reports.items()}
    p = min(1.0, len(mode_p) * min(mode_p.values()))
    # one correction across accounts (Holm, within a mode) and modes (Bonferroni): an account is named only when
    # its Holm p times the number of modes is <= alpha, and never when a mode explained it away by overlap
    explained = {name for rep in reports.values() for name in rep.explained}
    attributed: list[str] = []
    for rep in reports.values():
        for r in sorted(rep.results, key=lambda r: r.log10_p):
            if (r.account and math.log10(len(reports)) + r.log10_p_holm <= math.log10(alpha)
                    and r.account not in explained
                    and r.account not in attributed):
                attributed.append(r.account)
    if not accounts:
        notes.append("WARNING: only the master key was tested; marks keyed per account (what a server that marks "
                     "each account's answers serves) are invisible to it -- give the account list (--accounts or "
                     "--logs)")
    per_mode = {}
    for m, rep in reports.items():
        best = rep.best
        ranked = sorted(rep.results, key=lambda r: r.log10_p)
        per_mode[m] = {
            "p_holm_min": mode_p[m], "keys_tested": len(rep.results), "units": rep.units,
            "best": best.to_dict(), "seconds": round(rep.seconds, 1), "notes": rep.notes,
            "explained_by_overlap": rep.explained,
            "top_keys": [r.to_dict() for r in ranked[:10]],
            "log10_p_all": [round(float(r.log10_p), 4) for r in rep.results],
        }
    log10_p = math.log10(p) if p > 0 else min(
        math.log10(len(mode_p)) + min(float(x["best"]["log10_p_holm"]) for x in per_mode.values()), -300.0)
    return {
        "line": "radioactivity", "suspect": suspect.identity, "p_value": p, "log10_p": log10_p,
        "detected": bool(p <= alpha), "alpha": alpha, "modes": per_mode, "attributed": attributed,
        "keys_tested": len(keys), "key_fingerprint": key.master_fingerprint, "notes": notes,
        "summary": (f"{'RADIOACTIVE' if p <= alpha else 'not detected'}: p = {p:.3g} over {len(keys)} key(s) and "
                    f"{len(mode_p)} mode(s)" + (f"; learned from {', '.join(attributed)}" if attributed else "")),
    }


# -- fingerprint ----------------------------------------------------------------------------------------------
def fingerprint_evidence(probes: Any, suspect: Any, *, alpha: float = DEFAULT_ALPHA, budget: int | None = None,
                         mode: str = "auto") -> dict[str, Any]:
    """Fingerprint test of one suspect with a probe set (a :class:`ProbeSet` or the path of a probe file).

    Example:
        >>> from distillguard.investigation import fingerprint_evidence  # doctest: +SKIP
        >>> fingerprint_evidence("probes.json", LocalSuspect.load("student/"))["p_value"]  # doctest: +SKIP
    """
    ps = probes if isinstance(probes, ProbeSet) else ProbeSet.load(probes)
    t0 = time.perf_counter()
    res = probe_suspect(ps, suspect, mode=mode, budget=budget, alpha=alpha)
    keep = ("mode", "statistic", "t", "p_value", "log10_p", "p_rank", "min_p_rank", "p_exact", "p_floor",
            "assumption", "detected", "indicative", "null_mean", "null_sd", "null_statistics", "calibration_models",
            "calibration_names", "n_probes", "queries_used", "partial", "references", "test", "null")
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


# -- the investigation ----------------------------------------------------------------------------------------
def investigate(
    suspects: dict[str, Any] | None = None,
    *,
    key: WatermarkKey | None = None,
    teacher_tokenizer: Any = None,
    logs: pd.DataFrame | None = None,
    logs_reference: pd.DataFrame | None = None,
    probes: Any = None,
    accounts: Sequence[str] | None = None,
    prompts: Sequence[str] | None = None,
    n_prompts: int = 200,
    n_prompts_by_suspect: dict[str, int] | None = None,
    n_texts: int = 200,
    max_new_tokens: int = 128,
    fingerprint_budget: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    target_fpr: float = 1e-3,
    expected: dict[str, Any] | None = None,
    inputs: dict[str, str | os.PathLike | None] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every line of evidence that its inputs allow and return the investigation document.

    ``suspects`` maps a display name to an opened suspect (:func:`distillguard.suspects.open_suspect`).
    Radioactivity needs ``key`` (and ``teacher_tokenizer`` for generation mode); the fingerprint needs
    ``probes``; the logs line needs ``logs``. Accounts tested for attribution: ``accounts``, else every
    account in ``logs``. Generation-mode prompts: ``prompts``, else the prompts the flagged accounts sent
    (what a harvester asked is what its student was trained to answer), else real ShareGPT prompts.
    ``n_prompts_by_suspect`` overrides ``n_prompts`` for some suspects (a slow model can get fewer queries;
    its report states how many were scored). ``expected`` (the demo's ground truth) is recorded and compared,
    never used by a test. ``inputs`` (role -> path of the logs, probe file, suspects ...) are named by SHA-256
    in the document's ``provenance`` (:func:`distillguard.provenance.run_record`), with the UTC time, the
    command, the versions and the git commit.

    Example:
        >>> from distillguard.investigation import investigate
        >>> investigate({})
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: nothing to investigate: give logs, or a suspect with a key and/or a probe file
    """
    suspects = suspects or {}
    if logs is None and not suspects:
        raise DistillguardError("nothing to investigate: give logs, or a suspect with a key and/or a probe file")
    if suspects and key is None and probes is None:
        raise DistillguardError("a suspect needs a key (radioactivity) and/or a probe file (fingerprint)")
    if not 0 < alpha < 1:
        raise DistillguardError("alpha must be in (0, 1)")
    t0 = time.time()
    doc: dict[str, Any] = {
        "format": "distillguard-investigation", "version": REPORT_VERSION, "alpha": alpha,
        "key_fingerprint": key.master_fingerprint if key is not None else None,
        "provenance": run_record(["distillguard", *sys.argv[1:]], inputs),
        "logs": None, "suspects": {}, "complete": False,
    }
    prov = doc["provenance"]
    m = prov["machine"]
    doc.update(command=prov["command"], versions=prov["versions"],
               machine=f"{m['arch']} {m['system']}, {m['cpus']} CPUs, python {m['python']}")
    flagged_prompts: list[str] = []
    if logs is not None:
        ev, scores = logs_evidence(logs, target_fpr=target_fpr, reference=logs_reference, progress=progress)
        ev["score_histogram"] = np.histogram(scores["score"].to_numpy(float), bins=40)[0].tolist()
        ev["score_quantiles"] = scores["score"].quantile([0, 0.5, 0.9, 0.99, 1]).round(4).tolist()
        doc["logs"] = ev
        doc["_scores"] = scores  # for the plots; dropped from the JSON
        if ev["flagged"]:
            sel = logs[logs["account_id"].astype(str).isin(ev["flagged"])]
            flagged_prompts = list(dict.fromkeys(sel["prompt"].astype(str).tolist()))
        if accounts is None:
            accounts = sorted(logs["account_id"].astype(str).unique().tolist())
    if prompts is not None:
        gen_prompts, source = list(prompts), "user-supplied prompts"
    elif flagged_prompts:
        rng = np.random.default_rng(0)
        pick = rng.choice(len(flagged_prompts), size=min(n_prompts, len(flagged_prompts)), replace=False)
        gen_prompts, source = [flagged_prompts[i] for i in pick], "prompts sent by the flagged accounts"
    else:
        gen_prompts, source = None, "real ShareGPT prompts"
    for name, suspect in suspects.items():
        entry: dict[str, Any] = {"identity": suspect.identity, "lines": {}}
        if key is not None:
            n_gen = (n_prompts_by_suspect or {}).get(name, n_prompts)
            entry["lines"]["radioactivity"] = radioactivity_evidence(
                suspect, key, teacher_tokenizer, accounts=accounts,
                prompts=None if gen_prompts is None else gen_prompts[:n_gen], prompt_source=source,
                n_prompts=n_gen, n_texts=n_texts, max_new_tokens=max_new_tokens, alpha=alpha)
        if probes is not None:
            entry["lines"]["fingerprint"] = fingerprint_evidence(probes, suspect, alpha=alpha,
                                                                 budget=fingerprint_budget)
        entry["verdict"] = combine_lines(entry["lines"], alpha=alpha)
        doc["suspects"][name] = entry
    if expected:
        doc["expected"] = expected
        doc["checks"] = check_expected(doc, expected)
        doc["line_power"] = line_power(doc, expected)
    doc["seconds"] = round(time.time() - t0, 1)
    doc["complete"] = True
    return doc


def check_expected(doc: dict[str, Any], expected: dict[str, Any]) -> dict[str, bool]:
    """Compare an investigation with a known ground truth (the demo's): one boolean per claim.

    ``expected`` keys: ``harvester`` (account id), ``distilled`` (suspect names), ``clean`` (suspect names).
    Claims are what the report asserts: the harvester is flagged, each verdict, the attribution, and that no
    line fires on a clean suspect (a false positive). Whether *every* line reaches alpha on a distilled
    suspect is power, not correctness: see :func:`line_power`.

    Example:
        >>> from distillguard.investigation import check_expected
        >>> doc = {"logs": {"flagged": ["a"]}, "suspects": {"s": {"verdict": {"distilled": True},
        ...        "lines": {"radioactivity": {"attributed": ["a"], "detected": True}}}}}
        >>> check_expected(doc, {"harvester": "a", "distilled": ["s"], "clean": []})
        {'harvester flagged in the logs': True, 's: distilled': True, 's: attributed to a': True}
    """
    out: dict[str, bool] = {}
    h = expected.get("harvester")
    if h and doc.get("logs"):
        out["harvester flagged in the logs"] = h in doc["logs"]["flagged"]
    for name in expected.get("distilled", []):
        s = doc["suspects"].get(name)
        if s is None:
            continue
        out[f"{name}: distilled"] = bool(s["verdict"]["distilled"])
        if h and "radioactivity" in s["lines"]:
            out[f"{name}: attributed to {h}"] = s["lines"]["radioactivity"]["attributed"] == [h]
    for name in expected.get("clean", []):
        s = doc["suspects"].get(name)
        if s is None:
            continue
        out[f"{name}: not distilled"] = not s["verdict"]["distilled"]
        for line, v in s["lines"].items():  # an indicative tail on a clean suspect is a miss too
            out[f"{name}: {line} not detected"] = not (v["detected"] or v.get("indicative", False))
    return out


def line_power(doc: dict[str, Any], expected: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Which lines of evidence reached alpha on the suspects known to be distilled (reported, not a claim).

    Example:
        >>> from distillguard.investigation import line_power
        >>> doc = {"suspects": {"s": {"lines": {"fingerprint": {"detected": False, "p_value": 0.004}}}}}
        >>> line_power(doc, {"distilled": ["s"]})
        {'s: fingerprint': {'detected': False, 'indicative': False, 'p_value': 0.004}}
    """
    out: dict[str, dict[str, Any]] = {}
    for name in expected.get("distilled", []):
        for line, v in doc["suspects"].get(name, {}).get("lines", {}).items():
            out[f"{name}: {line}"] = {"detected": bool(v["detected"]), "indicative": bool(v.get("indicative")),
                                      "p_value": v["p_value"]}
    return out


def summary_table(doc: dict[str, Any]) -> str:
    """A short plain-text table of the verdicts (printed by the CLI).

    Example:
        >>> from distillguard.investigation import summary_table
        >>> print(summary_table({"alpha": 1e-3, "logs": None, "suspects": {}}))
        no suspect tested
    """
    lines = []
    if doc.get("logs"):
        lg = doc["logs"]
        shown = ", ".join(lg["flagged"][:6]) + (" ..." if len(lg["flagged"]) > 6 else "")
        lines.append(f"API logs: {lg['summary']}" + (f": {shown}" if shown else ""))
    if not doc["suspects"]:
        lines.append("no suspect tested")
        return "\n".join(lines)
    head = (f"{'suspect':<22} {'radioactivity p':>16} {'fingerprint p':>14} {'overall p':>10}  "
            f"verdict (alpha {doc['alpha']:g}, exact p-values)")
    lines += [head, "-" * len(head)]
    for name, s in doc["suspects"].items():
        ra, fp = s["lines"].get("radioactivity"), s["lines"].get("fingerprint")
        v = s["verdict"]
        verdict = v.get("status", "DISTILLED" if v["distilled"] else "not distilled")
        if ra and ra["attributed"]:
            verdict += f" (learned from {', '.join(ra['attributed'][:3])})"
        fp_cell = _p(fp) if fp is None or fp.get("p_exact") is None else f"{_fmt_p(fp['p_exact'])} (t {_p(fp)})"
        lines.append(f"{name:<22} {_p(ra):>16} {fp_cell:>14} {_fmt_p(v.get('overall_p_exact', v['overall_p'])):>10}"
                     f"  {verdict}")
        if v.get("strength"):
            lines.append(f"{'':<22}   evidence: {v['strength']}")
        lines += [f"{'':<22}   caveat: {c}" for c in v.get("caveats", [])]
    if doc.get("checks"):
        bad = [k for k, ok in doc["checks"].items() if not ok]
        lines.append(f"ground truth: {len(doc['checks']) - len(bad)}/{len(doc['checks'])} claims right"
                     + (f"; WRONG: {'; '.join(bad)}" if bad else ""))
    if doc.get("line_power"):
        lines.append("lines on the distilled suspects (power, not part of the claims): " + ", ".join(
            f"{k} {'found' if v['detected'] else 'indicative' if v.get('indicative') else 'MISSED'} "
            f"(p = {_fmt_p(v['p_value'])})"
            for k, v in doc["line_power"].items()))
    return "\n".join(lines)


def _p(line: dict[str, Any] | None) -> str:
    return "-" if line is None else _fmt_p(line["p_value"])


def _fmt_p(p: float | None) -> str:
    return "-" if p is None else f"{p:.2g}"
