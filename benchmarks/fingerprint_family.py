"""Benchmark: a fine-tune of a known public base, calibrated against that base fine-tuned on other sources.

A lab that distils our teacher into an open base (here Gemma-3-270M, another lab's model and tokenizer) makes a
suspect whose fingerprint statistic starts where the base starts, far from where tiny from-scratch students sit.
The fingerprint benchmark's default null (tiny ChatGPT students) cannot judge it, and its 4-model Gemma null
(the base and 3 ChatGPT fine-tunes) was too narrow: fine-tuning on ChatGPT's answers pulls a model down, so the
untouched base looked like an outlier (docs/fingerprint.md). This builds the null that analysis asked for: the
base fine-tuned, with one recipe, on *several* sources that are not our teacher.

Gemma-3-270M fine-tunes (``distillguard.distill.finetune.gemma_finetune``: 2 epochs on 256 pairs, answers-only loss,
embeddings frozen, Gemma-IT turns; every answered probe prompt held out of every source):
* positives: ``gemmaft-teacher`` (the teacher's sampled answers), ``gemmaft-teacherwm`` (watermarked harvest),
  both from ``benchmarks/radioactivity.py``'s harvest of 256 + 256 real prompts (``runs/radio-text``);
* null: ``gemmaft-sharegpt-s<i>`` (ChatGPT's answers in ShareGPT, disjoint sets), ``gemmaft-human-s<i>``
  (people's writing in the answering role: ShareGPT's human turns as replies to the assistant turn before them),
  ``gemmaft-self-s0`` (Gemma-3-270M's own sampled answers: self-distillation), and the untouched base, queried
  in the same turn format as its fine-tunes.
Scores: the 126 answered probes (``benchmarks/data/fingerprint/probes.json``), first teacher answer vs
ChatGPT's recorded answer (2 log-prob queries per probe). A model's null is every other null member
(leave-one-out). Also pooled with the committed from-scratch zoo (``answered_logprobs.npz``), each model tested
against its own family's null. Writes ``benchmarks/data/fingerprint/family_logprobs.npz`` and
``benchmarks/results/fingerprint_family.{json,md}``.

Run: ``python benchmarks/fingerprint_family.py`` (about 2 h on 2 CPU cores; trained models and scores cached;
``--human K --chatgpt K --no-self`` size the null).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.evaluate import evaluate, full_statistics, member_logprobs
from distillguard.distill.finetune import gemma_finetune
from distillguard.distill.zoo import (
    FAMILY_KINDS,
    FINGERPRINT_DATA,
    N_FAMILY_PAIRS,
    SUBSET_PROBES,
    answered_probes,
    committed_zoo,
    family_kind,
    family_runs,
    family_scores_dir,
    held_out,
    self_pairs,
    zoo_dir,
)

ROOT = Path(__file__).resolve().parent


def build(n_chatgpt: int, n_human: int, with_self: bool) -> list[str]:
    """Fine-tune every family member not yet on disk (resumable); positives first, then the null by source."""
    runs = family_runs(n_chatgpt, n_human, with_self)
    zoo = zoo_dir()
    for name, pairs in runs:
        if (zoo / name / "train.json").exists():
            continue  # trained: its data is not needed (and Gemma's own answers are not sampled again)
        if pairs is None:
            pairs = self_pairs(held_out(), N_FAMILY_PAIRS)
        gemma_finetune(zoo / name, pairs)
    return ["gemma3-270m", *[name for name, _ in runs]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatgpt", type=int, default=2, help="fine-tunes on disjoint sets of ChatGPT answers")
    ap.add_argument("--human", type=int, default=2, help="fine-tunes on disjoint sets of human replies")
    ap.add_argument("--no-self", action="store_true", help="skip the self-distilled fine-tune")
    ap.add_argument("--reps", type=int, default=200, help="random probe subsets per row of the table")
    a = ap.parse_args()
    t0 = time.time()
    names = build(a.chatgpt, a.human, not a.no_self)
    zoo, scores = zoo_dir(), family_scores_dir()
    plist = answered_probes(FINGERPRINT_DATA / "probes.json")
    lp = {n: member_logprobs(n, plist, scores) for n in names}
    S = {n: t - r for n, (t, r) in lp.items()}
    labels = {n: FAMILY_KINDS[family_kind(n)][0] for n in names}
    np.savez_compressed(FINGERPRINT_DATA / "family_logprobs.npz", names=np.array(names),
                        labels=np.array([labels[n] for n in names]), probe_ids=np.array([p.id for p in plist]),
                        teacher_lps=np.array([lp[n][0] for n in names]),
                        reference_lps=np.array([lp[n][1] for n in names]))
    # the zoo's test and evaluation (distillguard.distill.evaluate) with family=True: a Gemma model's null is the
    # base and its non-teacher fine-tunes (leave-one-out), a from-scratch model's the chat-sharegpt students
    members = [{"name": n, "label": labels[n]} for n in names]
    everything = np.arange(len(plist))
    rng = np.random.default_rng(0)
    full = full_statistics(members, S, everything, family=True)
    fam_rows = [evaluate(members, S, everything, n, a.reps, rng, family=True) for n in [*SUBSET_PROBES, len(plist)]]
    zoo_models, zoo_S = committed_zoo(FINGERPRINT_DATA / "answered_logprobs.npz")
    pooled_rows = [evaluate(zoo_models + members, {**zoo_S, **S}, everything, n, a.reps, rng, family=True)
                   for n in [*SUBSET_PROBES, len(plist)]]
    Plab = {m["name"]: m["label"] for m in zoo_models + members}
    members_info = {n: {"label": labels[n], "source": FAMILY_KINDS[family_kind(n)][1],
                        "train": json.loads((zoo / n / "train.json").read_text()) if n != "gemma3-270m" else None}
                    for n in names}
    res = new_record(
        "benchmarks/fingerprint_family.py", question=__doc__.split("\n\n")[0], members=members_info,
        full_statistics=full, family=fam_rows, pooled=pooled_rows, pooled_zoo=Plab, wall_s=round(time.time() - t0, 1),
        # what the cached stages cost when they ran (this invocation may have reused them)
        train_s_recorded=round(sum(m["train"]["seconds"] for m in members_info.values() if m["train"]), 1),
        score_s_recorded=round(sum(json.loads((scores / f"{n}.json").read_text())["seconds"] for n in names), 1))
    md = markdown(res)
    write_result("fingerprint_family", res, md, ROOT / "results", indent=1)
    print(md, end="")


def markdown(res: dict) -> str:
    """The result page: every member on all probes, then random probe subsets (family and pooled)."""
    members = res["members"]
    full = res["full_statistics"]
    md = [f"# Fingerprint: a known public base's family null ({res['run']['utc'][:10]})", "",
          f"Command: {provenance_line(res)}", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
          "All 126 probes (2 queries each), each member against the other null members (leave-one-out):", "",
          *md_table(["model", "+ / -", "source", "T", "t", "p", "p_rank (min)"],
                    [[n, "+" if m["label"] else "-", m["source"], f"{r['statistic']:.4f}", f"{r['t']:.2f}",
                      f"{r['p_value']:.3g}", f"{r['p_rank']:.2f} ({r['min_p_rank']:.2f})"]
                     for n, m in members.items() for r in [full[n]]])]
    md += ["", "Random probe subsets (200 each): within the Gemma family, and pooled with the committed from-scratch "
           "zoo (each model against its own family's null; positives there include the weak logit-distilled "
           "students that never saw a teacher answer):", "",
           *md_table(["queries", "probes", "family AUROC mean (min)", "share AUROC = 1", "TPR@0.01", "FPR@0.01",
                      "pooled AUROC mean (min)"],
                     [[2 * f["n_probes"], f["n_probes"], f"{f['auroc_mean']:.3f} ({f['auroc_min']:.3f})",
                       f"{f['share_auroc_1']:.2f}", f"{f['tpr_at_alpha']:.2f}", f"{f['fpr_at_alpha']:.3f}",
                       f"{p['auroc_mean']:.3f} ({p['auroc_min']:.3f})"]
                      for f, p in zip(res["family"], res["pooled"])])]
    md += ["", f"Wall time of this invocation {res['wall_s'] / 60:.1f} min; the cached stages took, when they ran, "
           f"{res['train_s_recorded'] / 60:.0f} min of fine-tuning and {res['score_s_recorded'] / 60:.0f} min of scoring "
           f"(plus the teacher harvest and Gemma's own answers; caches under {zoo_dir().parent})."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
