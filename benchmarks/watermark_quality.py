#!/usr/bin/env python
"""Watermark quality benchmark: what does the watermark cost in text quality, and how robust is detection?

Answers two questions of issue 2 with the real SmolLM2-135M-Instruct teacher and real ShareGPT prompts:

1. **Quality vs power.** Teacher answers (chat template, temperature 0.7, exactly ``--new-tokens`` tokens:
   ``min_new_tokens = max_new_tokens``) unwatermarked and watermarked with delta in {1, 2, 3, 4} (gamma 0.25,
   h = 1, left seeding), all for the same prompts with the same sampling seeds. For each delta: perplexity of
   the answer text under the independent reference model Gemma-3-270M (answer re-tokenised with Gemma's
   tokenizer, conditioned on the prompt text), and detection power: TPR at p <= 1e-5 (exact binomial test)
   of the answers re-tokenised from their text with the teacher's tokenizer. The empirical FPR is checked on
   the unwatermarked answers against many random keys.
2. **Robustness** (delta = 2): TPR and median log10 p after random token substitution (10 %, 25 % of the
   tokens; uniformly random token ids and draws from the clean answers' unigram distribution), and when the
   watermarked answer is a quarter of a longer clean document (inside three other clean teacher answers).

Generations are cached as gzipped JSONL of token ids (resumable, one gzip member per batch) under
``benchmarks/data/watermark_quality/`` (``$DISTILLGUARD_CACHE/watermark_quality_quick`` for ``--quick``).
Results go to ``benchmarks/results/watermark_quality.{json,md}``; ``--quick`` (CI smoke) writes under
``$DISTILLGUARD_CACHE/bench/`` instead so that it never overwrites the full results.

Usage:
    python benchmarks/watermark_quality.py            # full run (96 prompts per delta)
    python benchmarks/watermark_quality.py --quick    # smoke run: 4 prompts, 48 tokens
"""

from __future__ import annotations

import argparse
import gc
import gzip
import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm
from transformers import LogitsProcessorList

from distillguard.data import sharegpt_prompts
from distillguard.detect.text import TextScore, score_batch
from distillguard.distill.bench import clopper_pearson, machine_text, md_table, new_record, write_result
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import REFERENCE, LoadedModel, cache_dir, load_model
from distillguard.watermark.generate import encode_prompts
from distillguard.watermark.processor import WatermarkLogitsProcessor

ROOT = Path(__file__).resolve().parents[1]
NAME = "watermark_quality"
ALPHA = 1e-5
GAMMA = 0.25
DELTAS = (1.0, 2.0, 3.0, 4.0)
ROBUST_DELTA = 2.0
CALIBRATION_ALPHAS = (1e-2, 1e-3, 1e-4, 1e-5)
PREFIX_LENGTHS = (50, 100, 150, 200)
#: A fixed, *public* benchmark key (reproducible runs); never use a derived-from-a-string key in production.
BENCH_SECRET = hashlib.sha256(b"distillguard/benchmarks/watermark_quality/v1").digest()


@dataclass(frozen=True)
class Config:
    """Sizes and settings of one run."""

    quick: bool
    n_texts: int
    new_tokens: int
    batch_size: int
    temperature: float
    n_null_keys: int
    sub_rates: tuple[float, ...]
    sub_draws: int
    clean_per_doc: int
    ppl_batch: int
    prompt_max_chars: int
    prompt_min_chars: int
    context_max_tokens: int
    seed: int
    data_dir: Path
    out_dir: Path


# ---------------------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> Config:
    """Parse the command line into a :class:`Config` (``--quick`` shrinks every size)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke run: few short texts, few null keys")
    ap.add_argument("--n-texts", type=int, default=None, help="prompts (texts per delta); full default 96")
    ap.add_argument("--new-tokens", type=int, default=None, help="answer length in teacher tokens (200)")
    ap.add_argument("--batch-size", type=int, default=None, help="generation batch size (32)")
    ap.add_argument("--null-keys", type=int, default=None, help="random keys for the FPR check (1000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is faster on an oversubscribed machine)"
    )
    ap.add_argument("--data-dir", type=Path, default=None, help="generation cache directory")
    ap.add_argument("--out-dir", type=Path, default=None, help="where the JSON and markdown results go")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    q = a.quick
    return Config(
        quick=q,
        n_texts=a.n_texts or (4 if q else 96),
        new_tokens=a.new_tokens or (48 if q else 200),
        batch_size=a.batch_size or (4 if q else 32),
        temperature=0.7,
        n_null_keys=a.null_keys or (20 if q else 1000),
        sub_rates=(0.10, 0.25),
        sub_draws=2 if q else 4,
        clean_per_doc=3,
        ppl_batch=4 if q else 8,
        prompt_max_chars=400,
        prompt_min_chars=20,
        context_max_tokens=128,
        seed=a.seed,
        data_dir=a.data_dir or (cache_dir() / f"{NAME}_quick" if q else ROOT / "benchmarks" / "data" / NAME),
        out_dir=a.out_dir or (cache_dir() / "bench" if q else ROOT / "benchmarks" / "results"),
    )


def bench_spec(tok: Any, delta: float) -> WatermarkSpec:
    """The benchmark's watermark spec for the teacher's tokenizer (gamma 0.25, h = 1, left seeding)."""
    return WatermarkSpec(
        vocab_size=len(tok),
        gamma=GAMMA,
        delta=delta,
        context_width=1,
        seeding="left",
        tokenizer_id=tokenizer_id(tok),
    )


# ---------------------------------------------------------------------------------------------------------
# statistics helpers
# ---------------------------------------------------------------------------------------------------------

def exact_size(n_scored: int, alpha: float, gamma: float) -> float:
    """P(p <= alpha) under the null for the exact one-sided binomial test with ``n_scored`` coins."""
    if n_scored <= 0:
        return 0.0
    ks = np.arange(n_scored + 1)
    sf = stats.binom.sf(ks - 1, n_scored, gamma)  # P(X >= k)
    ok = np.flatnonzero(sf <= alpha)
    return float(sf[ok[0]]) if len(ok) else 0.0


def _median(xs: Sequence[float]) -> float:
    return float(np.median(np.asarray(xs, dtype=float))) if len(xs) else math.nan


def detection_summary(scores: Sequence[TextScore]) -> dict[str, Any]:
    """TPR at ALPHA (with a 95 % Clopper-Pearson interval), median log10 p, green fraction, scored counts."""
    n = len(scores)
    k = sum(s.detected for s in scores)
    return {
        "n": n,
        "detected": int(k),
        "tpr": k / n if n else math.nan,
        "tpr_ci95": clopper_pearson(k, n),
        "median_log10_p": _median([s.log10_p for s in scores]),
        "mean_green_fraction": float(np.nanmean([s.green_fraction for s in scores])) if n else math.nan,
        "median_tokens": _median([s.tokens for s in scores]),
        "median_scored": _median([s.scored for s in scores]),
        "degenerate_share": float(np.mean([s.scored < 0.5 * max(s.tokens - 1, 1) for s in scores])) if n else math.nan,
    }


def bootstrap_ci(x: np.ndarray, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """95 % percentile bootstrap interval of the mean of ``x``."""
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


# ---------------------------------------------------------------------------------------------------------
# generation with a resumable gzip-JSONL cache
# ---------------------------------------------------------------------------------------------------------
def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def read_cache(path: Path) -> dict[int, dict[str, Any]]:
    """Records already generated, by prompt index; a torn tail (killed mid-write) is dropped and cut off."""
    recs: dict[int, dict[str, Any]] = {}
    if not path.exists():
        return recs
    torn = False
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                recs[int(rec["i"])] = rec
    except (EOFError, OSError, json.JSONDecodeError, KeyError, ValueError):
        torn = True
    if torn:
        write_cache(path, list(recs.values()), mode="wt")
    return recs


def write_cache(path: Path, recs: Sequence[dict[str, Any]], mode: str = "at") -> None:
    """Append records as one gzip member (``mode="wt"`` rewrites the file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, mode, encoding="utf-8") as fh:
        for rec in recs:
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")


def cache_path(cfg: Config, teacher: LoadedModel, condition: str, key: WatermarkKey | None) -> Path:
    """Cache file of one condition; its name hashes everything that determines the generations."""
    ident = {
        "model": teacher.identity,
        "key": None if key is None else key.fingerprint,
        "spec": None if key is None else key.require_spec().to_dict(),
        "T": cfg.temperature,
        "new_tokens": cfg.new_tokens,
        "batch_size": cfg.batch_size,
        "seed": cfg.seed,
    }
    tag = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:10]
    return cfg.data_dir / f"{condition}-{tag}.jsonl.gz"


def generate_batch(
    teacher: LoadedModel, prompts: Sequence[str], key: WatermarkKey | None, cfg: Config, batch_seed: int
) -> list[list[int]]:
    """Sample exactly ``cfg.new_tokens`` answer tokens per prompt (chat template; watermarked if ``key``)."""
    tok = teacher.tokenizer
    enc = encode_prompts(teacher, prompts)
    kwargs: dict[str, Any] = dict(
        do_sample=True,
        temperature=cfg.temperature,
        top_k=0,
        top_p=1.0,
        max_new_tokens=cfg.new_tokens,
        min_new_tokens=cfg.new_tokens,
        pad_token_id=tok.pad_token_id,
    )
    if key is not None:
        kwargs["logits_processor"] = LogitsProcessorList([WatermarkLogitsProcessor(key)])
    torch.manual_seed(batch_seed)
    with torch.inference_mode():
        out = teacher.model.generate(**enc, **kwargs)
    return out[:, enc["input_ids"].shape[1] :].tolist()


def ensure_generations(
    teacher: LoadedModel, prompts: Sequence[str], key: WatermarkKey | None, cfg: Config, condition: str
) -> list[list[int]]:
    """Token ids of every prompt's answer for one condition, generating only the batches not cached yet.

    Batch ``b`` is always the same prompts with the same sampling seed, in every condition (paired design).
    """
    path = cache_path(cfg, teacher, condition, key)
    recs = read_cache(path)
    n, bs = len(prompts), cfg.batch_size
    bar = tqdm(total=n, desc=f"generate {condition}", unit="text")
    for b0 in range(0, n, bs):
        idx = list(range(b0, min(n, b0 + bs)))
        cached = [recs.get(i) for i in idx]
        if all(r is not None and r["prompt_sha"] == _sha(prompts[i]) for i, r in zip(idx, cached)):
            bar.update(len(idx))
            continue
        ids = generate_batch(teacher, [prompts[i] for i in idx], key, cfg, cfg.seed * 1_000_003 + b0)
        new = [{"i": i, "prompt_sha": _sha(prompts[i]), "ids": row} for i, row in zip(idx, ids)]
        write_cache(path, new)
        recs.update({r["i"]: r for r in new})
        bar.update(len(idx))
    bar.close()
    return [recs[i]["ids"] for i in range(n)]


# ---------------------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------------------
def retokenise(tok: Any, texts: Sequence[str], max_tokens: int | None = None) -> list[np.ndarray]:
    """Teacher-tokenizer ids of each text (no special tokens), cut to ``max_tokens``."""
    return [np.asarray(tok.encode(t, add_special_tokens=False)[:max_tokens], dtype=np.int64) for t in texts]


def power_by_length(seqs: Sequence[np.ndarray], key: WatermarkKey, lengths: Sequence[int]) -> dict[str, Any]:
    """TPR and median log10 p when only the first ``L`` tokens of each text are scored."""
    out = {}
    for L in lengths:
        if L <= max(len(s) for s in seqs):
            out[str(L)] = detection_summary(score_batch([s[:L] for s in seqs], key, alpha=ALPHA))
    return out


def null_calibration(
    seqs: Sequence[np.ndarray], spec: WatermarkSpec, n_keys: int, seed: int, label: str
) -> dict[str, Any]:
    """Score ``seqs`` (independent of every key drawn) against ``n_keys`` random keys; count p <= alpha.

    Also gives the number of false positives the exact (discrete, conservative) test should produce:
    the sum over tests of P(p <= alpha | scored count) under the null.
    """
    rng = np.random.default_rng(seed)
    log10_ps: list[float] = []
    scored: list[int] = []
    for _ in tqdm(range(n_keys), desc=f"null keys ({label})", unit="key"):
        key = WatermarkKey(rng.bytes(32), spec)
        for s in score_batch(seqs, key, alpha=ALPHA):
            log10_ps.append(s.log10_p)
            scored.append(s.scored)
    lp = np.asarray(log10_ps)
    n_tests = len(lp)
    sizes_by_n = {}
    rows = []
    for a in CALIBRATION_ALPHAS:
        k = int(np.sum(lp <= math.log10(a) + 1e-12))
        expected = 0.0
        for n_sc, cnt in zip(*np.unique(scored, return_counts=True)):
            key_ = (int(n_sc), a)
            if key_ not in sizes_by_n:
                sizes_by_n[key_] = exact_size(int(n_sc), a, spec.effective_gamma)
            expected += cnt * sizes_by_n[key_]
        rows.append(
            {
                "alpha": a,
                "false_positives": k,
                "fpr": k / n_tests,
                "fpr_ci95": clopper_pearson(k, n_tests),
                "expected_false_positives_exact": expected,
                "alpha_times_tests": a * n_tests,
            }
        )
    return {
        "set": label,
        "texts": len(seqs),
        "keys": n_keys,
        "tests": n_tests,
        "min_log10_p": float(lp.min()),
        "rows": rows,
    }


def substitute(
    seqs: Sequence[np.ndarray], rate: float, draw: Callable[[np.random.Generator, int], np.ndarray], rng: np.random.Generator
) -> list[np.ndarray]:
    """Replace ``round(rate * len)`` positions of each sequence (chosen without replacement) by ``draw``."""
    out = []
    for s in seqs:
        s = s.copy()
        m = int(round(rate * len(s)))
        pos = rng.choice(len(s), size=m, replace=False)
        s[pos] = draw(rng, m)
        out.append(s)
    return out


def embed_documents(
    wm_texts: Sequence[str], clean_texts: Sequence[str], k: int, rng: np.random.Generator
) -> list[str]:
    """Each watermarked text at a random slot among ``k`` clean answers to *other* prompts, joined by blank lines."""
    n = len(clean_texts)
    docs = []
    for i, wm in enumerate(wm_texts):
        others = [clean_texts[(i + j) % n] for j in range(1, k + 1)]
        slot = int(rng.integers(0, k + 1))
        docs.append("\n\n".join(others[:slot] + [wm] + others[slot:]))
    return docs


def robustness(
    tok: Any, key: WatermarkKey, wm_texts: Sequence[str], clean_texts: Sequence[str], cfg: Config
) -> list[dict[str, Any]]:
    """TPR / median log10 p of the delta = 2 texts under substitution and embedding."""
    V = key.require_spec().vocab_size
    wm = retokenise(tok, wm_texts, cfg.new_tokens)
    pool = np.concatenate(retokenise(tok, clean_texts, cfg.new_tokens))
    draws: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
        "uniform": lambda r, m: r.integers(0, V, size=m),
        "unigram": lambda r, m: pool[r.integers(0, len(pool), size=m)],
    }
    rows = [{"condition": "no attack", "attack": "none", **detection_summary(score_batch(wm, key, alpha=ALPHA))}]
    for mode, draw in draws.items():
        for rate in cfg.sub_rates:
            rng = np.random.default_rng([cfg.seed, int(rate * 1000), 1 if mode == "uniform" else 2])
            attacked = [a for _ in range(cfg.sub_draws) for a in substitute(wm, rate, draw, rng)]
            summary = detection_summary(score_batch(attacked, key, alpha=ALPHA))
            rows.append(
                {
                    "condition": f"{rate:.0%} tokens substituted ({mode})",
                    "attack": f"substitute-{mode}",
                    "rate": rate,
                    "draws_per_text": cfg.sub_draws,
                    **summary,
                }
            )
    docs = embed_documents(wm_texts, clean_texts, cfg.clean_per_doc, np.random.default_rng([cfg.seed, 7]))
    doc_ids = retokenise(tok, docs)
    summary = detection_summary(score_batch(doc_ids, key, alpha=ALPHA))
    share = float(np.mean([len(w) / len(d) for w, d in zip(retokenise(tok, wm_texts), doc_ids)]))
    rows.append(
        {
            "condition": f"embedded in clean document (watermarked share {share:.0%})",
            "attack": "embed",
            "clean_texts_per_doc": cfg.clean_per_doc,
            "mean_watermarked_share": share,
            **summary,
        }
    )
    return rows


# ---------------------------------------------------------------------------------------------------------
# perplexity under the reference model
# ---------------------------------------------------------------------------------------------------------
def reference_inputs(ref: LoadedModel, prompt: str, answer: str, max_ctx: int) -> tuple[list[int], int]:
    """Gemma ids of ``<bos> prompt \\n\\n answer`` and where the answer starts (context cut to ``max_ctx``)."""
    tok = ref.tokenizer
    ctx = tok(prompt.strip() + "\n\n", add_special_tokens=True)["input_ids"]
    if len(ctx) > max_ctx:
        ctx = ctx[:1] + ctx[-(max_ctx - 1) :]
    ans = tok(answer, add_special_tokens=False)["input_ids"]
    return ctx + ans, len(ctx)


def _answer_nll(ref: LoadedModel, rows: list[tuple[list[int], int]]) -> list[tuple[float, int]]:
    """Summed NLL (nats) and token count of the answer part of each row (one right-padded batch)."""
    model = ref.model
    L = max(len(ids) for ids, _ in rows)
    pad = ref.tokenizer.pad_token_id or 0
    x = torch.full((len(rows), L), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), L), dtype=torch.long)
    for r, (ids, _) in enumerate(rows):
        x[r, : len(ids)] = torch.tensor(ids)
        mask[r, : len(ids)] = 1
    hidden = model.get_decoder()(input_ids=x, attention_mask=mask).last_hidden_state
    head = model.get_output_embeddings()
    cap = getattr(model.config, "final_logit_softcapping", None) or getattr(
        getattr(model.config, "text_config", None), "final_logit_softcapping", None
    )
    out = []
    for r, (ids, start) in enumerate(rows):
        pos = torch.arange(start - 1, len(ids) - 1)
        target = torch.tensor(ids[start:])
        nll = torch.zeros((), dtype=torch.float64)
        for c in range(0, len(pos), 256):  # [chunk, 262k] logits at a time
            logits = head(hidden[r, pos[c : c + 256]]).float()
            if cap:
                logits = torch.tanh(logits / cap) * cap
            lp = logits.log_softmax(-1).gather(1, target[c : c + 256, None])
            nll -= lp.double().sum()
        out.append((float(nll), len(target)))
    return out


def reference_perplexity(
    ref: LoadedModel, prompts: Sequence[str], answers: Sequence[str], cfg: Config, desc: str
) -> np.ndarray:
    """Per-text perplexity of each answer given its prompt, batched by length."""
    rows = [reference_inputs(ref, p, a, cfg.context_max_tokens) for p, a in zip(prompts, answers)]
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    ppl = np.full(len(rows), np.nan)
    bar = tqdm(total=len(rows), desc=f"gemma ppl {desc}", unit="text")
    with torch.inference_mode():
        for b0 in range(0, len(order), cfg.ppl_batch):
            idx = order[b0 : b0 + cfg.ppl_batch]
            for i, (nll, n) in zip(idx, _answer_nll(ref, [rows[i] for i in idx])):
                ppl[i] = math.exp(nll / n) if n else math.nan
            bar.update(len(idx))
    bar.close()
    return ppl


def quality_summary(ppl: np.ndarray, base: np.ndarray) -> dict[str, Any]:
    """Mean/median per-text PPL, ratios to the unwatermarked answers and a paired geometric-mean ratio."""
    diff = np.log(ppl) - np.log(base)
    lo, hi = bootstrap_ci(diff)
    return {
        "n": int(np.isfinite(ppl).sum()),
        "ppl_mean": float(np.nanmean(ppl)),
        "ppl_median": float(np.nanmedian(ppl)),
        "ratio_mean": float(np.nanmean(ppl) / np.nanmean(base)),
        "ratio_median": float(np.nanmedian(ppl) / np.nanmedian(base)),
        "paired_geomean_ratio": float(np.exp(np.nanmean(diff))),
        "paired_geomean_ratio_ci95": (float(np.exp(lo)), float(np.exp(hi))),
    }


# ---------------------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------------------
def _ci(c: Sequence[float]) -> str:
    return f"[{c[0]:.2f}, {c[1]:.2f}]"


def _sci(x: float) -> str:
    return f"{x:.1e}"


def markdown(res: dict[str, Any]) -> str:
    """The markdown tables of a result document."""
    cfg = res["config"]
    lines = [
        "# Watermark quality: text-quality cost vs detection power, and robustness",
        "",
        f"Teacher SmolLM2-135M-Instruct, {cfg['n_texts']} real ShareGPT prompts per condition, "
        f"{cfg['new_tokens']}-token answers at temperature {cfg['temperature']}; gamma = {GAMMA}, h = 1, left "
        f"seeding; detection at p <= {ALPHA:g} (exact binomial) on text re-tokenised with the teacher's "
        f"tokenizer. PPL: Gemma-3-270M (bf16) on the answer text given the prompt. Machine: "
        f"{machine_text(res['run']['machine'])}, {res['run']['utc']}. Command: `{res['run']['command']}`.",
        "",
        "## Trade-off: quality cost vs detection power",
        "",
        *md_table(
            ["δ", "PPL mean", "PPL median", "ratio (mean)", "ratio (median)", "paired geo-mean ratio [95% CI]",
             "degenerate", "median scored", "green fraction", "median log10 p", "TPR @ 1e-5 [95% CI]"],
            [[row["label"], f"{q['ppl_mean']:.2f}", f"{q['ppl_median']:.2f}", f"{q['ratio_mean']:.3f}",
              f"{q['ratio_median']:.3f}", f"{q['paired_geomean_ratio']:.3f} {_ci(q['paired_geomean_ratio_ci95'])}",
              f"{d['degenerate_share']:.2f}", f"{d['median_scored']:.0f}", f"{d['mean_green_fraction']:.3f}",
              f"{d['median_log10_p']:.1f}", f"{d['tpr']:.2f} {_ci(d['tpr_ci95'])}"]
             for row in res["tradeoff"] for q, d in [(row["quality"], row["detection"])]],
        ),
    ]
    lengths = list(res["tradeoff"][1]["power_by_length"])
    lines += [
        "",
        "### Detection power by scored length (TPR @ 1e-5 / median log10 p)",
        "",
        *md_table(
            ["δ", *(f"{L} tokens" for L in lengths)],
            [[row["label"], *(f"{v['tpr']:.2f} / {v['median_log10_p']:.1f}" for v in row["power_by_length"].values())]
             for row in res["tradeoff"]],
        ),
        "",
        "## Calibration: unwatermarked texts against random keys",
        "",
        *md_table(
            ["texts", "α", "tests", "false positives", "expected (exact test)", "α × tests", "FPR [95% CI]"],
            [[cal["set"], f"{r['alpha']:g}", cal["tests"], r["false_positives"],
              f"{r['expected_false_positives_exact']:.2f}", f"{r['alpha_times_tests']:.2f}",
              f"{_sci(r['fpr'])} [{_sci(r['fpr_ci95'][0])}, {_sci(r['fpr_ci95'][1])}]"]
             for cal in res["null_calibration"] for r in cal["rows"]],
        ),
        "",
        f"## Robustness of text detection (δ = {ROBUST_DELTA:g}, {cfg['new_tokens']}-token answers)",
        "",
        *md_table(
            ["condition", "tests", "median tokens", "TPR @ 1e-5 [95% CI]", "median log10 p", "green fraction"],
            [[r["condition"], r["n"], f"{r['median_tokens']:.0f}", f"{r['tpr']:.2f} {_ci(r['tpr_ci95'])}",
              f"{r['median_log10_p']:.1f}", f"{r['mean_green_fraction']:.3f}"] for r in res["robustness"]],
        ),
    ]
    lines += ["", "## Notes", ""] + [f"- {n}" for n in res["notes"]]
    return "\n".join(lines) + "\n"


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x.relative_to(ROOT)) if x.is_relative_to(ROOT) else str(x)
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


# ---------------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------------
def run(cfg: Config) -> dict[str, Any]:
    """Generate (or load cached) answers, score them, measure PPL; return the result document."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    prompts = sharegpt_prompts(
        cfg.n_texts, seed=cfg.seed, min_chars=cfg.prompt_min_chars, max_chars=cfg.prompt_max_chars
    )
    teacher = load_model(None)
    tok = teacher.tokenizer
    base_key = WatermarkKey(BENCH_SECRET)
    conditions: dict[str, WatermarkKey | None] = {"clean": None}
    conditions.update({f"delta{d:g}": base_key.with_spec(bench_spec(tok, d)) for d in DELTAS})
    timings["load_teacher_s"] = time.perf_counter() - t0

    t = time.perf_counter()
    ids = {c: ensure_generations(teacher, prompts, k, cfg, c) for c, k in conditions.items()}
    texts = {c: [tok.decode(row, skip_special_tokens=True) for row in rows] for c, rows in ids.items()}
    timings["generation_s"] = time.perf_counter() - t
    identity, gen_cfg = teacher.identity, teacher.model.generation_config.to_diff_dict()
    del teacher
    gc.collect()

    t = time.perf_counter()
    score_key = base_key.with_spec(bench_spec(tok, ROBUST_DELTA))  # delta does not enter detection
    seqs = {c: retokenise(tok, texts[c], cfg.new_tokens) for c in conditions}
    detection = {c: detection_summary(score_batch(seqs[c], score_key, alpha=ALPHA)) for c in conditions}
    lengths = sorted({L for L in PREFIX_LENGTHS if L < cfg.new_tokens} | {cfg.new_tokens})
    by_length = {c: power_by_length(seqs[c], score_key, lengths) for c in conditions}
    timings["detection_s"] = time.perf_counter() - t

    t = time.perf_counter()
    calibration = [null_calibration(seqs["clean"], score_key.require_spec(), cfg.n_null_keys, cfg.seed, "unwatermarked")]
    timings["null_keys_s"] = time.perf_counter() - t

    t = time.perf_counter()
    robust = robustness(tok, score_key, texts[f"delta{ROBUST_DELTA:g}"], texts["clean"], cfg)
    timings["robustness_s"] = time.perf_counter() - t

    t = time.perf_counter()
    ref = load_model(REFERENCE)  # fp32 load (the dequantised cache stays fp32), then bf16 for speed
    ref.model.to(torch.bfloat16)
    timings["load_reference_s"] = time.perf_counter() - t
    t = time.perf_counter()
    ppl = {c: reference_perplexity(ref, prompts, texts[c], cfg, c) for c in conditions}
    timings["perplexity_s"] = time.perf_counter() - t

    tradeoff = []
    for c, k in conditions.items():
        tradeoff.append(
            {
                "condition": c,
                "label": "none" if k is None else f"{k.require_spec().delta:g}",
                "delta": None if k is None else k.require_spec().delta,
                "quality": quality_summary(ppl[c], ppl["clean"]),
                "detection": detection[c],
                "power_by_length": by_length[c],
                "retokenised_tokens_mean": float(np.mean([len(s) for s in seqs[c]])),
                "per_text_ppl": ppl[c].tolist(),
                "per_text_log10_p": [s.log10_p for s in score_batch(seqs[c], score_key, alpha=ALPHA)],
            }
        )
    timings["total_s"] = time.perf_counter() - t0
    return {
        "benchmark": NAME,
        **new_record("benchmarks/watermark_quality.py", question="Issue 2: text quality cost of the watermark vs "
                     "detection power; robustness of text detection."),
        "config": asdict(cfg),
        "teacher": identity,
        "teacher_generation_config": gen_cfg,
        "reference": ref.identity,
        "key_fingerprint": base_key.fingerprint,
        "spec": score_key.require_spec().to_dict(),
        "alpha": ALPHA,
        "sample_sizes": {
            "texts_per_condition": cfg.n_texts,
            "conditions": list(conditions),
            "null_tests": calibration[0]["tests"],
            "robustness_tests": {r["condition"]: r["n"] for r in robust},
        },
        "tradeoff": tradeoff,
        "null_calibration": calibration,
        "robustness": robust,
        "timings": timings,
        "notes": notes(cfg),
    }


def notes(cfg: Config) -> list[str]:
    """How each figure was measured (copied into the JSON and the markdown)."""
    return [
        "Same prompts and same per-batch sampling seeds in every condition (paired design); answers forced "
        f"to exactly {cfg.new_tokens} tokens with min_new_tokens = max_new_tokens (EOS suppressed until then).",
        "The watermark bias is added to the raw logits before transformers' temperature warper, so at "
        f"T = {cfg.temperature} the effective logit shift is δ / {cfg.temperature}.",
        "Detection: answer text decoded (special tokens skipped), re-tokenised with the teacher tokenizer, "
        f"first {cfg.new_tokens} tokens scored with the generating key; exact binomial p-values after dedup "
        "of (context, token) coins.",
        "PPL: Gemma-3-270M (weights in bf16, log-softmax in fp32) on '<bos>' + prompt + blank line + answer, "
        f"prompt context cut to {cfg.context_max_tokens} Gemma tokens; only the answer tokens (Gemma "
        "re-tokenisation) are scored. Paired geo-mean ratio = exp(mean over prompts of log PPL_δ − log "
        "PPL_none), 95% bootstrap CI.",
        "Calibration: the unwatermarked answers scored against random keys; 'expected (exact test)' sums "
        "P(p ≤ α) of the discrete exact test over all tests (it is below α × tests because the test is "
        "conservative).",
        "Substitution: positions chosen uniformly without replacement, replaced at token-id level (no "
        "re-tokenisation) by uniformly random ids in [0, V) ('uniform') or by draws from the pooled "
        f"unwatermarked answers' tokens ('unigram'); {cfg.sub_draws} random draws per text.",
        f"Embedding: the δ = {ROBUST_DELTA:g} answer placed at a random slot among {cfg.clean_per_doc} "
        f"unwatermarked answers to other prompts (joined by blank lines, ~{cfg.clean_per_doc} × {cfg.new_tokens} "
        "clean tokens), the whole "
        "document re-tokenised and scored as one text.",
        "Degenerate = share of texts whose distinct (previous token, token) coins are fewer than half of "
        "their scored positions (repetition loops). Such texts get a low Gemma PPL and few scored coins, so "
        "a low PPL ratio at large δ is not a quality gain: read it with this column.",
        "The benchmark key is a fixed public test key (reproducible); only its fingerprint is reported.",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, write JSON + markdown, print the markdown."""
    cfg = parse_args(argv)
    res = run(cfg)
    md = markdown(res)
    write_result(NAME, _jsonable(res), md, cfg.out_dir)
    print(md)
    print(f"wrote {cfg.out_dir / NAME}.json and .md (total {res['timings']['total_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
