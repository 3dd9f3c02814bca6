"""Keyed PRF expansion and the green-list maths shared by the processor and the detector.

How a green list is made (scheme ``dg-arc-v1``):

1. **Keyed expansion.** Every table below is expanded from a secret with SHAKE-256 (a keyed XOF; the secret
   is >= 128 bits). No ``hash()``, no ``torch.manual_seed``.
2. **Context seed (64 bits).** ``left``: ``h = 1`` -> ``seed = T1[x_{t-1}]``, a PRF value per token.
   ``h > 1`` -> keyed simple tabulation ``T1[x_{t-1}] ^ ... ^ Th[x_{t-h}]`` followed by the
   murmur3 ``fmix64`` finaliser. ``h = 0`` -> one fixed seed. ``min`` (self-hash): the seed is
   ``S[x*]`` where ``x*`` is the token with the smallest keyed rank among the h previous tokens *and the
   candidate itself*.
3. **Green list from the seed.** ``num_permutations`` keyed orders of the vocabulary are drawn once per
   master key. The top bits of the seed pick an order ``p``, the low 32 bits an offset ``o`` (multiply-shift,
   no modulo of the seed). The green list is the arc of ``G = round(gamma * V)`` consecutive tokens
   ``order_p[o], ..., order_p[o + G - 1]`` (cyclically).

Why this is calibrated: for two distinct seeds the offsets are independent and uniform, so whatever the
token, ``P(green) = G / V`` exactly and green events of different seeds are independent; for one seed,
distinct tokens are a draw without replacement (negatively associated, so binomial tails stay valid).
The test suite checks this on thousands of random keys. Why it is fast: the processor gathers ``G``
consecutive entries of one table row and scatters ``+delta`` into the scores -- no per-element hashing.

A green "coin" is identified by ``(p, o, token)``: two scored positions with the same coin are the same
random event, so the detector counts each coin once (this is the dedup of (context window, token) tuples,
made exact for seeds that collide and for min-hash windows that share their minimum).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from distillguard.keys import WatermarkKey, WatermarkSpec

__all__ = ["KeyMaterial", "key_material", "fmix64_np", "seed_to_arc_np", "context_seeds_np", "is_green_np"]

_MASK32 = np.uint64(0xFFFFFFFF)


def _prf_bytes(secret: bytes, label: str, nbytes: int) -> bytes:
    """SHAKE-256(domain || len(secret) || secret || label): a keyed PRF stream of ``nbytes`` bytes."""
    h = hashlib.shake_256()
    h.update(b"distillguard/prf/v1\x00")
    h.update(len(secret).to_bytes(2, "big"))
    h.update(secret)
    h.update(label.encode("utf-8"))
    return h.digest(nbytes)


def _prf_u64(secret: bytes, label: str, n: int) -> np.ndarray:
    return np.frombuffer(_prf_bytes(secret, label, 8 * n), dtype="<u8").astype(np.uint64)


def _keyed_order(secret: bytes, label: str, n: int) -> np.ndarray:
    """A keyed uniformly random permutation of ``range(n)`` (argsort of PRF values; ties broken by index)."""
    return np.argsort(_prf_u64(secret, label, n), kind="stable").astype(np.int64)


def fmix64_np(x: np.ndarray) -> np.ndarray:
    """murmur3's 64-bit finaliser (a bijection with full avalanche), on uint64 arrays.

    Example:
        >>> import numpy as np
        >>> from distillguard.watermark.prf import fmix64_np
        >>> int(fmix64_np(np.array([1], dtype=np.uint64))[0]) != 1
        True
    """
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xFF51AFD7ED558CCD)
        x ^= x >> np.uint64(33)
        x *= np.uint64(0xC4CEB9FE1A85EC53)
        x ^= x >> np.uint64(33)
    return x


@dataclass(frozen=True, eq=False)
class KeyMaterial:
    """Tables expanded from one key for one spec (numpy; the processor mirrors them on its device).

    Attributes:
        spec: the watermark spec.
        orders: ``[P, V]`` int64, ``orders[p, i]`` = token at position ``i`` of keyed order ``p``.
        positions: ``[P, V]`` int64, the inverse: ``positions[p, v]`` = position of token ``v`` in order p.
        context_tables: ``[h, V]`` uint64 for ``left`` seeding (row i is used for token ``x_{t-1-i}``).
        fixed_seed: the seed used when ``h = 0``.
        min_rank: ``[V]`` int64 keyed rank of each token (``min`` seeding).
        rank_token: ``[V]`` int64 inverse of ``min_rank``.
        min_seed: ``[V]`` uint64 seed contributed by a token that is the minimum of its window.
        self_green: ``[V]`` bool, whether token v is green under its own seed ``min_seed[v]``.
    """

    spec: WatermarkSpec
    orders: np.ndarray
    positions: np.ndarray
    context_tables: np.ndarray
    fixed_seed: np.uint64
    min_rank: np.ndarray | None
    rank_token: np.ndarray | None
    min_seed: np.ndarray | None
    self_green: np.ndarray | None

    @property
    def perm_bits(self) -> int:
        return int(self.spec.num_permutations).bit_length() - 1


@functools.lru_cache(maxsize=8)
def _vocabulary_orders(vocab_secret: bytes, vocab_size: int, num_permutations: int) -> tuple[np.ndarray, np.ndarray]:
    orders = np.stack(
        [_keyed_order(vocab_secret, f"order/{p}/{vocab_size}", vocab_size) for p in range(num_permutations)]
    )
    positions = np.empty_like(orders)
    rows = np.arange(num_permutations)[:, None]
    positions[rows, orders] = np.arange(vocab_size, dtype=np.int64)[None, :]
    orders.setflags(write=False)
    positions.setflags(write=False)
    return orders, positions


_MATERIAL_CACHE: dict[tuple[bytes, WatermarkSpec], KeyMaterial] = {}
_MATERIAL_CACHE_SIZE = 64


def key_material(key: WatermarkKey, spec: WatermarkSpec | None = None) -> KeyMaterial:
    """Expand (and cache in this process) the tables of ``key`` for ``spec`` (default: the key's spec).

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.watermark.prf import key_material
        >>> km = key_material(WatermarkKey(b"\\x07" * 32, WatermarkSpec(vocab_size=1000)))
        >>> km.orders.shape, km.context_tables.shape
        ((16, 1000), (1, 1000))
    """
    spec = spec or key.require_spec()
    cache_key = (key._cache_token(), spec)
    cached = _MATERIAL_CACHE.get(cache_key)
    if cached is not None:
        return cached
    V, h = spec.vocab_size, spec.context_width
    ctx = key._context_secret()
    if h == 0:
        # One green list per key. Its vocabulary order comes from the key's *own* secret, not from the orders
        # shared by a master's sub-keys: with a single arc per account, shared orders would give some pairs of
        # accounts heavily overlapping lists (and attribution could not tell them apart). Only the order the
        # fixed seed selects is ever read, so only that one is expanded.
        p0 = int(seed_to_arc_np(_prf_u64(ctx, "fixed", 1), spec)[0][0])
        orders = np.zeros((spec.num_permutations, V), dtype=np.int64)
        positions = np.zeros_like(orders)
        orders[p0] = _keyed_order(ctx, f"h0-order/{V}", V)
        positions[p0, orders[p0]] = np.arange(V, dtype=np.int64)
        orders.setflags(write=False)
        positions.setflags(write=False)
    else:
        orders, positions = _vocabulary_orders(key._vocabulary_secret(), V, spec.num_permutations)
    tables = np.stack([_prf_u64(ctx, f"left/{i}/{V}", V) for i in range(h)]) if (
        spec.seeding == "left" and h > 0
    ) else np.zeros((0, V), dtype=np.uint64)
    fixed = _prf_u64(ctx, "fixed", 1)[0]
    min_rank = rank_token = min_seed = self_green = None
    if spec.seeding == "min":
        rank_token = _keyed_order(ctx, f"min/rank/{V}", V)
        min_rank = np.empty_like(rank_token)
        min_rank[rank_token] = np.arange(V, dtype=np.int64)
        min_seed = _prf_u64(ctx, f"min/seed/{V}", V)
        self_green = is_green_np(
            *seed_to_arc_np(min_seed, spec), np.arange(V, dtype=np.int64), positions, spec
        )
    material = KeyMaterial(spec, orders, positions, tables, fixed, min_rank, rank_token, min_seed, self_green)
    if len(_MATERIAL_CACHE) >= _MATERIAL_CACHE_SIZE:
        _MATERIAL_CACHE.pop(next(iter(_MATERIAL_CACHE)))
    _MATERIAL_CACHE[cache_key] = material
    return material


def seed_to_arc_np(seeds: np.ndarray, spec: WatermarkSpec) -> tuple[np.ndarray, np.ndarray]:
    """Map 64-bit seeds to (order index p, arc offset o): top bits pick p, low 32 bits give o by multiply-shift.

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkSpec
        >>> from distillguard.watermark.prf import seed_to_arc_np
        >>> p, o = seed_to_arc_np(np.array([2**63 + 2**31], dtype=np.uint64), WatermarkSpec(vocab_size=100))
        >>> int(p[0]), int(o[0])
        (8, 50)
    """
    seeds = np.asarray(seeds, dtype=np.uint64)
    bits = int(spec.num_permutations).bit_length() - 1
    p = (seeds >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(seeds.shape, np.int64)
    o = (((seeds & _MASK32) * np.uint64(spec.vocab_size)) >> np.uint64(32)).astype(np.int64)
    return p, o


def is_green_np(p: np.ndarray, o: np.ndarray, tokens: np.ndarray, positions: np.ndarray, spec: WatermarkSpec) -> np.ndarray:
    """Whether ``tokens`` lie on the green arc ``(p, o)``: ``(position_p(token) - o) mod V < G``."""
    rel = positions[p, tokens] - o
    rel = np.where(rel < 0, rel + spec.vocab_size, rel)
    return rel < spec.green_size


def context_seeds_np(material: KeyMaterial, windows: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """Seeds for scored positions. ``windows``: ``[n, h]`` previous tokens (column 0 = ``x_{t-1}``).

    ``tokens`` (the scored tokens) matter only for ``min`` seeding, where the candidate joins the window.
    """
    spec = material.spec
    n = len(tokens)
    if spec.context_width == 0:
        return np.full(n, material.fixed_seed, dtype=np.uint64)
    if spec.seeding == "left":
        seed = material.context_tables[0][windows[:, 0]]
        for i in range(1, spec.context_width):
            seed = seed ^ material.context_tables[i][windows[:, i]]
        return fmix64_np(seed) if spec.context_width > 1 else seed
    # min seeding: the window's minimum-rank token, or the candidate itself when it ranks lower.
    ctx_min = material.min_rank[windows].min(axis=1)
    cand = material.min_rank[tokens]
    anchor_rank = np.minimum(ctx_min, cand)
    return material.min_seed[material.rank_token[anchor_rank]]
