"""Build a probe set (``build_probes``) and test a suspect with it (``probe_suspect``).

Example:
    >>> from distillguard.fingerprint.api import build_probes, probe_suspect  # doctest: +SKIP
    >>> ps = build_probes(open_suspect(None), [open_suspect("gemma3-270m")], candidate_pool(32))  # doctest: +SKIP
    >>> probe_suspect(ps, open_suspect("path/to/student")).detected  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from distillguard.errors import DistillguardError
from distillguard.fingerprint.answers import sample_answers
from distillguard.fingerprint.probeset import VERSION, Probe, ProbeSet
from distillguard.fingerprint.result import FingerprintResult
from distillguard.fingerprint.score import CONTRASTS, MODES, queries_per_probe, score_suspect
from distillguard.fingerprint.similarity import char_ngram_cosine
from distillguard.fingerprint.stats import calibrated_test, probe_z

if TYPE_CHECKING:  # annotations only: distillguard.suspects imports torch, which the fingerprint does not need
    from distillguard.suspects import SuspectLike

__all__ = ["make_probes", "select_probes", "reference_contrast", "calibrate", "build_probes", "probe_suspect", "resolve_mode"]


def make_probes(candidates: Sequence[dict[str, Any]], teacher_answers: dict[str, list[str]],
                reference_answers: dict[str, list[str]]) -> list[Probe]:
    """Probes with selection statistics from answers already sampled (ids -> lists of answers).

    ``consistency`` = mean pairwise similarity of the teacher's answers; ``distinctiveness`` =
    consistency minus the mean similarity of teacher answers to reference answers.

    Example:
        >>> from distillguard.fingerprint.api import make_probes
        >>> p = make_probes([{"id": "a", "family": "x", "prompt": "q"}], {"a": ["I am X", "I am X"]}, {"a": ["no"]})
        >>> p[0].consistency, p[0].distinctiveness
        (1.0, 1.0)
    """
    out = []
    for c in candidates:
        t, r = teacher_answers[c["id"]], reference_answers[c["id"]]
        pairs = list(itertools.combinations(t, 2))
        cons = float(np.mean([char_ngram_cosine(a, b) for a, b in pairs])) if pairs else 0.0
        cross = float(np.mean([char_ngram_cosine(a, b) for a in t for b in r]))
        out.append(Probe(c["id"], c.get("family", "real"), c["prompt"], list(t), list(r),
                         round(cons, 6), round(cons - cross, 6)))
    return out


def select_probes(probes: Sequence[Probe], n: int, *, min_consistency: float = 0.1,
                  strategy: str = "distinctive", seed: int = 0) -> list[Probe]:
    """Keep ``n`` probes: the most distinctive among the self-consistent ones (ordered best first), or
    ``strategy="random-real"``: ``n`` random real prompts (the ablation baseline).

    Example:
        >>> from distillguard.fingerprint.api import select_probes
        >>> from distillguard.fingerprint.probeset import Probe
        >>> ps = [Probe(str(i), "real", "q", ["a"], ["b"], 0.5, d) for i, d in enumerate([0.1, 0.9, 0.4])]
        >>> [p.id for p in select_probes(ps, 2)]
        ['1', '2']
    """
    if strategy == "random-real":
        real = [p for p in probes if p.family == "real"]
        return random.Random(seed).sample(real, min(n, len(real)))
    if strategy != "distinctive":
        raise DistillguardError(f"unknown selection strategy {strategy!r}")
    ok = [p for p in probes if p.consistency >= min_consistency and p.distinctiveness > 0]
    return sorted(ok, key=lambda p: -p.distinctiveness)[:n]


def resolve_mode(suspect: SuspectLike, mode: str) -> str:
    """``auto`` -> ``logprob`` when the suspect gives log-probs, else ``text``.

    Example:
        >>> from distillguard.fingerprint.api import resolve_mode
        >>> class S: can_score = False
        >>> resolve_mode(S(), "auto")
        'text'
    """
    if mode == "auto":
        return "logprob" if suspect.can_score else "text"
    if mode not in MODES:
        raise DistillguardError(f"unknown mode {mode!r}: choose auto, logprob or text")
    return mode


def reference_contrast(ps: ProbeSet) -> str:
    """How the probe set combines each probe's reference answers: ``closest`` or (files written before the
    reference panel) ``mean`` -- see :mod:`distillguard.fingerprint.score`.

    Example:
        >>> from distillguard.fingerprint.api import reference_contrast
        >>> from distillguard.fingerprint.probeset import ProbeSet
        >>> reference_contrast(ProbeSet(teacher="t", references=[], probes=[]))
        'mean'
    """
    return str(ps.settings.get("reference_contrast", "mean"))


def calibrate(ps: ProbeSet, name: str, model: SuspectLike, modes: Sequence[str] = MODES) -> ProbeSet:
    """Add an independent model's per-probe scores to the probe set's null calibration (in place).

    Example:
        >>> from distillguard.fingerprint.api import calibrate  # doctest: +SKIP
    """
    gen = {k: ps.settings[k] for k in ("max_new_tokens", "temperature") if k in ps.settings}
    for mode in modes:
        if mode == "logprob" and not model.can_score:
            continue
        scores, _ = score_suspect(model, ps.probes, mode, contrast=reference_contrast(ps), **gen)
        ps.calibration.setdefault(mode, {})[name] = [round(float(s), 6) for s in scores]
    return ps


def build_probes(teacher: SuspectLike, references: Sequence[SuspectLike], candidates: Sequence[dict[str, Any]], *,
                 n_probes: int = 64, teacher_samples: int = 2, reference_samples: int = 1,
                 max_new_tokens: int = 40, temperature: float = 0.7, strategy: str = "distinctive",
                 min_consistency: float = 0.1, cache_dir: str | os.PathLike | None = None,
                 calibration: dict[str, SuspectLike] | None = None, calibration_modes: Sequence[str] = MODES,
                 contrast: str = "closest", panel: Sequence[SuspectLike] = (), seed: int = 0,
                 progress: bool = False) -> ProbeSet:
    """Sample teacher and reference answers to the candidates, select distinctive probes, calibrate.

    ``references`` answer every candidate that does not bring its own ``reference_answers`` (see
    :func:`~distillguard.fingerprint.candidates.answered_candidates`), ``reference_samples`` each;
    ``calibration`` maps names to independent models whose scores estimate the null (they should not be
    the references). ``contrast`` combines a probe's several reference answers (``closest``: the suspect
    must be nearer our teacher than every reference; see :mod:`distillguard.fingerprint.score`). ``panel``:
    further models (other small chat models, say) that answer *every* candidate, answered ones included; their
    answers join each probe's references, so that "closer to our teacher" means closer than to each of them.

    Example:
        >>> from distillguard.fingerprint.api import build_probes  # doctest: +SKIP
    """
    if contrast not in CONTRASTS:
        raise DistillguardError(f"unknown reference contrast {contrast!r}: choose one of {', '.join(CONTRASTS)}")
    unanswered = [c for c in candidates if not c.get("reference_answers")]
    if unanswered and not references:
        raise DistillguardError(f"{len(unanswered)} candidate(s) have no reference answers: give a reference model")
    cache = Path(cache_dir) if cache_dir else None
    kw = dict(max_new_tokens=max_new_tokens, temperature=temperature, seed=seed, progress=progress)
    t_ans = sample_answers(teacher, candidates, n_samples=teacher_samples,
                           cache=cache / "teacher.jsonl" if cache else None, **kw)
    r_ans: dict[str, list[str]] = {c["id"]: list(c.get("reference_answers") or []) for c in candidates}
    ref_names = [str(r.identity) for r in references] if unanswered else []
    ref_names += sorted({str(c.get("reference", "corpus")) for c in candidates if c.get("reference_answers")})
    for k, ref in enumerate(references if unanswered else []):
        a = sample_answers(ref, unanswered, n_samples=reference_samples,
                           cache=cache / f"reference{k}.jsonl" if cache else None, **kw)
        for c in unanswered:
            r_ans[c["id"]].extend(a[c["id"]])
    for k, model in enumerate(panel):
        a = sample_answers(model, candidates, n_samples=reference_samples,
                           cache=cache / f"panel{k}.jsonl" if cache else None, **kw)
        for c in candidates:
            r_ans[c["id"]].extend(x for x in a[c["id"]] if x.strip())
        ref_names.append(str(model.identity))
    probes = select_probes(make_probes(candidates, t_ans, r_ans), n_probes, strategy=strategy, seed=seed,
                           min_consistency=min_consistency)
    if len(probes) < 2:
        raise DistillguardError(f"only {len(probes)} candidate(s) passed the selection; give more candidates")
    ps = ProbeSet(teacher=str(teacher.identity), references=ref_names, probes=probes,
                  settings={"max_new_tokens": max_new_tokens, "temperature": temperature, "strategy": strategy,
                            "teacher_samples": teacher_samples, "reference_samples": reference_samples,
                            "candidates": len(candidates), "version": VERSION, "reference_contrast": contrast})
    for name, model in (calibration or {}).items():
        calibrate(ps, name, model, calibration_modes)
    return ps


def probe_suspect(ps: ProbeSet, suspect: SuspectLike, *, mode: str = "auto", budget: int | None = None,
                  alpha: float = 0.01, seed: int = 0) -> FingerprintResult:
    """Query ``suspect`` with the probes (best first, within ``budget`` requests) and test it.

    A budget that covers only part of the probe set gives a *partial* verdict on the probes it covers
    (flagged ``partial: true``); one that covers fewer than 2 probes is an error. The result is a
    :class:`~distillguard.fingerprint.result.FingerprintResult`; its ``to_dict()`` is the JSON report.

    Example:
        >>> from distillguard.fingerprint.api import probe_suspect
        >>> from distillguard.fingerprint.probeset import Probe, ProbeSet
        >>> ps = ProbeSet("teacher", ["ref"], [Probe("a", "real", "who are you?", ["I am T."], ["I am R."]),
        ...                                    Probe("b", "real", "hi", ["Hello from T!"], ["Hey."])],
        ...               calibration={"text": {"m1": [0.0, 0.1], "m2": [0.1, 0.0], "m3": [0.05, -0.05]}})
        >>> class Echo:  # a text-only suspect that repeats the prompt: nothing like the teacher
        ...     identity, can_score, queries = "echo", False, 0
        ...     def generate(self, prompts, **kw):
        ...         return list(prompts)
        >>> res = probe_suspect(ps, Echo(), alpha=0.3)
        >>> res.detected, res.calibration_models, [p["id"] for p in res.to_dict()["probes"]]
        (False, 3, ['a', 'b'])
    """
    mode = resolve_mode(suspect, mode)
    calib = ps.calibration.get(mode, {})
    if len(calib) < 2:
        raise DistillguardError(
            f"the probe file has {len(calib)} calibration model(s) for {mode} scoring; at least 2 are needed "
            "(rebuild with --calibrate MODEL twice or more)")
    per = [queries_per_probe(p, mode) for p in ps.probes]
    n = len(ps.probes) if budget is None else int(np.searchsorted(np.cumsum(per), budget, side="right"))
    if n < 2:
        need = per[0] + per[1]
        raise DistillguardError(f"query budget {budget} covers {n} probe(s) in {mode} mode; at least {need} needed")
    probes = ps.probes[:n]
    before = suspect.queries
    gen = {k: ps.settings[k] for k in ("max_new_tokens", "temperature") if k in ps.settings}
    contrast = reference_contrast(ps)
    scores, answers = (score_suspect(suspect, probes, mode, contrast=contrast, seed=seed, **gen) if mode == "text"
                       else score_suspect(suspect, probes, mode, contrast=contrast))
    null = np.array([v[:n] for v in calib.values()])
    res = calibrated_test(scores, null, alpha=alpha)
    sources = ps.settings.get("calibration_sources") or {}
    if sources:  # the null's spread per kind of training text (issue 30: a one-source null is too narrow)
        by: dict[str, list[float]] = {}
        for name, t in zip(calib, res["null_statistics"]):
            by.setdefault(str(sources.get(name, "unknown")), []).append(float(t))
        res["null_by_source"] = {k: {"n": len(v), "mean": float(np.mean(v)), "values": v} for k, v in sorted(by.items())}
    z = probe_z(scores, null)
    res.update({
        "mode": mode, "suspect": suspect.identity, "teacher": ps.teacher, "references": ps.references,
        "calibration_names": list(calib), "queries_used": int(suspect.queries - before), "budget": budget,
        "partial": n < len(ps.probes), "probes_total": len(ps.probes), "key_fingerprint": None,
        "command": " ".join(sys.argv), "probe_file_version": ps.version, "reference_contrast": contrast,
        "probes": [{"id": p.id, "family": p.family, "prompt": p.prompt, "score": float(s), "z": float(zz),
                    "matched": bool(zz > 2.0), "teacher_answer": p.teacher_answers[0],
                    "reference_answer": p.reference_answers[0],
                    "suspect_answer": None if answers is None else answers[i]}
                   for i, (p, s, zz) in enumerate(zip(probes, scores, z))],
    })
    try:
        from importlib.metadata import version

        res["versions"] = {"distillguard": version("distillguard")}
    except Exception:  # not installed as a distribution
        res["versions"] = {}
    return FingerprintResult.from_dict(res)
