"""Benchmark: issue 4's AUROC target on the zoo the issue names, each model judged against its own family's null.

Issue 4 names the zoo: positives -- a from-scratch student with the teacher's tokenizer and Gemma-3-270M
fine-tuned on teacher answers, each with and without the watermark on the harvest; negatives -- Gemma-3-270M
untouched, Gemma-3-270M fine-tuned on ShareGPT answers, a from-scratch student on ShareGPT answers. The
committed zoos hold all of these except from-scratch students of the null's own recipe on teacher answers
(the 38-model zoo's were the radioactivity benchmark's, whose scores are not committed). This trains them
and asks the issue's question on that zoo, and on everything committed.

New positives (``chat-teacher-s<i>``, ``chat-teacherwm-s<i>``): the null population's recipe exactly (the
demo's quick shape: 2 layers, d = 256, 6 epochs, lr 3e-3, 192 chat pairs) on 192 of the teacher's 256 sampled
answers (``benchmarks/radioactivity.py``'s clean / watermarked harvest, ``runs/radio-text``; a random subset
per seed, answered probe prompts held out). Scores: the 126 answered probes, first teacher answer vs
ChatGPT's recorded answer (2 log-prob queries per probe), as ``fingerprint_family.py``.

Zoos (``distillguard.distill.evaluate.evaluate`` with ``family=True``: a model built on Gemma is tested against the base and
its non-teacher fine-tunes, a from-scratch model against the chat-sharegpt students; leave-one-out):
* ``issue``: the new students and the two Gemma teacher fine-tunes (+) against Gemma, its fine-tunes on
  ChatGPT answers, human replies and its own answers, and every from-scratch ShareGPT student (-);
* ``all``: the same plus the committed positives the issue does not name: the teacher itself and the six
  logit-distilled students (which never saw a teacher answer).

Run: ``python benchmarks/fingerprint_issue_zoo.py`` (about 10 min on 2 CPU cores once the Gemma family of
``fingerprint_family.py`` is cached; scores are read from ``family_logprobs.npz`` and
``answered_logprobs.npz``). Writes ``benchmarks/data/fingerprint/issue_zoo_logprobs.npz`` and
``benchmarks/results/fingerprint_issue_zoo.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from distillguard.demo import PROFILES
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.evaluate import evaluate, full_statistics, member_logprobs
from distillguard.distill.student import chat_sequences, train_text_student
from distillguard.distill.zoo import (
    FINGERPRINT_DATA,
    N_CHAT_PAIRS,
    SUBSET_PROBES,
    answered_probes,
    committed_zoo,
    family_scores_dir,
    held_out,
    npz_contrasts,
    teacher_harvests,
    zoo_dir,
)
from distillguard.models import load_tokenizer

ROOT = Path(__file__).resolve().parent
SOURCES = {"chat-teacher": "teacher", "chat-teacherwm": "teacherwm"}  # student prefix -> harvest


def train(seeds: int) -> list[str]:
    """The from-scratch positives (resumable): the null's recipe on the teacher's answers."""
    prof, tok, ho = PROFILES["quick"], load_tokenizer(None), held_out()
    harvests, zoo = teacher_harvests(), zoo_dir()
    names = []
    for prefix, src in SOURCES.items():
        pairs = [pq for pq in harvests[src] if pq[0] not in ho]
        for s in range(seeds):
            name = f"{prefix}-s{s}"
            names.append(name)
            if (zoo / name / "config.json").exists():
                continue
            pick = np.random.default_rng(s).choice(len(pairs), min(N_CHAT_PAIRS, len(pairs)), replace=False)
            seqs = chat_sequences(tok, [pairs[i] for i in sorted(pick)], 128, prof.harvest_tokens)
            info = train_text_student(zoo / name, tok, seqs, layers=prof.student_layers, hidden=prof.student_hidden,
                                      epochs=prof.epochs, lr=3e-3, seed=200 + s, desc=name)
            print(name, json.dumps(info), flush=True)
    return names


def in_issue_zoo(name: str) -> bool:
    """Whether issue 4 names this kind of model (the teacher and the logit-distilled students it does not)."""
    return not (name == "teacher" or name.startswith(("logit-", "distil-")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2, help="from-scratch students per harvest (clean, watermarked)")
    ap.add_argument("--reps", type=int, default=200, help="random probe subsets per row of the table")
    a = ap.parse_args()
    t0 = time.time()
    new = train(a.seeds)
    plist = answered_probes(FINGERPRINT_DATA / "probes.json")
    lp = {n: member_logprobs(n, plist, family_scores_dir()) for n in new}
    np.savez_compressed(FINGERPRINT_DATA / "issue_zoo_logprobs.npz", names=np.array(new),
                        labels=np.ones(len(new), dtype=int), probe_ids=np.array([p.id for p in plist]),
                        teacher_lps=np.array([lp[n][0] for n in new]), reference_lps=np.array([lp[n][1] for n in new]))
    zoo_models, zoo_S = committed_zoo(FINGERPRINT_DATA / "answered_logprobs.npz")
    fam_models, fam_S = npz_contrasts(FINGERPRINT_DATA / "family_logprobs.npz")
    S = {**zoo_S, **fam_S, **{n: t - r for n, (t, r) in lp.items()}}
    every = zoo_models + fam_models + [{"name": n, "label": 1} for n in new]
    zoos = {"issue": [m for m in every if in_issue_zoo(m["name"])], "all": every}
    idx = np.arange(len(plist))
    rng = np.random.default_rng(0)
    rows = {z: [evaluate(ms, S, idx, n, a.reps, rng, family=True) for n in [*SUBSET_PROBES, len(plist)]]
            for z, ms in zoos.items()}
    full = full_statistics(every, S, idx, family=True)
    res = new_record("benchmarks/fingerprint_issue_zoo.py", question=__doc__.split("\n\n")[0],
                     zoos={z: {m["name"]: m["label"] for m in ms} for z, ms in zoos.items()},
                     train={n: json.loads((zoo_dir() / n / "train.json").read_text()) for n in new},
                     full_statistics=full, subsets=rows, wall_s=round(time.time() - t0, 1), reps=a.reps)
    md = markdown(res)
    write_result("fingerprint_issue_zoo", res, md, ROOT / "results", indent=1)
    print(md, end="")


def markdown(res: dict) -> str:
    """The result page: every positive and the strongest negatives on all probes, then random probe subsets."""
    every, issue, full, rows = res["zoos"]["all"], res["zoos"]["issue"], res["full_statistics"], res["subsets"]
    negs = sorted((n for n, lab in every.items() if not lab and n in full), key=lambda n: -full[n]["t"])
    md = [f"# Fingerprint: issue 4's zoo, each model against its own family's null ({res['run']['utc'][:10]})", "",
          f"Command: {provenance_line(res)}", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
          f"Zoo `issue`: {sum(issue.values())} positives, {sum(1 - lab for lab in issue.values())} negatives; zoo "
          f"`all`: {sum(every.values())} positives, {sum(1 - lab for lab in every.values())} negatives.", "",
          "All 126 probes (2 queries each), every positive (t, p against its family's null):", "",
          *md_table(["model", "T", "t", "p"],
                    [[f"{n}{'' if in_issue_zoo(n) else ' (not in the issue zoo)'}", f"{r['statistic']:.4f}",
                      f"{r['t']:.2f}", f"{r['p_value']:.3g}"]
                     for n, lab in every.items() if lab and n in full for r in [full[n]]]),
          "", "The strongest negatives (t against their own family's null, leave-one-out):", "",
          *md_table(["model", "T", "t", "p"], [[n, f"{full[n]['statistic']:.4f}", f"{full[n]['t']:.2f}",
                                               f"{full[n]['p_value']:.3g}"] for n in negs[:5]]),
          "", f"Random probe subsets ({res.get('reps', 200)} each; all 126 probes once):", "",
          *md_table(["queries", "probes", "issue zoo AUROC mean (min)", "share = 1", "TPR@0.01", "FPR@0.01",
                     "all AUROC mean (min)", "share = 1"],
                    [[2 * i["n_probes"], i["n_probes"], f"{i['auroc_mean']:.3f} ({i['auroc_min']:.3f})",
                      f"{i['share_auroc_1']:.2f}", f"{i['tpr_at_alpha']:.2f}", f"{i['fpr_at_alpha']:.3f}",
                      f"{r['auroc_mean']:.3f} ({r['auroc_min']:.3f})", f"{r['share_auroc_1']:.2f}"]
                     for i, r in zip(rows["issue"], rows["all"])]),
          "", f"Wall time {res['wall_s'] / 60:.1f} min (training of the new students: "
          f"{sum(t['seconds'] for t in res['train'].values()) / 60:.1f} min when it ran)."]
    return "\n".join(md) + "\n"


if __name__ == "__main__":
    main()
