"""The keyed, batched watermark as a Hugging Face ``LogitsProcessor``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark.prf import KeyMaterial, key_material, seed_to_arc_np

__all__ = ["WatermarkLogitsProcessor"]

_FMIX_C1 = 0xFF51AFD7ED558CCD - 2**64  # murmur3 fmix64 constants as signed int64 (torch has no uint64 mul)
_FMIX_C2 = 0xC4CEB9FE1A85EC53 - 2**64


def _shr(x: torch.Tensor, s: int) -> torch.Tensor:
    """Logical right shift of int64 bit patterns (torch's ``>>`` is arithmetic)."""
    return (x >> s) & ((1 << (64 - s)) - 1)


def _fmix64(x: torch.Tensor) -> torch.Tensor:
    x = x ^ _shr(x, 33)
    x = x * _FMIX_C1  # wraps modulo 2**64, bit-identical to the uint64 numpy version
    x = x ^ _shr(x, 33)
    x = x * _FMIX_C2
    return x ^ _shr(x, 33)


def _as_i64(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a).view(np.int64))


class _DeviceTables:
    """The key tables laid out for one device: everything the per-step kernel gathers from."""

    def __init__(self, materials: list[KeyMaterial], device: torch.device):
        m0 = materials[0]
        spec = m0.spec
        V, P = spec.vocab_size, spec.num_permutations
        # Orders written twice back to back, so an arc that wraps around is one contiguous slice.
        orders2 = torch.from_numpy(np.concatenate([m0.orders, m0.orders], axis=1)).reshape(-1).to(device)
        # windows[s] = orders2[s : s + G]: every possible green arc as a row of one strided view (no copy),
        # so a batch of green lists is a single index_select of B contiguous rows.
        self.windows = orders2.unfold(0, spec.green_size, 1)
        if spec.seeding == "left" and spec.context_width == 1:
            # h = 1: the arc start is a function of the previous token alone -> precompute it per token.
            starts = []
            for m in materials:
                p, o = seed_to_arc_np(m.context_tables[0], spec)
                starts.append(p * (2 * V) + o)
            self.start_by_token = torch.from_numpy(np.concatenate(starts)).to(device)
        elif spec.seeding == "left" and spec.context_width > 1:
            self.ctx_tables = torch.stack([_as_i64(m.context_tables) for m in materials]).to(device)  # [K,h,V]
        elif spec.context_width == 0:
            # h = 0: one fixed arc per key, in that key's own order (see prf.key_material) -> its token ids
            span = np.arange(spec.green_size)
            rows = []
            for m in materials:
                p, o = seed_to_arc_np(np.array([m.fixed_seed], dtype=np.uint64), spec)
                rows.append(m.orders[int(p[0])][(int(o[0]) + span) % V])
            self.green_ids = torch.from_numpy(np.stack(rows)).to(device)  # [K, G]
        if spec.seeding == "min":
            self.min_rank = torch.from_numpy(np.concatenate([m.min_rank for m in materials])).to(device)
            self.rank_token = torch.from_numpy(np.concatenate([m.rank_token for m in materials])).to(device)
            self.min_seed = torch.from_numpy(np.concatenate([m.min_seed for m in materials]).view(np.int64)).to(device)
            # [K, V] rows for the "candidate is the window minimum" test; int32 halves the bytes read
            self.rank_rows = self.min_rank.view(len(materials), V).to(torch.int32)
            self.self_green_rows = torch.from_numpy(np.stack([m.self_green for m in materials])).to(device)
        self.perm_shift = 64 - (P.bit_length() - 1)


class WatermarkLogitsProcessor(LogitsProcessor):
    r"""Add ``delta`` to the logits of a keyed green list of ``gamma * V`` tokens (KGW family), batched.

    One green list per row and step, from a keyed PRF of the previous ``context_width`` tokens (see
    :mod:`distillguard.watermark.prf` for the construction and why it is calibrated). The whole
    ``[batch, vocab]`` bias is built with a handful of tensor ops -- no Python loop over rows, no
    ``randperm`` per step -- on CPU or CUDA, for any floating dtype. ``scores`` is modified in place
    and returned.

    A serving batch mixes API accounts: pass one key per row (account sub-keys of one master key) and each
    row is marked with its own account's key at the same speed.

    Behaviour at the edges: while the sequence holds fewer than ``context_width`` tokens there is no
    context to seed from, so the step is left unwatermarked (the detector never scores those positions
    either); with left-padded batches the pad token is part of the context of rows shorter than h.
    Score widths larger than ``vocab_size`` (models that pad their embedding matrix) are allowed: only the
    first ``vocab_size`` logits are biased.

    Args:
        key: a :class:`~distillguard.keys.WatermarkKey`, or a sequence with one key per batch row.
        vocab_size: logits that carry the mark (``None``: the key's spec; required if the key has none).
        gamma: green-list fraction (``None``: the key's spec).
        delta: logit bias added to green tokens (``None``: the key's spec).
        context_width: previous tokens that seed a green list, h (``None``: the key's spec).
        seeding: ``"left"`` or ``"min"`` (``None``: the key's spec).

    Example:
        >>> import torch
        >>> from distillguard.keys import WatermarkKey
        >>> from distillguard.watermark import WatermarkLogitsProcessor
        >>> proc = WatermarkLogitsProcessor(WatermarkKey(b"\x01" * 32), vocab_size=100, delta=2.0)
        >>> scores = proc(torch.tensor([[5, 7], [1, 2]]), torch.zeros(2, 100))
        >>> scores.sum(dim=1).tolist()  # 25 green tokens per row, +2 each
        [50.0, 50.0]
    """

    def __init__(
        self,
        key: WatermarkKey | Sequence[WatermarkKey],
        vocab_size: int | None = None,
        gamma: float | None = None,
        delta: float | None = None,
        context_width: int | None = None,
        seeding: str | None = None,
    ):
        keys = [key] if isinstance(key, WatermarkKey) else list(key)
        if not keys or not all(isinstance(k, WatermarkKey) for k in keys):
            raise DistillguardError("key must be a WatermarkKey or a non-empty sequence of WatermarkKey")
        base = keys[0].spec
        if base is None:
            if vocab_size is None:
                raise DistillguardError("vocab_size is required when the key carries no watermark spec")
            base = WatermarkSpec(vocab_size=vocab_size)
        overrides = {
            k: v
            for k, v in dict(
                vocab_size=vocab_size, gamma=gamma, delta=delta, context_width=context_width, seeding=seeding
            ).items()
            if v is not None
        }
        self.spec = base.replace(**overrides) if overrides else base
        masters = {k.master_fingerprint for k in keys}
        if len(masters) != 1:
            raise DistillguardError("row keys must all be sub-keys of one master key")
        # Distinct keys -> one table block each; rows point at their block.
        distinct: dict[str, int] = {}
        for k in keys:
            distinct.setdefault(k.fingerprint, len(distinct))
        self._distinct_keys = {fp: next(k for k in keys if k.fingerprint == fp) for fp in distinct}
        self._materials = [key_material(k, self.spec) for k in self._distinct_keys.values()]
        self.row_keys = keys if len(keys) > 1 else None
        self._row_block = torch.tensor([distinct[k.fingerprint] for k in keys], dtype=torch.long)
        self._device_cache: dict[torch.device, tuple[_DeviceTables, torch.Tensor]] = {}
        self._delta_cache: dict[tuple, torch.Tensor] = {}

    @property
    def key_fingerprints(self) -> list[str]:
        """Public fingerprints of the distinct keys in use (safe to log)."""
        return list(self._distinct_keys)

    def _tables(self, device: torch.device) -> tuple[_DeviceTables, torch.Tensor]:
        cached = self._device_cache.get(device)
        if cached is None:
            tables = _DeviceTables(self._materials, device)
            row_base = (self._row_block * self.spec.vocab_size).to(device)
            cached = self._device_cache[device] = (tables, row_base)
        return cached

    def _delta(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        d = self._delta_cache.get((dtype, device))
        if d is None:
            d = self._delta_cache[(dtype, device)] = torch.full(
                (1, self.spec.green_size), float(self.spec.delta), dtype=dtype, device=device
            )
        return d

    def _arc_starts(self, t: _DeviceTables, input_ids: torch.Tensor, row_base: torch.Tensor) -> torch.Tensor:
        """Flat index into ``orders2`` where each row's green arc starts, shape ``[B]`` (left seeding)."""
        spec = self.spec
        h, V = spec.context_width, spec.vocab_size
        if h == 1:
            return t.start_by_token[row_base + input_ids[:, -1]]
        # tabulation over the h previous tokens, then fmix64
        blocks = t.ctx_tables.view(-1, V)  # [K*h, V]
        block_of_row = (row_base // V) * h
        seed = blocks.view(-1)[(block_of_row * V) + input_ids[:, -1]]
        for i in range(1, h):  # loop over context positions (h is small), not over rows
            seed = seed ^ blocks.view(-1)[((block_of_row + i) * V) + input_ids[:, -1 - i]]
        return self._seed_to_start(_fmix64(seed), t)

    def _seed_to_start(self, seed: torch.Tensor, t: _DeviceTables) -> torch.Tensor:
        V, P = self.spec.vocab_size, self.spec.num_permutations
        p = (seed >> t.perm_shift) & (P - 1) if P > 1 else torch.zeros_like(seed)
        o = ((seed & 0xFFFFFFFF) * V) >> 32
        return p * (2 * V) + o

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        spec = self.spec
        B, width = scores.shape
        if width < spec.vocab_size:
            raise DistillguardError(
                f"vocab mismatch: scores have {width} columns but the watermark spec covers {spec.vocab_size} tokens"
            )
        if self.row_keys is not None and len(self.row_keys) != B:
            raise DistillguardError(f"got {len(self.row_keys)} row keys for a batch of {B} rows")
        h = spec.context_width
        if input_ids.shape[1] < h:
            return scores  # documented: no context to seed from yet
        t, row_base = self._tables(scores.device)
        if self.row_keys is None and B != row_base.shape[0]:
            row_base = row_base[:1].expand(B)
        if h and int(input_ids[:, -h:].max()) >= spec.vocab_size:
            raise DistillguardError(f"token id >= vocab_size {spec.vocab_size} in the context: tokenizer mismatch")
        delta = self._delta(scores.dtype, scores.device).expand(B, -1)
        if spec.seeding == "left" and h == 0:
            return scores.scatter_add_(1, t.green_ids.index_select(0, row_base // spec.vocab_size), delta)
        if spec.seeding == "left":
            start = self._arc_starts(t, input_ids, row_base)
            green = t.windows.index_select(0, start)  # [B, G] token ids of each row's green arc
            return scores.scatter_add_(1, green, delta)
        return self._apply_min(t, input_ids, row_base, scores, delta)

    def _apply_min(self, t, input_ids, row_base, scores, delta):
        """Self-hash: a candidate ranking below the window's minimum seeds its own list (precomputed table)."""
        V = self.spec.vocab_size
        ctx = input_ids[:, -self.spec.context_width :]
        window_min = t.min_rank[row_base[:, None] + ctx].min(dim=1).values  # [B] keyed rank
        anchor = t.rank_token[row_base + window_min]
        start = self._seed_to_start(t.min_seed[row_base + anchor], t)
        bias = torch.zeros((scores.shape[0], V), dtype=scores.dtype, device=scores.device)
        bias.scatter_(1, t.windows.index_select(0, start), delta)
        if self.row_keys is None:  # one key: broadcast its rows instead of copying them per batch row
            rank_rows, self_rows = t.rank_rows, t.self_green_rows
        else:
            block = row_base // V
            rank_rows, self_rows = t.rank_rows.index_select(0, block), t.self_green_rows.index_select(0, block)
        own = rank_rows < window_min[:, None].to(torch.int32)  # the candidate is the window minimum
        self_bias = self._self_bias(self_rows, scores.dtype, scores.device)
        scores[:, :V] += torch.where(own, self_bias, bias)
        return scores

    def _self_bias(self, self_rows: torch.Tensor, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        if self.row_keys is not None:
            return self_rows.to(dtype) * float(self.spec.delta)
        cached = self._delta_cache.get(("self", dtype, device))
        if cached is None:
            cached = self._delta_cache[("self", dtype, device)] = self_rows.to(dtype) * float(self.spec.delta)
        return cached
