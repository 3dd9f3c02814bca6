"""The API-log loader at the boundary (issue 28): token counts, account ids, duplicate columns, undecodable
bytes and timestamps are refused with one line naming file, column and row; and a property: any DataFrame
(or any CSV / JSONL file) either loads valid or is refused with a one-line DistillguardError, never another
exception."""

from __future__ import annotations

import bz2
import datetime as dt
import gzip
import hashlib
import json
import string
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.detect.api_logs.schema import (
    MAX_TOKEN_COUNT,
    OPTIONAL_COLUMNS,
    REQUIRED_COLUMNS,
    iter_log_chunks,
    load_logs,
    validate_logs,
)
from distillguard.errors import DistillguardError

HEADER = "timestamp,account_id,prompt,prompt_tokens,completion_tokens\n"
ROW = "2025-01-01T00:00:00Z,a,hello,3,5\n"


def _write(tmp_path: Path, body: str | bytes, name: str = "logs.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(body if isinstance(body, bytes) else body.encode())
    return p


def _refused(path: Path, *fragments: str, **kw) -> str:
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(DistillguardError) as err:
        load_logs(path, **kw)
    msg = str(err.value)
    assert "\n" not in msg and path.name in msg, msg
    for f in fragments:
        assert f in msg, msg
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    return msg


def _frame(**changes) -> pd.DataFrame:
    base = {"timestamp": ["2025-01-01T00:00:00Z", "2025-01-01T00:00:01Z", "2025-01-01T00:00:02Z"],
            "account_id": ["a", "b", "c"], "prompt": ["x", "y", "z"], "prompt_tokens": [1, 2, 3],
            "completion_tokens": [4, 5, 6]}
    base.update(changes)
    return pd.DataFrame(base)


# ---------------------------------------------------------------- token counts

@pytest.mark.parametrize("value, fragment", [
    ("inf", "'inf' is not finite"),
    ("-inf", "'-inf' is not finite"),
    ("Infinity", "'Infinity' is not finite"),
    ("1e30", "'1e30' is above 10,000,000"),
    ("10000001", "'10000001' is above 10,000,000"),
    ("99999999999999999999999", "is above 10,000,000"),
    ("-3", "negative token count '-3'"),
    ("2.5", "'2.5' is not an integer"),
    ("abc", "'abc' is not a number"),
    ("nan", "'nan' is not a number"),
    ("True", "'True' is not a number"),
    ("1,000", "is not a number"),
    ("", "missing value"),
])
@pytest.mark.parametrize("column", ["prompt_tokens", "completion_tokens"])
def test_csv_token_counts_are_refused_naming_file_column_and_row(tmp_path, value, fragment, column):
    cells = {"prompt_tokens": "3", "completion_tokens": "5", column: f'"{value}"'}
    body = HEADER + ROW + f"2025-01-01T00:00:01Z,b,x,{cells['prompt_tokens']},{cells['completion_tokens']}\n"
    _refused(_write(tmp_path, body), f"column {column!r}, row 2:", fragment)


@pytest.mark.parametrize("value, fragment", [
    ("Infinity", "is not finite"), ("-Infinity", "is not finite"), ("NaN", "missing value"),
    ("1e30", "is above 10,000,000"), ("-3", "negative"), ("2.5", "not an integer"), ('"abc"', "not a number"),
    ("true", "not a number"), ("null", "missing value"), ("[1]", "not a number"), ('{"n": 1}', "not a number"),
])
def test_jsonl_token_counts_are_refused(tmp_path, value, fragment):
    rows = [dict(timestamp="2025-01-01T00:00:00Z", account_id="a", prompt="x", prompt_tokens=1, completion_tokens=2)]
    text = json.dumps(rows[0]) + "\n" + json.dumps(rows[0]).replace('"completion_tokens": 2',
                                                                   f'"completion_tokens": {value}') + "\n"
    _refused(_write(tmp_path, text, "logs.jsonl"), "column 'completion_tokens', row 2:", fragment)


@pytest.mark.parametrize("values, fragment", [
    ([1.0, np.inf, 2.0], "row 2: token count 'inf' is not finite"),
    ([1.0, 1e30, 2.0], "row 2: token count '1e+30' is above"),
    ([1, -3, 2], "row 2: negative token count '-3'"),
    ([1.0, 2.5, 2.0], "row 2: token count '2.5' is not an integer"),
    ([1.0, np.nan, 2.0], "row 2: missing value"),
    (["1", "abc", "2"], "row 2: 'abc' is not a number"),
    ([True, False, True], "row 1: 'True' is not a number"),
    ([1, None, 2], "row 2: missing value"),
    ([np.iinfo(np.int64).max] * 3, "row 1: token count '9223372036854775807' is above"),
    (np.array([2**64 - 1] * 3, dtype=np.uint64), "row 1: token count '18446744073709551615' is above"),
    ([1 + 0j, 2 + 0j, 3 + 0j], "row 1: '(1+0j)' is not a number"),
])
def test_dataframe_token_counts_are_refused(values, fragment):
    with pytest.raises(DistillguardError, match="column 'prompt_tokens', " + fragment.replace("(", r"\(")
                       .replace(")", r"\)").replace("+", r"\+")):
        validate_logs(_frame(prompt_tokens=values))


def test_valid_token_counts_in_every_spelling_become_int64():
    out = validate_logs(_frame(prompt_tokens=["7", " 8 ", "9.0"], completion_tokens=[0.0, 5.0, MAX_TOKEN_COUNT]))
    assert out["prompt_tokens"].tolist() == [7, 8, 9] and out["prompt_tokens"].dtype == np.int64
    assert out["completion_tokens"].tolist() == [0, 5, MAX_TOKEN_COUNT]
    nullable = validate_logs(_frame(prompt_tokens=pd.array([1, 2, 3], dtype="Int64")))
    assert nullable["prompt_tokens"].dtype == np.int64


def test_max_tokens_may_be_missing_but_not_garbage():
    ok = validate_logs(_frame(max_tokens=[np.nan, "4096", None]))
    assert ok["max_tokens"].iloc[1] == 4096 and ok["max_tokens"].isna().tolist() == [True, False, True]
    for bad, fragment in (([1, "inf", 2], "not finite"), ([1, "lots", 2], "not a number"), ([1, -1, 2], "negative")):
        with pytest.raises(DistillguardError, match=f"column 'max_tokens', row 2: .*{fragment}"):
            validate_logs(_frame(max_tokens=bad))


# ---------------------------------------------------------------- account ids

@pytest.mark.parametrize("marker", ["NaN", "nan", "NAN", "None", "null", "NULL", "NA", "N/A", "#N/A", "<NA>",
                                    "NaT", " nan "])
def test_null_marker_account_ids_are_refused_not_merged(tmp_path, marker):
    body = HEADER + ROW + f"2025-01-01T00:00:01Z,{marker},x,1,2\n2025-01-01T00:00:02Z,{marker},y,1,2\n"
    _refused(_write(tmp_path, body), "column 'account_id', row 2:", "reads as a missing value",
             "would merge")


@pytest.mark.parametrize("value, fragment", [
    (None, "row 2: missing value"), (np.nan, "row 2: missing value"), (pd.NA, "row 2: missing value"),
    ("", "row 2: missing value"), ("   ", "row 2: missing value"), (1.0, "row 2: 1.0 is a float"),
    (True, "row 2: True is a boolean"), (["b"], "row 2: a list is not an account id"),
    (b"b", "row 2: a bytes is not an account id"), ({"id": 1}, "row 2: a dict is not an account id"),
])
def test_dataframe_account_ids_missing_or_odd_are_refused(value, fragment):
    with pytest.raises(DistillguardError, match="column 'account_id', " + fragment):
        validate_logs(_frame(account_id=pd.Series(["a", value, "c"], dtype=object)))


def test_float_and_boolean_id_columns_are_refused():
    with pytest.raises(DistillguardError, match="row 1: 1.0 is a float"):
        validate_logs(_frame(account_id=[1.0, 2.0, 3.0]))
    with pytest.raises(DistillguardError, match="holds booleans"):
        validate_logs(_frame(account_id=[True, False, True]))
    with pytest.raises(DistillguardError, match="row 2: missing value"):
        validate_logs(_frame(account_id=pd.array([1, None, 3], dtype="Int64")))
    assert validate_logs(_frame(account_id=pd.array([1, 2, 3], dtype="Int64")))["account_id"].tolist() == ["1", "2", "3"]


def test_integer_ids_are_kept_and_a_number_equal_to_a_string_id_is_refused():
    assert validate_logs(_frame(account_id=[7, 8, 7]))["account_id"].tolist() == ["7", "8", "7"]
    mixed = pd.Series([7, "b", 9], dtype=object)
    assert validate_logs(_frame(account_id=mixed))["account_id"].tolist() == ["7", "b", "9"]
    with pytest.raises(DistillguardError, match=r"the number 7 \(row 1\) and the string '7' \(row 3\) would merge"):
        validate_logs(_frame(account_id=pd.Series([7, "b", "7"], dtype=object)))


def test_jsonl_number_and_string_ids_that_collide_are_refused(tmp_path):
    rows = [{"timestamp": "2025-01-01T00:00:00Z", "account_id": aid, "prompt": "x", "prompt_tokens": 1,
             "completion_tokens": 2} for aid in (12, "a", "12")]
    _refused(_write(tmp_path, "\n".join(map(json.dumps, rows)) + "\n", "logs.jsonl"), "would merge")


def test_literal_ids_that_only_look_odd_are_kept():
    ids = ["nano", "NaN-team", "0", "none_of_them"]
    out = validate_logs(pd.DataFrame({"timestamp": ["2025-01-01T00:00:00Z"] * 4, "account_id": ids,
                                      "prompt": ["x"] * 4, "prompt_tokens": [1] * 4, "completion_tokens": [1] * 4}))
    assert out["account_id"].tolist() == ids


# ---------------------------------------------------------------- duplicate columns

@pytest.mark.parametrize("header, dup", [
    ("timestamp,account_id,prompt,prompt_tokens,completion_tokens,prompt", "prompt"),
    ("timestamp,account_id,account_id,prompt,prompt_tokens,completion_tokens", "account_id"),
    ("timestamp,account_id,prompt,prompt_tokens,completion_tokens,label, label", "label"),
    ("timestamp,account_id,prompt,prompt_tokens,completion_tokens,prompt_tokens", "prompt_tokens"),
])
def test_csv_duplicate_header_is_refused_naming_the_column(tmp_path, header, dup):
    n = header.count(",") + 1
    row = ",".join(["2025-01-01T00:00:00Z", "a"] + ["1"] * (n - 2))
    _refused(_write(tmp_path, header + "\n" + row + "\n"), f"column {dup!r} appears 2 times in the header")


def test_csv_that_pandas_would_rename_is_refused_but_a_real_dot_name_is_fine(tmp_path):
    ok = _write(tmp_path, HEADER.strip() + ",prompt.1\n" + ROW.strip() + ",y\n")
    assert load_logs(ok)["prompt.1"].tolist() == ["y"]


def test_gzipped_csv_duplicate_header_is_refused(tmp_path):
    p = tmp_path / "logs.csv.gz"
    p.write_bytes(gzip.compress((HEADER.strip() + ",prompt\n" + ROW.strip() + ",y\n").encode()))
    _refused(p, "column 'prompt' appears 2 times")


def test_jsonl_duplicate_key_is_refused_naming_line_and_key(tmp_path):
    good = '{"timestamp": "2025-01-01T00:00:00Z", "account_id": "a", "prompt": "x", "prompt_tokens": 1, ' \
           '"completion_tokens": 2}'
    bad = good.replace('"prompt": "x"', '"prompt": "x", "prompt": "y"')
    _refused(_write(tmp_path, good + "\n" + bad + "\n", "logs.jsonl"), "line 2: key 'prompt' appears twice")
    nested = good.replace('"prompt": "x"', '"prompt": "x", "meta": {"k": 1, "k": 2}')
    _refused(_write(tmp_path, nested + "\n", "logs.jsonl"), "line 1: key 'k' appears twice")


def test_parquet_duplicate_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = [["2025-01-01T00:00:00Z"], ["a"], ["x"], [1], [2], ["y"]]
    pq.write_table(pa.table([pa.array(c) for c in cols], names=[*REQUIRED_COLUMNS, "prompt"]),
                   tmp_path / "logs.parquet")
    _refused(tmp_path / "logs.parquet", "column 'prompt' appears 2 times")


def test_dataframe_duplicate_columns_are_refused():
    df = _frame(label=[0, 1, 0])
    dup = pd.concat([df, df[["prompt"]]], axis=1)
    with pytest.raises(DistillguardError, match="column 'prompt' appears 2 times"):
        validate_logs(dup)
    spaced = df.rename(columns={"label": " prompt"})
    with pytest.raises(DistillguardError, match=r"column 'prompt' appears 2 times \(after stripping spaces\)"):
        validate_logs(spaced)
    numbered = pd.DataFrame([[1, 2]], columns=[0, "0"])
    with pytest.raises(DistillguardError, match="column '0' appears 2 times"):
        validate_logs(numbered)


# ---------------------------------------------------------------- undecodable bytes, timestamps

def test_undecodable_bytes_are_named_with_line_and_byte_offset(tmp_path):
    body = HEADER.encode() + ROW.encode() + b"2025-01-01T00:00:01Z,b,caf\xe9,1,2\n"
    offset = len(HEADER) + len(ROW) + len("2025-01-01T00:00:01Z,b,caf")
    msg = _refused(_write(tmp_path, body), "line 3 is not valid UTF-8", f"byte 0xe9 at byte offset {offset}")
    assert "encoding_errors='replace'" in msg


def test_undecodable_bytes_in_jsonl_and_in_compressed_files(tmp_path):
    line = b'{"timestamp": "2025-01-01T00:00:00Z", "account_id": "\xff", "prompt": "x", "prompt_tokens": 1, ' \
           b'"completion_tokens": 2}\n'
    at = line.index(b"\xff")
    _refused(_write(tmp_path, line, "logs.jsonl"), "line 1 is not valid UTF-8", f"byte 0xff at byte offset {at}")
    p = tmp_path / "logs.csv.bz2"
    p.write_bytes(bz2.compress(HEADER.encode() + b"2025-01-01T00:00:00Z,\xc3,x,1,2\n"))
    _refused(p, "line 2 is not valid UTF-8", f"at byte offset {len(HEADER) + 21} of the decompressed data")


@pytest.mark.parametrize("value, fragment", [
    ("yesterday", "row 2: cannot parse 'yesterday'"),
    ("2025-02-30T00:00:00Z", "row 2: cannot parse '2025-02-30T00:00:00Z'"),
    ("", "row 2: missing value"),
    ("12345", "row 2: cannot parse '12345'"),
])
def test_unparsable_timestamps_are_named_with_the_row(tmp_path, value, fragment):
    body = HEADER + ROW + f"{value or ''},b,x,1,2\n"
    if value and not value.endswith("Z"):  # keep the file all-aware so that the parse, not the mix, fails
        body = HEADER + ROW.replace("Z", "") + f"{value},b,x,1,2\n"
    _refused(_write(tmp_path, body), "column 'timestamp'", fragment)


def test_datetime_columns_with_nat_and_dst_gaps_are_refused():
    naive = pd.to_datetime(pd.Series(["2025-01-01 00:00:00", None, "2025-01-01 00:00:02"]))
    with pytest.raises(DistillguardError, match="column 'timestamp', row 2: missing value"):
        validate_logs(_frame(timestamp=naive))
    with pytest.raises(DistillguardError, match="column 'timestamp', row 2: missing value"):
        validate_logs(_frame(timestamp=naive.dt.tz_localize("UTC")))
    gap = ["2025-03-30T01:30:00", "2025-03-30T02:30:00", "2025-03-30T03:30:00"]
    with pytest.raises(DistillguardError, match="row 2: '2025-03-30T02:30:00' does not exist or is ambiguous"):
        validate_logs(_frame(timestamp=gap), naive_tz="Europe/Paris")
    with pytest.raises(DistillguardError, match="unknown time zone"):
        validate_logs(_frame(timestamp=gap), naive_tz="Mars/Olympus")


def test_not_a_dataframe_is_refused():
    with pytest.raises(DistillguardError, match="expected a pandas DataFrame"):
        validate_logs({"timestamp": []})  # type: ignore[arg-type]


def test_chunked_reading_applies_the_same_checks(tmp_path):
    body = HEADER + ROW * 3 + "2025-01-01T00:00:01Z,b,x,1e30,2\n"
    it = iter_log_chunks(_write(tmp_path, body), chunksize=2)
    assert len(next(it)) == 2
    with pytest.raises(DistillguardError, match="column 'prompt_tokens', row 4: token count '1e30' is above"):
        list(it)
    dup = _write(tmp_path, HEADER.strip() + ",prompt\n" + ROW.strip() + ",y\n", "dup.csv")
    with pytest.raises(DistillguardError, match="appears 2 times"):
        list(iter_log_chunks(dup, chunksize=1))


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", b"\x00\x01\x02\x03"])
def test_corrupt_compressed_or_binary_input_is_refused(tmp_path, body):
    p = tmp_path / "logs.csv.gz"
    p.write_bytes(body)
    with pytest.raises(DistillguardError) as err:
        load_logs(p)
    assert "\n" not in str(err.value) and "logs.csv.gz" in str(err.value)


# ---------------------------------------------------------------- properties

def _check_valid(out: pd.DataFrame, n_rows: int) -> None:
    assert len(out) == n_rows
    for c in REQUIRED_COLUMNS:
        assert c in out.columns
    assert list(out.columns[:len(REQUIRED_COLUMNS)]) == list(REQUIRED_COLUMNS)
    assert isinstance(out["timestamp"].dtype, pd.DatetimeTZDtype) and str(out["timestamp"].dt.tz) == "UTC"
    assert not out["timestamp"].isna().any()
    for c in ("prompt_tokens", "completion_tokens"):
        assert out[c].dtype == np.int64
        assert ((out[c] >= 0) & (out[c] <= MAX_TOKEN_COUNT)).all()
    if "max_tokens" in out.columns:
        m = out["max_tokens"].to_numpy(dtype=float)
        assert np.all(np.isnan(m) | ((m >= 0) & (m <= MAX_TOKEN_COUNT) & (m == np.floor(m))))
    acc = out["account_id"].tolist()
    assert all(isinstance(a, str) and a == a.strip() and a and a.lower() not in ("nan", "none", "null")
               for a in acc)
    assert out.columns.is_unique
    for c in ("prompt", *[c for c in OPTIONAL_COLUMNS if c != "max_tokens"]):
        if c in out.columns:
            assert all(isinstance(v, str) for v in out[c].tolist())


def _one_line_error(exc: DistillguardError) -> None:
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg


ODD_STRINGS = st.sampled_from(["", " ", "NaN", "nan", "None", "null", "N/A", "inf", "-inf", "1e30", "-3", "2.5",
                               "abc", "0", "7", " 7 ", "1,000", "0x10", "True", "\ud800", "\x00", "é✓", "a,b",
                               '"', "\n", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00", "2025-13-45",
                               "2025-01-01 10:00:00+02:00", "2025-03-30T02:30:00", "1677-01-01T00:00:00Z",
                               "9999-12-31T00:00:00Z", "99999-01-01T00:00:00Z"])
SCALARS = st.one_of(
    st.none(), st.just(np.nan), st.just(pd.NA), st.just(pd.NaT), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=0, max_value=50),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, 2.5, 1e30, -1.0, float(MAX_TOKEN_COUNT), MAX_TOKEN_COUNT + 1.0]),
    ODD_STRINGS, st.text(max_size=8),
    st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1),
                 timezones=st.sampled_from([None, dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5))])),
    st.lists(st.integers(), max_size=2), st.binary(max_size=3), st.complex_numbers(max_magnitude=10),
    st.decimals(allow_nan=False), st.just(Decimal("NaN")),  # a signalling NaN breaks pandas itself
)
NAMES = st.sampled_from([*REQUIRED_COLUMNS, *REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, " prompt", "label", "x", "0",
                         "prompt.1"])
DTYPES = st.sampled_from([None, None, None, "object", "string", "category", "float64", "Int64", "bool",
                          "datetime64[ns]", "datetime64[ns, UTC]"])


def _good_values(draw, name: str, n: int) -> list:
    """A well-formed column for ``name`` (in one of its accepted spellings)."""
    if name == "timestamp":
        return draw(st.sampled_from([[f"2025-01-01T00:00:{i:02d}Z" for i in range(n)],
                                     [f"2025-06-01 10:00:{i:02d}+02:00" for i in range(n)],
                                     [f"2025-01-01T00:00:{i:02d}" for i in range(n)],
                                     list(pd.date_range("2025-01-01", periods=n, freq="s", tz="UTC")),
                                     list(pd.date_range("2025-01-01", periods=n, freq="s"))]))
    if name == "account_id":
        return draw(st.sampled_from([[f"acct-{i % 2}" for i in range(n)], [i % 3 for i in range(n)],
                                     [f" a{i} " for i in range(n)]]))
    if name in ("prompt_tokens", "completion_tokens", "max_tokens"):
        return draw(st.sampled_from([list(range(n)), [str(i) for i in range(n)], [float(i) for i in range(n)],
                                     [MAX_TOKEN_COUNT] * n]))
    return draw(st.sampled_from([["hi"] * n, [f"v{i}" for i in range(n)], list(range(n)), [None] * n]))


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=5))
    names = draw(st.lists(NAMES, min_size=0, max_size=9))
    near_valid = draw(st.booleans())
    if near_valid:  # a valid frame with a few changes, so that every deep check is reached
        extra = draw(st.lists(st.sampled_from([*OPTIONAL_COLUMNS, "label", "x", "0", "prompt.1", " prompt"]),
                              max_size=3))
        names = list(REQUIRED_COLUMNS) + extra
    n_odd = draw(st.integers(0, 2)) if near_valid else len(names)
    odd = set(draw(st.lists(st.integers(0, max(len(names) - 1, 0)), min_size=n_odd, max_size=n_odd)))
    cols = []
    for j, name in enumerate(names):
        values = _good_values(draw, name, n)
        if j in odd:
            kind = draw(st.integers(0, 2))
            if kind == 0 and n:  # one odd value in an otherwise well-formed column
                values[draw(st.integers(0, n - 1))] = draw(SCALARS)
            elif kind == 1:
                values = draw(st.lists(SCALARS, min_size=n, max_size=n))
        col = pd.Series(values, dtype=object)
        dtype = draw(DTYPES) if j in odd else None
        if dtype is not None:
            try:
                col = col.astype(dtype)
            except Exception:  # noqa: BLE001 - not every value converts; keep the object column
                pass
        elif n:
            col = pd.Series(values)
        cols.append(col.reset_index(drop=True))
    if not cols:
        return pd.DataFrame(index=range(n))
    df = pd.concat(cols, axis=1, ignore_index=True)
    df.columns = names
    if n and draw(st.booleans()):
        df.index = draw(st.permutations(list(range(n))))
    return df


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(df=frames())
def test_any_dataframe_loads_valid_or_is_refused_in_one_line(df):
    before = df.copy(deep=True)
    try:
        out = validate_logs(df, source="frame")
    except DistillguardError as exc:
        _one_line_error(exc)
        assert "frame" in str(exc)
    else:
        _check_valid(out, len(df))
    pd.testing.assert_frame_equal(df, before)  # the input is never modified


CELLS = st.one_of(ODD_STRINGS, st.text(alphabet=string.printable, max_size=6),
                  st.integers(min_value=-(2**66), max_value=2**66).map(str),
                  st.floats().map(repr))
EXTRA = st.lists(st.sampled_from([*OPTIONAL_COLUMNS, "label", "x", "0", "prompt.1", " prompt"]), max_size=2)


def _good_cell(name: str):
    """Well-formed text for a cell of column ``name``."""
    if name == "timestamp":
        return st.integers(0, 59).map(lambda s: f"2025-01-01T00:00:{s:02d}Z")
    if name == "account_id":
        return st.sampled_from(["a", "b", "acct-7", "12"])
    if name in ("prompt_tokens", "completion_tokens", "max_tokens"):
        return st.integers(0, 5000).map(str)
    return st.text(alphabet=string.ascii_letters + " ,\"", max_size=5)


def _cell(name: str, odd_rate: int):
    """Mostly well-formed, one draw in ``odd_rate`` odd."""
    return st.integers(0, odd_rate - 1).flatmap(lambda r: CELLS if r == 0 else _good_cell(name))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(header=st.lists(NAMES, min_size=1, max_size=8), extra=EXTRA, data=st.data(), near_valid=st.booleans())
def test_any_csv_file_loads_valid_or_is_refused_in_one_line(tmp_path_factory, header, extra, data, near_valid):
    import csv
    import io

    if near_valid:
        header = list(REQUIRED_COLUMNS) + extra
    odd_rate = data.draw(st.sampled_from([1, 8, 40])) if near_valid else 1
    width = st.integers(len(header), len(header) + (0 if near_valid else 1))
    rows = data.draw(st.lists(width.flatmap(lambda w: st.tuples(*[_cell(h, odd_rate) for h in header],
                                                                 *[CELLS] * (w - len(header)))), max_size=4))
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    raw = buf.getvalue().encode("utf-8", errors="surrogatepass")
    if data.draw(st.integers(0, 3)) == 0:
        raw = raw + data.draw(st.binary(max_size=6))
    p = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    p.write_bytes(raw)
    try:
        out = load_logs(p)
    except DistillguardError as exc:
        _one_line_error(exc)
    else:
        _check_valid(out, len(out))
        names = [h.strip() for h in header]
        assert len(set(names)) == len(names)  # a duplicated header never loads
    assert p.read_bytes() == raw


JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                        st.floats(), st.text(max_size=6), ODD_STRINGS, st.lists(st.integers(), max_size=2))


def _good_json(name: str):
    if name == "account_id":
        return st.one_of(_good_cell(name), st.integers(0, 3))
    if name in ("prompt_tokens", "completion_tokens", "max_tokens"):
        return st.integers(0, 5000)
    return _good_cell(name)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_jsonl_file_loads_valid_or_is_refused_in_one_line(tmp_path_factory, data):
    n = data.draw(st.integers(1, 4))
    near_valid = data.draw(st.booleans())
    odd_rate = data.draw(st.sampled_from([1, 8, 40])) if near_valid else 1
    lines = []
    for _ in range(n):
        keys = list(REQUIRED_COLUMNS) + data.draw(EXTRA) if near_valid else data.draw(st.lists(NAMES, max_size=8))
        pairs = []
        for k in keys:
            bad = data.draw(st.integers(0, odd_rate - 1)) == 0
            v = data.draw(JSON_VALUES if bad else _good_json(k))
            pairs.append(f"{json.dumps(k)}: {json.dumps(v, allow_nan=True)}")
        lines.append("{" + ", ".join(pairs) + "}")
    raw = ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")
    p = tmp_path_factory.mktemp("jsonl") / "fuzz.jsonl"
    p.write_bytes(raw)
    try:
        out = load_logs(p)
    except DistillguardError as exc:
        _one_line_error(exc)
    else:
        _check_valid(out, len(out))
    assert p.read_bytes() == raw
