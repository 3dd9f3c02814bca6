"""Atomic output files: written to a temporary file in the same folder, then renamed over the target.

A reader (or a crash, a full disk, Ctrl-C) never sees a half-written output: either the old file stays
byte-identical or the new one is complete. The temporary file is removed on any failure. This module sits
at the bottom of the layers (it imports nothing from distillguard), so every layer may use it.

Example:
    >>> import os, tempfile
    >>> from distillguard.io import atomic_write_text
    >>> p = atomic_write_text(os.path.join(tempfile.mkdtemp(), "out", "r.json"), "{}")
    >>> p.read_text(), os.listdir(p.parent)
    ('{}', ['r.json'])
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_text"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, hidden name); on success it is flushed to disk
    and renamed over ``path`` with :func:`os.replace`; on any error (``KeyboardInterrupt`` included) it is
    removed and an existing ``path`` is left untouched. Missing parent folders are created; an existing
    file's permission bits are kept.

    Example:
        >>> import os, tempfile
        >>> from distillguard.io import atomic_path
        >>> p = os.path.join(tempfile.mkdtemp(), "t.csv")
        >>> with atomic_path(p) as tmp:
        ...     _ = tmp.write_text("a,b\\n")
        >>> open(p).read()
        'a,b\\n'
        >>> try:
        ...     with atomic_path(p) as tmp:
        ...         _ = tmp.write_text("half a")
        ...         raise OSError("disk full")
        ... except OSError:
        ...     pass
        >>> open(p).read(), sorted(os.listdir(os.path.dirname(p)))
        ('a,b\\n', ['t.csv'])
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.tmp{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb") as fh:  # the data reaches the disk before the rename makes it visible
                os.fsync(fh.fileno())
            with contextlib.suppress(OSError):
                os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            if tmp.is_dir() and not tmp.is_symlink():
                os.rmdir(tmp)
            elif tmp.exists() or tmp.is_symlink():
                tmp.unlink()


def atomic_write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_path`) and return ``path`` as a :class:`Path`.

    Example:
        >>> import os, tempfile
        >>> from distillguard.io import atomic_write_text
        >>> p = os.path.join(tempfile.mkdtemp(), "r.html")
        >>> atomic_write_text(p, "<html></html>").read_text()
        '<html></html>'
    """
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "x", encoding=encoding) as fh:
        fh.write(text)
    return path
