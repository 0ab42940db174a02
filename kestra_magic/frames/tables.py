"""Kestra's JSON (executions, task runs, outputs, logs, search results) -> pandas DataFrames.

Column names follow Kestra's JSON (``taskId``, ``startDate``...) so a frame reads like the API
and the UI. Dates become tz-aware ``datetime64[us, UTC]``, durations ``Timedelta``, states and
log levels categoricals.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

import pandas as pd

LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
STATES = ["CREATED", "SUBMITTED", "QUEUED", "RUNNING", "PAUSED", "BREAKPOINT", "RESTARTED", "KILLING",
          "RETRYING", "RETRIED", "SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED",
          "RESUBMITTED"]
UTC_DTYPE = "datetime64[us, UTC]"


#: ``DataFrame.attrs`` key of the frames this package builds with durations in them: views show those
#: durations as people read them (``kestra_magic.notebook.display``); a user's own
#: frames keep pandas' display
DURATIONS_DISPLAY = "kestra_magic.durations"


def with_readable_durations(frame: pd.DataFrame) -> pd.DataFrame:
    """Mark ``frame`` so notebook views show its Timedelta columns as ``120 ms``, ``1 min 3 s``."""
    frame.attrs[DURATIONS_DISPLAY] = True
    return frame


def _raw(item: Any) -> dict:
    """A model (with ``.raw``) or a plain dict -> the JSON dict."""
    raw = getattr(item, "raw", item)
    return raw if isinstance(raw, dict) else {}


def _dates(values: Iterable[Any]) -> pd.Series:
    return pd.Series(pd.to_datetime(pd.Series(list(values), dtype=object), utc=True, format="ISO8601")).astype(UTC_DTYPE)


def _state_category(values: Iterable[Any]) -> pd.Categorical:
    """States as a categorical whose categories are the states that occur (in Kestra's order, then
    unknown ones), so ``value_counts()`` lists what happened, not every state Kestra has."""
    values = list(values)
    seen = {v for v in values if v is not None}
    extra = sorted(seen - set(STATES))
    return pd.Categorical(values, categories=[s for s in STATES if s in seen] + extra)


def _durations(durations: Iterable[Any], start: pd.Series, end: pd.Series) -> pd.Series:
    """ISO-8601 durations from the server, else end - start (NaT while running)."""
    parsed = pd.Series([_timedelta(d) for d in durations], dtype="timedelta64[us]")
    computed = (end - start).astype("timedelta64[us]")
    return parsed.fillna(computed)


def _timedelta(value: Any) -> Any:
    if value in (None, ""):
        return pd.NaT
    try:
        return pd.Timedelta(value)
    except (ValueError, TypeError):
        return pd.NaT


def task_runs_frame(execution: Any) -> pd.DataFrame:
    """One row per task run: taskId, value, iteration, state, startDate, endDate, duration,
    attempts (count), id, parentTaskRunId."""
    runs = _raw(execution).get("taskRunList") or []
    states = [r.get("state") or {} for r in runs]
    start = _dates(s.get("startDate") or _first_history(s) for s in states)
    end = _dates(s.get("endDate") for s in states)
    return with_readable_durations(pd.DataFrame({
        "taskId": pd.Series([r.get("taskId") for r in runs], dtype=object),
        "value": pd.Series([r.get("value") for r in runs], dtype=object),
        "iteration": pd.Series([r.get("iteration") for r in runs], dtype="Int64"),
        "state": _state_category(s.get("current") for s in states),
        "startDate": start,
        "endDate": end,
        "duration": _durations((s.get("duration") for s in states), start, end),
        "attempts": pd.Series([len(r.get("attempts") or []) for r in runs], dtype="int64"),
        "id": pd.Series([r.get("id") for r in runs], dtype=object),
        "parentTaskRunId": pd.Series([r.get("parentTaskRunId") for r in runs], dtype=object),
    }))


def _first_history(state: dict) -> Any:
    histories = state.get("histories") or []
    return histories[0].get("date") if histories else None


def logs_frame(logs: Iterable[Any]) -> pd.DataFrame:
    """timestamp (UTC), level (ordered categorical TRACE < ... < ERROR), taskId, taskRunId,
    attemptNumber, message."""
    entries = [_raw(e) for e in logs]
    return pd.DataFrame({
        "timestamp": _dates(e.get("timestamp") for e in entries),
        "level": pd.Categorical([e.get("level") for e in entries], categories=LOG_LEVELS, ordered=True),
        "taskId": pd.Series([e.get("taskId") for e in entries], dtype=object),
        "taskRunId": pd.Series([e.get("taskRunId") for e in entries], dtype=object),
        "attemptNumber": pd.Series([e.get("attemptNumber") for e in entries], dtype="Int64"),
        "message": pd.Series([e.get("message") for e in entries], dtype=object),
    })


def is_file_uri(value: Any) -> bool:
    """True for internal-storage (``kestra://``) and namespace-file URIs."""
    return isinstance(value, str) and value.startswith(("kestra://", "nsfile://"))


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}" if prefix else str(k), v)
    else:
        yield prefix, value


def task_outputs_frame(task_outputs: Iterable[Mapping]) -> pd.DataFrame:
    """One row per (taskId, value, key): nested output maps flattened to dotted keys
    (``values.total``, ``outputFiles.data.csv``), the value kept as is, file URIs flagged."""
    rows = []
    for info in task_outputs:
        for key, value in _flatten("", info.get("outputs") or {}):
            rows.append({"taskId": info.get("taskId"), "value": info.get("value"), "key": key,
                         "output": value, "isFile": is_file_uri(value), "taskRunId": info.get("taskRunId")})
    frame = pd.DataFrame(rows, columns=["taskId", "value", "key", "output", "isFile", "taskRunId"])
    for col in ("taskId", "value", "key", "output", "taskRunId"):
        frame[col] = frame[col].astype(object)
    return frame.astype({"isFile": bool})


def flow_outputs_frame(outputs: Mapping | None) -> pd.DataFrame:
    """The flow outputs as a one-row frame, one column per output id (values as they came)."""
    outputs = dict(outputs or {})
    return pd.DataFrame({k: pd.Series([v], dtype=object) for k, v in outputs.items()}, index=[0]) \
        if outputs else pd.DataFrame(index=[0])


def _labels(raw_labels: Any) -> dict:
    if isinstance(raw_labels, Mapping):
        return dict(raw_labels)
    return {item.get("key"): item.get("value") for item in raw_labels or [] if isinstance(item, Mapping)}


def _with_labels(frame: pd.DataFrame, labels: list[dict]) -> pd.DataFrame:
    keys: dict[str, None] = {}
    for lab in labels:
        keys.update(dict.fromkeys(lab))
    for key in keys:
        frame[f"labels.{key}"] = pd.Series([lab.get(key) for lab in labels], dtype=object)
    return frame


def executions_frame(items: Iterable[Any]) -> pd.DataFrame:
    """Search results -> id, namespace, flowId, flowRevision, state, startDate, endDate,
    duration, parentId, then one ``labels.<key>`` column per label key."""
    execs = [_raw(e) for e in items]
    states = [e.get("state") or {} for e in execs]
    start = _dates(s.get("startDate") or _first_history(s) for s in states)
    end = _dates(s.get("endDate") for s in states)
    frame = pd.DataFrame({
        "id": pd.Series([e.get("id") for e in execs], dtype=object),
        "namespace": pd.Series([e.get("namespace") for e in execs], dtype=object),
        "flowId": pd.Series([e.get("flowId") for e in execs], dtype=object),
        "flowRevision": pd.Series([e.get("flowRevision") for e in execs], dtype="Int64"),
        "state": _state_category(s.get("current") for s in states),
        "startDate": start,
        "endDate": end,
        "duration": _durations((s.get("duration") for s in states), start, end),
        "parentId": pd.Series([e.get("parentId") for e in execs], dtype=object),
    })
    return with_readable_durations(_with_labels(frame, [_labels(e.get("labels")) for e in execs]))


def flows_frame(items: Iterable[Any]) -> pd.DataFrame:
    """Flows -> namespace, id, revision, tasks (count), inputs (ids), disabled, deleted,
    description, then one ``labels.<key>`` column per label key."""
    flows = [_raw(f) for f in items]
    frame = pd.DataFrame({
        "namespace": pd.Series([f.get("namespace") for f in flows], dtype=object),
        "id": pd.Series([f.get("id") for f in flows], dtype=object),
        "revision": pd.Series([f.get("revision") for f in flows], dtype="Int64"),
        "tasks": pd.Series([len(f.get("tasks") or []) for f in flows], dtype="int64"),
        "inputs": pd.Series([[i.get("id") for i in f.get("inputs") or [] if isinstance(i, Mapping)]
                             for f in flows], dtype=object),
        "disabled": pd.Series([bool(f.get("disabled", False)) for f in flows], dtype=bool),
        "deleted": pd.Series([bool(f.get("deleted", False)) for f in flows], dtype=bool),
        "description": pd.Series([f.get("description") for f in flows], dtype=object),
    })
    return _with_labels(frame, [_labels(f.get("labels")) for f in flows])
