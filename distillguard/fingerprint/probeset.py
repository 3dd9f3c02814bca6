"""The probe set file: prompts, the teacher's answers and their statistics, the references used, the null
calibration, a format version. JSON, shippable to an investigator: it holds no watermark key.

Example:
    >>> import os, tempfile
    >>> from distillguard.fingerprint.probeset import Probe, ProbeSet
    >>> ps = ProbeSet(teacher="t", references=["r"], probes=[Probe("p1", "real", "hi", ["a", "b"], ["c"])])
    >>> path = os.path.join(tempfile.mkdtemp(), "probes.json")
    >>> ProbeSet.load(ps.save(path)).probes[0].teacher_answers
    ['a', 'b']
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distillguard.errors import DistillguardError
from distillguard.io import atomic_write_text

__all__ = ["FORMAT", "VERSION", "Probe", "ProbeSet"]

FORMAT = "distillguard-fingerprint-probes"
VERSION = 1


@dataclass
class Probe:
    """One probe: a prompt, the teacher's sampled answers, the reference models' answers, selection stats."""

    id: str
    family: str
    prompt: str
    teacher_answers: list[str]
    reference_answers: list[str]
    consistency: float = 0.0  # mean pairwise similarity of the teacher's answers
    distinctiveness: float = 0.0  # consistency minus mean teacher-vs-reference similarity


@dataclass
class ProbeSet:
    """A probe set and the null calibration that goes with it.

    ``calibration[mode][model_name]`` holds per-probe scores (aligned with :attr:`probes`) of independent
    models -- the sample the null distribution of the statistic is estimated from.
    """

    teacher: str
    references: list[str]
    probes: list[Probe]
    settings: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    version: int = VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``format`` and ``version`` first)."""
        return {"format": FORMAT, "version": self.version, "teacher": self.teacher, "references": self.references,
                "settings": self.settings, "calibration": self.calibration,
                "probes": [asdict(p) for p in self.probes]}

    def save(self, path: str | os.PathLike) -> Path:
        """Write the probe set as JSON and return the path.

        The write is atomic (a temporary file in the same folder, renamed at the end): an existing file at
        ``path`` stays byte-identical if anything fails, and no partial probe file is ever left.

        Example:
            >>> import json, os, tempfile
            >>> from distillguard.fingerprint.probeset import ProbeSet
            >>> p = ProbeSet(teacher="t", references=[], probes=[]).save(os.path.join(tempfile.mkdtemp(), "p.json"))
            >>> os.listdir(p.parent), json.loads(p.read_text())["format"]
            (['p.json'], 'distillguard-fingerprint-probes')
        """
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1)
        return atomic_write_text(path, text, encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike, *, teacher: str | None = None) -> ProbeSet:
        """Read and validate a probe file; ``teacher`` (optional) must match the file's teacher.

        Example:
            >>> from distillguard.fingerprint.probeset import ProbeSet
            >>> ProbeSet.load("/nonexistent.json")
            Traceback (most recent call last):
            ...
            distillguard.errors.DistillguardError: probe file /nonexistent.json does not exist
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DistillguardError(f"probe file {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise DistillguardError(f"probe file {path}: not valid JSON") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise DistillguardError(f"probe file {path}: not a distillguard fingerprint probe set")
        if data.get("version") != VERSION:
            raise DistillguardError(
                f"probe file {path}: format version {data.get('version')!r}, this distillguard reads {VERSION}")
        if teacher is not None and data.get("teacher") != teacher:
            raise DistillguardError(
                f"probe file {path} was built for teacher {data.get('teacher')!r}, not {teacher!r}")
        try:
            probes = [Probe(**p) for p in data["probes"]]
            ps = cls(teacher=str(data["teacher"]), references=list(data["references"]), probes=probes,
                     settings=dict(data.get("settings", {})), calibration=dict(data.get("calibration", {})))
        except (KeyError, TypeError) as exc:
            raise DistillguardError(f"probe file {path}: malformed ({exc})") from None
        if not probes:
            raise DistillguardError(f"probe file {path}: no probes")
        for p in probes:
            if not p.teacher_answers or not p.reference_answers:
                raise DistillguardError(f"probe file {path}: probe {p.id} lacks teacher or reference answers")
        for mode, models in ps.calibration.items():
            for name, scores in models.items():
                if len(scores) != len(probes):
                    raise DistillguardError(
                        f"probe file {path}: calibration {mode}/{name} has {len(scores)} scores for {len(probes)} probes")
        return ps
