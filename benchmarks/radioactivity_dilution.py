"""Benchmark: the 5 % cell at scale -- watermarked teacher answers diluted in 19x as much public chat data.

Question (issue 3): a harvester rarely trains on our answers alone. Mix the teacher's watermarked answers with
public (prompt, answer) pairs so that they are only ``--fraction`` of the training answers, train a student
from scratch, and ask: does reading mode still find the harvester's account among ``--accounts`` sub-keys?
radioactivity.py's 5 % student saw 256 answers in all (13 watermarked, 1.5k tokens) and was not detected;
here the watermarked answers stay at 256 and the student grows around them.

Set-up (radioactivity.py's key spec, prompts and student shape): an h = 0 key (gamma 0.25, delta 2, one keyed
vocabulary order per account). The teacher answers ``--wm-answers`` real ShareGPT prompts by sampling
(T = 0.7) with the sub-key of account ``harvester`` (W) and as many other prompts without watermark (C).
Diluent D and D': disjoint sets of ShareGPT (human prompt, ChatGPT answer) pairs, none of them a harvest or
test prompt and none of their answers a reading text. Students (2 layers, d = 256, from scratch):

* ``dilute-wm``  = W + D: the suspect, ``--fraction`` of its answers watermarked;
* ``shadow``     = C + D' (another seed): what the investigator can build without the harvester's data -- the
  teacher's clean answers and other public pairs. It is also the clean control: tested with the harvester's
  key it must stay quiet.
* ``clean-twin`` = C + D with the suspect's seed (``--twin``): the suspect's exact recipe with the clean answers
  in place of the watermarked ones. No investigator has it (it needs the harvester's D); it is a diagnostic:
  relative to its twin (reading-rank-twin), is the mark in the suspect's weights at all?

Statistics (all among the account sub-keys, Holm): reading-rank (the suspect's averaged next-token
distribution on 100 held-out ChatGPT answers, Wilcoxon rank sum of the key's green list), reading-rank-shadow
(the same on the difference to the shadow's distribution: the null stays exact because the shadow never saw
a watermarked token), reading-rank-vocab and reading-rank-vocab-shadow (the same two, ranking only the tokens
the clean teacher wrote in C: a key-independent support, so the null stays exact),
reading-rank-untrained-last (the whole vocabulary with the student's never-trained entries -- one tied block at
logit 0 -- ranked last instead of merged with the top of the ranking; defined after the 25 % and 5 % runs'
rank_breakdown and fixed before the 10 % run was scored), reading-rank-unigram (the same, ranked by the
student's log-probability minus each token's log-frequency in ``--public`` ShareGPT exchanges that are not in D,
D', a harvest prompt or a reading text: what public data taught any student is subtracted; a key-independent
reference, so the null stays exact; defined after the 5 %, 10 % and 25 % runs and fixed before the fresh-key 5 %
run was scored), reading (green coins of top-1 predictions) and
generation (green coins of the student's answers to held-out prompts). The 999 accounts a student never
learned from calibrate each statistic.

    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution --epochs 1 --twin   # the committed 5 % result
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-25 --fraction 0.25 --epochs 5
                              # 25 %: 1,024 answers x 5 epochs = 640 steps, the 5 % student's compute
    cp runs/radio-dilution-25/{teacher.key,harvest_wm.jsonl,harvest_clean.jsonl} runs/radio-dilution-5/
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-5 --epochs 1 --name radioactivity_dilution_rep
                              # a new 5 % student with the 25 % run's key and harvests (the -vocab replication)
    cp runs/radio-dilution-25/{teacher.key,harvest_wm.jsonl,harvest_clean.jsonl} runs/radio-dilution-10/
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-10 --fraction 0.10 --epochs 2
                              # 10 %: 2,560 answers x 2 epochs = 640 steps (untrained-last fixed in advance)
    cp runs/radio-dilution-25/{teacher.key,harvest_wm.jsonl,harvest_clean.jsonl} runs/radio-dilution-5e2/
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-5e2 --epochs 2 --no-shadow --name X
                              # X = radioactivity_dilution_5pct_2ep: 5 % seen twice (1,280 steps), no shadow
    mkdir -p runs/radio-dilution-5r; cp runs/radio-dilution-5/harvest_clean.jsonl runs/radio-dilution-5r/
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-5r --epochs 1 --no-shadow --name Y
                              # Y = radioactivity_dilution_5pct_unigram: a fresh key and W (-unigram fixed in advance)
    mkdir -p runs/radio-dilution-5w768; cp runs/radio-dilution-5r/{teacher.key,harvest_wm.jsonl} runs/radio-dilution-5w768/
    python benchmarks/radioactivity_dilution.py --out runs/radio-dilution-5w768 --wm-answers 768 --clean-answers 256 \
        --epochs 1 --no-shadow --name radioactivity_dilution_5pct_768
                              # key 3 again, three times the watermarked answers (the first 256 are Y's), still 5 %
    python benchmarks/radioactivity_dilution.py --out runs/dil-quick --quick                  # ~2 min; prints only
Writes benchmarks/results/radioactivity_dilution.json and .md at the default 5 %, radioactivity_dilution_<N>pct.json
and .md at another fraction (never edit them by hand). The committed result is the first command's; the others'
results are in benchmarks/results/archive/ (its README gives each one's command, with --results-dir).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distillguard.distill.bench import md_table, provenance_line, start_run, write_result
from distillguard.distill.sampled import (
    cached_answers,
    diluent_pairs,
    harvest_pair,
    public_exclusions,
    rank_breakdown,
    score_suspect,
    teacher_and_keys,
)

RESULTS = Path(__file__).resolve().parent / "results"
BREAKDOWN_KEYS = 200  # the harvester and 199 null accounts for rank_breakdown (each part is one more rank test)
MODES = ("reading-rank", "reading-rank-unigram", "reading-rank-unigram-top", "reading-rank-untrained-last", "reading-rank-shadow", "reading-rank-twin",
         "reading-rank-vocab", "reading-rank-vocab-shadow", "reading", "generation")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/radio-dilution", help="cache directory (harvests, students, answers)")
    ap.add_argument("--wm-answers", type=int, default=256, help="watermarked teacher answers in the suspect's data")
    ap.add_argument("--clean-answers", type=int, default=None,
                    help="clean teacher answers C (default: as many as --wm-answers); C trains the shadow and "
                         "gives the teacher's vocabulary of the -vocab statistics")
    ap.add_argument("--fraction", type=float, default=0.05, help="watermarked share of the suspect's answers")
    ap.add_argument("--tokens", type=int, default=128, help="max new tokens per harvested answer (and per "
                                                            "generation-mode answer)")
    ap.add_argument("--epochs", type=int, default=1, help="epochs over the whole mixture (one is ~20 min per "
                    "student on 2 cores at the default sizes)")
    ap.add_argument("--accounts", type=int, default=1000, help="account sub-keys tested (harvester + others)")
    ap.add_argument("--read", type=int, default=100, help="held-out ShareGPT answers read (reading mode)")
    ap.add_argument("--queries", type=int, default=128, help="generation-mode prompts per suspect")
    ap.add_argument("--gen-queries", type=int, default=None,
                    help="generation-mode prompts, if not --queries: more queries for cached students. The "
                         "diluent pairs stay those of --queries (the students' training data), and any prompt "
                         "of D or D' is dropped from the generation prompts")
    ap.add_argument("--public", type=int, default=20_000,
                    help="public ShareGPT exchanges (none in D, D', a harvest or a reading text) whose token "
                         "log-frequencies are the reference of reading-rank-unigram")
    ap.add_argument("--reading-top", type=int, default=None, metavar="K",
                    help="also reading-rank-unigram-top: the harvester's green entries among the K entries of the "
                         "reading-rank-unigram ranking ranked highest (exact hypergeometric test)")
    ap.add_argument("--twin", action="store_true",
                    help="also train the suspect's clean twin (C + D, the suspect's seed): a diagnostic no investigator "
                         "has -- it tells whether the mark is in the weights at all")
    ap.add_argument("--no-shadow", action="store_true",
                    help="skip the shadow student (C + D'): halves the training time and drops the -shadow "
                         "statistics; a later run without this flag trains it and reuses the cached suspect")
    ap.add_argument("--name", default=None, help="result file stem under benchmarks/results/ (default: "
                    "radioactivity_dilution at 5 %%, radioactivity_dilution_<N>pct otherwise)")
    ap.add_argument("--results-dir", default=str(RESULTS),
                    help="folder of the result files (default benchmarks/results/; the superseded variants "
                         "are regenerated into benchmarks/results/archive/)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes; prints the table, writes no result file")
    args = ap.parse_args(argv)
    if not 0 < args.fraction < 1:
        ap.error("--fraction must be in (0, 1)")
    if args.clean_answers is not None and args.clean_answers < 1:
        ap.error("--clean-answers must be at least 1")
    if args.name is not None and not args.name.replace("_", "").replace("-", "").isalnum():
        ap.error(f"--name {args.name!r}: use letters, digits, '_' and '-' only")
    if args.quick:
        args.wm_answers, args.tokens, args.epochs, args.accounts, args.read, args.queries = 16, 32, 1, 50, 12, 8
        args.public = 500
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    from distillguard.data import public_texts
    from distillguard.demo import pooled_score
    from distillguard.detect.radioactivity import teacher_vocabulary, unigram_logprobs
    from distillguard.distill.harvest import real_texts
    from distillguard.distill.simulate import cached_predictions
    from distillguard.distill.student import chat_sequences, train_text_student
    from distillguard.suspects import LocalSuspect

    t_start = time.perf_counter()
    out = Path(args.out)
    res, previous = start_run("benchmarks/radioactivity_dilution.py", __doc__, args)
    timings = res["timings_s"]
    teacher, accounts, keys, other = teacher_and_keys(out, args.accounts, res)
    tok = teacher.tokenizer
    # the same prompt slices as radioactivity.py: W, C, then the generation-mode prompts
    gen_queries = args.gen_queries or args.queries
    wm, clean, (w_prompts, c_prompts, q_all), _ = harvest_pair(teacher, out, args.wm_answers,
                                                               max(args.queries, gen_queries), keys[0], args.tokens,
                                                               timings, n_clean=args.clean_answers)
    q_prompts = q_all[: args.queries]  # kept out of the diluent pairs, as when the students were trained
    read_texts = real_texts("read", args.read)
    read_seqs = [tok.encode(t, add_special_tokens=False)[:256] for t in read_texts]
    n_dil = int(round(len(wm) * (1 - args.fraction) / args.fraction))
    d_pairs, d2_pairs = diluent_pairs(n_dil, set(w_prompts) | set(c_prompts) | set(q_prompts), set(read_texts))
    trained_on = {q for q, _ in d_pairs + d2_pairs}
    gen_prompts = [q for q in q_all[:gen_queries] if q not in trained_on]  # held out from every student
    res["generation_prompts"] = len(gen_prompts)

    def seqs_of(pairs: list[tuple[str, str]]) -> tuple[list[list[int]], int]:
        """Chat-template sequences (prompt <= 128 tokens, answer <= --tokens) and their answer-token count."""
        seqs = chat_sequences(tok, pairs, 128, args.tokens)
        if len(seqs) != len(pairs):
            raise SystemExit("training sequences are misaligned with their pairs (an answer encodes to no token)")
        answer_tokens = sum(min(args.tokens, len(tok.encode(a, add_special_tokens=False))) for _, a in pairs)
        return seqs, answer_tokens

    parts = {"W": seqs_of([(r["prompt"], r["response"]) for r in wm]),
             "C": seqs_of([(r["prompt"], r["response"]) for r in clean]),
             "D": seqs_of(d_pairs), "D'": seqs_of(d2_pairs)}
    res["data"] = {k: {"answers": len(s), "answer_tokens": t, "tokens": int(sum(map(len, s)))}
                   for k, (s, t) in parts.items()}
    res["data"]["W"]["served_text"] = pooled_score([r["response_ids"] for r in wm], keys[0])
    # the clean teacher's vocabulary (every token it wrote in C): the key-independent support of the -vocab
    # statistics, chosen after the 25 % run and fixed before the 10 % run was scored (docs/radioactivity.md)
    support = teacher_vocabulary([r["response_ids"] for r in clean], len(tok))
    res["data"]["C"]["vocabulary"] = int(support.sum())
    # public text none of the students saw (the investigator does not know D): the -unigram reference
    public = public_texts(args.public, seed=7, exclude=public_exclusions(d_pairs, d2_pairs, w_prompts, c_prompts,
                                                                         read_texts))
    public_ids = [tok.encode(t, add_special_tokens=False) for t in public]
    unigram_lp = unigram_logprobs(public_ids, len(tok))
    res["public_unigram"] = {"texts": len(public), "tokens": sum(map(len, public_ids)), "smoothing": 0.5,
                             "entries_seen": int(len(np.unique(np.concatenate(public_ids))))}
    students = {"dilute-wm": (("W", "D"), 0), "shadow": (("C", "D'"), 1), "clean-twin": (("C", "D"), 0)}
    order_of_training = [n for n in ("shadow", "clean-twin", "dilute-wm")
                         if (n != "clean-twin" or args.twin) and (n != "shadow" or not args.no_shadow)]
    rows = []
    lps: dict[str, np.ndarray] = {}
    for name in order_of_training:  # the references first: the suspect's test needs their distributions
        names, seed = students[name]
        seqs = [s for p in names for s in parts[p][0]]
        order = np.random.default_rng(seed).permutation(len(seqs))  # the trainer shuffles too; this is for ties
        info = train_text_student(out / "students" / name, tok, [seqs[i] for i in order], epochs=args.epochs,
                                  seed=seed, desc=name)
        suspect = LocalSuspect.load(out / "students" / name)
        t0 = time.perf_counter()
        fresh = cached_answers(out / "answers" / f"{name}.json", len(gen_prompts)) is None
        row = score_suspect(name, suspect, tok, keys, accounts, other, read_seqs, gen_prompts, out, args.tokens,
                           reference_lp=lps.get("shadow"), support=support, untrained_last=True,
                           unigram_lp=unigram_lp, unigram_top=args.reading_top)
        if fresh:
            timings[f"test_{name}"] = round(time.perf_counter() - t0, 1)
        for mode in [m for m in row if m.endswith("-ref")]:
            row[mode.replace("-ref", "-shadow")] = row.pop(mode)
        if name == "dilute-wm" and "clean-twin" in lps:  # cached preds and answers: this pass only scores
            row["reading-rank-twin"] = score_suspect(name, suspect, tok, keys, accounts, other, read_seqs, gen_prompts,
                                                    out, args.tokens, reference_lp=lps["clean-twin"])["reading-rank-ref"]
        lps[name] = cached_predictions(suspect, read_seqs, out / "preds" / f"{name}.npz").mean_logprobs
        seen = np.zeros(len(tok), dtype=bool)
        seen[np.unique(np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs]))] = True
        row["rank_by_part"] = rank_breakdown(lps[name], keys[:BREAKDOWN_KEYS], seen, support)
        wm_tok = parts["W"][1] if "W" in names else 0
        all_tok = sum(parts[p][1] for p in names)
        rows.append({**row, "data": " + ".join(names), "seed": seed, "train": info,
                     "watermarked_answers": len(parts["W"][0]) if "W" in names else 0,
                     "answers": len(seqs), "watermarked_answer_tokens": wm_tok, "answer_tokens": all_tok,
                     "watermarked_answer_token_share": wm_tok / all_tok})
    res["students"] = rows
    res["seconds_total"] = round(time.perf_counter() - t_start, 1)
    md = _markdown(res)
    print(md)
    previous.write_text(json.dumps(res, indent=2, default=str) + "\n")
    if not args.quick:
        stem = args.name or ("radioactivity_dilution" + ("" if args.fraction == 0.05 else
                                                         f"_{round(args.fraction * 100)}pct"))
        write_result(stem, res, md, args.results_dir)
    return 0


def _markdown(res: dict[str, Any]) -> str:
    s, d = res["settings"], res["data"]
    served = d["W"]["served_text"]
    rows, calibration, parts = [], [], []
    for r in res["students"]:
        for mode in [m for m in MODES if m in r]:
            m, h = r[mode], r[mode]["harvester"]
            stat = (f"mean rank {h['green_fraction']:.4f} (z {h['z']:.1f})" if h.get("statistic") == "rank" else
                    f"{h['green']} / {h['scored']} = {h['green_fraction']:.3f}"
                    + (f" of the head (z {h['z']:.1f})" if h.get("statistic") == "top" else ""))
            scored = (f"{m['tokens_read']} tokens read" + (f", {h['scored']} entries ranked" if "vocab" in mode
                                                           else "") if mode.startswith("reading") else
                      f"{m['answer_tokens']} tokens, {m['queries']} queries")
            others = [a for a in m["flagged"] if a != "harvester"]
            rows.append([r["suspect"], r["data"], f"{r['watermarked_answers']} / {r['answers']}",
                         f"{r['watermarked_answer_token_share']:.1%}", mode, stat, scored,
                         f"{h['log10_p']:.1f} ({h['log10_p_holm']:.1f})",
                         f"{'**yes**' if h['detected'] else 'no'}{' + ' + ', '.join(others) if others else ''}",
                         f"{m['other_key']['log10_p']:.1f}"])
            c = m["null_accounts"]
            calibration.append([r["suspect"], mode, c["keys"], f"{c['fpr_at_0.01']:.4f} ({c['rejections_0.01']} <= "
                                f"{c['bound_0.01_rejections_q999']})", f"{c['fpr_at_0.001']:.4f}", f"{c['min_p']:.2g}",
                                f"{c['ks_anticonservative_pvalue']:.2f}"])
        parts += [[r["suspect"], part, b["entries"], f"{b['green_share']:.3f}", f"{b['mean_logprob']:.2f}",
                   f"{b['harvester_z']:.2f}", f"{b['null_z_mean']:+.2f} ({b['null_z_sd']:.2f})"]
                  for part, b in r.get("rank_by_part", {}).items()]
    out = [f"# Radioactivity at {s['fraction']:.0%}: watermarked teacher answers diluted in public chat data\n",
           f"{provenance_line(res)}; this run took {res['seconds_total'] / 60:.1f} min (cached stages keep "
           "the times of the run that did them).\n",
           f"Key: h = {res['spec']['context_width']}, gamma = {res['spec']['gamma']}, delta = {res['spec']['delta']}. "
           "Training data (answers / answer tokens / all tokens with the chat template and prompts): "
           + "; ".join(f"{k} {v['answers']} / {v['answer_tokens']} / {v['tokens']}" for k, v in d.items())
           + f". W = the teacher's watermarked answers (served text {served['green']} / {served['scored']} green, "
           f"log10 p {served['log10_p']:.0f}), C = its clean answers, D and D' = disjoint ShareGPT (prompt, "
           f"ChatGPT answer) pairs. Students: 2 layers, d = 256, from scratch, {s['epochs']} epochs. Tested among "
           f"{s['accounts']} account sub-keys (Holm, alpha 1e-3); reading = {s['read']} held-out ShareGPT answers, "
           f"generation = {res.get('generation_prompts', s['queries'])} held-out ShareGPT prompts.\n",
           *md_table(["suspect", "data", "wm answers / all", "wm share of answer tokens", "mode",
                      "harvester green / coins (or mean rank)", "scored", "log10 p (Holm)",
                      "detected (+ other accounts flagged)", "another key log10 p"], rows),
           "\nCalibration (the accounts each student never learned from: their p-values are null):\n",
           *md_table(["suspect", "mode", "null keys", "FPR at 0.01 (0.999 bound)", "FPR at 0.001", "min p",
                      "one-sided KS p"], calibration),
           "\nTraining: " + "; ".join(f"{r['suspect']} {r['train']['tokens']} tokens x {r['train']['epochs']} "
                                      f"epochs, {r['train']['steps']} steps, final loss {r['train']['final_loss']}, "
                                      f"{r['train']['seconds'] / 60:.1f} min" for r in res["students"]),
           "\nWhere the whole-vocabulary rank statistic comes from: the harvester's z on parts of the vocabulary "
           "(`rank_breakdown`; each part is fixed before any key is looked at; null = the first "
           f"{BREAKDOWN_KEYS - 1} other accounts). Never-seen entries keep output row 0 (restricted-vocabulary "
           "softmax): one tied block at logit 0.\n",
           *md_table(["suspect", "part", "entries", "green share", "mean log-prob", "harvester z",
                      "null z mean (sd)"], parts),
           "\nTimings (s): " + ", ".join(f"{k} {v}" for k, v in res["timings_s"].items())]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
