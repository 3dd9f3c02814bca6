"""Benchmark: does a stronger fine-tune make a Gemma-based distillate stand out from its family's null?

On the Gemma family (``fingerprint_family.py``) the teacher fine-tunes sit above every null member but only at
t = 2.2-2.3: the null is wide because fine-tuning on ChatGPT's answers pulls a model as far *down* the
teacher-vs-ChatGPT contrast (-0.36 from the base) as fine-tuning on the teacher's pulls it up (+0.32), while
other sources stay near the base. If every source's shift grows by the same factor when the fine-tune is
stronger, t does not move (it is a ratio of shifts); only a teacher shift that grows faster than the others
would make the positives detectable at 32 queries. This measures the factor: three family members (the clean
teacher fine-tune, a ChatGPT and a human-reply fine-tune) trained two more epochs on the same 256 pairs, same
recipe (``distillguard.distill.finetune.gemma_finetune``, continued from the saved 2-epoch model: 4 epochs, 128 steps in all).

Per model: T on the 126 answered probes (first teacher answer vs ChatGPT's, 2 queries per probe), its shift from
the untouched base at 2 and at 4 epochs, and the growth factor; then the teacher fine-tune's t against a null
whose members are all at the same strength, with the three untouched members' (base, self, second ChatGPT and
human) shifts scaled by the measured factors of their source (self: the mean factor) -- a projection, labelled
as one. Writes ``benchmarks/results/fingerprint_strength.{json,md}``.

Run: ``python benchmarks/fingerprint_strength.py`` (about 45 min on 2 CPU cores once ``fingerprint_family.py``'s
models are cached; the continued models and their scores are cached too).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.evaluate import member_logprobs
from distillguard.distill.finetune import gemma_finetune
from distillguard.distill.zoo import answered_probes, family_runs, fingerprint_cache, zoo_dir
from distillguard.fingerprint.stats import calibrated_test

ROOT = Path(__file__).resolve().parent
ZOO = zoo_dir()
SCORES = fingerprint_cache() / "family_scores"
CONTINUED = ["gemmaft-teacher-s0", "gemmaft-sharegpt-s0", "gemmaft-human-s0"]  # trained 2 more epochs
NULL_2EP = ["gemma3-270m", "gemmaft-sharegpt-s0", "gemmaft-sharegpt-s1", "gemmaft-human-s0", "gemmaft-human-s1",
            "gemmaft-self-s0"]


def stronger(name: str) -> str:
    """The 4-epoch model's name (a prefix no family null picks up by accident)."""
    return name.replace("gemmaft-", "gemma4ep-")


def train() -> None:
    """Continue each model of ``CONTINUED`` for two epochs on its own training pairs (resumable)."""
    pairs = dict(family_runs(2, 2, False))
    for name in CONTINUED:
        gemma_finetune(ZOO / stronger(name), pairs[name], start=ZOO / name)


def source(name: str) -> str:
    """``gemmaft-human-s1`` -> ``human``; the base -> ``base``."""
    return "base" if name == "gemma3-270m" else name.split("-")[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.parse_args()
    t0 = time.time()
    train()
    plist = answered_probes(ROOT / "data" / "fingerprint" / "probes.json")
    names = ["gemma3-270m", "gemmaft-teacher-s0", *NULL_2EP[1:], *[stronger(n) for n in CONTINUED]]
    S = {n: np.subtract(*member_logprobs(n, plist, SCORES)) for n in names}  # teacher minus reference log-prob, per probe
    T = {n: float(S[n].mean()) for n in names}
    base = T["gemma3-270m"]
    rows = {n: {"T_2ep": T[n], "T_4ep": T[stronger(n)], "shift_2ep": T[n] - base, "shift_4ep": T[stronger(n)] - base,
                "factor": (T[stronger(n)] - base) / (T[n] - base)} for n in CONTINUED}
    factor = {source(n): r["factor"] for n, r in rows.items()}
    mean_factor = float(np.mean(list(factor.values())))
    # the null at 4 epochs: measured members where they exist, the others projected from their 2-epoch shift
    null4, how = [], {}
    for n in NULL_2EP:
        if n in CONTINUED:
            scores, how[n] = S[stronger(n)], "measured (4 epochs)"
        elif n == "gemma3-270m":
            scores, how[n] = S[n], "untouched base"
        else:
            f = factor.get(source(n), mean_factor)
            scores = S["gemma3-270m"] + f * (S[n] - S["gemma3-270m"])
            how[n] = f"projected: 2-epoch shift x {f:.2f} ({source(n) if source(n) in factor else 'mean'} factor)"
        null4.append(scores)
    test_2 = calibrated_test(S["gemmaft-teacher-s0"], np.array([S[n] for n in NULL_2EP]))
    test_4 = calibrated_test(S[stronger("gemmaft-teacher-s0")], np.array(null4))
    res = new_record("benchmarks/fingerprint_strength.py", question=__doc__.split("\n\n")[0], T=T, continued=rows,
                     mean_factor=mean_factor, null_4ep=how, teacher_2ep_vs_2ep_null=test_2,
                     teacher_4ep_vs_4ep_null=test_4,
                     train={stronger(n): json.loads((ZOO / stronger(n) / "train.json").read_text()) for n in CONTINUED},
                     wall_s=round(time.time() - t0, 1))
    md = markdown(res)
    write_result("fingerprint_strength", res, md, ROOT / "results", indent=1)
    print(md, end="")


def markdown(res: dict) -> str:
    """The result page: growth factors of the continued fine-tunes, the teacher fine-tune against its null."""
    base = res["T"]["gemma3-270m"]
    md = [f"# Fingerprint: a stronger Gemma fine-tune against its family ({res['run']['utc'][:10]})", "",
          f"Command: {provenance_line(res)}", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
          f"Untouched base: T = {base:+.3f}.", "",
          *md_table(["model", "T, 2 epochs", "T, 4 epochs", "shift from base, 2", "shift, 4", "growth factor"],
                    [[n, f"{r['T_2ep']:+.3f}", f"{r['T_4ep']:+.3f}", f"{r['shift_2ep']:+.3f}", f"{r['shift_4ep']:+.3f}",
                      f"{r['factor']:.2f}"] for n, r in res["continued"].items()])]
    md += ["", "The teacher fine-tune against its family's null (all 126 probes; Student-t prediction, R = 6):", "",
           *md_table(["strength", "T", "null mean", "null sd", "t", "p"],
                     [[label, f"{r['statistic']:+.3f}", f"{r['null_mean']:+.3f}", f"{r['null_sd']:.3f}",
                       f"{r['t']:.2f}", f"{r['p_value']:.3g}"]
                      for label, r in (("2 epochs, null at 2 epochs (measured)", res["teacher_2ep_vs_2ep_null"]),
                                       ("4 epochs, null at 4 epochs (partly projected)",
                                        res["teacher_4ep_vs_4ep_null"]))])]
    md += ["", "The 4-epoch null: " + "; ".join(f"{n}: {h}" for n, h in res["null_4ep"].items()) + ".", "",
           f"Wall time {res['wall_s'] / 60:.1f} min (continued training: "
           f"{sum(t['seconds'] for t in res['train'].values()) / 60:.1f} min when it ran)."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
