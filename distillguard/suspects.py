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
"""

from __future__ import annotations

import http.client
import inspect
import json
import math
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch

# typing_extensions' Protocol checks isinstance() as Python 3.12 does (inspect.getattr_static): on 3.10-3.11
# typing's would evaluate every property, and HTTPSuspect.can_score sends a request to the suspect
from typing_extensions import Protocol, runtime_checkable

from distillguard.errors import DistillguardError
from distillguard.models import LoadedModel, load_model

__all__ = ["SuspectLike", "Suspect", "LocalSuspect", "HTTPSuspect", "open_suspect", "MAX_RESPONSE_BYTES"]

#: largest HTTP answer read from a suspect (bytes)
MAX_RESPONSE_BYTES = 64 << 20


class _DeadlineExceeded(Exception):
    """A request's total time ran out while its answer was still arriving."""


_tls = threading.local()  # the sockets opened by this thread's current request (closed at its deadline)


def _track(sock: Any) -> None:
    socks = getattr(_tls, "socks", None)
    if socks is not None:
        socks.append(sock)


class _TrackedHTTPConnection(http.client.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _track(self.sock)


class _TrackedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        _track(self.sock)


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):  # noqa: D102
        return self.do_open(_TrackedHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):  # noqa: D102
        return self.do_open(_TrackedHTTPSConnection, req, context=self._context)


_OPENER = urllib.request.build_opener(_HTTPHandler, _HTTPSHandler)


def _shut(socks: list) -> None:
    for sock in list(socks):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


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


class LocalSuspect(Suspect):
    """A suspect whose weights are local (HF directory with safetensors, or GGUF). Never modified.

    Example:
        >>> from distillguard.suspects import LocalSuspect
        >>> s = LocalSuspect.load("smollm2-135m-instruct")  # doctest: +SKIP
        >>> s.can_read  # doctest: +SKIP
        True
    """

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.identity = loaded.identity
        self.queries = 0

    @classmethod
    def load(cls, source: str | os.PathLike | None, *, device: str = "cpu") -> LocalSuspect:
        """Load a local suspect (see :func:`distillguard.models.load_model`)."""
        return cls(load_model(source, device=device))

    @property
    def can_read(self) -> bool:
        return True

    @property
    def can_score(self) -> bool:
        return True

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.7, seed=0, batch_size: int = 16):
        from distillguard.watermark.generate import generate_records

        recs = [{"id": str(i), "prompt": p} for i, p in enumerate(prompts)]
        self.queries += len(recs)
        out = generate_records(
            self.loaded, recs, None, batch_size=batch_size, max_new_tokens=max_new_tokens,
            do_sample=temperature > 0, temperature=max(temperature, 1e-5), seed=seed, progress=len(recs) > batch_size,
        )
        return [r["response"] for r in out]

    def _forward_batches(self, sequences: Sequence[Sequence[int]], batch_size: int,
                         first_needed: Sequence[int] | None = None):
        """Yield ``(rows, logits, mask, offset)`` per right-padded batch; ``logits[:, j]`` is position
        ``offset + j``. With ``first_needed`` (per sequence, the first position whose logits are used) the
        output head runs only from the batch's smallest such position on: for a 262k-entry vocabulary the
        head is most of the cost, and scoring continuations needs none of the prompt's logits."""
        model = self.loaded.model
        device = next(model.parameters()).device
        pad = self.tokenizer.pad_token_id or 0
        can_keep = first_needed is not None and "logits_to_keep" in inspect.signature(model.forward).parameters
        order = np.argsort([len(s) for s in sequences])  # similar lengths together: less padding
        for b0 in range(0, len(order), batch_size):
            idx = order[b0 : b0 + batch_size]
            L = max(len(sequences[i]) for i in idx)
            ids = torch.full((len(idx), L), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), L), dtype=torch.long)
            for r, i in enumerate(idx):  # building a padded batch, not per-row model work
                s = torch.as_tensor(list(sequences[i]), dtype=torch.long)
                ids[r, : len(s)], mask[r, : len(s)] = s, 1
            lo = min(first_needed[i] for i in idx) if first_needed is not None else 0
            kw = {"logits_to_keep": torch.arange(lo, L, device=device)} if can_keep else {}
            with torch.inference_mode():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), **kw).logits
            if not can_keep:
                logits = logits[:, lo:]
            yield idx, logits, mask, lo

    def next_token_predictions(self, sequences, *, batch_size=8):
        if any(len(s) == 0 for s in sequences):
            raise DistillguardError("empty token sequence given to next_token_predictions")
        out: list[np.ndarray | None] = [None] * len(sequences)
        for idx, logits, _, _ in self._forward_batches(sequences, batch_size):
            top1 = logits.argmax(dim=-1).cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = top1[r, : len(sequences[i])]
        self.queries += len(sequences)
        return out  # type: ignore[return-value]

    def reading_pass(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 8,
                     groups: Sequence[np.ndarray] | None = None, n_groups: int = 0,
                     ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
        """One forward pass: the top-1 prediction after every prefix (as :meth:`next_token_predictions`), the
        next-token log-probabilities averaged over every position read (``[V]``, float64), and, with ``groups``
        (per sequence, a group index per position, -1 for none), their average per group (``[n_groups, V]``)."""
        if any(len(s) == 0 for s in sequences):
            raise DistillguardError("empty token sequence given to reading_pass")
        out: list[np.ndarray | None] = [None] * len(sequences)
        total: torch.Tensor | None = None
        count = 0
        by_group: torch.Tensor | None = None
        group_count = torch.zeros(n_groups, dtype=torch.float64)
        for idx, logits, mask, _ in self._forward_batches(sequences, batch_size):
            top1 = logits.argmax(dim=-1).cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = top1[r, : len(sequences[i])]
            lp = torch.log_softmax(logits.float(), dim=-1)
            keep = mask.to(lp.device).bool()
            part = lp[keep].double().sum(dim=0).cpu()
            total = part if total is None else total + part
            count += int(keep.sum())
            if n_groups:
                g = torch.full(mask.shape, -1, dtype=torch.long)
                for r, i in enumerate(idx):  # group labels of a padded batch, not per-row model work
                    g[r, : len(sequences[i])] = torch.as_tensor(np.asarray(groups[i]), dtype=torch.long)
                sel = g >= 0
                if by_group is None:
                    by_group = torch.zeros((n_groups, lp.shape[-1]), dtype=torch.float64, device=lp.device)
                by_group.index_add_(0, g[sel].to(lp.device), lp[sel.to(lp.device)].double())
                group_count += torch.bincount(g[sel], minlength=n_groups).double()
        self.queries += len(sequences)
        group_mean = None if by_group is None else (by_group.cpu() / group_count.clamp(min=1)[:, None]).numpy()
        return out, (total / count).numpy(), group_mean  # type: ignore[return-value,union-attr]

    def continuation_logprobs(self, prompts, continuations):
        from distillguard.watermark.generate import encode_prompts

        tok = self.tokenizer
        seqs, starts = [], []
        for p, c in zip(prompts, continuations):
            head = encode_prompts(self.loaded, [p])["input_ids"][0].tolist()
            tail = tok.encode(c, add_special_tokens=False)
            if not tail:
                raise DistillguardError("empty continuation: nothing to score")
            seqs.append(head + tail)
            starts.append(len(head))
        scores = [0.0] * len(seqs)
        for idx, logits, _, lo in self._forward_batches(seqs, 8, first_needed=[s - 1 for s in starts]):
            logp = torch.log_softmax(logits.float(), dim=-1)
            for r, i in enumerate(idx):
                s, n = starts[i], len(seqs[i])
                target = torch.as_tensor(seqs[i][s:n], device=logp.device)
                scores[i] = float(logp[r, s - 1 - lo : n - 1 - lo].gather(1, target[:, None]).mean())
        self.queries += len(seqs)
        return scores


class HTTPSuspect(Suspect):
    """An OpenAI-compatible endpoint (``/v1/chat/completions``; ``/v1/completions`` for log-probs).

    Timeouts, retries with exponential back-off and jitter (429 and 5xx, honouring ``Retry-After``), a
    concurrency limit, and one-line errors for 4xx, unreachable hosts and malformed JSON.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``.
        model: the model name sent in requests (default: the first one ``/v1/models`` lists).
        api_key_env: environment variable holding the bearer token (never printed).
        timeout: total seconds per request attempt, answer included (a slow-drip server is cut off).
        retries: attempts after the first. concurrency: parallel requests.

    Example:
        >>> from distillguard.suspects import HTTPSuspect
        >>> HTTPSuspect("http://127.0.0.1:9/v1", model="m").identity
        'http://127.0.0.1:9/v1#m'
    """

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key_env: str | None = "DISTILLGUARD_SUSPECT_API_KEY",
        timeout: float = 60.0,
        retries: int = 4,
        concurrency: int = 4,
        chat: bool = True,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise DistillguardError(f"not an http(s) URL: {base_url}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (math.isfinite(timeout)
                                                                                     and timeout > 0):
            raise DistillguardError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise DistillguardError(f"retries must be an integer >= 0, got {retries!r}")
        self.base_url = base_url.rstrip("/")
        self._api_key = os.environ.get(api_key_env) if api_key_env else None
        self.timeout, self.retries, self.concurrency, self.chat = timeout, retries, max(1, concurrency), chat
        self._model = model
        self.queries = 0
        self._logprobs_ok: bool | None = None

    @property
    def model(self) -> str:
        if self._model is None:
            data = self._request("GET", "/models")
            try:
                self._model = str(data["data"][0]["id"])
            except (KeyError, IndexError, TypeError):
                raise DistillguardError(f"{self.base_url}/models: no model listed; pass --suspect-model") from None
        return self._model

    @property
    def identity(self) -> str:  # type: ignore[override]
        return f"{self.base_url}#{self._model or '?'}"

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        url = self.base_url + path
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        delay = 0.5
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            retry_after = None
            try:
                raw = self._read_within_deadline(req)
                try:
                    return json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    raise DistillguardError(f"{url}: the server answered with malformed JSON") from None
            except urllib.error.HTTPError as exc:
                if exc.code != 429 and exc.code < 500:
                    detail = exc.read(200).decode("utf-8", "replace").replace("\n", " ")
                    raise DistillguardError(f"{url}: HTTP {exc.code} {exc.reason}: {detail}") from None
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                last = f"HTTP {exc.code} {exc.reason}"
            except _DeadlineExceeded:
                last = f"no complete answer within {self.timeout:g} s"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"unreachable ({reason})"
            if attempt < self.retries:
                wait = float(retry_after) if retry_after and str(retry_after).replace(".", "").isdigit() else delay
                time.sleep(min(wait, 30.0) * (1 + 0.25 * random.random()))
                delay *= 2
        raise DistillguardError(f"{url}: {last} after {self.retries + 1} attempts")

    def _read_within_deadline(self, req: urllib.request.Request) -> bytes:
        """Send ``req`` and read its whole body within ``self.timeout`` seconds in total (a server that drips
        its answer byte by byte cannot hold a request longer), and at most :data:`MAX_RESPONSE_BYTES`."""
        deadline = time.monotonic() + self.timeout
        socks: list = []
        expired = threading.Event()

        def expire() -> None:  # at the deadline, whatever the request is waiting for (headers too) ends
            expired.set()
            _shut(socks)

        timer = threading.Timer(self.timeout, expire)
        timer.daemon = True
        _tls.socks = socks
        timer.start()
        try:
            with _OPENER.open(req, timeout=self.timeout) as resp:
                chunks: list[bytes] = []
                size = 0
                while True:
                    if time.monotonic() >= deadline:
                        raise _DeadlineExceeded
                    chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_RESPONSE_BYTES:
                        raise DistillguardError(f"{req.full_url}: answer larger than {MAX_RESPONSE_BYTES} bytes")
                    chunks.append(chunk)
            if expired.is_set() or time.monotonic() > deadline:
                raise _DeadlineExceeded
            return b"".join(chunks)
        except (DistillguardError, _DeadlineExceeded):
            raise
        except Exception:
            if expired.is_set():
                raise _DeadlineExceeded from None
            raise
        finally:
            timer.cancel()
            _tls.socks = None

    def _chat_one(self, prompt: str, max_new_tokens: int, temperature: float, seed: int) -> str:
        if self.chat:
            body = {"model": self.model, "messages": [{"role": "user", "content": prompt}],
                    "max_tokens": max_new_tokens, "temperature": temperature, "seed": seed}
            data = self._request("POST", "/chat/completions", body)
            try:
                content = data["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                raise DistillguardError(f"{self.base_url}/chat/completions: unexpected response shape") from None
            if not isinstance(content, str):
                raise DistillguardError(f"{self.base_url}/chat/completions: the answer's content is "
                                        f"{type(content).__name__}, not a string: nothing to score")
            return content
        body = {"model": self.model, "prompt": prompt, "max_tokens": max_new_tokens,
                "temperature": temperature, "seed": seed}
        data = self._request("POST", "/completions", body)
        try:
            text = data["choices"][0]["text"]
        except (KeyError, IndexError, TypeError):
            raise DistillguardError(f"{self.base_url}/completions: unexpected response shape") from None
        if not isinstance(text, str):
            raise DistillguardError(f"{self.base_url}/completions: the answer's text is {type(text).__name__}, "
                                    "not a string: nothing to score")
        return text

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.7, seed=0):
        _ = self.model  # resolve once before fanning out
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            out = list(pool.map(lambda ip: self._chat_one(ip[1], max_new_tokens, temperature, seed + ip[0]),
                                enumerate(prompts)))
        self.queries += len(prompts)
        return out

    @property
    def can_score(self) -> bool:
        if self._logprobs_ok is None:
            try:
                self._completion_logprob("a", "b")
                self._logprobs_ok = True
            except DistillguardError:
                self._logprobs_ok = False
        return self._logprobs_ok

    def _completion_logprob(self, prompt: str, continuation: str) -> float:
        """Standard OpenAI echo scoring: send prompt + continuation, keep tokens that start after the prompt."""
        body = {"model": self.model, "prompt": prompt + continuation, "echo": True, "logprobs": 0, "max_tokens": 0}
        data = self._request("POST", "/completions", body)
        try:
            lp = data["choices"][0]["logprobs"]
            offsets, logprobs = lp["text_offset"], lp["token_logprobs"]
            if not isinstance(offsets, list) or not isinstance(logprobs, list):
                raise TypeError
            pairs = [(o, v) for o, v in zip(offsets, logprobs) if v is not None]
        except (KeyError, IndexError, TypeError):
            raise DistillguardError(f"{self.base_url}/completions: no echo log-probs in the answer") from None
        for o, v in pairs:
            if isinstance(o, bool) or not isinstance(o, int) or isinstance(v, bool) or not isinstance(v, int | float) \
                    or not math.isfinite(v) or v > 1e-6:
                raise DistillguardError(f"{self.base_url}/completions: malformed echo log-probs (offset {o!r}, "
                                        f"log-prob {v!r}): not scored")
        values = [v for o, v in pairs if o >= len(prompt)]
        if not values:
            raise DistillguardError(f"{self.base_url}/completions: continuation produced no scored tokens")
        return float(np.mean(values))

    def continuation_logprobs(self, prompts, continuations):
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            out = list(pool.map(lambda pc: self._completion_logprob(*pc), zip(prompts, continuations)))
        self.queries += len(out)
        return out


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
