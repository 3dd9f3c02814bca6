"""A small OpenAI-compatible server around a local model: the provider's watermarked API, and a real
endpoint for tests of the HTTP suspect path.

* ``POST /v1/chat/completions`` -- chat answer; watermarked with the account's sub-key when a key is set
  (the account is looked up from the bearer token; unknown tokens are served under ``anonymous``).
* ``POST /v1/completions`` -- raw-text completion; with ``echo: true, max_tokens: 0`` it returns the
  prompt's per-token log-probs and ``text_offset`` (the standard way to score a continuation).
* ``GET /v1/models``.
Every request is appended to an API log (JSONL, the canonical columns of DESIGN.md contract 6).
One model call at a time (a lock): this is a reference server, not a production one.
"""

from __future__ import annotations

import json
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

__all__ = ["make_server", "serve_in_thread"]


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
) -> ThreadingHTTPServer:
    """Build (not start) the server; ``port=0`` picks a free port (see ``server.server_address``).

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
            token = auth[7:] if auth.startswith("Bearer ") else ""
            return accounts.get(token, "anonymous")

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._error(404, f"unknown path {self.path}")

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not isinstance(body, dict):
                    raise ValueError
            except (ValueError, UnicodeDecodeError):
                return self._error(400, "request body is not a JSON object")
            path = self.path.rstrip("/")
            if path == "/v1/chat/completions":
                msgs = body.get("messages")
                if not isinstance(msgs, list) or not msgs or not isinstance(msgs[-1].get("content"), str):
                    return self._error(400, "messages must be a non-empty list ending with a content string")
                return self._complete(body, msgs[-1]["content"], chat=True)
            if path == "/v1/completions":
                if not isinstance(body.get("prompt"), str):
                    return self._error(400, "prompt must be a string")
                if body.get("echo") and int(body.get("max_tokens", 16)) == 0:
                    with lock:
                        lp = _token_logprobs(loaded, body["prompt"])
                    return self._send(200, {"object": "text_completion", "model": model_name, "choices": [
                        {"index": 0, "text": body["prompt"], "logprobs": lp, "finish_reason": "length"}]})
                return self._complete(body, body["prompt"], chat=False)
            return self._error(404, f"unknown path {self.path}")

        def _complete(self, body: dict, prompt: str, *, chat: bool) -> None:
            account = self._account()
            use_key = None if key is None else (key.for_account(account) if key.account is None else key)
            try:
                max_new = max(1, min(int(body.get("max_tokens", 128)), 1024))
                temperature = float(body.get("temperature", 0.7))
                seed = int(body.get("seed", 0))
            except (TypeError, ValueError):
                return self._error(400, "max_tokens, temperature and seed must be numbers")
            view = loaded if chat else LoadedModel(loaded.model, loaded.tokenizer, loaded.source,
                                                   loaded.identity, is_chat=False)
            with lock:
                rec = next(generate_records(view, [{"id": "r", "prompt": prompt}], use_key, batch_size=1,
                                            max_new_tokens=max_new, do_sample=temperature > 0,
                                            temperature=max(temperature, 1e-5), seed=seed, progress=False))
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
