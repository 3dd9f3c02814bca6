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

The package by job: :mod:`~distillguard.investigation.verdict` (combining the lines into a verdict),
:mod:`~distillguard.investigation.lines` (the API-log and fingerprint lines),
:mod:`~distillguard.investigation.summary` (ground-truth checks, line power, the printed table),
:mod:`~distillguard.investigation.result` (:class:`InvestigationResult`, what :func:`investigate` returns); the
radioactivity line and :func:`investigate` itself are here, and every name is importable from
``distillguard.investigation``.

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

# radioactivity_evidence and investigate look these names up here, in the package's namespace (tests replace
# a detector or a line by setting it on the package)
from distillguard.detect.radioactivity import account_keys, can_read, generation_test, reading_test
from distillguard.errors import DistillguardError
from distillguard.investigation.lines import fingerprint_evidence, flagged_groups, logs_evidence
from distillguard.investigation.result import InvestigationResult
from distillguard.investigation.summary import check_expected, line_power, summary_table
from distillguard.investigation.verdict import DEFAULT_ALPHA, combine_lines, evidence_strength
from distillguard.keys import WatermarkKey
from distillguard.provenance import run_record
from distillguard.suspects import SuspectLike

__all__ = [  # in reading order (the reference page follows it)
    "DEFAULT_ALPHA",
    "REPORT_VERSION",
    "evidence_strength",
    "combine_lines",
    "logs_evidence",
    "flagged_groups",
    "radioactivity_evidence",
    "fingerprint_evidence",
    "investigate",
    "InvestigationResult",
    "check_expected",
    "line_power",
    "summary_table",
]

REPORT_VERSION = 1


# -- radioactivity --------------------------------------------------------------------------------------------
def radioactivity_evidence(
    suspect: SuspectLike,
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


# -- the investigation ----------------------------------------------------------------------------------------
def investigate(
    suspects: dict[str, SuspectLike] | None = None,
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
) -> InvestigationResult:
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
    command, the versions and the git commit. The document is an :class:`InvestigationResult`: typed top-level
    fields (``res.suspects["student"]["verdict"]``, ``res.distilled``); ``res.to_dict()`` is report.json.

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
    return InvestigationResult.from_dict(doc)
