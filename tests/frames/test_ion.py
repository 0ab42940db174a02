"""ION -> DataFrame: Kestra's typing rules on hand-written text ION and on binary ION written by
amazon.ion the way Kestra 2.x does (one version marker per row), through both parsers."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from amazon.ion import simpleion
from amazon.ion.core import IonType, Timestamp, TimestampPrecision
from amazon.ion.simple_types import IonPyNull, IonPyText

from kestra_magic.errors import KestraError
from kestra_magic.frames import ion, ion_text, read_ion

UTC = dt.timezone.utc

KESTRA_TEXT = (
    '{id:1,name:"Alice",price:129.90,score:166.88999938964844e0,ok:true,'
    'ts:2025-03-14T09:26:53.589Z,day:2025-03-17,ldt:LocalDateTime::"2025-03-14T10:26:53.589",'
    'zdt:ZonedDateTime::"2025-03-14T10:26:53+01:00[Europe/Paris]",odt:OffsetDateTime::"2025-03-14T10:26:53+02:00",'
    'lt:LocalTime::"08:30:00",maybe:null.decimal,blob:{{SGVsbG8=}},nested:{a:1,b:"x"},tags:"t1"}\n'
    '{id:2,name:"Bob é 😀",price:100.000000,score:-1.5e0,ok:false,'
    'ts:2025-03-15T00:00:00.000Z,day:2025-12-31,ldt:LocalDateTime::"2025-03-15T23:59:59",'
    'zdt:ZonedDateTime::"2025-07-01T08:00:00+02:00[Europe/Paris]",odt:OffsetDateTime::"2025-03-14T10:26:53-05:00",'
    'lt:LocalTime::"23:15:30.5",maybe:3.25,blob:{{AAH/}},nested:{a:2,b:null},tags:"t2"}\n'
).encode()


def _check_kestra_frame(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["id", "name", "price", "score", "ok", "ts", "day", "ldt", "zdt", "odt",
                                "lt", "maybe", "blob", "nested", "tags"]
    assert df["id"].dtype == np.int64 and df["id"].tolist() == [1, 2]
    assert df["name"].tolist() == ["Alice", "Bob é 😀"]
    assert df["price"].dtype == np.float64 and df["price"].tolist() == [129.9, 100.0]
    assert df["score"].dtype == np.float64 and df["score"].tolist() == [166.88999938964844, -1.5]
    assert df["ok"].dtype == bool and df["ok"].tolist() == [True, False]
    assert str(df["ts"].dtype) == "datetime64[us, UTC]"
    assert df["ts"][0] == pd.Timestamp("2025-03-14T09:26:53.589Z")
    assert str(df["day"].dtype) == "datetime64[us]"
    assert df["day"].tolist() == [pd.Timestamp("2025-03-17"), pd.Timestamp("2025-12-31")]
    assert str(df["ldt"].dtype) == "datetime64[us]"
    assert df["ldt"][0] == pd.Timestamp("2025-03-14T10:26:53.589")
    assert str(df["zdt"].dtype) == "datetime64[us, Europe/Paris]"     # one region: kept
    assert df["zdt"][1] == pd.Timestamp("2025-07-01T06:00:00Z")
    assert df["zdt"][0].hour == 10
    assert str(df["odt"].dtype) == "datetime64[us, UTC]"
    assert df["odt"].tolist() == [pd.Timestamp("2025-03-14T08:26:53Z"), pd.Timestamp("2025-03-14T15:26:53Z")]
    assert df["lt"].tolist() == [dt.time(8, 30), dt.time(23, 15, 30, 500000)]
    assert df["maybe"].dtype == np.float64 and np.isnan(df["maybe"][0]) and df["maybe"][1] == 3.25
    assert df["blob"].tolist() == [b"Hello", b"\x00\x01\xff"]
    assert df["nested"].tolist() == [{"a": 1, "b": "x"}, {"a": 2, "b": None}]
    assert df["tags"].tolist() == ["t1", "t2"]


def _binary_per_row(rows: list) -> bytes:
    """Kestra 2.x framing: every row its own binary stream with its own version marker."""
    return b"".join(simpleion.dumps(r, binary=True) for r in rows)


def _ann(name: str, text: str) -> IonPyText:
    return IonPyText.from_value(IonType.STRING, text, (name,))


def _ts(*a, tz=UTC, ms=True) -> Timestamp:
    return Timestamp(*a, tz, precision=TimestampPrecision.SECOND, fractional_precision=3 if ms else None)


def _day(y, m, d) -> Timestamp:
    return Timestamp(y, m, d, precision=TimestampPrecision.DAY)


def _kestra_rows() -> list[dict]:
    return [
        {"id": 1, "name": "Alice", "price": Decimal("129.90"), "score": 166.88999938964844, "ok": True,
         "ts": _ts(2025, 3, 14, 9, 26, 53, 589000), "day": _day(2025, 3, 17),
         "ldt": _ann("LocalDateTime", "2025-03-14T10:26:53.589"),
         "zdt": _ann("ZonedDateTime", "2025-03-14T10:26:53+01:00[Europe/Paris]"),
         "odt": _ann("OffsetDateTime", "2025-03-14T10:26:53+02:00"), "lt": _ann("LocalTime", "08:30:00"),
         "maybe": IonPyNull.from_value(IonType.DECIMAL, None), "blob": b"Hello",
         "nested": {"a": 1, "b": "x"}, "tags": IonPyText.from_value(IonType.SYMBOL, "t1")},
        {"id": 2, "name": "Bob é 😀", "price": Decimal("100.000000"), "score": -1.5, "ok": False,
         "ts": _ts(2025, 3, 15, 0, 0, 0, 0), "day": _day(2025, 12, 31),
         "ldt": _ann("LocalDateTime", "2025-03-15T23:59:59"),
         "zdt": _ann("ZonedDateTime", "2025-07-01T08:00:00+02:00[Europe/Paris]"),
         "odt": _ann("OffsetDateTime", "2025-03-14T10:26:53-05:00"), "lt": _ann("LocalTime", "23:15:30.5"),
         "maybe": Decimal("3.25"), "blob": b"\x00\x01\xff", "nested": {"a": 2, "b": None},
         "tags": IonPyText.from_value(IonType.SYMBOL, "t2")},
    ]


def test_kestra_text_ion_every_typing_rule():
    assert ion_text.to_rows(KESTRA_TEXT) is not None       # the fast path takes Kestra's shape
    _check_kestra_frame(read_ion(KESTRA_TEXT))


def test_text_fast_path_and_amazon_ion_agree():
    slow = ion.rows_frame(ion._amazon_ion_rows(KESTRA_TEXT))
    _check_kestra_frame(slow)
    pd.testing.assert_frame_equal(read_ion(KESTRA_TEXT), slow)


def test_binary_ion_one_version_marker_per_row():
    data = _binary_per_row(_kestra_rows())
    assert data.count(ion.BINARY_MARKER) == 2 and ion.is_binary_ion(data)
    _check_kestra_frame(read_ion(data))


def test_binary_single_stream_and_text_written_by_amazon_ion():
    rows = _kestra_rows()
    stream = simpleion.dumps(rows, binary=True, sequence_as_stream=True)
    assert stream.count(ion.BINARY_MARKER) == 1
    _check_kestra_frame(read_ion(stream))
    text = simpleion.dumps(rows, binary=False, sequence_as_stream=True).encode()
    _check_kestra_frame(read_ion(text))


def test_binary_never_split_on_newlines():
    # 0x0A bytes inside binary values must not be taken for row separators
    rows = [{"n": 10, "s": "a\nb", "blob": b"\n\n\n"}, {"n": 2570, "s": "\n", "blob": b"x\ny"}]
    df = read_ion(_binary_per_row(rows))
    assert df["n"].tolist() == [10, 2570]
    assert df["s"].tolist() == ["a\nb", "\n"]
    assert df["blob"].tolist() == [b"\n\n\n", b"x\ny"]


def test_typed_nulls_become_missing_with_nullable_dtypes():
    text = (b'{i:1,b:true,s:"x",f:1.5e0,t:2025-01-01T00:00:00Z}\n'
            b'{i:null.int,b:null.bool,s:null.string,f:null.float,t:null.timestamp}\n'
            b'{i:3,b:false,s:null,f:null,t:null}\n')
    for data in (text, _binary_per_row(list(simpleion.loads(text, single_value=False)))):
        df = read_ion(data)
        assert str(df["i"].dtype) == "Int64" and df["i"].tolist()[0] == 1 and df["i"].isna().tolist() == [False, True, False]
        assert str(df["b"].dtype) == "boolean" and df["b"].tolist() == [True, pd.NA, False]
        assert df["s"].isna().tolist() == [False, True, True] and df["s"][0] == "x"
        assert df["f"].dtype == np.float64 and df["f"].isna().sum() == 2
        assert str(df["t"].dtype) == "datetime64[us, UTC]" and df["t"].isna().sum() == 2


def test_decimals_kept_exact_on_request():
    text = b'{d:129.90,e:6960d0,f:5.}\n{d:0.1,e:1d-3,f:-2.}\n'
    df = read_ion(text)
    assert df["d"].dtype == np.float64 and df["d"].tolist() == [129.9, 0.1]
    assert df["e"].tolist() == [6960.0, 0.001] and df["f"].tolist() == [5.0, -2.0]
    exact = read_ion(text, keep_decimal=True)
    assert exact["d"].dtype == object and exact["d"].tolist() == [Decimal("129.90"), Decimal("0.1")]
    assert exact["e"].tolist() == [Decimal("6960"), Decimal("0.001")]


def test_empty_and_blank_files_give_empty_frames():
    for data in (b"", b"\n\n  \n", b"$ion_1_0\n", ion.BINARY_MARKER):
        df = read_ion(data)
        assert isinstance(df, pd.DataFrame) and df.empty


def test_list_rows_become_positional_columns():
    text = b'["119736","FL",1.5e0]\n["448094","TX",null]\n'
    df = read_ion(text)
    assert list(df.columns) == [0, 1, 2]
    assert df[0].tolist() == ["119736", "448094"] and df[2].tolist()[0] == 1.5 and np.isnan(df[2][1])


def test_nested_structs_flattened_on_request():
    text = b'{id:1,geo:{lat:1.5e0,city:{name:"Paris"}}}\n{id:2,geo:{lat:2.5e0,city:{name:"Lyon"}}}\n'
    kept = read_ion(text)
    assert kept["geo"][0] == {"lat": 1.5, "city": {"name": "Paris"}}
    flat = read_ion(text, flatten=True)
    assert list(flat.columns) == ["id", "geo.lat", "geo.city.name"]
    assert flat["geo.lat"].dtype == np.float64 and flat["geo.city.name"].tolist() == ["Paris", "Lyon"]


def test_symbols_quoted_field_names_and_excel_formulas():
    text = b"{'first name':\"Alan\",county:'Formula:UPPER(\"clay county\")',n:1}\n"
    df = read_ion(text)
    assert list(df.columns) == ["first name", "county", "n"]
    assert df["county"][0] == 'Formula:UPPER("clay county")'


def test_big_ints_kept_exact():
    df = read_ion(b"{n:9223372036854775808}\n{n:1}\n")
    assert df["n"].tolist() == [9223372036854775808, 1]


def test_mixed_offsets_and_unknown_annotations():
    text = (b'{z:ZonedDateTime::"2025-01-01T10:00:00+01:00[Europe/Paris]",x:Custom::"keep me"}\n'
            b'{z:ZonedDateTime::"2025-01-01T10:00:00-05:00[America/New_York]",x:Custom::"me too"}\n')
    df = read_ion(text)
    assert str(df["z"].dtype) == "datetime64[us, UTC]"
    assert df["z"].tolist() == [pd.Timestamp("2025-01-01T09:00Z"), pd.Timestamp("2025-01-01T15:00Z")]
    assert df["x"].tolist() == ["keep me", "me too"]


def test_constructs_outside_the_fast_path_fall_back_correctly():
    cases = [
        b'{a:1, b:"x"}\n',                       # whitespace inside rows
        b'{\n  a:1,\n  b:"x"\n}\n',              # pretty-printed
        b'// a comment\n{a:1,b:"x"}\n',           # comment
        b'{a:1,b:"x"} {a:2,b:"y"}\n',             # two rows on one line
        b"{a:1,b:'''x'''}\n",                     # long string
    ]
    for data in cases:
        df = read_ion(data)
        assert df["a"].tolist()[0] == 1 and df["b"].tolist()[0] == "x", data
    assert ion_text.to_rows(cases[0]) is None


def test_string_escapes_and_tricky_contents():
    text = (b'{s:"a\\"b,c:d}\\n{x:1}",t:"\\u00e9\\t",u:"::",v:"}\\n{"}\n'
            b'{s:"plain",t:"\\x41",u:"x",v:"y"}\n')
    df = read_ion(text)
    assert df["s"].tolist() == ['a"b,c:d}\n{x:1}', "plain"]
    assert df["t"].tolist() == ["é\t", "A"]
    assert df["u"].tolist() == ["::", "x"] and df["v"].tolist() == ["}\n{", "y"]


def test_invalid_ion_is_a_one_line_error():
    with pytest.raises(KestraError) as err:
        read_ion(b"{a:1,,}\n")
    assert "\n" not in str(err.value) and "ION" in str(err.value)


def test_large_file_both_framings_and_paths_agree():
    r = random.Random(7)
    rows = [{"id": i, "name": f"n{i}", "price": Decimal(r.randrange(10**6)).scaleb(-2),
             "ts": _ts(2025, 1, 1 + i % 28, i % 24, i % 60, i % 60, (i % 1000) * 1000),
             "day": _day(2025, 1 + i % 12, 1 + i % 28), "ldt": _ann("LocalDateTime", f"2025-02-03T04:05:{i % 60:02d}"),
             "maybe": None if i % 3 == 0 else Decimal(i).scaleb(-3)} for i in range(10000)]
    text = ("\n".join(simpleion.dumps(row, binary=False, omit_version_marker=True) for row in rows) + "\n").encode()
    fast = read_ion(text)
    assert len(fast) == 10000 and ion_text.to_rows(text) is not None
    slow = ion.rows_frame(ion._amazon_ion_rows(text))
    pd.testing.assert_frame_equal(fast, slow)
    pd.testing.assert_frame_equal(read_ion(_binary_per_row(rows)), fast)
    assert fast["price"][5] == float(rows[5]["price"]) and fast["maybe"].isna().sum() == 3334
    assert fast["ts"][1] == pd.Timestamp("2025-01-02T01:01:01.001Z")


def test_pyarrow_and_json_module_paths_agree(monkeypatch):
    r = random.Random(3)
    lines = [f'{{id:{i},name:"n{i}",x:{r.random():.17f}e0,d:{r.randrange(10**6)}.{r.randrange(100):02d},'
             f'ts:2025-01-0{1 + i % 9}T00:00:0{i % 10}.{i % 1000:03d}Z,day:2025-02-{1 + i % 28:02d},'
             f'ok:{"true" if i % 2 else "null"},ldt:LocalDateTime::"2025-01-01T00:00:{i % 60:02d}"}}'
             for i in range(3000)]
    data = ("\n".join(lines) + "\n").encode()
    with_arrow = read_ion(data)
    assert ion._arrow_frame(ion_text.to_jsonl(data)) is not None        # pyarrow took it
    monkeypatch.setattr(ion, "_arrow_frame", lambda body: None)
    with_json = read_ion(data)
    pd.testing.assert_frame_equal(with_arrow, with_json)
    pd.testing.assert_frame_equal(with_arrow, ion.rows_frame(ion._amazon_ion_rows(data)))
    assert str(with_arrow["ok"].dtype) == "boolean" and with_arrow["ok"].isna().sum() == 1500


def test_fast_path_guards_keep_values_exact():
    # strings that look like dates stay strings (pyarrow would infer timestamps)
    df = read_ion(b'{s:"2025-01-01",d:2025-01-01}\n{s:"2025-01-02",d:2025-01-02}\n')
    assert df["s"].tolist() == ["2025-01-01", "2025-01-02"] and str(df["d"].dtype) == "datetime64[us]"
    # an int too big for a double's mantissa is not rounded
    assert read_ion(b"{n:1}\n{n:9007199254740993}\n")["n"].tolist() == [1, 9007199254740993]
    # a column mixing kinds keeps each value
    assert read_ion(b'{a:1}\n{a:"x"}\n{a:2025-01-01T00:00:00Z}\n')["a"].tolist() == [
        1, "x", pd.Timestamp("2025-01-01T00:00:00Z")]
    # rows with different fields: the union of columns, missing -> NA
    df = read_ion(b'{a:1,b:"x"}\n{a:2,c:true}\n')
    assert list(df.columns) == ["a", "b", "c"] and pd.isna(df["b"][1]) and pd.isna(df["c"][0])


def test_infer_types_for_csv_origin_ion():
    text = b'{a:"1",b:"2.5",c:"true",d:"x",e:"2025-01-01",g:"07"}\n{a:"20",b:"3",c:"False",d:"1",e:null,g:null}\n'
    plain = read_ion(text)
    assert list(plain.columns) == ["a", "b", "c", "d", "e", "g"] and plain["a"].tolist() == ["1", "20"]
    df = read_ion(text, infer_types=True)
    assert list(df.columns) == ["a", "b", "c", "d", "e", "g"]
    assert df["a"].dtype == np.int64 and df["a"].tolist() == [1, 20]
    assert df["b"].dtype == np.float64 and df["b"].tolist() == [2.5, 3.0]
    assert df["c"].dtype == bool and df["c"].tolist() == [True, False]
    assert df["d"].tolist() == ["x", "1"]
    assert str(df["e"].dtype) == "datetime64[us]" and pd.isna(df["e"][1])
    assert str(df["g"].dtype) == "Int64" and df["g"][0] == 7


def test_repeated_row_headers_are_merged_only_when_provably_safe():
    rows = [{"id": i, "name": f"n{i}", "blob": b"x"} for i in range(50)]
    data = _binary_per_row(rows)
    merged = ion.single_stream(data)
    assert merged is not None and merged.count(ion.BINARY_MARKER) == 1 and len(merged) < len(data)
    assert simpleion.loads(merged, single_value=False) == simpleion.loads(data, single_value=False)
    # a blob holding exactly the per-row header (marker + symbol table) must survive untouched
    header_size, body = ion._length(data, 4)
    prefix = data[:4 + header_size + body]
    assert data.count(prefix) == 50
    tricky = [{"id": 1, "name": "a", "blob": b"pre" + prefix + b"post"}, *rows[:3]]
    tricky_data = _binary_per_row(tricky)
    assert tricky_data.count(prefix) == 5 and ion.single_stream(tricky_data) is None
    df = read_ion(tricky_data)
    assert df["blob"][0] == b"pre" + prefix + b"post" and df["id"].tolist() == [1, 0, 1, 2]
    # rows whose symbol tables differ are not merged, and still read right
    mixed = _binary_per_row([{"a": 1}, {"b": 2}, {"a": 3}])
    assert ion.single_stream(mixed) is None
    assert read_ion(mixed)["a"].tolist()[::2] == [1, 3]


def test_server_jsonl_rendering_typed_back_with_and_without_pyarrow(monkeypatch):
    body = (b'{"id":1,"ts":"2025-03-14T09:26:53.589Z","day":"2025-03-17","ldt":"2025-03-14T10:26:53.589",'
            b'"lt":"08:30:00","name":"2025-01-01 is a date","price":129.9,"maybe":null}\n'
            b'{"id":2,"ts":"2025-03-15T00:00:00Z","day":"2025-12-31","ldt":"2025-03-15T23:59:59",'
            b'"lt":"23:15:30.5","name":"x","price":100,"maybe":3.25}\n')
    fast = ion.json_rows_frame(body)
    monkeypatch.setattr(ion, "_arrow_frame", lambda body, iso=False: None)
    slow = ion.json_rows_frame(body)
    pd.testing.assert_frame_equal(fast, slow)
    assert str(fast["ts"].dtype) == "datetime64[us, UTC]" and fast["ts"][0] == pd.Timestamp("2025-03-14T09:26:53.589Z")
    assert str(fast["day"].dtype) == "datetime64[us]" and str(fast["ldt"].dtype) == "datetime64[us]"
    assert fast["lt"].tolist() == [dt.time(8, 30), dt.time(23, 15, 30, 500000)]
    assert fast["name"].tolist() == ["2025-01-01 is a date", "x"]
    assert fast["price"].tolist() == [129.9, 100.0] and np.isnan(fast["maybe"][0])


def _random_kestra_rows(seed: int, n: int) -> list[dict]:
    r = random.Random(seed)

    def maybe(value):
        return None if r.random() < 0.2 else value

    rows = []
    for i in range(n):
        ts = dt.datetime(2000, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=r.randrange(10**12))
        rows.append({
            "i": maybe(r.choice([0, -1, 1, 127, 128, -(2**40), 2**55 - 1, r.randrange(-10**9, 10**9)])),
            "f": maybe(r.choice([0.0, -0.5, 1e300, -2.5e-300, r.uniform(-1e6, 1e6), float("inf")])),
            "d": maybe(Decimal(r.randrange(-10**12, 10**12)).scaleb(-r.randrange(0, 9))),
            "z": maybe(r.choice([Decimal("0"), Decimal("0.00"), Decimal("1E+3"), Decimal("-12.5")])),
            "b": maybe(r.random() < 0.5),
            "s": maybe(r.choice(["", "é😀", "plain", "a,b:{c}", "x" * 300, "\u2028"])),
            "ts": maybe(_ts(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond // 1000 * 1000)),
            "sec": maybe(Timestamp(2025, 1, 2, 3, 4, 5, None, UTC, precision=TimestampPrecision.SECOND)),
            "day": maybe(_day(ts.year, ts.month, ts.day)),
            # nulls here change a row's local symbol table (the annotation is not written)
            "ldt": maybe(_ann("LocalDateTime", ts.replace(tzinfo=None).isoformat(timespec="milliseconds"))),
            "odt": maybe(_ann("OffsetDateTime", "2025-03-14T10:26:53-05:00")),
            "zdt": maybe(_ann("ZonedDateTime", "2025-03-14T10:26:53+01:00[Europe/Paris]")),
            "lt": maybe(_ann("LocalTime", f"{i % 24:02d}:30:00")),
            "sym": maybe(IonPyText.from_value(IonType.SYMBOL, r.choice(["A", "B"]))),
            "tn": IonPyNull.from_value(IonType.INT, None) if i % 2 else i,
        })
    rows[0] = {k: (v if v is not None else rows[1][k]) for k, v in rows[0].items()}
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_binary_reader_matches_amazon_ion(seed):
    from kestra_magic.frames import ion_binary
    data = _binary_per_row(_random_kestra_rows(seed, 400))
    assert ion.split_rows(data) is None           # the rows' symbol tables differ ...
    fast = ion_binary.read_binary(data)
    assert fast is not None                       # ... and every column is one it decodes itself
    reference = ion.rows_frame(ion._amazon_ion_rows(data))
    pd.testing.assert_frame_equal(fast, reference)
    pd.testing.assert_frame_equal(read_ion(data), reference)


def test_vectorised_binary_reader_hands_over_what_it_does_not_decode():
    from kestra_magic.frames import ion_binary
    cases = [
        [{"n": 2**63}, {"n": 1}],                                  # beyond int64
        [{"blob": b"x"}, {"blob": b"y"}],                          # blobs
        [{"o": {"a": 1}}, {"o": {"a": 2}}],                        # nested struct
        [{"d": Decimal("1.2345678901234567890")}, {"d": Decimal("1")}],   # long coefficient
        [{"t": Timestamp(2025, 1, 2, 3, 4, 0, 0, dt.timezone(dt.timedelta(hours=2)),
                         precision=TimestampPrecision.MINUTE)}] * 2,    # offset, minute precision
        [{"a": 1, "b": 2}, {"b": 2, "a": 1}],                      # field order changes
        [{"x": 1}, {"x": "one"}],                                  # mixed kinds
        [{"t": _ann("LocalDateTime", "2025-01-01T00:00:00")}, {"t": _ann("Custom", "x")}],  # two annotations
    ]
    for rows in cases:
        data = _binary_per_row(rows)
        assert ion_binary.read_binary(data) is None, rows
        pd.testing.assert_frame_equal(read_ion(data), ion.rows_frame(ion._amazon_ion_rows(data)))


def test_without_the_arrow_paths_every_reader_still_agrees(monkeypatch):
    # pandas itself keeps using pyarrow once it is installed, so the optional paths are switched
    # off at their own entry points (what a machine without pyarrow gets)
    from kestra_magic.frames import ion_binary
    text, binary = KESTRA_TEXT, _binary_per_row(_random_kestra_rows(5, 200))
    with_arrow = (read_ion(text), read_ion(binary))
    assert ion_binary.read_binary(binary) is not None
    monkeypatch.setattr(ion, "_arrow_frame", lambda body, iso=False: None)
    monkeypatch.setattr(ion_binary, "read_binary", lambda data: None)
    pd.testing.assert_frame_equal(read_ion(text), with_arrow[0])
    pd.testing.assert_frame_equal(read_ion(binary), with_arrow[1])


def _kestra_text_rows(seed: int, n: int) -> bytes:
    """Text ION shaped as Kestra 1.x writes tables (one flat struct per line, identifier field
    names), with every kind of value the columnar reader takes, nulls and typed nulls among them."""
    r = random.Random(seed)

    def maybe(text: str, null: str = "null") -> str:
        return null if r.random() < 0.2 else text

    lines = []
    for i in range(n):
        ts = dt.datetime(2000, 1, 1, tzinfo=UTC) + dt.timedelta(milliseconds=r.randrange(10**12))
        stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}"
        fields = {
            "i": maybe(str(r.choice([0, -1, 7, 2**40, -(2**53), r.randrange(-10**9, 10**9)])), "null.int"),
            "f": maybe(r.choice(["1.5e0", "-2.5e-300", "0e0", "nan", "+inf", "-inf", f"{r.uniform(-1e6, 1e6)!r}e0"])),
            "d": maybe(r.choice(["129.90", "-0.5", "5.", "6960d0", "1d-3", "0.000", f"{r.randrange(10**6)}.{r.randrange(100):02d}"]),
                       "null.decimal"),
            "mix": r.choice(["1", "2.5", "-3", "4e0"]),
            "b": maybe(r.choice(["true", "false"]), "null.bool"),
            "s": maybe('"' + r.choice(["", "plain", "a,b:{c}", "Zoë 李 😀", "x" * 300, "}{", "[1, 2]", "'q'", "// no"]) + '"'),
            "ts": maybe(stamp + r.choice(["Z", "+01:00", "-05:30"])),
            "day": maybe(ts.date().isoformat(), "null.timestamp"),
            "ldt": maybe(f'LocalDateTime::"{stamp}"'),
            "zdt": maybe(f'ZonedDateTime::"{stamp}+01:00[Europe/Paris]"'),
            "odt": maybe(f'OffsetDateTime::"{stamp}-05:00"'),
            "lt": maybe(f'LocalTime::"{i % 24:02d}:30:00"'),
            "nothing": r.choice(["null", "null.string"]),
            "k": str(i % 10),                           # short last field: read near the end of the data
        }
        lines.append("{" + ",".join(f"{k}:{v}" for k, v in fields.items()) + "}")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_columnar_text_reader_matches_the_json_lines_path_and_amazon_ion(seed):
    from kestra_magic.frames import ion_text_columns
    text = _kestra_text_rows(seed, 300)
    columnar = ion_text_columns.read_columns(text)
    assert columnar is not None                   # every column is one it reads itself
    pd.testing.assert_frame_equal(columnar, ion._text_fast_frame(text, False))
    pd.testing.assert_frame_equal(columnar, ion.rows_frame(ion._amazon_ion_rows(text)))
    pd.testing.assert_frame_equal(read_ion(text), columnar)
    assert columnar["mix"].dtype == np.float64 and str(columnar["zdt"].dtype) == "datetime64[us, Europe/Paris]"


def test_columnar_text_reader_hands_over_what_it_does_not_read():
    from kestra_magic.frames import ion_text_columns
    cases = [
        b'{a:1,o:{x:1,y:2}}\n{a:2,o:{x:3,y:4}}\n',               # nested struct
        b'{a:1,b:{{SGVsbG8=}}}\n{a:2,b:{{AAH/}}}\n',             # blobs
        b'{a:[1,2],b:1}\n{a:[3],b:2}\n',                         # lists
        b'{a:sym,b:1}\n{a:other,b:2}\n',                         # symbols
        b"{'first name':\"A\",n:1}\n{'first name':\"B\",n:2}\n",  # quoted field names
        b'{a:1,b:2}\n{b:2,a:1}\n',                               # field order changes
        b'{a:1,b:2}\n{a:1,c:2}\n',                               # another field
        b'{a:1,b:2}\n{a:1}\n',                                   # a missing field
        b'{a: 1,b:2}\n{a:3,b:4}\n',                              # whitespace
        b'{a:1,/* c */b:2}\n{a:3,b:4}\n',                        # comments
        b'{a:"x\\"y",b:1}\n{a:"z",b:2}\n',                        # escapes
        b'{a:9223372036854775808}\n{a:1}\n',                     # beyond int64
        b'{a:1,b:"one"}\n{a:2,b:2}\n',                           # mixed kinds
        b'{a:Custom::1}\n{a:Custom::2}\n',                       # annotated numbers
        b'{a:LocalDateTime::"2025-01-01T00:00:00"}\n{a:Custom::"x"}\n',   # two annotations
        b"{a:'''x\"y''',b:\"z\"}\n{a:'''w''',b:\"v\"}\n",          # long strings
        b'{a:2025T}\n{a:2025-01-01T00:00Z}\n',                   # timestamp precisions mixed
        b'$ion_1_0 {a:1}\n',                                     # version marker
    ]
    for text in cases:
        assert ion_text_columns.read_columns(text) is None, text
        pd.testing.assert_frame_equal(read_ion(text), ion.rows_frame(ion._amazon_ion_rows(text)))
    # spellings Arrow's casts would take but Ion does not: left to the general path to judge
    for invalid in (b'{a:007}\n{a:1}\n', b'{a:.5}\n{a:1.5}\n', b'{a:NaN}\n{a:1e0}\n', b'{a:inf}\n{a:1e0}\n',
                    b'{a:-infinity}\n{a:1e0}\n', b'{a:+1.5}\n{a:1e0}\n', b'{a:"x}\n{a:"y"}\n'):
        assert ion_text_columns.read_columns(invalid) is None, invalid


def test_columnar_text_reader_strings_holding_separators():
    from kestra_magic.frames import ion_text_columns
    text = b'{a:"x,y",b:"{,}",c:1}\n{a:"",b:",",c:2}\n{a:"p:q",b:null,c:3}\n'
    frame = ion_text_columns.read_columns(text)
    assert frame is not None and frame["a"].tolist() == ["x,y", "", "p:q"] and frame["c"].tolist() == [1, 2, 3]
    assert frame["b"].tolist()[:2] == ["{,}", ","] and pd.isna(frame["b"][2])
    pd.testing.assert_frame_equal(frame, ion.rows_frame(ion._amazon_ion_rows(text)))
