"""What every HTML report shares: the style sheet, figures as embedded PNG, readable p-values.

Report figures are :class:`matplotlib.figure.Figure` objects made without pyplot: no backend is chosen and no
global state is touched (a notebook keeps its inline plots), and no display is needed. They are embedded as
base64 PNG, so every report is one self-contained file.

Example:
    >>> from distillguard.report.common import fmt_p
    >>> fmt_p(4.63e-133), fmt_p(0.0123)
    ('&lt; 1e-100', '0.0123')
"""

from __future__ import annotations

import base64
import html
import io
import math
from typing import Any

from matplotlib.figure import Figure

__all__ = ["CSS", "subplots", "figure_png", "img_tag", "fmt_p"]

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:0.6em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:0.92em;
text-align:left;vertical-align:top}th{background:#f3f3f3}.yes{color:#b00;font-weight:600}.no{color:#070}
.ind{color:#8a5a00;font-weight:600}.note{color:#555;font-size:0.9em}code{background:#f6f6f6;padding:1px 3px}
img{max-width:100%}"""


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """``(figure, axes)`` like :func:`matplotlib.pyplot.subplots`, without pyplot (``figsize``, ``squeeze`` ...).

    Example:
        >>> from distillguard.report.common import subplots
        >>> fig, ax = subplots(1, 2, figsize=(4, 2))
        >>> len(ax)
        2
    """
    fig_kw = {k: kwargs.pop(k) for k in ("figsize", "dpi") if k in kwargs}
    fig = Figure(**fig_kw)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def figure_png(fig: Any, *, dpi: int = 90) -> str:
    """The figure as a base64 PNG string.

    Example:
        >>> from distillguard.report.common import figure_png, subplots
        >>> figure_png(subplots()[0])[:4]
        'iVBO'
    """
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    if type(fig) is not Figure:  # a pyplot figure: release it
        import matplotlib.pyplot as plt

        plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def img_tag(fig: Any, alt: str) -> str:
    """An ``<img>`` element embedding the figure, with a description for screen readers and print.

    Example:
        >>> from distillguard.report.common import img_tag, subplots
        >>> img_tag(subplots()[0], "an empty plot")[:28]
        '<img alt="an empty plot" src'
    """
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{figure_png(fig)}">'


def fmt_p(p: float | None) -> str:
    """A p-value for HTML: three significant digits, ``< 1e-100`` below that, ``-`` when missing.

    Example:
        >>> from distillguard.report.common import fmt_p
        >>> fmt_p(None), fmt_p(float("nan")), fmt_p(1.0)
        ('-', '-', '1')
    """
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "-"
    if p < 1e-100:
        return "&lt; 1e-100"
    return f"{p:.3g}"
