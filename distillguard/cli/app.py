"""The ``distillguard`` command line: thin wrappers that parse, call the library, print, set the exit code.

Exit codes, the same for every detecting command: 0 = ran, not detected; 1 = detected at the threshold;
2 = bad input, usage error or any failure (one line on stderr, no traceback). :func:`main` is the one place
that enforces this: every exception a command raises becomes that one line and exit 2, so a crash can never
read as "detected". ``--debug`` (or ``DISTILLGUARD_DEBUG=1``) re-raises instead, to show the traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

from distillguard.cli import demo, detect, fingerprint, investigate, logs, serve, watermark
from distillguard.errors import EXIT_ERROR, DistillguardError

#: every command group, in the order ``--help`` lists them
_COMMAND_GROUPS = (watermark, demo, detect, logs, fingerprint, investigate, serve)


class UsageError(DistillguardError):
    """A bad option value (an argument type refused it): one line on stderr and exit 2, like any error."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (and exit 2), like every other error.

    A value refused by an argument type (``--alpha 1.5``) raises :class:`UsageError`, so :func:`main`
    returns 2; a structural error (a missing required option) exits 2 through ``SystemExit``.
    """

    def error(self, message: str):  # type: ignore[override]
        msg = " ".join(str(message).split())
        current = sys.exc_info()[1]
        if isinstance(current, argparse.ArgumentError) and isinstance(current.__context__, argparse.ArgumentTypeError):
            raise UsageError(msg)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {msg} (see {self.prog} --help)\n")


_DEBUG_ENV = "DISTILLGUARD_DEBUG"
_MAX_ERROR_CHARS = 300
_EPILOG_MAIN = (
    "exit codes (every command):\n"
    "  0  ran, nothing detected (keygen, generate: done)\n"
    "  1  detected at the threshold (demo: some verdict is wrong)\n"
    "  2  bad input, usage error or any failure: one line on stderr, no traceback\n"
    "     (--debug or DISTILLGUARD_DEBUG=1 shows the traceback instead)"
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand registered (a subcommand that fails to import raises).

    Example:
        >>> from distillguard.cli.app import build_parser
        >>> "usage" in build_parser().format_usage()
        True
    """
    parser = _Parser(
        prog="distillguard",
        description="Watermark your model's answers, then prove a suspect model was distilled from them.",
        epilog=_EPILOG_MAIN,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"on an error, show the full traceback instead of one line (also: {_DEBUG_ENV}=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in _COMMAND_GROUPS:
        group.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``distillguard`` script; returns the exit code (0, 1, or 2 on any error).

    Every exception a command raises (not only :class:`~distillguard.errors.DistillguardError`) is printed
    as one line, ``distillguard: error: ...``, on stderr, with the key redacted, and gives exit 2.
    With ``--debug`` or ``DISTILLGUARD_DEBUG=1`` it is re-raised instead (traceback). argparse usage errors
    exit 2 through ``SystemExit``.

    Example:
        >>> from distillguard.cli.app import main
        >>> main(["score-text", "--key", "/nonexistent/k.json", "--text", "hello"])  # one line on stderr
        2
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = _debug_from_env() or "--debug" in argv
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        debug = debug or bool(getattr(args, "debug", False))
        warnings.showwarning = _one_line_warning
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("distillguard: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:
        if debug:
            raise
        print(error_line(exc, args), file=sys.stderr)
        return EXIT_ERROR


def _debug_from_env() -> bool:
    return os.environ.get(_DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def error_line(exc: BaseException, args: argparse.Namespace | None = None) -> str:
    """The one stderr line for an exception: ``distillguard: error: <message>`` (``<Class>: <message>`` when
    it is not a :class:`~distillguard.errors.DistillguardError`), the key's secret redacted, at most ~300 chars.

    Example:
        >>> from distillguard.cli.app import error_line
        >>> error_line(KeyError("response"))
        "distillguard: error: KeyError: 'response' (rerun with --debug for the traceback)"
        >>> error_line(RuntimeError("first\\nsecond"))
        'distillguard: error: RuntimeError: first second (rerun with --debug for the traceback)'
    """
    msg = _redact(str(exc), args)
    msg = " ".join(msg.split())
    if len(msg) > _MAX_ERROR_CHARS:
        msg = msg[: _MAX_ERROR_CHARS - 3] + "..."
    if isinstance(exc, DistillguardError):
        return f"distillguard: error: {msg or 'failed'}"
    name = type(exc).__name__
    return f"distillguard: error: {name}{': ' + msg if msg else ''} (rerun with --debug for the traceback)"


def _redact(text: str, args: argparse.Namespace | None) -> str:
    """Remove every form of the key's secret this process could know from ``text``."""
    from distillguard.keys import ENV_VAR

    secrets: list[str] = []
    value = os.environ.get(ENV_VAR, "")
    if value.strip():
        secrets += [value, value.strip()]
        secrets += _secret_hex_of(value.strip())
    key_path = getattr(args, "key", None) if args is not None else None
    if isinstance(key_path, str) and key_path:
        try:
            with open(key_path, encoding="utf-8") as fh:
                secrets += _secret_hex_of(fh.read(1 << 20))
        except (OSError, ValueError):
            pass
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        for form in {secret, secret.lower(), secret.upper()}:
            text = text.replace(form, "<redacted>")
    return text


def _secret_hex_of(text: str) -> list[str]:
    """The secret of key-file JSON or of a bare hex secret (both as written and as lowercase hex)."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    hexes: list[str] = []
    if isinstance(doc, dict) and isinstance(doc.get("secret_hex"), str):
        hexes.append(doc["secret_hex"])
    elif doc is None:
        hexes.append(text)
    out: list[str] = []
    for h in hexes:
        out.append(h)
        try:
            out.append(bytes.fromhex(h).hex())
        except ValueError:
            pass
    return out


def _one_line_warning(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001
    if issubclass(category, UserWarning) and "distillguard" in str(filename):
        print(f"distillguard: warning: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
