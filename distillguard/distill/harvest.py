"""Harvests of teacher outputs for the distillation simulator (resumable, cached on disk).

Two kinds, and results must always say which one a student learned from:

* **top-k log-prob harvest** (:func:`harvest_topk`): the *clean* teacher is run teacher-forced on real text
  (ShareGPT answers) and the top ``K`` logits of every position are stored (float16, shards of npz).
  The watermark is applied afterwards by :func:`watermark_topk` -- ``+delta`` on the green candidates of the
  key, then the top ``k`` of the biased logits, renormalised -- which is exactly what an API that returns
  top-k log-probs of its watermarked distribution would serve (up to tokens outside the stored top ``K``,
  whose share is reported). One teacher pass therefore serves every key, the unwatermarked control and
  every mixing fraction.
* **sampled-text harvest**: watermarked answers sampled by the teacher
  (:func:`distillguard.watermark.generate.generate_jsonl`, resumable JSONL).

Example:
    >>> from distillguard.distill.harvest import TopkHarvest
    >>> TopkHarvest.__name__
    'TopkHarvest'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from distillguard.data import real_texts  # re-exported: moved to data (the detectors use it)
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec
from distillguard.watermark.prf import context_seeds_np, is_green_np, key_material, seed_to_arc_np

__all__ = ["real_texts", "harvest_topk", "TopkHarvest", "load_topk", "watermark_topk"]

@dataclass
class TopkHarvest:
    """A loaded top-k harvest: token ids of the texts and the clean teacher's top-K logits per position.

    Attributes:
        ids: ``[T]`` int64, all texts concatenated. lengths: ``[N]`` tokens per text.
        topk_ids: ``[T, K]`` int64 candidate ids for the *next* token after each position.
        topk_logits: ``[T, K]`` float32 clean teacher logits of those candidates (descending).
        meta: how the harvest was made (model identity, K, text source, command).
    """

    ids: np.ndarray
    lengths: np.ndarray
    topk_ids: np.ndarray
    topk_logits: np.ndarray
    meta: dict[str, Any]

    @property
    def offsets(self) -> np.ndarray:
        """Start index of each text in :attr:`ids`."""
        return np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def subset(self, texts: np.ndarray) -> TopkHarvest:
        """The harvest restricted to some texts (indices), in that order."""
        offs = self.offsets
        rows = np.concatenate([np.arange(offs[i], offs[i] + self.lengths[i]) for i in texts]) if len(texts) else (
            np.zeros(0, np.int64))
        return TopkHarvest(self.ids[rows], self.lengths[texts], self.topk_ids[rows], self.topk_logits[rows], self.meta)


def harvest_topk(
    loaded: Any,
    texts: list[str],
    out_dir: str | os.PathLike,
    *,
    k: int = 64,
    max_len: int = 256,
    batch_size: int = 8,
    shard_size: int = 64,
    progress: bool = True,
    meta: dict[str, Any] | None = None,
) -> Path:
    """Run the clean teacher teacher-forced on ``texts`` and store its top-``k`` logits (resumable shards).

    Shards already on disk are skipped, so an interrupted run continues where it stopped; a harvest made
    with other settings in the same directory is refused.

    Example:
        >>> from distillguard.distill.harvest import harvest_topk  # doctest: +SKIP
        >>> harvest_topk(load_model(), real_texts("train", 800), "runs/harvest")  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok, model = loaded.tokenizer, loaded.model
    settings = {"model": loaded.identity, "k": k, "max_len": max_len, "n_texts": len(texts),
                "shard_size": shard_size, **(meta or {})}
    meta_path = out / "meta.json"
    if meta_path.exists():
        old = json.loads(meta_path.read_text())
        if {kk: old.get(kk) for kk in ("model", "k", "max_len", "shard_size")} != {
                kk: settings[kk] for kk in ("model", "k", "max_len", "shard_size")}:
            raise DistillguardError(f"{out} holds a harvest made with other settings; use another directory")
    meta_path.write_text(json.dumps(settings, indent=2))
    n_shards = (len(texts) + shard_size - 1) // shard_size
    bar = tqdm(total=len(texts), desc="top-k harvest", unit="text", disable=not progress)
    for s in range(n_shards):
        path = out / f"shard_{s:05d}.npz"
        chunk = texts[s * shard_size : (s + 1) * shard_size]
        if path.exists():
            bar.update(len(chunk))
            continue
        seqs = [tok.encode(t, add_special_tokens=False)[:max_len] for t in chunk]
        seqs = [q for q in seqs if len(q) >= 2] or [[0, 0]]
        all_ids, all_top, all_logit = [], [], []
        for b0 in range(0, len(seqs), batch_size):
            batch = seqs[b0 : b0 + batch_size]
            L = max(len(q) for q in batch)
            ids = torch.full((len(batch), L), tok.pad_token_id or 0, dtype=torch.long)
            mask = torch.zeros((len(batch), L), dtype=torch.long)
            for r, q in enumerate(batch):  # right padding: positions line up with the text
                ids[r, : len(q)], mask[r, : len(q)] = torch.as_tensor(q), 1
            with torch.inference_mode():
                logits = model(input_ids=ids, attention_mask=mask).logits.float()
                vals, top = logits.topk(k, dim=-1)
            for r, q in enumerate(batch):
                all_ids.append(np.asarray(q, dtype=np.int32))
                all_top.append(top[r, : len(q)].numpy().astype(np.int32))
                all_logit.append(vals[r, : len(q)].numpy().astype(np.float16))
            bar.update(len(batch) * len(chunk) / len(seqs))
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, ids=np.concatenate(all_ids), lengths=np.array([len(a) for a in all_ids]),
                            topk_ids=np.concatenate(all_top), topk_logits=np.concatenate(all_logit))
        os.replace(tmp, path)
    bar.close()
    return out


def load_topk(out_dir: str | os.PathLike, *, max_shards: int | None = None) -> TopkHarvest:
    """Load the shards of a top-k harvest written so far (``max_shards`` caps how many).

    Example:
        >>> from distillguard.distill.harvest import load_topk  # doctest: +SKIP
        >>> h = load_topk("runs/harvest"); h.topk_ids.shape  # doctest: +SKIP
    """
    out = Path(out_dir)
    shards = sorted(out.glob("shard_*.npz"))
    shards = [p for p in shards if not p.name.endswith(".tmp.npz")][: max_shards or None]
    if not shards:
        raise DistillguardError(f"{out}: no harvest shards found")
    parts = [np.load(p) for p in shards]
    meta = json.loads((out / "meta.json").read_text()) if (out / "meta.json").exists() else {}
    return TopkHarvest(
        ids=np.concatenate([p["ids"] for p in parts]).astype(np.int64),
        lengths=np.concatenate([p["lengths"] for p in parts]).astype(np.int64),
        topk_ids=np.concatenate([p["topk_ids"] for p in parts]).astype(np.int64),
        topk_logits=np.concatenate([p["topk_logits"] for p in parts]).astype(np.float32),
        meta=meta,
    )


def watermark_topk(
    harvest: TopkHarvest, key: WatermarkKey | None, *, k: int = 20, spec: WatermarkSpec | None = None
) -> tuple[np.ndarray, np.ndarray, float]:
    """Top-``k`` log-probs the API would serve: the key's watermark applied to the clean teacher's logits.

    Returns ``(ids [T, k], logprobs [T, k] renormalised over the k, inexact_share)``; ``key=None`` gives
    the unwatermarked control. ``inexact_share`` is the fraction of positions where a token outside the
    stored top-K could have entered the biased top-k (0 when K is large enough).

    Example:
        >>> import numpy as np
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.distill.harvest import TopkHarvest, watermark_topk
        >>> h = TopkHarvest(np.array([1, 2, 3]), np.array([3]), np.tile(np.arange(8), (3, 1)),
        ...                 np.tile(-np.arange(8.0), (3, 1)), {})
        >>> ids, lp, inexact = watermark_topk(h, WatermarkKey(b"\\x01" * 32, WatermarkSpec(vocab_size=10)), k=4)
        >>> ids.shape, bool(np.allclose(np.exp(lp).sum(1), 1))
        ((3, 4), True)
    """
    logits = harvest.topk_logits.astype(np.float32)
    cand = harvest.topk_ids
    if key is not None:
        spec = spec or key.require_spec()
        material = key_material(key, spec)
        h = spec.context_width
        offs = harvest.offsets
        pos_in_text = np.arange(len(harvest.ids)) - np.repeat(offs, harvest.lengths)
        # context of the token after position t: ids[t], ids[t-1], ..., ids[t-h+1]
        ok = pos_in_text >= h - 1
        t_idx = np.flatnonzero(ok)
        windows = (np.stack([harvest.ids[t_idx - i] for i in range(h)], axis=1) if h
                   else np.zeros((len(t_idx), 0), np.int64))
        Kc = cand.shape[1]
        rep_windows = np.repeat(windows, Kc, axis=0)
        flat_tokens = cand[t_idx].reshape(-1)
        seeds = context_seeds_np(material, rep_windows, flat_tokens)
        p, o = seed_to_arc_np(seeds, spec)
        green = is_green_np(p, o, flat_tokens, material.positions, spec).reshape(len(t_idx), Kc)
        logits = logits.copy()
        logits[t_idx] += float(spec.delta) * green
        floor = harvest.topk_logits[:, -1].astype(np.float32) + float(spec.delta)
    else:
        floor = harvest.topk_logits[:, -1].astype(np.float32)
    order = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    top_logits = np.take_along_axis(logits, order, axis=1)
    top_ids = np.take_along_axis(cand, order, axis=1)
    inexact = float(np.mean(floor > top_logits[:, -1])) if key is not None else 0.0
    m = top_logits.max(axis=1, keepdims=True)
    logprobs = top_logits - m - np.log(np.exp(top_logits - m).sum(axis=1, keepdims=True))
    return top_ids, logprobs.astype(np.float32), inexact
