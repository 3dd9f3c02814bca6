"""Reports: one self-contained HTML page (plots embedded as PNG) or JSON per command, sharing one style.

* :mod:`~distillguard.report.investigation` -- the whole investigation (``distillguard investigate``/``demo``);
* :mod:`~distillguard.report.radioactivity` -- one radioactivity verdict (``distillguard detect --html``);
* :mod:`~distillguard.report.fingerprint` -- one fingerprint verdict (``distillguard fingerprint probe``);
* :mod:`~distillguard.report.api_logs` -- scored accounts (``distillguard logs score --html``, notebooks);
* :mod:`~distillguard.report.common` -- the style sheet, figures as PNG, readable p-values.

Example:
    >>> from distillguard.report import render_html
    >>> "<html" in render_html({"alpha": 1e-3, "logs": None, "suspects": {}, "complete": True})
    True
"""

from distillguard.report.investigation import render_html, write_report

__all__ = ["render_html", "write_report"]
