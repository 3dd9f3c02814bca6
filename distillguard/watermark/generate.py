"""Batched (watermarked) generation: prompts in, JSONL records out, resumable, with a progress bar."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey
from distillguard.models import LoadedModel
from distillguard.watermark.processor import WatermarkLogitsProcessor

__all__ = ["read_prompts", "generate_records", "generate_jsonl", "encode_prompts"]


def read_prompts(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Read prompts from a text file (one per line) or JSONL (``prompt`` field; optional ``id``, ``account_id``).

    Every record gets an ``id`` (``p<line number>`` when the file gives none).

    Example:
        >>> import tempfile, os
        >>> from distillguard.watermark.generate import read_prompts
        >>> path = os.path.join(tempfile.mkdtemp(), "p.txt")
        >>> _ = open(path, "w").write("Hello\\n\\nWhat is 2+2?\\n")
        >>> [r["id"] for r in read_prompts(path)]
        ['p1', 'p3']
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DistillguardError(f"prompt file {path} does not exist") from None
    except UnicodeDecodeError:
        raise DistillguardError(f"prompt file {path} is not UTF-8 text") from None
    records: list[dict[str, Any]] = []
    is_jsonl = path.suffix.lower() in (".jsonl", ".json")
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if is_jsonl:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DistillguardError(f"{path}:{i}: not valid JSON") from None
            if not isinstance(rec, dict) or not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
                raise DistillguardError(f"{path}:{i}: each JSONL record needs a non-empty 'prompt' string")
            rec = dict(rec)
            rec["id"] = str(rec.get("id", f"p{i}"))
        else:
            rec = {"id": f"p{i}", "prompt": line}
        records.append(rec)
    if not records:
        raise DistillguardError(f"prompt file {path} has no prompts")
    ids = [r["id"] for r in records]
    if len(set(ids)) != len(ids):
        raise DistillguardError(f"prompt file {path}: duplicate ids")
    return records


def encode_prompt_text(tok: Any, prompt: str) -> str:
    """The text a chat model is fed for one user prompt (its chat template), or the prompt itself.

    Example:
        >>> from distillguard.watermark.generate import encode_prompt_text
        >>> class Plain: chat_template = None
        >>> encode_prompt_text(Plain(), "hi")
        'hi'
    """
    if getattr(tok, "chat_template", None):
        return tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                       tokenize=False)
    return prompt


def encode_prompts(loaded: LoadedModel, prompts: Sequence[str]) -> dict[str, torch.Tensor]:
    """Tokenise a batch of prompts (chat template for chat models), left-padded.

    Example:
        >>> from distillguard.watermark.generate import encode_prompts  # doctest: +SKIP
    """
    tok = loaded.tokenizer
    if loaded.is_chat:
        texts = [encode_prompt_text(tok, p) for p in prompts]
        return tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    return tok(list(prompts), return_tensors="pt", padding=True)


def _row_keys(key: WatermarkKey, batch: Sequence[dict[str, Any]]) -> WatermarkKey | list[WatermarkKey]:
    accounts = [r.get("account_id") for r in batch]
    if key.account is not None or all(a is None for a in accounts):
        return key
    return [key.for_account(str(a)) if a is not None else key for a in accounts]


def generate_records(
    loaded: LoadedModel,
    records: Sequence[dict[str, Any]],
    key: WatermarkKey | None,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 128,
    min_new_tokens: int = 0,
    do_sample: bool = True,
    temperature: float = 1.0,
    top_k: int = 0,
    seed: int = 0,
    progress: bool = True,
) -> Iterator[dict[str, Any]]:
    """Yield one output record per prompt record, generating in batches (``key=None``: no watermark).

    Records with an ``account_id`` are marked with that account's sub-key of ``key`` (row keys in one
    batch). Sampling is seeded per batch, so a resumed run reproduces the same batches.
    ``min_new_tokens`` forbids <eos> before that many new tokens (short answers carry too few coins).

    Example:
        >>> from distillguard.watermark.generate import generate_records  # doctest: +SKIP
    """
    model, tok = loaded.model, loaded.tokenizer
    spec = key.require_spec() if key is not None else None
    if spec is not None and spec.vocab_size < len(tok):
        raise DistillguardError(
            f"vocab mismatch: the key covers {spec.vocab_size} tokens, the model's tokenizer has {len(tok)}"
        )
    if spec is not None and spec.tokenizer_id is not None:
        from distillguard.detect.text import check_tokenizer

        check_tokenizer(tok, spec)
    device = next(model.parameters()).device
    bar = tqdm(total=len(records), desc="generating", unit="prompt", disable=not progress)
    for b0 in range(0, len(records), batch_size):
        batch = records[b0 : b0 + batch_size]
        enc = encode_prompts(loaded, [r["prompt"] for r in batch]).to(device)
        kwargs: dict[str, Any] = dict(
            max_new_tokens=max_new_tokens,
            do_sample=do_sample,
            pad_token_id=tok.pad_token_id,
        )
        if min_new_tokens > 0:
            kwargs["min_new_tokens"] = min_new_tokens
        if do_sample:
            kwargs.update(temperature=temperature, top_k=top_k, top_p=1.0)
        if key is not None:
            kwargs["logits_processor"] = [WatermarkLogitsProcessor(_row_keys(key, batch))]
        torch.manual_seed(seed * 1_000_003 + b0)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        for rec, ids in zip(batch, new):
            finish = "length"
            stop = {tok.eos_token_id, tok.pad_token_id}
            for j, t in enumerate(ids):
                if t in stop:
                    ids, finish = ids[:j], "eos"
                    break
            acct = rec.get("account_id")
            used = None if key is None else (key.for_account(str(acct)) if acct is not None and key.account is None else key)
            yield {
                **{k: v for k, v in rec.items()},
                "response": tok.decode(ids, skip_special_tokens=True),
                "response_ids": ids,
                "finish": finish,
                "watermarked": key is not None,
                "key_fingerprint": None if used is None else used.fingerprint,
                "model": loaded.identity,
            }
        bar.update(len(batch))
    bar.close()


def _done_ids(out_path: Path) -> set[str]:
    """Ids already written; a torn last line (killed mid-write) is cut off so the file stays valid JSONL."""
    if not out_path.exists():
        return set()
    done: set[str] = set()
    good_bytes = 0
    with out_path.open("rb") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
                done.add(str(rec["id"]))
                good_bytes += len(line)
            except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
                break
    if good_bytes != out_path.stat().st_size:
        with out_path.open("r+b") as fh:
            fh.truncate(good_bytes)
    return done


def generate_jsonl(
    loaded: LoadedModel,
    records: Iterable[dict[str, Any]],
    out_path: str | os.PathLike,
    key: WatermarkKey | None,
    **kwargs: Any,
) -> dict[str, int]:
    """Generate answers for prompt records into ``out_path`` (JSONL), skipping ids already there (resume).

    Returns counts: ``{"total", "skipped", "generated"}``.

    Example:
        >>> from distillguard.watermark.generate import generate_jsonl  # doctest: +SKIP
    """
    out_path = Path(out_path)
    records = list(records)
    done = _done_ids(out_path)
    todo = [r for r in records if str(r["id"]) not in done]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with out_path.open("a", encoding="utf-8") as fh:
        for rec in generate_records(loaded, todo, key, **kwargs):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if n % kwargs.get("batch_size", 16) == 0:
                fh.flush()
                os.fsync(fh.fileno())
    return {"total": len(records), "skipped": len(records) - len(todo), "generated": n}
