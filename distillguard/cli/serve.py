"""``distillguard serve``: the provider's watermarked, OpenAI-compatible API around a local model.

Example:
    >>> import argparse
    >>> from distillguard.cli.serve import register
    >>> register(argparse.ArgumentParser().add_subparsers())
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from distillguard.cli.common import (
    add_key_arg,
    check_device,
    check_output,
    fmt,
    load_key,
    nonneg_int,
    positive_int,
)
from distillguard.cli.schemes import add_scheme_args, check_scheme_proxy, scheme_key, scheme_models
from distillguard.errors import DistillguardError

__all__ = ["register"]

_EPILOG = """examples:
  distillguard serve --key teacher.key --port 8000 --log api_log.jsonl
  distillguard serve --key teacher.key --scheme adfp --lam 24          # antidistillation fingerprinting
  curl -s http://127.0.0.1:8000/v1/chat/completions -H 'Authorization: Bearer acct-42' \\
      -H 'Content-Type: application/json' -d '{"messages": [{"role": "user", "content": "Hi"}]}'

Each answer is watermarked with the sub-key of the request's account: the X-Account header, else the bearer
token of 'Authorization: Bearer <account>' (requests with neither are served as 'anonymous'). Malformed
requests get a 400 JSON error; bodies over 1 MiB a 413. Stop with Ctrl-C.
exit codes: 0 = stopped; 2 = bad input or failure (one line on stderr)"""


def register(sub: Any) -> None:
    """Add ``serve`` to the ``distillguard`` parser."""
    p = sub.add_parser(
        "serve", help="serve the teacher's watermarked answers over an OpenAI-compatible HTTP API",
        epilog=_EPILOG,
        **fmt("A small OpenAI-compatible server (/v1/chat/completions, /v1/completions, /v1/models) around a "
               "local model, marking every answer with the requesting account's sub-key. One request is "
               "generated at a time: a reference server, not a production one."),
    )
    add_key_arg(p)
    p.add_argument("--model", default=None, help="model: name, HF directory or .gguf (default: the SmolLM2 teacher)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=nonneg_int, default=8000, help="port (default 8000; 0 = any free port)")
    p.add_argument("--no-watermark", action="store_true", help="serve unwatermarked answers (no key needed)")
    p.add_argument("--log", metavar="JSONL", help="append every request to this API log (canonical columns)")
    p.add_argument("--force", action="store_true", help="append to a --log file that is not an earlier API log")
    p.add_argument("--model-name", default="distillguard-teacher", help="model id reported by /v1/models")
    p.add_argument("--max-tokens-cap", type=positive_int, default=1024,
                   help="largest max_tokens a request may ask for (1024)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_scheme_args(p)
    p.set_defaults(func=_cmd_serve)


def _cmd_serve(args: argparse.Namespace) -> int:
    if args.port > 65535:
        raise DistillguardError(f"--port must be in [0, 65535], got {args.port}")
    check_device(args.device)
    check_output("--log", args.log, {"the key file": args.key, "the model": args.model}, force=args.force,
                 own="jsonl")
    key = None if args.no_watermark else load_key(args)
    direction_file = None
    if key is not None:
        key.require_spec()
        key, direction_file = scheme_key(args, key)  # the same scheme options and refusals as generate
    elif args.scheme or args.lam is not None or args.proxy:
        raise DistillguardError("--no-watermark takes no --scheme, --lam or --proxy")
    from distillguard.models import load_model
    from distillguard.serve import make_server

    check_scheme_proxy(args, key)  # before any model loads
    loaded = load_model(args.model, device=args.device)
    extra: dict[str, Any] = {}
    if key is not None:
        from distillguard.keys import check_tokenizer

        check_tokenizer(loaded.tokenizer, key.require_spec())
        extra = scheme_models(args, key, direction_file)
    server = make_server(loaded, args.host, args.port, key=key, log_path=args.log, model_name=args.model_name,
                         account_from_request=True, max_tokens_cap=args.max_tokens_cap, **extra)
    host, port = server.server_address[:2]
    mark = ("unwatermarked" if key is None else
            f"marked ({key.require_spec().mark_scheme}) with key {key.fingerprint} (per account)")
    print(f"serving {loaded.identity} on http://{host}:{port}/v1, {mark}; Ctrl-C to stop", file=sys.stderr)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
