"""HTML report of scored accounts, with the plots embedded as PNG (no external files)."""

from __future__ import annotations

import html
from pathlib import Path

import matplotlib.pyplot as plt  # the plot_* helpers draw on pyplot when given no axes (notebooks)
import numpy as np
import pandas as pd

from distillguard.io import atomic_write_text
from distillguard.report.common import figure_png, subplots

__all__ = ["plot_cluster_graph", "plot_score_distribution", "plot_timelines", "write_html_report"]


def plot_score_distribution(scores: pd.DataFrame, threshold: float | None = None, ax=None):
    """Histogram of account scores, flagged vs not (``scores`` from ``AccountScorer.score_logs``).

    Example:
        >>> import pandas as pd
        >>> from distillguard.report.api_logs import plot_score_distribution
        >>> ax = plot_score_distribution(pd.DataFrame({"score": [0.1, 0.2, 0.9], "flag": [False, False, True]}))
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    bins = np.linspace(scores["score"].min(), scores["score"].max() + 1e-9, 50)
    ax.hist(scores.loc[~scores["flag"], "score"], bins=bins, alpha=0.7, label="not flagged", log=True)
    ax.hist(scores.loc[scores["flag"], "score"], bins=bins, alpha=0.7, label="flagged", color="C3", log=True)
    if threshold is not None:
        ax.axvline(threshold, color="k", ls="--", lw=1, label="threshold")
    ax.set_xlabel("account score")
    ax.set_ylabel("accounts")
    ax.legend()
    return ax


def plot_cluster_graph(scores: pd.DataFrame, max_clusters: int = 8, ax=None):
    """Star plot of the largest coordinated clusters: one hub per cluster, members coloured by flag.

    Example:
        >>> import pandas as pd
        >>> from distillguard.report.api_logs import plot_cluster_graph
        >>> df = pd.DataFrame({"account_id": list("abc"), "cluster_id": ["c0"] * 3, "cluster_size": [3] * 3,
        ...                    "flag": [True, False, True], "score": [1.0, 0.5, 0.9]})
        >>> ax = plot_cluster_graph(df)
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    multi = scores[scores["cluster_size"] > 1]
    top = (multi.groupby("cluster_id")["score"].max().sort_values(ascending=False).index[:max_clusters])
    for k, cid in enumerate(top):
        members = multi[multi["cluster_id"] == cid]
        cx, cy = 3.0 * (k % 3), -3.0 * (k // 3)
        ang = np.linspace(0, 2 * np.pi, len(members), endpoint=False)
        xs, ys = cx + np.cos(ang), cy + np.sin(ang)
        for x, y in zip(xs, ys):
            ax.plot([cx, x], [cy, y], color="0.8", lw=0.5, zorder=1)
        ax.scatter(xs, ys, s=12, c=np.where(members["flag"], "C3", "C0"), zorder=2)
        ax.text(cx, cy + 1.25, f"{cid} (n={len(members)})", ha="center", fontsize=8)
    ax.set_axis_off()
    ax.set_title("coordinated clusters (red = flagged)")
    return ax


def plot_timelines(logs: pd.DataFrame, account_ids: list[str], ax=None):
    """Cumulative requests over time for the given accounts (e.g. the top flagged ones).

    Example:
        >>> import pandas as pd
        >>> from distillguard.report.api_logs import plot_timelines
        >>> logs = pd.DataFrame({"account_id": ["a", "a"],
        ...                      "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True)})
        >>> ax = plot_timelines(logs, ["a"])
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    for aid in account_ids:
        t = np.sort(pd.to_datetime(logs.loc[logs["account_id"] == aid, "timestamp"], utc=True).to_numpy())
        ax.step(t, np.arange(1, len(t) + 1), where="post", label=str(aid), lw=1)
    ax.set_ylabel("cumulative requests")
    ax.set_yscale("log")
    if account_ids:
        ax.legend(fontsize=7, ncol=2)
    ax.figure.autofmt_xdate()
    return ax


def write_html_report(scores: pd.DataFrame, logs: pd.DataFrame, path: str | Path, *,
                      threshold: float | None = None, command: str = "", top: int = 50) -> Path:
    """Write a self-contained HTML report: score distribution, cluster graph, timelines, flagged table.

    Example:
        >>> import pandas as pd, tempfile, os
        >>> from distillguard.report.api_logs import write_html_report
        >>> s = pd.DataFrame({"account_id": ["a"], "score": [1.0], "flag": [True], "reasons": ["x"],
        ...                   "cluster_id": ["c0"], "cluster_size": [1]})
        >>> logs = pd.DataFrame({"account_id": ["a"], "timestamp": pd.to_datetime(["2025-01-01"], utc=True)})
        >>> p = write_html_report(s, logs, os.path.join(tempfile.mkdtemp(), "r.html"))
        >>> "data:image/png;base64" in p.read_text()
        True
    """
    path = Path(path)
    flagged = scores[scores["flag"]]
    imgs = []
    fig, ax = subplots(figsize=(6, 3))
    plot_score_distribution(scores, threshold, ax=ax)
    imgs.append(("Score distribution", figure_png(fig)))
    fig, ax = subplots(figsize=(6, 6))
    plot_cluster_graph(scores, ax=ax)
    imgs.append(("Coordinated clusters", figure_png(fig)))
    fig, ax = subplots(figsize=(7, 3))
    plot_timelines(logs, flagged["account_id"].head(8).tolist(), ax=ax)
    imgs.append(("Timelines of the top flagged accounts", figure_png(fig)))
    cols = [c for c in ("account_id", "score", "flag", "cluster_id", "cluster_size", "reasons") if c in scores]
    table = flagged[cols].head(top).to_html(index=False, escape=True, float_format=lambda v: f"{v:.4g}")
    body = "".join(f"<h2>{html.escape(t)}</h2><img alt='{html.escape(t)}' src='data:image/png;base64,{b}'/>"
                   for t, b in imgs)
    doc = (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>distillguard: API-log scores</title>"
           f"</head><body><h1>API-log harvesting scores</h1><p>{len(scores)} accounts, {len(flagged)} flagged"
           f"{'' if threshold is None else f' (threshold {threshold:.4g})'}.</p>"
           f"<p><code>{html.escape(command)}</code></p>{body}<h2>Flagged accounts (top {top})</h2>{table}"
           f"</body></html>")
    atomic_write_text(path, doc)  # never half a page over an earlier report
    return path
