"""Sampling answers to probe prompts from any suspect (teacher, references, zoo), cached and resumable.

Example:
    >>> from distillguard.fingerprint.answers import sample_answers  # doctest: +SKIP
    >>> sample_answers(open_suspect(None), [{"id": "a", "prompt": "Who are you?"}], n_samples=2)  # doctest: +SKIP
    {'a': ['I am ...', 'I am ...']}
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

if TYPE_CHECKING:  # annotations only: distillguard.suspects imports torch, which the fingerprint does not need
    from distillguard.suspects import SuspectLike

__all__ = ["sample_answers"]


def _read_cache(path: Path) -> dict[tuple[str, int], str]:
    out: dict[tuple[str, int], str] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
            out[(str(rec["id"]), int(rec["sample"]))] = str(rec["answer"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            break  # a torn last line: ignore it and everything after
    return out


def sample_answers(
    suspect: SuspectLike,
    probes: Sequence[dict[str, Any]],
    *,
    n_samples: int = 1,
    max_new_tokens: int = 40,
    temperature: float = 0.7,
    seed: int = 0,
    batch_size: int = 64,
    cache: str | os.PathLike | None = None,
    progress: bool = False,
) -> dict[str, list[str]]:
    """``n_samples`` answers of ``suspect`` (a :class:`~distillguard.suspects.Suspect`) to each probe.

    Sample ``j`` of every prompt uses seed ``seed + 1000 * j``. With ``cache`` (JSONL), answers already
    there are reused and new ones appended batch by batch, so an interrupted run resumes.

    Example:
        >>> from distillguard.fingerprint.answers import sample_answers
        >>> class Echo:
        ...     queries = 0
        ...     def generate(self, prompts, **kw):
        ...         return [p.upper() for p in prompts]
        >>> sample_answers(Echo(), [{"id": "a", "prompt": "hi"}], n_samples=2)
        {'a': ['HI', 'HI']}
    """
    path = Path(cache) if cache else None
    done = _read_cache(path) if path else {}
    todo = [(p, j) for j in range(n_samples) for p in probes if (str(p["id"]), j) not in done]
    bar = tqdm(total=len(todo), desc="answers", unit="answer", disable=not progress)
    for b0 in range(0, len(todo), batch_size):
        chunk = todo[b0 : b0 + batch_size]
        by_sample: dict[int, list[dict[str, Any]]] = {}
        for p, j in chunk:
            by_sample.setdefault(j, []).append(p)
        for j, recs in by_sample.items():
            kwargs: dict[str, Any] = dict(max_new_tokens=max_new_tokens, temperature=temperature,
                                          seed=seed + 1000 * j + b0)
            if hasattr(suspect, "loaded"):
                kwargs["batch_size"] = batch_size
            texts = suspect.generate([r["prompt"] for r in recs], **kwargs)
            for r, t in zip(recs, texts):
                done[(str(r["id"]), j)] = t
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
                with path.open("a", encoding="utf-8") as fh:
                    for r, t in zip(recs, texts):
                        fh.write(json.dumps({"id": str(r["id"]), "sample": j, "answer": t}, ensure_ascii=False) + "\n")
        bar.update(len(chunk))
    bar.close()
    return {str(p["id"]): [done[(str(p["id"]), j)] for j in range(n_samples)] for p in probes}
