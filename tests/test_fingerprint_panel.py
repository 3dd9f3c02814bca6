"""The fingerprint's reference panel (issue 30): a student of *another* small model is not scored as ours.

Suspects here are duck-typed: their log-prob of an answer is a fixed preference per author of the answer,
which is exactly what the contrast reads.
"""

from __future__ import annotations

import numpy as np
import pytest

from distillguard.distill.sources import cut_turn, disjoint_sets
from distillguard.errors import DistillguardError
from distillguard.fingerprint.api import build_probes, probe_suspect, reference_contrast
from distillguard.fingerprint.score import logprob_contrast

AUTHORS = {"T": "teacher", "C": "chatgpt", "G": "gemma"}


class Author:
    """Answers every prompt with its own letter; scores an answer by who wrote it (its first letter)."""

    can_score, can_read = True, False

    def __init__(self, name: str, writes: str, likes: dict[str, float], noise: float = 0.0, seed: int = 0):
        self.identity, self.writes, self.likes, self.queries = name, writes, likes, 0
        self.rng = np.random.default_rng(seed)
        self.noise = noise

    def generate(self, prompts, **kw):
        self.queries += len(prompts)
        return [f"{self.writes} says {p}" for p in prompts]

    def continuation_logprobs(self, prompts, conts):
        self.queries += len(conts)
        return [self.likes.get(c[0], -5.0) + self.noise * self.rng.standard_normal() for c in conts]


def _candidates(n: int = 12) -> list[dict]:
    return [{"id": f"p{i}", "family": "real", "prompt": f"question {i}", "reference_answers": [f"C says {i}"],
             "reference": "corpus"} for i in range(n)]


def _probes(panel: bool, contrast: str = "closest"):
    teacher = Author("teacher", "T", {})
    gemma = Author("gemma", "G", {})
    calib = {f"null-{i}": Author(f"null-{i}", "N", {"T": -3.0, "C": -2.0, "G": -3.0}, noise=0.3, seed=i)
             for i in range(6)}
    return build_probes(teacher, [], _candidates(), n_probes=12, teacher_samples=1, strategy="random-real",
                        calibration=calib, calibration_modes=("logprob",), panel=[gemma] if panel else [],
                        contrast=contrast)


def test_panel_answers_join_every_probe_and_the_file_records_the_contrast():
    ps = _probes(panel=True)
    assert all(len(p.reference_answers) == 2 and p.reference_answers[1].startswith("G") for p in ps.probes)
    assert "gemma" in ps.references and reference_contrast(ps) == "closest"
    assert reference_contrast(_probes(panel=False, contrast="mean")) == "mean"


def test_student_of_another_small_model_is_not_ours_with_the_panel_but_is_without():
    # a student of another small model likes small-model answers (ours and Gemma's) over ChatGPT's
    other = Author("other-small-model-student", "O", {"T": -1.0, "G": -1.0, "C": -3.0})
    ours = Author("our-student", "S", {"T": -0.5, "G": -2.5, "C": -3.0})
    without, with_panel = _probes(panel=False), _probes(panel=True)
    t_without = probe_suspect(without, other, alpha=0.2).t
    assert t_without > 5  # the issue-30 false positive, reproduced: "likes small-model text" reads as "ours"
    # with the panel its contrast is "ours vs Gemma's", to which it is indifferent: T moves from +2 to 0
    res = probe_suspect(with_panel, other, alpha=0.2)
    assert res.statistic == pytest.approx(0.0) and res.t < t_without / 2
    # our own student still stands above every calibration model
    assert probe_suspect(with_panel, ours, alpha=0.2).p_rank == pytest.approx(1 / 7)


def test_closest_contrast_is_never_above_mean_and_equals_it_for_one_reference():
    rng = np.random.default_rng(0)
    t = [rng.normal(size=3) for _ in range(20)]
    r = [rng.normal(size=2) for _ in range(20)]
    assert np.all(logprob_contrast(t, r, contrast="closest") <= logprob_contrast(t, r, contrast="mean") + 1e-12)
    one = [x[:1] for x in r]
    assert np.allclose(logprob_contrast(t, one, contrast="closest"), logprob_contrast(t, one, contrast="mean"))
    with pytest.raises(DistillguardError, match="unknown reference contrast"):
        logprob_contrast(t, r, contrast="median")


def test_unknown_contrast_is_refused_before_any_query():
    teacher = Author("teacher", "T", {})
    with pytest.raises(DistillguardError, match="unknown reference contrast"):
        build_probes(teacher, [], _candidates(), contrast="max")
    assert teacher.queries == 0


def test_training_sets_never_share_a_pair_and_leave_out_the_probe_prompts():
    sets = disjoint_sets([("chatgpt", 50), ("human", 40), ("mix", 30), ("chatgpt", 50)], exclude=set(), seed=3)
    flat = [p for s in sets for p in s]
    assert [len(s) for s in sets] == [50, 40, 30, 50] and len(flat) == len(set(flat))
    probe = sets[0][0][0]
    again = disjoint_sets([("chatgpt", 50)], exclude={probe})[0]
    assert probe not in {q for q, _ in again}
    with pytest.raises(DistillguardError, match="unknown training source"):
        disjoint_sets([("teacher", 3)])


def test_cut_turn_stops_at_the_next_turn():
    assert cut_turn(" Yes.\nUser: why?\nAssistant: because") == "Yes."
    assert cut_turn("one\n\n\nthree") == "one"
    assert cut_turn("plain answer") == "plain answer"
