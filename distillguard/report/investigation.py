"""Render an investigation document (:func:`distillguard.investigation.investigate`) as one HTML file.

Self-contained (plots embedded as PNG), readable without the JSON: the verdict table first, then one
section per line of evidence with its test, its null hypothesis, its threshold and the plots. The key's
public fingerprint is shown, never the key.

Example:
    >>> from distillguard.report.investigation import render_html
    >>> "<html" in render_html({"alpha": 1e-3, "logs": None, "suspects": {}, "complete": True})
    True
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.errors import DistillguardError
from distillguard.investigation.result import InvestigationResult
from distillguard.io import atomic_path
from distillguard.report.api_logs import plot_score_distribution
from distillguard.report.common import CSS, fmt_p, img_tag, subplots
from distillguard.report.fingerprint import fingerprint_figure

__all__ = ["render_html", "write_report"]

_STATUS_CLASS = {"DISTILLED": "yes", "INDICATIVE": "ind"}
_STATUS_WORDS = {
    "DISTILLED": "the exact p-values reach the threshold: evidence someone can act on",
    "INDICATIVE": "only a p-value that rests on an untested assumption reaches the threshold: reported, not a "
                  "verdict",
    "not distilled": "no line of evidence reaches the threshold",
}


def _line_cell(line: str, ln: dict[str, Any] | None) -> str:
    e = html.escape
    if ln is None:
        return "<td>not run</td>"
    word = "detected" if ln["detected"] else "indicative only" if ln.get("indicative") else "not detected"
    cls = "yes" if ln["detected"] else "ind" if ln.get("indicative") else "no"
    if ln.get("p_exact") is not None and ln["p_exact"] != ln["p_value"]:
        text = (f"exact rank p = {fmt_p(ln['p_exact'])} (can't go below {fmt_p(ln.get('p_floor'))}); Student-t "
                f"p = {fmt_p(ln['p_value'])} (assumption)")
    else:
        text = f"p = {fmt_p(ln['p_value'])} (exact)"
    if line == "radioactivity" and ln.get("attributed"):
        text += f"<br>learned from <b>{e(', '.join(ln['attributed']))}</b>"
    return f"<td class={cls}><b>{word}</b>: {text}</td>"


def _verdict_table(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = []
    for name, s in doc["suspects"].items():
        v = s["verdict"]
        status = v.get("status", "DISTILLED" if v["distilled"] else "not distilled")
        cells = [f"<td>{e(name)}<br><span class=note>{e(str(s['identity']))}</span></td>"]
        cells += [_line_cell(line, s["lines"].get(line)) for line in ("radioactivity", "fingerprint")]
        caveats = "".join(f"<li>{e(c)}</li>" for c in v.get("caveats", []))
        cells.append(f"<td class={_STATUS_CLASS.get(status, 'no')}><b>{e(status)}</b> (overall exact p = "
                     f"{fmt_p(v.get('overall_p_exact', v['overall_p']))})<br><span class=note>"
                     f"{e(v.get('strength', _STATUS_WORDS.get(status, '')))}. {e(_STATUS_WORDS.get(status, ''))}"
                     "</span>" + (f"<ul class=note>{caveats}</ul>" if caveats
                                                                     else "") + "</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if not rows:
        return "<p>No suspect model was tested.</p>"
    return ("<table><caption>One row per suspect: each line of evidence, then the verdict.</caption><tr>"
            "<th>suspect</th><th>radioactivity (watermark learned)</th><th>fingerprint (teacher's "
            "idiosyncrasies)</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
            f"<p class=note>Rule: a suspect is DISTILLED only when min(1, m &times; smallest exact line p) &le; "
            f"{doc['alpha']:g} over the m lines that ran (Bonferroni: valid whatever the dependence). When only a "
            "p-value resting on an assumption (the fingerprint's Student-t tail) reaches it, the verdict is "
            "INDICATIVE: an untested tail alone never accuses anyone.</p>")


def _logs_section(doc: dict[str, Any]) -> str:
    e = html.escape
    lg = doc.get("logs")
    if not lg:
        return ""
    out = ["<h2>API logs: who harvested?</h2>", f"<p>{e(lg['summary'])} ({lg['requests']:,} requests). The "
           f"detector's threshold gives an account-level false-positive rate of at most "
           f"{lg.get('fpr_bound', lg['target_fpr']):.2g} (target {lg['target_fpr']:g}, resting on "
           f"{lg.get('calibration_accounts', '?')} held-out benign accounts); it was fitted on "
           f"{e(lg.get('fitted_on', 'traffic assumed benign'))}.</p>"]
    scores = doc.get("_scores")
    if scores is not None and len(scores):
        fig, ax = subplots(figsize=(7, 3))
        plot_score_distribution(scores, lg["threshold"], ax=ax)
        ax.set_title("account scores (log scale)")
        out.append(img_tag(fig, "histogram of account scores on a log scale, flagged accounts apart, with the "
                                "detector's threshold"))
    groups = lg.get("flagged_groups")
    if groups is None:  # a report made before flagged groups existed
        groups = [{"accounts": [r["account_id"]], "score": r["score"], "percentile": None, "reasons": r["reasons"],
                   "cluster_id": None} for r in lg["top"] if r["flag"]]
    n_acc = sum(len(g["accounts"]) for g in groups)
    rows = "".join(_group_row(g) for g in groups)
    expected = lg.get("expected_false_positives")
    out.append(f"<details open><summary><b>All {n_acc} flagged accounts</b> in {len(groups)} group(s) (a coordinated "
               "cluster is one row)" + ("" if expected is None else f"; about {expected:g} benign account(s) are "
               f"expected among them at the target FPR") + "</summary>"
               "<table><tr><th>group</th><th>accounts</th><th>highest score</th>"
               f"<th>why (the detector's reasons)</th></tr>{rows}</table></details>")
    return "\n".join(out)


def _group_row(g: dict[str, Any]) -> str:
    e = html.escape
    n = len(g["accounts"])
    what = f"cluster {e(g['cluster_id'])} ({n} accounts)" if g["cluster_id"] else "single account"
    share = "" if g.get("percentile") is None else f" (top {100 - g['percentile']:.1f} % of accounts)"
    return (f"<tr><td>{what}</td><td>{e(', '.join(g['accounts']))}</td><td>{g['score']:.3g}{share}</td>"
            f"<td>{e(g['reasons'])}</td></tr>")


def _stat_cell(b: dict[str, Any]) -> str:
    if b.get("statistic") == "rank":
        return f"green tokens' mean rank {b['green_fraction']:.4f} (null 0.5; {b['green']} of {b['scored']} green)"
    return f"{b['green']} / {b['scored']} = {b['green_fraction']:.3f} (&gamma; = {b['gamma']:.2f})"


def _radio_plot(name: str, ln: dict[str, Any]) -> str:
    modes = list(ln["modes"])
    if not modes:
        return ""
    fig, axes = subplots(1, len(modes), figsize=(5.5 * len(modes), 3), squeeze=False)
    for ax, m in zip(axes[0], modes):
        lp = -np.asarray(ln["modes"][m]["log10_p_all"], float)
        ax.hist(np.clip(lp, 0, None), bins=40, color="grey", log=True)
        best = ln["modes"][m]["best"]
        ax.axvline(-best["log10_p"], color="red", label=f"best key: {best.get('account') or 'master'}")
        n = len(lp)
        ax.axvline(-math.log10(ln["alpha"] / max(n, 1)), color="k", ls="--", lw=0.8,
                   label="Holm/Bonferroni threshold")
        ax.set_xlabel("-log10 p per key")
        ax.set_ylabel("keys")
        ax.set_title(f"{name}: {m} mode ({n} keys)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return img_tag(fig, f"{name}: histogram of -log10 p over the keys tested in each mode, the best key and the "
                        "Holm/Bonferroni threshold marked")


def _radio_section(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = []
    for name, s in doc["suspects"].items():
        ln = s["lines"].get("radioactivity")
        if ln is None:
            continue
        parts.append(f"<h3>{e(name)}</h3><p>{e(ln['summary'])}.</p>")
        parts.append("<table><tr><th>mode</th><th>read / asked</th><th>best key</th><th>green / scored</th>"
                     "<th>z</th><th>p</th><th>Holm p (min)</th></tr>")
        for m, d in ln["modes"].items():
            b = d["best"]
            what = (f"{d['units'].get('texts_read', d['units'].get('queries'))} "
                    f"{'texts' if m == 'reading' else 'prompts'}, "
                    f"{d['units'].get('tokens_read', d['units'].get('answer_tokens'))} tokens")
            parts.append(f"<tr><td>{m}</td><td>{what}</td><td>{e(str(b.get('account') or 'master'))} "
                         f"({e(b['key_fingerprint'])})</td><td>{_stat_cell(b)}</td><td>{b['z']:.1f}</td>"
                         f"<td>{fmt_p(b['p_value'])}</td><td>{fmt_p(d['p_holm_min'])}</td></tr>")
        parts.append("</table>")
        for m, d in ln["modes"].items():
            for acct, why in d.get("explained_by_overlap", {}).items():
                parts.append(f"<p class=note>{m} mode: {e(acct)} was significant but is explained by {e(why['by'])}'s "
                             f"green lists (conditional p = {fmt_p(why['conditional_p'])} on the coins red under "
                             f"{e(why['by'])}); not attributed.</p>")
        parts.append(_radio_plot(name, ln))
        for note in ln.get("notes", []):
            parts.append(f"<p class=note>{e(note)}</p>")
    if not parts:
        return ""
    return ("<h2>Radioactivity: did the suspect learn our watermark?</h2><p class=note>Null hypothesis: the "
            "suspect's predictions (reading mode) or answers (generation mode) are independent of the key. Each key "
            "is an exact binomial test on distinct green coins (context window, token), or, in reading mode, a rank "
            "test of the green tokens under the suspect's averaged next-token distribution (Wilcoxon rank "
            "sum, Chernoff bound); Holm over the keys of a "
            "mode, Bonferroni over the modes. Attribution = account sub-keys whose Holm p times the number of modes is at most alpha, unless a more "
            "significant account's green lists explain them (overlap).</p>"
            + "\n".join(parts))


def _fp_section(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = []
    for name, s in doc["suspects"].items():
        ln = s["lines"].get("fingerprint")
        if ln is None:
            continue
        parts.append(f"<h3>{e(name)}</h3><p>{e(ln['summary'])} ({ln['mode']} mode, {ln['queries_used']} queries"
                     f"{', partial: budget covers part of the probes' if ln.get('partial') else ''}). Calibration "
                     f"models: {e(', '.join(ln.get('calibration_names', [])))}; rank p = {ln['p_rank']:.2f} "
                     f"(minimum possible {ln['min_p_rank']:.2f}).</p>")
        if ln.get("null_by_source"):  # the null's spread per kind of training text, beside the suspect's T
            cells = "".join(f"<tr><td>{e(src)}</td><td>{d['n']}</td><td>{', '.join(f'{v:.3f}' for v in d['values'])}"
                            "</td></tr>" for src, d in ln["null_by_source"].items())
            parts.append(f"<details><summary>The null by training source (suspect's T = {ln['statistic']:.3f})"
                         "</summary><table><tr><th>source</th><th>models</th><th>T of each</th></tr>"
                         f"{cells}</table></details>")
        parts.append(img_tag(fingerprint_figure(ln, title=name), f"{name}: the suspect's statistic T against the "
                             "calibration models' T, and the z-score of each probe"))
        parts.append("<table><tr><th>probe</th><th>family</th><th>z</th><th>prompt</th></tr>")
        for p in ln["probes"][:6]:
            parts.append(f"<tr><td>{e(p['id'])}</td><td>{e(p['family'])}</td><td>{p['z']:.1f}</td>"
                         f"<td>{e(p['prompt'][:160])}</td></tr>")
        parts.append("</table>")
    if not parts:
        return ""
    null = next(s["lines"]["fingerprint"].get("null", "") for s in doc["suspects"].values()
                if "fingerprint" in s["lines"])
    return ("<h2>Fingerprint: does the suspect answer like our teacher?</h2>"
            f"<p class=note>Null hypothesis: {e(str(null))}</p>" + "\n".join(parts))


def _checks(doc: dict[str, Any]) -> str:
    checks = doc.get("checks")
    if not checks:
        return ""
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td class={'no' if ok else 'yes'}>{'right' if ok else 'WRONG'}"
                   "</td></tr>" for k, ok in checks.items())
    power = "".join(f"<tr><td>{html.escape(k)}</td><td class={'no' if v['detected'] else 'yes'}>"
                    f"{'found' if v['detected'] else 'missed'} (p = {v['p_value']:.2g})</td></tr>"
                    for k, v in doc.get("line_power", {}).items())
    if power:
        power = ("<p class=note>Each line on the suspects known to be distilled: a line that misses is a lack of "
                 f"power, not a wrong claim.</p><table>{power}</table>")
    return f"<h2>Ground truth (demo only)</h2><table>{rows}</table>{power}"


def _provenance(doc: dict[str, Any]) -> str:
    """The reproducibility block: what produced this page, and how to tell whether inputs changed since."""
    e = html.escape
    prov = doc.get("provenance")
    if not prov:
        return ""
    rows = [("generated (UTC)", prov.get("utc")), ("command", prov.get("command")),
            ("git commit", prov.get("git_commit") or "not a git checkout"),
            ("key", f"public fingerprint {doc.get('key_fingerprint') or '-'} (the key itself is never written)"),
            ("machine", doc.get("machine")),
            ("versions", ", ".join(f"{k} {v}" for k, v in prov.get("versions", {}).items()))]
    rows += [(f"input: {role}", f"{v['path']} -- sha256 {v['sha256'] or '(remote or missing: not hashed)'}")
             for role, v in prov.get("inputs", {}).items()]
    body = "".join(f"<tr><th scope=row>{e(k)}</th><td><code>{e(str(v))}</code></td></tr>" for k, v in rows)
    return ("<details><summary><b>Reproducibility</b>: time, command, commit, versions and input hashes"
            f"</summary><table>{body}</table></details>")


def render_html(doc: dict[str, Any]) -> str:
    """The whole report as one HTML string.

    Example:
        >>> from distillguard.report.investigation import render_html
        >>> "verdict" in render_html({"alpha": 1e-3, "logs": None, "suspects": {}, "complete": True}).lower()
        True
    """
    e = html.escape
    head = (f"<p>Key fingerprint {e(str(doc.get('key_fingerprint') or '-'))} &middot; threshold alpha = "
            f"{doc['alpha']:g} &middot; {e(str(doc.get('machine', '')))} &middot; {doc.get('seconds', '-')} s"
            f"{'' if doc.get('complete') else ' &middot; <b>INCOMPLETE</b>'}</p>")
    if doc.get("command"):
        head += f"<p class=note>command: <code>{e(doc['command'])}</code></p>"
    for note in doc.get("notes", []):
        head += f"<p class=note>{e(note)}</p>"
    limits = ("<h2>What these p-values mean</h2><p class=note>Each p-value is the probability of evidence at "
              "least this strong if the suspect were independent of our teacher (radioactivity: of our key; "
              "fingerprint: exchangeable with the independent calibration models). A small p-value says the "
              "suspect is not independent; it does not say how much data was taken or by whom beyond the "
              "account sub-keys tested. Paraphrasing the harvest, training on a small watermarked fraction, or "
              "heavy further fine-tuning weaken the radioactivity signal; a suspect much unlike the calibration "
              "models weakens the fingerprint's null.</p>")
    body = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>distillguard investigation</title>"
            f"<style>{CSS}</style></head><body><h1>distillguard investigation</h1>", head,
            "<h2>Verdict</h2>", _verdict_table(doc), _checks(doc), _logs_section(doc), _radio_section(doc),
            _fp_section(doc), limits, _provenance(doc), "</body></html>"]
    return "\n".join(b for b in body if b)


def write_report(doc: dict[str, Any] | InvestigationResult, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` atomically (temporary files renamed at the end).

    ``doc``: what :func:`~distillguard.investigation.investigate` returned, or its ``to_dict(include_private=True)``.

    A document that is not ``complete`` is refused: no partial report is ever presented as a finished one.

    Example:
        >>> import tempfile
        >>> from distillguard.report.investigation import write_report
        >>> doc = {"alpha": 1e-3, "logs": None, "suspects": {}, "complete": True}
        >>> [p.name for p in write_report(doc, tempfile.mkdtemp())]
        ['report.json', 'report.html']
    """
    if isinstance(doc, InvestigationResult):
        doc = doc.to_dict(include_private=True)  # the plots read the per-account scores
    if not doc.get("complete"):
        raise DistillguardError("the investigation did not finish; no report written")
    out = Path(out_dir)
    public = {k: v for k, v in doc.items() if not k.startswith("_")}
    js, page = out / "report.json", out / "report.html"
    text, page_text = json.dumps(public, indent=2, default=_json_default) + "\n", render_html(doc)
    # both rendered before anything is written; each file is a temporary file renamed over the old one, so a
    # failure leaves any earlier report.json / report.html byte-identical and no temporary file behind
    with atomic_path(js) as tmp_js, atomic_path(page) as tmp_html:
        tmp_js.write_text(text, encoding="utf-8")
        tmp_html.write_text(page_text, encoding="utf-8")
    return js, page


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return str(o)
