"""The verdict of a radioactivity test: one :class:`KeyScore` per key, Holm-adjusted, in a :class:`RadioactivityReport`.

Example:
    >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport
    >>> s = KeyScore("fp", None, 63, 35, 0.25, 35 / 63, 6.0, 1e-9, -9.0)
    >>> RadioactivityReport("reading", "s", 1e-3, _holm_fill([s], 1e-3), {}, {}).detected
    True
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from distillguard.detect.stats import holm, holm_log10
from distillguard.provenance import versions

__all__ = ["DEFAULT_MODEL_ALPHA", "DEFAULT_ALPHA", "KeyScore", "RadioactivityReport", "versions"]

#: Threshold of a model-level verdict ("this suspect learned from our key"), applied to Holm-adjusted p-values.
#: (A single text is judged at distillguard.detect.text's much stricter per-text level.)
DEFAULT_MODEL_ALPHA = 1e-3
#: The former name of :data:`DEFAULT_MODEL_ALPHA`, kept for existing callers.
DEFAULT_ALPHA = DEFAULT_MODEL_ALPHA


@dataclass
class KeyScore:
    """The test of one key (or account sub-key) against one suspect.

    ``statistic`` is ``"coins"`` (exact binomial test: ``green`` of ``scored`` distinct coins, rate
    ``green_fraction`` vs ``gamma``) or ``"rank"`` (rank test: ``green`` of ``scored`` vocabulary entries are
    green, ``green_fraction`` is their mean normalised rank and ``gamma`` its null mean, 0.5) or ``"mass"``
    (green-mass test: ``scored`` (window, token) entries, ``green`` of them green, ``green_fraction`` the green
    share of the windows' absolute probability (change), ``gamma`` its null mean).
    """

    key_fingerprint: str
    account: str | None
    scored: int
    green: int
    gamma: float
    green_fraction: float
    z: float
    p_value: float
    log10_p: float
    p_holm: float = math.nan
    log10_p_holm: float = math.nan
    detected: bool = False
    statistic: str = "coins"

    def describe(self) -> str:
        """One phrase for verdict lines, e.g. ``green 35/63 = 0.556 vs gamma 0.250``."""
        if self.statistic == "rank":
            return (f"green tokens' mean rank {self.green_fraction:.4f} vs {self.gamma:.1f} "
                    f"({self.green} green of {self.scored} ranked)")
        return f"green {self.green}/{self.scored} = {self.green_fraction:.3f} vs gamma {self.gamma:.3f}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass
class RadioactivityReport:
    """Verdict of a radioactivity test: every figure DESIGN.md contract 7 asks for.

    ``detected`` is true when at least one key's Holm-adjusted p-value is at most ``alpha``;
    ``attributed`` lists the accounts (or key fingerprints) flagged, most significant first.
    """

    mode: str
    suspect: str
    alpha: float
    results: list[KeyScore]
    units: dict[str, Any]
    spec: dict[str, Any]
    test: str = "one-sided exact binomial test of green coins vs gamma, Holm-adjusted over keys"
    notes: list[str] = field(default_factory=list)
    command: str = ""
    seconds: float = 0.0
    #: flagged keys whose evidence is explained by another flagged key's green lists (see ``attribute``)
    explained: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the best key's evidence as it grows: ``{"texts", "tokens", "scored", "log10_p"}`` on growing prefixes of
    #: the texts read (reading) or answers (generation); empty where it is not computed (h >= 1 rank statistic)
    curve: list[dict[str, float]] = field(default_factory=list)

    @property
    def detected(self) -> bool:
        """Whether any key is flagged at ``alpha`` after Holm's correction."""
        return any(r.detected for r in self.results)

    @property
    def attributed(self) -> list[str]:
        """Flagged accounts (or fingerprints for keys without account), most significant first."""
        flagged = sorted((r for r in self.results if r.detected), key=lambda r: r.log10_p)
        names = [r.account or r.key_fingerprint for r in flagged]
        return [n for n in names if n not in self.explained]

    @property
    def best(self) -> KeyScore:
        """The key with the smallest p-value."""
        return min(self.results, key=lambda r: r.log10_p)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (no secret: keys appear only by public fingerprint)."""
        b = self.best
        return {
            "verdict": "detected" if self.detected else "not detected",
            "detected": self.detected,
            "attributed_to": self.attributed,
            "explained_by_overlap": self.explained,
            "mode": self.mode,
            "test": self.test,
            "statistic": {"kind": b.statistic, "green": b.green, "scored": b.scored,
                          "green_fraction": b.green_fraction, "z": b.z},
            "p_value": b.p_value,
            "log10_p": b.log10_p,
            "p_holm": b.p_holm,
            "log10_p_holm": b.log10_p_holm,
            "threshold": {"alpha": self.alpha, "applied_to": "Holm-adjusted p-value", "keys_tested": len(self.results)},
            "key_fingerprint": b.key_fingerprint,
            "suspect": self.suspect,
            "units": self.units,
            "spec": self.spec,
            "results": [r.to_dict() for r in self.results],
            "notes": self.notes,
            "curve": self.curve,
            "versions": versions(),
            "command": self.command,
            "seconds": round(self.seconds, 3),
        }


def _holm_fill(out: list[KeyScore], alpha: float) -> list[KeyScore]:
    """Holm-adjust the keys' p-values in place and flag those at most ``alpha``."""
    adj = holm([r.p_value for r in out])
    adj_log10 = holm_log10([r.log10_p for r in out])  # exact in the deep tail, where adj underflows
    for i in range(len(out)):
        out[i].log10_p_holm = float(adj_log10[i])
        out[i].p_holm = float(adj[i])
        out[i].detected = bool(out[i].scored > 0 and out[i].log10_p_holm <= math.log10(alpha))
    return out
