"""Benchmark: is the fingerprint's Student-t tail calibrated on many independent models (issue 30)?

The fingerprint line has two p-values: the exact rank p (which cannot go below 1/(R+1) with R calibration
models) and a Student-t prediction tail, which can, but rests on an assumption: that the calibration models'
statistics T are a normal sample and the suspect, when it never saw the teacher, is one more draw. The verdict
rule already refuses to act on that tail alone (INDICATIVE). This benchmark measures how far the assumption
holds: on clean models (none saw the teacher), how often is the tail p <= a, against the nominal a?

Populations (every model clean; all scored on one demo world's probe set, contrast = the probe file's):

* ``cheap`` -- ``--cheap`` new from-scratch students of the teacher's tokenizer (1-2 layers, d = 64-128,
  2-4 epochs, 48-64 pairs), sources cycling through ChatGPT answers, human replies, Gemma-3-270M's answers and
  a mixture; training sets disjoint from each other and from the probe prompts;
* ``real-size`` -- the world's 8 calibration students and 2 hard negatives, plus the 10 negatives that
  ``benchmarks/fingerprint_sources.py`` trained (when its cache is there): 20 students of the demo's sizes,
  trained on disjoint sets.

Procedure and criterion, fixed before any of the cheap students existed: for each member i of a population,
``--draws`` random nulls of 8 from the other members, (a) *stratified*, 2 per source (the demo's null plan),
and (b) *source left out*, 8 drawn from the members of the other three sources (a suspect of a kind the null
never saw). For each, the t-tail p and the exact rank p of member i. Reported: the rate of p <= a for
a in {0.001, 0.01, 0.05, 0.1, 0.25}, pooled over members and draws, with a cluster standard error over members (the
draws of one member are dependent). The tail is called calibrated at a when rate <= a + 2 SE. The rank p is
exact by construction under exchangeability (a check of the procedure), not a finding.

Run: ``python benchmarks/fingerprint_tail.py --world runs/demo-q2`` (about 15 min on 2 CPU cores: training
the cheap students, then one scoring pass per model; cached under ``--cache``). Writes
``benchmarks/results/fingerprint_tail.{json,md,png}``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from distillguard.demo import HARD_NEGATIVE_NAMES, PROFILES, null_plan
from distillguard.distill.bench import md_table, new_record, provenance_line, write_result
from distillguard.distill.sources import SOURCES, disjoint_sets
from distillguard.distill.student import chat_sequences, train_text_student
from distillguard.fingerprint.probeset import ProbeSet
from distillguard.fingerprint.score import answer_logprobs, logprob_contrast
from distillguard.fingerprint.stats import calibrated_test
from distillguard.models import load_tokenizer
from distillguard.suspects import LocalSuspect

LEVELS = (0.001, 0.01, 0.05, 0.1, 0.25)  # 0.25: above the rank p's floor 1/9, where it can be checked
NULL_SIZE = 8
#: (layers, hidden, epochs, pairs) of the cheap students, cycled
CHEAP_RECIPES = [(1, 64, 3, 64), (1, 96, 2, 48), (2, 64, 3, 48), (1, 128, 4, 64), (2, 96, 2, 64)]
#: the negatives of benchmarks/fingerprint_sources.py (its cache folder names start with this)
SOURCES_BENCH_PREFIX = "neg-"


def cheap_students(world: Path, cache: Path, tok: Any, n: int, max_tokens: int) -> dict[str, dict[str, Any]]:
    """Train (cached) ``n`` cheap clean students; name -> {dir, source, recipe}."""
    held_out = {p.prompt for p in ProbeSet.load(world / "probes.json").probes}
    plan = [(SOURCES[i % len(SOURCES)], CHEAP_RECIPES[(i + i // len(SOURCES)) % len(CHEAP_RECIPES)])
            for i in range(n)]
    sets = disjoint_sets([(src, r[3]) for src, r in plan], exclude=held_out, seed=4242)
    out = {}
    for i, ((src, (layers, hidden, epochs, _)), pairs) in enumerate(zip(plan, sets)):
        name = f"cheap-{i:02d}-{src}-{layers}L{hidden}-e{epochs}-n{len(pairs)}"
        d = cache / "cheap" / name
        train_text_student(d, tok, chat_sequences(tok, pairs, 128, max_tokens), layers=layers, hidden=hidden,
                           epochs=epochs, lr=3e-3, seed=7000 + i, desc=name)
        out[name] = {"dir": d, "source": src, "recipe": [layers, hidden, epochs, len(pairs)]}
    return out


def real_size_students(world: Path, sources_cache: Path) -> dict[str, dict[str, Any]]:
    """The world's calibration students and hard negatives, and fingerprint_sources.py's negatives if cached."""
    prof = PROFILES[json.loads((world / "steps" / "settings.json").read_text())["profile"]["name"]]
    out = {f"null-student-{i}": {"dir": world / "null-students" / f"s{i}", "source": r["source"],
                                 "recipe": [r["layers"], r["hidden"], r["epochs"], r["pairs"]]}
           for i, r in enumerate(null_plan(prof))}
    for src in prof.hard_negatives:
        out[HARD_NEGATIVE_NAMES[src]] = {"dir": world / "hard-negatives" / src, "source": src, "recipe": None}
    for d in sorted(sources_cache.glob(SOURCES_BENCH_PREFIX + "*")):
        if (d / "model.safetensors").exists():
            out[d.name] = {"dir": d, "source": d.name.split("-")[1], "recipe": None}
    return out


def contrasts(models: dict[str, dict[str, Any]], ps: ProbeSet, cache: Path) -> dict[str, np.ndarray]:
    """Per-probe contrast of every model under the probe file's contrast (log-probs cached per model)."""
    how = ps.settings.get("reference_contrast", "mean")
    out = {}
    for name, m in tqdm(models.items(), desc="scoring", unit="model"):
        f = cache / "logprobs" / f"{name}.npz"
        if f.exists():
            z = np.load(f, allow_pickle=False)
            k = len(ps.probes)
            t = [z[f"t{i}"] for i in range(k)]
            r = [z[f"r{i}"] for i in range(k)]
        else:
            t, r = answer_logprobs(LocalSuspect.load(m["dir"]), ps.probes)
            f.parent.mkdir(parents=True, exist_ok=True)
            np.savez(f, **{f"t{i}": a for i, a in enumerate(t)}, **{f"r{i}": a for i, a in enumerate(r)})
        out[name] = np.asarray(logprob_contrast(t, r, contrast=how), float)
    return out


def draw_null(rng: np.random.Generator, members: list[str], source: dict[str, str], me: str,
              design: str) -> list[str] | None:
    """One null of NULL_SIZE models without ``me``: 2 per source (stratified) or from other sources only."""
    others = [m for m in members if m != me]
    if design == "stratified":
        per = NULL_SIZE // len(SOURCES)
        pick = []
        for s in SOURCES:
            pool = [m for m in others if source[m] == s]
            if len(pool) < per:
                return None
            pick += list(rng.choice(pool, per, replace=False))
        return pick
    pool = [m for m in others if source[m] != source[me]]
    return None if len(pool) < NULL_SIZE else list(rng.choice(pool, NULL_SIZE, replace=False))


def calibration(scores: dict[str, np.ndarray], source: dict[str, str], draws: int, seed: int) -> dict[str, Any]:
    """Rates of t-tail p <= a and rank p <= a over members x draws, per null design, with cluster SEs."""
    members = sorted(scores)
    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for design in ("stratified", "source-left-out"):
        p_t = {m: [] for m in members}
        p_r = {m: [] for m in members}
        for me in members:
            for _ in range(draws):
                null = draw_null(rng, members, source, me, design)
                if null is None:
                    break
                res = calibrated_test(scores[me], np.array([scores[n] for n in null]))
                p_t[me].append(res["p_value"])
                p_r[me].append(res["p_rank"])
        used = [m for m in members if p_t[m]]
        rows = {}
        for a in LEVELS:
            per_t = np.array([np.mean(np.array(p_t[m]) <= a) for m in used])
            per_r = np.array([np.mean(np.array(p_r[m]) <= a) for m in used])
            se = float(per_t.std(ddof=1) / np.sqrt(len(used))) if len(used) > 1 else float("nan")
            rows[str(a)] = {"rate_t": float(per_t.mean()), "se_t": se, "calibrated": bool(per_t.mean() <= a + 2 * se),
                            "members_with_any": int((per_t > 0).sum()), "rate_rank": float(per_r.mean())}
        out[design] = {"members": len(used), "draws": draws, "levels": rows,
                       "median_p_t": {m: float(np.median(p_t[m])) for m in used},
                       "min_p_t": {m: float(np.min(p_t[m])) for m in used},
                       "all_p_t": np.concatenate([p_t[m] for m in used]).tolist() if used else []}
    return out


def plot(results: dict[str, Any], path: Path) -> None:
    """Q-Q of the pooled t-tail p-values against uniform, log scale, per population and null design."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5))
    styles = {"stratified": "-", "source-left-out": "--"}
    for pop, res in results.items():
        for design, r in res.items():
            p = np.sort(np.asarray(r["all_p_t"]))
            if not p.size:
                continue
            q = (np.arange(1, p.size + 1)) / (p.size + 1)
            ax.plot(q, p, styles[design], label=f"{pop}, {design} null ({r['members']} models)")
    lim = [1e-4, 1]
    ax.plot(lim, lim, color="black", lw=0.8, label="calibrated (p = quantile)")
    ax.set(xscale="log", yscale="log", xlim=lim, ylim=lim, xlabel="uniform quantile",
           ylabel="t-tail p of a clean model (sorted)",
           title="Fingerprint Student-t tail on clean models\nbelow the diagonal = anti-conservative")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(rec: dict[str, Any]) -> str:
    lines = [f"# Is the fingerprint's Student-t tail calibrated? ({rec['run']['utc'][:10]})", "",
             provenance_line(rec), "", f"Command: `{rec['run']['command']}`", "",
             f"World: `{rec['world']}` (its probe set, contrast `{rec['contrast']}`). Every model is clean (never "
             f"saw the teacher). Each member is tested against {rec['settings']['draws']} random nulls of "
             f"{NULL_SIZE} other members: *stratified* (2 per source, the demo's design) and *source left out* "
             "(8 from the other sources). Criterion fixed before the cheap students existed: calibrated at a when "
             "the pooled rate of t-tail p <= a is at most a + 2 SE (SE clustered by member). The rank p is exact "
             "by construction (a check).", ""]
    head = ["population", "null", "models", "a", "t-tail rate", "SE", "calibrated", "models ever <= a", "rank rate"]
    rows = []
    for pop, res in rec["results"].items():
        for design, r in res.items():
            for a, v in r["levels"].items():
                rows.append([pop, design, r["members"], a, f"{v['rate_t']:.4f}", f"{v['se_t']:.4f}",
                             "n/a" if not r["members"] else "yes" if v["calibrated"] else "**no**",
                             v["members_with_any"], f"{v['rate_rank']:.4f}"])
    lines += md_table(head, rows)
    lines += ["", "![Q-Q of t-tail p-values](fingerprint_tail.png)", "",
              "## Sources of each population", ""]
    for pop, models in rec["models"].items():
        counts = {s: sum(m["source"] == s for m in models.values()) for s in SOURCES}
        lines.append(f"- **{pop}**: " + ", ".join(f"{s} {c}" for s, c in counts.items()))
    stages = ", ".join(f"{k[:-2].replace('_', ' ')} {v / 60:.1f} min" for k, v in rec.get("timings_s", {}).items())
    lines += ["", f"Wall time of this command {rec['seconds'] / 60:.1f} min"
              + (f"; the stages as first run (cached since): {stages}." if stages else ".")]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="example: python benchmarks/fingerprint_tail.py --world runs/demo-q2")
    ap.add_argument("--world", default="runs/demo-quick", help="a finished distillguard demo directory")
    ap.add_argument("--cache", default="runs/fingerprint-tail", help="cheap students and cached log-probs")
    ap.add_argument("--sources-cache", default="runs/fingerprint-sources",
                    help="benchmarks/fingerprint_sources.py's cache (its negatives join the real-size population)")
    ap.add_argument("--cheap", type=int, default=40, help="cheap clean students to train")
    ap.add_argument("--draws", type=int, default=200, help="random nulls per member")
    ap.add_argument("--out", default="benchmarks/results", help="result folder")
    args = ap.parse_args()
    world, cache = Path(args.world), Path(args.cache)
    if not (world / "probes.json").exists() or not (world / "steps" / "settings.json").exists():
        raise SystemExit(f"{world}: not a finished demo world (run distillguard demo --out {world} first)")
    if args.cheap < 2 * len(SOURCES) + 1 or args.draws < 1:
        raise SystemExit("--cheap must be >= 9 and --draws >= 1")
    t0 = time.time()
    rec = new_record("benchmarks/fingerprint_tail.py", question="is the fingerprint's Student-t tail calibrated "
                     "on clean models of several sources and sizes")
    tok = load_tokenizer(None)
    ps = ProbeSet.load(world / "probes.json")
    prof = PROFILES[json.loads((world / "steps" / "settings.json").read_text())["profile"]["name"]]
    # stage times: a stage that found everything cached keeps the time of the run that did its work
    timings_path = cache / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    fresh = not (cache / "cheap").exists() or len(list((cache / "cheap").glob("*/train.json"))) < args.cheap
    t = time.time()
    pops = {"cheap": cheap_students(world, cache, tok, args.cheap, prof.harvest_tokens),
            "real-size": real_size_students(world, Path(args.sources_cache))}
    if fresh:
        timings["train_cheap_s"] = round(time.time() - t, 1)
    results = {}
    for k, (pop, models) in enumerate(pops.items()):
        t = time.time()
        todo = [n for n in models if not (cache / "logprobs" / f"{n}.npz").exists()]
        scores = contrasts(models, ps, cache)
        if todo:
            timings[f"score_{pop}_s"] = round(time.time() - t, 1)
        results[pop] = calibration(scores, {n: m["source"] for n, m in models.items()}, args.draws, seed=31 + k)
    rec.update(settings=vars(args), world=str(world), contrast=ps.settings.get("reference_contrast", "mean"),
               models={p: {n: {"source": m["source"], "recipe": m["recipe"]} for n, m in ms.items()}
                       for p, ms in pops.items()},
               results=results, seconds=round(time.time() - t0, 1), timings_s=timings)
    cache.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(timings, indent=2) + "\n")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(results, out / "fingerprint_tail.png")
    for res in results.values():  # the record keeps quantiles, not every p-value (the plot has them)
        for r in res.values():
            p = np.asarray(r.pop("all_p_t"))
            r["p_t_quantiles"] = {str(q): float(np.quantile(p, q)) for q in (0.001, 0.01, 0.05, 0.1, 0.5)} if p.size else {}
    write_result("fingerprint_tail", rec, markdown(rec), out_dir=out)
    for pop, res in results.items():
        for design, r in res.items():
            print(pop, design, {a: round(v["rate_t"], 4) for a, v in r["levels"].items()})


if __name__ == "__main__":
    main()
