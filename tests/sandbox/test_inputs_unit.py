"""Input conversion (no HTTP) and the Java-compatible durations and instants it uses (``instants.py``),
nesting of dotted ids."""
from __future__ import annotations

import datetime as dt

import pytest

from kestra_magic.sandbox.inputs import FilePart, InputErrors, resolve
from kestra_magic.sandbox.instants import format_duration, format_instant, parse_duration


@pytest.mark.parametrize("text,java", [("PT1H30M", "PT1H30M"), ("P2D", "PT48H"), ("PT0.5S", "PT0.5S"),
                                       ("PT90M", "PT1H30M"), ("PT0S", "PT0S"), ("-PT1M", "PT-1M"),
                                       ("P1DT1S", "PT24H1S")])
def test_durations_round_trip_like_java(text, java):
    assert format_duration(parse_duration(text)) == java


@pytest.mark.parametrize("bad", ["", "P", "PT", "1H", "P1H", "PT1.5H", "90 minutes"])
def test_bad_durations(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_instants_are_utc_z():
    assert format_instant(dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))) == \
        "2024-01-01T10:00:00Z"
    assert format_instant(dt.datetime(2024, 1, 1, 0, 0, 0, 120000, tzinfo=dt.timezone.utc)) == \
        "2024-01-01T00:00:00.12Z"


def test_resolve_nests_dotted_ids_and_reports_every_problem():
    declared = [{"id": "a.b", "type": "INT"}, {"id": "a.c", "type": "STRING", "defaults": "x"},
                {"id": "f", "type": "FILE"}, {"id": "need", "type": "STRING"}, {"id": "bad", "type": "FLOAT"}]
    with pytest.raises(InputErrors) as err:
        resolve(declared, {"a.b": "1", "bad": "nope"}, {}, lambda i, n: f"kestra:///{i}/{n}")
    assert [p.input_id for p in err.value.problems] == ["f", "need", "bad"]
    ok = resolve(declared, {"a.b": "1", "need": "y", "bad": "2.5", "extra": "?"},
                 {"f": FilePart("d.csv", b"1")}, lambda i, n: f"kestra:///{i}/{n}")
    assert ok.values == {"a": {"b": 1, "c": "x"}, "f": "kestra:///f/d.csv", "need": "y", "bad": 2.5}
    assert ok.ignored == ["extra"] and ok.files["f"].data == b"1"


def test_one_clock_and_one_state_machine():
    """States and instants have one home each; histories get strictly increasing dates."""
    from kestra_magic.sandbox import states
    state = states.new_state()
    for name in ("RUNNING", "PAUSED", "RUNNING", "SUCCESS"):
        states.transition(state, name)
    from kestra_magic.sandbox.instants import parse_instant
    dates = [h["date"] for h in state["histories"]]
    moments = [parse_instant(d) for d in dates]
    assert moments == sorted(moments) and len(set(moments)) == len(moments)
    assert state["endDate"] == dates[-1] and state["duration"].startswith("PT")
    assert states.transition(state, "SUCCESS")["histories"][-1]["date"] == dates[-1]   # same state: no entry
    assert parse_duration("PT-0.5S") == -dt.timedelta(milliseconds=500)
    assert format_instant(dt.datetime(2026, 1, 2, 3, 4, 5, 120000, tzinfo=dt.timezone.utc)) == "2026-01-02T03:04:05.12Z"
