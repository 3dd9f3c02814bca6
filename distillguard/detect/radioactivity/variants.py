"""Several reading-mode statistics in one call, with one Bonferroni-corrected verdict (issue 30, item 4).

Reading mode has one **default** statistic, chosen up front: ``auto`` -- the rank statistic (mean rank of the
key's green entries in the suspect's averaged next-token distribution) for h = 0 keys, top-1 green coins for
h >= 1 keys. The other variants (a reference model, the teacher's vocabulary, never-trained entries last,
relative to public text's unigram frequencies, the head of the ranking) each give a valid p-value, but a user
who runs several and keeps the smallest has not tested at the level printed: with k variants the chance that
*some* variant reaches ``alpha`` under the null is up to k times larger.

:func:`reading_variants_test` runs the variants named up front on **one** reading of the suspect and reports
every variant's p-value and one corrected p-value, ``min(1, k x the smallest Holm-adjusted p)`` (Bonferroni over
the k variants run, after Holm over the keys within each variant). Each variant is tested at ``alpha / k``,
which is the same rule ("corrected p <= alpha"), so the family-wise error over keys *and* variants stays at most
``alpha`` whatever the dependence between variants. The accounts named are those a variant names at ``alpha / k``
(its overlap explanation run at that level too).

Variants are written ``default``, or terms joined by ``+``: ``rank``, ``top1``, ``reference``, ``vocabulary``,
``unigram``, ``untrained-last``, ``top=K``; several variants are separated by commas
(:func:`parse_reading_variants`). ``reference``, ``vocabulary`` and ``unigram`` need their data (a reference
model, the teacher's clean answers, public text) when the variant is turned into :class:`ReadingOptions`
(:meth:`ReadingVariant.options`).

Example:
    >>> [v.name for v in parse_reading_variants("default, unigram+untrained-last, top=64")]
    ['default', 'unigram+untrained-last', 'top=64']
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from distillguard.data import real_texts
from distillguard.detect.radioactivity.curves import CURVE_POINTS
from distillguard.detect.radioactivity.options import ReadingOptions
from distillguard.detect.radioactivity.predictions import Predictions
from distillguard.detect.radioactivity.reading import _check_reading_tokenizer, read_predictions, reading_test
from distillguard.detect.radioactivity.result import RadioactivityReport, versions
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.suspects import SuspectLike

__all__ = ["DEFAULT_VARIANT", "VARIANT_TERMS", "ReadingVariant", "ReadingVariantsReport", "parse_reading_variants",
           "reading_variants_test"]

#: the reading statistic chosen up front: ``auto`` = rank for h = 0 keys (local weights), top-1 coins otherwise
DEFAULT_VARIANT = "default"
#: the terms a variant is made of (joined by ``+``; ``default`` stands alone; ``top=K`` takes an integer K >= 1)
VARIANT_TERMS = ("default", "rank", "top1", "reference", "vocabulary", "unigram", "untrained-last", "top=K")
_SYNTAX = ("use default, or terms joined by '+' from rank, top1, reference, vocabulary, unigram, untrained-last, "
           "top=K; separate variants with ','")
_PLACEHOLDER: Any = object()  # stands for a source's data while a variant is checked before anything is loaded


@dataclass(frozen=True)
class ReadingVariant:
    """One reading-mode statistic, as written (``name``) and as parsed; turned into :class:`ReadingOptions`
    by :meth:`options` once its data (reference model, vocabulary or unigram texts) is at hand.

    Example:
        >>> v = parse_reading_variants("unigram+top=8")[0]
        >>> v.unigram, v.top, v.options(unigram_texts=["a b"]).top
        (True, 8, 8)
    """

    name: str
    statistic: str = "auto"
    reference: bool = False
    vocabulary: bool = False
    unigram: bool = False
    untrained_last: bool = False
    top: int | None = None

    def options(self, base: ReadingOptions | None = None, *, reference: SuspectLike | None = None,
                vocabulary_texts: Sequence[str] | None = None,
                unigram_texts: Sequence[str] | None = None) -> ReadingOptions:
        """The :class:`ReadingOptions` of this variant: ``base``'s reading fields (texts, alpha, batch size, ...)
        with this variant's statistic; the data of each source the variant names must be given.

        Example:
            >>> parse_reading_variants("vocabulary")[0].options()
            Traceback (most recent call last):
            ...
            distillguard.errors.DistillguardError: reading variant 'vocabulary' needs the teacher's clean answers (--reading-vocabulary FILE)
        """
        for used, data, what in ((self.reference, reference, "a reference model (--reading-reference MODEL)"),
                                 (self.vocabulary, vocabulary_texts,
                                  "the teacher's clean answers (--reading-vocabulary FILE)"),
                                 (self.unigram, unigram_texts, "public text (--reading-unigram FILE|sharegpt)")):
            if used and data is None:
                raise DistillguardError(f"reading variant {self.name!r} needs {what}")
        try:
            return ReadingOptions.build(base, statistic=self.statistic,
                                        reference=reference if self.reference else None,
                                        vocabulary_texts=vocabulary_texts if self.vocabulary else None,
                                        unigram_texts=unigram_texts if self.unigram else None,
                                        untrained_last=self.untrained_last, top=self.top)
        except DistillguardError as exc:
            raise DistillguardError(f"reading variant {self.name!r}: {exc}") from None

    def check_spec(self, spec: WatermarkSpec) -> None:
        """Raise when the key's spec rules this variant out (before any model is loaded).

        Example:
            >>> from distillguard.keys import WatermarkSpec
            >>> parse_reading_variants("untrained-last")[0].check_spec(WatermarkSpec(vocab_size=100, context_width=1))
            Traceback (most recent call last):
            ...
            distillguard.errors.DistillguardError: reading variant 'untrained-last': ranking never-trained entries last: only for the rank statistic with h = 0 keys
        """
        opts = self._placeholder_options()
        try:
            opts.check_spec(spec)
        except DistillguardError as exc:
            raise DistillguardError(f"reading variant {self.name!r}: {exc}") from None

    def _placeholder_options(self) -> ReadingOptions:
        return self.options(reference=_PLACEHOLDER, vocabulary_texts=[""], unigram_texts=[""])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description (the sources named, not their data).

        Example:
            >>> parse_reading_variants("top1")[0].to_dict()["statistic"]
            'top1'
        """
        return {"name": self.name, "statistic": self.statistic, "reference": self.reference,
                "vocabulary": self.vocabulary, "unigram": self.unigram, "untrained_last": self.untrained_last,
                "top": self.top}


def _parse_one(text: str) -> ReadingVariant:
    terms = [t.strip() for t in text.split("+")]
    name = "+".join(terms)
    if any(not t for t in terms):
        raise DistillguardError(f"reading variant {text.strip()!r}: an empty term; {_SYNTAX}")
    if len(set(terms)) != len(terms):
        raise DistillguardError(f"reading variant {name!r} names a term twice")
    if "default" in terms:
        if len(terms) > 1:
            raise DistillguardError(f"reading variant {name!r}: 'default' stands alone (it is the statistic "
                                    "chosen up front, with no option)")
        return ReadingVariant(DEFAULT_VARIANT)
    fields: dict[str, Any] = {}
    for t in terms:
        if t in ("rank", "top1"):
            if "statistic" in fields:
                raise DistillguardError(f"reading variant {name!r}: choose one of rank and top1")
            fields["statistic"] = t
        elif t in ("reference", "vocabulary", "unigram"):
            fields[t] = True
        elif t == "untrained-last":
            fields["untrained_last"] = True
        elif t.startswith("top="):
            if "top" in fields:
                raise DistillguardError(f"reading variant {name!r}: one top=K per variant")
            k = t[4:].strip()
            if not k.isdigit() or int(k) < 1:
                raise DistillguardError(f"reading variant {name!r}: top=K needs an integer K >= 1, got {k!r}")
            fields["top"] = int(k)
        else:
            raise DistillguardError(f"reading variant {name!r}: unknown term {t!r}; {_SYNTAX}")
    variant = ReadingVariant(name, **fields)
    variant._placeholder_options()  # combinations never valid (top1 with a rank option, reference with unigram)
    return variant


def parse_reading_variants(text: str) -> list[ReadingVariant]:
    """Parse ``--reading-variants``: comma-separated variants, each ``default`` or terms joined by ``+`` (see
    :data:`VARIANT_TERMS`). Unknown terms, impossible combinations and duplicates raise
    :class:`~distillguard.errors.DistillguardError` (one line) -- before anything is loaded.

    Example:
        >>> [(v.name, v.statistic, v.untrained_last) for v in parse_reading_variants("default,top1,untrained-last")]
        [('default', 'auto', False), ('top1', 'top1', False), ('untrained-last', 'auto', True)]
        >>> parse_reading_variants("default,median")
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: reading variant 'median': unknown term 'median'; use default, or terms joined by '+' from rank, top1, reference, vocabulary, unigram, untrained-last, top=K; separate variants with ','
        >>> parse_reading_variants("top1+untrained-last")
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: reading variant 'top1+untrained-last': ranking never-trained entries last: only for the rank statistic with h = 0 keys
    """
    items = [s.strip() for s in str(text).split(",")]
    if not any(items):
        raise DistillguardError(f"no reading variant given; {_SYNTAX}")
    if any(not s for s in items):
        raise DistillguardError(f"an empty reading variant in {text.strip()!r}; {_SYNTAX}")
    out = [_parse_one(s) for s in items]
    seen: dict[tuple, str] = {}
    for v in out:
        sig = (v.statistic, v.reference, v.vocabulary, v.unigram, v.untrained_last, v.top)
        if sig in seen:
            raise DistillguardError(f"reading variants {seen[sig]!r} and {v.name!r} are the same statistic: "
                                    "name each once (every variant run counts in the correction)")
        seen[sig] = v.name
    return out


@dataclass
class ReadingVariantsReport:
    """Every variant's report and the verdict corrected over them (Bonferroni, factor ``k`` = variants run).

    ``reports`` maps each variant's name to its :class:`RadioactivityReport`, run at ``alpha / k`` (Holm over the
    keys within the variant). The verdict: ``p_corrected = min(1, k x the smallest Holm-adjusted p) <= alpha``,
    i.e. some variant flags a key at ``alpha / k``.

    Example:
        >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, _holm_fill
        >>> def rep(lp):
        ...     s = KeyScore("fp", None, 100, 30, 0.25, 0.3, 3.0, 10.0 ** lp, lp)
        ...     return RadioactivityReport("reading", "s", 5e-4, _holm_fill([s], 5e-4), {}, {})
        >>> r = ReadingVariantsReport({"default": rep(-2.0), "top1": rep(-5.0)}, alpha=1e-3)
        >>> r.k, r.best_variant, round(r.log10_p_corrected, 3), r.detected
        (2, 'top1', -4.699, True)
    """

    reports: dict[str, RadioactivityReport]
    alpha: float
    variants: list[ReadingVariant] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    command: str = ""
    seconds: float = 0.0

    @property
    def k(self) -> int:
        """The number of variants run: the Bonferroni factor."""
        return len(self.reports)

    @property
    def best_variant(self) -> str:
        """The variant with the smallest Holm-adjusted p-value (the first one on ties)."""
        return min(self.reports, key=lambda n: self.reports[n].best.log10_p_holm)

    @property
    def log10_p_min(self) -> float:
        """log10 of the smallest Holm-adjusted p-value over the variants (uncorrected for the choice)."""
        return min(r.best.log10_p_holm for r in self.reports.values())

    @property
    def log10_p_corrected(self) -> float:
        """log10 of ``min(1, k x the smallest Holm-adjusted p)``, exact in the deep tail."""
        return min(0.0, math.log10(self.k) + self.log10_p_min)

    @property
    def p_corrected(self) -> float:
        """``min(1, k x the smallest Holm-adjusted p)`` (0.0 where it underflows: see :attr:`log10_p_corrected`)."""
        return min(1.0, self.k * min(r.best.p_holm for r in self.reports.values()))

    @property
    def detected(self) -> bool:
        """Whether some variant flags a key at ``alpha / k`` (the same as ``p_corrected <= alpha``)."""
        return any(r.detected for r in self.reports.values())

    def accounts(self) -> list[dict[str, Any]]:
        """Per key (account): the corrected p ``min(1, k x min over variants of its Holm p)``, the variant that gave
        it and whether it is flagged; the most significant first."""
        first = next(iter(self.reports.values()))
        rows = []
        for i, r0 in enumerate(first.results):
            per = {n: rep.results[i] for n, rep in self.reports.items()}
            best = min(per, key=lambda n: per[n].log10_p_holm)
            rows.append({"account": r0.account, "key_fingerprint": r0.key_fingerprint, "best_variant": best,
                         "log10_p_holm_min": per[best].log10_p_holm,
                         "p_corrected": min(1.0, self.k * per[best].p_holm),
                         "log10_p_corrected": min(0.0, math.log10(self.k) + per[best].log10_p_holm),
                         "detected": any(s.detected for s in per.values())})
        return sorted(rows, key=lambda row: row["log10_p_corrected"])

    @property
    def attributed(self) -> list[str]:
        """Accounts (or fingerprints) some variant names at ``alpha / k`` and does not explain by overlap, most
        significant (corrected) first."""
        named = {n for rep in self.reports.values() for n in rep.attributed}
        return [name for name in (row["account"] or row["key_fingerprint"] for row in self.accounts())
                if name in named]

    @property
    def explained(self) -> dict[str, dict[str, Any]]:
        """Flagged accounts that no variant names: each with the first variant's explanation."""
        named = set(self.attributed)
        out: dict[str, dict[str, Any]] = {}
        for variant, rep in self.reports.items():
            for name, why in rep.explained.items():
                if name not in named and name not in out:
                    out[name] = {**why, "variant": variant}
        return out

    def _correction(self) -> dict[str, Any]:
        return {"method": "bonferroni", "variants_run": self.k, "factor": self.k,
                "formula": "p_corrected = min(1, variants_run x the smallest Holm-adjusted p over the variants)",
                "best_variant": self.best_variant, "log10_p_min": self.log10_p_min,
                "p_corrected": self.p_corrected, "log10_p_corrected": self.log10_p_corrected,
                "alpha": self.alpha, "alpha_per_variant": self.alpha / self.k}

    def describe(self) -> str:
        """One verdict line.

        Example:
            >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, _holm_fill
            >>> s = KeyScore("fp", None, 100, 30, 0.25, 0.3, 3.0, 0.2, math.log10(0.2))
            >>> rep = RadioactivityReport("reading", "s", 1e-3, _holm_fill([s], 1e-3), {}, {})
            >>> ReadingVariantsReport({"default": rep}, alpha=1e-3).describe()
            "not detected (reading mode, 1 variant: default): corrected p = min(1, 1 x 0.2) = 0.2 (log10 -0.70); best variant 'default'; threshold corrected p <= 0.001"
        """
        names = ", ".join(self.reports)
        pmin = 10.0 ** self.log10_p_min
        return (f"{'RADIOACTIVE' if self.detected else 'not detected'} (reading mode, {self.k} "
                f"variant{'s' if self.k > 1 else ''}: {names}): corrected p = min(1, {self.k} x {pmin:.3g}) = "
                f"{10.0 ** self.log10_p_corrected:.3g} (log10 {self.log10_p_corrected:.2f}); best variant "
                f"{self.best_variant!r}; threshold corrected p <= {self.alpha:g}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready verdict: the corrected p it rests on, the correction, every variant's p and its report.

        ``p_value`` / ``log10_p`` are the *corrected* p (the one the verdict rests on); each variant's own p
        (raw and Holm-adjusted over keys) is under ``variants``.

        Example:
            >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, _holm_fill
            >>> s = KeyScore("fp", None, 100, 30, 0.25, 0.3, 3.0, 1e-4, -4.0)
            >>> rep = RadioactivityReport("reading", "s", 5e-4, _holm_fill([s], 5e-4), {}, {})
            >>> d = ReadingVariantsReport({"default": rep, "top1": rep}, alpha=1e-3).to_dict()
            >>> d["verdict"], d["p_value"], d["correction"]["variants_run"], [v["name"] for v in d["variants"]]
            ('detected', 0.0002, 2, ['default', 'top1'])
        """
        best = self.reports[self.best_variant]
        specs = {v.name: v for v in self.variants}
        per_variant = []
        for name, rep in self.reports.items():
            b, doc = rep.best, rep.to_dict()
            for drop in ("versions", "command", "seconds"):
                doc.pop(drop, None)
            per_variant.append({"name": name, "options": specs[name].to_dict() if name in specs else None,
                                "statistic": rep.units.get("statistic", b.statistic), "test": rep.test,
                                "p_value": b.p_value, "log10_p": b.log10_p, "p_holm": b.p_holm,
                                "log10_p_holm": b.log10_p_holm, "detected_at_alpha_per_variant": rep.detected,
                                "attributed_to": rep.attributed, "report": doc})
        return {
            "verdict": "detected" if self.detected else "not detected",
            "detected": self.detected,
            "attributed_to": self.attributed,
            "explained_by_overlap": self.explained,
            "mode": "reading",
            "test": (f"{self.k} reading variant(s) on one reading, each Holm-adjusted over keys; Bonferroni over "
                     "the variants: p_corrected = min(1, variants x the smallest Holm-adjusted p)"),
            "p_value": self.p_corrected,
            "log10_p": self.log10_p_corrected,
            "correction": self._correction(),
            "threshold": {"alpha": self.alpha, "applied_to": "Bonferroni-corrected p (over variants) of the "
                          "Holm-adjusted p-values (over keys)", "keys_tested": len(best.results),
                          "variants_run": self.k, "alpha_per_variant": self.alpha / self.k},
            "variants": per_variant,
            "accounts": self.accounts(),
            "key_fingerprint": best.best.key_fingerprint,
            "suspect": best.suspect,
            "spec": best.spec,
            "notes": self.notes,
            "versions": versions(),
            "command": self.command,
            "seconds": round(self.seconds, 3),
        }

    def html_doc(self) -> dict[str, Any]:
        """The best variant's report dict (the shape the HTML page reads: its plots and threshold, at
        ``alpha / k``), with the corrected verdict, attribution and the correction in its units and notes.

        Example:
            >>> from distillguard.detect.radioactivity import KeyScore, RadioactivityReport, _holm_fill
            >>> s = KeyScore("fp", None, 100, 30, 0.25, 0.3, 3.0, 0.2, math.log10(0.2))
            >>> rep = RadioactivityReport("reading", "s", 1e-3, _holm_fill([s], 1e-3), {}, {})
            >>> ReadingVariantsReport({"default": rep}, alpha=1e-3).html_doc()["units"]["reading_variants"]
            'default'
        """
        doc = self.reports[self.best_variant].to_dict()
        doc.update(verdict="detected" if self.detected else "not detected", detected=self.detected,
                   attributed_to=self.attributed, explained_by_overlap=self.explained, command=self.command,
                   seconds=round(self.seconds, 3))
        doc["threshold"] = {**doc["threshold"], "applied_to": f"Holm-adjusted p-value, at alpha / {self.k} "
                            f"variant(s) (Bonferroni; family alpha {self.alpha:g})"}
        doc["units"] = {**doc["units"], "reading_variants": ", ".join(self.reports),
                        "best_variant (plotted)": self.best_variant,
                        "corrected p (verdict)": f"{10.0 ** self.log10_p_corrected:.3g} "
                                                 f"(log10 {self.log10_p_corrected:.2f})"}
        doc["notes"] = [*self.notes, *[f"variant {n}: log10 p (Holm over keys) {r.best.log10_p_holm:.2f}"
                                       for n, r in self.reports.items()]]
        return doc


def _needs(options: Sequence[ReadingOptions], spec: WatermarkSpec) -> tuple[int, int]:
    """``(context_width, curve_buckets)`` of one reading that serves every variant, as each would read alone."""
    h = spec.context_width
    width = h if any(o.reads_windows for o in options) else 0
    buckets = CURVE_POINTS if h == 0 and any(o.statistic in ("auto", "rank") for o in options) else 0
    return width, buckets


def reading_variants_test(suspect: SuspectLike, keys: Sequence[WatermarkKey],
                          variants: Mapping[str, ReadingOptions] | Sequence[ReadingVariant] | str,
                          texts: Sequence[str] | None = None, *, options: ReadingOptions | None = None,
                          predictions: Predictions | None = None, **sources: Any) -> ReadingVariantsReport:
    """Run several reading-mode variants on one reading of ``suspect`` and correct for having run them.

    ``variants``: a ``{name: ReadingOptions}`` mapping, :class:`ReadingVariant` objects or a
    :func:`parse_reading_variants` string (then ``reference=``, ``vocabulary_texts=``, ``unigram_texts=`` in
    ``sources`` supply the data of the variants that name them). ``options``: the reading fields shared by every
    variant (``n_texts``, ``max_tokens``, ``alpha`` -- the family's level --, ``batch_size``,
    ``allow_keyed_text``); a variant's own values of those fields are replaced by them. The suspect reads once;
    each variant is :func:`~distillguard.detect.radioactivity.reading_test` on that reading at ``alpha / k``. With
    one variant the result is today's single run (same p-values, same verdict).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.detect.radioactivity import Predictions, ReadingOptions, reading_variants_test
        >>> rng = np.random.default_rng(0)  # a reading by a suspect that never saw the key
        >>> preds = Predictions(rng.integers(0, 500, 2000), np.repeat(np.arange(20), 100), rng.integers(0, 500, 2000))
        >>> key = WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=500, context_width=1))
        >>> r = reading_variants_test(None, [key], "default,top1", predictions=preds)
        >>> r.k, r.detected, r.p_corrected == min(1.0, 2 * min(x.best.p_holm for x in r.reports.values()))
        (2, False, True)
    """
    t0 = time.perf_counter()
    base = options if options is not None else ReadingOptions()
    if isinstance(variants, str):
        variants = parse_reading_variants(variants)
    named: list[ReadingVariant] = []
    if isinstance(variants, Mapping):
        chosen = dict(variants)
    else:
        named = list(variants)
        extra = sorted(set(sources) - {"reference", "vocabulary_texts", "unigram_texts"})
        if extra:
            raise TypeError(f"unknown reading source(s): {', '.join(extra)}")
        chosen = {v.name: v.options(**sources) for v in named}
    if not chosen:
        raise DistillguardError("no reading variant to run")
    if not keys:
        raise DistillguardError("no key to test")
    k = len(chosen)
    shared = {"n_texts": base.n_texts, "max_tokens": base.max_tokens, "alpha": base.alpha / k,
              "batch_size": base.batch_size, "allow_keyed_text": base.allow_keyed_text}
    chosen = {name: ReadingOptions.build(o, **shared) for name, o in chosen.items()}
    spec = keys[0].require_spec()
    for name, o in chosen.items():
        try:
            o.check_spec(spec)
        except DistillguardError as exc:
            raise DistillguardError(f"reading variant {name!r}: {exc}") from None
    notes: list[str] = []
    if predictions is None:
        _check_reading_tokenizer(suspect, spec)
        if texts is None:
            texts = real_texts("read", base.n_texts)
            notes.append(f"read {len(texts)} held-out ShareGPT answers (written by another model: key-independent)")
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        if not texts:
            raise DistillguardError("no text to read: the text list is empty")
        seqs = [suspect.tokenizer.encode(t, add_special_tokens=False)[: base.max_tokens] for t in texts]
        width, buckets = _needs(list(chosen.values()), spec)
        predictions = read_predictions(suspect, seqs, batch_size=base.batch_size, context_width=width,
                                       curve_buckets=buckets)
    reports = {}
    for name, o in chosen.items():
        try:
            reports[name] = reading_test(suspect, keys, options=o, predictions=predictions)
        except DistillguardError as exc:  # e.g. top=K larger than the entries ranked: say which variant
            raise DistillguardError(f"reading variant {name!r}: {exc}") from None
    for name, rep in reports.items():  # a note every variant gives once; the others with their variant's name
        for n in rep.notes:
            shared_note = all(n in r.notes for r in reports.values())
            line = n if shared_note or k == 1 else f"[{name}] {n}"
            if line not in notes:
                notes.append(line)
    notes.append(f"Bonferroni over {k} reading variant(s) ({', '.join(chosen)}): each tested at alpha / {k} = "
                 f"{base.alpha / k:g}; the verdict rests on min(1, {k} x the smallest Holm-adjusted p)")
    out = ReadingVariantsReport(reports, base.alpha, named, notes)
    out.seconds = time.perf_counter() - t0
    return out
