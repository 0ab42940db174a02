"""What a client waiting for a big execution costs the sandbox (issue 19): polls and follows of
GET /executions/{id} re-serialize only the task runs that changed since the last read, and the
follow stream's progress events are throttled. Counted, not timed."""
from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from kestra_magic.sandbox import execution_json, shapes, sse
from kestra_magic.sandbox.states import transition
from tests.conformance.harness import EngineHarness
from tests.sandbox.test_engine_direct import LOOP


@pytest.fixture(params=[1, 2], ids=["1.x", "2.x"])
def harness(request):
    h = EngineHarness(request.param)
    yield h
    h.close()


def _form(h: EngineHarness) -> str:
    return "api" if h.generation == 2 else "full"


def _expected(h: EngineHarness, ex_id: str, form: str) -> dict:
    """The execution shaped from a plain copy: what the cached JSON must equal."""
    shaped = shapes.execution(h.store.get_execution(ex_id), h.generation, form)
    return json.loads(json.dumps(shaped))


class ShapeCounter:
    """Counts the task runs shaped (serialized) by execution_json."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = shapes.task_run

        def counting(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)
        monkeypatch.setattr(execution_json.shapes, "task_run", counting)


def _polled_loop(h: EngineHarness, n: int, counter: ShapeCounter, monkeypatch) -> tuple[int, int]:
    """Run a loop of n task runs, read back after every 20th new task run (in the engine's thread,
    so the reads are the same whatever the machine's speed); (reads, task runs shaped)."""
    loop, value = ("ForEach", "taskrun.value") if h.generation == 1 else ("Loop", "item.value")
    flow = h.flow(LOOP.format(n=n, loop=loop, value=value))
    reads = []
    real = h.store.add_task_run

    def add_then_read(execution_id, task_run):
        real(execution_id, task_run)
        with h.store.lock:
            size = len(h.store.executions[execution_id]["taskRunList"])
            if size % 20 == 0:
                view = execution_json.render(h.store, execution_id, h.generation, _form(h))
                reads.append(size)
                if len(reads) % 5 == 0:   # the JSON of this instant is the execution of this instant
                    assert json.loads(view.body) == _expected(h, execution_id, _form(h))
    monkeypatch.setattr(h.store, "add_task_run", add_then_read)
    counter.calls = 0
    ex_id = h.create(flow)
    h.wait(ex_id)
    view = execution_json.render(h.store, ex_id, h.generation, _form(h))
    assert view.done and json.loads(view.body) == _expected(h, ex_id, _form(h))
    assert len(json.loads(view.body)["taskRunList"]) == n + 1
    monkeypatch.setattr(h.store, "add_task_run", real)
    assert sum(reads) > 4 * (n + 1)   # shaping every task run at every read would exceed the bound
    return len(reads), counter.calls


def test_polling_reshapes_only_what_changed(harness, monkeypatch):
    """However often a client polls, each task run is shaped about once per change seen by a read
    (the execution's own start and end re-shape none): reshaping every task run per poll made
    waiting for a 20,000-task-run loop quadratic."""
    counter = ShapeCounter(monkeypatch)
    for n in (300, 600):
        reads, shaped = _polled_loop(harness, n, counter, monkeypatch)
        assert shaped <= 4 * (n + 1), f"{shaped} task runs shaped for {n + 1} task runs over {reads} reads"


def test_a_read_reshapes_the_changed_task_run_only(harness, monkeypatch):
    loop, value = ("ForEach", "taskrun.value") if harness.generation == 1 else ("Loop", "item.value")
    ex_id = harness.create(harness.flow(LOOP.format(n=200, loop=loop, value=value)))
    harness.wait(ex_id)
    counter = ShapeCounter(monkeypatch)
    form = _form(harness)
    first = execution_json.render(harness.store, ex_id, harness.generation, form)
    assert counter.calls == 201   # the first read shapes them all...
    again = execution_json.render(harness.store, ex_id, harness.generation, form)
    assert counter.calls == 201 and again is first   # ...an unchanged execution none (one answer per version)
    target = harness.store.executions[ex_id]["taskRunList"][7]["id"]
    harness.store.update_task_run(ex_id, target, lambda tr: transition(tr["state"], "WARNING"))
    changed = execution_json.render(harness.store, ex_id, harness.generation, form)
    assert counter.calls == 202 and changed.changes == first.changes + 1
    assert json.loads(changed.body) == _expected(harness, ex_id, form)
    harness.store.update_execution(ex_id, lambda ex: ex["labels"].append({"key": "k", "value": "v"}),
                                   task_runs=False)
    header = execution_json.render(harness.store, ex_id, harness.generation, form)
    assert counter.calls == 202   # promised to change no task run: only the execution's own fields
    assert json.loads(header.body) == _expected(harness, ex_id, form)
    harness.store.update_execution(ex_id, lambda ex: ex["labels"].append({"key": "k2", "value": "v"}))
    whole = execution_json.render(harness.store, ex_id, harness.generation, form)
    assert counter.calls == 403   # a change through update_execution may touch anything: all again
    assert json.loads(whole.body) == _expected(harness, ex_id, form)


def test_a_hand_changed_state_is_shaped_coherent(harness):
    """Stored dates are trusted only while they match the histories (a state set by hand gets them
    recomputed)."""
    loop, value = ("ForEach", "taskrun.value") if harness.generation == 1 else ("Loop", "item.value")
    ex_id = harness.create(harness.flow(LOOP.format(n=2, loop=loop, value=value)))
    harness.wait(ex_id)

    def by_hand(ex):
        ex["state"]["histories"].append({"state": "RUNNING", "date": "2030-01-01T00:00:00Z"})
        ex["state"]["current"] = "RUNNING"
    harness.store.update_execution(ex_id, by_hand)
    shaped = json.loads(execution_json.render(harness.store, ex_id, harness.generation, _form(harness)).body)
    assert "endDate" not in shaped["state"] and "duration" not in shaped["state"]
    harness.store.update_execution(ex_id, lambda ex: transition(ex["state"], "SUCCESS"))
    shaped = json.loads(execution_json.render(harness.store, ex_id, harness.generation, _form(harness)).body)
    assert shaped["state"]["endDate"] == shaped["state"]["histories"][-1]["date"]


def test_follow_progress_is_throttled_and_ends_with_everything(sandbox, ns):
    """A 3,000-task-run loop followed over SSE: after a progress event of B bytes the next one
    waits B / PROGRESS_BYTES_PER_SECOND (Kestra sends one per change; the sandbox changes an
    execution thousands of times a second and every event is the whole execution), and the end
    event carries every task run."""
    http = requests.Session()
    if sandbox.username:
        http.auth = (sandbox.username, sandbox.password)
    base = f"{sandbox.url}/api/v1/main"
    loop, value = ("ForEach", "taskrun.value") if sandbox.generation == 1 else ("Loop", "item.value")
    source = LOOP.format(n=3000, loop=loop, value=value).replace("test.scale", ns)
    http.post(f"{base}/flows", data=source, headers={"Content-Type": "application/x-yaml"},
              timeout=10).raise_for_status()
    ex_id = http.post(f"{base}/executions/{ns}/loop3000", timeout=10).json()["id"]
    events: list[tuple[str, float, bytes]] = []
    with http.get(f"{base}/executions/{ex_id}/follow", stream=True, timeout=120) as r:
        marker = None
        for line in r.iter_lines():
            if line.startswith(b"id:"):
                marker = line[3:].decode()
            elif line.startswith(b"data:"):
                events.append((marker, time.monotonic(), line[5:]))
                if marker == "end":
                    break
    assert events[0][0] == "start" and events[-1][0] == "end"
    progress = [e for e in events if e[0] == "progress"]
    for before, after in zip(progress, progress[1:]):
        # read times are late by up to the read of `after` itself: a generous floor
        assert after[1] - before[1] >= 0.5 * len(before[2]) / sse.PROGRESS_BYTES_PER_SECOND, \
            (after[1] - before[1], len(before[2]))
    total = sum(len(e[2]) for e in progress)
    assert total < 3001 * 800 * 10, f"{total} bytes of progress for 3,001 task runs"
    end = json.loads(events[-1][2])
    assert end["state"]["current"] == "SUCCESS" and len(end["taskRunList"]) == 3001


def test_follow_shares_one_payload_per_version(harness):
    """Two followers of one execution at one store version get the very same bytes, built once."""
    loop, value = ("ForEach", "taskrun.value") if harness.generation == 1 else ("Loop", "item.value")
    ex_id = harness.create(harness.flow(LOOP.format(n=50, loop=loop, value=value)))
    harness.wait(ex_id)
    with harness.store.lock:
        views = []
        threads = [threading.Thread(target=lambda: views.append(
            execution_json.render(harness.store, ex_id, harness.generation, "core"))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert views[0] is views[1]
