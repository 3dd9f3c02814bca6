"""The verdict of a fingerprint test of one suspect: :class:`FingerprintResult`, what
:func:`~distillguard.fingerprint.api.probe_suspect` returns.

Example:
    >>> from distillguard.fingerprint.api import probe_suspect
    >>> from distillguard.fingerprint.probeset import Probe, ProbeSet
    >>> ps = ProbeSet("teacher", ["ref"], [Probe("a", "real", "who are you?", ["I am T."], ["I am R."]),
    ...                                    Probe("b", "real", "hi", ["Hello from T!"], ["Hey."])],
    ...               calibration={"text": {"m1": [0.0, 0.1], "m2": [0.1, 0.0], "m3": [0.05, -0.05]}})
    >>> class Parrot:  # a text-only suspect that answers like the teacher
    ...     identity, can_score, queries = "parrot", False, 0
    ...     def generate(self, prompts, **kw):
    ...         return [{"who are you?": "I am T.", "hi": "Hello from T!"}[p] for p in prompts]
    >>> res = probe_suspect(ps, Parrot(), alpha=0.3)
    >>> res.detected, res.p_rank, res.mode, res.n_probes
    (True, 0.25, 'text', 2)
    >>> res.to_dict()["p_rank"] == res.p_rank and FingerprintResult.from_dict(res.to_dict()) == res
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["FingerprintResult"]


@dataclass(frozen=True)
class FingerprintResult:
    """The fingerprint test of one suspect: the calibrated test, what was queried, each probe's match.

    The fields are the keys of :meth:`to_dict`, in its order (the JSON report of ``distillguard fingerprint
    probe``). The verdict: ``detected`` when the exact rank p ``p_rank`` (never below ``min_p_rank`` =
    1/(R+1) with R ``calibration_models``) is <= ``alpha``; ``indicative`` when only the Student-t ``p_value``
    is (it rests on ``assumption``). See :mod:`distillguard.fingerprint.stats`.

    ``probes`` stays a list of dicts, one per probe queried, best first (``id``, ``family``, ``prompt``,
    ``score``, ``z``, ``matched``, ``teacher_answer``, ``reference_answer``, ``suspect_answer``); so do the
    other nested values, as they appear in the JSON report.
    """

    test: str
    null: str
    statistic: float
    t: float
    null_mean: float
    null_sd: float
    null_statistics: list[float]
    p_value: float
    log10_p: float
    p_rank: float
    min_p_rank: float
    p_exact: float
    p_floor: float
    assumption: str
    calibration_models: int
    n_probes: int
    alpha: float
    detected: bool
    indicative: bool
    #: the null's spread per kind of training text (n, mean, values); None (and no key in :meth:`to_dict`) when
    #: the probe file does not record its calibration models' sources
    null_by_source: dict[str, dict[str, Any]] | None
    mode: str
    suspect: str
    teacher: str
    references: list[str]
    calibration_names: list[str]
    queries_used: int
    budget: int | None
    partial: bool
    probes_total: int
    key_fingerprint: str | None
    command: str
    probe_file_version: int
    reference_contrast: str
    probes: list[dict[str, Any]]
    versions: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the fields in order (``null_by_source`` only when it is set), nested values copied."""
        d = asdict(self)
        if d["null_by_source"] is None:
            del d["null_by_source"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FingerprintResult:
        """The result a :meth:`to_dict` dict (or a JSON report of ``fingerprint probe``) holds.

        Example:
            >>> from distillguard.fingerprint.result import FingerprintResult
            >>> FingerprintResult.from_dict({"p_rank": 0.2})
            Traceback (most recent call last):
            ...
            TypeError: not a fingerprint result: missing test, null, statistic, t, null_mean ...
        """
        names = [f.name for f in fields(cls)]
        missing = [k for k in names if k not in d and k != "null_by_source"]
        unknown = [k for k in d if k not in names]
        if missing or unknown:
            raise TypeError("not a fingerprint result: "
                            + (f"missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
                               if missing else f"unknown key(s) {', '.join(unknown)}"))
        return cls(**{"null_by_source": None, **d})
