"""Reading API-log files: format from the name, (de)compression, UTF-8 with the byte that breaks it, duplicate
column names in a CSV header or a JSONL record, and pandas chunks of raw string columns.

:mod:`.schema` turns these raw chunks into the canonical schema; every error here is a one-line
:class:`~distillguard.errors.DistillguardError` naming the file (and line, byte or column).

Example:
    >>> from pathlib import Path
    >>> from distillguard.detect.api_logs.log_files import _detect_format
    >>> _detect_format(Path("week.jsonl.gz"), None)
    'jsonl'
"""

from __future__ import annotations

import contextlib
import json
import lzma
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow.parquet as pq

from distillguard.errors import DistillguardError

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl",
            ".json": "jsonl"}


def _fail(source: str, msg: str) -> DistillguardError:
    return DistillguardError(f"{source}: {msg}".replace("\n", " "))


def _detect_format(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in ("csv", "parquet", "jsonl"):
            raise _fail(str(path), f"unknown format {fmt!r} (use csv, parquet or jsonl)")
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".zip", ".xz", ".zst")]
    if suffixes and suffixes[-1] in _FORMATS:
        return _FORMATS[suffixes[-1]]
    raise _fail(str(path), "cannot tell the format from the file name; pass fmt='csv'|'parquet'|'jsonl'")


@contextlib.contextmanager
def _open_bytes(path: Path) -> Iterator[IO[bytes]]:
    """The file's bytes, decompressed the way pandas does it (``.gz``, ``.bz2``, ``.zip``, ``.xz``, ``.zst``)."""
    from pandas.io.common import get_handle

    with get_handle(path, "rb", compression="infer", is_text=False) as handles:
        yield handles.handle  # type: ignore[misc]


def _compressed(path: Path) -> bool:
    return path.suffix.lower() in (".gz", ".bz2", ".zip", ".xz", ".zst", ".tar")


def _first_bad_utf8(path: Path) -> tuple[int, int, int] | None:
    """``(line, byte offset, byte)`` of the first byte that is not UTF-8 (line 1-based, offset 0-based)."""
    offset = 0
    with _open_bytes(path) as fh:
        for i, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return i, offset + exc.start, line[exc.start]
            offset += len(line)
    return None


def _utf8_error(path: Path) -> DistillguardError:
    where = _first_bad_utf8(path)
    hint = "re-encode the file, or pass encoding_errors='replace'"
    if where is None:
        return _fail(str(path), f"is not valid UTF-8 ({hint})")
    line, offset, byte = where
    of = " of the decompressed data" if _compressed(path) else ""
    return _fail(str(path), f"line {line} is not valid UTF-8: byte 0x{byte:02x} at byte offset {offset}{of} "
                            f"({hint})")


def _check_csv_header(path: Path, encoding_errors: str) -> None:
    """Refuse a CSV header that repeats a column name (pandas would rename the copy to ``name.1`` silently)."""
    head = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, na_filter=False,
                       encoding="utf-8", encoding_errors=encoding_errors)
    names = [str(v).strip() for v in head.iloc[0].tolist()] if len(head) else []
    _refuse_duplicates([n for n in names if n], str(path), "in the header")


def _check_jsonl_keys(path: Path, encoding_errors: str) -> None:
    """Refuse a JSONL object with a repeated key (pandas would keep the last value silently)."""
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) != len(pairs):
            seen: set[str] = set()
            for k, _ in pairs:
                if k in seen:
                    raise _DuplicateKey(k)
                seen.add(k)
        return out

    with _open_bytes(path) as fh:
        for i, raw in enumerate(fh, start=1):
            line = raw.decode("utf-8", errors=encoding_errors).strip()
            if not line or line.count('"') < 4:  # fewer than two keys: nothing to repeat
                continue
            try:
                json.loads(line, object_pairs_hook=hook)
            except _DuplicateKey as exc:
                raise _fail(str(path), f"line {i}: key {exc.args[0]!r} appears twice in one object (keys must be "
                                       "unique)") from None
            except (ValueError, RecursionError):
                continue  # not JSON: the reader below says so


class _DuplicateKey(Exception):
    pass


def _refuse_duplicates(names: list[str], source: str, where: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise _fail(source, f"column {n!r} appears {names.count(n)} times{' ' + where if where else ''} "
                                "(column names must be unique; rename or drop the copies)")
        seen.add(n)


def _read_raw(path: Path, fmt: str, chunksize: int | None, encoding_errors: str) -> Iterator[pd.DataFrame]:
    if fmt == "parquet":
        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:
            raise _fail(str(path), f"not a readable Parquet file ({type(exc).__name__})") from None
        if chunksize is None:
            yield pf.read().to_pandas()
        else:
            for batch in pf.iter_batches(batch_size=chunksize):
                yield batch.to_pandas()
        return
    if path.stat().st_size == 0:
        raise _fail(str(path), "empty file (no header, no rows)")
    try:
        if fmt == "csv":
            _check_csv_header(path, encoding_errors)
            reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=chunksize,
                                 encoding="utf-8", encoding_errors=encoding_errors)
        else:
            _check_jsonl_keys(path, encoding_errors)
            reader = pd.read_json(path, lines=True, dtype=False, convert_dates=False, convert_axes=False,
                                  chunksize=chunksize, encoding="utf-8", encoding_errors=encoding_errors)
        if chunksize is None:
            yield reader
        else:
            with reader:
                yield from reader
    except DistillguardError:
        raise
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except pd.errors.EmptyDataError:
        raise _fail(str(path), "empty file (no header, no rows)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(str(path), f"cannot parse as {fmt}: {first}") from None
    except (OSError, EOFError, zlib.error, lzma.LZMAError, RuntimeError, TypeError, OverflowError, LookupError,
            RecursionError) as exc:
        # a corrupt compressed stream (BadGzipFile, EOFError, zlib/lzma errors are OSError or EOFError) or a
        # structure pandas cannot tabulate
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
        raise _fail(str(path), f"cannot read as {fmt}: {type(exc).__name__}{': ' + first if first else ''}") from None
