"""File dispatch, uploads, and the JSON -> frame functions (task runs, logs, outputs, searches)."""
from __future__ import annotations

import datetime as dt
import io
import sys

import numpy as np
import pandas as pd
import pytest

from kestra_magic import frames
from kestra_magic.frames import files


def test_dispatch_by_extension_and_content():
    csv = b"a,b\n1,x\n2,y\n"
    df = frames.read_file(csv, "out/data.csv")
    assert df["a"].tolist() == [1, 2] and df["a"].dtype == np.int64
    assert frames.read_file(b"a\tb\n1\t2\n", "t.tsv")["b"].tolist() == [2]
    assert frames.read_file(b'[{"a":1},{"a":2}]', "x.json")["a"].tolist() == [1, 2]
    assert frames.read_file(b'{"a":1}\n{"a":2}\n', "x.json")["a"].tolist() == [1, 2]   # IonToJson writes lines
    assert frames.read_file(b'{"a":1}\n{"a":2}\n', "x.jsonl")["a"].tolist() == [1, 2]
    assert frames.read_file(b"{a:1}\n", "x.ion")["a"].tolist() == [1]
    from amazon.ion import simpleion
    binary = simpleion.dumps({"a": 5}, binary=True)
    assert frames.read_file(binary, "no-extension")["a"].tolist() == [5]     # binary ION by its marker
    assert frames.read_file(b"%PDF-1.4 ...", "report.pdf") == b"%PDF-1.4 ..."
    assert frames.read_file(b"hello", "notes.txt") == b"hello"
    assert frames.read_file(csv, "data.csv", format="bytes") == csv
    assert frames.read_file(csv, "data.csv", nrows=1)["a"].tolist() == [1]
    assert frames.read_file(b"", "empty.csv").empty


def test_unknown_format_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown format 'xls'.*use one of"):
        frames.read_file(b"x", "a.xls", format="xls")


def test_parquet_and_avro_round_trip_by_content():
    df = pd.DataFrame({"a": [1, 2], "s": ["x", "é"], "t": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True)})
    name, data = frames.to_upload(df, "parquet")
    assert name == "data.parquet" and data[:4] == b"PAR1"
    back = frames.read_file(data, "whatever.bin")          # detected by its magic bytes
    pd.testing.assert_frame_equal(back, df, check_dtype=False)
    import fastavro
    buf = io.BytesIO()
    fastavro.writer(buf, {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"},
                                                                    {"name": "s", "type": "string"}]},
                    [{"a": 1, "s": "x"}, {"a": 2, "s": "y"}])
    avro = frames.read_file(buf.getvalue(), "rows.avro")
    assert avro["a"].tolist() == [1, 2] and avro["s"].tolist() == ["x", "y"]


def test_missing_extra_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)      # import pyarrow -> ImportError
    with pytest.raises(ImportError, match=r"pip install 'kestra-magic\[parquet\]'"):
        files._require("parquet")
    monkeypatch.setitem(sys.modules, "fastavro", None)
    with pytest.raises(ImportError, match=r"kestra-magic\[avro\]"):
        frames.read_file(b"Obj\x01rest", "x.avro")


def test_to_upload_csv_and_ion_round_trip():
    df = pd.DataFrame({
        "n": [1, 2], "f": [1.5, np.nan], "s": ["a", None], "b": [True, False],
        "ts": pd.to_datetime(["2025-03-14T09:26:53.589Z", "2025-03-15T00:00:00Z"], format="ISO8601"),
        "day": pd.to_datetime(["2025-03-17", "2025-12-31"]),
        "ldt": pd.to_datetime(["2025-03-14T10:26:53.5", "2025-03-15T01:00:00"], format="ISO8601"),
        "lt": [dt.time(8, 30), dt.time(23, 15, 30)],
    })
    name, data = frames.to_upload(df)
    assert name == "data.csv" and data.startswith(b"n,f,s,b,ts,day,ldt,lt\n1,1.5,a,True,")
    name, data = frames.to_upload(df, fmt="ion")
    assert name == "data.ion" and data.count(b"\n") == 2 and b'LocalDateTime::"2025-03-14T10:26:53.500000"' in data
    back = frames.read_ion(data)
    assert back["n"].tolist() == [1, 2] and back["f"][0] == 1.5 and np.isnan(back["f"][1])
    assert back["s"][0] == "a" and pd.isna(back["s"][1]) and back["b"].tolist() == [True, False]
    for col in ("ts", "day", "ldt"):
        assert back[col].tolist() == df[col].tolist(), col
    assert str(back["ts"].dtype) == "datetime64[us, UTC]" and str(back["day"].dtype) == "datetime64[us]"
    assert back["lt"].tolist() == [dt.time(8, 30), dt.time(23, 15, 30)]
    with pytest.raises(ValueError, match="cannot upload a DataFrame as 'xml'"):
        frames.to_upload(df, "xml")


EXECUTION = {
    "id": "ex1", "namespace": "company.team", "flowId": "f", "flowRevision": 3,
    "state": {"current": "SUCCESS", "startDate": "2025-01-01T10:00:00Z", "endDate": "2025-01-01T10:00:05.5Z",
              "duration": "PT5.5S", "histories": []},
    "labels": [{"key": "team", "value": "data"}, {"key": "system.correlationId", "value": "ex1"}],
    "taskRunList": [
        {"id": "tr1", "taskId": "each", "state": {"current": "SUCCESS", "startDate": "2025-01-01T10:00:00Z",
                                                  "endDate": "2025-01-01T10:00:02Z", "duration": "PT2S"},
         "attempts": [{"state": {}}]},
        {"id": "tr2", "taskId": "inner", "parentTaskRunId": "tr1", "value": "a", "iteration": 0,
         "state": {"current": "FAILED", "histories": [{"state": "CREATED", "date": "2025-01-01T10:00:01Z"}],
                   "endDate": "2025-01-01T10:00:01.250Z"},
         "attempts": [{}, {}]},
        {"id": "tr3", "taskId": "later", "state": {"current": "RUNNING", "startDate": "2025-01-01T10:00:03Z"}},
    ],
}


def test_task_runs_frame_types():
    df = frames.task_runs_frame(EXECUTION)
    assert df["taskId"].tolist() == ["each", "inner", "later"]
    assert df["state"].tolist() == ["SUCCESS", "FAILED", "RUNNING"] and isinstance(df["state"].dtype, pd.CategoricalDtype)
    assert str(df["startDate"].dtype) == "datetime64[us, UTC]"
    assert df["startDate"][1] == pd.Timestamp("2025-01-01T10:00:01Z")     # from the first history
    assert df["duration"][0] == pd.Timedelta(seconds=2)
    assert df["duration"][1] == pd.Timedelta(milliseconds=250)          # computed end - start
    assert pd.isna(df["duration"][2]) and pd.isna(df["endDate"][2])
    assert df["attempts"].tolist() == [1, 2, 0]
    assert df["parentTaskRunId"].tolist() == [None, "tr1", None] and df["value"][1] == "a"
    assert df["iteration"][1] == 0 and pd.isna(df["iteration"][0])
    assert frames.task_runs_frame({"id": "x"}).empty


def test_logs_frame_levels_are_ordered():
    logs = [{"timestamp": "2025-01-01T10:00:00.123Z", "level": "INFO", "taskId": "t", "taskRunId": "tr",
             "attemptNumber": 0, "message": "hello"},
            {"timestamp": "2025-01-01T10:00:01Z", "level": "ERROR", "taskId": "t", "message": "boom"},
            {"timestamp": "2025-01-01T10:00:02Z", "level": "DEBUG", "message": "dbg"}]
    df = frames.logs_frame(logs)
    assert df["level"].cat.ordered and (df["level"] >= "INFO").tolist() == [True, True, False]
    assert df["timestamp"][0] == pd.Timestamp("2025-01-01T10:00:00.123Z")
    assert df["attemptNumber"].tolist()[0] == 0 and pd.isna(df["attemptNumber"][1])
    assert list(df.columns) == ["timestamp", "level", "taskId", "taskRunId", "attemptNumber", "message"]


def test_outputs_frames():
    outs = [{"taskId": "py", "taskRunId": "tr1", "value": None,
             "outputs": {"vars": {"total": 3, "ratio": 0.5}, "outputFiles": {"data.csv": "kestra:///a/b/data.csv"},
                         "exitCode": 0}},
            {"taskId": "ret", "taskRunId": "tr2", "value": "x", "outputs": {"value": [1, 2]}}]
    df = frames.task_outputs_frame(outs)
    assert df["key"].tolist() == ["vars.total", "vars.ratio", "outputFiles.data.csv", "exitCode", "value"]
    assert df["output"].tolist() == [3, 0.5, "kestra:///a/b/data.csv", 0, [1, 2]]
    assert type(df["output"][0]) is int                                     # kept typed
    assert df["isFile"].tolist() == [False, False, True, False, False]
    assert df["value"].tolist()[4] == "x"
    assert frames.task_outputs_frame([]).empty
    one = frames.flow_outputs_frame({"total": 3, "file": "kestra:///x"})
    assert one.shape == (1, 2) and one["total"][0] == 3
    assert frames.flow_outputs_frame({}).shape == (1, 0)


def test_executions_and_flows_frames_flatten_state_and_labels():
    df = frames.executions_frame([EXECUTION, {"id": "ex2", "state": {"current": "RUNNING"},
                                              "labels": [{"key": "team", "value": "ml"}]}])
    assert df["state"].tolist() == ["SUCCESS", "RUNNING"]
    assert df["labels.team"].tolist() == ["data", "ml"]
    assert df["duration"][0] == pd.Timedelta(seconds=5.5) and pd.isna(df["duration"][1])
    assert df["flowRevision"][0] == 3
    flows = frames.flows_frame([{"id": "f", "namespace": "n", "revision": 2, "tasks": [{}, {}],
                                 "inputs": [{"id": "x"}], "labels": {"env": "dev"}}])
    assert flows.loc[0, ["id", "namespace", "revision", "tasks"]].tolist() == ["f", "n", 2, 2]
    assert flows["inputs"][0] == ["x"] and flows["labels.env"][0] == "dev" and not flows["deleted"][0]
