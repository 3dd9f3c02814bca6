"""A small OpenAI-compatible server around a local model: the provider's watermarked API, and a real
endpoint for tests of the HTTP suspect path.

* ``POST /v1/chat/completions`` -- chat answer; watermarked with the account's sub-key when a key is set
  (the account is looked up from the bearer token; unknown tokens are served under ``anonymous``).
* ``POST /v1/completions`` -- raw-text completion; with ``echo: true, max_tokens: 0`` it returns the
  prompt's per-token log-probs and ``text_offset`` (the standard way to score a continuation).
* ``GET /v1/models``.
Every request is appended to an API log (JSONL, the canonical columns of DESIGN.md contract 6).
One model call at a time (a lock): this is a reference server, not a production one.

Every request field is validated (see :func:`validate_request`): a malformed request gets a 400 JSON error,
a body above :data:`MAX_BODY_BYTES` a 413 (refused from its Content-Length, never read), and the server
keeps serving.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch

from distillguard.keys import WatermarkKey
from distillguard.models import LoadedModel
from distillguard.watermark.generate import generate_records

__all__ = ["make_server", "serve_in_thread", "validate_request", "RequestError", "MAX_BODY_BYTES", "MAX_TOKENS_CAP"]

#: largest request body accepted (bytes); larger ones get 413 without being read
MAX_BODY_BYTES = 1 << 20
#: largest ``max_tokens`` a request may ask for
MAX_TOKENS_CAP = 1024
_MAX_PROMPT_CHARS = 200_000
_MAX_ACCOUNT_CHARS = 128
_ROLES = ("system", "user", "assistant", "developer", "tool")


class RequestError(ValueError):
    """A request the server refuses: ``status`` (400 or 413) and a one-line message."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def _int_field(body: dict, name: str, default: int, lo: int, hi: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise RequestError(f"{name} must be an integer in [{lo}, {hi}]")
    if not lo <= value <= hi:
        raise RequestError(f"{name} must be an integer in [{lo}, {hi}], got {value}")
    return value


def validate_request(body: Any, *, chat: bool, max_tokens_cap: int = MAX_TOKENS_CAP) -> dict[str, Any]:
    """Check a completion request and return ``{prompt, max_tokens, temperature, seed, echo}``.

    Raises :class:`RequestError` (status 400) naming the first bad field.

    Example:
        >>> from distillguard.serve import validate_request
        >>> validate_request({"messages": [{"role": "user", "content": "hi"}]}, chat=True)["prompt"]
        'hi'
        >>> validate_request({"messages": [{"role": "user", "content": None}]}, chat=True)
        Traceback (most recent call last):
        ...
        distillguard.serve.RequestError: messages[0].content must be a string
    """
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    if chat:
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not msgs:
            raise RequestError("messages must be a non-empty list of {role, content} objects")
        if len(msgs) > 256:
            raise RequestError("messages: at most 256 messages")
        for i, m in enumerate(msgs):
            if not isinstance(m, dict):
                raise RequestError(f"messages[{i}] must be an object with role and content")
            if m.get("role") not in _ROLES:
                raise RequestError(f"messages[{i}].role must be one of {', '.join(_ROLES)}")
            if not isinstance(m.get("content"), str):
                raise RequestError(f"messages[{i}].content must be a string")
        prompt = msgs[-1]["content"]
    else:
        prompt = body.get("prompt")
        if not isinstance(prompt, str):
            raise RequestError("prompt must be a string")
    if len(prompt) > _MAX_PROMPT_CHARS:
        raise RequestError(f"prompt longer than {_MAX_PROMPT_CHARS} characters")
    echo = body.get("echo", False)
    if not isinstance(echo, bool):
        raise RequestError("echo must be true or false")
    lo = 0 if (echo and not chat) else 1
    max_tokens = _int_field(body, "max_tokens", 128 if not echo else 16, lo, max_tokens_cap)
    temperature = body.get("temperature", 0.7)
    if temperature is None:
        temperature = 0.7
    if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not math.isfinite(temperature) \
            or not 0 <= temperature <= 100:
        raise RequestError("temperature must be a finite number in [0, 100]")
    seed = _int_field(body, "seed", 0, -(2**63), 2**63 - 1)
    n = _int_field(body, "n", 1, 1, 1)
    for name in ("logprobs", "top_logprobs"):
        v = body.get(name)
        if v is not None and not isinstance(v, bool | int):
            raise RequestError(f"{name} must be a boolean or an integer")
    if body.get("stream"):
        raise RequestError("stream is not supported")
    return {"prompt": prompt, "max_tokens": max_tokens, "temperature": float(temperature),
            "seed": seed % (2**63), "echo": echo, "n": n}


def _token_logprobs(loaded: LoadedModel, text: str) -> dict[str, list]:
    tok = loaded.tokenizer
    enc = tok(text, return_offsets_mapping=True, add_special_tokens=False)
    ids = enc["input_ids"]
    offsets = [o[0] for o in enc["offset_mapping"]]
    if not ids:
        return {"tokens": [], "token_logprobs": [], "text_offset": []}
    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    full = torch.tensor([[bos, *ids]])
    with torch.inference_mode():
        logp = torch.log_softmax(loaded.model(full).logits[0, :-1].float(), dim=-1)
    values = logp.gather(1, full[0, 1:, None])[:, 0].tolist()
    return {"tokens": tok.convert_ids_to_tokens(ids), "token_logprobs": values, "text_offset": offsets}


def make_server(
    loaded: LoadedModel,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    key: WatermarkKey | None = None,
    accounts: dict[str, str] | None = None,
    log_path: str | Path | None = None,
    model_name: str = "distillguard-teacher",
    account_from_request: bool = False,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_tokens_cap: int = MAX_TOKENS_CAP,
    proxy: LoadedModel | None = None,
    ads_direction: dict[str, Any] | None = None,
) -> ThreadingHTTPServer:
    """Build (not start) the server; ``port=0`` picks a free port (see ``server.server_address``).

    The account whose sub-key marks an answer: ``accounts[bearer token]``; with ``account_from_request``
    the ``X-Account`` header, else the bearer token itself, names the account (``anonymous`` without either).
    The key spec's ``mark_scheme`` picks the defence (KGW, ADFP, ADS or both, see
    :func:`distillguard.watermark.generate.mark_processors`); ``proxy`` and ``ads_direction`` serve ADFP and ADS
    (``proxy=None``: the teacher is its own proxy).

    Example:
        >>> from distillguard.serve import make_server  # doctest: +SKIP
        >>> srv = make_server(load_model(), port=8000, key=WatermarkKey.load("teacher.key"))  # doctest: +SKIP
    """
    lock = threading.Lock()
    accounts = accounts or {}
    log_file = Path(log_path) if log_path else None

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep stderr quiet
            pass

        def _send(self, code: int, obj: dict) -> None:
            raw = json.dumps(obj).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, code: int, msg: str) -> None:
            self._send(code, {"error": {"message": msg, "type": "invalid_request_error"}})

        def _account(self) -> str:
            auth = self.headers.get("Authorization", "")
            token = auth[7:].strip() if auth.startswith("Bearer ") else ""
            if token in accounts:
                return accounts[token]
            if not account_from_request:
                return "anonymous"
            name = (self.headers.get("X-Account") or token).strip()
            if not name:
                return "anonymous"
            if len(name) > _MAX_ACCOUNT_CHARS or not name.isprintable():
                raise RequestError(f"account id must be printable and at most {_MAX_ACCOUNT_CHARS} characters")
            return name

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._error(404, f"unknown path {self.path}")

        def _read_body(self) -> Any:
            raw_length = self.headers.get("Content-Length")
            if raw_length is None:
                raise RequestError("Content-Length is required", 411)
            try:
                length = int(raw_length.strip())
            except ValueError:
                raise RequestError("Content-Length is not an integer") from None
            if length < 0:
                raise RequestError("Content-Length is negative")
            if length > max_body_bytes:
                raise RequestError(f"request body over {max_body_bytes} bytes", 413)
            raw = self.rfile.read(length) if length else b""
            if len(raw) != length:
                raise RequestError("request body shorter than its Content-Length")
            try:
                return json.loads(raw.decode("utf-8")) if raw else {}
            except (ValueError, UnicodeDecodeError):
                raise RequestError("request body is not valid JSON") from None

        def do_POST(self) -> None:  # noqa: N802
            try:
                body = self._read_body()
                path = self.path.rstrip("/")
                if path not in ("/v1/chat/completions", "/v1/completions"):
                    return self._error(404, f"unknown path {self.path}")
                chat = path == "/v1/chat/completions"
                req = validate_request(body, chat=chat, max_tokens_cap=max_tokens_cap)
                if not chat and req["echo"] and req["max_tokens"] == 0:
                    with lock:
                        lp = _token_logprobs(loaded, req["prompt"])
                    return self._send(200, {"object": "text_completion", "model": model_name, "choices": [
                        {"index": 0, "text": req["prompt"], "logprobs": lp, "finish_reason": "length"}]})
                return self._complete(req, chat=chat)
            except RequestError as exc:
                if exc.status in (411, 413):
                    self.close_connection = True  # the unread body must not be parsed as a next request
                return self._error(exc.status, str(exc))
            except (BrokenPipeError, ConnectionResetError):
                return None  # the client left; nothing to answer
            except Exception as exc:  # a failure inside the model: answer 500, keep serving
                self.close_connection = True
                return self._send(500, {"error": {"message": f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300],
                                                  "type": "server_error"}})

        def _complete(self, req: dict, *, chat: bool) -> None:
            account = self._account()
            use_key = None if key is None else (key.for_account(account) if key.account is None else key)
            prompt, max_new, temperature, seed = req["prompt"], req["max_tokens"], req["temperature"], req["seed"]
            view = loaded if chat else LoadedModel(loaded.model, loaded.tokenizer, loaded.source,
                                                   loaded.identity, is_chat=False)
            with lock:
                rec = next(generate_records(view, [{"id": "r", "prompt": prompt}], use_key, batch_size=1,
                                            max_new_tokens=max_new, do_sample=temperature > 0,
                                            temperature=max(temperature, 1e-5), seed=seed, progress=False,
                                            proxy=proxy, ads_direction=ads_direction))
            request_id = uuid.uuid4().hex
            n_prompt = len(loaded.tokenizer.encode(prompt, add_special_tokens=False))
            usage = {"prompt_tokens": n_prompt, "completion_tokens": len(rec["response_ids"])}
            if log_file is not None:
                row = {"timestamp": datetime.now(timezone.utc).isoformat(), "account_id": account,
                       "prompt": prompt, **usage, "response": rec["response"], "request_id": request_id,
                       "model": model_name, "status": 200}
                with lock, log_file.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            choice = ({"index": 0, "message": {"role": "assistant", "content": rec["response"]},
                       "finish_reason": "stop" if rec["finish"] == "eos" else "length"} if chat else
                      {"index": 0, "text": rec["response"], "finish_reason": "stop" if rec["finish"] == "eos" else "length"})
            self._send(200, {"id": request_id, "object": "chat.completion" if chat else "text_completion",
                             "created": int(time.time()), "model": model_name, "choices": [choice], "usage": usage})

    return ThreadingHTTPServer((host, port), Handler)


def serve_in_thread(server: ThreadingHTTPServer) -> str:
    """Start ``server`` on a daemon thread and return its base URL (``http://host:port/v1``).

    Example:
        >>> from distillguard.serve import serve_in_thread  # doctest: +SKIP
    """
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/v1"
