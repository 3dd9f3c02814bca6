"""``distillguard keygen``, ``generate`` and ``score-text``: make a key, serve watermarked answers, test text.

Example:
    >>> import argparse
    >>> from distillguard.cli.watermark import register
    >>> register(argparse.ArgumentParser().add_subparsers())
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from distillguard.cli.common import (
    EPILOG_EXIT,
    add_key_arg,
    check_device,
    check_output,
    fmt,
    load_key,
    nonneg_float,
    nonneg_int,
    positive_int,
    print_json,
    probability,
)
from distillguard.cli.schemes import add_scheme_args, check_scheme_proxy, scheme_key, scheme_models
from distillguard.errors import EXIT_DETECTED, EXIT_NOT_DETECTED, DistillguardError

__all__ = ["register"]


def register(sub: Any) -> None:
    """Add ``keygen``, ``generate``, ``ads-direction`` and ``score-text`` to the ``distillguard`` parser."""
    _add_keygen(sub)
    _add_generate(sub)
    _add_ads_direction(sub)
    _add_score_text(sub)


# -- keygen -------------------------------------------------------------------------------------------------
def _add_keygen(sub) -> None:
    p = sub.add_parser(
        "keygen",
        help="create a secret watermark key file (mode 0600)",
        epilog="example:\n  distillguard keygen --out teacher.key --delta 2.0\n"
        "  distillguard keygen --out k.json --vocab-size 50257 --context-width 4 --seeding min\n"
        "exit codes: 0 = written; 2 = bad input or failure (an existing key file is never overwritten without --force)",
        **fmt("Create a 256-bit watermark key and record the watermark spec with it. The secret is written "
               "only to the key file (created with mode 0600) and never printed."),
    )
    p.add_argument("--out", required=True, metavar="FILE", help="where to write the key file")
    p.add_argument("--model", default=None, help="tokenizer the watermark is for (default: the SmolLM2 teacher)")
    p.add_argument("--vocab-size", type=positive_int, help="cover this many token ids instead of reading a tokenizer")
    p.add_argument("--gamma", type=probability, default=0.25, help="green-list fraction (default 0.25)")
    p.add_argument("--delta", type=nonneg_float, default=2.0, help="logit bias of green tokens (default 2.0)")
    p.add_argument("--context-width", type=nonneg_int, default=1, help="h, previous tokens that seed a list (default 1)")
    p.add_argument("--seeding", choices=["left", "min"], default="left", help="left hash or min/self-hash")
    p.add_argument("--scheme", choices=["kgw", "adfp"], default="kgw",
                   help="the mark generate and serve apply by default: kgw (+delta) or adfp (antidistillation "
                        "fingerprinting, the teacher as proxy, needs --lam); ADS is chosen at generate time")
    p.add_argument("--lam", type=nonneg_float, default=None, help="ADFP strength lambda (> 0) with --scheme adfp")
    p.add_argument("--force", action="store_true", help="overwrite an existing key file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_keygen)


def _cmd_keygen(args: argparse.Namespace) -> int:
    from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id

    check_output("--out", args.out, {"the model": args.model}, force=args.force)
    if args.scheme == "adfp" and args.lam is None:
        raise DistillguardError("--scheme adfp needs --lam (the ADFP strength, > 0)")
    if args.scheme == "kgw" and args.lam is not None:
        raise DistillguardError("--lam is for --scheme adfp; kgw uses --delta")
    mark = {} if args.scheme == "kgw" else dict(mark_scheme="adfp", adfp_lambda=args.lam, proxy_id="teacher")
    if args.vocab_size is not None:
        vocab, tid = args.vocab_size, None
    else:
        from distillguard.models import load_tokenizer

        tok = load_tokenizer(args.model)
        vocab, tid = len(tok), tokenizer_id(tok)
    spec = WatermarkSpec(
        vocab_size=vocab, gamma=args.gamma, delta=args.delta, context_width=args.context_width,
        seeding=args.seeding, tokenizer_id=tid, **mark,
    )
    key = WatermarkKey.generate(spec)
    path = key.save(args.out, overwrite=args.force)
    out = {"key_file": str(path), "fingerprint": key.fingerprint, "spec": spec.to_dict()}
    if args.json:
        print_json(out)
    else:
        print(f"wrote {path} (mode 0600), key {key.fingerprint}, vocab {vocab}, gamma {args.gamma}, "
              f"delta {args.delta}, h {args.context_width}, seeding {args.seeding}")
    return 0


# -- generate -----------------------------------------------------------------------------------------------
def _add_generate(sub) -> None:
    p = sub.add_parser(
        "generate",
        help="generate watermarked answers for a prompt file into JSONL (resumable)",
        epilog="examples:\n  distillguard generate --key teacher.key --prompts prompts.txt --out answers.jsonl\n"
        "  distillguard generate --key teacher.key --sharegpt 64 --out answers.jsonl --max-new-tokens 200\n"
        "Rerunning the same command continues where it stopped. JSONL prompts may carry an account_id:\n"
        "each row is then marked with that account's sub-key.\n\n"
        "--out owns a manifest next to it (OUT.manifest.json: key fingerprint, spec, model, settings).\n"
        "An existing --out is only resumed when its manifest matches; any other file (a key, the prompts,\n"
        "an API log, answers made with other settings) is refused and left untouched.\n"
        "exit codes: 0 = done; 2 = bad input or failure",
        **fmt("Batched watermarked generation with the teacher (chat template applied for chat models)."),
    )
    add_key_arg(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--prompts", metavar="FILE", help="text file (one prompt per line) or JSONL with 'prompt'")
    src.add_argument("--sharegpt", type=positive_int, metavar="N", help="use N real human prompts from ShareGPT")
    p.add_argument("--out", required=True, metavar="JSONL",
                   help="output file (appended to on resume; never the key or prompts file)")
    p.add_argument("--model", default=None, help="teacher model: name, HF directory or .gguf (default SmolLM2)")
    p.add_argument("--account", help="mark every answer with this account's sub-key")
    p.add_argument("--no-watermark", action="store_true", help="generate without the watermark (controls)")
    p.add_argument("--batch-size", type=positive_int, default=16)
    p.add_argument("--max-new-tokens", type=positive_int, default=128)
    p.add_argument("--min-new-tokens", type=nonneg_int, default=0,
                   help="forbid <eos> before this many new tokens (default 0: the model decides)")
    p.add_argument("--temperature", type=nonneg_float, default=0.7,
                   help="sampling temperature, finite > 0 (default 0.7; ignored with --greedy)")
    p.add_argument("--greedy", action="store_true", help="greedy decoding instead of sampling")
    p.add_argument("--seed", type=nonneg_int, default=0)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    add_scheme_args(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_cmd_generate)


def _check_generate_options(args: argparse.Namespace) -> None:
    """Refuse bad numeric options before anything is loaded or read."""
    if args.batch_size < 1:
        raise DistillguardError(f"--batch-size must be >= 1 (got {args.batch_size})")
    if args.max_new_tokens < 1:
        raise DistillguardError(f"--max-new-tokens must be >= 1 (got {args.max_new_tokens})")
    if not 0 <= args.min_new_tokens <= args.max_new_tokens:
        raise DistillguardError(f"--min-new-tokens must be between 0 and --max-new-tokens ({args.max_new_tokens}), "
                                f"got {args.min_new_tokens}")
    if not args.greedy and not (math.isfinite(args.temperature) and args.temperature > 0):
        raise DistillguardError(f"--temperature must be a finite number > 0 (got {args.temperature}); "
                                "use --greedy for greedy decoding")
    if args.sharegpt is not None and args.sharegpt < 1:
        raise DistillguardError(f"--sharegpt N needs N >= 1 (got {args.sharegpt})")


def _check_out_path(out: str, protected: dict[str, str | None]) -> None:
    """Refuse an --out that is an input (key, prompts), a directory, or in a missing/unwritable folder."""
    from distillguard.errors import refuse_overwrite
    from distillguard.watermark.generate import manifest_path

    refuse_overwrite({"--out": out, "the manifest of --out": str(manifest_path(out))}, protected)
    path = Path(out)
    if path.is_dir():
        raise DistillguardError(f"--out {out} is a directory; give a JSONL file path")
    parent = path.parent
    if not parent.is_dir():
        raise DistillguardError(f"--out {out}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DistillguardError(f"--out {out}: folder {parent} is not writable")
    if path.exists() and not os.access(path, os.W_OK):
        raise DistillguardError(f"--out {out} is not writable")


def _cmd_generate(args: argparse.Namespace) -> int:
    from distillguard.watermark.generate import (
        check_output,
        generate_jsonl,
        generation_settings,
        read_prompts,
    )

    # every check that can refuse runs before ShareGPT is read and before the tokenizer or model loads
    _check_generate_options(args)
    check_device(args.device)
    _check_out_path(args.out, {"the key file": args.key, "the prompts file": args.prompts})
    key = None if args.no_watermark else load_key(args)
    direction_file = None
    if key is not None:
        key, direction_file = scheme_key(args, key)
    elif args.scheme or args.lam is not None or args.proxy:
        raise DistillguardError("--no-watermark takes no --scheme, --lam or --proxy")
    gen_kwargs = dict(batch_size=args.batch_size, max_new_tokens=args.max_new_tokens,
                      min_new_tokens=args.min_new_tokens, do_sample=not args.greedy, temperature=args.temperature,
                      seed=args.seed)
    check_output(args.out, key, generation_settings(**gen_kwargs))  # the model is checked once it is loaded
    if args.prompts:
        records = read_prompts(args.prompts)
    else:
        from distillguard.data import sharegpt_prompts

        records = [{"id": f"sharegpt-{i}", "prompt": p}
                   for i, p in enumerate(sharegpt_prompts(args.sharegpt, seed=args.seed, max_chars=1000))]
    from distillguard.models import load_model

    check_scheme_proxy(args, key)  # before any model loads
    loaded = load_model(args.model, device=args.device)
    gen_kwargs.update(scheme_models(args, key, direction_file))
    stats = generate_jsonl(loaded, records, args.out, key, **gen_kwargs)
    stats["out"] = args.out
    stats["key_fingerprint"] = None if key is None else key.fingerprint
    if args.json:
        print_json(stats)
    else:
        print(f"{stats['generated']} generated, {stats['skipped']} already done -> {args.out}")
    return 0


# -- ads-direction ------------------------------------------------------------------------------------------
def _add_ads_direction(sub) -> None:
    p = sub.add_parser(
        "ads-direction",
        help="precompute the antidistillation-sampling direction of a proxy (safetensors, next to the key)",
        epilog="example:\n  distillguard generate --key teacher.key --sharegpt 64 --out heldout.jsonl --no-watermark\n"
        "  distillguard ads-direction --key teacher.key --answers heldout.jsonl\n"
        "  distillguard generate --key teacher.key --scheme ads --lam 1 --prompts p.txt --out a.jsonl\n"
        "exit codes: 0 = done; 2 = bad input or failure",
        **fmt("g = the unit-norm gradient of the proxy's mean NLL on held-out teacher answers (a generate "
               "output). Written as safetensors (no pickle) to KEY.ads.safetensors unless --out is given; "
               "generate --scheme ads records its SHA-256 in the answers' spec."),
    )
    add_key_arg(p)
    p.add_argument("--answers", required=True, metavar="JSONL", help="held-out teacher answers (generate output)")
    p.add_argument("--proxy", default=None, metavar="MODEL", help="the proxy (default: the teacher)")
    p.add_argument("--model", default=None, help="the teacher (its tokenizer is the reference)")
    p.add_argument("--out", default=None, metavar="FILE", help="where to write it (default KEY.ads.safetensors)")
    p.add_argument("--force", action="store_true", help="overwrite an existing direction file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_ads_direction)


def _cmd_ads_direction(args: argparse.Namespace) -> int:
    from distillguard.watermark.ads import ads_direction, direction_path, save_direction

    if args.out is None and not args.key:
        raise DistillguardError("give --out (or --key, to write KEY.ads.safetensors next to it)")
    out = args.out or str(direction_path(args.key))
    check_output("--out", out, {"the key file": args.key, "--answers": args.answers}, force=args.force)
    key = load_key(args)
    rows = []
    for i, line in enumerate(Path(args.answers).read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DistillguardError(f"{args.answers}:{i}: not valid JSON") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str) \
                    or not isinstance(rec.get("response"), str):
                raise DistillguardError(f"{args.answers}:{i}: needs 'prompt' and 'response' strings")
            rows.append((rec["prompt"], rec["response"]))
    if not rows:
        raise DistillguardError(f"{args.answers} holds no answers")
    from distillguard.models import load_model
    from distillguard.watermark.adfp import check_proxy_tokenizer
    from distillguard.watermark.generate import encode_prompt_text

    proxy = load_model(args.proxy or args.model)
    if args.proxy:
        check_proxy_tokenizer(proxy.tokenizer, key.require_spec(), load_model(args.model).tokenizer
                              if key.require_spec().tokenizer_id is None else None)
    tok = proxy.tokenizer
    seqs = []
    for prompt, answer in rows:
        head = tok.encode(encode_prompt_text(tok, prompt) if proxy.is_chat else prompt, add_special_tokens=False)
        seqs.append((head + tok.encode(answer, add_special_tokens=False), len(head)))
    direction, info = ads_direction(proxy.model, seqs)
    sha = save_direction(direction, out, proxy_id=proxy.identity, overwrite=args.force)
    result = {"out": out, "sha256": sha, "answers": len(rows), "proxy": proxy.identity, **info}
    if args.json:
        print_json(result)
    else:
        print(f"wrote {out} (sha256 {sha[:16]}..., {info['tokens']} answer tokens, proxy {proxy.identity})")
    return 0


# -- score-text ---------------------------------------------------------------------------------------------
def _add_score_text(sub) -> None:
    p = sub.add_parser(
        "score-text",
        help="test whether text carries the watermark (exact binomial p-value)",
        epilog="examples:\n  distillguard score-text --key teacher.key answer.txt\n"
        "  echo 'some text' | distillguard score-text --key teacher.key -\n"
        "  distillguard score-text --key teacher.key --jsonl answers.jsonl --json\n" + EPILOG_EXIT,
        **fmt("Count green tokens once per distinct (context, token) coin and test against gamma with an "
               "exact binomial tail. A text is 'detected' when p <= --alpha."),
    )
    add_key_arg(p)
    p.add_argument("inputs", nargs="*", metavar="FILE", help="text files to score ('-' = stdin)")
    p.add_argument("--text", help="score this string")
    p.add_argument("--jsonl", metavar="FILE", help="score the --field of every record of a JSONL file")
    p.add_argument("--field", default="response", help="JSONL field holding the text (default: response)")
    p.add_argument("--model", default=None, help="tokenizer to use (default: the SmolLM2 teacher)")
    p.add_argument("--account", help="test with this account's sub-key")
    p.add_argument("--alpha", type=probability, default=None, help="detection threshold on the p-value (default 1e-5)")
    p.add_argument("--json", action="store_true", help="print results as JSON")
    p.set_defaults(func=_cmd_score_text)


def _cmd_score_text(args: argparse.Namespace) -> int:
    from distillguard.detect.text import (
        DEFAULT_ALPHA,
        MAX_TEXT_CHARS,
        check_text_size,
        check_tokenizer,
        score_batch,
    )
    from distillguard.models import load_tokenizer

    alpha = DEFAULT_ALPHA if args.alpha is None else args.alpha
    texts: list[tuple[str, str]] = []
    if args.text is not None:
        texts.append(("--text", check_text_size(args.text, "--text")))
    for name in args.inputs:
        if name == "-":
            texts.append(("stdin", check_text_size(_read_stdin(), "stdin")))
        else:
            texts.append((name, check_text_size(_read_text_file(name), name)))
    if args.jsonl:
        _check_file_size(args.jsonl, 64 * MAX_TEXT_CHARS)
        try:
            lines = Path(args.jsonl).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DistillguardError(f"cannot read {args.jsonl}: {exc.__class__.__name__}") from None
        for i, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DistillguardError(f"{args.jsonl}:{i}: not valid JSON") from None
            if not isinstance(rec, dict) or not isinstance(rec.get(args.field), str):
                raise DistillguardError(f"{args.jsonl}:{i}: no string field '{args.field}'")
            texts.append((f"{args.jsonl}:{rec.get('id', i)}",
                          check_text_size(rec[args.field], f"{args.jsonl}:{i}")))
    if not texts:
        raise DistillguardError("nothing to score: give FILE, -, --text or --jsonl")
    for name, text in texts:
        if not text.strip():
            raise DistillguardError(f"{name}: empty text, nothing to score")
    key = load_key(args)
    spec = key.require_spec()
    tok = load_tokenizer(args.model)
    check_tokenizer(tok, spec)
    results = []
    for chunk in _chunks_by_size(texts, MAX_TEXT_CHARS):  # memory stays bounded: one chunk tokenised at a time
        results += score_batch([tok.encode(t, add_special_tokens=False) for _, t in chunk], key, alpha=alpha)
    detected = any(r.detected for r in results)
    if args.json:
        print_json({"alpha": alpha, "key_fingerprint": key.fingerprint, "detected": detected,
                     "results": [{"source": n, **r.to_dict()} for (n, _), r in zip(texts, results)]})
    else:
        print(f"{'source':<32} {'tokens':>7} {'scored':>7} {'green':>7} {'z':>7} {'log10 p':>9}  verdict")
        for (n, _), r in zip(texts, results):
            verdict = "WATERMARKED" if r.detected else "not detected"
            print(f"{n[-32:]:<32} {r.tokens:>7} {r.scored:>7} {r.green_fraction:>7.3f} {r.z:>7.2f} "
                  f"{r.log10_p:>9.2f}  {verdict}{'  (' + r.note + ')' if r.note else ''}")
        print(f"threshold: p <= {alpha:g}; key {key.fingerprint}")
    return EXIT_DETECTED if detected else EXIT_NOT_DETECTED


def _chunks_by_size(texts: list[tuple[str, str]], limit: int) -> list[list[tuple[str, str]]]:
    """Consecutive groups of texts of at most ``limit`` characters together (a longer text alone)."""
    out: list[list[tuple[str, str]]] = []
    size = 0
    for item in texts:
        if not out or size + len(item[1]) > limit:
            out.append([])
            size = 0
        out[-1].append(item)
        size += len(item[1])
    return out


def _check_file_size(name: str, limit_bytes: int) -> None:
    try:
        size = os.path.getsize(name)
    except OSError:
        return  # the read below reports a missing or unreadable file
    if size > limit_bytes:
        raise DistillguardError(f"{name}: {size} bytes is above the limit of {limit_bytes} bytes; split it")


def _read_text_file(name: str) -> str:
    from distillguard.detect.text import MAX_TEXT_CHARS

    _check_file_size(name, 4 * MAX_TEXT_CHARS)  # before reading: a UTF-8 character is at most 4 bytes
    try:
        return Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DistillguardError(f"cannot read {name}: {exc.__class__.__name__}") from None


def _read_stdin() -> str:
    from distillguard.detect.text import MAX_TEXT_CHARS

    limit = 4 * MAX_TEXT_CHARS + 1
    raw = sys.stdin.buffer.read(limit) if hasattr(sys.stdin, "buffer") else sys.stdin.read(limit)
    if len(raw) >= limit:
        raise DistillguardError(f"stdin: more than {limit - 1} bytes; split the text")
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DistillguardError("cannot read stdin: not UTF-8 text") from None
