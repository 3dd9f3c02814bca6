"""Reading an investigation: the ground-truth checks of the demo, the power of each line, the printed table.

:func:`check_expected` compares the verdicts with a known ground truth (claims), :func:`line_power` says which
lines reached alpha on the suspects known to be distilled (power, not a claim), and :func:`summary_table` is
the plain-text table the CLI prints (p-values to two significant digits).

Example:
    >>> from distillguard.investigation import line_power
    >>> line_power({"suspects": {}}, {"distilled": ["s"]})
    {}
"""

from __future__ import annotations

from typing import Any

from distillguard.investigation.result import InvestigationResult

__all__ = ["check_expected", "line_power", "summary_table"]


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


def summary_table(doc: dict[str, Any] | InvestigationResult) -> str:
    """A short plain-text table of the verdicts (printed by the CLI); ``doc`` is what
    :func:`~distillguard.investigation.investigate` returned, or its ``to_dict()``.

    Example:
        >>> from distillguard.investigation import summary_table
        >>> print(summary_table({"alpha": 1e-3, "logs": None, "suspects": {}}))
        no suspect tested
    """
    if isinstance(doc, InvestigationResult):
        doc = doc.to_dict()
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
