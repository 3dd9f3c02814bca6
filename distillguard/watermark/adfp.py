"""Antidistillation fingerprinting (ADFP): a green-list mark shaped so that a student learns it fast.

KGW adds the same ``delta`` to every green token. ADFP (Xu, Kirchenbauer, Savani et al., arXiv 2602.03812)
asks a *proxy* student, token by token, how its green mass would move if it were trained on the token about
to be emitted, and pushes the tokens that move it most. With green set ``S`` (the keyed PRF's green list,
exactly the one KGW uses) and the proxy's next-token distribution ``q``::

    L   = sum_{v in S} q_v              # the proxy's green mass
    D_v = q_v * (1[v in S] - L)         # d L / d z_v: the logit-space gradient of the green mass
    z'  = z + lambda * D

``D`` sums to zero (``sum_v D_v = L - L * sum_v q_v = 0`` when ``q`` sums to one): it moves mass from red to
green tokens without a net shift. Green tokens the proxy already likes gain most; a token the proxy finds
unlikely is left nearly alone (``|D_v| <= q_v``), which is why lambda is large (tens to hundreds) where KGW's
delta is 1-4.

Proxies: ``proxy=None`` uses the teacher itself (``q`` = softmax of the incoming scores, no extra forward
pass); otherwise a separate small causal LM with the teacher's tokenizer runs alongside generation with its
own KV cache (:class:`ProxyRunner`). A proxy whose tokenizer differs from the one the key was made for is
refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor
from transformers.modeling_outputs import CausalLMOutputWithPast

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.watermark.processor import WatermarkLogitsProcessor

#: The keyword a causal LM's forward takes its KV cache by (``cache`` in recent transformers, else the old name).
_CACHE_ARG = "cache" if "cache" in CausalLMOutputWithPast.__dataclass_fields__ else "past_key_values"

__all__ = ["ADFPLogitsProcessor", "ProxyRunner", "check_proxy_tokenizer", "adfp_shift", "green_mask"]


def check_proxy_tokenizer(proxy_tokenizer: Any, spec: WatermarkSpec, teacher_tokenizer: Any | None = None) -> str:
    """Refuse a proxy whose tokenizer is not the teacher's; return the shared tokenizer id.

    The reference is the key spec's ``tokenizer_id`` when it records one, else ``teacher_tokenizer``'s.

    Example:
        >>> from distillguard.keys import WatermarkSpec
        >>> from distillguard.watermark.adfp import check_proxy_tokenizer
        >>> class Tok:
        ...     def __init__(self, n): self.n = n
        ...     def get_vocab(self): return {str(i): i for i in range(self.n)}
        >>> check_proxy_tokenizer(Tok(10), WatermarkSpec(vocab_size=10), Tok(10))
        'vocab-10-754e103dc21cc856'
        >>> check_proxy_tokenizer(Tok(9), WatermarkSpec(vocab_size=10), Tok(10))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: the proxy's tokenizer (vocab-9-...) is not the teacher's (vocab-10-754e103dc21cc856): ADFP and ADS need a proxy with the teacher's tokenizer
    """
    if spec.tokenizer_id is not None:
        reference = spec.tokenizer_id
    elif teacher_tokenizer is not None:
        reference = tokenizer_id(teacher_tokenizer)
    else:
        raise DistillguardError("cannot check the proxy's tokenizer: the key records no tokenizer id and no "
                                "teacher tokenizer was given")
    found = tokenizer_id(proxy_tokenizer)
    if found != reference:
        raise DistillguardError(f"the proxy's tokenizer ({found}) is not the teacher's ({reference}): "
                                "ADFP and ADS need a proxy with the teacher's tokenizer")
    return found


class ProxyRunner:
    """Run a causal LM alongside generation with its own KV cache: its next-token logits for every row.

    Called once per decoding step with the whole ``input_ids`` ``[B, T]``. When they extend the previous
    call's by one token, only that token is fed (KV cache); otherwise (first step, a new batch) the cache is
    dropped and the whole prefix is run, with leading ``pad_token_id`` positions masked out (left padding).

    Args:
        model: the proxy (any ``transformers`` causal LM), in eval mode.
        vocab_size: logits returned per row (the watermark vocabulary; a padded LM head is cut).
        pad_token_id: the teacher's pad token (``None``: no padding to mask).

    Example:
        >>> import torch
        >>> from transformers import LlamaConfig, LlamaForCausalLM
        >>> from distillguard.watermark.adfp import ProxyRunner
        >>> _ = torch.manual_seed(0)
        >>> lm = LlamaForCausalLM(LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64,
        ...     num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=2)).eval()
        >>> run, ids = ProxyRunner(lm, 50, pad_token_id=0), torch.tensor([[0, 5, 6], [4, 5, 6]])
        >>> step = run(torch.cat([ids, torch.tensor([[7], [7]])], 1)) if run(ids) is not None else None
        >>> full = ProxyRunner(lm, 50, pad_token_id=0)(torch.cat([ids, torch.tensor([[7], [7]])], 1))
        >>> bool(torch.allclose(step, full, atol=1e-5)), tuple(step.shape)
        (True, (2, 50))
    """

    def __init__(self, model: Any, vocab_size: int, pad_token_id: int | None = None):
        self.model = model
        self.vocab_size = int(vocab_size)
        self.pad_token_id = pad_token_id
        self.reset()

    def reset(self) -> None:
        """Forget the cached prefix (the next call runs the whole ``input_ids``)."""
        self._seen: torch.Tensor | None = None
        self._mask: torch.Tensor | None = None
        self._cache: Any = None

    def _extends(self, input_ids: torch.Tensor) -> bool:
        seen = self._seen
        return (seen is not None and seen.shape[0] == input_ids.shape[0] and seen.shape[1] + 1 == input_ids.shape[1]
                and bool(torch.equal(input_ids[:, :-1], seen)))

    def __call__(self, input_ids: torch.LongTensor) -> torch.Tensor:
        device = next(self.model.parameters()).device
        ids = input_ids.to(device)
        if self._extends(ids):
            new = ids[:, -1:]
            self._mask = torch.cat([self._mask, self._mask.new_ones((ids.shape[0], 1))], dim=1)
        else:
            self._cache = None
            new = ids
            if self.pad_token_id is None:
                self._mask = torch.ones_like(ids)
            else:  # leading pads only: a pad id inside the text (eos == pad) is still attended to
                self._mask = ((ids != self.pad_token_id).long().cumsum(dim=1) > 0).long()
        pos = (self._mask.cumsum(dim=1) - 1).clamp(min=0)[:, -new.shape[1]:]
        with torch.no_grad():
            out = self.model(input_ids=new, attention_mask=self._mask, position_ids=pos,
                             **{_CACHE_ARG: self._cache}, use_cache=True)
        self._cache = out[_CACHE_ARG] if _CACHE_ARG in out else out.past_key_values
        self._seen = ids
        logits = out.logits[:, -1, : self.vocab_size].float()
        if logits.shape[1] < self.vocab_size:
            raise DistillguardError(f"the proxy has {logits.shape[1]} logits, the watermark covers {self.vocab_size}")
        return logits.to(input_ids.device)


def green_mask(kgw: WatermarkLogitsProcessor, input_ids: torch.LongTensor, batch: int, device: torch.device
               ) -> torch.Tensor:
    """``[B, V]`` float32 0/1 mask of each row's green list, from a KGW processor built with ``delta = 1``.

    Reusing the KGW processor keeps the green lists *exactly* KGW's (every seeding, row keys included).
    """
    zeros = torch.zeros((batch, kgw.spec.vocab_size), dtype=torch.float32, device=device)
    return kgw(input_ids, zeros)


def adfp_shift(q: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``D = q * (mask - L)`` with ``L = sum(q * mask)`` per row: the logit-space gradient of the green mass.

    Example:
        >>> import torch
        >>> from distillguard.watermark.adfp import adfp_shift
        >>> q = torch.tensor([[0.5, 0.3, 0.2]])
        >>> d = adfp_shift(q, torch.tensor([[1.0, 0.0, 0.0]]))
        >>> [round(x, 3) for x in d[0].tolist()], abs(float(d.sum())) < 1e-7
        ([0.25, -0.15, -0.1], True)
    """
    green_mass = (q * mask).sum(dim=1, keepdim=True)
    return q * (mask - green_mass)


class ADFPLogitsProcessor(LogitsProcessor):
    r"""Antidistillation fingerprinting: ``z' = z + lambda * q * (1[v in S] - L)`` on the keyed green lists.

    ``S`` is the green list the KGW processor would bias (same key, same spec fields, per-row account
    sub-keys), ``q`` the proxy's next-token distribution and ``L`` its green mass. The shift is the gradient
    of ``L`` with respect to the logits, so it raises the proxy's green mass fastest per unit of change of
    the distribution; detectors read the same green lists as for KGW (the spec's ``mark_scheme`` says
    which scheme made the text). Batched: two elementwise ops and a row sum per step, no Python loop over
    rows. ``scores`` is modified in place and returned.

    Args:
        key: a :class:`~distillguard.keys.WatermarkKey`, or one per batch row (sub-keys of one master).
        lam: lambda, the strength (finite, > 0; ``None``: the key spec's ``adfp_lambda``).
        proxy: ``None`` -- the teacher is its own proxy (``q`` = softmax of the incoming scores, no extra
            forward pass); or an object with ``.model`` and ``.tokenizer`` (a
            :class:`~distillguard.models.LoadedModel`) with the teacher's tokenizer, run with its own KV cache.
        teacher_tokenizer: the teacher's tokenizer, to check the proxy's against when the key spec records no
            tokenizer id.
        pad_token_id: the teacher's pad token (left padding of the proxy's first step).
        vocab_size: the watermark vocabulary, required when the key carries no spec.

    Example:
        >>> import torch
        >>> from distillguard.keys import WatermarkKey
        >>> from distillguard.watermark import ADFPLogitsProcessor
        >>> proc = ADFPLogitsProcessor(WatermarkKey(b"\x01" * 32), lam=16.0, vocab_size=100)
        >>> z = torch.randn(2, 100, generator=torch.Generator().manual_seed(0))
        >>> q = z.softmax(-1)
        >>> z2 = proc(torch.tensor([[5, 7], [1, 2]]), z.clone())
        >>> mask = proc.green(torch.tensor([[5, 7], [1, 2]]), 2, z.device)
        >>> bool(((z2.softmax(-1) * mask).sum(1) > (q * mask).sum(1)).all())  # the green mass went up
        True
        >>> proc.spec.mark_scheme, proc.spec.adfp_lambda, proc.spec.proxy_id
        ('adfp', 16.0, 'teacher')
    """

    def __init__(
        self,
        key: WatermarkKey | Sequence[WatermarkKey],
        lam: float | None = None,
        proxy: Any | None = None,
        *,
        teacher_tokenizer: Any | None = None,
        pad_token_id: int | None = None,
        vocab_size: int | None = None,
    ):
        keys = [key] if isinstance(key, WatermarkKey) else list(key)
        if not keys or not all(isinstance(k, WatermarkKey) for k in keys):
            raise DistillguardError("key must be a WatermarkKey or a non-empty sequence of WatermarkKey")
        base = keys[0].spec if keys[0].spec is not None else (
            WatermarkSpec(vocab_size=vocab_size) if vocab_size is not None else None)
        if base is None:
            raise DistillguardError("vocab_size is required when the key carries no watermark spec")
        if vocab_size is not None and base.vocab_size != vocab_size:
            base = base.replace(vocab_size=vocab_size)
        lam = base.adfp_lambda if lam is None else lam
        proxy_id = "teacher"
        if proxy is not None:
            if not hasattr(proxy, "model") or not hasattr(proxy, "tokenizer"):
                raise DistillguardError("proxy must have .model and .tokenizer (a LoadedModel), or be None")
            check_proxy_tokenizer(proxy.tokenizer, base, teacher_tokenizer)
            proxy_id = str(getattr(proxy, "identity", None) or "proxy")
        ads = base.mark_scheme.endswith("+ads") or base.mark_scheme == "ads"
        self.spec = base.replace(
            mark_scheme="adfp+ads" if ads else "adfp", adfp_lambda=lam, proxy_id=proxy_id,
            **({} if ads else {"ads_lambda": None, "ads_epsilon": None, "ads_direction_sha256": None}))
        green_spec = self.spec.replace(mark_scheme="kgw", adfp_lambda=None, ads_lambda=None, ads_epsilon=None,
                                       ads_direction_sha256=None, proxy_id=None, delta=1.0)
        self._kgw = WatermarkLogitsProcessor([k.with_spec(green_spec) for k in keys] if len(keys) > 1
                                             else keys[0].with_spec(green_spec))
        self.lam = float(lam)
        self.proxy = None if proxy is None else ProxyRunner(proxy.model, self.spec.vocab_size, pad_token_id)

    @property
    def key_fingerprints(self) -> list[str]:
        """Public fingerprints of the distinct keys in use (safe to log)."""
        return self._kgw.key_fingerprints

    def green(self, input_ids: torch.LongTensor, batch: int, device: torch.device) -> torch.Tensor:
        """The ``[B, V]`` 0/1 green mask of this step (the KGW green lists of each row's key)."""
        return green_mask(self._kgw, input_ids, batch, device)

    def proxy_distribution(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        """``q``: the proxy's next-token distribution over the watermark vocabulary, float32 ``[B, V]``."""
        V = self.spec.vocab_size
        logits = scores[:, :V].float() if self.proxy is None else self.proxy(input_ids)
        return torch.softmax(logits, dim=-1)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        V = self.spec.vocab_size
        if scores.shape[1] < V:
            raise DistillguardError(
                f"vocab mismatch: scores have {scores.shape[1]} columns but the watermark spec covers {V} tokens")
        q = self.proxy_distribution(input_ids, scores)  # before the mask: a proxy's KV cache advances every step
        shift = adfp_shift(q, self.green(input_ids, scores.shape[0], scores.device))
        scores[:, :V] += (self.lam * shift).to(scores.dtype)
        return scores
