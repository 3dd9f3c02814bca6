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
import json
from pathlib import Path
from typing import Any

from distillguard.errors import DistillguardError
from distillguard.keys import WatermarkKey

__all__ = ["EPILOG_EXIT", "fmt", "add_key_arg", "load_key", "print_json", "read_lines", "parse_accounts"]

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
