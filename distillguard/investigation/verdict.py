"""The verdict: one suspect's lines of evidence combined into DISTILLED / INDICATIVE / not distilled.

Bonferroni over the ``m`` lines that ran, ``min(1, m * min_i p_i)``, valid whatever the dependence between
lines; only the lines' *exact* p-values can make a suspect DISTILLED (:func:`combine_lines`), and the
evidence is put in words from that exact combined p-value (:func:`evidence_strength`).

Example:
    >>> from distillguard.investigation import DEFAULT_ALPHA, combine_lines
    >>> combine_lines({"radioactivity": 1e-9}, alpha=DEFAULT_ALPHA)["strength"]
    'very strong: exact p = 1e-09, far below alpha 0.001'
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["DEFAULT_ALPHA", "evidence_strength", "combine_lines"]

DEFAULT_ALPHA = 1e-3


def _line_evidence(value: float | dict[str, Any]) -> dict[str, Any]:
    """One line's p-values: a bare float is an exact p-value; a dict may add ``p_exact`` and ``assumption``."""
    if isinstance(value, dict):
        p = value.get("p_value")
        exact = value.get("p_exact", p)
        return {"p_value": p, "p_exact": exact, "assumption": value.get("assumption"),
                "p_floor": value.get("p_floor")}
    return {"p_value": value, "p_exact": value, "assumption": None, "p_floor": None}


def _ran(p: Any) -> bool:
    return p is not None and not math.isnan(float(p))


def evidence_strength(p_exact: float, alpha: float, status: str) -> str:
    """The evidence in words, from the exact combined p-value (what a reader acts on).

    Example:
        >>> from distillguard.investigation import evidence_strength
        >>> evidence_strength(1e-40, 1e-3, "DISTILLED")
        'overwhelming: exact p = 1e-40, far below alpha 0.001'
        >>> evidence_strength(0.2, 1e-3, "INDICATIVE")
        'indicative only: the exact p-value (0.2) does not reach alpha 0.001'
    """
    if status == "INDICATIVE":
        return f"indicative only: the exact p-value ({p_exact:.2g}) does not reach alpha {alpha:g}"
    if status != "DISTILLED":
        return f"not enough: exact p = {p_exact:.2g} > alpha {alpha:g}"
    word = ("overwhelming" if p_exact <= 1e-20 else "very strong" if p_exact <= alpha * 1e-3 else "strong")
    where = "far below" if p_exact <= alpha * 1e-3 else "below"
    return f"{word}: exact p = {p_exact:.2g}, {where} alpha {alpha:g}"


def combine_lines(lines: dict[str, float | dict[str, Any]], *, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Combine one suspect's lines of evidence into a verdict that never rests on an untested tail.

    Each line gives its headline ``p_value`` and, where that p-value rests on a distributional assumption
    (the fingerprint's Student-t tail over a few calibration models), an exact ``p_exact`` (its rank p-value)
    and the ``assumption`` in words; a bare float is an exact p-value (radioactivity's binomial tails).
    Both are combined over the ``m`` lines that ran with Bonferroni, ``min(1, m * min_i p_i)``, valid whatever
    the dependence between lines. Status:

    * ``DISTILLED`` -- the combination of the *exact* p-values is <= ``alpha``;
    * ``INDICATIVE`` -- only the combination of the headline p-values is: the evidence rests on an
      assumption that was not tested on this kind of suspect, so it is reported, not acted on;
    * ``not distilled`` -- neither.

    ``distilled`` is true only for ``DISTILLED``; ``caveats`` lists, in words, what the verdict rests on and
    what limits it (a parametric tail, a line whose exact p-value cannot reach ``alpha``, a single line).

    Example:
        >>> from distillguard.investigation import combine_lines
        >>> v = combine_lines({"radioactivity": 0.01, "fingerprint": 0.3}, alpha=1e-3)
        >>> v["overall_p"], v["status"], v["distilled"]
        (0.02, 'not distilled', False)
        >>> fp = {"p_value": 1e-5, "p_exact": 1 / 9, "p_floor": 1 / 9, "assumption": "Student-t tail"}
        >>> v = combine_lines({"radioactivity": 0.2, "fingerprint": fp}, alpha=1e-3)
        >>> v["status"], v["distilled"], round(v["overall_p_exact"], 3)
        ('INDICATIVE', False, 0.222)
    """
    ran = {k: ev for k, v in lines.items() if _ran((ev := _line_evidence(v))["p_value"])}
    if not ran:
        return {"lines": 0, "overall_p": None, "overall_p_exact": None, "distilled": False,
                "status": "not distilled", "alpha": alpha, "caveats": ["no line of evidence ran"],
                "rule": "no line of evidence ran"}
    m = len(ran)
    p = {k: float(ev["p_value"]) for k, ev in ran.items()}
    exact = {k: float(ev["p_exact"]) if _ran(ev["p_exact"]) else 1.0 for k, ev in ran.items()}
    overall, overall_exact = min(1.0, m * min(p.values())), min(1.0, m * min(exact.values()))
    status = "DISTILLED" if overall_exact <= alpha else "INDICATIVE" if overall <= alpha else "not distilled"
    caveats = []
    for k, ev in ran.items():
        if ev["assumption"] and p[k] < min(exact[k], 0.05):  # only where a reader could take the tail as evidence
            caveats.append(f"{k}: p = {p[k]:.2g} rests on an assumption ({ev['assumption']}); its exact p-value "
                           f"is {exact[k]:.2g}")
        if ev["p_floor"] is not None and m * float(ev["p_floor"]) > alpha:
            caveats.append(f"{k}: its exact p-value cannot go below {float(ev['p_floor']):.2g}, so this line alone "
                           f"can never reach alpha = {alpha:g} (more calibration models are needed)")
    if status == "DISTILLED" and sum(m * x <= alpha for x in exact.values()) == 1:
        caveats.append(f"rests on one line of evidence ({min(exact, key=exact.get)}); the other line(s) did not "
                       "reach alpha on their own")
    return {"lines": m, "overall_p": overall, "overall_p_exact": overall_exact, "status": status,
            "strength": evidence_strength(overall_exact, alpha, status),
            "distilled": status == "DISTILLED", "alpha": alpha, "strongest_line": min(exact, key=exact.get),
            "caveats": caveats,
            "rule": (f"DISTILLED iff min(1, {m} x min exact line p) <= {alpha:g} (Bonferroni over lines); "
                     "INDICATIVE when only a p-value resting on an assumption reaches it")}
