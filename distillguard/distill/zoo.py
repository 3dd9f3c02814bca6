"""The fingerprint benchmarks' model zoo: who is in it, what each member is, and the data the members learn from.

The zoo lives in ``cache_dir()/fingerprint/zoo`` (one HF directory per model, resumable), next to the
sampled-answer students of ``benchmarks/radioactivity.py`` (``runs/radio-text``) and a quick demo's student.
Positives are derived from the teacher (SmolLM2-135M-Instruct), negatives are independent of it. The null a
suspect is calibrated against is :data:`NULL_PREFIX` (the chat-recipe ShareGPT students), or with ``family`` a
Gemma-based model's own family (Gemma-3-270M and its fine-tunes on sources that are not the teacher).

Example:
    >>> from distillguard.distill.zoo import NULL_PREFIX, family_kind, zoo_kind
    >>> NULL_PREFIX, family_kind("gemmaft-human-s1"), zoo_kind("logit-s10")[0]
    ('chat-sharegpt', 'gemmaft-human', 1)
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from distillguard.models import cache_dir

__all__ = ["ANSWERED", "NULL_PREFIX", "GEMMA_NULL", "TEXT_HARVESTS", "RADIO_TEXT_STUDENTS", "GEMMA_CHAT_TEMPLATE",
           "ZOO_KINDS", "FAMILY_KINDS", "N_FAMILY_PAIRS", "N_CHAT_PAIRS", "FINGERPRINT_DATA", "SUBSET_PROBES",
           "fingerprint_cache", "zoo_dir", "family_scores_dir", "zoo_kind", "zoo",
           "trained_prompts", "held_out", "family_kind", "gemma_base_suspect", "human_pairs", "self_pairs",
           "teacher_harvests", "family_runs", "answered_probes", "committed_zoo", "npz_contrasts"]

ANSWERED = 128  # answered probe candidates the benchmarks draw from (held out of every chat student's data)
NULL_PREFIX = "chat-sharegpt"  # the null population of the answered probes
GEMMA_NULL = ("gemmaft-sharegpt", "gemmaft-human", "gemmaft-self")  # Gemma fine-tunes not on our teacher
N_FAMILY_PAIRS = 256  # training pairs of every Gemma fine-tune of the family
N_CHAT_PAIRS = 192  # training pairs of every chat-recipe student (the null population's data size)
#: probes per random subset in the family benchmarks' tables (2 log-prob queries each; then all probes once)
SUBSET_PROBES = (2, 4, 8, 16, 32, 64)
#: the fingerprint benchmarks' committed data (probe file, ``*_logprobs.npz``) in the source checkout
FINGERPRINT_DATA = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "fingerprint"
RADIO_TEXT_STUDENTS = Path("runs/radio-text/students")  # benchmarks/radioactivity.py's students
TEXT_HARVESTS = {"teacher": Path("runs/radio-text/harvest_clean.jsonl"),  # the teacher's sampled answers
                 "teacherwm": Path("runs/radio-text/harvest_wm.jsonl")}  # (radioactivity benchmark, 256 each)
# Gemma-IT's turn format: a lab fine-tuning the Gemma base for chat would add it; suspects are queried with it
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n{{ message['content'] | trim }}"
    "<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}")

#: kind of a zoo student (its name without ``-s<seed>``) -> (label: 1 = derived from the teacher, description)
ZOO_KINDS: dict[str, tuple[int, str]] = {
    "distil": (1, "from-scratch 2L d=128, logit-distilled from teacher top-20 (no watermark)"),
    "sharegpt": (0, "from-scratch 2L d=128, 2 epochs on ShareGPT ChatGPT answer text (older recipe)"),
    NULL_PREFIX: (0, "demo recipe 2L d=256, 6 epochs on 192 ShareGPT chat pairs (the null population)"),
    "logit": (1, "demo recipe 2L d=256, 6 epochs, teacher top-20 log-probs on 200 ShareGPT answer texts"),
    "text": (0, "demo recipe 2L d=256, 6 epochs on the tokens of 200 ShareGPT answer texts"),
    "select-sharegpt": (0, "demo recipe on 192 further ShareGPT chat pairs (probe selection only, "
                          "benchmarks/fingerprint_selection.py)"),
    "gemmaft-teacher": (1, "Gemma-3-270M fine-tuned (2 epochs, answers only) on 256 clean teacher answers"),
    "gemmaft-teacherwm": (1, "Gemma-3-270M fine-tuned (2 epochs) on 256 watermarked teacher answers"),
    "gemmaft-sharegpt": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 ShareGPT (ChatGPT) answers "
                           "(disjoint sets; with Gemma itself, the Gemma family's null)"),
    "gemmaft-human": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 human replies (ShareGPT; "
                        "benchmarks/fingerprint_family.py)"),
    "gemmaft-self": (0, "Gemma-3-270M fine-tuned (2 epochs) on 256 of its own sampled answers"),
    "chat-teacher": (1, "demo recipe 2L d=256, 6 epochs on 192 of the teacher's sampled answers "
                        "(clean harvest; benchmarks/fingerprint_issue_zoo.py)"),
    "chat-teacherwm": (1, "demo recipe 2L d=256, 6 epochs on 192 of the teacher's watermarked answers "
                          "(benchmarks/fingerprint_issue_zoo.py)")}

#: source of a Gemma family member (:func:`family_kind`) -> (label, what it was fine-tuned on)
FAMILY_KINDS: dict[str, tuple[int, str]] = {
    "gemmaft-teacher": (1, "the teacher's sampled answers (clean harvest)"),
    "gemmaft-teacherwm": (1, "the teacher's sampled answers (watermarked harvest)"),
    "gemmaft-sharegpt": (0, "ChatGPT's answers (ShareGPT)"),
    "gemmaft-human": (0, "people's replies (ShareGPT human turns answering the assistant turn before them)"),
    "gemmaft-self": (0, "Gemma-3-270M's own sampled answers (self-distillation)"),
    "gemma3-270m": (0, "Gemma-3-270M untouched, queried in the same turn format")}


def fingerprint_cache() -> Path:
    """``cache_dir()/fingerprint``: the fingerprint benchmarks' answers, scores and zoo.

    Example:
        >>> from distillguard.distill.zoo import fingerprint_cache
        >>> fingerprint_cache().name
        'fingerprint'
    """
    return cache_dir() / "fingerprint"


def zoo_dir() -> Path:
    """``cache_dir()/fingerprint/zoo``: one directory per trained zoo model.

    Example:
        >>> from distillguard.distill.zoo import zoo_dir
        >>> zoo_dir().parts[-2:]
        ('fingerprint', 'zoo')
    """
    return fingerprint_cache() / "zoo"


def family_scores_dir() -> Path:
    """``cache_dir()/fingerprint/family_scores``: each member's cached log-probs of the answered probes.

    Example:
        >>> from distillguard.distill.zoo import family_scores_dir
        >>> family_scores_dir().parts[-2:]
        ('fingerprint', 'family_scores')
    """
    return fingerprint_cache() / "family_scores"


def zoo_kind(name: str) -> tuple[int, str]:
    """Label and description of a zoo student from its name (``logit-s10`` -> the ``logit`` kind).

    Example:
        >>> from distillguard.distill.zoo import zoo_kind
        >>> zoo_kind("chat-sharegpt-s3")[0]
        0
    """
    return ZOO_KINDS[name.rsplit("-s", 1)[0]]


def zoo(demo_dir: Path) -> list[dict]:
    """Models of the zoo that exist on disk: name, source, label (1 = derived from the teacher), kind.

    The teacher and Gemma-3-270M always; the trained zoo students, the radioactivity benchmark's students and a
    quick demo's student (``demo_dir/student``) where present.

    Example:
        >>> from pathlib import Path
        >>> from distillguard.distill.zoo import zoo
        >>> [m["name"] for m in zoo(Path("/nonexistent"))][:2]  # doctest: +SKIP
        ['teacher', 'gemma3-270m']
    """
    out = [{"name": "teacher", "source": None, "label": 1, "kind": "the teacher itself (sanity positive)"},
           {"name": "gemma3-270m", "source": "gemma3-270m", "label": 0, "kind": "independent base model"}]
    for d in sorted(zoo_dir().glob("*/config.json")):
        name = d.parent.name
        label, kind = zoo_kind(name)
        out.append({"name": name, "source": str(d.parent), "label": label, "kind": kind})
    for d in sorted(RADIO_TEXT_STUDENTS.glob("*/config.json")):
        out.append({"name": f"radio-{d.parent.name}", "source": str(d.parent), "label": 1, "kind": (
            "radioactivity benchmark student trained on the teacher's sampled answers: " + d.parent.name)})
    if (demo_dir / "student" / "config.json").exists():
        out.append({"name": "demo-student", "source": str(demo_dir / "student"), "label": 1,
                    "kind": "the quick demo's student (192 watermarked teacher answers)"})
    return out


def trained_prompts(demo_dir: Path) -> set[str]:
    """Prompts the positives were trained on (the radioactivity harvests, the demo's harvest), where present.

    Example:
        >>> from pathlib import Path
        >>> from distillguard.distill.zoo import trained_prompts
        >>> isinstance(trained_prompts(Path("/nonexistent")), set)
        True
    """
    out: set[str] = set()
    for path in [*TEXT_HARVESTS.values(), demo_dir / "harvest.jsonl"]:
        if path.exists():
            out |= {json.loads(line)["prompt"] for line in path.read_text().splitlines() if line.strip()}
    return out


def held_out() -> set[str]:
    """Prompts no chat student or fine-tune may see: every answered probe candidate (a superset of the probes).

    Example:
        >>> from distillguard.distill.zoo import held_out
        >>> len(held_out())  # doctest: +SKIP
        128
    """
    from distillguard.fingerprint.candidates import answered_candidates

    return {c["prompt"] for c in answered_candidates(ANSWERED, seed=11)}


def family_kind(name: str) -> str:
    """The source key of a Gemma family member's name (``gemmaft-human-s1`` -> ``gemmaft-human``).

    Example:
        >>> from distillguard.distill.zoo import family_kind
        >>> family_kind("gemmaft-self-s0"), family_kind("gemma3-270m")
        ('gemmaft-self', 'gemma3-270m')
    """
    return name.rsplit("-s", 1)[0] if name.startswith("gemmaft-") else name


def gemma_base_suspect() -> Any:
    """Gemma-3-270M untouched (a LocalSuspect), with the Gemma-IT turn format its fine-tunes are queried in.

    Example:
        >>> gemma_base_suspect().loaded.is_chat  # doctest: +SKIP
        True
    """
    from distillguard.suspects import open_suspect

    s = open_suspect("gemma3-270m")
    s.loaded.tokenizer.chat_template = GEMMA_CHAT_TEMPLATE
    s.loaded = dataclasses.replace(s.loaded, is_chat=True)
    return s


def human_pairs(exclude: set[str]) -> list[tuple[str, str]]:
    """``(assistant turn, the human turn that answers it)`` from ShareGPT, shuffled: people's writing as answers.

    Example:
        >>> human_pairs(set())[0]  # doctest: +SKIP
        ('...an assistant turn...', '...the human reply...')
    """
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
    """Gemma-3-270M's own sampled answers (its turn format, 128 tokens, temperature 0.7) to ``n`` real prompts,
    cached in ``fingerprint_cache()/gemma_self_answers.json``.

    Example:
        >>> len(self_pairs(held_out(), 256))  # doctest: +SKIP
        256
    """
    from distillguard.data import sharegpt_prompts

    path = fingerprint_cache() / "gemma_self_answers.json"
    prompts = [p for p in sharegpt_prompts(None, seed=41, min_chars=8, max_chars=600) if p not in exclude][:n]
    if path.exists():
        cached = json.loads(path.read_text())
        if [c[0] for c in cached] == prompts:
            return [tuple(c) for c in cached]
    base = gemma_base_suspect()
    t0 = time.time()
    answers = base.generate(prompts, max_new_tokens=128, temperature=0.7, seed=3)
    print(f"Gemma answered {n} prompts in {time.time() - t0:.0f}s", flush=True)
    pairs = [(p, a) for p, a in zip(prompts, answers)]
    path.write_text(json.dumps(pairs, ensure_ascii=False))
    return pairs


def teacher_harvests() -> dict[str, list[tuple[str, str]]]:
    """The radioactivity benchmark's 256 + 256 teacher answers (``teacher`` clean / ``teacherwm`` watermarked)
    as (prompt, answer) pairs, harvested into ``runs/radio-text`` if missing.

    Example:
        >>> sorted(teacher_harvests())  # doctest: +SKIP
        ['teacher', 'teacherwm']
    """
    from distillguard.distill.sampled import harvest_pair, read_jsonl, teacher_and_keys

    if not all(p.exists() for p in TEXT_HARVESTS.values()):
        out = TEXT_HARVESTS["teacher"].parent
        out.mkdir(parents=True, exist_ok=True)
        teacher, _, keys, _ = teacher_and_keys(out, 2, {})
        t0 = time.time()
        harvest_pair(teacher, out, N_FAMILY_PAIRS, 0, keys[0], 128, {})
        print(f"harvested the teacher's answers in {time.time() - t0:.0f}s", flush=True)
    recs = {k: read_jsonl(p) for k, p in TEXT_HARVESTS.items()}
    return {k: [(r["prompt"], r["response"]) for r in v if r["response"].strip()] for k, v in recs.items()}


def family_runs(n_chatgpt: int, n_human: int, with_self: bool) -> list[tuple[str, Any]]:
    """``(name, training pairs)`` of every Gemma fine-tune of the family, positives first, then the null by
    source (``None``: Gemma's own answers, :func:`self_pairs`, made on demand). Every answered probe prompt is
    held out of every source.

    Example:
        >>> [name for name, _ in family_runs(1, 1, True)]  # doctest: +SKIP
        ['gemmaft-teacher-s0', 'gemmaft-teacherwm-s0', 'gemmaft-sharegpt-s0', 'gemmaft-human-s0', 'gemmaft-self-s0']
    """
    from distillguard.data import sharegpt_pairs

    ho = held_out()
    runs: list[tuple[str, Any]] = []
    for k, pairs in teacher_harvests().items():
        runs.append((f"gemmaft-{k}-s0", [pq for pq in pairs if pq[0] not in ho]))
    chat = [pq for pq in sharegpt_pairs(None, seed=6, max_chars=2000) if pq[0] not in ho]  # as the zoo's
    human = human_pairs(ho)
    n = N_FAMILY_PAIRS
    for i in range(max(n_chatgpt, n_human, 1)):  # one of each source first, then further ones
        if i < n_chatgpt:
            runs.append((f"gemmaft-sharegpt-s{i}", chat[i * n : (i + 1) * n]))
        if i < n_human:
            runs.append((f"gemmaft-human-s{i}", human[i * n : (i + 1) * n]))
        if i == 0 and with_self:
            runs.append(("gemmaft-self-s0", None))
    return runs


def answered_probes(path: Path, teacher_answers: int = 1) -> list:
    """The shipped answered probes (``benchmarks/data/fingerprint/probes.json``) with their first
    ``teacher_answers`` teacher answers only (``teacher_answers + 1`` log-prob queries per probe).

    Example:
        >>> from pathlib import Path
        >>> from distillguard.distill.zoo import answered_probes
        >>> ps = answered_probes(Path("benchmarks/data/fingerprint/probes.json"))  # doctest: +SKIP
        >>> len(ps), len(ps[0].teacher_answers)  # doctest: +SKIP
        (126, 1)
    """
    from distillguard.fingerprint.probeset import ProbeSet

    ps = ProbeSet.load(path)
    return [dataclasses.replace(p, teacher_answers=p.teacher_answers[:teacher_answers]) for p in ps.probes]


def npz_contrasts(path: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Members (name, label) and per-probe contrasts (teacher minus reference log-prob) of a committed
    ``*_logprobs.npz`` whose ``teacher_lps`` hold one teacher answer per probe ([models, probes]).

    Example:
        >>> from pathlib import Path
        >>> from distillguard.distill.zoo import npz_contrasts
        >>> ms, S = npz_contrasts(Path("benchmarks/data/fingerprint/family_logprobs.npz"))  # doctest: +SKIP
        >>> ms[0]["name"]  # doctest: +SKIP
        'gemma3-270m'
    """
    d = np.load(path, allow_pickle=False)
    names = [str(n) for n in d["names"]]
    return ([{"name": n, "label": int(lab)} for n, lab in zip(names, d["labels"])],
            {n: d["teacher_lps"][i] - d["reference_lps"][i] for i, n in enumerate(names)})


def committed_zoo(path: Path) -> tuple[list[dict], dict[str, np.ndarray]]:
    """The from-scratch zoo (name, label) and its per-probe contrasts (first teacher answer) from
    ``answered_logprobs.npz`` at ``path``; Gemma-3-270M is left out (the family scores it in its own turn
    format) and so are the selection students (they only chose probes).

    Example:
        >>> from pathlib import Path
        >>> from distillguard.distill.zoo import committed_zoo
        >>> ms, S = committed_zoo(Path("benchmarks/data/fingerprint/answered_logprobs.npz"))  # doctest: +SKIP
        >>> "gemma3-270m" in S  # doctest: +SKIP
        False
    """
    d = np.load(path, allow_pickle=False)
    keep = [i for i, n in enumerate(d["names"]) if n != "gemma3-270m" and not n.startswith("select-")]
    models = [{"name": str(d["names"][i]), "label": int(d["labels"][i])} for i in keep]
    return models, {str(d["names"][i]): d["teacher_lps"][i, :, 0] - d["reference_lps"][i] for i in keep}
