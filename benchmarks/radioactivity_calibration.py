"""Benchmark: are the radioactivity p-values valid on real students? (null keys, both modes)

Question: a student trained by the demo on one account's watermarked answers is, by construction,
independent of every *other* key. Score it against thousands of fresh account sub-keys (accounts it never
saw) in reading mode (held-out ShareGPT answers) and generation mode (its own answers to ShareGPT prompts):
the p-values must be uniform -- FPR at alpha close to alpha, never far above it.

    python benchmarks/radioactivity_calibration.py --run runs/demo --keys 3000
Writes benchmarks/results/radioactivity_calibration.json and .md (never edit them by hand).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from distillguard.data import sharegpt_prompts
from distillguard.detect.radioactivity import (
    account_keys,
    read_predictions,
    score_generated,
    score_predictions,
    score_ranks,
    score_window_ranks,
)
from distillguard.detect.stats import null_summary
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.harvest import real_texts
from distillguard.keys import WatermarkKey
from distillguard.suspects import LocalSuspect

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", action="append", required=True, help="a demo run directory (teacher.key + student/)")
    ap.add_argument("--keys", type=int, default=3000, help="null account sub-keys per student")
    ap.add_argument("--window-keys", type=int, default=1000,
                    help="fresh master keys for the h >= 1 rank statistic (each needs its own keyed orders: ~0.2 s)")
    ap.add_argument("--texts", type=int, default=100, help="held-out texts read in reading mode")
    ap.add_argument("--prompts", type=int, default=64, help="ShareGPT prompts answered in generation mode")
    args = ap.parse_args(argv)
    t0 = time.time()
    rows = []
    for run in args.run:
        run = Path(run)
        key = WatermarkKey.load(run / "teacher.key")
        student = LocalSuspect.load(run / "student")
        nulls = account_keys(key, [f"null-{i:05d}" for i in range(args.keys)])  # accounts the student never saw
        spec = key.require_spec()
        seqs = [student.tokenizer.encode(t, add_special_tokens=False)[:256] for t in real_texts("read", args.texts)]
        preds = read_predictions(student, seqs, context_width=spec.context_width)
        p_read = np.array([r.p_value for r in score_predictions(preds, nulls, alpha=1.0)])
        answers = student.generate(sharegpt_prompts(args.prompts, seed=99, max_chars=600), max_new_tokens=128)
        scores, n_tok = score_generated(answers, student.tokenizer, nulls, alpha=1.0)
        p_gen = np.array([r.p_value for r in scores])
        row = {"run": str(run), "context_width": spec.context_width, "student": student.identity}
        if spec.context_width == 0:
            p_rank = np.array([r.p_value for r in score_ranks(preds.mean_logprobs, nulls, alpha=1.0)])
            row["reading-rank"] = {"texts": len(seqs), **null_summary(p_rank)}
        elif spec.seeding == "left":
            # sibling sub-keys share the master's vocabulary orders, so they are not independent of the harvester's
            # key under the windowed statistic: its null is fresh master keys instead
            fresh = [WatermarkKey.generate(spec) for _ in range(args.window_keys)]
            p_rank = np.array([r.p_value for r in score_window_ranks(preds, fresh, alpha=1.0)])
            row["reading-rank"] = {"texts": len(seqs), "null": "independent master keys", **null_summary(p_rank)}
        rows.append({**row, "reading": {"texts": len(seqs), **null_summary(p_read)},
                     "generation": {"prompts": args.prompts, "answer_tokens": n_tok, **null_summary(p_gen)}})
    doc = new_record("benchmarks/radioactivity_calibration.py", argv, seconds=round(time.time() - t0, 1), rows=rows)
    md = markdown(doc)
    write_result("radioactivity_calibration", doc, md, RESULTS)
    print(md, end="")
    return 0


def markdown(doc: dict) -> str:
    """The result page: one row per run and mode."""
    rows = [[r["run"], r["context_width"], mode, m["keys"], f"{m['fpr_at_0.01']:.4f}",
             f"{m['rejections_0.01']} ({m['bound_0.01_rejections_q999']})", f"{m['fpr_at_0.001']:.4f}",
             f"{m['min_p']:.2g}", f"{m['ks_uniform_pvalue']:.2f}", f"{m['ks_anticonservative_pvalue']:.2f}"]
            for r in doc["rows"] for mode in ("reading-rank", "reading", "generation") if mode in r for m in [r[mode]]]
    lines = [f"# Radioactivity calibration on real students ({doc['run']['utc'][:10]})", "",
             f"{provenance_line(doc)} ({doc['seconds']} s). Null = account sub-keys the student never "
             "saw; a valid test rejects about alpha of them (bound: 0.999 quantile of Binomial(keys, 0.01)). "
             "reading-rank = the rank statistic (Wilcoxon rank sum of the green tokens, exact Chernoff bound: valid, "
             "conservative by the Chernoff gap; for h >= 1, one frequent context window per keyed order and, as its "
             "null, fresh independent master keys, because sibling sub-keys share the master's orders), "
             "reading = green coins of top-1 predictions, generation = green coins of the answers. KS p (uniform) is "
             "two-sided: it also rejects conservative p-values (a Chernoff bound's, exact discrete ones); KS p "
             "(anti-conservative) is one-sided, small only when small p-values come too often: the validity check.",
             "",
             *md_table(["run", "h", "mode", "keys", "FPR@0.01", "rejections (bound)", "FPR@0.001", "min p",
                        "KS p (uniform)", "KS p (anti-conservative)"], rows)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
