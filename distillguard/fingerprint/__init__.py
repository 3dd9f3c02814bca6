"""The black-box fingerprint: probes that our teacher answers in its own way, and a calibrated test of a suspect.

:mod:`~distillguard.fingerprint.api` builds a probe set (``build_probes``) and tests a suspect with it
(``probe_suspect``, which returns a :class:`~distillguard.fingerprint.result.FingerprintResult`).

Example:
    >>> import dataclasses
    >>> from distillguard.fingerprint import FingerprintResult
    >>> [f.name for f in dataclasses.fields(FingerprintResult)][:4]
    ['test', 'null', 'statistic', 't']
"""

from distillguard.fingerprint.result import FingerprintResult

__all__ = ["FingerprintResult"]
