"""A suspect whose weights we hold: generation, next-token predictions, one-pass reading, continuation log-probs.

Example:
    >>> from distillguard.suspects import LocalSuspect
    >>> LocalSuspect.load("smollm2-135m-instruct").can_read  # doctest: +SKIP
    True
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence

import numpy as np
import torch

from distillguard.errors import DistillguardError
from distillguard.models import LoadedModel, load_model
from distillguard.suspects.base import Suspect

__all__ = ["LocalSuspect"]


class LocalSuspect(Suspect):
    """A suspect whose weights are local (HF directory with safetensors, or GGUF). Never modified.

    Example:
        >>> from distillguard.suspects import LocalSuspect
        >>> s = LocalSuspect.load("smollm2-135m-instruct")  # doctest: +SKIP
        >>> s.can_read  # doctest: +SKIP
        True
    """

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.tokenizer = loaded.tokenizer
        self.identity = loaded.identity
        self.queries = 0

    @classmethod
    def load(cls, source: str | os.PathLike | None, *, device: str = "cpu") -> LocalSuspect:
        """Load a local suspect (see :func:`distillguard.models.load_model`)."""
        return cls(load_model(source, device=device))

    @property
    def can_read(self) -> bool:
        return True

    @property
    def can_score(self) -> bool:
        return True

    def generate(self, prompts, *, max_new_tokens=128, temperature=0.7, seed=0, batch_size: int = 16):
        from distillguard.watermark.generate import generate_records

        recs = [{"id": str(i), "prompt": p} for i, p in enumerate(prompts)]
        self.queries += len(recs)
        out = generate_records(
            self.loaded, recs, None, batch_size=batch_size, max_new_tokens=max_new_tokens,
            do_sample=temperature > 0, temperature=max(temperature, 1e-5), seed=seed, progress=len(recs) > batch_size,
        )
        return [r["response"] for r in out]

    def _forward_batches(self, sequences: Sequence[Sequence[int]], batch_size: int,
                         first_needed: Sequence[int] | None = None):
        """Yield ``(rows, logits, mask, offset)`` per right-padded batch; ``logits[:, j]`` is position
        ``offset + j``. With ``first_needed`` (per sequence, the first position whose logits are used) the
        output head runs only from the batch's smallest such position on: for a 262k-entry vocabulary the
        head is most of the cost, and scoring continuations needs none of the prompt's logits."""
        model = self.loaded.model
        device = next(model.parameters()).device
        pad = self.tokenizer.pad_token_id or 0
        can_keep = first_needed is not None and "logits_to_keep" in inspect.signature(model.forward).parameters
        order = np.argsort([len(s) for s in sequences])  # similar lengths together: less padding
        for b0 in range(0, len(order), batch_size):
            idx = order[b0 : b0 + batch_size]
            L = max(len(sequences[i]) for i in idx)
            ids = torch.full((len(idx), L), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), L), dtype=torch.long)
            for r, i in enumerate(idx):  # building a padded batch, not per-row model work
                s = torch.as_tensor(list(sequences[i]), dtype=torch.long)
                ids[r, : len(s)], mask[r, : len(s)] = s, 1
            lo = min(first_needed[i] for i in idx) if first_needed is not None else 0
            kw = {"logits_to_keep": torch.arange(lo, L, device=device)} if can_keep else {}
            with torch.inference_mode():
                logits = model(input_ids=ids.to(device), attention_mask=mask.to(device), **kw).logits
            if not can_keep:
                logits = logits[:, lo:]
            yield idx, logits, mask, lo

    def next_token_predictions(self, sequences, *, batch_size=8):
        if any(len(s) == 0 for s in sequences):
            raise DistillguardError("empty token sequence given to next_token_predictions")
        out: list[np.ndarray | None] = [None] * len(sequences)
        for idx, logits, _, _ in self._forward_batches(sequences, batch_size):
            top1 = logits.argmax(dim=-1).cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = top1[r, : len(sequences[i])]
        self.queries += len(sequences)
        return out  # type: ignore[return-value]

    def reading_pass(self, sequences: Sequence[Sequence[int]], *, batch_size: int = 8,
                     groups: Sequence[np.ndarray] | None = None, n_groups: int = 0, group_probs: bool = False,
                     ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None, np.ndarray | None]:
        """One forward pass: the top-1 prediction after every prefix (as :meth:`next_token_predictions`), the
        next-token log-probabilities averaged over every position read (``[V]``, float64), and, with ``groups``
        (per sequence, a group index per position, -1 for none), their average per group (``[n_groups, V]``)
        and, with ``group_probs``, the average of the probabilities per group (else None)."""
        if any(len(s) == 0 for s in sequences):
            raise DistillguardError("empty token sequence given to reading_pass")
        out: list[np.ndarray | None] = [None] * len(sequences)
        total: torch.Tensor | None = None
        count = 0
        by_group: torch.Tensor | None = None
        by_group_p: torch.Tensor | None = None
        group_count = torch.zeros(n_groups, dtype=torch.float64)
        for idx, logits, mask, _ in self._forward_batches(sequences, batch_size):
            top1 = logits.argmax(dim=-1).cpu().numpy()
            for r, i in enumerate(idx):
                out[i] = top1[r, : len(sequences[i])]
            lp = torch.log_softmax(logits.float(), dim=-1)
            keep = mask.to(lp.device).bool()
            part = lp[keep].double().sum(dim=0).cpu()
            total = part if total is None else total + part
            count += int(keep.sum())
            if n_groups:
                g = torch.full(mask.shape, -1, dtype=torch.long)
                for r, i in enumerate(idx):  # group labels of a padded batch, not per-row model work
                    g[r, : len(sequences[i])] = torch.as_tensor(np.asarray(groups[i]), dtype=torch.long)
                sel = g >= 0
                if by_group is None:
                    by_group = torch.zeros((n_groups, lp.shape[-1]), dtype=torch.float64, device=lp.device)
                    by_group_p = torch.zeros_like(by_group) if group_probs else None
                rows = lp[sel.to(lp.device)].double()
                by_group.index_add_(0, g[sel].to(lp.device), rows)
                if by_group_p is not None:
                    by_group_p.index_add_(0, g[sel].to(lp.device), rows.exp())
                group_count += torch.bincount(g[sel], minlength=n_groups).double()
        self.queries += len(sequences)
        group_mean = group_p = None
        if by_group is not None:
            group_mean = (by_group.cpu() / group_count.clamp(min=1)[:, None]).numpy()
            if by_group_p is not None:
                group_p = (by_group_p.cpu() / group_count.clamp(min=1)[:, None]).numpy()
        return out, (total / count).numpy(), group_mean, group_p  # type: ignore[return-value,union-attr]

    def continuation_logprobs(self, prompts, continuations):
        from distillguard.watermark.generate import encode_prompts

        tok = self.tokenizer
        seqs, starts = [], []
        for p, c in zip(prompts, continuations):
            head = encode_prompts(self.loaded, [p])["input_ids"][0].tolist()
            tail = tok.encode(c, add_special_tokens=False)
            if not tail:
                raise DistillguardError("empty continuation: nothing to score")
            seqs.append(head + tail)
            starts.append(len(head))
        scores = [0.0] * len(seqs)
        for idx, logits, _, lo in self._forward_batches(seqs, 8, first_needed=[s - 1 for s in starts]):
            logp = torch.log_softmax(logits.float(), dim=-1)
            for r, i in enumerate(idx):
                s, n = starts[i], len(seqs[i])
                target = torch.as_tensor(seqs[i][s:n], device=logp.device)
                scores[i] = float(logp[r, s - 1 - lo : n - 1 - lo].gather(1, target[:, None]).mean())
        self.queries += len(seqs)
        return scores
