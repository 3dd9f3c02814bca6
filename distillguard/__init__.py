"""distillguard: prove that a model was distilled from yours, and find the accounts that harvested it.

The names a user needs, importable from the package itself:

* keys and the watermark -- :class:`WatermarkKey`, :class:`WatermarkSpec` (:func:`tokenizer_id`),
  :class:`WatermarkLogitsProcessor` (one more ``logits_processor`` for ``model.generate``;
  :func:`encode_prompts` applies the chat template to a batch);
* is this *text* marked -- :func:`score_text`, :func:`score_batch` (:class:`TextScore`);
* was this *model* trained on marked output -- :func:`reading_test`, :func:`generation_test`,
  :class:`ReadingOptions` (:class:`RadioactivityReport`);
* does it answer like our teacher -- :class:`ProbeSet`, :func:`build_probes`, :func:`probe_suspect`
  (:class:`FingerprintResult`);
* which *accounts* harvest -- :func:`load_logs`, :class:`AccountScorer`;
* everything at once -- :func:`investigate` (:class:`InvestigationResult`); models to test --
  :func:`open_suspect` (:class:`Suspect`), :func:`load_model`; bad input -- :class:`DistillguardError`.

Names load on first use (PEP 562): ``import distillguard`` stays fast, and torch is imported only by what
needs it.

Example:
    >>> import distillguard
    >>> key = distillguard.WatermarkKey.generate(distillguard.WatermarkSpec(vocab_size=1000))
    >>> len(key.fingerprint) > 8
    True
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "WatermarkKey": "distillguard.keys",
    "WatermarkSpec": "distillguard.keys",
    "tokenizer_id": "distillguard.keys",
    "WatermarkLogitsProcessor": "distillguard.watermark.processor",
    "encode_prompts": "distillguard.watermark.generate",
    "TextScore": "distillguard.detect.text",
    "score_text": "distillguard.detect.text",
    "score_batch": "distillguard.detect.text",
    "reading_test": "distillguard.detect.radioactivity",
    "generation_test": "distillguard.detect.radioactivity",
    "ReadingOptions": "distillguard.detect.radioactivity",
    "RadioactivityReport": "distillguard.detect.radioactivity",
    "ProbeSet": "distillguard.fingerprint.probeset",
    "build_probes": "distillguard.fingerprint.api",
    "probe_suspect": "distillguard.fingerprint.api",
    "FingerprintResult": "distillguard.fingerprint.result",
    "load_logs": "distillguard.detect.api_logs",
    "AccountScorer": "distillguard.detect.api_logs",
    "investigate": "distillguard.investigation",
    "InvestigationResult": "distillguard.investigation.result",
    "open_suspect": "distillguard.suspects",
    "Suspect": "distillguard.suspects",
    "SuspectLike": "distillguard.suspects",
    "load_model": "distillguard.models",
    "DistillguardError": "distillguard.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'distillguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
