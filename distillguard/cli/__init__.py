"""The ``distillguard`` command line: thin wrappers that parse, call the library, print and set the exit code.

One module per command group (:mod:`~distillguard.cli.watermark`, :mod:`~distillguard.cli.demo`,
:mod:`~distillguard.cli.detect`, :mod:`~distillguard.cli.logs`, :mod:`~distillguard.cli.fingerprint`,
:mod:`~distillguard.cli.investigate`), the shared helpers in :mod:`~distillguard.cli.common`, and the one
place that enforces the exit-code contract in :func:`~distillguard.cli.app.main`.

Example:
    >>> from distillguard.cli import build_parser
    >>> "investigate" in build_parser().format_help()
    True
"""

from distillguard.cli.app import build_parser, error_line, main

__all__ = ["build_parser", "error_line", "main"]
