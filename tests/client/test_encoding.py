"""Labels, schedule dates, breakpoints and inputs → what Kestra expects (no server needed)."""
from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest

from kestra_magic.encoding import (breakpoints_param, input_parts, iso_duration, labels_param,
                                   schedule_date_param)
from kestra_magic.errors import KestraConfigError


def test_labels_both_forms():
    assert labels_param(["team:data", "env: prod"]) == ["team:data", "env:prod"]
    assert labels_param({"team": "data", "n": 3, "ok": True}) == ["team:data", "n:3", "ok:true"]
    assert labels_param([("a", "b"), {"key": "c", "value": "d"}]) == ["a:b", "c:d"]
    assert labels_param("a:1, b:2") == ["a:1", "b:2"]
    assert labels_param(None) == []
    with pytest.raises(KestraConfigError, match="'nocolon' has no ':'"):
        labels_param(["nocolon"])
    with pytest.raises(KestraConfigError, match="given twice"):
        labels_param(["a:1", "a:2"])


def test_schedule_date_naive_is_local_with_offset():
    naive = dt.datetime(2030, 1, 2, 3, 4, 5)
    text = schedule_date_param(naive)
    parsed = dt.datetime.fromisoformat(text)
    assert parsed.tzinfo is not None and parsed.replace(tzinfo=None) == naive
    assert parsed.utcoffset() == naive.astimezone().utcoffset()
    aware = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert schedule_date_param(aware) == "2030-01-02T03:04:05+02:00"
    assert schedule_date_param("2030-01-02T03:04:05Z") == "2030-01-02T03:04:05Z"
    assert dt.datetime.fromisoformat(schedule_date_param("2030-01-02T03:04:05")).tzinfo is not None
    with pytest.raises(KestraConfigError, match="not an ISO-8601"):
        schedule_date_param("tomorrow")


def test_breakpoints_list_or_comma_string():
    assert breakpoints_param(["a", "b.x"]) == "a,b.x"
    assert breakpoints_param(" a , b ") == "a,b"
    assert breakpoints_param(None) is None
    with pytest.raises(KestraConfigError, match="empty task id"):
        breakpoints_param("a,,b")


def _as_dict(parts):
    return {name: spec for name, spec in parts}


def test_input_values_as_text_parts():
    parts = _as_dict(input_parts({
        "flag": True, "off": False, "n": 3, "x": 1.5, "d": Decimal("2.50"), "s": "hi",
        "obj": {"a": [1, 2], "when": dt.date(2024, 1, 2)}, "arr": [1, 2, 3],
        "day": dt.date(2024, 1, 2), "t": dt.time(10, 30), "dur": dt.timedelta(minutes=1, seconds=30),
        "at": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), "skip": None}))
    text = {k: v[1].decode() for k, v in parts.items()}
    assert all(v[0] is None for v in parts.values())        # no filename: a form field
    assert text["flag"] == "true" and text["off"] == "false" and text["n"] == "3"
    assert text["x"] == "1.5" and text["d"] == "2.50" and text["s"] == "hi"
    assert json.loads(text["obj"]) == {"a": [1, 2], "when": "2024-01-02"}
    assert json.loads(text["arr"]) == [1, 2, 3]
    assert text["day"] == "2024-01-02" and text["t"] == "10:30:00" and text["dur"] == "PT90S"
    assert text["at"] == "2024-01-02T03:04:05+00:00"
    assert "skip" not in parts
    assert iso_duration(dt.timedelta(seconds=-1.5)) == "-PT1.5S"


def test_file_inputs_from_path_bytes_and_file_objects(tmp_path):
    p = tmp_path / "data.csv"
    p.write_bytes(b"a,b\n1,2\n")
    f = io.BytesIO(b"xyz")
    f.name = "/some/where/named.txt"
    parts = _as_dict(input_parts({"inline": b"raw", "fobj": f, "path_obj": p},
                                 files={"by_path": str(p), "tuple": ("n.json", b"{}")}))
    assert parts["inline"][:2] == ("inline", b"raw")
    assert parts["fobj"][:2] == ("named.txt", b"xyz")
    assert parts["path_obj"][:2] == ("data.csv", b"a,b\n1,2\n")
    assert parts["by_path"][:2] == ("data.csv", b"a,b\n1,2\n")
    assert parts["tuple"][:2] == ("n.json", b"{}")
    with pytest.raises(KestraConfigError, match=r"input 'f' not found.*nope\.csv"):
        input_parts(files={"f": str(tmp_path / "nope.csv")})
    with pytest.raises(KestraConfigError, match="given both"):
        input_parts({"a": 1}, files={"a": b"x"})
    with pytest.raises(KestraConfigError, match="finite"):
        input_parts({"x": float("nan")})


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10)
                            | st.floats(allow_nan=False, allow_infinity=False),
                            lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                                          max_size=4),
                            max_leaves=12)


@settings(max_examples=80, deadline=None, database=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k.strip() and ":" not in k),
                       st.text(max_size=8), max_size=5))
def test_label_dicts_round_trip(labels):
    labels = {k.strip(): v.strip() for k, v in labels.items()}
    sent = labels_param(labels)
    assert {s.split(":", 1)[0]: s.split(":", 1)[1] for s in sent} == labels


@settings(max_examples=80, deadline=None, database=None)
@given(st.dictionaries(st.text(max_size=5), _json_values, max_size=4) | st.lists(_json_values, max_size=4))
def test_structured_inputs_are_json(value):
    (name, (filename, content, _)), = input_parts({"x": value})
    assert filename is None and json.loads(content) == value


@pytest.mark.parametrize("items", [["a ,b"], ["a,"], ["ok", "x,y"]])
def test_breakpoint_list_items_with_commas_are_rejected(items):
    with pytest.raises(KestraConfigError, match="comma"):
        breakpoints_param(items)


def test_named_dataframe_file_input_uses_the_extension_format():
    import io as _io

    import pandas as pd
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    parts = dict(input_parts(files={"data": ("table.parquet", df), "plain": ("t.csv", df),
                                    "other": ("t.bin", df)}))
    name, content, _ = parts["data"]
    assert name == "table.parquet" and content[:4] == b"PAR1"
    assert pd.read_parquet(_io.BytesIO(content)).equals(df)
    assert parts["plain"][1].decode().splitlines() == ["a,b", "1,x", "2,y"]
    assert parts["other"][0] == "t.bin" and parts["other"][1].startswith(b"a,b")   # no known format: CSV
