"""What a model under test offers: the :class:`SuspectLike` protocol and the :class:`Suspect` base class.

Example:
    >>> from distillguard.suspects import Suspect, SuspectLike
    >>> isinstance(Suspect(), SuspectLike)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# typing_extensions' Protocol checks isinstance() as Python 3.12 does (inspect.getattr_static): on 3.10-3.11
# typing's would evaluate every property, and HTTPSuspect.can_score sends a request to the suspect
from typing_extensions import Protocol, runtime_checkable

from distillguard.errors import DistillguardError

__all__ = ["SuspectLike", "Suspect"]


@runtime_checkable
class SuspectLike(Protocol):
    """What every function that takes a model under test relies on (a structural type: no base class needed).

    :class:`Suspect` and its subclasses (:class:`LocalSuspect`, :class:`HTTPSuspect`) satisfy it; so does any
    object of your own with these members, e.g. a client of another API that only generates (``can_read`` and
    ``can_score`` false, the two scoring methods raising). Two optional members, used when present:
    ``reading_pass`` (one forward pass for the reading test, :meth:`LocalSuspect.reading_pass`) and ``loaded``
    (local weights: answers are generated in batches).

    Attributes:
        identity: public description for reports (path + content hash, or URL + model name).
        tokenizer: the suspect's tokenizer when known locally, else ``None``.
        queries: how many prompts/continuations were sent so far (query budget accounting).

    Example:
        >>> from distillguard.suspects import HTTPSuspect, SuspectLike
        >>> isinstance(HTTPSuspect("http://127.0.0.1:9/v1", model="m"), SuspectLike)  # no request is sent
        True
        >>> isinstance("a model name", SuspectLike)
        False
    """

    identity: str
    tokenizer: Any
    queries: int

    @property
    def can_read(self) -> bool:
        """Whether :meth:`next_token_predictions` is available (local weights)."""
        ...

    @property
    def can_score(self) -> bool:
        """Whether :meth:`continuation_logprobs` is available."""
        ...

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 128, temperature: float = 0.7, seed: int = 0
    ) -> list[str]:
        """Answer each prompt (chat format where the model has one)."""
        ...

    def next_token_predictions(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 8) -> list[np.ndarray]:
        """Top-1 prediction after every prefix: ``out[i][t]`` = ``argmax p(x | sequences[i][: t + 1])``."""
        ...

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Mean log-probability per token of each continuation given its prompt (chat-formatted)."""
        ...


class Suspect:
    """Interface of a model under test (a :class:`SuspectLike`). Subclasses implement :meth:`generate`; the rest
    is optional.

    Attributes:
        identity: public description for reports (path + content hash, or URL + model name).
        tokenizer: the suspect's tokenizer when known locally, else ``None``.
    """

    identity: str = "suspect"
    tokenizer: Any = None
    queries: int = 0  # how many prompts/continuations were sent (query budget accounting)

    def generate(
        self, prompts: Sequence[str], *, max_new_tokens: int = 128, temperature: float = 0.7, seed: int = 0
    ) -> list[str]:
        """Answer each prompt (chat format where the model has one)."""
        raise NotImplementedError

    @property
    def can_read(self) -> bool:
        """Whether :meth:`next_token_predictions` is available (local weights)."""
        return False

    @property
    def can_score(self) -> bool:
        """Whether :meth:`continuation_logprobs` is available."""
        return False

    def next_token_predictions(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 8) -> list[np.ndarray]:
        """Top-1 prediction after every prefix: ``out[i][t]`` = ``argmax p(x | sequences[i][: t + 1])``."""
        raise DistillguardError(f"{self.identity}: next-token predictions need local weights")

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Mean log-probability per token of each continuation given its prompt (chat-formatted)."""
        raise DistillguardError(f"{self.identity}: this suspect gives no log-probabilities")
