"""client.logs against the sandbox of both generations, over real HTTP."""
from __future__ import annotations

import re

from kestra_magic.models import LogEntry
from tests.client.conftest import SLEEP_FLOW, flow_source, requests_to


def test_list_and_filter(client, sandbox, inputs_flow, ns):
    e = client.executions.create_execution(ns, "f", inputs={"name": "ann", "n": 5}, wait=True)
    logs = client.logs.list_logs(e.id)
    assert [(l.level, l.message, l.task_id) for l in logs] == [("INFO", "hello ann", "hello"),
                                                                ("WARN", "careful 5", "warn")]
    assert all(isinstance(l, LogEntry) and l.execution_id == e.id and l.timestamp for l in logs)
    since = len(sandbox.requests)
    assert [l.message for l in client.logs.list_logs(e.id, min_level="warn")] == ["careful 5"]
    sent = requests_to(sandbox, "GET", f"/logs/{e.id}", since)[-1]
    if client.generation == 1:
        assert sent.query == {"minLevel": ["WARN"]}
    else:
        assert sent.query == {"filters[level][GREATER_THAN_OR_EQUAL_TO]": ["WARN"]}
    assert [l.message for l in client.logs.list_logs(e.id, task_id="hello")] == ["hello ann"]
    hello_run = next(t.id for t in e.task_runs if t.task_id == "hello")
    assert [l.message for l in client.logs.list_logs(e.id, task_run_id=hello_run, attempt=0)] == ["hello ann"]


def test_download(client, inputs_flow, ns):
    e = client.executions.create_execution(ns, "f", inputs={"name": "ann"}, wait=True)
    text = client.logs.download_logs(e.id)
    lines = text.splitlines()
    assert len(lines) == 2 and re.match(r"^\S+ INFO hello ann$", lines[0]) and lines[1].endswith("WARN careful 1")
    assert client.logs.download_logs(e.id, min_level="WARN").strip().endswith("WARN careful 1")
    assert "INFO" not in client.logs.download_logs(e.id, min_level="WARN")


def test_follow_yields_live_entries_until_closed(client, ns):
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0.3))
    e = client.executions.create_execution(ns, "f")
    stream = client.logs.follow_logs(e.id)
    got = []
    for entry in stream:
        got.append(entry)
        if entry.message == "woke up":
            break
    stream.close()
    assert got[-1].message == "woke up" and got[-1].task_id == "after"
    with client.logs.follow_logs(e.id, min_level="INFO") as again:   # stored entries are replayed
        assert next(again).message == "woke up"



def test_follow_closed_from_another_thread_wakes_its_reader(client, ns):
    """A widget closes the log stream from its own thread while a reader is blocked in it."""
    import threading
    import time
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0.3))
    e = client.executions.create_execution(ns, "f", wait=True)
    stream = client.logs.follow_logs(e.id)
    seen, ended = [], threading.Event()

    def read():
        try:
            for entry in stream:       # replays the stored entries, then blocks: Kestra never ends it
                seen.append(entry)
        except Exception:
            pass
        ended.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 5
    while not any(x.message == "woke up" for x in seen) and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    stream.close()
    assert ended.wait(2), "the blocked reader was not woken by close()"
    assert time.monotonic() - started < 1.5
    assert any(x.message == "woke up" for x in seen)
