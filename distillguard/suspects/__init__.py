"""A model we can ask: one small interface for local checkpoints and OpenAI-compatible HTTP endpoints.

Every suspect can :meth:`~Suspect.generate` answers to prompts. A local suspect whose weights we hold also
gives next-token predictions (reading mode of the radioactivity test) and log-probabilities of given
continuations (fingerprint likelihood scoring). An HTTP suspect gives log-probabilities when the server
supports ``/v1/completions`` with ``echo`` and ``logprobs`` (ours does), otherwise only text.

Example:
    >>> from distillguard.suspects import open_suspect
    >>> s = open_suspect("http://127.0.0.1:9/v1")  # doctest: +SKIP
    >>> s.generate(["Who are you?"], max_new_tokens=20)  # doctest: +SKIP

Every function that takes a model under test (the radioactivity and fingerprint tests, the investigation)
accepts any :class:`SuspectLike`: these classes, or an object of your own with the same members.

The package by job: :mod:`~distillguard.suspects.base` (the protocol and the base class),
:mod:`~distillguard.suspects.local` (:class:`LocalSuspect`), :mod:`~distillguard.suspects.remote`
(:class:`HTTPSuspect`); every name is importable from ``distillguard.suspects``.
"""

from __future__ import annotations

import os
from typing import Any

from distillguard.suspects.base import Suspect, SuspectLike
from distillguard.suspects.local import LocalSuspect
from distillguard.suspects.remote import MAX_RESPONSE_BYTES, HTTPSuspect

__all__ = ["SuspectLike", "Suspect", "LocalSuspect", "HTTPSuspect", "open_suspect", "MAX_RESPONSE_BYTES"]


def open_suspect(source: str | os.PathLike | None, *, device: str = "cpu", **http_kwargs: Any) -> Suspect:
    """Open a suspect from a URL (HTTP endpoint) or a local path/name (weights).

    Example:
        >>> from distillguard.suspects import open_suspect
        >>> type(open_suspect("http://127.0.0.1:9/v1", model="m")).__name__
        'HTTPSuspect'
    """
    if isinstance(source, str) and source.startswith(("http://", "https://")):
        return HTTPSuspect(source, **http_kwargs)
    return LocalSuspect.load(source, device=device)
