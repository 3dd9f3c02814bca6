"""Benchmark: a fine-tune of a known public base, calibrated against that base fine-tuned on other sources.

A lab that distils our teacher into an open base (here Gemma-3-270M, another lab's model and tokenizer) makes a
suspect whose fingerprint statistic starts where the base starts, far from where tiny from-scratch students sit.
The fingerprint benchmark's default null (tiny ChatGPT students) cannot judge it, and its 4-model Gemma null
(the base and 3 ChatGPT fine-tunes) was too narrow: fine-tuning on ChatGPT's answers pulls a model down, so the
untouched base looked like an outlier (docs/fingerprint.md). This builds the null that analysis asked for: the
base fine-tuned, with one recipe, on *several* sources that are not our teacher.

Gemma-3-270M fine-tunes (``fingerprint_zoo.gemma_finetune``: 2 epochs on 256 pairs, answers-only loss,
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
import dataclasses
import datetime as dt
import json
import platform
import random
import sys
import time
from pathlib import Path

import numpy as np
from fingerprint import evaluate, full_statistics
from fingerprint_zoo import ANSWERED, GEMMA_CHAT_TEMPLATE, TEXT_HARVESTS, gemma_finetune

from distillguard.fingerprint.candidates import answered_candidates
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.score import answer_logprobs
from distillguard.models import cache_dir

ROOT = Path(__file__).resolve().parent
DATA = ROOT / "data" / "fingerprint"
ZOO = cache_dir() / "fingerprint" / "zoo"
SCORES = cache_dir() / "fingerprint" / "family_scores"
N_PAIRS = 256
NS = [2, 4, 8, 16, 32, 64]  # probes per subset (2 queries each)
KINDS = {"gemmaft-teacher": (1, "the teacher's sampled answers (clean harvest)"),
         "gemmaft-teacherwm": (1, "the teacher's sampled answers (watermarked harvest)"),
         "gemmaft-sharegpt": (0, "ChatGPT's answers (ShareGPT)"),
         "gemmaft-human": (0, "people's replies (ShareGPT human turns answering the assistant turn before them)"),
         "gemmaft-self": (0, "Gemma-3-270M's own sampled answers (self-distillation)"),
         "gemma3-270m": (0, "Gemma-3-270M untouched, queried in the same turn format")}


def kind(name: str) -> str:
    """The source key of a family member's name (``gemmaft-human-s1`` -> ``gemmaft-human``)."""
    return name.rsplit("-s", 1)[0] if name.startswith("gemmaft-") else name


def held_out() -> set[str]:
    """Prompts no fine-tune may see: every answered probe candidate (a superset of the 126 probes)."""
    return {c["prompt"] for c in answered_candidates(ANSWERED, seed=11)}


def human_pairs(exclude: set[str]) -> list[tuple[str, str]]:
    """``(assistant turn, the human turn that answers it)`` from ShareGPT, shuffled: people's writing as answers."""
    from distillguard.data import iter_sharegpt

    pairs = []
    for conv in iter_sharegpt():
        for (r1, t1), (r2, t2) in zip(conv.turns, conv.turns[1:]):
            a, b = t1.strip(), t2.strip()
            if r1 == "gpt" and r2 == "human" and a and b and len(a) <= 2000 and len(b) <= 2000 and b not in exclude:
                pairs.append((a, b))
    random.Random(8).shuffle(pairs)
    return pairs


def self_pairs(exclude: set[str], n: int) -> list[tuple[str, str]]:
    """Gemma-3-270M's own sampled answers (its turn format, 128 tokens, temperature 0.7) to ``n`` real prompts."""
    from distillguard.data import sharegpt_prompts

    path = cache_dir() / "fingerprint" / "gemma_self_answers.json"
    prompts = [p for p in sharegpt_prompts(None, seed=41, min_chars=8, max_chars=600) if p not in exclude][:n]
    if path.exists():
        cached = json.loads(path.read_text())
        if [c[0] for c in cached] == prompts:
            return [tuple(c) for c in cached]
    base = base_suspect()
    t0 = time.time()
    answers = base.generate(prompts, max_new_tokens=128, temperature=0.7, seed=3)
    print(f"Gemma answered {n} prompts in {time.time() - t0:.0f}s", flush=True)
    pairs = [(p, a) for p, a in zip(prompts, answers)]
    path.write_text(json.dumps(pairs, ensure_ascii=False))
    return pairs


def base_suspect():  # noqa: ANN201 -- a LocalSuspect
    """Gemma-3-270M untouched, with the Gemma-IT turn format its fine-tunes are queried in."""
    from distillguard.suspects import open_suspect

    s = open_suspect("gemma3-270m")
    s.loaded.tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    s.loaded = dataclasses.replace(s.loaded, is_chat=True)
    return s


def teacher_harvests() -> dict[str, list[tuple[str, str]]]:
    """The radioactivity benchmark's 256 + 256 teacher answers (clean / watermarked), harvested if missing."""
    if not all(p.exists() for p in TEXT_HARVESTS.values()):
        from radioactivity import harvest_pair, teacher_and_keys

        out = TEXT_HARVESTS["teacher"].parent
        out.mkdir(parents=True, exist_ok=True)
        res: dict = {}
        teacher, _, keys, _ = teacher_and_keys(out, 2, res)
        t0 = time.time()
        harvest_pair(teacher, out, N_PAIRS, 0, keys[0], 128, {})
        print(f"harvested the teacher's answers in {time.time() - t0:.0f}s", flush=True)
    recs = {k: [json.loads(x) for x in p.read_text().splitlines() if x.strip()] for k, p in TEXT_HARVESTS.items()}
    return {k: [(r["prompt"], r["response"]) for r in v if r["response"].strip()] for k, v in recs.items()}


def family_runs(n_chatgpt: int, n_human: int, with_self: bool) -> list[tuple[str, object]]:
    """``(name, training pairs)`` of every fine-tune of the family, positives first, then the null by source
    (``None``: Gemma's own answers, :func:`self_pairs`, made on demand)."""
    from distillguard.data import sharegpt_pairs

    ho = held_out()
    runs: list[tuple[str, object]] = []
    for k, pairs in teacher_harvests().items():
        runs.append((f"gemmaft-{k}-s0", [pq for pq in pairs if pq[0] not in ho]))
    chat = [pq for pq in sharegpt_pairs(None, seed=6, max_chars=2000) if pq[0] not in ho]  # as fingerprint_zoo
    human = human_pairs(ho)
    for i in range(max(n_chatgpt, n_human, 1)):  # one of each source first, then further ones
        if i < n_chatgpt:
            runs.append((f"gemmaft-sharegpt-s{i}", chat[i * N_PAIRS : (i + 1) * N_PAIRS]))
        if i < n_human:
            runs.append((f"gemmaft-human-s{i}", human[i * N_PAIRS : (i + 1) * N_PAIRS]))
        if i == 0 and with_self:
            runs.append(("gemmaft-self-s0", None))
    return runs


def build(n_chatgpt: int, n_human: int, with_self: bool) -> list[str]:
    """Fine-tune every family member not yet on disk (resumable); positives first, then the null by source."""
    runs = family_runs(n_chatgpt, n_human, with_self)
    for name, pairs in runs:
        if (ZOO / name / "train.json").exists():
            continue  # trained: its data is not needed (and Gemma's own answers are not sampled again)
        if pairs is None:
            pairs = self_pairs(held_out(), N_PAIRS)
        gemma_finetune(ZOO / name, pairs)  # type: ignore[arg-type]
    return ["gemma3-270m", *[name for name, _ in runs]]


def probes() -> list:
    """The answered probes with their first teacher answer only (2 queries per probe)."""
    ps = ProbeSet.load(DATA / "probes.json")
    return [dataclasses.replace(p, teacher_answers=p.teacher_answers[:1]) for p in ps.probes]


def score(name: str, probe_list: list) -> tuple[np.ndarray, np.ndarray]:
    """Log-probs of the teacher's and ChatGPT's answer per probe under one family member (cached)."""
    from distillguard.suspects import open_suspect

    path = SCORES / f"{name}.json"
    ids = [p.id for p in probe_list]
    if path.exists():
        c = json.loads(path.read_text())
        if c["ids"] == ids:
            return np.array(c["teacher"]), np.array(c["reference"])
    s = base_suspect() if name == "gemma3-270m" else open_suspect(ZOO / name)
    t0 = time.time()
    t_lp, r_lp = answer_logprobs(s, probe_list)
    t, r = np.array([x[0] for x in t_lp]), np.array([x[0] for x in r_lp])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"ids": ids, "teacher": t.tolist(), "reference": r.tolist(),
                                "queries": s.queries, "seconds": round(time.time() - t0, 1)}))
    print(f"scored {name} in {time.time() - t0:.0f}s", flush=True)
    return t, r


def committed_zoo() -> tuple[list[dict], dict[str, np.ndarray]]:
    """The from-scratch zoo (name, label) and its per-probe contrasts (first teacher answer) from
    ``answered_logprobs.npz``; Gemma is scored here instead, the selection students only chose probes."""
    d = np.load(DATA / "answered_logprobs.npz", allow_pickle=False)
    keep = [i for i, n in enumerate(d["names"]) if n != "gemma3-270m" and not n.startswith("select-")]
    models = [{"name": str(d["names"][i]), "label": int(d["labels"][i])} for i in keep]
    return models, {str(d["names"][i]): d["teacher_lps"][i, :, 0] - d["reference_lps"][i] for i in keep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chatgpt", type=int, default=2, help="fine-tunes on disjoint sets of ChatGPT answers")
    ap.add_argument("--human", type=int, default=2, help="fine-tunes on disjoint sets of human replies")
    ap.add_argument("--no-self", action="store_true", help="skip the self-distilled fine-tune")
    ap.add_argument("--reps", type=int, default=200, help="random probe subsets per row of the table")
    a = ap.parse_args()
    t0 = time.time()
    names = build(a.chatgpt, a.human, not a.no_self)
    plist = probes()
    lp = {n: score(n, plist) for n in names}
    S = {n: t - r for n, (t, r) in lp.items()}
    labels = {n: KINDS[kind(n)][0] for n in names}
    np.savez_compressed(DATA / "family_logprobs.npz", names=np.array(names), labels=np.array([labels[n] for n in names]),
                        probe_ids=np.array([p.id for p in plist]), teacher_lps=np.array([lp[n][0] for n in names]),
                        reference_lps=np.array([lp[n][1] for n in names]))
    # fingerprint.py's test and evaluation with family=True: a Gemma model's null is the base and its non-teacher
    # fine-tunes (leave-one-out), a from-scratch model's the chat-sharegpt students
    members = [{"name": n, "label": labels[n]} for n in names]
    everything = np.arange(len(plist))
    rng = np.random.default_rng(0)
    full = full_statistics(members, S, everything, family=True)
    fam_rows = [evaluate(members, S, everything, n, a.reps, rng, family=True) for n in [*NS, len(plist)]]
    zoo_models, zoo_S = committed_zoo()
    pooled_rows = [evaluate(zoo_models + members, {**zoo_S, **S}, everything, n, a.reps, rng, family=True)
                   for n in [*NS, len(plist)]]
    Plab = {m["name"]: m["label"] for m in zoo_models + members}
    members_info = {n: {"label": labels[n], "source": KINDS[kind(n)][1],
                        "train": json.loads((ZOO / n / "train.json").read_text()) if n != "gemma3-270m" else None}
                    for n in names}
    res = {"question": __doc__.split("\n\n")[0], "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
           "machine": platform.platform(), "command": "python " + " ".join(sys.argv),
           "members": members_info,
           "full_statistics": full, "family": fam_rows, "pooled": pooled_rows,
           "pooled_zoo": Plab, "wall_s": round(time.time() - t0, 1),
           # what the cached stages cost when they ran (this invocation may have reused them)
           "train_s_recorded": round(sum(m["train"]["seconds"] for m in members_info.values() if m["train"]), 1),
           "score_s_recorded": round(sum(json.loads((SCORES / f"{n}.json").read_text())["seconds"] for n in names), 1)}
    out = ROOT / "results" / "fingerprint_family"
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [f"# Fingerprint: a known public base's family null ({res['date'][:10]}, {res['machine']})", "",
          f"Command: `{res['command']}`", "", __doc__.split("\n\n")[1].replace("\n", " "), "",
          "All 126 probes (2 queries each), each member against the other null members (leave-one-out):", "",
          "| model | + / - | source | T | t | p | p_rank (min) |", "|---|---|---|---|---|---|---|"]
    for n in names:
        r = full[n]
        md.append(f"| {n} | {'+' if labels[n] else '-'} | {KINDS[kind(n)][1]} | {r['statistic']:.4f} | "
                  f"{r['t']:.2f} | {r['p_value']:.3g} | {r['p_rank']:.2f} ({r['min_p_rank']:.2f}) |")
    md += ["", "Random probe subsets (200 each): within the Gemma family, and pooled with the committed from-scratch "
           "zoo (each model against its own family's null; positives there include the weak logit-distilled "
           "students that never saw a teacher answer):", "",
           "| queries | probes | family AUROC mean (min) | share AUROC = 1 | TPR@0.01 | FPR@0.01 | pooled AUROC mean (min) |",
           "|---|---|---|---|---|---|---|"]
    for f, p in zip(fam_rows, pooled_rows):
        md.append(f"| {2 * f['n_probes']} | {f['n_probes']} | {f['auroc_mean']:.3f} ({f['auroc_min']:.3f}) | "
                  f"{f['share_auroc_1']:.2f} | {f['tpr_at_alpha']:.2f} | {f['fpr_at_alpha']:.3f} | "
                  f"{p['auroc_mean']:.3f} ({p['auroc_min']:.3f}) |")
    md += ["", f"Wall time of this invocation {res['wall_s'] / 60:.1f} min; the cached stages took, when they ran, "
           f"{res['train_s_recorded'] / 60:.0f} min of fine-tuning and {res['score_s_recorded'] / 60:.0f} min of scoring "
           f"(plus the teacher harvest and Gemma's own answers; caches under {ZOO.parent})."]
    out.with_suffix(".md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
