"""A suspect behind an OpenAI-compatible URL, every request held to a total deadline and a size limit.

Example:
    >>> from distillguard.suspects import HTTPSuspect
    >>> HTTPSuspect("http://127.0.0.1:9/v1", model="m", retries=0).can_read
    False
"""

from __future__ import annotations

import http.client
import json
import math
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from distillguard.errors import DistillguardError
from distillguard.suspects.base import Suspect

__all__ = ["HTTPSuspect", "MAX_RESPONSE_BYTES"]

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
        run_timeout: total seconds for *every* request this suspect makes, retries and back-off included
            (``None``: no limit); a request never waits past it, and none starts after it.

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
        run_timeout: float | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise DistillguardError(f"not an http(s) URL: {base_url}")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (math.isfinite(timeout)
                                                                                     and timeout > 0):
            raise DistillguardError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise DistillguardError(f"retries must be an integer >= 0, got {retries!r}")
        if run_timeout is not None and (isinstance(run_timeout, bool) or not isinstance(run_timeout, int | float)
                                        or not (math.isfinite(run_timeout) and run_timeout > 0)):
            raise DistillguardError(f"run_timeout must be a finite number of seconds > 0, got {run_timeout!r}")
        self.run_timeout = run_timeout
        self._run_deadline = None if run_timeout is None else time.monotonic() + run_timeout
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
            self._check_run_deadline(url)
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
                self._check_run_deadline(url)  # the run's deadline, not this request's, ran out: say so
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = f"unreachable ({reason})"
            if attempt < self.retries:
                wait = float(retry_after) if retry_after and str(retry_after).replace(".", "").isdigit() else delay
                wait = min(wait, 30.0) * (1 + 0.25 * random.random())
                if self._run_deadline is not None:  # never sleep past the run's deadline
                    wait = min(wait, max(0.0, self._run_deadline - time.monotonic()))
                time.sleep(wait)
                delay *= 2
        raise DistillguardError(f"{url}: {last} after {self.retries + 1} attempts")

    def _check_run_deadline(self, url: str) -> None:
        if self._run_deadline is not None and time.monotonic() >= self._run_deadline:
            raise DistillguardError(f"{url}: the run's deadline of {self.run_timeout:g} s passed after "
                                    f"{self.queries} queries (--run-timeout)")

    def _read_within_deadline(self, req: urllib.request.Request) -> bytes:
        """Send ``req`` and read its whole body within ``self.timeout`` seconds in total (a server that drips
        its answer byte by byte cannot hold a request longer), never past the run's deadline, and at most
        :data:`MAX_RESPONSE_BYTES`."""
        deadline = time.monotonic() + self.timeout
        if self._run_deadline is not None:
            deadline = min(deadline, self._run_deadline)
        socks: list = []
        expired = threading.Event()

        def expire() -> None:  # at the deadline, whatever the request is waiting for (headers too) ends
            expired.set()
            _shut(socks)

        budget = max(deadline - time.monotonic(), 1e-3)
        timer = threading.Timer(budget, expire)
        timer.daemon = True
        _tls.socks = socks
        timer.start()
        try:
            with _OPENER.open(req, timeout=budget) as resp:
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
