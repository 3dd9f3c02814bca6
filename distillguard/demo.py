"""``distillguard demo``: a whole investigation on the embedded default, from traffic to verdict.

The world (simulated, with ground truth kept aside):

1. a key for the SmolLM2 teacher (its spec records the tokenizer);
2. API traffic: many benign accounts (six families, hard look-alikes included), one hydra campaign and one
   hidden heavy harvester; prompts are real ShareGPT human turns; the log is written to ``api_logs.csv``;
3. the teacher answers the harvester's first requests with the watermark of *that account's* sub-key
   (``harvest.jsonl``, resumable) -- the data the harvester walks away with;
4. the harvester trains a student from scratch on those answers (the teacher's tokenizer, another shape);
5. two clean *hard negatives* of the harvester's size and recipe, trained on text our teacher never wrote:
   people's replies (ShareGPT) and another small model's answers (Gemma-3-270M prompted as an assistant,
   :mod:`distillguard.distill.sources`). A fingerprint that means "learned from some small model" would
   accuse the second one; both must come out not distilled;
6. the investigator's side: calibration students trained on several kinds of non-teacher text (ChatGPT's
   answers, human replies, Gemma's answers, a mixture) with recipes that do *not* copy the harvester's
   (other depths, widths, epochs and amounts: an investigator does not know the suspect's recipe), and a probe
   set of real ShareGPT prompts, each with the teacher's sampled answers against a reference panel: the
   answer ChatGPT recorded for it and Gemma's answer. Probe prompts are kept out of the traffic and out of
   every training set, and no two students share a training pair.

Then :func:`distillguard.investigation.investigate` runs the three lines of evidence -- API logs, radioactivity
with attribution over every account in the log, fingerprint -- on the student, the two hard negatives and on
Gemma-3-270M (the independent control), and writes ``report.html`` + ``report.json``. Every step is cached in ``out_dir`` (a
marker file is written when a step finishes), so an interrupted demo resumes where it stopped.

Profiles: ``quick`` (the README's command, <= 20 min on 2 CPU cores), ``full`` (larger harvest and log),
``smoke`` (seconds; the fast test suite runs it on tiny random models).

Example:
    >>> from distillguard.demo import PROFILES
    >>> PROFILES["quick"].harvest_prompts > PROFILES["smoke"].harvest_prompts
    True
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.detect.radioactivity import pooled_coin_test
from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey, WatermarkSpec, tokenizer_id

__all__ = ["Profile", "PROFILES", "HARD_NEGATIVE_NAMES", "null_plan", "run_demo", "pooled_score"]


@dataclass(frozen=True)
class Profile:
    """Sizes of one demo run (see :data:`PROFILES`)."""

    name: str
    benign: int  # benign accounts in the log
    reference_benign: int  # accounts of the earlier, vetted traffic the log detector is fitted on
    target_fpr: float  # account-level false-positive rate of the log detector (needs reference_benign >= 1/fpr)
    hydra_size: int  # accounts in the hydra campaign
    days: int  # length of the log
    harvest_prompts: int  # requests of the hidden harvester answered by the teacher
    harvest_tokens: int  # max new tokens per answer
    student_layers: int
    student_hidden: int
    epochs: int
    null_students: int  # independent calibration students (fingerprint null), sources and recipes: null_plan
    real_candidates: int  # real ShareGPT prompts answered by ChatGPT (the reference): the fingerprint probes
    n_probes: int
    teacher_samples: int  # teacher answers sampled per probe
    probe_tokens: int
    gen_prompts: int  # generation-mode prompts per suspect
    control_prompts: int  # ... for the clean control (Gemma's 262k vocabulary makes it the slow one on CPU)
    gen_tokens: int
    read_texts: int  # reading-mode texts
    null_recipes: tuple[tuple[int, int, int, int], ...] = ()  # (layers, hidden, epochs, pairs), none = the student's
    hard_negatives: tuple[str, ...] = ("human", "gemma")  # clean students of the harvester's recipe, by source
    seed: int = 0


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", benign=60, reference_benign=240, target_fpr=0.01, hydra_size=6, days=3,
                     harvest_prompts=160, harvest_tokens=96, student_layers=1, student_hidden=64, epochs=12,
                     null_students=5, real_candidates=8, n_probes=8, teacher_samples=2, probe_tokens=12, gen_prompts=64,
                     gen_tokens=96, read_texts=12, control_prompts=32,
                     null_recipes=((1, 48, 12, 120), (1, 96, 8, 160), (2, 64, 10, 140), (1, 80, 14, 100))),
    "quick": Profile("quick", benign=400, reference_benign=1200, target_fpr=1e-3, hydra_size=40, days=7,
                     harvest_prompts=192, harvest_tokens=128, student_layers=2, student_hidden=256, epochs=6,
                     null_students=8, real_candidates=96, n_probes=96, teacher_samples=3, probe_tokens=40, gen_prompts=96,
                     gen_tokens=128, read_texts=80, control_prompts=32,
                     null_recipes=((1, 192, 8, 160), (3, 192, 5, 224), (2, 128, 10, 128), (2, 384, 4, 96))),
    "full": Profile("full", benign=2000, reference_benign=3000, target_fpr=1e-3, hydra_size=100, days=14,
                    harvest_prompts=384, harvest_tokens=160, student_layers=2, student_hidden=256, epochs=8,
                    null_students=8, real_candidates=128, n_probes=128, teacher_samples=4, probe_tokens=40, gen_prompts=256,
                    gen_tokens=128, read_texts=200, control_prompts=128,
                    null_recipes=((1, 192, 8, 256), (3, 192, 5, 320), (2, 128, 10, 288), (2, 384, 4, 224))),
}


def pooled_score(sequences: list[list[int]], key: WatermarkKey) -> dict[str, float]:
    """One exact test over many texts: green coins deduplicated across all of them.

    Example:
        >>> from distillguard.demo import pooled_score
        >>> from distillguard.keys import WatermarkKey, WatermarkSpec
        >>> k = WatermarkKey(b"\\x02" * 32, WatermarkSpec(vocab_size=100))
        >>> pooled_score([[1, 2, 3, 4]], k)["scored"]
        3
    """
    seqs = [s for s in sequences if len(s)]
    ids = np.concatenate([np.asarray(s, np.int64) for s in seqs]) if seqs else np.zeros(0, np.int64)
    segs = np.repeat(np.arange(len(seqs)), [len(s) for s in seqs]) if seqs else np.zeros(0, np.int64)
    return pooled_coin_test(ids, segs, key, key.require_spec())._asdict()


# -- cached steps ---------------------------------------------------------------------------------------------
def _done(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _mark(path: Path, info: dict[str, Any]) -> dict[str, Any]:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=2, default=str) + "\n")
    tmp.replace(path)  # the marker appears only when the step is complete
    return info


def _key(out: Path, tok: Any, context_width: int) -> WatermarkKey:
    path = out / "teacher.key"
    if path.exists():
        return WatermarkKey.load(path)
    spec = WatermarkSpec(vocab_size=len(tok), gamma=0.25, delta=2.0, context_width=context_width,
                         tokenizer_id=tokenizer_id(tok))
    key = WatermarkKey.generate(spec)
    key.save(path)
    return key


def _traffic(out: Path, prof: Profile, pool: list[str]) -> dict[str, Any]:
    """Simulated API log with one hidden heavy harvester and one hydra campaign (ground truth kept apart)."""
    from distillguard.detect.api_logs import simulate_logs

    marker = out / "steps" / "traffic.json"
    if (info := _done(marker)) is not None:
        return info
    logs, accounts = simulate_logs(prof.benign, 1, hydra_campaigns=1, hydra_size=prof.hydra_size, days=prof.days,
                                   seed=prof.seed, prompts=pool, families=("heavy_harvester", "hydra"))
    harvester = str(accounts.loc[accounts["family"] == "heavy_harvester", "account_id"].iloc[0])
    truth = accounts[["account_id", "label", "family", "campaign_id", "n_requests"]]
    truth.to_csv(out / "ground_truth_accounts.csv", index=False)
    logs.drop(columns=["label", "family"]).to_csv(out / "api_logs.csv", index=False)
    # an earlier period of vetted traffic (benign accounts only) to fit the detector and set its threshold
    ref, _ = simulate_logs(prof.reference_benign, 0, hydra_campaigns=0, days=prof.days, seed=prof.seed + 1000,
                           prompts=pool, families=())
    ref.drop(columns=["label", "family"]).to_csv(out / "reference_logs.csv", index=False)
    mine = logs[logs["account_id"] == harvester].sort_values("timestamp")
    prompts = list(dict.fromkeys(mine["prompt"].astype(str)))[: prof.harvest_prompts]
    (out / "harvester_requests.json").write_text(json.dumps(prompts, ensure_ascii=False))
    return _mark(marker, {"harvester": harvester, "requests": int(len(logs)), "accounts": int(len(accounts)),
                          "hydra_accounts": int((accounts["family"] == "hydra").sum()),
                          "harvester_requests": int(len(mine)), "answered": len(prompts)})


def _harvest(out: Path, prof: Profile, teacher: Any, key: WatermarkKey, harvester: str) -> dict[str, Any]:
    """The teacher serves the harvester: answers watermarked with the harvester's account sub-key."""
    from distillguard.watermark.generate import generate_jsonl

    marker = out / "steps" / "harvest.json"
    if (info := _done(marker)) is not None:
        return info
    prompts = json.loads((out / "harvester_requests.json").read_text())
    recs = [{"id": f"r{i:05d}", "prompt": p, "account_id": harvester} for i, p in enumerate(prompts)]
    recs.sort(key=lambda r: len(r["prompt"]))  # batches of similar length: less padding (as a server batches)
    t0 = time.time()
    generate_jsonl(teacher, recs, out / "harvest.jsonl", key, batch_size=32, max_new_tokens=prof.harvest_tokens,
                   do_sample=True, temperature=0.7, seed=prof.seed + 1)
    rows = _jsonl(out / "harvest.jsonl")
    served = pooled_score([r["response_ids"] for r in rows], key.for_account(harvester))
    return _mark(marker, {"answers": len(rows), "tokens": int(sum(len(r["response_ids"]) for r in rows)),
                          "served_text_test": served, "seconds": round(time.time() - t0, 1)})


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _train(out_dir: Path, tok: Any, seqs: list[list[int]], recipe: tuple[int, int, int], seed: int,
           desc: str) -> dict[str, Any]:
    """Train one from-scratch student (``recipe`` = layers, hidden, epochs) on token sequences, cached."""
    from distillguard.distill.student import train_text_student

    layers, hidden, epochs = recipe
    return train_text_student(out_dir, tok, seqs, layers=layers, hidden=hidden, epochs=epochs, lr=3e-3, seed=seed,
                              desc=desc)


def null_plan(prof: Profile) -> list[dict[str, Any]]:
    """The calibration students: sources cycle through ChatGPT answers, human replies, Gemma's answers and a
    mixture; recipes cycle through ``prof.null_recipes`` (shifted each round, so every source meets two
    recipes). None copies the harvester's recipe: the investigator does not know it.

    Example:
        >>> from distillguard.demo import PROFILES, null_plan
        >>> [(r["source"], r["layers"]) for r in null_plan(PROFILES["quick"])][:5]
        [('chatgpt', 1), ('human', 3), ('gemma', 2), ('mix', 2), ('chatgpt', 3)]
    """
    from distillguard.distill.sources import SOURCES

    plan = []
    for i in range(prof.null_students):
        layers, hidden, epochs, n = prof.null_recipes[(i + i // len(SOURCES)) % len(prof.null_recipes)]
        plan.append({"name": f"null-{i}", "source": SOURCES[i % len(SOURCES)], "layers": layers, "hidden": hidden,
                     "epochs": epochs, "pairs": n})
    return plan


HARD_NEGATIVE_NAMES = {"human": "clean:human-text", "gemma": "clean:other-model", "chatgpt": "clean:chatgpt-answers",
                       "mix": "clean:mixed-sources"}


def _train_on(out_dir: Path, tok: Any, pairs: list[tuple[str, str]], max_tokens: int,
              recipe: tuple[int, int, int], seed: int, desc: str) -> dict[str, Any]:
    """:func:`_train` on chat pairs; the prompts it learned from are kept beside it (``training_prompts.json``)
    so that a later benchmark can keep its own students' data disjoint from every student of the world."""
    from distillguard.distill.student import chat_sequences

    info = _train(out_dir, tok, chat_sequences(tok, pairs, 128, max_tokens), recipe, seed, desc)
    (out_dir / "training_prompts.json").write_text(json.dumps([q for q, _ in pairs], ensure_ascii=False))
    return info


def _students(out: Path, prof: Profile, tok: Any, held_out: set[str]) -> dict[str, Any]:
    """The harvester's student, the clean hard negatives (the harvester's recipe, non-teacher text) and the
    investigator's calibration students (several sources, other recipes).

    ``held_out``: the probe prompts, which no student may train on."""
    from distillguard.distill.sources import disjoint_sets
    from distillguard.distill.student import chat_sequences

    rows = _jsonl(out / "harvest.jsonl")
    mt = prof.harvest_tokens
    own = (prof.student_layers, prof.student_hidden, prof.epochs)
    info = {"student": _train(out / "student", tok,
                              chat_sequences(tok, [(r["prompt"], r["response"]) for r in rows], 128, mt), own,
                              seed=prof.seed, desc="student (harvest)")}
    plan = null_plan(prof)
    sets = disjoint_sets([(s, len(rows)) for s in prof.hard_negatives] + [(r["source"], r["pairs"]) for r in plan],
                         exclude=held_out, seed=prof.seed + 5)
    for k, source in enumerate(prof.hard_negatives):
        info[HARD_NEGATIVE_NAMES[source]] = {"source": source, **_train_on(
            out / "hard-negatives" / source, tok, sets[k], mt, own, seed=prof.seed + 50 + k,
            desc=f"hard negative ({source})")}
    for i, r in enumerate(plan):
        info[r["name"]] = {"source": r["source"], **_train_on(
            out / "null-students" / f"s{i}", tok, sets[len(prof.hard_negatives) + i], mt,
            (r["layers"], r["hidden"], r["epochs"]), seed=prof.seed + 100 + i,
            desc=f"calibration student {i + 1} ({r['source']})")}
    return info


def _probe_candidates(prof: Profile) -> list[dict[str, Any]]:
    """Real ShareGPT prompts, each with its reference panel: ChatGPT's recorded answer and Gemma's answer."""
    from distillguard.distill.sources import load_gemma_answers
    from distillguard.fingerprint.candidates import answered_candidates

    gemma = load_gemma_answers()
    out = answered_candidates(prof.real_candidates, seed=prof.seed + 11)
    for c in out:
        if gemma.get(c["prompt"], "").strip():
            c["reference_answers"] = [*c["reference_answers"], gemma[c["prompt"]][:200].strip()]
            c["reference"] = "sharegpt:chatgpt + gemma3-270m:assistant"
    return out


def _probes(out: Path, prof: Profile, teacher: Any, candidates: list[dict[str, Any]]) -> Path:
    """Fingerprint probe set: the teacher's answers against the reference panel (ChatGPT's and Gemma's answers,
    the closest one per probe), null from the calibration students.

    All candidates are kept (``random-real`` order): selecting by n-gram distinctiveness did not raise the
    log-prob test's power in our measurements, and a larger probe set lowers the null's spread."""
    from distillguard.fingerprint.api import build_probes
    from distillguard.suspects import LocalSuspect

    path = out / "probes.json"
    if path.exists():
        return path
    calib = {f"null-student-{i}": LocalSuspect.load(out / "null-students" / f"s{i}")
             for i in range(prof.null_students)}
    ps = build_probes(LocalSuspect(teacher), [], candidates, n_probes=prof.n_probes,
                      teacher_samples=prof.teacher_samples, max_new_tokens=prof.probe_tokens,
                      cache_dir=out / "probe-cache", calibration=calib, calibration_modes=("logprob",),
                      strategy="random-real", progress=True)
    ps.settings["calibration_sources"] = {f"null-student-{i}": r["source"] for i, r in enumerate(null_plan(prof))}
    tmp = path.with_suffix(".tmp")
    ps.save(tmp)
    tmp.replace(path)
    return path


def run_demo(
    out_dir: str | Path = "runs/demo",
    profile: str = "quick",
    *,
    teacher: str | None = None,
    reference: str | None = "gemma3-270m",
    context_width: int = 0,
    device: str = "cpu",
    print_table: bool = True,
) -> dict[str, Any]:
    """Build the demo world (cached), investigate it, write ``report.html``/``report.json``; return the report.

    ``teacher`` (default: the embedded SmolLM2) and ``reference`` (the independent model tested as the clean
    control, default Gemma-3-270M) accept any model source :func:`distillguard.models.load_model` accepts (the
    tests use tiny random models).

    ``context_width`` of the demo's key defaults to 0 (one green list per account, the Unigram-Watermark
    variant): small students learn it from a few hundred answers. With ``context_width=1`` (the library's
    default, harder to estimate from harvested text) the quick profile's student does not carry a significant
    mark -- measured and reported in the README.

    Example:
        >>> from distillguard.demo import run_demo
        >>> doc = run_demo("runs/demo", "quick")  # doctest: +SKIP
        >>> all(doc["checks"].values())  # doctest: +SKIP
        True
    """
    from distillguard.data import sharegpt_prompts
    from distillguard.detect.api_logs import load_logs
    from distillguard.investigation import investigate, summary_table
    from distillguard.models import load_model
    from distillguard.report import write_report
    from distillguard.suspects import LocalSuspect, open_suspect

    if profile not in PROFILES:
        raise DistillguardError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    prof = PROFILES[profile]
    t0 = time.time()
    out = Path(out_dir)
    (out / "steps").mkdir(parents=True, exist_ok=True)
    settings = {"profile": asdict(prof), "teacher": teacher, "reference": reference, "context_width": context_width}
    prev = _done(out / "steps" / "settings.json")
    if prev is not None and prev != json.loads(json.dumps(settings)):
        raise DistillguardError(f"{out} holds a demo run with other settings; use another --out or delete it")
    _mark(out / "steps" / "settings.json", settings)

    loaded = load_model(teacher, device=device)
    tok = loaded.tokenizer
    key = _key(out, tok, context_width)
    candidates = _probe_candidates(prof)
    held_out = {c["prompt"] for c in candidates}
    pool = [p for p in sharegpt_prompts(None, seed=prof.seed + 3, min_chars=20, max_chars=600) if p not in held_out]
    world = {"traffic": _traffic(out, prof, pool)}
    harvester = world["traffic"]["harvester"]
    world["harvest"] = _harvest(out, prof, loaded, key, harvester)
    world["students"] = _students(out, prof, tok, held_out)
    probes = _probes(out, prof, loaded, candidates)
    ref = open_suspect(reference, device=device)
    logs = load_logs(out / "api_logs.csv")
    reference_logs = load_logs(out / "reference_logs.csv")
    control = "control:" + ref.identity.split("@")[0]
    suspects = {"student": LocalSuspect.load(out / "student", device=device)}
    for source in prof.hard_negatives:
        suspects[HARD_NEGATIVE_NAMES[source]] = LocalSuspect.load(out / "hard-negatives" / source, device=device)
    suspects[control] = ref
    doc = investigate(
        suspects, key=key, teacher_tokenizer=tok, logs=logs, logs_reference=reference_logs, probes=probes,
        target_fpr=prof.target_fpr, n_prompts=prof.gen_prompts, n_prompts_by_suspect={control: prof.control_prompts},
        n_texts=prof.read_texts, max_new_tokens=prof.gen_tokens,
        expected={"harvester": harvester, "distilled": ["student"], "clean": [n for n in suspects if n != "student"]},
    ).to_dict(include_private=True)  # the demo adds its keys to the document; the report's plots use _scores
    doc["demo"] = {"profile": asdict(prof), "world": world, "seconds_total": round(time.time() - t0, 1),
                   "note": "simulated API traffic; the teacher answered only the hidden harvester's requests "
                           "(the other accounts' answers are never used); ground truth in ground_truth_accounts.csv"}
    doc["notes"] = [
        f"demo profile {prof.name}: teacher {loaded.identity}; the hidden harvester {harvester} received "
        f"{world['harvest']['answers']} watermarked answers ({world['harvest']['tokens']} tokens) and trained a "
        f"{prof.student_layers}-layer d={prof.student_hidden} student on them",
        "fingerprint: the teacher's answers to real ShareGPT prompts against a reference panel (the answer "
        "ChatGPT recorded and Gemma-3-270M's answer; per probe the closest one counts); null: "
        f"{prof.null_students} calibration students trained on ChatGPT answers, human replies, Gemma answers "
        "and a mixture, with recipes other than the harvester's",
        "hard negatives: " + ", ".join(f"{HARD_NEGATIVE_NAMES[s]} (the harvester's recipe on {s} text, never "
                                       "the teacher's)" for s in prof.hard_negatives)
        + "; they and the control must come out not distilled. The control (Gemma-3-270M, untouched) plays no "
        "part in the null",
    ]
    write_report(doc, out)
    if print_table:
        print(summary_table(doc))
        print(f"report: {out / 'report.html'}  ({doc['demo']['seconds_total']:.0f} s)")
    return doc
