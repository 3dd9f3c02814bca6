"""Scoring a zoo with the fingerprint test and summarising it: per-probe scores (cached), AUROC, TPR / FPR at
alpha over random probe subsets, the full-pool statistics.

Every model is tested by :func:`distillguard.fingerprint.stats.calibrated_test` against its null
(:func:`null_models`: the chat-recipe ShareGPT students, leave-one-out; with ``family`` a Gemma-based model's
own family). Used by ``benchmarks/fingerprint*.py``.

Example:
    >>> import numpy as np
    >>> from distillguard.distill.evaluate import auroc, evaluate
    >>> auroc([2.0, 3.0], [1.0, 2.0])
    0.875
    >>> rng = np.random.default_rng(0)
    >>> S = {f"chat-sharegpt-s{i}": rng.normal(size=20) for i in range(5)}
    >>> S["p"] = rng.normal(size=20) + 3.0
    >>> models = [{"name": n, "label": int(n == "p")} for n in S]
    >>> r = evaluate(models, S, np.arange(20), 10, reps=5, rng=rng)
    >>> r["auroc_mean"], r["tpr_at_alpha"]
    (1.0, 1.0)
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.distill.zoo import GEMMA_NULL, NULL_PREFIX, fingerprint_cache, gemma_base_suspect, zoo_dir
from distillguard.fingerprint.stats import calibrated_test

__all__ = ["auroc", "null_models", "evaluate", "full_statistics", "contrasts", "score_path", "model_scores",
           "member_logprobs"]


def auroc(pos: list[float], neg: list[float]) -> float:
    """Probability that a positive outscores a negative (ties count half).

    Example:
        >>> from distillguard.distill.evaluate import auroc
        >>> auroc([1.0, 1.0], [1.0, 0.0])
        0.75
    """
    p, n = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(np.mean((p > n) + 0.5 * (p == n)))


def null_models(name: str, names: list[str], family: bool = False) -> list[str]:
    """Calibration models for ``name`` (leave-one-out): the chat-sharegpt students; with ``family`` a model built on
    Gemma-3-270M gets its own family's null instead: Gemma itself and its fine-tunes on other sources.

    Example:
        >>> from distillguard.distill.evaluate import null_models
        >>> names = ["chat-sharegpt-s0", "chat-sharegpt-s1", "gemma3-270m", "gemmaft-human-s0", "gemmaft-teacher-s0"]
        >>> null_models("chat-sharegpt-s0", names), null_models("gemmaft-teacher-s0", names, family=True)
        (['chat-sharegpt-s1'], ['gemma3-270m', 'gemmaft-human-s0'])
    """
    if family and name.startswith("gemma"):
        pool = [c for c in names if c == "gemma3-270m" or c.startswith(GEMMA_NULL)]
    else:
        pool = [c for c in names if c.startswith(NULL_PREFIX)]
    return [c for c in pool if c != name]


def evaluate(models: list[dict], S: dict[str, np.ndarray], idx_pool: np.ndarray, n: int, reps: int,
             rng: np.random.Generator, alpha: float = 0.01, family: bool = False) -> dict:
    """AUROC, TPR and FPR at alpha over ``reps`` random subsets of ``n`` probes from ``idx_pool``.

    ``S``: per-probe scores of every model; ``models``: name and label (1 = derived from the teacher). A model
    with fewer than two null models is not tested. One subset when ``n`` covers the pool.

    Example: see the module docstring.
    """
    names = [m["name"] for m in models]
    n = min(n, len(idx_pool))
    reps = 1 if n == len(idx_pool) else reps
    aucs, rej = [], {m["name"]: [] for m in models}
    for _ in range(reps):
        sub = rng.choice(idx_pool, n, replace=False)
        stat = {}
        for m in models:
            null = null_models(m["name"], names, family)
            if len(null) < 2:
                continue
            r = calibrated_test(S[m["name"]][sub], np.array([S[c][sub] for c in null]), alpha=alpha)
            stat[m["name"]] = r["t"]
            rej[m["name"]].append(r["p_value"] <= alpha)
        aucs.append(auroc([stat[m["name"]] for m in models if m["label"] and m["name"] in stat],
                          [stat[m["name"]] for m in models if not m["label"] and m["name"] in stat]))
    neg = [m["name"] for m in models if not m["label"] and rej[m["name"]]]
    pos = [m["name"] for m in models if m["label"] and rej[m["name"]]]
    return {"n_probes": n, "subsets": reps, "auroc_mean": float(np.mean(aucs)), "auroc_min": float(np.min(aucs)),
            "share_auroc_1": float(np.mean(np.array(aucs) == 1.0)),
            "fpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in neg])),
            "tpr_at_alpha": float(np.mean([np.mean(rej[k]) for k in pos])),
            "rejection_rate": {k: float(np.mean(v)) for k, v in rej.items() if v},
            "evaluated": neg + pos}


def full_statistics(models: list[dict], S: dict[str, np.ndarray], idx: np.ndarray, family: bool = False) -> dict:
    """The test on every probe of ``idx`` for every model (leave-one-out null for the null's members).

    Example:
        >>> import numpy as np
        >>> from distillguard.distill.evaluate import full_statistics
        >>> rng = np.random.default_rng(1)
        >>> S = {f"chat-sharegpt-s{i}": rng.normal(size=8) for i in range(4)}
        >>> S["p"] = rng.normal(size=8) + 5.0
        >>> full_statistics([{"name": "p", "label": 1}], S, np.arange(8))["p"]["p_value"] < 0.05
        True
    """
    out = {}
    for m in models:
        null = null_models(m["name"], list(S), family)
        if len(null) >= 2:
            out[m["name"]] = calibrated_test(S[m["name"]][idx], np.array([S[c][idx] for c in null]))
    return out


def contrasts(data: dict, answers: int) -> dict[str, np.ndarray]:
    """``d_i`` per model: mean log-prob of the first ``answers`` teacher answers minus ChatGPT's answer's.

    ``data``: ``names`` [models], ``teacher_lps`` [models, probes, answers], ``reference_lps`` [models, probes]
    (``benchmarks/data/fingerprint/answered_logprobs.npz``).

    Example:
        >>> import numpy as np
        >>> from distillguard.distill.evaluate import contrasts
        >>> data = {"names": np.array(["a"]), "teacher_lps": np.array([[[-1.0, -3.0]]]),
        ...         "reference_lps": np.array([[-4.0]])}
        >>> contrasts(data, 1)["a"], contrasts(data, 2)["a"]
        (array([3.]), array([2.]))
    """
    d = data["teacher_lps"][:, :, :answers].mean(axis=2) - data["reference_lps"]
    return {str(n): d[k] for k, n in enumerate(data["names"])}


def score_path(pool: str, name: str, mode: str) -> Path:
    """Where :func:`model_scores` caches one model's per-probe scores (and, in log-prob mode, every log-prob).

    Example:
        >>> from distillguard.distill.evaluate import score_path
        >>> score_path("answered", "teacher", "logprob").name
        'answered_teacher_logprob.json'
    """
    return fingerprint_cache() / "scores" / f"{pool}_{name}_{mode}.json"


def model_scores(m: dict, probes: list, mode: str, max_new_tokens: int, pool: str,
                 teacher_answers: int | None = None) -> np.ndarray:
    """Per-probe scores of one zoo model on all probes of a pool (cached; log-prob mode caches every answer's
    log-prob, so the contrast can use the first ``teacher_answers`` teacher answers only).

    ``mode``: ``logprob`` (log-prob contrast of the teacher's answers over the reference) or ``text`` (the
    model's own sampled answers scored against both, T = 0.7, seed 7).

    Example:
        >>> s = model_scores({"name": "teacher", "source": None}, probes, "logprob", 40, "answered")  # doctest: +SKIP
        >>> s.shape  # doctest: +SKIP
        (126,)
    """
    from distillguard.fingerprint.score import answer_logprobs, logprob_contrast, suspect_answers, text_scores
    from distillguard.suspects import open_suspect

    path = score_path(pool, m["name"], mode)
    if path.exists():
        cached = json.loads(path.read_text())
        if cached["ids"] == [p.id for p in probes] and (mode == "text" or "teacher_lps" in cached):
            if mode == "text":
                return np.array(cached["scores"])
            return logprob_contrast([np.array(t) for t in cached["teacher_lps"]],
                                    [np.array(r) for r in cached["reference_lps"]], teacher_answers)
    s = open_suspect(m["source"])
    t0 = time.time()
    extra: dict[str, Any] = {}
    if mode == "logprob":
        t_lp, r_lp = answer_logprobs(s, probes)
        sc, ans = logprob_contrast(t_lp, r_lp), None
        extra = {"teacher_lps": [t.tolist() for t in t_lp], "reference_lps": [r.tolist() for r in r_lp]}
    else:
        ans = suspect_answers(s, probes, max_new_tokens=max_new_tokens, temperature=0.7, seed=7)
        sc = text_scores(probes, ans)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"scores": sc.tolist(), "answers": ans, "queries": s.queries, **extra,
                                "seconds": round(time.time() - t0, 1), "ids": [p.id for p in probes]}))
    print(f"scored {m['name']} {pool}/{mode} in {time.time() - t0:.0f}s", flush=True)
    return sc if mode == "text" else logprob_contrast(t_lp, r_lp, teacher_answers)


def member_logprobs(name: str, probe_list: list, cache: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Log-probs of the teacher's and ChatGPT's answer per probe under one Gemma family member (or a zoo model
    under ``zoo_dir()``), cached as ``<cache>/<name>.json`` (default ``fingerprint_cache()/family_scores``).

    ``gemma3-270m`` is queried in the Gemma-IT turn format of its fine-tunes (:func:`gemma_base_suspect`).

    Example:
        >>> t, r = member_logprobs("gemmaft-teacher-s0", probes)  # doctest: +SKIP
        >>> (t - r).mean()  # doctest: +SKIP
        0.21
    """
    from distillguard.fingerprint.score import answer_logprobs
    from distillguard.suspects import open_suspect

    path = (cache or fingerprint_cache() / "family_scores") / f"{name}.json"
    ids = [p.id for p in probe_list]
    if path.exists():
        c = json.loads(path.read_text())
        if c["ids"] == ids:
            return np.array(c["teacher"]), np.array(c["reference"])
    s = gemma_base_suspect() if name == "gemma3-270m" else open_suspect(zoo_dir() / name)
    t0 = time.time()
    t_lp, r_lp = answer_logprobs(s, probe_list)
    t, r = np.array([x[0] for x in t_lp]), np.array([x[0] for x in r_lp])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ids": ids, "teacher": t.tolist(), "reference": r.tolist(),
                                "queries": s.queries, "seconds": round(time.time() - t0, 1)}))
    print(f"scored {name} in {time.time() - t0:.0f}s", flush=True)
    return t, r
