"""Where a result came from: UTC time, command, machine, versions, git commit and input hashes.

Every report and benchmark record carries one :func:`run_record`, so that someone else can tell exactly what
produced a verdict or a number, and re-run it. Inputs are named by SHA-256 of their bytes; a key is never
hashed here (reports name it by its public fingerprint, :attr:`distillguard.keys.WatermarkKey.fingerprint`).

Example:
    >>> from distillguard.provenance import run_record
    >>> rec = run_record(["distillguard", "demo"])
    >>> sorted(rec)
    ['command', 'git_commit', 'inputs', 'machine', 'utc', 'versions']
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version
from pathlib import Path
from typing import Any

import numpy as np
import scipy

__all__ = ["versions", "machine", "git_commit", "sha256_of", "run_record"]

_ROOT = Path(__file__).resolve().parents[1]
_MAX_HASH_BYTES = 4 << 30  # a suspect directory above this is named by its files' sizes, not read in full


def versions() -> dict[str, str]:
    """Versions of the software that produced a result (torch / transformers only when they were loaded).

    Example:
        >>> from distillguard.provenance import versions
        >>> "distillguard" in versions() and "numpy" in versions()
        True
    """
    try:
        own = _dist_version("distillguard")
    except PackageNotFoundError:  # run from a source tree that is not installed
        own = "unknown"
    out = {"distillguard": own, "python": platform.python_version(), "numpy": np.__version__,
           "scipy": scipy.__version__}
    for mod in ("torch", "transformers", "sklearn", "pandas"):
        if mod in sys.modules:
            out[mod] = str(getattr(sys.modules[mod], "__version__", "unknown"))
    return out


def machine() -> dict[str, Any]:
    """The machine a result was measured on (architecture, OS, CPUs, and torch's threads / GPU if loaded).

    Example:
        >>> from distillguard.provenance import machine
        >>> machine()["cpus"] >= 1
        True
    """
    out: dict[str, Any] = {"arch": platform.machine(), "system": platform.system(), "cpus": os.cpu_count() or 1,
                           "processor": platform.processor() or platform.machine(),
                           "python": platform.python_version()}
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name()
    return out


def git_commit(root: str | os.PathLike | None = None) -> str | None:
    """The checkout's commit (``+dirty`` when tracked files differ from it), or None outside a git checkout.

    Example:
        >>> from distillguard.provenance import git_commit
        >>> git_commit("/") is None
        True
    """
    cwd = Path(root) if root is not None else _ROOT
    if root is None and not (_ROOT / ".git").exists():  # an installed copy: the enclosing repository is not ours
        return None
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes; of a directory, of its files' relative paths and hashes (sorted).

    A directory above 4 GiB is named by its files' paths and sizes instead (prefix ``size:``), so that a large
    checkpoint does not make a report slow.

    Example:
        >>> import os, tempfile
        >>> from distillguard.provenance import sha256_of
        >>> p = os.path.join(tempfile.mkdtemp(), "a.txt"); _ = open(p, "w").write("abc")
        >>> sha256_of(p)[:16]
        'ba7816bf8f01cfea'
    """
    path = Path(path)
    if path.is_file():
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest()
    files = sorted(p for p in path.rglob("*") if p.is_file())
    h = hashlib.sha256()
    if sum(p.stat().st_size for p in files) > _MAX_HASH_BYTES:
        for p in files:
            h.update(f"{p.relative_to(path)}\0{p.stat().st_size}\n".encode())
        return "size:" + h.hexdigest()
    for p in files:
        h.update(f"{p.relative_to(path)}\0{sha256_of(p)}\n".encode())
    return h.hexdigest()


def run_record(command: Sequence[str] | None = None,
               inputs: Mapping[str, str | os.PathLike | None] | None = None) -> dict[str, Any]:
    """UTC time, command line, machine, versions, git commit, and the SHA-256 of each local input.

    ``inputs`` maps a role (``"logs"``, ``"suspect student"`` ...) to a path; URLs and missing paths are
    recorded as given, without a hash.

    Example:
        >>> from distillguard.provenance import run_record
        >>> run_record(["x"], {"endpoint": "http://host/v1"})["inputs"]
        {'endpoint': {'path': 'http://host/v1', 'sha256': None}}
    """
    argv = list(sys.argv) if command is None else list(command)
    hashed = {}
    for role, src in (inputs or {}).items():
        if src is None:
            continue
        p = Path(src).expanduser()
        local = not str(src).startswith(("http://", "https://")) and p.exists()
        hashed[role] = {"path": str(src), "sha256": sha256_of(p) if local else None}
    return {"utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(shlex.quote(a) for a in argv), "machine": machine(), "versions": versions(),
            "git_commit": git_commit(), "inputs": hashed}
