"""Students for the distillation simulator: trained on (soft) top-k targets or on sampled text.

One training loop covers both kinds of harvest: a target is a set of candidate next tokens with
log-probabilities (top-k of the teacher's API, renormalised) -- sampled text is the special case of one
candidate with log-prob 0 (plain next-token cross-entropy).

Example:
    >>> import numpy as np
    >>> from distillguard.distill.student import make_student, train_student
    >>> m = make_student(50, layers=1, hidden=32)
    >>> ids = np.arange(40) % 50
    >>> tgt = np.roll(ids, -1)[:, None]
    >>> loss = train_student(m, ids, np.array([40]), tgt, np.zeros((40, 1), np.float32), epochs=1, progress=False)
    >>> loss > 0
    True
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["make_student", "lora_wrap", "train_student", "save_student", "text_targets", "chat_examples", "chat_sequences",
           "train_text_student", "substitute_tokens"]


def make_student(vocab_size: int, *, layers: int = 4, hidden: int = 256, heads: int = 4, seed: int = 0) -> Any:
    """A small Llama-shaped causal LM initialised at random (another shape than the teacher).

    Example:
        >>> from distillguard.distill.student import make_student
        >>> make_student(100, layers=1, hidden=32).config.num_hidden_layers
        1
    """
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=vocab_size, hidden_size=hidden, intermediate_size=int(2.5 * hidden),
                      num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=heads,
                      max_position_embeddings=1024, tie_word_embeddings=True,
                      pad_token_id=0, bos_token_id=1, eos_token_id=2)
    return LlamaForCausalLM(cfg)


def text_targets(ids: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hard next-token targets of sampled text: ``(targets [T, 1], logprobs [T, 1])``; -1 = no target.

    Example:
        >>> import numpy as np
        >>> from distillguard.distill.student import text_targets
        >>> text_targets(np.array([5, 6, 7]), np.array([3]))[0].ravel().tolist()
        [6, 7, -1]
    """
    tgt = np.roll(np.asarray(ids, dtype=np.int64), -1)
    ends = np.cumsum(lengths) - 1
    tgt[ends] = -1
    return tgt[:, None], np.zeros((len(tgt), 1), np.float32)


def sequence_targets(seqs: list[list[int]], answer_starts: list[int] | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, lengths, target_ids, target_logprobs)`` for :func:`train_student` from token-id sequences.

    ``answer_starts[i]``: sequence i's loss counts from that position on (its prompt is not a target).

    Example:
        >>> ids, lengths, tgt, lp = sequence_targets([[5, 6, 7, 8]], answer_starts=[2])
        >>> tgt[:, 0].tolist()  # 6 is a prompt token; 7 and 8 are the answer's; the last has no next token
        [-1, 7, 8, -1]
    """
    ids = np.concatenate([np.asarray(s, np.int64) for s in seqs])
    lengths = np.array([len(s) for s in seqs])
    tgt, lp = text_targets(ids, lengths)
    if answer_starts is not None:  # no loss on the prompt: the first target is the answer's first token
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for s0, a in zip(starts, answer_starts):
            tgt[s0 : s0 + max(0, a - 1)] = -1
    return ids, lengths, tgt, lp


def train_student(
    model: Any,
    ids: np.ndarray,
    lengths: np.ndarray,
    target_ids: np.ndarray,
    target_logprobs: np.ndarray,
    *,
    epochs: int = 2,
    batch_size: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
    desc: str = "training",
    restrict_vocab: bool = False,
    bf16: bool = False,
) -> float:
    """Train ``model`` to match top-k targets (cross-entropy with the renormalised soft targets).

    ``ids``/``lengths`` are the texts (concatenated), ``target_ids[t]``/``target_logprobs[t]`` the
    candidates for the token after position ``t`` (id -1 = ignore). AdamW, linear warm-up, cosine decay.
    Returns the mean loss of the last epoch.

    ``restrict_vocab=True`` (with a 49k vocabulary and a small harvest, most of the cost of a step is the
    full output projection): the output rows of ids that never occur in the data are set to zero and kept
    there, so each of them has logit 0 and the full softmax is exactly
    ``logsumexp(seen logits, log(#unseen))`` -- computed without projecting onto the unseen rows. The saved
    model keeps its full vocabulary and its softmax is the one that was trained.

    Parameters with ``requires_grad=False`` (say, a pretrained model's frozen embeddings) are not trained.
    ``bf16=True`` runs forward and backward under bfloat16 autocast (about 2x faster for a 270M model on a
    CPU with AVX-512 BF16); the weights and the optimiser stay in float32.

    Example:
        >>> from distillguard.distill.student import train_student  # doctest: +SKIP
    """
    model.train()
    dev = next(model.parameters()).device  # batches are assembled on the CPU and moved to the model's device
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    n = len(lengths)
    steps = epochs * math.ceil(n / batch_size)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps))))
    rng = np.random.default_rng(seed)
    subset = lookup = None
    if restrict_vocab:
        seen = np.unique(np.concatenate([np.asarray(target_ids).ravel(), np.asarray(ids).ravel()]))
        subset = torch.from_numpy(seen[seen >= 0].astype(np.int64))
        out_w = model.get_output_embeddings().weight
        unseen = torch.ones(out_w.shape[0], dtype=torch.bool)
        unseen[subset] = False
        with torch.no_grad():
            out_w[unseen.to(out_w.device)] = 0.0  # never an input or a target: no gradient reaches these rows, they stay 0
        log_unseen = math.log(int(unseen.sum())) if unseen.any() else -math.inf
        lookup = torch.full((out_w.shape[0],), -1, dtype=torch.long)
        lookup[subset] = torch.arange(len(subset))
        subset, lookup = subset.to(dev), lookup.to(dev)
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress)
    last = []
    for ep in range(epochs):
        order = rng.permutation(n)
        # group similar lengths (less padding) but keep the batch order random
        order = order[np.argsort(lengths[order], kind="stable")]
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
        rng.shuffle(batches)
        last = []
        for b in batches:
            L = int(lengths[b].max())
            K = target_ids.shape[1]
            x = torch.zeros((len(b), L), dtype=torch.long)
            mask = torch.zeros((len(b), L), dtype=torch.long)
            tid = torch.full((len(b), L, K), -1, dtype=torch.long)
            tlp = torch.full((len(b), L, K), -math.inf)
            for r, i in enumerate(b):  # assembling a padded batch
                s, m = offsets[i], lengths[i]
                x[r, :m] = torch.from_numpy(ids[s : s + m])
                mask[r, :m] = 1
                tid[r, :m] = torch.from_numpy(target_ids[s : s + m])
                tlp[r, :m] = torch.from_numpy(target_logprobs[s : s + m])
            x, mask, tid, tlp = x.to(dev), mask.to(dev), tid.to(dev), tlp.to(dev)
            valid = tid >= 0
            w = torch.where(valid, tlp, torch.full_like(tlp, -math.inf)).softmax(-1).nan_to_num(0.0)
            with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
                if subset is None:
                    logq = model(input_ids=x, attention_mask=mask).logits.float().log_softmax(-1)
                else:  # logits over the seen ids only; targets re-indexed into that subset
                    h = model.get_decoder()(input_ids=x, attention_mask=mask).last_hidden_state
                    z = torch.nn.functional.linear(h, model.get_output_embeddings().weight[subset]).float()
                    rest = torch.full_like(z[..., :1], log_unseen)  # the unseen ids' total: n * exp(0)
                    logq = z - torch.logsumexp(torch.cat([z, rest], -1), -1, keepdim=True)
                    tid = torch.where(valid, lookup[tid.clamp(min=0)], tid)
            picked = logq.gather(-1, tid.clamp(min=0)) * valid
            per_pos = -(w * picked).sum(-1)
            has = valid.any(-1) & (mask > 0)
            loss = per_pos[has].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            last.append(float(loss.detach()))
            bar.set_postfix(epoch=ep + 1, loss=f"{np.mean(last[-20:]):.3f}")
            bar.update(1)
    bar.close()
    model.eval()
    return float(np.mean(last)) if last else math.nan


def save_student(model: Any, tokenizer: Any, out_dir: str | os.PathLike) -> Path:
    """Save a student as a Hugging Face directory (safetensors + the teacher's tokenizer): a local suspect.

    Example:
        >>> from distillguard.distill.student import save_student  # doctest: +SKIP
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def chat_examples(tokenizer: Any, pairs: list[tuple[str, str]], max_prompt: int = 128,
                  max_answer: int = 128) -> tuple[list[list[int]], list[int]]:
    """Token ids of ``prompt (chat template) + answer + eos`` and where each answer starts.

    Pairs whose answer encodes to no token are dropped.

    Example:
        >>> from distillguard.distill.student import chat_examples  # doctest: +SKIP
        >>> seqs, starts = chat_examples(tok, [("Hi", "Hello!")])  # doctest: +SKIP
    """
    from distillguard.watermark.generate import encode_prompt_text

    seqs, starts = [], []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for prompt, answer in pairs:
        p = tokenizer.encode(encode_prompt_text(tokenizer, prompt), add_special_tokens=False)[-max_prompt:]
        a = tokenizer.encode(answer, add_special_tokens=False)[:max_answer]
        if a:
            seqs.append(p + a + eos)
            starts.append(len(p))
    return seqs, starts


def chat_sequences(tokenizer: Any, pairs: list[tuple[str, str]], max_prompt: int = 128,
                   max_answer: int = 128) -> list[list[int]]:
    """Token ids of ``prompt (chat template) + answer + eos``: what a student trained on chat data sees.

    Example:
        >>> from distillguard.distill.student import chat_sequences  # doctest: +SKIP
        >>> chat_sequences(tok, [("Hi", "Hello!")])[0][-1] == tok.eos_token_id  # doctest: +SKIP
        True
    """
    return chat_examples(tokenizer, pairs, max_prompt, max_answer)[0]


def substitute_tokens(seqs: list[list[int]], rate: float, vocab_size: int, *, start: list[int] | None = None,
                      seed: int = 0) -> list[list[int]]:
    """Replace a ``rate`` share of the tokens (after ``start[i]`` in sequence i) by uniform random ids.

    The paraphrase attack of the persistence benchmark: a random substitute is green with probability
    gamma, so substitution dilutes the mark the student can learn.

    Example:
        >>> from distillguard.distill.student import substitute_tokens
        >>> out = substitute_tokens([[1] * 1000], 0.25, 50_000, seed=0)[0]
        >>> 200 < sum(t != 1 for t in out) < 300
        True
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    rng = np.random.default_rng(seed)
    out = []
    for i, s in enumerate(seqs):
        a = np.asarray(s, dtype=np.int64).copy()
        lo = start[i] if start is not None else 0
        hit = np.flatnonzero(rng.random(len(a) - lo) < rate) + lo
        a[hit] = rng.integers(0, vocab_size, size=len(hit))
        out.append(a.tolist())
    return out


def lora_wrap(model: Any, rank: int, seed: int = 0) -> Any:
    """``model`` with a LoRA adapter of ``rank`` on every linear layer (alpha = 2 x rank, no dropout); only the
    adapter trains. Needs ``peft`` (``pip install distillguard[lora]``).

    Example:
        >>> from distillguard.distill.student import lora_wrap, make_student
        >>> m = lora_wrap(make_student(64, layers=1, hidden=32), rank=4)
        >>> sum(p.numel() for p in m.parameters() if p.requires_grad) < sum(p.numel() for p in m.parameters()) // 4
        True
    """
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as e:  # an optional extra: say how to get it
        raise ImportError("LoRA students need peft: pip install 'distillguard[lora]'") from e
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    torch.manual_seed(seed)  # the adapter's initialisation
    cfg = LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules="all-linear")
    return get_peft_model(model, cfg)


def train_text_student(
    out_dir: str | os.PathLike,
    tokenizer: Any,
    seqs: list[list[int]],
    *,
    layers: int = 2,
    hidden: int = 256,
    epochs: int = 6,
    lr: float = 3e-3,
    seed: int = 0,
    init: Any = None,
    desc: str = "student",
    answer_starts: list[int] | None = None,
    freeze_embeddings: bool = False,
    bf16: bool = False,
    lora_rank: int = 0,
) -> dict[str, Any]:
    """Train a student on sampled text (next-token cross-entropy), save it, and return ``train.json``'s info.

    Cached: when ``out_dir/train.json`` exists the saved student is reused. ``init`` continues training a
    given model (a teacher copy to fine-tune, or a student to train further) with the full softmax; without it
    a from-scratch student of ``layers`` x ``hidden`` is trained with the exact restricted-vocabulary softmax.
    ``answer_starts[i]``: the loss of sequence i counts from that position on (supervised fine-tuning on the
    answers only); ``freeze_embeddings`` keeps ``init``'s (tied) embeddings fixed; ``bf16``: see
    :func:`train_student`. ``lora_rank > 0`` (with ``init``) trains a LoRA adapter of that rank on every linear
    layer of ``init`` instead of all its weights (``peft``; alpha = 2 x rank, no dropout) and saves the *merged*
    model: a plain Hugging Face directory, so a suspect built from it needs no ``peft``.

    Example:
        >>> from distillguard.distill.student import train_text_student  # doctest: +SKIP
        >>> train_text_student("runs/s", tok, chat_sequences(tok, pairs), epochs=6)["final_loss"]  # doctest: +SKIP
    """
    import json
    import time

    out = Path(out_dir)
    marker = out / "train.json"
    if marker.exists():
        return json.loads(marker.read_text())
    if not seqs:
        raise ValueError("no training sequence")
    ids, lengths, tgt, lp = sequence_targets(seqs, answer_starts)
    if lora_rank and init is None:
        raise ValueError("lora_rank needs a pretrained model to adapt (init)")
    if freeze_embeddings and init is not None:
        init.get_input_embeddings().weight.requires_grad_(False)
    model = init if init is not None else make_student(len(tokenizer), layers=layers, hidden=hidden, seed=seed)
    if lora_rank:
        model = lora_wrap(model, lora_rank, seed)
    t0 = time.time()
    loss = train_student(model, ids, lengths, tgt, lp, epochs=epochs, batch_size=8, lr=lr, seed=seed, desc=desc,
                         restrict_vocab=init is None, bf16=bf16)
    if lora_rank:
        model = model.merge_and_unload()  # the adapter folded into the weights: a plain model on disk
    save_student(model, tokenizer, out)
    cfg = model.config
    info = {"layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size, "epochs": epochs, "lr": lr,
            "init": "continued" if init is not None else "from scratch", "texts": len(seqs),
            "loss_on": "answers" if answer_starts is not None else "whole sequences",
            "frozen_embeddings": bool(freeze_embeddings and init is not None), "bf16": bf16,
            "lora_rank": int(lora_rank),
            "tokens": int(len(ids)), "steps": epochs * math.ceil(len(seqs) / 8), "final_loss": round(loss, 4),
            "seconds": round(time.time() - t0, 1)}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(marker)  # the marker appears only when the student is saved
    return info
