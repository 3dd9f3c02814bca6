"""Per-probe scores of a suspect: how much closer it is to the teacher than to the reference models.

* ``logprob`` mode: ``d_i = mean_j logp_S(teacher answer j | prompt i) - C_k logp_S(reference answer k |
  prompt i)`` (mean log-prob per token, both under the suspect's own tokenizer, so the tokenizer cancels).
* ``text`` mode: the suspect answers the prompt; ``d_i = mean_j sim(answer, teacher answer j) - C_k
  sim(answer, reference answer k)`` with character n-gram cosine (any tokenizer, any API).

``C`` combines a probe's references (:data:`CONTRASTS`): ``closest`` (the default for new probe sets) takes the
maximum -- the suspect must be closer to our teacher than to *every* model of the reference panel, so a student
of some other small chat model, whose answers are as plain and predictable as ours, is not scored as ours
(issue 30); ``mean`` averages them (probe files written before the panel). With one reference both are equal.

Example:
    >>> from distillguard.fingerprint.score import text_scores
    >>> from distillguard.fingerprint.probeset import Probe
    >>> p = Probe("p", "real", "Who?", ["I am SmolLM."], ["The answer is 42."])
    >>> bool(text_scores([p], ["I am SmolLM!"])[0] > 0.5)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from distillguard.errors import DistillguardError
from distillguard.fingerprint.probeset import Probe
from distillguard.fingerprint.similarity import char_ngram_cosine

if TYPE_CHECKING:  # annotations only: distillguard.suspects imports torch, which the fingerprint does not need
    from distillguard.suspects import SuspectLike

__all__ = ["MODES", "CONTRASTS", "queries_per_probe", "answer_logprobs", "logprob_contrast", "logprob_scores", "text_scores",
           "suspect_answers", "score_suspect"]

MODES = ("logprob", "text")
CONTRASTS = ("closest", "mean")  # how a probe's reference answers are combined (module docstring)


def _combine(values: np.ndarray, contrast: str) -> float:
    if contrast == "closest":
        return float(np.max(values))
    if contrast == "mean":
        return float(np.mean(values))
    raise DistillguardError(f"unknown reference contrast {contrast!r}: choose one of {', '.join(CONTRASTS)}")


def queries_per_probe(probe: Probe, mode: str) -> int:
    """Requests one probe costs: one per scored answer (log-prob mode) or one generation (text mode).

    Example:
        >>> from distillguard.fingerprint.probeset import Probe
        >>> from distillguard.fingerprint.score import queries_per_probe
        >>> queries_per_probe(Probe("p", "real", "q", ["a", "b"], ["c"]), "logprob")
        3
    """
    return len(probe.teacher_answers) + len(probe.reference_answers) if mode == "logprob" else 1


def _nonempty(text: str) -> str:
    return text if text.strip() else " ."


def answer_logprobs(suspect: SuspectLike, probes: Sequence[Probe]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Log-probs of every teacher and every reference answer of each probe under the suspect (one request each).

    Returns ``(teacher, reference)``: per probe, an array over its teacher answers and one over its references.

    Example:
        >>> from distillguard.fingerprint.score import answer_logprobs  # doctest: +SKIP
    """
    prompts, conts = [], []
    for p in probes:
        for a in (*p.teacher_answers, *p.reference_answers):
            prompts.append(p.prompt), conts.append(_nonempty(a))
    lp = np.asarray(suspect.continuation_logprobs(prompts, conts), dtype=float)
    if lp.shape != (len(conts),) or not np.all(np.isfinite(lp)):
        raise DistillguardError(f"{suspect.identity}: log-probs missing or not finite")
    teacher, reference, i = [], [], 0
    for p in probes:
        nt, nr = len(p.teacher_answers), len(p.reference_answers)
        teacher.append(lp[i : i + nt])
        reference.append(lp[i + nt : i + nt + nr])
        i += nt + nr
    return teacher, reference


def logprob_contrast(teacher: Sequence[np.ndarray], reference: Sequence[np.ndarray],
                     teacher_answers: int | None = None, *, contrast: str = "closest") -> np.ndarray:
    """``d_i = mean(teacher log-probs) - C(reference log-probs)``, from the first ``teacher_answers`` only;
    ``C`` = max (``contrast="closest"``) or mean (``"mean"``) over the probe's references.

    Example:
        >>> import numpy as np
        >>> from distillguard.fingerprint.score import logprob_contrast
        >>> logprob_contrast([np.array([-1.0, -3.0])], [np.array([-4.0])]).tolist()
        [2.0]
        >>> logprob_contrast([np.array([-1.0, -3.0])], [np.array([-4.0])], teacher_answers=1).tolist()
        [3.0]
        >>> [logprob_contrast([np.array([-2.0])], [np.array([-4.0, -2.5])], contrast=c).tolist() for c in ("closest", "mean")]
        [[0.5], [1.25]]
    """
    return np.array([np.mean(t[:teacher_answers]) - _combine(r, contrast) for t, r in zip(teacher, reference)])


def logprob_scores(suspect: SuspectLike, probes: Sequence[Probe], *, contrast: str = "closest") -> np.ndarray:
    """Log-prob contrast ``d_i`` per probe (see module docstring); one scoring request per answer.

    Example:
        >>> from distillguard.fingerprint.score import logprob_scores  # doctest: +SKIP
    """
    return logprob_contrast(*answer_logprobs(suspect, probes), contrast=contrast)


def text_scores(probes: Sequence[Probe], answers: Sequence[str], *, contrast: str = "closest") -> np.ndarray:
    """Similarity contrast ``d_i`` per probe from the suspect's answers (one answer per probe).

    Example:
        >>> from distillguard.fingerprint.probeset import Probe
        >>> from distillguard.fingerprint.score import text_scores
        >>> text_scores([Probe("p", "real", "q", ["abc def"], ["xyz uvw"])], ["xyz uvw"]).round(2).tolist()
        [-1.0]
    """
    out = np.zeros(len(probes))
    for i, (p, a) in enumerate(zip(probes, answers)):
        st = np.mean([char_ngram_cosine(a, t) for t in p.teacher_answers])
        sr = _combine(np.array([char_ngram_cosine(a, r) for r in p.reference_answers]), contrast)
        out[i] = st - sr
    return out


def suspect_answers(suspect: SuspectLike, probes: Sequence[Probe], *, max_new_tokens: int = 40,
                    temperature: float = 0.7, seed: int = 0) -> list[str]:
    """The suspect's answers to the probe prompts; refuses a suspect that answers nothing at all.

    Example:
        >>> from distillguard.fingerprint.score import suspect_answers  # doctest: +SKIP
    """
    answers = list(suspect.generate([p.prompt for p in probes], max_new_tokens=max_new_tokens,
                                    temperature=temperature, seed=seed))
    if len(answers) != len(probes):
        raise DistillguardError(f"{suspect.identity}: got {len(answers)} answers for {len(probes)} prompts")
    if probes and not any(a.strip() for a in answers):
        raise DistillguardError(f"{suspect.identity}: the suspect returned only empty answers; nothing to score")
    return answers


def score_suspect(suspect: SuspectLike, probes: Sequence[Probe], mode: str, *, contrast: str = "closest",
                  **gen: Any) -> tuple[np.ndarray, list[str] | None]:
    """Per-probe scores in ``mode`` and (text mode) the suspect's answers.

    Example:
        >>> from distillguard.fingerprint.score import score_suspect  # doctest: +SKIP
    """
    if mode == "logprob":
        return logprob_scores(suspect, probes, contrast=contrast), None
    if mode == "text":
        answers = suspect_answers(suspect, probes, **gen)
        return text_scores(probes, answers, contrast=contrast), answers
    raise DistillguardError(f"unknown scoring mode {mode!r}: choose one of {', '.join(MODES)}")
