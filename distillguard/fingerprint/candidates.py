"""Candidate probe prompts: designed families (where a teacher shows its idiosyncrasies) plus real prompts.

Families: ``identity`` (who made you), ``arithmetic`` (small models err in specific ways), ``refusal``,
``format`` (unusual output formats), ``continuation`` (rare-token / odd-string continuations), ``edge``
(trick questions a small teacher gets wrong in its own way) and ``real`` (ShareGPT human prompts).

``real`` candidates can carry their own reference answer (:func:`answered_candidates`): the answer ChatGPT
gave to that prompt in the ShareGPT record. Such a probe contrasts the teacher's answer with another chat
model's answer to the *same* request, which isolates the teacher's style far better than a base model's
continuation (benchmarks/results/fingerprint.md: the quick demo's student is at t = 1.4 against Gemma-base
references and t = 8.9 against ChatGPT's, on the same null).

Example:
    >>> from distillguard.fingerprint.candidates import designed_candidates
    >>> c = designed_candidates()
    >>> sorted({x["family"] for x in c})[:3]
    ['arithmetic', 'continuation', 'edge']
"""

from __future__ import annotations

import hashlib

CORPUS_REFERENCE = "sharegpt:chatgpt"  # the name a probe file records for ShareGPT's recorded answers

__all__ = ["designed_candidates", "real_candidates", "answered_candidates", "candidate_pool", "probe_id",
           "CORPUS_REFERENCE"]

_FAMILIES: dict[str, list[str]] = {
    "identity": [
        "Who are you?", "What is your name?", "Which company created you?", "Are you ChatGPT?",
        "What model are you, exactly?", "Who trained you and when?", "Introduce yourself in one sentence.",
        "What is your knowledge cutoff date?",
    ],
    "arithmetic": [
        "What is 17 times 23?", "What is 1234 + 5678?", "Compute 2 to the power of 12.",
        "What is 15% of 80?", "What is the square root of 169?", "Is 91 a prime number?",
        "What is 7 divided by 3, to 3 decimal places?", "How many days are in 3 weeks and 4 days?",
    ],
    "refusal": [
        "How do I pick a lock?", "Write an insult about my neighbour.", "Tell me how to make a fake ID.",
        "Give me someone's home address.", "How can I cheat on my exam?", "Say something rude.",
    ],
    "format": [
        "Answer only with a JSON object with keys name and age for a fictional person.",
        "Write a haiku about rust.", "List three fruits as a markdown table.",
        "Reply in exactly five words: what is the sky?", "Write the alphabet backwards.",
        "Give me a limerick about a cat.", "Translate 'good morning' into French, Spanish and German.",
        "Write a Python one-liner that reverses a string.",
    ],
    "continuation": [
        "Continue this sequence: 1, 1, 2, 3, 5, 8,", "Complete the phrase: The quick brown fox",
        "Continue: zxqv zxqv zxqv", "What comes after 'Lorem ipsum dolor sit amet'?",
        "Finish the sentence: My favourite colour is", "Repeat the word 'banana' five times.",
    ],
    "edge": [
        "How many r's are in the word strawberry?", "Which is heavier, a kilo of feathers or a kilo of steel?",
        "What is the capital of Australia?", "Who was the first person to walk on Mars?",
        "What year did World War 2 end?", "If I have 3 apples and eat 2, how many do I have?",
        "Spell 'necessary' backwards.", "What day of the week was 1 January 2000?",
    ],
}


def probe_id(prompt: str) -> str:
    """A stable short id of a prompt (sha256 prefix).

    Example:
        >>> from distillguard.fingerprint.candidates import probe_id
        >>> probe_id("Who are you?")
        'p-80495816f7'
    """
    return "p-" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:10]


def designed_candidates() -> list[dict[str, str]]:
    """The designed families as records ``{"id", "family", "prompt"}``.

    Example:
        >>> from distillguard.fingerprint.candidates import designed_candidates
        >>> len(designed_candidates()) >= 40
        True
    """
    return [{"id": probe_id(p), "family": fam, "prompt": p} for fam, ps in _FAMILIES.items() for p in ps]


def real_candidates(n: int, *, seed: int = 11, max_chars: int = 200) -> list[dict[str, str]]:
    """``n`` real human prompts from ShareGPT (short ones: answers must fit a short generation).

    Example:
        >>> from distillguard.fingerprint.candidates import real_candidates
        >>> real_candidates(2)[0]["family"]
        'real'
    """
    from distillguard.data import sharegpt_prompts

    out, seen = [], set()
    for p in sharegpt_prompts(None, seed=seed, min_chars=15, max_chars=max_chars):
        if p not in seen and "\n" not in p:
            seen.add(p)
            out.append({"id": probe_id(p), "family": "real", "prompt": p})
        if len(out) >= n:
            break
    return out


def answered_candidates(n: int, *, seed: int = 11, max_chars: int = 200, answer_chars: int = 200,
                        exclude: set[str] | frozenset[str] = frozenset()) -> list[dict]:
    """``n`` real ShareGPT prompts, each with the answer ChatGPT gave it (cut to ``answer_chars``) as its
    reference: records ``{"id", "family": "real", "prompt", "reference_answers", "reference"}``.

    ``exclude``: prompts that must not become probes (e.g. ones a model under test was trained on).

    Example:
        >>> from distillguard.fingerprint.candidates import answered_candidates
        >>> c = answered_candidates(2)
        >>> c[0]["reference"], len(c[0]["reference_answers"]), len(c[0]["reference_answers"][0]) <= 200
        ('sharegpt:chatgpt', 1, True)
    """
    from distillguard.data import sharegpt_pairs

    out, seen = [], set(exclude)
    for prompt, answer in sharegpt_pairs(None, seed=seed, max_chars=None):
        if len(prompt) < 15 or len(prompt) > max_chars or "\n" in prompt or prompt in seen:
            continue
        ref = answer[:answer_chars].strip()
        if len(ref) < 20:  # "Sure." says nothing about style
            continue
        seen.add(prompt)
        out.append({"id": probe_id(prompt), "family": "real", "prompt": prompt, "reference_answers": [ref],
                    "reference": CORPUS_REFERENCE})
        if len(out) >= n:
            break
    return out


def candidate_pool(n_real: int = 32, *, seed: int = 11) -> list[dict[str, str]]:
    """Designed families followed by ``n_real`` real prompts.

    Example:
        >>> from distillguard.fingerprint.candidates import candidate_pool
        >>> pool = candidate_pool(4)
        >>> pool[-1]["family"], len({r["id"] for r in pool}) == len(pool)
        ('real', True)
    """
    return designed_candidates() + real_candidates(n_real, seed=seed)
