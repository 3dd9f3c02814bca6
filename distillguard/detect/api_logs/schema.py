"""Load API logs from CSV, Parquet or JSONL and normalise them to the canonical schema (DESIGN contract 6).

Canonical columns: ``timestamp`` (UTC), ``account_id``, ``prompt``, ``prompt_tokens``, ``completion_tokens``;
optional: ``response``, ``ip``, ``user_agent``, ``model``, ``request_id``, ``org_id``, ``status`` and (an
extension) ``max_tokens``. Any other column is passed through untouched (the simulator's ``label`` and
``family`` for instance).

Documented handling of awkward input:

* timestamps are ISO-8601 strings or datetime columns. Explicit offsets (``Z``, ``+02:00``) are converted
  to UTC, so logs written from several time zones are fine. A file that mixes offset-carrying and naive
  timestamps is refused (a naive time has no defined instant); a file of only naive timestamps is read in
  ``naive_tz`` (default UTC).
* text must be UTF-8. By default a non-UTF-8 byte is an error naming its line; pass
  ``encoding_errors="replace"`` to read such bytes as U+FFFD instead.
* nothing is ever written to the input file: files are opened read-only.

Every problem raises :class:`~distillguard.errors.DistillguardError` with a one-line message naming the
file, the column and the (1-based) data row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from distillguard.errors import DistillguardError

__all__ = [
    "CANONICAL_COLUMNS",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "iter_log_chunks",
    "load_logs",
    "validate_logs",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "account_id", "prompt", "prompt_tokens", "completion_tokens")
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "response", "ip", "user_agent", "model", "request_id", "org_id", "status", "max_tokens",
)
CANONICAL_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
_TOKEN_COLUMNS = ("prompt_tokens", "completion_tokens")
_TZ_SUFFIX = re.compile(r"(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")
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


def _first_bad_utf8_line(path: Path) -> int:
    with open(path, "rb") as fh:
        for i, line in enumerate(fh, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return i
    return -1


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
            reader = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], chunksize=chunksize,
                                 encoding="utf-8", encoding_errors=encoding_errors)
        else:
            reader = pd.read_json(path, lines=True, dtype=False, convert_dates=False, chunksize=chunksize,
                                  encoding="utf-8", encoding_errors=encoding_errors)
        if chunksize is None:
            yield reader
        else:
            with reader:
                yield from reader
    except UnicodeDecodeError:
        line = _first_bad_utf8_line(path)
        raise _fail(str(path), f"line {line} is not valid UTF-8 (re-encode the file, or pass "
                               "encoding_errors='replace')") from None
    except pd.errors.EmptyDataError:
        raise _fail(str(path), "empty file (no header, no rows)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(str(path), f"cannot parse as {fmt}: {first}") from None


def _parse_timestamps(col: pd.Series, source: str, row_offset: int, naive_tz: str,
                      state: dict | None) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        out = col.dt.tz_convert("UTC")
        mode = "aware"
    elif pd.api.types.is_datetime64_dtype(col.dtype):
        out = col.dt.tz_localize(naive_tz).dt.tz_convert("UTC")
        mode = "naive"
    else:
        if pd.api.types.is_numeric_dtype(col.dtype):
            raise _fail(source, "column 'timestamp' is numeric; give ISO-8601 strings (e.g. "
                                "2025-01-31T12:00:00Z) so that the unit and time zone are explicit")
        text = col.astype("string").str.strip()
        missing = text.isna() | (text == "")
        if missing.any():
            row = int(np.flatnonzero(missing.to_numpy())[0]) + 1 + row_offset
            raise _fail(source, f"column 'timestamp', row {row}: missing value")
        has_tz = text.str.contains(_TZ_SUFFIX).to_numpy(dtype=bool)
        if has_tz.any() and not has_tz.all():
            r_tz = int(np.flatnonzero(has_tz)[0]) + 1 + row_offset
            r_naive = int(np.flatnonzero(~has_tz)[0]) + 1 + row_offset
            raise _fail(source, f"column 'timestamp' mixes time zones: row {r_tz} has a UTC offset, "
                                f"row {r_naive} has none (give every timestamp an offset)")
        mode = "aware" if has_tz.all() else "naive"
        text = text.str.replace(r"\s*(?:UTC|GMT)$", "Z", regex=True)
        if mode == "aware":
            out = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        else:
            out = pd.to_datetime(text, format="ISO8601", errors="coerce")
            out = out.dt.tz_localize(naive_tz).dt.tz_convert("UTC")
        bad = out.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _fail(source, f"column 'timestamp', row {i + 1 + row_offset}: cannot parse "
                                f"{str(col.iloc[i])[:60]!r} as an ISO-8601 timestamp")
    if state is not None:
        prev = state.setdefault("tz_mode", mode)
        if prev != mode:
            raise _fail(source, f"column 'timestamp' mixes time zones across chunks: rows before "
                                f"{row_offset + 1} are {prev}, later rows are {mode}")
    return out.astype("datetime64[ns, UTC]")


def _check_text(col: pd.Series, name: str, source: str, row_offset: int) -> pd.Series:
    out = col.astype(object).where(col.notna(), "").astype(str)
    try:
        "".join(out.tolist()).encode("utf-8")
    except UnicodeEncodeError:
        for i, v in enumerate(out.tolist()):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise _fail(source, f"column {name!r}, row {i + 1 + row_offset}: text is not valid "
                                    "UTF-8 (lone surrogate)") from None
    return out


def validate_logs(
    df: pd.DataFrame,
    *,
    source: str = "logs",
    row_offset: int = 0,
    naive_tz: str = "UTC",
    _state: dict | None = None,
) -> pd.DataFrame:
    """Validate a raw log table and return a normalised copy in the canonical schema.

    The input frame is not modified. Rows keep their order; extra columns are kept after the canonical
    ones. ``row_offset`` is added to row numbers in error messages (for chunked reading).

    Example:
        >>> import pandas as pd
        >>> from distillguard.detect.api_logs.schema import validate_logs
        >>> raw = pd.DataFrame({"timestamp": ["2025-01-01T10:00:00+01:00"], "account_id": ["a"],
        ...                     "prompt": ["hi"], "prompt_tokens": ["3"], "completion_tokens": [5]})
        >>> out = validate_logs(raw)
        >>> str(out.loc[0, "timestamp"]), int(out.loc[0, "prompt_tokens"])
        ('2025-01-01 09:00:00+00:00', 3)
    """
    if df is None or len(df.columns) == 0:
        raise _fail(source, "empty file (no columns)")
    df = df.rename(columns={c: str(c).strip() for c in df.columns})
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(map(str, list(df.columns)[:12]))
        raise _fail(source, f"missing required column {missing[0]!r} (found: {found})")
    if len(df) == 0:
        raise _fail(source, "no rows (the file has a header but no data)")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    out["timestamp"] = _parse_timestamps(df["timestamp"].reset_index(drop=True), source, row_offset,
                                         naive_tz, _state)
    acc = df["account_id"].reset_index(drop=True)
    acc_s = acc.astype(object).where(acc.notna(), "").astype(str).str.strip()
    empty = (acc_s == "").to_numpy()
    if empty.any():
        raise _fail(source, f"column 'account_id', row {int(np.flatnonzero(empty)[0]) + 1 + row_offset}: "
                            "missing value")
    out["account_id"] = acc_s
    out["prompt"] = _check_text(df["prompt"].reset_index(drop=True), "prompt", source, row_offset)
    for name in _TOKEN_COLUMNS:
        raw = df[name].reset_index(drop=True)
        num = pd.to_numeric(raw, errors="coerce")
        bad = num.isna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise _fail(source, f"column {name!r}, row {i + 1 + row_offset}: {str(raw.iloc[i])[:40]!r} is "
                                "not a number")
        vals = num.to_numpy(dtype=float)
        neg = vals < 0
        if neg.any():
            i = int(np.flatnonzero(neg)[0])
            raise _fail(source, f"column {name!r}, row {i + 1 + row_offset}: negative token count "
                                f"{vals[i]:g}")
        frac = vals != np.floor(vals)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise _fail(source, f"column {name!r}, row {i + 1 + row_offset}: token count {vals[i]:g} is "
                                "not an integer")
        out[name] = vals.astype(np.int64)
    for name in OPTIONAL_COLUMNS:
        if name not in df.columns:
            continue
        col = df[name].reset_index(drop=True)
        if name == "max_tokens":
            out[name] = pd.to_numeric(col, errors="coerce").astype(float)
        else:
            out[name] = _check_text(col, name, source, row_offset)
    if "request_id" in out.columns:
        rid = out["request_id"]
        dup = (rid != "").to_numpy() & rid.duplicated(keep=False).to_numpy()
        if _state is not None:
            seen: set = _state.setdefault("request_ids", set())
            earlier = rid.isin(seen).to_numpy() & (rid != "").to_numpy()
            if earlier.any():
                i = int(np.flatnonzero(earlier)[0])
                raise _fail(source, f"column 'request_id', row {i + 1 + row_offset}: duplicate request_id "
                                    f"{rid.iloc[i]!r} (also in an earlier chunk)")
            seen.update(rid[rid != ""].tolist())
        if dup.any():
            rows = np.flatnonzero(rid.to_numpy() == rid.iloc[int(np.flatnonzero(dup)[0])])[:2] + 1 + row_offset
            raise _fail(source, f"column 'request_id': duplicate request_id {rid.iloc[rows[0] - 1 - row_offset]!r}"
                                f" in rows {rows[0]} and {rows[1]}")
    for name in df.columns:
        if name not in out.columns:
            out[name] = df[name].reset_index(drop=True)
    return out


def load_logs(
    path: str | Path,
    *,
    fmt: str | None = None,
    naive_tz: str = "UTC",
    encoding_errors: str = "strict",
) -> pd.DataFrame:
    """Read a whole log file (CSV, Parquet or JSONL) and return it validated and normalised.

    Args:
        path: the log file; its format is taken from the suffix unless ``fmt`` is given.
        fmt: ``"csv"``, ``"parquet"`` or ``"jsonl"``.
        naive_tz: the time zone of timestamps that carry no offset (all or none must carry one).
        encoding_errors: ``"strict"`` (non-UTF-8 text is an error) or ``"replace"``.

    Example:
        >>> import tempfile, os
        >>> from distillguard.detect.api_logs.schema import load_logs
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "logs.csv")
        >>> _ = open(p, "w").write("timestamp,account_id,prompt,prompt_tokens,completion_tokens\\n"
        ...                        "2025-01-01T00:00:00Z,a,hello,2,9\\n")
        >>> load_logs(p)["completion_tokens"].tolist()
        [9]
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(str(path), "no such file")
    fmt = _detect_format(path, fmt)
    frames = list(_read_raw(path, fmt, None, encoding_errors))
    return validate_logs(frames[0], source=path.name, naive_tz=naive_tz)


def iter_log_chunks(
    path: str | Path,
    *,
    chunksize: int = 200_000,
    fmt: str | None = None,
    naive_tz: str = "UTC",
    encoding_errors: str = "strict",
) -> Iterator[pd.DataFrame]:
    """Yield validated chunks of a log file too large for memory; checks span chunks.

    Duplicate ``request_id`` values and time-zone mixing are detected across chunks too, and row numbers
    in errors count from the start of the file. An account may span chunks: to compute per-account
    features on such files, write the chunks to a Parquet dataset and use :mod:`.spark`.

    Example:
        >>> import tempfile, os
        >>> from distillguard.detect.api_logs.schema import iter_log_chunks
        >>> d = tempfile.mkdtemp(); p = os.path.join(d, "logs.jsonl")
        >>> rows = ['{"timestamp": "2025-01-01T00:00:0%dZ", "account_id": "a", "prompt": "x", '
        ...         '"prompt_tokens": 1, "completion_tokens": 2}' % i for i in range(5)]
        >>> _ = open(p, "w").write("\\n".join(rows))
        >>> [len(c) for c in iter_log_chunks(p, chunksize=2)]
        [2, 2, 1]
    """
    path = Path(path)
    if not path.is_file():
        raise _fail(str(path), "no such file")
    fmt = _detect_format(path, fmt)
    state: dict = {}
    offset = 0
    n_chunks = 0
    for raw in _read_raw(path, fmt, chunksize, encoding_errors):
        if len(raw) == 0:
            continue
        yield validate_logs(raw, source=path.name, row_offset=offset, naive_tz=naive_tz, _state=state)
        offset += len(raw)
        n_chunks += 1
    if n_chunks == 0:
        raise _fail(str(path), "no rows (the file has a header but no data)")
