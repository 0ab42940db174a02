"""Parameter sweeps: one execution per row of inputs, launched through a bounded thread pool over
the shared client, followed together, collected into one DataFrame.

At most ``max_workers`` executions run at once (a row starts when a slot frees up). Following is one
search per round (the sweep labels its executions) instead of one stream per execution, so a sweep of a thousand runs costs a request per poll, not a thousand connections.
A row whose launch or run fails keeps its error in the ``error`` column; the others are unaffected.
"""
from __future__ import annotations

import contextvars
import math
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable

from kestra_magic.errors import KestraError, KestraNotFound
from kestra_magic.models import Execution

SWEEP_LABEL = "kestra-magic-sweep"
QUEUED_POLL = 0.1   # seconds between polls while rows wait for a free slot (max_workers running)
_RESERVED = ("state", "duration", "startDate", "endDate", "executionId", "error")


@dataclass
class SweepProgress:
    """Where a sweep stands (passed to ``on_progress`` after every change)."""
    total: int
    launched: int = 0
    finished: int = 0
    failed: int = 0                      # launch errors and FAILED/KILLED/CANCELLED runs
    states: dict[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    running: int = 0                     # launched and not ended (at most ``max_workers``)
    failures: list = field(default_factory=list)   # [{"row", "id", "error", "url"}] of failed rows

    @property
    def done(self) -> bool:
        return self.finished >= self.total


@dataclass
class _Run:
    index: int
    inputs: dict
    execution: Execution | None = None
    error: str | None = None
    outputs: dict | None = None
    url: str | None = None


def _rows(rows: Any) -> tuple[list[dict], list[str]]:
    """A DataFrame, a list of dicts or a dict of lists -> (input dicts, column order)."""
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        columns = [str(c) for c in rows.columns]
        records = [{str(k): v for k, v in rec.items()} for rec in rows.to_dict(orient="records")]
    elif isinstance(rows, dict):
        columns = [str(c) for c in rows]
        lengths = {len(v) for v in rows.values()}
        if len(lengths) > 1:
            raise ValueError("sweep rows given as a dict of lists need lists of the same length")
        n = lengths.pop() if lengths else 0
        records = [{str(k): v[i] for k, v in rows.items()} for i in range(n)]
    elif isinstance(rows, (list, tuple)) and all(isinstance(r, dict) for r in rows):
        records = [dict(r) for r in rows]
        columns = list(dict.fromkeys(str(k) for r in records for k in r))
    else:
        raise TypeError(f"sweep rows must be a DataFrame, a list of dicts or a dict of lists, "
                        f"not {type(rows).__name__}")
    for rec in records:
        for key, value in list(rec.items()):
            if _missing(value):
                del rec[key]            # no value: the flow's default applies
    return records, columns


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd
        return value is pd.NA or value is pd.NaT
    except ImportError:   # pragma: no cover
        return False


def sweep(client: Any, namespace: str, flow_id: str, rows: Any, *, max_workers: int = 8,
          labels: dict | None = None, revision: int | None = None, timeout: float | None = None,
          poll_interval: float = 0.25, on_progress: Callable[[SweepProgress], None] | None = None,
          outputs: bool = True, shared: dict | None = None):
    """Run ``namespace.flow_id`` once per row (column names are input ids) and return a DataFrame
    with one row per execution: the inputs, ``state``, ``duration``, ``startDate``, ``endDate``,
    the flow outputs (one column per output id), ``executionId`` and ``error`` (a launch error, or
    for a failed run the failing task and its error line).

    ``max_workers``: at most this many executions running at once (a row is launched when a slot
    frees up); ``timeout`` (seconds) stops waiting, leaving unfinished runs with their last state and
    rows not launched yet with an error; ``on_progress`` receives a `SweepProgress`;
    ``shared`` inputs go to every run (a row's own value wins).
    """
    import pandas as pd
    if max_workers < 1:
        raise ValueError(f"max_workers must be at least 1, got {max_workers}")
    records, columns = _rows(rows)
    if shared:
        records = [{**shared, **rec} for rec in records]
    sweep_id = uuid.uuid4().hex[:12]
    run_labels = dict(labels or {})
    run_labels[SWEEP_LABEL] = sweep_id
    runs = [_Run(i, rec) for i, rec in enumerate(records)]
    progress = SweepProgress(total=len(runs))
    started = time.monotonic()
    lock = threading.Lock()
    report_lock = threading.Lock()

    def report() -> None:
        if on_progress is None:
            return
        with lock:
            progress.elapsed = time.monotonic() - started
            states: dict[str, int] = {}
            for r in runs:
                key = "LAUNCH_ERROR" if (r.error and r.execution is None) else \
                    (r.execution.state.current if r.execution else "PENDING")
                states[key] = states.get(key, 0) + 1
            progress.states = states
            progress.finished = sum(1 for r in runs if _finished(r))
            failed = [r for r in runs if _failed(r)]
            progress.failed = len(failed)
            progress.running = sum(1 for r in runs if r.execution is not None and not r.execution.state.is_terminal)
            snapshot = SweepProgress(progress.total, progress.launched, progress.finished,
                                     progress.failed, dict(states), progress.elapsed, progress.running,
                                     [{"row": r.index, "id": r.execution.id if r.execution else None,
                                       "error": r.error, "url": r.url} for r in failed])
        with report_lock:       # one call at a time, whichever thread reports
            on_progress(snapshot)

    def launch(run: _Run) -> None:
        try:
            run.execution = client.executions.create_execution(
                namespace, flow_id, inputs=run.inputs, labels=run_labels, revision=revision)
        except KestraError as e:
            run.error = str(e)
        except Exception as e:    # one bad row (e.g. an unencodable value) never sinks the sweep
            run.error = f"{type(e).__name__}: {e}"
        with lock:
            progress.launched += 1

    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="kestra-sweep",
                            initializer=_inherit, initargs=(contextvars.copy_context(),)) as pool:
        finishing: list = []      # reads of each ended run (outputs, failure reason), overlapping the wait

        def ended(run: _Run) -> None:
            if outputs:
                finishing.append(pool.submit(_fetch_outputs, client, run))
            if run.execution.state.is_failed:
                finishing.append(pool.submit(_explain_failure, client, run))
        _launch_and_follow(client, namespace, flow_id, sweep_id, runs, pool, max_workers, timeout,
                           poll_interval, started, launch, report, ended)
        for future in finishing:
            future.result()
    report()
    return _frame(pd, runs, columns)


def _launch_and_follow(client, namespace, flow_id, sweep_id, runs, pool, max_workers, timeout,
                       poll_interval, started, launch, report, ended) -> None:
    """Keep at most ``max_workers`` executions running: launch rows into free slots, then poll all
    running ones together (one labelled search per round, plus a direct read for any run the search
    has not caught up with) until every row has ended."""
    queue = list(runs)
    by_id: dict[str, _Run] = {}
    delay = min(poll_interval, 0.05)
    done: set[str] = set()
    while True:
        for i, r in by_id.items():
            if i not in done and r.execution.state.is_terminal:
                done.add(i)
                ended(r)          # its outputs are read while the others go on
        running = {i: r for i, r in by_id.items() if i not in done}
        if timeout is not None and time.monotonic() - started > timeout:
            for r in running.values():
                r.error = r.error or f"still {r.execution.state.current} after the {timeout:g}s timeout"
            for r in queue:
                r.error = f"not launched: the {timeout:g}s timeout passed first"
            return
        free = max_workers - len(running)
        if queue and free > 0:
            batch, queue = queue[:free], queue[free:]
            list(pool.map(launch, batch))
            for r in batch:
                if r.execution is not None and r.execution.id:
                    by_id[r.execution.id] = r
                    running[r.execution.id] = r
            delay = min(poll_interval, 0.05)
            report()
        if not running:
            if not queue:
                return
            continue
        time.sleep(delay)
        # rows still waiting for a slot: look again soon (a freed slot is a run not started yet)
        delay = min(poll_interval, QUEUED_POLL) if queue else min(delay * 2, poll_interval)
        seen = _search_round(client, namespace, flow_id, sweep_id, running, by_id)
        missing = [by_id[i] for i in running if i not in seen]
        if missing:
            list(pool.map(lambda r: _refresh(client, r), missing))
        report()


def _failed(run: _Run) -> bool:
    return bool(run.error and run.execution is None) or (run.execution is not None and run.execution.state.is_failed)


def _explain_failure(client, run: _Run) -> None:
    """``error`` of a failed run: the failing task and its error line (``FAILED at task t: msg``),
    and ``url``, a link to the execution."""
    from kestra_magic.runs import failure_reason
    try:
        ex = client.executions.get_execution(run.execution.id)
    except KestraError as e:
        run.error = run.error or f"{run.execution.state.current} (reason unavailable: {e})"
    else:
        run.error = run.error or failure_reason(client, ex)
    try:
        run.url = client.ui_link(f"executions/{run.execution.namespace}/{run.execution.flow_id}/{run.execution.id}")
    except Exception:
        run.url = None


def _inherit(context: contextvars.Context) -> None:
    """Give a worker thread the caller's context variables (e.g. a `kestra_magic.servers(...)` block)."""
    for var, value in context.items():
        var.set(value)


def _finished(run: _Run) -> bool:
    """A launch error or a terminal run; a row not launched yet is not finished."""
    if run.execution is None:
        return run.error is not None
    return run.execution.state.is_terminal


def _search_round(client, namespace, flow_id, sweep_id, pending, by_id) -> set:
    seen: set = set()
    page, size = 1, min(max(len(pending), 25), 200)
    try:
        while True:
            result = client.executions.search_executions(
                namespace=namespace, flow_id=flow_id, labels={SWEEP_LABEL: sweep_id}, page=page, size=size)
            for ex in result.results:
                run = by_id.get(ex.id)
                if run is not None:
                    seen.add(ex.id)
                    _merge(run, ex)
            if page * size >= result.total or not result.results:
                return seen
            page += 1
    except KestraError:
        return seen            # searching is an optimisation: direct reads cover the rest


def _merge(run: _Run, ex: Execution) -> None:
    """Keep the fuller execution object: light search items lack task runs and outputs."""
    if ex.state.current:
        run.execution.state = ex.state
        run.execution.raw = {**run.execution.raw, "state": ex.raw.get("state")}
    if ex.outputs:
        run.outputs = dict(ex.outputs)


def _refresh(client, run: _Run) -> None:
    try:
        run.execution = client.executions.get_execution(run.execution.id)
    except KestraNotFound:
        pass                    # 2.x may not see a brand-new execution yet
    except KestraError as e:
        run.error = str(e)


def _fetch_outputs(client, run: _Run) -> None:
    try:
        run.outputs = client.executions.flow_outputs(run.execution.id) or {}
    except KestraError as e:
        run.error = run.error or f"outputs unavailable: {e}"


def _frame(pd, runs: list[_Run], columns: list[str]):
    from kestra_magic.frames.tables import _dates, _durations, _state_category, with_readable_durations
    out_ids: dict[str, None] = {}
    for r in runs:
        out_ids.update(dict.fromkeys(r.outputs or {}))
    states = [(r.execution.state if r.execution else None) for r in runs]
    start = _dates(s.start_date if s else None for s in states)
    end = _dates(s.end_date if s else None for s in states)
    data: dict[str, Any] = {}
    for c in columns:
        data[c] = pd.Series([r.inputs.get(c) for r in runs], dtype=object).infer_objects()
    # only the states that occurred: value_counts() of a sweep lists what happened, not all 17
    data["state"] = pd.Series(_state_category([(s.current if s else None) for s in states]))
    data["duration"] = _durations([s.duration if s else None for s in states], start, end)
    data["startDate"] = start
    data["endDate"] = end
    for oid in out_ids:
        name = oid if oid not in data and oid not in _RESERVED else f"outputs.{oid}"
        data[name] = pd.Series([(r.outputs or {}).get(oid) for r in runs], dtype=object).infer_objects()
    data["executionId"] = pd.Series([r.execution.id if r.execution else None for r in runs], dtype=object)
    data["error"] = pd.Series([r.error for r in runs], dtype=object)
    return with_readable_durations(pd.DataFrame(data))
