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
  A timestamp that is missing, unparsable, or does not exist in ``naive_tz`` (a daylight-saving gap) is an
  error naming its row.
* text must be UTF-8. By default a non-UTF-8 byte is an error naming its line and its byte offset in the
  file (in the decompressed data for ``.gz``/``.bz2``/...); pass ``encoding_errors="replace"`` to read such
  bytes as U+FFFD instead.
* token counts (``prompt_tokens``, ``completion_tokens`` and, where given, ``max_tokens``) must be finite
  integers in ``0 ..`` :data:`MAX_TOKEN_COUNT` (10,000,000): ``inf``, ``1e30``, ``-3``, ``2.5``, ``"abc"``,
  ``true`` and a missing value are refused (``max_tokens`` alone may be missing: not given). Integral floats
  and numeric strings (``5.0``, ``"7"``) are accepted.
* account ids must be strings or integers. Missing ids (empty, ``None``, NaN) are refused, and so are strings
  that read as a missing-value marker (``NaN``, ``nan``, ``None``, ``null``, ``NA``, ``N/A``, ``#N/A``,
  ``<NA>``, ``NaT``, any case): they are what an export writes for a lost id, and keeping them would merge
  distinct accounts into one account silently. Float ids (``1.0``: digits may be lost), booleans and other
  objects are refused, and so is an integer id that equals a string id of another row (``1`` and ``"1"``
  would merge). Ids are stripped of surrounding spaces.
* column names must be unique (after stripping spaces): a CSV header, a JSONL object or a DataFrame with a
  repeated column is refused naming the column (pandas would otherwise rename or drop it silently).
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

from distillguard.detect.api_logs.log_files import _detect_format, _fail, _read_raw, _refuse_duplicates
from distillguard.errors import DistillguardError

__all__ = [
    "CANONICAL_COLUMNS",
    "MAX_TOKEN_COUNT",
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
#: The largest token count accepted in a log (one request of ten million tokens is already far beyond any
#: context window; larger values are corrupt or overflowed counts).
MAX_TOKEN_COUNT = 10_000_000
#: Account ids that read as a missing value (compared case-insensitively after stripping spaces).
_NULL_MARKERS = frozenset({"nan", "-nan", "none", "null", "na", "n/a", "#n/a", "<na>", "nat"})
_TZ_SUFFIX = re.compile(r"(?:[Zz]|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$")


def _parse_timestamps(col: pd.Series, source: str, row_offset: int, naive_tz: str,
                      state: dict | None) -> pd.Series:
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        out = col.dt.tz_convert("UTC")
        mode = "aware"
        _refuse_missing_times(out, col, source, row_offset)
    elif pd.api.types.is_datetime64_dtype(col.dtype):
        _refuse_missing_times(col, col, source, row_offset)
        out = _localize(col, naive_tz, col, source, row_offset)
        mode = "naive"
    else:
        if pd.api.types.is_numeric_dtype(col.dtype):
            raise _fail(source, "column 'timestamp' is numeric; give ISO-8601 strings (e.g. "
                                "2025-01-31T12:00:00Z) so that the unit and time zone are explicit")
        text = _as_string(col).str.strip()
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
            _refuse_missing_times(out, col, source, row_offset)
            out = _localize(out, naive_tz, col, source, row_offset)
        _refuse_missing_times(out, col, source, row_offset)
    if state is not None:
        prev = state.setdefault("tz_mode", mode)
        if prev != mode:
            raise _fail(source, f"column 'timestamp' mixes time zones across chunks: rows before "
                                f"{row_offset + 1} are {prev}, later rows are {mode}")
    try:
        return out.astype("datetime64[ns, UTC]")
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        raise _fail(source, "column 'timestamp': a time outside the years 1677-2262 (check the unit)") from None


def _as_string(col: pd.Series) -> pd.Series:
    """``col`` as pandas strings (missing stays missing); bytes become their ``repr`` and never parse."""
    try:
        return col.astype("string")
    except (UnicodeDecodeError, TypeError, ValueError):  # bytes that are not UTF-8, odd objects
        obj = col.astype(object)
        return obj.map(lambda v: v if isinstance(v, str) or pd.api.types.is_scalar(v) and pd.isna(v)
                       else repr(v)).astype("string")


def _refuse_missing_times(parsed: pd.Series, raw: pd.Series, source: str, row_offset: int) -> None:
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = raw.iloc[i]
        if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
            raise _fail(source, f"column 'timestamp', row {i + 1 + row_offset}: missing value")
        raise _fail(source, f"column 'timestamp', row {i + 1 + row_offset}: cannot parse "
                            f"{str(value)[:60]!r} as an ISO-8601 timestamp")


def _localize(naive: pd.Series, naive_tz: str, raw: pd.Series, source: str, row_offset: int) -> pd.Series:
    """Naive times read in ``naive_tz``, then UTC; a time in a daylight-saving gap or overlap is refused."""
    try:
        local = naive.dt.tz_localize(naive_tz, nonexistent="NaT", ambiguous="NaT")
    except Exception as exc:  # pytz/zoneinfo: an unknown zone name
        raise _fail(source, f"unknown time zone naive_tz={naive_tz!r} ({type(exc).__name__})") from None
    bad = local.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise _fail(source, f"column 'timestamp', row {i + 1 + row_offset}: {str(raw.iloc[i])[:60]!r} does not "
                            f"exist or is ambiguous in {naive_tz} (a daylight-saving change; give a UTC offset)")
    return local.dt.tz_convert("UTC")


def _account_ids(col: pd.Series, source: str, row_offset: int) -> pd.Series:
    """Account ids as stripped strings; missing, null-marker, float, boolean and object ids refused."""
    def fail(i: int, what: str) -> DistillguardError:
        return _fail(source, f"column 'account_id', row {i + 1 + row_offset}: {what}")

    dt = col.dtype
    if dt.kind in "iu" and not col.isna().any():  # integers (nullable ones with a gap go the long way)
        return col.astype(str)
    if dt.kind == "b":
        raise _fail(source, "column 'account_id' holds booleans, not account ids")
    obj = col.astype(object)
    missing = obj.isna().to_numpy()
    kinds = np.fromiter((0 if isinstance(v, str) else
                         1 if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)) else 2
                         for v in obj.tolist()), dtype=np.int8, count=len(obj))
    other = (kinds == 2) & ~missing
    text = obj.where(kinds < 2, "?").where(~missing, "").astype(str).str.strip()  # others are refused below
    empty = missing | (text == "").to_numpy()
    marker = text.str.lower().isin(_NULL_MARKERS).to_numpy()
    bad = empty | marker | other
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        if empty[i]:
            raise fail(i, "missing value")
        if marker[i]:
            raise fail(i, f"{text.iloc[i]!r} reads as a missing value, not an account id (distinct accounts "
                          "would merge into one; export the real ids)")
        v = obj.iloc[i]
        if isinstance(v, (float, np.floating)):
            raise fail(i, f"{v} is a float (digits may be lost); give account ids as strings or integers")
        if isinstance(v, (bool, np.bool_)):
            raise fail(i, f"{v} is a boolean, not an account id")
        raise fail(i, f"a {type(v).__name__} is not an account id (give strings or integers)")
    if (kinds == 1).any() and (kinds == 0).any():  # 7 and "7" would merge silently
        ints = set(text[kinds == 1].tolist())
        clash = text.isin(ints).to_numpy() & (kinds == 0)
        if clash.any():
            j = int(np.flatnonzero(clash)[0])
            i = int(np.flatnonzero((text == text.iloc[j]).to_numpy() & (kinds == 1))[0])
            raise _fail(source, f"column 'account_id': the number {obj.iloc[i]} (row {i + 1 + row_offset}) and "
                                f"the string {obj.iloc[j]!r} (row {j + 1 + row_offset}) would merge into one "
                                "account; give ids one type")
    return text


def _token_counts(raw: pd.Series, name: str, source: str, row_offset: int, *, allow_missing: bool = False
                  ) -> np.ndarray:
    """Finite integer counts in ``0 .. MAX_TOKEN_COUNT`` as float (NaN where missing and allowed)."""
    if raw.dtype.kind in "iuf":
        vals = raw.to_numpy(dtype=float, na_value=np.nan)
        missing = np.isnan(vals)
        not_number = np.zeros(len(vals), dtype=bool)
    else:  # strings, objects, booleans, categories, ...: parsed from their text
        obj = raw.astype(object)
        text = _as_string(obj).str.strip()
        missing = (obj.isna() | text.isna() | (text == "")).to_numpy(dtype=bool)
        vals = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        not_number = np.isnan(vals) & ~missing
    with np.errstate(invalid="ignore"):
        finite = np.isfinite(vals)
        infinite = ~finite & ~np.isnan(vals)
        negative = finite & (vals < 0)
        too_big = finite & (vals > MAX_TOKEN_COUNT)
        fraction = finite & ~negative & ~too_big & (vals != np.floor(vals))
    bad = not_number | infinite | negative | too_big | fraction | (missing & (not allow_missing))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"column {name!r}, row {i + 1 + row_offset}:"
        v = str(raw.iloc[i])[:40]
        if missing[i]:
            raise _fail(source, f"{where} missing value")
        if not_number[i]:
            raise _fail(source, f"{where} {v!r} is not a number")
        if infinite[i]:
            raise _fail(source, f"{where} token count {v!r} is not finite")
        if negative[i]:
            raise _fail(source, f"{where} negative token count {v!r}")
        if too_big[i]:
            raise _fail(source, f"{where} token count {v!r} is above {MAX_TOKEN_COUNT:,} (a corrupt or "
                                "overflowed value?)")
        raise _fail(source, f"{where} token count {v!r} is not an integer")
    return vals


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_text(col: pd.Series, name: str, source: str, row_offset: int) -> pd.Series:
    obj = col.astype(object).where(col.notna(), "")
    try:
        out = obj.astype(str)
    except UnicodeDecodeError:  # a bytes value that is not UTF-8
        i = next(i for i, v in enumerate(obj.tolist()) if isinstance(v, bytes) and not _utf8(v))
        raise _fail(source, f"column {name!r}, row {i + 1 + row_offset}: bytes that are not valid UTF-8") from None
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
        >>> validate_logs(raw.assign(completion_tokens=[float("inf")]))
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: logs: column 'completion_tokens', row 1: token count 'inf' is not finite
        >>> validate_logs(raw.assign(account_id=["NaN"]))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        distillguard.errors.DistillguardError: logs: column 'account_id', row 1: 'NaN' reads as a missing value, ...
    """
    if df is None:
        raise _fail(source, "empty file (no columns)")
    if not isinstance(df, pd.DataFrame):
        raise _fail(source, f"expected a pandas DataFrame, got a {type(df).__name__}")
    if len(df.columns) == 0:
        raise _fail(source, "empty file (no columns)")
    names = [str(c).strip() for c in df.columns]
    _refuse_duplicates(names, source, "(after stripping spaces)" if len(set(map(str, df.columns))) == len(names)
                       else "")
    df = df.set_axis(names, axis=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        found = ", ".join(map(str, list(df.columns)[:12]))
        raise _fail(source, f"missing required column {missing[0]!r} (found: {found})")
    if len(df) == 0:
        raise _fail(source, "no rows (the file has a header but no data)")
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    out["timestamp"] = _parse_timestamps(df["timestamp"].reset_index(drop=True), source, row_offset,
                                         naive_tz, _state)
    out["account_id"] = _account_ids(df["account_id"].reset_index(drop=True), source, row_offset)
    out["prompt"] = _check_text(df["prompt"].reset_index(drop=True), "prompt", source, row_offset)
    for name in _TOKEN_COLUMNS:
        vals = _token_counts(df[name].reset_index(drop=True), name, source, row_offset)
        out[name] = vals.astype(np.int64)
    for name in OPTIONAL_COLUMNS:
        if name not in df.columns:
            continue
        col = df[name].reset_index(drop=True)
        if name == "max_tokens":
            out[name] = _token_counts(col, name, source, row_offset, allow_missing=True)
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
