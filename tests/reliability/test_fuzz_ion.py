"""Property-based tests over the ION reader (kestra_magic.frames.read_ion): arbitrary bytes end
in a DataFrame or a one-line KestraError (never another exception, never a hang), and Kestra-shaped
rows read the same from text Ion (1.x, the fast path) as from binary Ion (2.x, one version marker
per row) as the values that were written."""
from __future__ import annotations

import datetime as dt
import decimal
import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_magic.errors import KestraError

FUZZ = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))

_ion_bits = st.sampled_from([b"{", b"}", b"[", b"]", b"(", b")", b",", b":", b"::", b"\n", b" ", b'"', b"'",
                             b"'''", b"\\", b"a", b"id", b"1", b"-", b"1.5", b"2e0", b"1d2", b"null", b"null.int",
                             b"true", b"2024-01-01T", b"2024-01-01T10:00:00Z", b"LocalDateTime", b"\xe0\x01\x00\xea",
                             b"/*", b"*/", b"//", b"$ion_1_0", b"{{", b"}}", b"\x00", b"\xff", "é".encode()])
_garbage = st.lists(_ion_bits | st.binary(max_size=6), max_size=40).map(b"".join)


@FUZZ
@given(_garbage)
def test_arbitrary_bytes_end_in_a_frame_or_a_kestra_error(data):
    from kestra_magic.frames import read_ion
    try:
        frame = read_ion(data)
    except KestraError as err:
        assert str(err) and "\n" not in str(err)
        return
    assert isinstance(frame, pd.DataFrame)


_key = st.sampled_from(["id", "name", "amount", "day", "ts", "note", "flag", "price", "q u o"])
_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["a::b", "{x:1}", "'q'", '"', "\\", "1e0", "null", "LocalDateTime::\"x\"", "2024-01-01T00:00:00Z", "\n", "}{"])
_value = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**53, max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64), _text,
    st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-10**6, max_value=10**6),
    st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1),
                 timezones=st.just(dt.timezone.utc)))
# Kestra writes the same fields in every row; a column holds one type (or null)
_schema = st.dictionaries(_key, st.sampled_from(["int", "float", "str", "bool", "dec", "ts"]), min_size=1, max_size=5)


def _rows(draw_schema, n_rows):
    gens = {"int": st.integers(min_value=-2**53, max_value=2**53), "float":
            st.floats(allow_nan=False, allow_infinity=False), "str": _text, "bool": st.booleans(),
            "dec": st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10**6, max_value=10**6),
            "ts": st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2100, 1, 1),
                               timezones=st.just(dt.timezone.utc))}
    return st.lists(st.fixed_dictionaries({k: st.none() | gens[t] for k, t in draw_schema.items()}),
                    min_size=1, max_size=n_rows)


@st.composite
def kestra_rows(draw):
    return draw(_rows(draw(_schema), 6))


def _ion(rows, binary: bool) -> bytes:
    from amazon.ion import simpleion
    from amazon.ion.core import IonType
    from amazon.ion.simple_types import IonPyNull

    def typed(v):
        if v is None:
            return IonPyNull.from_value(IonType.NULL, None)
        return v
    if binary:   # 2.x: one binary stream (with its version marker) per row
        return b"".join(simpleion.dumps({k: typed(v) for k, v in r.items()}, binary=True) for r in rows)
    return "\n".join(simpleion.dumps({k: typed(v) for k, v in r.items()}, binary=False,
                                     omit_version_marker=True) for r in rows).encode() + b"\n"


def _same(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT:
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT or b is pd.NA
    if isinstance(b, pd.Timestamp):
        b = b.to_pydatetime()
    if isinstance(a, dt.datetime):
        return isinstance(b, dt.datetime) and abs((a - b.replace(tzinfo=b.tzinfo or dt.timezone.utc)).total_seconds()) < 1e-3
    if isinstance(a, decimal.Decimal):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-9)
    if isinstance(a, float):
        return math.isclose(a, float(b), rel_tol=1e-12, abs_tol=0.0) or a == float(b)
    if isinstance(a, bool):
        return bool(b) == a
    if isinstance(a, int):
        return int(b) == a
    return a == b


@FUZZ
@given(kestra_rows())
def test_text_and_binary_ion_read_back_the_written_values(rows):
    from kestra_magic.frames import read_ion
    text = read_ion(_ion(rows, binary=False))
    binary = read_ion(_ion(rows, binary=True))
    for frame, kind in ((text, "text (1.x)"), (binary, "binary (2.x)")):
        assert list(frame.columns) == list(rows[0]), kind
        assert len(frame) == len(rows), kind
        for col in frame.columns:
            for i, row in enumerate(rows):
                got = frame[col].iloc[i]
                assert _same(row[col], got), f"{kind}: row {i} column {col!r}: wrote {row[col]!r}, read {got!r}"
