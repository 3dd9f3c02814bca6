"""The options of a reading-mode test (:class:`ReadingOptions`), validated once when built.

Example:
    >>> ReadingOptions(statistic="top1", untrained_last=True)
    Traceback (most recent call last):
    ...
    distillguard.errors.DistillguardError: ranking never-trained entries last: only for the rank statistic with h = 0 keys
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from distillguard.detect.radioactivity.result import DEFAULT_MODEL_ALPHA
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkSpec
from distillguard.suspects import SuspectLike

__all__ = ["ReadingOptions", "STATISTICS"]

#: the reading statistics: ``auto`` = ``rank`` for h = 0 keys (with local weights), else ``top1``
STATISTICS = ("auto", "rank", "top1", "mass")


@dataclass(frozen=True)
class ReadingOptions:
    """How :func:`~distillguard.detect.radioactivity.reading_test` reads and scores (see its docstring for each).

    Combinations that can never be valid raise :class:`~distillguard.errors.DistillguardError` here, once;
    those that depend on the key (:meth:`check_spec`) or on what was read (:meth:`resolve`) when known.

    Attributes:
        n_texts: held-out texts read when none are given. max_tokens: tokens read per text.
        alpha: detection threshold on Holm-adjusted p-values. batch_size: texts per forward pass.
        allow_keyed_text: read text that itself carries a tested key's watermark (a warning, not an error).
        statistic: ``auto``, ``rank``, ``top1`` or ``mass`` (h >= 1 keys).
        reference: a local model independent of the key, read as well (rank statistic; with ``auto`` it selects
            the rank statistic for h >= 1 keys too).
        vocabulary_texts: unwatermarked teacher answers; only their vocabulary is ranked (rank, h = 0).
        untrained_last: a large tied block of entries ranks last (rank, h = 0).
        unigram_texts: public text whose unigram log-frequency is the reference (rank, h = 0; not with
            ``reference``). top: count green entries among the ``top`` ranked highest (rank, h = 0).

    Example:
        >>> from distillguard.detect.radioactivity import ReadingOptions
        >>> ReadingOptions(statistic="rank", top=500).h0_rank_options
        ['the head of the ranking (top)']
        >>> ReadingOptions(statistic="median")
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: unknown reading statistic 'median': use auto, rank, top1 or mass
    """

    n_texts: int = 200
    max_tokens: int = 256
    alpha: float = DEFAULT_MODEL_ALPHA
    batch_size: int = 8
    allow_keyed_text: bool = False
    statistic: str = "auto"
    reference: SuspectLike | None = None
    vocabulary_texts: Sequence[str] | None = None
    untrained_last: bool = False
    unigram_texts: Sequence[str] | None = None
    top: int | None = None

    def __post_init__(self) -> None:
        if self.statistic not in STATISTICS:
            raise DistillguardError(f"unknown reading statistic {self.statistic!r}: use auto, rank, top1 or mass")
        if self.reference is not None and self.unigram_texts is not None:
            raise DistillguardError("choose one reading reference: a reference model or unigram texts, not both")
        self._require_rank(self.statistic, 0)

    @classmethod
    def build(cls, options: ReadingOptions | None = None, **kwargs: Any) -> ReadingOptions:
        """``options`` (default: all defaults) with the fields named in ``kwargs`` replaced, validated again.

        Example:
            >>> from distillguard.detect.radioactivity import ReadingOptions
            >>> ReadingOptions.build(ReadingOptions(n_texts=50), alpha=1e-4)
            ReadingOptions(n_texts=50, max_tokens=256, alpha=0.0001, batch_size=8, allow_keyed_text=False, statistic='auto', reference=None, vocabulary_texts=None, untrained_last=False, unigram_texts=None, top=None)
        """
        unknown = sorted(set(kwargs) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown reading option(s): {', '.join(unknown)}")
        base = options if options is not None else cls()
        return dataclasses.replace(base, **kwargs) if kwargs else base

    @property
    def h0_rank_options(self) -> list[str]:
        """The options set that only the rank statistic of h = 0 keys uses, in words."""
        return [name for name, on in (("vocabulary texts", self.vocabulary_texts is not None),
                                      ("unigram texts", self.unigram_texts is not None),
                                      ("ranking never-trained entries last", self.untrained_last),
                                      ("the head of the ranking (top)", self.top is not None)) if on]

    @property
    def reads_windows(self) -> bool:
        """Whether an h >= 1 key's reading must keep the per-window distributions: the rank statistic asked for,
        or ``auto`` with a reference model (which selects it).

        Example:
            >>> ReadingOptions().reads_windows, ReadingOptions(reference=object()).reads_windows
            (False, True)
        """
        return self.statistic in ("rank", "mass") or (self.statistic == "auto" and self.reference is not None)

    def _require_rank(self, statistic: str, h: int) -> None:
        """Raise when a rank-only option is set but ``statistic`` is not the rank statistic of h = 0 keys."""
        if self.reference is not None and statistic == "top1":
            raise DistillguardError("a reading reference model is used only by the rank and mass statistics")
        if self.h0_rank_options and (statistic in ("top1", "mass") or h > 0):
            raise DistillguardError(f"{' and '.join(self.h0_rank_options)}: only for the rank statistic with h = 0 keys")

    def check_spec(self, spec: WatermarkSpec) -> None:
        """Raise for options the key's spec rules out (checked before anything is read).

        Example:
            >>> from distillguard.keys import WatermarkSpec
            >>> ReadingOptions(reference=object()).check_spec(WatermarkSpec(vocab_size=100, context_width=1))
            >>> ReadingOptions(reference=object()).check_spec(WatermarkSpec(vocab_size=100, context_width=1,
            ...                                                             seeding="min"))
            Traceback (most recent call last):
            ...
            distillguard.errors.DistillguardError: a reading reference model needs the rank statistic, which supports h = 0 keys and h >= 1 keys with left seeding
        """
        h = spec.context_width
        if self.statistic == "mass" and (h == 0 or spec.seeding != "left"):
            raise DistillguardError("the mass statistic needs an h >= 1 key with left seeding: use rank or top1")
        if self.statistic == "rank" and h > 0 and spec.seeding != "left":
            raise DistillguardError("the rank statistic supports h = 0 keys and h >= 1 keys with left seeding: "
                                    "use --reading-statistic top1")
        if self.reference is not None and h > 0 and spec.seeding != "left":
            raise DistillguardError("a reading reference model needs the rank statistic, which supports h = 0 keys "
                                    "and h >= 1 keys with left seeding")
        self._require_rank(self.statistic, h)

    def resolve(self, spec: WatermarkSpec, has_distribution: bool) -> str:
        """The statistic to run (``auto`` resolved) once it is known whether the suspect gave its distribution.

        Example:
            >>> from distillguard.keys import WatermarkSpec
            >>> ReadingOptions().resolve(WatermarkSpec(vocab_size=100, context_width=0), has_distribution=False)
            'top1'
        """
        statistic = self.statistic
        if statistic == "auto":  # h >= 1 keys keep top-1 coins unless asked (or given a reference): see the package docstring
            statistic = "rank" if (spec.context_width == 0 or self.reference is not None) and has_distribution else "top1"
        if statistic in ("rank", "mass") and not has_distribution:
            raise DistillguardError(f"the {statistic} statistic needs the suspect's next-token distribution "
                                    "(local weights)")
        self._require_rank(statistic, spec.context_width)
        return statistic
