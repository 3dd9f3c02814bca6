"""The distillation simulator: harvest -> watermark -> mix -> train students -> radioactivity test.

Every stage is cached under ``out_dir`` so an interrupted run resumes: the top-k harvest (shards), the
trained students (HF directories), the suspects' predictions on the held-out reading text (npz).
Students learn by **logit distillation** from the teacher's top-k log-probs on real text (teacher-forced):
the path that fits CPU hours. Results name their harvest kind explicitly.

Example:
    >>> from distillguard.distill.simulate import run_simulation  # doctest: +SKIP
    >>> run_simulation("runs/sim", fractions=[1.0, 0.25])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from distillguard.detect.radioactivity import Predictions, read_predictions, score_predictions, score_ranks
from distillguard.detect.stats import null_summary
from distillguard.distill.harvest import TopkHarvest, harvest_topk, load_topk, real_texts, watermark_topk
from distillguard.distill.student import make_student, save_student, train_student
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id

__all__ = ["make_key", "mixed_targets", "cached_predictions", "train_logit_student", "rank_row", "run_simulation"]


def make_key(path: Path, tokenizer: Any, *, delta: float = 3.0, context_width: int = 1) -> WatermarkKey:
    """Load the key at ``path`` or create it there (mode 0600) for the teacher's tokenizer.

    Example:
        >>> from distillguard.distill.simulate import make_key  # doctest: +SKIP
    """
    if path.exists():
        return WatermarkKey.load(path)
    spec = WatermarkSpec(vocab_size=len(tokenizer), gamma=0.25, delta=delta, context_width=context_width,
                         tokenizer_id=tokenizer_id(tokenizer))
    key = WatermarkKey.generate(spec)
    key.save(path)
    return key


def mixed_targets(harvest: TopkHarvest, key: WatermarkKey | None, fraction: float, *, k: int = 20,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Top-k targets where a ``fraction`` of the texts (chosen at random) carry ``key``'s watermark.

    Example:
        >>> from distillguard.distill.simulate import mixed_targets  # doctest: +SKIP
    """
    clean_ids, clean_lp, _ = watermark_topk(harvest, None, k=k)
    if key is None or fraction <= 0:
        return clean_ids, clean_lp, {"watermarked_texts": 0, "watermarked_positions": 0, "inexact_share": 0.0}
    wm_ids, wm_lp, inexact = watermark_topk(harvest, key, k=k)
    n = len(harvest.lengths)
    chosen = np.random.default_rng(seed).permutation(n)[: int(round(fraction * n))]
    is_wm = np.zeros(n, bool)
    is_wm[chosen] = True
    rows = np.repeat(is_wm, harvest.lengths)
    ids = np.where(rows[:, None], wm_ids, clean_ids)
    lp = np.where(rows[:, None], wm_lp, clean_lp)
    return ids, lp, {"watermarked_texts": int(is_wm.sum()), "watermarked_positions": int(rows.sum()),
                     "inexact_share": inexact}


def cached_predictions(suspect: Any, seqs: list[list[int]], path: Path) -> Predictions:
    """Predictions of ``suspect`` on ``seqs``, cached in ``path`` (npz): they do not depend on any key.

    Example:
        >>> from distillguard.distill.simulate import cached_predictions  # doctest: +SKIP
    """
    if path.exists():
        z = np.load(path)
        # a cache written before the averaged distribution was kept is read again (the rank statistic needs it)
        if "mean_logprobs" in z.files or not hasattr(suspect, "reading_pass"):
            mean_lp = z["mean_logprobs"] if "mean_logprobs" in z.files else None
            return Predictions(z["ids"], z["segments"], z["preds"], str(z["source"]), mean_lp)
    preds = read_predictions(suspect, seqs, batch_size=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {} if preds.mean_logprobs is None else {"mean_logprobs": preds.mean_logprobs}
    np.savez_compressed(path, ids=preds.ids, segments=preds.segments, preds=preds.preds, source=preds.source, **extra)
    return preds


def train_logit_student(harvest: TopkHarvest, tgt_ids: np.ndarray, tgt_lp: np.ndarray, tokenizer: Any,
                        out: Path, *, epochs: int, layers: int = 4, hidden: int = 256, desc: str = "student",
                        seed: int = 0) -> dict:
    """Train (or reuse, when ``out`` exists) a from-scratch student by top-k logit distillation.

    Example:
        >>> from distillguard.distill.simulate import train_logit_student  # doctest: +SKIP
    """
    done = out / "train.json"
    if done.exists():
        return json.loads(done.read_text())
    t0 = time.perf_counter()
    model = make_student(len(tokenizer), layers=layers, hidden=hidden, seed=seed)
    loss = train_student(model, harvest.ids, harvest.lengths, tgt_ids, tgt_lp, epochs=epochs, desc=desc, seed=seed)
    save_student(model, tokenizer, out)
    info = {"final_loss": loss, "epochs": epochs, "layers": layers, "hidden": hidden, "seed": seed,
            "positions": int(len(harvest.ids)), "train_seconds": round(time.perf_counter() - t0, 1)}
    done.write_text(json.dumps(info, indent=2))
    return info


def rank_row(mean_logprobs: np.ndarray, keys: list[WatermarkKey], accounts: list[str], other: WatermarkKey, *,
             reference: np.ndarray | None = None) -> dict[str, Any]:
    """Rank test of every account (Holm; ``accounts[0]``, the harvester, first) and of a key nobody used.

    ``null_accounts`` calibrates the other accounts' p-values: the suspect never learned from them.

    Example:
        >>> from distillguard.distill.simulate import rank_row  # doctest: +SKIP
    """
    ranks = score_ranks(mean_logprobs, keys, reference=reference)
    return {"key": ranks[0].to_dict(),
            "other_key": score_ranks(mean_logprobs, [other], reference=reference)[0].to_dict(),
            "flagged": [accounts[i] for i, r in enumerate(ranks) if r.detected],
            "null_accounts": null_summary([r.p_value for r in ranks[1:]])}


def run_simulation(
    out_dir: str | Path = "runs/simulate",
    *,
    fractions: list[float] | None = None,
    n_train: int = 600,
    n_read: int = 400,
    epochs: int = 2,
    longer: list[tuple[float, int]] | None = None,
    quick: bool = False,
    delta: float = 3.0,
    context_width: int | None = None,
    key_path: str | None = None,
    n_accounts: int = 1000,
    train_missing: bool = True,
    shadow: bool = False,
    seed: int = 0,
    clean_control: bool = True,
) -> dict[str, Any]:
    """Run the whole simulator with the SmolLM2 teacher and return a summary (also written to ``out_dir``).

    The key under test is the sub-key of account ``harvester``; attribution searches it among
    ``n_accounts`` account sub-keys; the other-key control uses a fresh master key. A new key gets ``delta``
    and ``context_width`` (default 1); an existing key file must match ``context_width`` when it is given.
    ``longer``: extra students ``(fraction, epochs)`` trained for other epoch counts (``wm5-6ep`` ...).

    Every student is scored by top-1 coins (``key``, Holm over the accounts; ``attribution``). For h = 0 keys
    also by the rank statistic (``rank``: the harvester, the other key, the accounts flagged, and the null
    summary of the accounts it never learned from), and by the rank statistic relative to the untouched
    teacher reading the same text (``rank_ref``: a distilled student imitates the teacher's distribution,
    and subtracting it leaves what the student learned beyond it; the teacher is independent of the key,
    whose watermark is added at serving time). With ``shadow`` (h = 0 keys) also relative to a *shadow
    student* (``rank_shadow``): a student of the same shape that the provider distils itself from its clean
    teacher, on ``n_train`` other texts (disjoint from the suspects') and with another seed. It is
    independent of the key, so the null stays exact, and it shares what any student of that shape learns from
    this teacher -- the part of a suspect's ranking that is not the watermark (see
    :mod:`distillguard.distill.shadow`). With ``train_missing=False`` only students already trained in
    ``out_dir`` are tested (the others are listed under ``not_trained``). ``seed`` sets the students'
    initialisation and which texts carry the watermark; the shadow uses ``seed + 1``. ``clean_control=False``
    skips the clean student (a replication of one cell).

    Example:
        >>> from distillguard.distill.simulate import run_simulation  # doctest: +SKIP
    """
    from distillguard.models import load_model
    from distillguard.suspects import LocalSuspect

    fractions = fractions or [1.0, 0.25, 0.05]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if quick:
        n_train, n_read, epochs = min(n_train, 48), min(n_read, 24), 1
    teacher = load_model(None)
    tok = teacher.tokenizer
    master = make_key(Path(key_path) if key_path else out / "teacher.key", tok, delta=delta,
                      context_width=1 if context_width is None else context_width)
    if context_width is not None and master.require_spec().context_width != context_width:
        raise DistillguardError(f"the simulator's key has h = {master.require_spec().context_width}, not "
                                f"{context_width}: use another --out (or key)")
    key = master.for_account("harvester")
    other = WatermarkKey.generate(master.require_spec())
    harvest_dir = out / f"topk_train_{n_train}"
    harvest_topk(teacher, real_texts("train", n_train), harvest_dir, k=64, max_len=256, shard_size=50)
    harvest = load_topk(harvest_dir)
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", n_read)]
    accounts = ["harvester"] + [f"acct-{i:04d}" for i in range(n_accounts - 1)]
    acct_keys = [master.for_account(a) for a in accounts]
    teacher_lp = None
    if master.require_spec().context_width == 0:
        teacher_lp = cached_predictions(LocalSuspect(teacher), read_seqs,
                                        out / "preds" / f"teacher_read_{len(read_seqs)}.npz").mean_logprobs
    shadow_lp, shadow_info = None, None
    if shadow and master.require_spec().context_width == 0:
        shadow_dir = out / f"topk_shadow_{n_train}"  # the provider's own texts: disjoint from the students'
        harvest_topk(teacher, real_texts("train", n_train, skip=n_train), shadow_dir, k=64, max_len=256,
                     shard_size=50)
        shadow_harvest = load_topk(shadow_dir)
        s_ids, s_lp, _ = mixed_targets(shadow_harvest, None, 0.0)
        shadow_info = train_logit_student(shadow_harvest, s_ids, s_lp, tok, out / "students" / "shadow",
                                          epochs=epochs, desc="shadow", seed=seed + 1)
        shadow_lp = cached_predictions(LocalSuspect.load(out / "students" / "shadow"), read_seqs,
                                       out / "preds" / "shadow.npz").mean_logprobs
        shadow_info = {**shadow_info, "positions": int(len(shadow_harvest.ids)),
                       "texts": f"ShareGPT train answers {n_train}..{2 * n_train - 1} (clean teacher top-20; the "
                                f"students learned from answers 0..{n_train - 1})"}
    rows = []
    configs = [(f"wm{int(round(f * 100))}", key, f, epochs) for f in fractions]
    if clean_control:
        configs.insert(min(1, len(configs)), ("clean", None, 0.0, epochs))  # most informative students first
    configs += [(f"wm{int(round(f * 100))}-{e}ep", key, f, e) for f, e in longer or []]
    not_trained = []
    for name, k, frac, n_epochs in tqdm(configs, desc="students"):
        if not train_missing and not (out / "students" / name / "train.json").exists():
            not_trained.append(name)
            continue
        ids, lp, mix = mixed_targets(harvest, k, frac, seed=seed)
        info = train_logit_student(harvest, ids, lp, tok, out / "students" / name, epochs=n_epochs,
                                   desc=name, seed=seed)
        suspect = LocalSuspect.load(out / "students" / name)
        preds = cached_predictions(suspect, read_seqs, out / "preds" / f"{name}.npz")
        attr = score_predictions(preds, acct_keys)  # accounts[0] is the harvester: Holm over every account
        oth = score_predictions(preds, [other])[0]
        flagged = [accounts[i] for i, r in enumerate(attr) if r.detected]
        row = {"student": f"from-scratch {info['layers']}L d={info['hidden']}", "name": name,
               "harvest": "teacher-forced top-20 log-probs (logit distillation)", "fraction": frac,
               **mix, "train": info, "key": attr[0].to_dict(), "other_key": oth.to_dict(),
               "attribution": {"accounts": len(accounts), "flagged": flagged}}
        if teacher_lp is not None and preds.mean_logprobs is not None:
            refs = [("rank", None), ("rank_ref", teacher_lp)] + ([("rank_shadow", shadow_lp)] if shadow_lp is not None
                                                                   else [])
            for label, ref in refs:
                row[label] = rank_row(preds.mean_logprobs, acct_keys, accounts, other, reference=ref)
        rows.append(row)
    summary = {"out_dir": str(out), "positions": int(len(harvest.ids)), "texts_read": len(read_seqs),
               "key_fingerprint": key.fingerprint, "rows": rows, "shadow": shadow_info,
               "not_trained": not_trained}
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary
