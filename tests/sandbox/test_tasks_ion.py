"""Kestra's ION typing as the sandbox writes it (kestra_magic.sandbox.ion), both framings."""
from __future__ import annotations

import datetime as dt
import decimal

import pytest
from amazon.ion import simpleion

from kestra_magic.sandbox import ion

ROW = {
    "i": 9223372036854775808, "s": "text", "f": 166.88999938964844, "d": decimal.Decimal("129.90"),
    "b": True, "n": None, "ts": dt.datetime(2025, 3, 14, 9, 26, 53, 589123, tzinfo=dt.timezone.utc),
    "day": dt.date(2025, 3, 17), "ldt": dt.datetime(2025, 3, 14, 10, 26, 53, 589000),
    "t": dt.time(8, 30), "blob": b"\x00hi", "first name": "Alan", "nested": {"l": [1, "x"]},
}


@pytest.mark.parametrize("generation", [1, 2])
def test_kestra_typing_round_trip(generation):
    data = ion.write_rows([ROW, None, {"i": 2}], generation)
    if generation == 1:
        lines = data.decode().splitlines()
        assert len(lines) == 2 and lines[1] == "{i:2}"
        assert 'ldt:LocalDateTime::"2025-03-14T10:26:53.589"' in lines[0]
        assert "ts:2025-03-14T09:26:53.589Z" in lines[0] and "day:2025-03-17" in lines[0]
        assert "d:129.90" in lines[0] and "'first name':\"Alan\"" in lines[0]
    else:
        assert data.startswith(ion.ION_BINARY_MARKER) and data.count(ion.ION_BINARY_MARKER) == 2
    first, second = simpleion.loads(data, single_value=False)
    assert second["i"] == 2
    assert first["i"] == 9223372036854775808 and first["d"] == decimal.Decimal("129.90")
    assert first["ts"].precision.name == "SECOND" and first["ts"].microsecond == 589000   # ms precision
    assert first["day"].precision.name == "DAY"
    assert ion.annotation(first["ldt"]) == "LocalDateTime" and ion.annotation(first["t"]) == "LocalTime"
    assert bytes(first["blob"]) == b"\x00hi"
    plain = ion.to_python(first)
    assert plain["day"] == dt.date(2025, 3, 17) and plain["n"] is None and plain["nested"] == {"l": [1, "x"]}
    assert plain["ts"] == dt.datetime(2025, 3, 14, 9, 26, 53, 589000, tzinfo=dt.timezone.utc)


def test_single_stream_is_write_all():
    data = ion.write_rows([{"a": 1}, {"a": 2}, {"a": 3}], 2, single_stream=True)
    assert data.count(ion.ION_BINARY_MARKER) == 1
    assert [dict(r) for r in ion.read_rows(data)] == [{"a": 1}, {"a": 2}, {"a": 3}]
    assert ion.write_rows([], 2, single_stream=True) == b"" and ion.read_rows(b"") == []
