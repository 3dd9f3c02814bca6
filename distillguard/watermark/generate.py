"""Batched (watermarked) generation: prompts in, JSONL records out, resumable, with a progress bar."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, check_tokenizer
from distillguard.models import LoadedModel
from distillguard.watermark.adfp import ADFPLogitsProcessor
from distillguard.watermark.ads import ADSLogitsProcessor
from distillguard.watermark.processor import WatermarkLogitsProcessor

__all__ = [
    "read_prompts", "generate_records", "generate_jsonl", "encode_prompts", "manifest_path", "generation_settings",
    "build_manifest", "check_output", "OutputState", "mark_processors",
]


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


def mark_processors(
    loaded: LoadedModel,
    row_keys: WatermarkKey | list[WatermarkKey],
    *,
    proxy: LoadedModel | None = None,
    ads_direction: dict[str, torch.Tensor] | None = None,
    temperature: float = 1.0,
    ads: ADSLogitsProcessor | None = None,
) -> list[Any]:
    """The logits processors the key's ``mark_scheme`` asks for, in order: the mark (KGW or ADFP), then ADS.

    ``proxy``: the ADFP / ADS proxy (``None``: the teacher itself -- for ADFP no extra forward pass, for ADS
    its two moved copies). ``ads_direction``: the loaded ADS direction (required when the scheme has ADS),
    or pass an already built ``ads`` processor to reuse its two proxy copies across batches.

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.watermark.generate import mark_processors
        >>> key = WatermarkKey(b"\x01" * 32, WatermarkSpec(vocab_size=100, mark_scheme="adfp", adfp_lambda=8.0))
        >>> [type(p).__name__ for p in mark_processors(None, key)]
        ['ADFPLogitsProcessor']
    """
    first = row_keys if isinstance(row_keys, WatermarkKey) else row_keys[0]
    spec = first.require_spec()
    parts = spec.mark_scheme.split("+")
    tok = None if loaded is None else loaded.tokenizer
    pad = None if tok is None else tok.pad_token_id
    out: list[Any] = []
    if "kgw" in parts:
        out.append(WatermarkLogitsProcessor(row_keys))
    if "adfp" in parts:
        out.append(ADFPLogitsProcessor(row_keys, proxy=proxy, teacher_tokenizer=tok, pad_token_id=pad))
    if "ads" in parts:
        if ads is None:
            if ads_direction is None:
                raise DistillguardError(f"mark scheme {spec.mark_scheme!r} needs the ADS direction artefact")
            ads = ADSLogitsProcessor(proxy if proxy is not None else loaded, ads_direction, spec.ads_lambda,
                                     spec.ads_epsilon, temperature=temperature, spec=spec, teacher_tokenizer=tok,
                                     pad_token_id=pad)
        out.append(ads)
    return out


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
    proxy: LoadedModel | None = None,
    ads_direction: dict[str, torch.Tensor] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one output record per prompt record, generating in batches (``key=None``: no watermark).

    Records with an ``account_id`` are marked with that account's sub-key of ``key`` (row keys in one
    batch). Sampling is seeded per batch, so a resumed run reproduces the same batches.
    ``min_new_tokens`` forbids <eos> before that many new tokens (short answers carry too few coins).
    The key spec's ``mark_scheme`` picks the processors (:func:`mark_processors`; ``proxy`` and
    ``ads_direction`` serve ADFP and ADS).

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
        check_tokenizer(tok, spec)
    device = next(model.parameters()).device
    ads = None
    if spec is not None and "ads" in spec.mark_scheme.split("+"):  # key-independent: two proxy copies, made once
        ads = mark_processors(loaded, key, proxy=proxy, ads_direction=ads_direction, temperature=temperature
                              if do_sample else 1.0)[-1]
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
            kwargs["logits_processor"] = mark_processors(loaded, _row_keys(key, batch), proxy=proxy, ads=ads)
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
                "watermarked": key is not None and key.require_spec().is_marked,
                "key_fingerprint": None if used is None else used.fingerprint,
                "model": loaded.identity,
            }
        bar.update(len(batch))
    bar.close()


# -- resumable output: the manifest and the existing records ---------------------------------------------
MANIFEST_FORMAT = "distillguard-generate"
MANIFEST_VERSION = 1
#: Generation settings that change the answers, recorded in the manifest and checked on resume.
ANSWER_SETTINGS = ("max_new_tokens", "min_new_tokens", "do_sample", "temperature", "top_k", "seed", "batch_size")


def manifest_path(out_path: str | os.PathLike) -> Path:
    """Where the manifest of a generate output lives: ``<out>.manifest.json`` next to it.

    Example:
        >>> from distillguard.watermark.generate import manifest_path
        >>> manifest_path("runs/answers.jsonl").as_posix()
        'runs/answers.jsonl.manifest.json'
    """
    out_path = Path(out_path)
    return out_path.with_name(out_path.name + ".manifest.json")


def generation_settings(**kwargs: Any) -> dict[str, Any]:
    """The answer-changing settings of a :func:`generate_records` call (its defaults filled in), as recorded.

    Sampling parameters are ``None`` under greedy decoding (they do not change the answers there); other
    keyword arguments (``progress``) are ignored.

    Example:
        >>> from distillguard.watermark.generate import generation_settings
        >>> s = generation_settings(max_new_tokens=64)
        >>> s["max_new_tokens"], s["batch_size"], s["temperature"]
        (64, 16, 1.0)
        >>> generation_settings(do_sample=False, temperature=0.3)["temperature"] is None
        True
    """
    merged = {**(generate_records.__kwdefaults__ or {}), **kwargs}
    s: dict[str, Any] = {name: merged[name] for name in ANSWER_SETTINGS}
    s["do_sample"] = bool(s["do_sample"])
    for name in ("max_new_tokens", "min_new_tokens", "seed", "batch_size", "top_k"):
        s[name] = int(s[name])
    s["temperature"] = float(s["temperature"])
    if not s["do_sample"]:
        s["temperature"] = s["top_k"] = None
    return s


def build_manifest(key: WatermarkKey | None, model_identity: str | None, settings: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a generate output: what made it (never the key's secret, only its public fingerprint).

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.watermark.generate import build_manifest, generation_settings
        >>> key = WatermarkKey.generate(WatermarkSpec(vocab_size=100))
        >>> m = build_manifest(key, "tiny@sha256:0123", generation_settings())
        >>> m["format"], m["key_fingerprint"] == key.fingerprint, key._master.hex() in str(m)
        ('distillguard-generate', True, False)
    """
    return {
        "format": MANIFEST_FORMAT,
        "version": MANIFEST_VERSION,
        "key_fingerprint": None if key is None else key.fingerprint,
        "spec": None if key is None else key.require_spec().to_dict(),
        "model": model_identity,
        "settings": dict(settings),
    }


@dataclass
class OutputState:
    """What :func:`check_output` found at an output path (it writes nothing).

    Attributes:
        done: ids of the complete records already there.
        keep_bytes: bytes to keep; less than ``size`` only when a torn final line (no newline) is dropped.
        size: current size of the file (0 when it does not exist).
        new: no records there yet (missing or empty file): the manifest is (re)written.
    """

    done: set[str]
    keep_bytes: int
    size: int
    new: bool


def _read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path``, ``None`` when there is none; raises when a file there is not one."""
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:  # ValueError covers JSON and UTF-8 errors
        raise DistillguardError(f"{path} cannot be read as a generate manifest ({exc.__class__.__name__})") from None
    if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
        raise DistillguardError(f"{path} exists and is not a {MANIFEST_FORMAT} manifest; choose another --out")
    return doc


def _manifest_differences(found: dict[str, Any], wanted: dict[str, Any], check_model: bool) -> list[str]:
    diffs: list[str] = []
    if found.get("version") != wanted["version"]:
        diffs.append(f"manifest version {found.get('version')!r} (this is {wanted['version']})")
    if found.get("key_fingerprint") != wanted["key_fingerprint"]:
        diffs.append(f"key {found.get('key_fingerprint') or 'none (no watermark)'} there, "
                     f"{wanted['key_fingerprint'] or 'none (no watermark)'} now")
    elif found.get("spec") != wanted["spec"]:
        diffs.append("another watermark spec")
    if check_model and found.get("model") != wanted["model"]:
        diffs.append(f"model {found.get('model')} there, {wanted['model']} now")
    there = found.get("settings") if isinstance(found.get("settings"), dict) else {}
    for name, value in wanted["settings"].items():
        if there.get(name) != value:
            diffs.append(f"{name} {there.get(name)!r} there, {value!r} now")
    return diffs


def check_output(
    out_path: str | os.PathLike,
    key: WatermarkKey | None,
    settings: dict[str, Any],
    model_identity: str | None = None,
) -> OutputState:
    """Check that ``out_path`` may be written by this generate run, before any model is loaded; writes nothing.

    A missing or empty file is new. A non-empty one must have a matching manifest (key fingerprint, spec,
    settings, and the model when ``model_identity`` is given) and every complete line must be a JSON
    record with an ``id``; only a torn final line (no trailing newline) is marked to be dropped. Anything
    else raises :class:`~distillguard.errors.DistillguardError` and the file stays as it is.

    Example:
        >>> import tempfile, os
        >>> from distillguard.watermark.generate import check_output, generation_settings
        >>> out = os.path.join(tempfile.mkdtemp(), "answers.jsonl")
        >>> check_output(out, None, generation_settings()).new
        True
        >>> _ = open(out, "w").write("account_id,prompt\\nacct-1,hello\\n")
        >>> check_output(out, None, generation_settings())  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: ...answers.jsonl exists and is not the output of this generate command (no answers.jsonl.manifest.json next to it); choose another --out
    """
    out_path = Path(out_path)
    if out_path.is_dir():
        raise DistillguardError(f"{out_path} is a directory; --out must name a JSONL file")
    mpath = manifest_path(out_path)
    size = out_path.stat().st_size if out_path.exists() else 0
    found = _read_manifest(mpath)  # raises when a foreign file sits where the manifest goes
    if size == 0:
        return OutputState(done=set(), keep_bytes=0, size=0, new=True)
    if found is None:
        raise DistillguardError(
            f"{out_path} exists and is not the output of this generate command (no {mpath.name} next to it); "
            "choose another --out"
        )
    wanted = json.loads(json.dumps(build_manifest(key, model_identity, settings)))  # compared as stored
    diffs = _manifest_differences(found, wanted, check_model=model_identity is not None)
    if diffs:
        raise DistillguardError(
            f"{out_path} was made with another key, model or settings ({'; '.join(diffs)}); "
            "rerun with the same ones or choose another --out"
        )
    data = out_path.read_bytes()
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: b"" when the file ends cleanly, else a write killed midway
    done: set[str] = set()
    for i, line in enumerate(lines, start=1):
        try:
            rec = json.loads(line)
        except ValueError:  # invalid JSON or invalid UTF-8
            rec = None
        if not isinstance(rec, dict) or "id" not in rec:
            raise DistillguardError(
                f"{out_path}:{i}: not a generate record (a JSON object with an 'id'); the file is left "
                "unchanged: repair or remove that line, or choose another --out"
            )
        done.add(str(rec["id"]))
    return OutputState(done=done, keep_bytes=len(data) - len(torn), size=len(data), new=False)


def _write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically (temp file in the same folder, then ``os.replace``)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def generate_jsonl(
    loaded: LoadedModel,
    records: Iterable[dict[str, Any]],
    out_path: str | os.PathLike,
    key: WatermarkKey | None,
    **kwargs: Any,
) -> dict[str, int]:
    """Generate answers for prompt records into ``out_path`` (JSONL), skipping ids already there (resume).

    The output owns a manifest, ``<out_path>.manifest.json`` (see :func:`build_manifest`), written when the
    output is created. A rerun resumes only when the manifest matches the key, spec, model and settings
    (:func:`check_output`); otherwise it refuses and the file is left byte-identical. Resume never drops a
    record: only a torn final line (no trailing newline) is cut off and regenerated. ``kwargs`` go to
    :func:`generate_records`.

    Returns counts: ``{"total", "skipped", "generated"}``.

    Example:
        >>> from distillguard.watermark.generate import generate_jsonl  # doctest: +SKIP
        >>> generate_jsonl(teacher, [{"id": "p1", "prompt": "Hi"}], "a.jsonl", key, max_new_tokens=32)  # doctest: +SKIP
        {'total': 1, 'skipped': 0, 'generated': 1}
    """
    out_path = Path(out_path)
    records = list(records)
    settings = generation_settings(**kwargs)
    state = check_output(out_path, key, settings, model_identity=loaded.identity)
    todo = [r for r in records if str(r["id"]) not in state.done]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    if state.new:
        _write_manifest(manifest_path(out_path), build_manifest(key, loaded.identity, settings))
    elif state.keep_bytes < state.size:
        with out_path.open("r+b") as fh:  # only the torn final line goes
            fh.truncate(state.keep_bytes)
    n = 0
    batch_size = settings["batch_size"]
    with out_path.open("a", encoding="utf-8") as fh:
        for rec in generate_records(loaded, todo, key, **kwargs):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            n += 1
            if n % batch_size == 0:
                fh.flush()
                os.fsync(fh.fileno())
    return {"total": len(records), "skipped": len(records) - len(todo), "generated": n}
