"""One exception type for bad input, so the CLI can print one line and exit 2 instead of a traceback."""

from __future__ import annotations

__all__ = ["DistillguardError", "EXIT_NOT_DETECTED", "EXIT_DETECTED", "EXIT_ERROR"]

#: Exit codes shared by every detecting command.
EXIT_NOT_DETECTED = 0
EXIT_DETECTED = 1
EXIT_ERROR = 2


class DistillguardError(ValueError):
    """Bad input or an unusable resource; the message is one line that says what to fix.

    Example:
        >>> from distillguard.errors import DistillguardError
        >>> str(DistillguardError("key file /tmp/k.json: not valid JSON"))
        'key file /tmp/k.json: not valid JSON'
    """
