"""JSON and HTML reports of a fingerprint verdict (plots embedded as base64 PNG).

Example:
    >>> import os, tempfile
    >>> from distillguard.report.fingerprint import write_report
    >>> res = {"statistic": 1.0, "null_statistics": [0.0, 0.1], "p_value": 0.001, "log10_p": -3.0,
    ...        "detected": True, "probes": [{"id": "p", "family": "real", "prompt": "q", "score": 1.0, "z": 3.0,
    ...        "matched": True, "teacher_answer": "a", "reference_answer": "b", "suspect_answer": None}]}
    >>> path = write_report(res, os.path.join(tempfile.mkdtemp(), "r.html"))
    >>> "data:image/png;base64" in open(path).read()
    True
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from distillguard.fingerprint.result import FingerprintResult
from distillguard.io import atomic_write_text
from distillguard.report.common import figure_png, subplots

__all__ = ["write_report", "fingerprint_figure", "plot_png", "verdict_word"]


def fingerprint_figure(res: dict[str, Any], *, title: str | None = None) -> Any:
    """Figure: the suspect's statistic among the calibration models' (with the null's mean and the t tail's
    threshold at ``res["alpha"]``), and each probe's z-score, labelled with the probe ids of the table.

    Colours follow the verdict: red only for a detected suspect, amber for an indicative one, neutral blue
    for a cleared one; the verdict is also written in the title (not colour alone).

    Example:
        >>> from distillguard.report.fingerprint import fingerprint_figure
        >>> fig = fingerprint_figure({"statistic": 1.0, "null_statistics": [0.0, 0.2], "probes": [{"z": 1.0}]})
        >>> len(fig.axes)
        2
    """
    word = verdict_word(res)
    color = {"DETECTED": "#b00", "INDICATIVE": "#8a5a00"}.get(word, "#246")
    fig, ax = subplots(1, 2, figsize=(9, 3.2))
    null = list(res.get("null_statistics", []))
    ax[0].scatter(null, [0] * len(null), label=f"calibration models (H0, R = {len(null)})", color="grey",
                  marker="o")
    ax[0].axvline(res["statistic"], color=color, lw=2, label=f"suspect ({word})")
    if len(null) >= 2 and "alpha" in res:
        mu, sd, R = float(np.mean(null)), float(np.std(null, ddof=1)), len(null)
        cut = mu + float(stats.t.isf(res["alpha"], R - 1)) * sd * (1 + 1 / R) ** 0.5
        ax[0].axvline(mu, color="k", lw=0.8, ls=":", label="null mean")
        ax[0].axvline(cut, color="k", lw=0.8, ls="--", label=f"t-tail threshold (alpha {res['alpha']:g})")
    ax[0].set_yticks([])
    ax[0].set_xlabel("T = mean probe contrast")
    ax[0].set_title(("" if title is None else f"{title}: ") + f"T vs independent models ({word})", fontsize=9)
    ax[0].legend(fontsize=7)
    probes = res.get("probes", [])
    z = [p["z"] for p in probes]
    ax[1].bar(range(len(z)), z, color=[color if v > 2 else "0.7" for v in z], edgecolor="k", linewidth=0.3,
              hatch=None)
    ax[1].axhline(2.0, ls="--", color="k", lw=0.8, label="z = 2 (matched)")
    ax[1].set_xticks(range(len(z)))
    ax[1].set_xticklabels([str(p.get("id", i)) for i, p in enumerate(probes)], rotation=90, fontsize=6)
    ax[1].set_xlabel("probe id (strongest first)")
    ax[1].set_ylabel("z vs calibration")
    ax[1].set_title("per-probe z-scores", fontsize=9)
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_png(res: dict[str, Any]) -> str:
    """Base64 PNG of :func:`fingerprint_figure`.

    Example:
        >>> from distillguard.report.fingerprint import plot_png
        >>> plot_png({"statistic": 1.0, "null_statistics": [0.0], "probes": [{"z": 1.0}]})[:4]
        'iVBO'
    """
    return figure_png(fingerprint_figure(res))


def verdict_word(res: dict[str, Any]) -> str:
    """``DETECTED`` (exact rank p <= alpha), ``INDICATIVE`` (only the Student-t tail is) or ``not detected``.

    Example:
        >>> from distillguard.report.fingerprint import verdict_word
        >>> verdict_word({"detected": False, "indicative": True})
        'INDICATIVE'
    """
    return "DETECTED" if res.get("detected") else "INDICATIVE" if res.get("indicative") else "not detected"


def _html(res: dict[str, Any]) -> str:
    e = html.escape
    verdict = verdict_word(res)
    rows = "".join(
        f"<tr class='{'m' if p['matched'] else ''}'><td>{e(p['family'])}</td><td>{e(p['prompt'])}</td>"
        f"<td>{e(p['teacher_answer'])}</td><td>{e(p['suspect_answer'] or '(log-prob scoring: no answer)')}</td>"
        f"<td>{e(p['reference_answer'])}</td><td>{p['score']:.3f}</td><td>{p['z']:.2f}</td></tr>"
        for p in res.get("probes", []))
    head = "".join(f"<li><b>{e(k)}</b>: {e(str(res.get(k)))}</li>" for k in (
        "test", "null", "mode", "statistic", "p_rank", "min_p_rank", "p_value", "assumption", "log10_p",
        "calibration_models",
        "n_probes", "queries_used", "partial", "alpha", "suspect", "teacher", "references", "command") if k in res)
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>distillguard fingerprint</title><style>"
            "body{font-family:sans-serif;max-width:1200px;margin:auto}td{vertical-align:top;border-top:1px solid #ccc;"
            "font-size:12px}tr.m{background:#fee}</style></head><body>"
            f"<h1>Fingerprint: {verdict}</h1><ul>{head}</ul><img alt='statistic T of the suspect against those of the calibration models, and per-probe z' src='data:image/png;base64,{plot_png(res)}'>"
            "<h2>Probes (matched = z &gt; 2, highlighted)</h2><table><tr><th>family</th><th>prompt</th>"
            f"<th>teacher</th><th>suspect</th><th>reference</th><th>score</th><th>z</th></tr>{rows}</table>"
            "</body></html>")


def write_report(res: dict[str, Any] | FingerprintResult, path: str | os.PathLike) -> Path:
    """Write ``res`` (:func:`~distillguard.fingerprint.api.probe_suspect`'s result or its ``to_dict()``) as
    JSON (``.json``) or a self-contained HTML page (``.html``/``.htm``).

    Example:
        >>> from distillguard.report.fingerprint import write_report  # doctest: +SKIP
    """
    if isinstance(res, FingerprintResult):
        res = res.to_dict()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".html", ".htm"):
        atomic_write_text(path, _html(res))
    else:
        atomic_write_text(path, json.dumps(res, indent=2, ensure_ascii=False))
    return path
