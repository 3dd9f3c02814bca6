"""The document of one investigation: :class:`InvestigationResult`, what
:func:`~distillguard.investigation.investigate` returns; its :meth:`~InvestigationResult.to_dict` is report.json.

Example:
    >>> from distillguard.detect.api_logs import simulate_logs, validate_logs
    >>> from distillguard.investigation import InvestigationResult, investigate
    >>> logs, _ = simulate_logs(60, 1, hydra_size=4, days=3, seed=1, prompts=[f"q {i}" for i in range(99)])
    >>> res = investigate(logs=validate_logs(logs.drop(columns=["label", "family"])), target_fpr=0.05,
    ...                   progress=False)
    >>> res.complete, res.logs["line"], res.suspects, len(res.scores) == res.logs["accounts"]
    (True, 'api_logs', {}, True)
    >>> InvestigationResult.from_dict(res.to_dict(include_private=True)) == res
    True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["InvestigationResult"]

# the fields that are keys of to_dict() only when they are set (investigate() adds them only with ``expected``)
_OPTIONAL = ("expected", "checks", "line_power")


@dataclass(frozen=True)
class InvestigationResult:
    """Every line of evidence on every suspect, and the verdicts: the investigation document.

    The fields are the top-level keys of :meth:`to_dict` (report.json), in its order. The nested entries stay
    the dicts report.json holds, to keep one shape for the API and the file: ``logs`` (the API-log line,
    None without logs), ``suspects`` (display name -> ``{"identity", "lines": {line name -> evidence},
    "verdict"}``; the verdict is :func:`~distillguard.investigation.combine_lines`'s), ``provenance``
    (:func:`distillguard.provenance.run_record`), and, with a ground truth, ``expected``, ``checks`` and
    ``line_power`` (None, and no key in :meth:`to_dict`, without one). ``scores`` holds the per-account
    scores behind the logs line (a DataFrame, for the plots of report.html; never in report.json; left out of
    ``==``).
    ``extra``: further top-level keys, in order after the others, that a caller added to the document (the
    demo's ``demo`` and ``notes``) when it was read back with :meth:`from_dict`.
    """

    format: str
    version: int
    alpha: float
    key_fingerprint: str | None
    provenance: dict[str, Any]
    logs: dict[str, Any] | None
    suspects: dict[str, dict[str, Any]]
    complete: bool
    command: str
    versions: dict[str, Any]
    machine: str
    scores: pd.DataFrame | None = field(default=None, repr=False, compare=False)
    expected: dict[str, Any] | None = None
    checks: dict[str, bool] | None = None
    line_power: dict[str, dict[str, Any]] | None = None
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def distilled(self) -> list[str]:
        """The suspects called DISTILLED (an exact p-value reached alpha), in order.

        Example:
            >>> from distillguard.investigation import InvestigationResult
            >>> doc = {"format": "distillguard-investigation", "version": 1, "alpha": 1e-3, "key_fingerprint": None,
            ...        "provenance": {}, "logs": None, "complete": True, "command": "", "versions": {}, "machine": "",
            ...        "suspects": {"a": {"verdict": {"distilled": True}}, "b": {"verdict": {"distilled": False}}}}
            >>> InvestigationResult.from_dict(doc).distilled
            ['a']
        """
        return [name for name, s in self.suspects.items() if s["verdict"]["distilled"]]

    def to_dict(self, *, include_private: bool = False) -> dict[str, Any]:
        """The investigation document, JSON-ready: exactly report.json's keys and values, in its order.

        ``include_private=True`` adds ``_scores`` (the :attr:`scores` DataFrame, for :mod:`distillguard.report`'s
        plots; the JSON writer drops keys that start with ``_``). Nested values are copied (the DataFrame is not).
        """
        d: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "scores":
                if include_private and v is not None:
                    d["_scores"] = v
            elif f.name == "extra":
                d.update(copy.deepcopy(v))
            elif not (f.name in _OPTIONAL and v is None):
                d[f.name] = copy.deepcopy(v)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InvestigationResult:
        """The result a document holds (what :meth:`to_dict` gives, or a report.json read back).

        Example:
            >>> from distillguard.investigation import InvestigationResult
            >>> InvestigationResult.from_dict({"format": "distillguard-fingerprint-probes"})
            Traceback (most recent call last):
            ...
            TypeError: not an investigation document (format 'distillguard-fingerprint-probes')
        """
        if d.get("format") != "distillguard-investigation":
            raise TypeError(f"not an investigation document (format {d.get('format')!r})")
        names = {f.name for f in fields(cls)} - {"scores", "extra"}
        kw = {k: v for k, v in d.items() if k in names}
        return cls(**kw, scores=d.get("_scores"),
                   extra={k: v for k, v in d.items() if k not in names and k != "_scores"})
