"""Antidistillation sampling (ADS): answers that stay good for the user and teach a student less.

ADS (Savani et al., arXiv 2504.13146) bends the teacher's sampling distribution toward tokens that, if a
student were trained on them, would *raise* the student's loss on held-out teacher answers. A proxy
student stands in for the real one:

1. once, :func:`ads_direction`: ``g = grad_theta`` of the proxy's mean NLL on held-out teacher answers,
   scaled to unit L2 norm (so that lambda and epsilon mean the same for any proxy and any number of
   answers), saved with :func:`save_direction` as safetensors next to the key; its SHA-256 goes in the spec;
2. two copies of the proxy, ``theta+ = theta + eps * g`` and ``theta- = theta - eps * g``, each with its own
   KV cache;
3. per step ``D = (logits_{theta+} - logits_{theta-}) / (2 eps)`` (the directional derivative of the
   proxy's logits along ``g``: training on token v changes the held-out NLL by about ``eta * D_v`` up to a
   per-row constant), and the teacher samples from ``z / tau + lambda * D``.

:class:`ADSLogitsProcessor` adds ``tau * lambda * D`` to the raw scores: ``generate`` applies its
temperature warper after the user's logits processors, so the sampler sees exactly ``z / tau + lambda * D``,
and lambda = 0 leaves sampling bit for bit as it was.

ADS composes with either mark: ADFP (or KGW) and ADS are additive shifts of the same logits, ADS's does not
depend on the key (it cannot make unmarked text look marked), so put the mark's processor first and ADS's
after it (:attr:`~distillguard.keys.WatermarkSpec.mark_scheme` ``"adfp+ads"`` / ``"kgw+ads"``).
"""

from __future__ import annotations

import copy
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import LogitsProcessor

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkSpec
from distillguard.watermark.adfp import ProxyRunner, check_proxy_tokenizer

__all__ = ["ADSLogitsProcessor", "ads_direction", "save_direction", "load_direction", "direction_path",
           "DIRECTION_FORMAT"]

#: ``format`` field of a direction artefact's safetensors metadata.
DIRECTION_FORMAT = "distillguard-ads-direction-v1"


def direction_path(key_path: str | os.PathLike) -> Path:
    """Where the ADS direction of a key file lives: ``<key>.ads.safetensors`` next to it.

    Example:
        >>> from distillguard.watermark.ads import direction_path
        >>> direction_path("keys/teacher.key").as_posix()
        'keys/teacher.key.ads.safetensors'
    """
    key_path = Path(key_path)
    return key_path.with_name(key_path.name + ".ads.safetensors")


def ads_direction(model: Any, sequences: Sequence[tuple[Sequence[int], int]], *, batch_size: int = 8
                  ) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """``g``: the unit-norm gradient of the proxy's mean NLL over the answer tokens of held-out teacher answers.

    ``sequences``: ``(token ids, answer start)`` pairs -- the prompt (chat template included) followed by the
    teacher's answer; only positions ``>= answer start`` are scored. Returns the direction (one float32
    tensor per trainable parameter, by ``named_parameters`` name, tied weights once) and
    ``{"grad_norm", "tokens"}``. The model is left in eval mode with no gradients.

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from distillguard.watermark.ads import ads_direction
        >>> _ = torch.manual_seed(0)
        >>> lm = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
        >>> g, info = ads_direction(lm, [([1, 2, 3, 4, 5], 2), ([6, 7, 8], 1)])
        >>> round(float(sum((t ** 2).sum() for t in g.values())) ** 0.5, 4), info["tokens"]
        (1.0, 5)
    """
    if not sequences:
        raise DistillguardError("the ADS direction needs at least one held-out teacher answer")
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not params:
        raise DistillguardError("the proxy has no trainable parameters")
    device = next(model.parameters()).device
    total = sum(max(len(ids) - max(int(start), 1), 0) for ids, start in sequences)
    if total < 1:
        raise DistillguardError("the held-out answers hold no answer tokens to score")
    model.eval()
    model.zero_grad(set_to_none=True)
    for b0 in range(0, len(sequences), batch_size):
        batch = sequences[b0 : b0 + batch_size]
        width = max(len(ids) for ids, _ in batch)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        labels = torch.full((len(batch), width), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (seq, start) in enumerate(batch):  # right padding: building the batch, not per-step work
            ids[i, : len(seq)] = torch.as_tensor(list(seq))
            mask[i, : len(seq)] = 1
            labels[i, max(int(start), 1) : len(seq)] = ids[i, max(int(start), 1) : len(seq)]
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                labels[:, 1:].reshape(-1).to(device), ignore_index=-100,
                                                reduction="sum")
        (nll / total).backward()
    grads = {n: (p.grad.detach().float().clone() if p.grad is not None else torch.zeros_like(p, dtype=torch.float32))
             for n, p in params.items()}
    model.zero_grad(set_to_none=True)
    norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())))
    if not norm > 0:
        raise DistillguardError("the proxy's held-out gradient is zero: no ADS direction")
    return {n: (g / norm).contiguous().cpu() for n, g in grads.items()}, {"grad_norm": norm, "tokens": total}


def save_direction(direction: dict[str, torch.Tensor], path: str | os.PathLike, *, proxy_id: str | None = None,
                   overwrite: bool = False) -> str:
    """Write the direction as safetensors (no pickle) and return its SHA-256 hex digest (for the spec).

    Example:
        >>> import os, tempfile, torch
        >>> from distillguard.watermark.ads import load_direction, save_direction
        >>> path = os.path.join(tempfile.mkdtemp(), "k.ads.safetensors")
        >>> sha = save_direction({"w": torch.ones(2)}, path)
        >>> load_direction(path, sha)["w"].tolist()
        [1.0, 1.0]
    """
    from safetensors.torch import save

    path = Path(path)
    if path.exists() and not overwrite:
        raise DistillguardError(f"{path} already exists: refusing to overwrite an ADS direction")
    meta = {"format": DIRECTION_FORMAT, "proxy_id": proxy_id or ""}
    data = save({n: t.detach().float().contiguous().cpu() for n, t in direction.items()}, metadata=meta)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return hashlib.sha256(data).hexdigest()


def load_direction(path: str | os.PathLike, sha256: str | None) -> dict[str, torch.Tensor]:
    """Read a direction artefact, checking its SHA-256 against ``sha256`` (the spec's) before parsing it.

    safetensors holds only tensors and a JSON header: loading it executes no code.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DistillguardError(f"ADS direction {path} does not exist") from None
    except OSError as exc:
        raise DistillguardError(f"ADS direction {path} cannot be read: {exc.__class__.__name__}") from None
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise DistillguardError(f"ADS direction {path} has SHA-256 {digest[:16]}..., the key's spec expects "
                                f"{sha256[:16]}...: not the direction this key was made with")
    try:
        return load(data)
    except (SafetensorError, ValueError) as exc:
        raise DistillguardError(f"ADS direction {path} is not a safetensors file ({exc.__class__.__name__})") from None


def _number(name: str, value: Any, strict: bool) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and value == value and abs(value) != float("inf")
    if not ok or (value <= 0 if strict else value < 0):
        raise DistillguardError(f"{name} must be a finite number {'>' if strict else '>='} 0, got {value!r}")
    return float(value)


class ADSLogitsProcessor(LogitsProcessor):
    r"""Antidistillation sampling: add ``tau * lambda * (logits_{theta+} - logits_{theta-}) / (2 eps)``.

    ``theta+-`` are two copies of the proxy moved by ``+-eps`` along the unit direction ``g`` of
    :func:`ads_direction`; each runs with its own KV cache (two proxy forwards per step, one new token each).
    Placed before ``generate``'s temperature warper (where user processors go), the sampler sees
    ``z / tau + lambda * D``. ``scores`` is modified in place and returned.

    Args:
        proxy: an object with ``.model`` and ``.tokenizer`` (a :class:`~distillguard.models.LoadedModel`)
            with the teacher's tokenizer. Its model is copied twice, in float32 (a bf16 copy would round the
            step away); the original is not changed.
        direction: the unit direction (name -> tensor, the proxy's ``named_parameters`` names and shapes).
        lam: lambda (finite, >= 0; 0 leaves sampling exactly as without the processor).
        epsilon: the finite-difference step along the unit direction (finite, > 0).
        temperature: the generation temperature tau the sampler will divide by (finite, > 0).
        spec: the key's spec (its ``tokenizer_id`` checks the proxy's tokenizer); or give
            ``teacher_tokenizer``.
        teacher_tokenizer: the teacher's tokenizer, when ``spec`` is ``None`` or records no tokenizer id.
        pad_token_id: the teacher's pad token (left padding of the first step).

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from distillguard.models import LoadedModel
        >>> from distillguard.watermark.ads import ADSLogitsProcessor, ads_direction
        >>> class Tok:
        ...     def get_vocab(self): return {str(i): i for i in range(50)}
        >>> _ = torch.manual_seed(0)
        >>> lm = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
        >>> g, _ = ads_direction(lm, [([1, 2, 3, 4, 5], 2)])
        >>> proxy = LoadedModel(lm, Tok(), "tiny", "tiny", False)
        >>> proc = ADSLogitsProcessor(proxy, g, lam=0.0, epsilon=1e-2, teacher_tokenizer=Tok())
        >>> z = torch.randn(1, 50)
        >>> bool(torch.equal(proc(torch.tensor([[3, 4]]), z.clone()), z))  # lambda = 0: unchanged, bit for bit
        True
    """

    def __init__(
        self,
        proxy: Any,
        direction: dict[str, torch.Tensor],
        lam: float,
        epsilon: float,
        *,
        temperature: float = 1.0,
        spec: WatermarkSpec | None = None,
        teacher_tokenizer: Any | None = None,
        pad_token_id: int | None = None,
    ):
        if not hasattr(proxy, "model") or not hasattr(proxy, "tokenizer"):
            raise DistillguardError("ADS needs a proxy model with .model and .tokenizer (a LoadedModel)")
        self.lam = _number("ADS lambda", lam, strict=False)
        self.epsilon = _number("ADS epsilon", epsilon, strict=True)
        self.temperature = _number("temperature", temperature, strict=True)
        if spec is not None:
            check_proxy_tokenizer(proxy.tokenizer, spec, teacher_tokenizer)
        elif teacher_tokenizer is not None:
            check_proxy_tokenizer(proxy.tokenizer, WatermarkSpec(vocab_size=max(len(teacher_tokenizer.get_vocab()), 4)),
                                  teacher_tokenizer)
        else:
            raise DistillguardError("cannot check the proxy's tokenizer: give the key's spec or the teacher's tokenizer")
        params = dict(proxy.model.named_parameters())
        missing = sorted(set(params) - set(direction))
        extra = sorted(set(direction) - set(params))
        if missing or extra:
            raise DistillguardError(f"the ADS direction does not fit the proxy ({len(missing)} parameters missing, "
                                    f"{len(extra)} unknown): made for another proxy model")
        for name, p in params.items():
            if tuple(direction[name].shape) != tuple(p.shape):
                raise DistillguardError(f"the ADS direction does not fit the proxy (parameter {name} has shape "
                                        f"{tuple(direction[name].shape)}, the proxy's {tuple(p.shape)})")
        vocab = spec.vocab_size if spec is not None else len(teacher_tokenizer.get_vocab())
        self.vocab_size = int(vocab)
        self.plus = ProxyRunner(self._moved(proxy.model, direction, +self.epsilon), self.vocab_size, pad_token_id)
        self.minus = ProxyRunner(self._moved(proxy.model, direction, -self.epsilon), self.vocab_size, pad_token_id)

    @staticmethod
    def _moved(model: Any, direction: dict[str, torch.Tensor], step: float) -> Any:
        # float32 copies: in bf16/fp16 a step of eps * (unit direction) would round away to nothing
        moved = copy.deepcopy(model).float().eval()
        with torch.no_grad():
            for name, p in moved.named_parameters():
                p.add_(direction[name].to(device=p.device, dtype=torch.float32).mul(step))
                p.requires_grad_(False)
        return moved

    def shift(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """``D = (logits_{theta+} - logits_{theta-}) / (2 eps)``, float32 ``[B, V]`` (advances both KV caches)."""
        return (self.plus(input_ids) - self.minus(input_ids)) / (2.0 * self.epsilon)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        V = self.vocab_size
        if scores.shape[1] < V:
            raise DistillguardError(f"vocab mismatch: scores have {scores.shape[1]} columns, the proxy covers {V}")
        d = self.shift(input_ids)
        scores[:, :V] += (self.temperature * self.lam * d).to(scores.dtype)
        return scores
