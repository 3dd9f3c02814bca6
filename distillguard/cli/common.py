"""What every command shares: the exit-code epilog, the key argument, account lists and line files.

Heavy libraries (torch, transformers) are imported inside the commands, never here, so that ``--help`` and
argument errors answer at once.

Example:
    >>> from distillguard.cli.common import parse_accounts
    >>> parse_accounts("acct-1,acct-2")
    ['acct-1', 'acct-2']
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from distillguard.errors import DistillguardError, refuse_overwrite
from distillguard.io import atomic_path
from distillguard.keys import WatermarkKey

__all__ = ["EPILOG_EXIT", "fmt", "add_key_arg", "load_key", "print_json", "read_lines", "parse_accounts",
           "probability", "positive_int", "nonneg_int", "positive_float", "nonneg_float", "fraction_list",
           "add_http_args", "http_kwargs", "check_device", "check_output", "looks_like", "check_output_dir", "atomic_output"]

EPILOG_EXIT = "exit codes: 0 = ran, not detected; 1 = detected at the threshold; 2 = bad input or failure"


def fmt(description: str) -> dict[str, Any]:
    """Keyword arguments of a subparser whose description and epilog keep their line breaks.

    Example:
        >>> from distillguard.cli.common import fmt
        >>> sorted(fmt("Does X."))
        ['description', 'formatter_class']
    """
    return {"formatter_class": argparse.RawDescriptionHelpFormatter, "description": description}


def add_key_arg(p: argparse.ArgumentParser) -> None:
    """Add ``--key FILE`` (default: the ``DISTILLGUARD_KEY`` environment variable).

    Example:
        >>> import argparse
        >>> from distillguard.cli.common import add_key_arg
        >>> p = argparse.ArgumentParser(); add_key_arg(p); p.parse_args([]).key is None
        True
    """
    p.add_argument(
        "--key",
        metavar="FILE",
        help="key file made by `distillguard keygen` (default: the DISTILLGUARD_KEY environment variable)",
    )


def load_key(args: argparse.Namespace) -> WatermarkKey:
    """The key from ``--key`` or the environment, narrowed to ``--account`` when the command has one.

    Example:
        >>> import argparse
        >>> from distillguard.cli.common import load_key
        >>> load_key(argparse.Namespace(key="/nonexistent.key"))
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: key file /nonexistent.key does not exist
    """
    key = WatermarkKey.load(args.key) if args.key else WatermarkKey.from_env()
    if getattr(args, "account", None):
        key = key.for_account(args.account)
    return key


def print_json(obj: Any) -> None:
    """Print ``obj`` as indented JSON (numpy scalars and paths as strings).

    Example:
        >>> from distillguard.cli.common import print_json
        >>> print_json({"a": 1})
        {
          "a": 1
        }
    """
    print(json.dumps(obj, indent=2, default=str))


def read_lines(path: str | Path, what: str) -> list[str]:
    """Non-empty lines of a text file, or the ``text``/``prompt``/``response`` field of each JSONL record.

    Example:
        >>> import tempfile, os
        >>> from distillguard.cli.common import read_lines
        >>> p = os.path.join(tempfile.mkdtemp(), "t.txt"); _ = open(p, "w").write("a\\n\\nb\\n")
        >>> read_lines(p, "text")
        ['a', 'b']
    """
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DistillguardError(f"{what} file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DistillguardError(f"{what} file {path} cannot be read: {exc.__class__.__name__}") from None
    out: list[str] = []
    for i, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        if path.suffix.lower() in (".jsonl", ".json"):
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                raise DistillguardError(f"{path}:{i}: not valid JSON") from None
            value = next((rec.get(f) for f in ("text", "prompt", "response") if isinstance(rec, dict)
                          and isinstance(rec.get(f), str)), None)
            if value is None:
                raise DistillguardError(f"{path}:{i}: needs a 'text', 'prompt' or 'response' string")
            line = value
        out.append(line.replace("\\n", "\n"))
    if not out:
        raise DistillguardError(f"{what} file {path} is empty")
    return out


def parse_accounts(value: str | None) -> list[str] | None:
    """``--accounts``: comma-separated ids, or a file of them (one per line / JSONL records).

    Example:
        >>> from distillguard.cli.common import parse_accounts
        >>> parse_accounts("a, b")
        ['a', 'b']
    """
    if not value:
        return None
    if "," not in value and Path(value).is_file():
        return read_lines(value, "account")
    return [a.strip() for a in value.split(",") if a.strip()]


# -- argument types: argparse ``type=`` callables; a bad value is a usage error (one line, exit 2) ----------
def _number(text: str, kind: type, what: str, ok: Callable[[Any], bool] = lambda v: True) -> Any:
    """``kind(text)`` when it parses, is finite and passes ``ok``; else a usage error saying ``what``."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}") from None
    if (kind is float and not math.isfinite(value)) or not ok(value):
        raise argparse.ArgumentTypeError(f"{what}, got {text!r}")
    return value


def probability(text: str) -> float:
    """A finite float strictly between 0 and 1 (``--alpha``, ``--target-fpr``, ``--gamma``).

    Example:
        >>> from distillguard.cli.common import probability
        >>> probability("1e-3")
        0.001
        >>> probability("1")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a number in (0, 1), got '1'
    """
    return _number(text, float, "must be a number in (0, 1)", lambda v: 0.0 < v < 1.0)


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: ``--n-prompts``, ``--batch-size``, ``--budget``, ...).

    Example:
        >>> from distillguard.cli.common import positive_int
        >>> positive_int("3")
        3
        >>> positive_int("0")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be an integer >= 1, got '0'
    """
    return _number(text, int, "must be an integer >= 1", lambda v: v >= 1)


def nonneg_int(text: str) -> int:
    """An integer >= 0 (``--retries``, ``--min-new-tokens``, ``--seed``, ``--skip``).

    Example:
        >>> from distillguard.cli.common import nonneg_int
        >>> nonneg_int("0")
        0
    """
    return _number(text, int, "must be an integer >= 0", lambda v: v >= 0)


def positive_float(text: str) -> float:
    """A finite float > 0 (``--temperature``, ``--timeout``).

    Example:
        >>> from distillguard.cli.common import positive_float
        >>> positive_float("0.5")
        0.5
        >>> positive_float("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a finite number > 0, got 'nan'
    """
    return _number(text, float, "must be a finite number > 0", lambda v: v > 0)


def nonneg_float(text: str) -> float:
    """A finite float >= 0 (``--delta``).

    Example:
        >>> from distillguard.cli.common import nonneg_float
        >>> nonneg_float("0")
        0.0
    """
    return _number(text, float, "must be a finite number >= 0", lambda v: v >= 0)


def fraction_list(text: str) -> list[float]:
    """Comma-separated fractions in (0, 1] (``--fractions 1,0.25,0.05``).

    Example:
        >>> from distillguard.cli.common import fraction_list
        >>> fraction_list("1,0.25")
        [1.0, 0.25]
    """
    parts = [t.strip() for t in str(text).split(",")]
    if not parts or any(not t for t in parts):
        raise argparse.ArgumentTypeError(f"must be comma-separated fractions in (0, 1], got {text!r}")
    try:
        return [_number(t, float, "", lambda v: 0.0 < v <= 1.0) for t in parts]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"must be comma-separated fractions in (0, 1], got {text!r}") from None


# -- HTTP suspects ------------------------------------------------------------------------------------------
def add_http_args(p: argparse.ArgumentParser) -> None:
    """Add ``--timeout`` (total seconds per request), ``--retries`` and ``--run-timeout`` (total seconds for the
    whole command's requests) for commands that query a suspect URL."""
    p.add_argument("--timeout", type=positive_float, default=60.0,
                   help="HTTP: total seconds allowed per request, body included (60)")
    p.add_argument("--retries", type=nonneg_int, default=3, help="HTTP retries after the first attempt (3)")
    p.add_argument("--run-timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="HTTP: total seconds for all requests to the suspect in this command, retries included "
                        "(default: no limit)")


def http_kwargs(args: argparse.Namespace, source: str | None) -> dict[str, Any]:
    """Keyword arguments of :func:`~distillguard.suspects.open_suspect` for ``source`` (empty when local)."""
    if not (isinstance(source, str) and source.startswith(("http://", "https://"))):
        return {}
    kw: dict[str, Any] = {"timeout": args.timeout, "retries": args.retries,
                          "run_timeout": getattr(args, "run_timeout", None)}
    if getattr(args, "suspect_model", None):
        kw["model"] = args.suspect_model
    return kw


def check_device(device: str | None) -> None:
    """Refuse ``--device cuda`` on a machine without CUDA, before anything loads.

    Example:
        >>> from distillguard.cli.common import check_device
        >>> check_device("cpu")
        >>> check_device("tpu")
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: --device tpu: use cpu, cuda or cuda:N
    """
    if device is None or device == "cpu":
        return
    if not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise DistillguardError(f"--device {device}: use cpu, cuda or cuda:N")
    import torch

    if not torch.cuda.is_available():
        raise DistillguardError(f"--device {device}: CUDA is not available on this machine; use --device cpu")


# -- outputs ------------------------------------------------------------------------------------------------
def looks_like(path: Path, kind: str) -> bool:
    """Whether the existing file ``path`` looks like a previous output of this ``kind`` (and may be rewritten):
    ``json`` a JSON object that is not a key or probe file, ``probes`` a probe file, ``html`` an HTML page,
    ``table`` a table with an ``account_id`` column, ``jsonl`` a JSONL file, ``any`` anything.

    Example:
        >>> import tempfile, os
        >>> from pathlib import Path
        >>> from distillguard.cli.common import looks_like
        >>> p = Path(tempfile.mkdtemp()) / "r.html"; _ = p.write_text("<!DOCTYPE html><html></html>")
        >>> looks_like(p, "html"), looks_like(p, "json")
        (True, False)
    """
    if kind == "any":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    if kind == "html":
        return b"<html" in head.lower() or b"<!doctype html" in head.lower()
    if kind == "table":
        return head.startswith(b"PAR1") or b"account_id" in head.split(b"\n", 1)[0]
    if kind == "jsonl":  # the first line is a whole JSON object (a key file's first line is a lone "{")
        try:
            return isinstance(json.loads(head.split(b"\n", 1)[0] or b"x"), dict)
        except ValueError:
            return False
    if kind in ("json", "probes"):
        if path.stat().st_size > (256 << 20):
            return False
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if not isinstance(doc, dict):
            return False
        fmt_ = doc.get("format")
        from distillguard.fingerprint.probeset import FORMAT as PROBE_FORMAT

        if kind == "probes":
            return fmt_ == PROBE_FORMAT
        return fmt_ not in ("distillguard-key", PROBE_FORMAT)
    return False


def check_output(flag: str, out: str | None, inputs: dict[str, str | None], *, force: bool = False,
                 own: bool | str = False, create_parent: bool = False) -> None:
    """Refuse an output FILE before any heavy work: an input, a directory, a missing or read-only folder,
    or an existing file -- unless ``force``, or ``own`` (``True``, or a :func:`looks_like` kind the existing
    file matches: this command's previous output, rewritten by design). With ``create_parent`` a missing
    folder is accepted when it can be created (:func:`atomic_output` creates it when the file is written).

    Example:
        >>> import tempfile, os
        >>> from distillguard.cli.common import check_output
        >>> d = tempfile.mkdtemp()
        >>> check_output("--out", os.path.join(d, "r.json"), {})
        >>> check_output("--out", os.path.join(d, "no", "r.json"), {})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: --out .../no/r.json: folder .../no does not exist; create it first
    """
    if not out:
        return
    refuse_overwrite({flag: out}, inputs)
    path = Path(out).expanduser()
    if path.is_dir():
        raise DistillguardError(f"{flag} {out} is a directory; give a file path")
    parent = path.parent
    if create_parent and not parent.exists():
        parent = _existing_ancestor(parent)
        if not parent.is_dir():
            raise DistillguardError(f"{flag} {out}: {parent} is a file, not a folder")
    elif not parent.is_dir():
        raise DistillguardError(f"{flag} {out}: folder {parent} does not exist; create it first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DistillguardError(f"{flag} {out}: folder {parent} is not writable")
    if path.exists() and not force:
        if own is True or (isinstance(own, str) and looks_like(path, own)):
            return
        what = (f"exists and does not look like an earlier {own} output of distillguard" if isinstance(own, str)
                else "already exists")
        raise DistillguardError(f"{flag} {out} {what}; pass --force to overwrite it")


def check_output_dir(flag: str, out: str, inputs: dict[str, str | None]) -> None:
    """Refuse an output DIRECTORY that is an existing file, an input (or inside one), or cannot be created.

    Example:
        >>> import tempfile, os
        >>> from distillguard.cli.common import check_output_dir
        >>> f = os.path.join(tempfile.mkdtemp(), "f.txt"); _ = open(f, "w").write("x")
        >>> check_output_dir("--out", f, {})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: --out .../f.txt is an existing file, not a directory
    """
    refuse_overwrite({flag: out}, inputs)
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise DistillguardError(f"{flag} {out} is an existing file, not a directory")
    anc = _existing_ancestor(path)
    if not anc.is_dir():
        raise DistillguardError(f"{flag} {out}: {anc} is a file, not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise DistillguardError(f"{flag} {out}: {anc} is not writable")


def _existing_ancestor(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def atomic_output(path: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """Yield a temporary path next to ``path`` (same suffix); on success it replaces ``path`` atomically,
    on any error it is removed, so no partial output is ever left (:func:`distillguard.io.atomic_path`).

    Example:
        >>> import tempfile, os
        >>> from distillguard.cli.common import atomic_output
        >>> p = os.path.join(tempfile.mkdtemp(), "r.json")
        >>> with atomic_output(p) as tmp:
        ...     _ = tmp.write_text("{}")
        >>> open(p).read(), len(os.listdir(os.path.dirname(p)))
        ('{}', 1)
    """
    return atomic_path(path)
