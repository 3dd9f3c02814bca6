"""Benchmark records: one run record, one writer, one markdown table helper for every script in benchmarks/.

A benchmark script builds a result ``dict``, renders it as markdown, and hands both to :func:`write_result`,
which adds the run record of :func:`distillguard.provenance.run_record` (UTC time, command, machine, versions,
git commit, input hashes) under ``"run"`` and writes ``<name>.json`` and ``<name>.md`` atomically (a killed run
leaves the previous files, never half of one). :func:`new_record` starts the dict with that record, so that
the markdown header can print it (:func:`provenance_line`).

Example:
    >>> import tempfile
    >>> from distillguard.distill.bench import md_table, new_record, write_result
    >>> rec = new_record("benchmarks/x.py", ["--quick"], question="does it work?")
    >>> rec["run"]["command"]
    'python benchmarks/x.py --quick'
    >>> md = "\\n".join(md_table(["a", "b"], [[1, 2.5]])) + "\\n"
    >>> print(md, end="")
    | a | b |
    |---|---|
    | 1 | 2.5 |
    >>> paths = write_result("x", {**rec, "value": 1}, md, out_dir=tempfile.mkdtemp())
    >>> [p.suffix for p in paths]
    ['.json', '.md']
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from distillguard.io import atomic_write_text
from distillguard.provenance import run_record

__all__ = ["exit_on_refusal", "new_record", "provenance_line", "machine_text", "md_table", "write_result", "atomic_write",
           "start_run", "fraction_epochs"]


def new_record(script: str, argv: Sequence[str] | None = None, *, question: str | None = None,
               inputs: Mapping[str, str | os.PathLike | None] | None = None, **fields: Any) -> dict[str, Any]:
    """A result dict that starts with its run record: ``{"question": ..., **fields, "run": run_record(...)}``.

    ``script`` is the path the command line names (``benchmarks/radioactivity.py``); ``argv`` the arguments
    after it (default ``sys.argv[1:]``). The record's command is ``python <script> <argv...>``, shell-quoted.

    Example:
        >>> from distillguard.distill.bench import new_record
        >>> rec = new_record("benchmarks/x.py", ["--n", "3"], question="q?")
        >>> rec["question"], rec["run"]["command"], sorted(rec["run"])[:3]
        ('q?', 'python benchmarks/x.py --n 3', ['command', 'git_commit', 'inputs'])
    """
    args = list(sys.argv[1:] if argv is None else argv)
    out: dict[str, Any] = {} if question is None else {"question": question}
    out.update(fields)
    out["run"] = run_record(["python", script, *args], inputs)
    return out


def machine_text(machine: Mapping[str, Any]) -> str:
    """One line for a run record's machine: architecture, OS, CPUs, torch threads and GPU when recorded.

    Example:
        >>> from distillguard.distill.bench import machine_text
        >>> machine_text({"arch": "x86_64", "system": "Linux", "cpus": 2, "torch_threads": 2})
        'x86_64 Linux, 2 CPUs, 2 torch threads, GPU: none'
    """
    parts = [f"{machine.get('arch', '?')} {machine.get('system', '?')}", f"{machine.get('cpus', '?')} CPUs"]
    if "torch_threads" in machine:
        parts.append(f"{machine['torch_threads']} torch threads")
    parts.append(f"GPU: {machine.get('gpu', 'none')}")
    return ", ".join(parts)


def provenance_line(record: Mapping[str, Any]) -> str:
    """The markdown line that says where a result came from: command, UTC time, machine, git commit.

    Example:
        >>> from distillguard.distill.bench import new_record, provenance_line
        >>> provenance_line(new_record("benchmarks/x.py", [])).startswith("`python benchmarks/x.py` -- ")
        True
    """
    run = record["run"]
    commit = run.get("git_commit")
    return (f"`{run['command']}` -- {run['utc']}, {machine_text(run['machine'])}"
            + (f", commit {commit[:12]}{'+dirty' if commit.endswith('+dirty') else ''}" if commit else ""))


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str | None = None) -> list[str]:
    """Lines of a GitHub markdown table: the header, the separator, one line per row.

    Cells are ``str()``-ed, ``|`` escaped; an empty cell is one space. ``align``: one letter per column, ``l`` (``---``) or ``r``
    (``---:``); default all ``l``. A row whose length differs from the header is an error.

    Example:
        >>> from distillguard.distill.bench import md_table
        >>> md_table(["B", "ms"], [[1, "0.03"], [2, ""]], align="lr")
        ['| B | ms |', '|---|---:|', '| 1 | 0.03 |', '| 2 | |']
    """
    align = align or "l" * len(header)
    if len(align) != len(header) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one of 'l' / 'r' per column ({len(header)})")
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"a row of {len(row)} cells in a table of {len(header)} columns: {row!r}")
        out.append("|" + "|".join(f" {c} " if c else " " for c in map(_cell, row)) + "|")
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial (Clopper-Pearson) confidence interval for a rate ``k / n``; NaNs when n is 0.

    Example:
        >>> from distillguard.distill.bench import clopper_pearson
        >>> lo, hi = clopper_pearson(0, 1000)
        >>> lo, round(hi, 4)
        (0.0, 0.0037)
    """
    from scipy.stats import beta

    if n == 0:
        return (float("nan"), float("nan"))
    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def atomic_write(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in the same folder and ``os.replace``.

    Example:
        >>> import os, tempfile
        >>> from distillguard.distill.bench import atomic_write
        >>> p = atomic_write(os.path.join(tempfile.mkdtemp(), "a", "b.txt"), "hi")
        >>> p.read_text(), p.parent.is_dir()
        ('hi', True)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, text)  # one implementation (distillguard.io); results stay world-readable


def write_result(name: str, record: Mapping[str, Any], markdown: str, out_dir: str | os.PathLike = "benchmarks/results",
                 *, indent: int = 2) -> tuple[Path, Path]:
    """Write ``<out_dir>/<name>.json`` (``record`` with its run record) and ``<out_dir>/<name>.md``, atomically.

    The record keeps its own ``"run"`` (from :func:`new_record`); one without gets ``run_record()`` of this
    process. Values JSON cannot hold are written with ``str()``. Returns the two paths.

    Example:
        >>> import json, tempfile
        >>> from distillguard.distill.bench import write_result
        >>> js, md = write_result("r", {"x": 1}, "# r\\n", out_dir=tempfile.mkdtemp())
        >>> sorted(json.loads(js.read_text())), md.read_text()
        (['run', 'x'], '# r\\n')
    """
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"result name {name!r}: a file stem, no folder")
    doc = dict(record)
    if "run" not in doc:
        doc["run"] = run_record()
    out = Path(out_dir)
    js = atomic_write(out / f"{name}.json", json.dumps(doc, indent=indent, default=str) + "\n")
    md = atomic_write(out / f"{name}.md", markdown if markdown.endswith("\n") else markdown + "\n")
    return js, md


def start_run(script: str, doc: str, args: argparse.Namespace, *,
              argv: Sequence[str] | None = None) -> tuple[dict[str, Any], Path]:
    """The result skeleton of a cached radioactivity benchmark and the path of its record, ``<args.out>/run.json``.

    The skeleton: the question (``doc``'s second paragraph), the settings (``vars(args)``), ``timings_s`` and
    the run record (:func:`new_record`). ``timings_s`` starts from ``run.json`` when an earlier run left one:
    a rerun reuses cached stages, so it keeps the times of the run that did the work.

    Example:
        >>> import argparse, tempfile
        >>> from distillguard.distill.bench import start_run
        >>> res, path = start_run("benchmarks/x.py", "Title.\\n\\nThe question?", argparse.Namespace(
        ...     out=tempfile.mkdtemp()), argv=[])
        >>> res["question"], res["timings_s"], path.name
        ('The question?', {}, 'run.json')
    """
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = new_record(script, argv, question=doc.split("\n\n")[1].replace("\n", " "), settings=vars(args),
                     timings_s={})
    previous = out / "run.json"
    if previous.exists():
        res["timings_s"].update(json.loads(previous.read_text()).get("timings_s", {}))
    return res, previous


def fraction_epochs(text: str) -> list[tuple[float, int]]:
    """Parse ``FRACTION:EPOCHS,...`` (an argparse ``type``: its ValueError becomes a one-line error).

    Example:
        >>> from distillguard.distill.bench import fraction_epochs
        >>> fraction_epochs("1:1,0.25:4")
        [(1.0, 1), (0.25, 4)]
    """
    out = []
    for item in filter(None, text.split(",")):
        frac, _, epochs = item.partition(":")
        f, e = float(frac), int(epochs)
        if not (0 < f <= 1 and e > 0):
            raise ValueError(item)
        out.append((f, e))
    return out


def exit_on_refusal(main: Callable[[Sequence[str] | None], int], argv: Sequence[str] | None = None) -> int:
    """Run a benchmark's ``main``; a refusal (``SystemExit`` with a message) is one line on stderr and exit code 2.

    Exit code 1 means "detected" in this project, and ``raise SystemExit("...")`` would exit with it.

    Example:
        >>> from distillguard.distill.bench import exit_on_refusal
        >>> def main(argv):
        ...     raise SystemExit("no such folder")
        >>> exit_on_refusal(main, [])  # prints "error: no such folder" on stderr
        2
    """
    try:
        return main(argv)
    except SystemExit as e:
        if isinstance(e.code, str):
            print(f"error: {e.code}", file=sys.stderr)
            return 2
        raise
