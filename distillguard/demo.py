"""``distillguard demo``: the main job on the embedded default (SmolLM2 teacher, real ShareGPT prompts).

1. make (or reuse) a key whose spec records the teacher's tokenizer;
2. let the teacher answer real prompts twice: marked with one API account's sub-key, and unmarked;
3. re-tokenise every answer from its text and test it against the right account key, another account's
   key, the master key and an unrelated key; pool all answers of each set into one test as well;
4. print a table and write ``summary.json``. Generation steps resume from their JSONL files.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.data import sharegpt_prompts
from distillguard.detect.stats import binom_test
from distillguard.detect.text import DEFAULT_ALPHA, green_coins, score_batch
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id
from distillguard.models import load_model
from distillguard.watermark.generate import generate_jsonl

__all__ = ["run_demo", "pooled_score"]

HARVEST_ACCOUNT = "acct-0042"


def pooled_score(sequences: list[list[int]], key: WatermarkKey) -> dict[str, float]:
    """One exact test over many texts: coins deduplicated across all of them (not a sum of p-values).

    Example:
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> from distillguard.demo import pooled_score
        >>> key = WatermarkKey(b"\\x09" * 32, WatermarkSpec(vocab_size=100))
        >>> pooled_score([[1, 2, 3], [1, 2, 4]], key)["scored"]  # (1->2) counted once
        3
    """
    spec = key.require_spec()
    ids = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]) if sequences else np.zeros(0, np.int64)
    segments = np.repeat(np.arange(len(sequences)), [len(s) for s in sequences])
    _, coin, green = green_coins(ids, segments, key, spec)
    _, first = np.unique(coin, return_index=True)
    g, n = int(green[first].sum()), len(first)
    p, log10_p, z = binom_test(g, n, spec.effective_gamma)
    return {"scored": n, "green": g, "green_fraction": g / n if n else float("nan"), "z": z,
            "p_value": p, "log10_p": log10_p}


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_demo(
    out_dir: str | Path = "runs/demo",
    *,
    n_prompts: int = 16,
    max_new_tokens: int = 160,
    batch_size: int = 16,
    device: str = "cpu",
    model: str | None = None,
    print_table: bool = True,
) -> dict[str, Any]:
    """Run the demo end to end and return its summary (also written to ``out_dir/summary.json``).

    Example:
        >>> from distillguard.demo import run_demo
        >>> summary = run_demo("runs/demo", n_prompts=4)  # doctest: +SKIP
    """
    t0 = time.time()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_model(model, device=device)
    tok = loaded.tokenizer
    key_path = out / "teacher.key"
    if key_path.exists():
        master = WatermarkKey.load(key_path)
    else:
        spec = WatermarkSpec(vocab_size=len(tok), gamma=0.25, delta=2.0, context_width=1,
                             tokenizer_id=tokenizer_id(tok))
        master = WatermarkKey.generate(spec)
        master.save(key_path)
    prompts = sharegpt_prompts(n_prompts, seed=7, min_chars=20, max_chars=500)
    records = [{"id": f"q{i}", "prompt": p, "account_id": HARVEST_ACCOUNT} for i, p in enumerate(prompts)]
    gen = dict(batch_size=batch_size, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.7)
    generate_jsonl(loaded, records, out / "watermarked.jsonl", master, seed=1, **gen)
    generate_jsonl(loaded, records, out / "clean.jsonl", None, seed=1, **gen)

    keys = {
        f"account {HARVEST_ACCOUNT} (the right key)": master.for_account(HARVEST_ACCOUNT),
        "account acct-0007 (another account)": master.for_account("acct-0007"),
        "master key": master,
        "unrelated key": WatermarkKey.generate(master.spec),
    }
    rows = []
    for set_name in ("watermarked", "clean"):
        recs = _read_jsonl(out / f"{set_name}.jsonl")
        # re-tokenise from text, as a detector that only sees the served text must
        seqs = [tok.encode(r["response"], add_special_tokens=False) for r in recs]
        for key_name, key in keys.items():
            per_text = score_batch(seqs, key, alpha=DEFAULT_ALPHA)
            pooled = pooled_score(seqs, key)
            rows.append({
                "texts": set_name,
                "key": key_name,
                "key_fingerprint": key.fingerprint,
                "n_texts": len(seqs),
                "median_tokens": float(np.median([r.tokens for r in per_text])),
                "detected": int(sum(r.detected for r in per_text)),
                "median_log10_p": float(np.median([r.log10_p for r in per_text])),
                "pooled": pooled,
            })
    summary = {
        "command": " ".join(["distillguard", *sys.argv[1:]]) if sys.argv and "distillguard" in sys.argv[0] else None,
        "teacher": loaded.identity,
        "spec": master.spec.to_dict(),
        "alpha_per_text": DEFAULT_ALPHA,
        "n_prompts": n_prompts,
        "max_new_tokens": max_new_tokens,
        "rows": rows,
        "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}",
        "seconds": round(time.time() - t0, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    if print_table:
        print(f"\nteacher {loaded.identity}; {n_prompts} real ShareGPT prompts; per-text threshold p <= {DEFAULT_ALPHA:g}")
        print(f"{'texts':<12} {'tested with':<38} {'detected':>9} {'median log10 p':>15} {'pooled log10 p':>15}")
        for r in rows:
            print(f"{r['texts']:<12} {r['key']:<38} {r['detected']:>4}/{r['n_texts']:<4} "
                  f"{r['median_log10_p']:>15.2f} {r['pooled']['log10_p']:>15.2f}")
        print(f"summary: {out / 'summary.json'}  ({summary['seconds']} s)")
    return summary
