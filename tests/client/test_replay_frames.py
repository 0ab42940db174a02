"""The replayed 1.x/2.x shapes, parsed by the client, feed the frames correctly: nanosecond and
offset dates become UTC datetimes, ISO durations timedeltas, unknown states stay visible."""
from __future__ import annotations

import pandas as pd

from kestra_magic import frames
from kestra_magic.models import Execution, LogEntry
from tests.client.replays.server import load


def test_task_runs_frame_from_both_generations():
    v1 = frames.task_runs_frame(Execution.from_dict(load("v1/execution_full.json")))
    assert str(v1["startDate"].dtype) == "datetime64[us, UTC]"
    assert v1.loc[0, "startDate"] == pd.Timestamp("2026-03-10T09:00:00.120345Z")     # ns cut to us
    assert v1.loc[1, "endDate"] == pd.Timestamp("2026-03-10T09:00:01Z")
    assert v1.loc[2, "duration"] == pd.Timedelta(milliseconds=350)
    assert list(v1["taskId"]) == ["each", "extract", "report"] and v1.loc[1, "iteration"] == 0
    body = load("v2/execution_api.json")
    body["taskRunList"][2]["state"]["current"] = "SUBMITTED_TO_A_FUTURE_QUEUE"
    v2 = frames.task_runs_frame(Execution.from_dict(body))
    assert v2.loc[1, "startDate"] == pd.Timestamp("2026-10-20T12:00:01.5Z")          # "+00:00" offset
    assert v2.loc[2, "state"] == "SUBMITTED_TO_A_FUTURE_QUEUE" and pd.isna(v2.loc[2, "endDate"])


def test_logs_and_executions_frames():
    logs = frames.logs_frame([LogEntry.from_dict(x) for x in load("v1/logs.json")])
    assert list(logs["level"]) == ["INFO", "WARN", "ERROR"]
    assert logs.loc[0, "timestamp"] == pd.Timestamp("2026-03-10T09:00:00.512345Z")
    light = frames.executions_frame([Execution.from_dict(x) for x in load("v2/search_light.json")["results"]])
    assert light.loc[1, "startDate"] == pd.Timestamp("2026-10-20T10:01:00Z")          # +02:00 to UTC
    assert light.loc[0, "labels.owner"] == "data-team" and pd.isna(light.loc[1, "endDate"])
