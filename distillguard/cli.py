"""The ``distillguard`` command line: thin wrappers that parse, call the library, print, set the exit code.

Exit codes, the same for every detecting command: 0 = ran, not detected; 1 = detected at the threshold;
2 = bad input or failure (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from distillguard.errors import EXIT_ERROR, DistillguardError

_SUBCOMMAND_MODULES = [
    "distillguard.detect.api_logs.cli",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every subcommand registered.

    Example:
        >>> from distillguard.cli import build_parser
        >>> "usage" in build_parser().format_usage()
        True
    """
    parser = argparse.ArgumentParser(
        prog="distillguard",
        description="Watermark your model's answers, then prove a suspect model was distilled from them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    import importlib

    for name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part of the toolkit is not present in this checkout
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``distillguard`` script; returns the exit code.

    Example:
        >>> from distillguard.cli import main
        >>> main(["--help"])  # doctest: +SKIP
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DistillguardError as exc:
        print(f"distillguard: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("distillguard: interrupted", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
