"""One exception type for bad input, so the CLI can print one line and exit 2 instead of a traceback."""

from __future__ import annotations

__all__ = ["DistillguardError", "EXIT_NOT_DETECTED", "EXIT_DETECTED", "EXIT_ERROR", "refuse_overwrite"]

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


def refuse_overwrite(outputs: dict[str, str | None], inputs: dict[str, str | None]) -> None:
    """Raise if an output path (``{flag: path}``) is an input, lies inside an input directory, or repeats.

    Nothing is lost: a report must never land on a suspect's files, a probe file or a key.

    Example:
        >>> from distillguard.errors import refuse_overwrite
        >>> refuse_overwrite({"--report": "/tmp/r.json"}, {"the suspect": "/tmp/student"})
        >>> refuse_overwrite({"--report": "/tmp/student/r.json"}, {"the suspect": "/tmp/student"})
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: --report /tmp/student/r.json: would write into the suspect /tmp/student; choose another path
    """
    from pathlib import Path

    seen: dict[Path, str] = {}
    for flag, out in outputs.items():
        if not out:
            continue
        target = Path(out).expanduser().resolve()
        if target in seen:
            raise DistillguardError(f"{seen[target]} and {flag} name the same file")
        seen[target] = flag
        for what, src in inputs.items():
            if src and not str(src).startswith(("http://", "https://")):
                protected = Path(src).expanduser().resolve()
                if target == protected or protected in target.parents:
                    raise DistillguardError(f"{flag} {out}: would write into {what} {src}; choose another path")
