"""Shadow students: the provider distils its own *clean* teacher into a model shaped like the suspect.

Reading mode's rank statistic ranks the vocabulary by the suspect's averaged next-token log-probabilities.
Most of that ranking is not the watermark: it is what any student of that shape learns from this teacher
(token frequencies, the tokens a small model never learns well). A shadow student -- same configuration,
random initialisation with its own seed, distilled from the unwatermarked teacher on texts the provider
chooses -- has all of that and none of the watermark. Ranked relative to it (``distillguard detect
--reading-reference SHADOW``), a distilled suspect's green tokens stand out far more. The shadow never sees
the key, so the rank test's null stays exact.

Only the suspect's ``config.json`` is read (``trust_remote_code=False``): its weights are not loaded, and
nothing in its directory is written.

Example:
    >>> from distillguard.distill.shadow import train_shadow  # doctest: +SKIP
    >>> train_shadow("suspect/", "runs/shadow", n_texts=1000)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from distillguard.distill.harvest import harvest_topk, load_topk, real_texts, watermark_topk
from distillguard.distill.student import save_student, train_student
from distillguard.errors import DistillguardError

__all__ = ["shadow_model", "train_shadow"]


def _suspect_dir(suspect_dir: str | Path) -> Path:
    path = Path(suspect_dir).expanduser()
    if not (path / "config.json").is_file():
        raise DistillguardError(f"{path}: a shadow student needs the suspect's Hugging Face directory with a "
                                "config.json (a GGUF file or an HTTP endpoint does not give its configuration)")
    return path


def shadow_model(suspect_dir: str | Path, vocab_size: int, *, seed: int = 1) -> Any:
    """A randomly initialised causal LM with the configuration of the suspect in ``suspect_dir``.

    Reads ``config.json`` only (no weights, no remote code). The configuration's vocabulary must cover the
    teacher's tokenizer (``vocab_size`` entries): the rank statistic compares the two token by token.

    Example:
        >>> import tempfile
        >>> from distillguard.distill.shadow import shadow_model
        >>> from distillguard.distill.student import make_student
        >>> d = tempfile.mkdtemp(); make_student(64, layers=1, hidden=32).config.save_pretrained(d)
        >>> shadow_model(d, 64).config.num_hidden_layers
        1
    """
    from transformers import AutoConfig, AutoModelForCausalLM

    path = _suspect_dir(suspect_dir)
    try:
        cfg = AutoConfig.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError, KeyError) as exc:
        raise DistillguardError(f"{path}/config.json cannot be read as a model configuration: {exc}") from None
    if getattr(cfg, "vocab_size", 0) < vocab_size:
        raise DistillguardError(f"the suspect's vocabulary ({getattr(cfg, 'vocab_size', 0)}) is smaller than the "
                                f"teacher tokenizer's ({vocab_size}): not the teacher's tokenizer, no shadow to build")
    torch.manual_seed(seed)
    try:
        return AutoModelForCausalLM.from_config(cfg, trust_remote_code=False)
    except ValueError as exc:
        raise DistillguardError(f"no causal LM can be built from {path}/config.json: {exc}") from None


def train_shadow(
    suspect_dir: str | Path,
    out_dir: str | Path,
    *,
    teacher: Any = None,
    texts: list[str] | None = None,
    n_texts: int = 1000,
    skip: int = 0,
    epochs: int = 2,
    seed: int = 1,
    k: int = 20,
    progress: bool = True,
) -> dict[str, Any]:
    """Distil the clean ``teacher`` into a shadow of the suspect's shape; save it in ``out_dir`` (cached).

    The teacher's top-``k`` log-probs on ``texts`` (default: ``n_texts`` real ShareGPT answers after
    ``skip``) are the targets, as in the distillation simulator, without any watermark. The harvest is kept
    under ``out_dir/harvest`` (resumable); a finished shadow (``shadow.json``) is reused.

    Example:
        >>> from distillguard.distill.shadow import train_shadow  # doctest: +SKIP
        >>> info = train_shadow("suspect/", "runs/shadow", n_texts=1000)  # doctest: +SKIP
    """
    from distillguard.models import load_model

    out = Path(out_dir)
    done = out / "shadow.json"
    if done.exists():
        return json.loads(done.read_text())
    if _suspect_dir(suspect_dir).resolve() == out.resolve():
        raise DistillguardError("the shadow's output directory is the suspect's: choose another --out")
    teacher = teacher if teacher is not None else load_model(None)
    tok = teacher.tokenizer
    model = shadow_model(suspect_dir, len(tok), seed=seed)
    texts = texts if texts is not None else real_texts("train", n_texts, skip=skip)
    if not texts:
        raise DistillguardError("no text to distil the shadow on")
    t0 = time.perf_counter()
    harvest_topk(teacher, texts, out / "harvest", k=max(k, 64), max_len=256, shard_size=50, progress=progress)
    harvest = load_topk(out / "harvest")
    ids, lp, _ = watermark_topk(harvest, None, k=k)  # key None: the clean teacher's top-k
    loss = train_student(model, harvest.ids, harvest.lengths, ids, lp, epochs=epochs, seed=seed, desc="shadow",
                         progress=progress)
    save_student(model, tok, out)
    info = {"like": str(suspect_dir), "teacher": teacher.identity, "texts": len(texts), "skip": skip,
            "positions": int(len(harvest.ids)), "top_k": k, "epochs": epochs, "seed": seed, "final_loss": loss,
            "seconds": round(time.perf_counter() - t0, 1)}
    done.write_text(json.dumps(info, indent=2))
    return info
