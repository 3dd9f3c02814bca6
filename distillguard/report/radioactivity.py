"""One self-contained HTML page for a ``distillguard detect`` verdict (:meth:`RadioactivityReport.to_dict`).

Three plots, embedded as PNG: each account's statistic against its null mean with the band a key the suspect
never learned from stays inside (one-sided, at the report's alpha after Bonferroni over the accounts); -log10 p
per account with the Holm threshold (attribution); and the best key's -log10 p as more text is read (or more
answers are scored). Then the figures behind them. Keys appear by public fingerprint only.

Example:
    >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport
    >>> from distillguard.report.radioactivity import render_radioactivity_html
    >>> r = KeyScore("dg-0/a", "a", 100, 40, 0.25, 0.4, 3.46, 1e-3, -3.0, 1e-3, -3.0, False)
    >>> page = render_radioactivity_html(RadioactivityReport("reading", "s", 1e-3, [r], {}, {}).to_dict())
    >>> page.startswith("<!doctype html>") and page.count("<img") == 2  # no curve: two plots
    True
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from distillguard.io import atomic_write_text
from distillguard.report.common import CSS, img_tag, subplots

__all__ = ["render_radioactivity_html", "write_radioactivity_html"]

SHOWN = 40  # accounts drawn in the per-account plot (the most significant ones)

_WHAT = {"coins": ("green rate of the scored coins", "gamma"),
         "rank": ("mean normalised rank of the key's green entries", "0.5 (random ranks)"),
         "top": ("green share of the head of the ranking", "the key's green share")}


def _statistic_plot(doc: dict[str, Any]) -> str:
    """Each shown account's statistic vs its null mean, with the null band at Bonferroni-adjusted alpha."""
    res = sorted(doc["results"], key=lambda r: r["log10_p"])[:SHOWN]
    m = max(len(doc["results"]), 1)
    zq = float(stats.norm.isf(doc["threshold"]["alpha"] / m))  # one-sided, Bonferroni over every account
    x = np.arange(len(res))
    val = np.array([r["green_fraction"] for r in res])
    null = np.array([r["gamma"] for r in res])
    z = np.array([r["z"] for r in res])
    # the statistic's null sd, recovered from its z (z = (value - null mean) / sd); none when z is 0
    sd = np.where(np.abs(z) > 1e-9, np.abs(val - null) / np.where(np.abs(z) > 1e-9, np.abs(z), 1.0), np.nan)
    fig, ax = subplots(figsize=(10, 3.2))
    ax.fill_between(x, null - zq * sd, null + zq * sd, color="0.85", step="mid",
                    label=f"null band (z = ±{zq:.2f}: alpha / {m} accounts)")
    ax.plot(x, null, color="k", lw=0.8, drawstyle="steps-mid", label="null mean")
    colors = ["#b00" if r["detected"] else "#246" for r in res]
    ax.scatter(x, val, c=colors, zorder=3, s=18, label="account (red: flagged)")
    ax.set_xticks(x)
    ax.set_xticklabels([r["account"] or r["key_fingerprint"] for r in res], rotation=90, fontsize=6)
    kind = res[0]["statistic"] if res else "coins"
    ax.set_ylabel(_WHAT.get(kind, _WHAT["coins"])[0], fontsize=8)
    ax.set_title(f"the {len(res)} most significant accounts of {len(doc['results'])}: statistic vs its null", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return img_tag(fig, "Each shown account's statistic vs its null mean, with the null band at Bonferroni-adjusted alpha")


def _attribution_plot(doc: dict[str, Any]) -> str:
    """-log10 p of every account, sorted, with the Holm threshold of the most significant one."""
    res = sorted(doc["results"], key=lambda r: r["log10_p"])
    lp = np.array([-r["log10_p"] for r in res])
    m, alpha = len(res), doc["threshold"]["alpha"]
    fig, ax = subplots(figsize=(10, 3))
    ax.bar(np.arange(m), lp, color=["#b00" if r["detected"] else "0.6" for r in res], width=1.0)
    ax.axhline(-math.log10(alpha / m), color="k", ls="--", lw=0.8, label=f"Holm threshold, first step: alpha / {m}")
    ax.axhline(-math.log10(alpha), color="k", ls=":", lw=0.8, label=f"alpha = {alpha:g}")
    for i, r in enumerate(res[:5]):
        if r["detected"]:
            ax.annotate(r["account"] or r["key_fingerprint"], (i, lp[i]), fontsize=7, xytext=(4, 0),
                        textcoords="offset points")
    ax.set_xlabel("accounts, most significant first")
    ax.set_ylabel("-log10 p")
    ax.set_title("attribution: which account's sub-key the suspect learned", fontsize=9)
    ax.legend(fontsize=7)
    return img_tag(fig, '-log10 p of every account, sorted, with the Holm threshold of the most significant one')


def _curve_plot(doc: dict[str, Any]) -> str:
    """The best key's -log10 p on growing prefixes of the text read (answers scored)."""
    c = doc["curve"]
    x = [p["tokens"] for p in c]
    y = [-p["log10_p"] for p in c]
    m = max(len(doc["results"]), 1)
    fig, ax = subplots(figsize=(6, 3))
    ax.plot(x, y, marker="o", color="#246")
    ax.axhline(-math.log10(doc["threshold"]["alpha"] / m), color="k", ls="--", lw=0.8,
               label=f"detection threshold (alpha / {m})")
    ax.set_xlabel("answer tokens scored" if doc["mode"] == "generation" else "tokens read")
    ax.set_ylabel("-log10 p (best key)")
    ax.set_ylim(bottom=0)
    ax.set_title("the evidence as it grows", fontsize=9)
    ax.legend(fontsize=7)
    return img_tag(fig, "The best key's -log10 p on growing prefixes of the text read (answers scored)")


def render_radioactivity_html(doc: dict[str, Any]) -> str:
    """The HTML page of one verdict (``RadioactivityReport.to_dict()``).

    Example:
        >>> from distillguard.report.radioactivity import render_radioactivity_html  # doctest: +SKIP
        >>> open("report.html", "w").write(render_radioactivity_html(report.to_dict()))  # doctest: +SKIP
    """
    e = html.escape
    verdict = "RADIOACTIVE" if doc["detected"] else "not detected"
    who = ", ".join(doc["attributed_to"]) or "-"
    facts = [("verdict", f"<b class={'yes' if doc['detected'] else 'no'}>{verdict}</b>"),
             ("learned from (flagged accounts)", e(who)), ("suspect", e(str(doc["suspect"]))),
             ("mode", e(doc["mode"])), ("test", e(doc["test"])),
             ("best key: log10 p (Holm)", f"{doc['log10_p']:.2f} ({doc['log10_p_holm']:.2f})"),
             ("threshold", f"Holm-adjusted p &le; {doc['threshold']['alpha']:g} over {doc['threshold']['keys_tested']} "
                           "key(s)"),
             ("master key", e(str(doc["key_fingerprint"]).split("/")[0]) + " (public fingerprint)")]
    facts += [(e(k.replace("_", " ")), e(str(v))) for k, v in doc["units"].items()]
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    top = sorted(doc["results"], key=lambda r: r["log10_p"])[:20]
    acc = "".join(f"<tr><td>{e(r['account'] or r['key_fingerprint'])}</td><td>{r['green']} / {r['scored']}</td>"
                  f"<td>{r['green_fraction']:.4f}</td><td>{r['gamma']:.4f}</td><td>{r['z']:.2f}</td>"
                  f"<td>{r['log10_p']:.2f}</td><td>{r['log10_p_holm']:.2f}</td>"
                  f"<td class={'yes' if r['detected'] else 'no'}>{'yes' if r['detected'] else 'no'}</td></tr>"
                  for r in top)
    curve = (_curve_plot(doc) if doc.get("curve") else
             "<p class=note>No evidence curve for this statistic (h &ge; 1 rank statistic).</p>")
    notes = "".join(f"<li>{e(n)}</li>" for n in doc.get("notes", []))
    return ("<!doctype html><html><head><meta charset='utf-8'><title>distillguard detect</title>"
            f"<style>{CSS}</style></head><body><h1>Radioactivity: {verdict}</h1><table>{rows}</table>"
            f"<h2>Statistic per account</h2>{_statistic_plot(doc)}"
            f"<h2>Attribution</h2>{_attribution_plot(doc)}"
            f"<h2>Evidence vs text read</h2>{curve}"
            "<h2>Most significant accounts</h2><table><tr><th>account</th><th>green / scored</th><th>statistic</th>"
            f"<th>null mean</th><th>z</th><th>log10 p</th><th>Holm log10 p</th><th>flagged</th></tr>{acc}</table>"
            f"<ul class=note>{notes}</ul><p class=note>Command: <code>{e(doc.get('command', ''))}</code>; "
            f"{doc.get('seconds', 0):.1f} s; versions {e(str(doc.get('versions', {})))}</p></body></html>")


def write_radioactivity_html(doc: dict[str, Any], path: str | Path) -> Path:
    """Write the page to ``path`` (parents created) and return it.

    Example:
        >>> from distillguard.report.radioactivity import write_radioactivity_html  # doctest: +SKIP
        >>> write_radioactivity_html(report.to_dict(), "runs/report.html")  # doctest: +SKIP
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, render_radioactivity_html(doc))
    return out
