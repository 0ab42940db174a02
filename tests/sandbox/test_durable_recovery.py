"""Restart recovery of a durable sandbox, state by state (docs/sandbox.md, "Data").

Each test writes the state a crashed process would have left in a data dir (through a durable
``Store``), then starts a ``Sandbox`` on that dir and checks what recovery made of it.
"""
from __future__ import annotations

import datetime as dt
import time

from kestra_magic.sandbox import Sandbox
from kestra_magic.sandbox.instants import format_instant, parse_instant
from kestra_magic.sandbox.states import new_state, transition
from kestra_magic.sandbox.flows import parse
from kestra_magic.sandbox.store import Store

FLOW = """id: two
namespace: rec
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: second
    type: io.kestra.plugin.core.debug.Return
    format: "second"
"""
CHILD = """id: child
namespace: rec
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
"""
PARENT = """id: parent
namespace: rec
tasks:
  - id: call
    type: io.kestra.plugin.core.flow.Subflow
    namespace: rec
    flowId: child
"""
LIMITED = """id: limited
namespace: rec
concurrency:
  limit: 1
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
"""
FINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}


def execution(eid: str, flow_id: str, state: str, task_runs=()) -> dict:
    st = new_state("CREATED")
    for step in {"CREATED": [], "QUEUED": ["QUEUED"], "RUNNING": ["RUNNING"], "PAUSED": ["RUNNING", "PAUSED"],
                 "KILLING": ["RUNNING", "KILLING"]}[state]:
        transition(st, step)
    return {"id": eid, "namespace": "rec", "flowId": flow_id, "flowRevision": 1, "tenantId": "main", "state": st,
            "inputs": {}, "labels": [], "originalId": eid, "deleted": False,
            "metadata": {"attemptNumber": 1, "originalCreatedDate": st["startDate"]},
            "taskRunList": list(task_runs)}


def task_run(eid: str, tid: str, task_id: str, flow_id: str, *states: str, outputs=None) -> dict:
    st = new_state("CREATED")
    for s in states:
        transition(st, s)
    tr = {"id": tid, "tenantId": "main", "executionId": eid, "namespace": "rec", "flowId": flow_id,
          "taskId": task_id, "state": st, "outputs": outputs}
    if "RUNNING" in states:
        attempt = new_state("RUNNING")
        if st["current"] in FINAL:
            transition(attempt, st["current"])
        tr["attempts"] = [{"state": attempt}]
    return tr


def crashed_dir(tmp_path, *executions, flows=(FLOW,)):
    store = Store(2, tmp_path)
    for source in flows:
        store.save_flow(dict(parse(source), source=source))
    for ex in executions:
        store.save_execution(ex)
    store.close()
    return tmp_path


def wait_final(sb: Sandbox, eid: str, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        ex = sb.store.get_execution(eid)
        if ex["state"]["current"] in FINAL:
            return ex
        assert time.monotonic() < deadline, ex["state"]
        time.sleep(0.05)


def test_running_task_is_resubmitted_finished_ones_kept(tmp_path):
    ex = execution("e1", "two", "RUNNING", [task_run("e1", "t1", "first", "two", "RUNNING", "SUCCESS"),
                                            task_run("e1", "t2", "second", "two", "RUNNING")])
    with Sandbox(data_dir=crashed_dir(tmp_path, ex)) as sb:
        done = wait_final(sb, "e1")
        assert done["state"]["current"] == "SUCCESS"
        first, second = done["taskRunList"]
        assert [a["state"]["current"] for a in first["attempts"]] == ["SUCCESS"]   # kept, not run again
        assert [a["state"]["current"] for a in second["attempts"]] == ["RESUBMITTED", "SUCCESS"]
        assert second["outputs"] == {"value": "second"}
        assert [h["state"] for h in done["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
        warn = [lg for lg in sb.store.logs_for("e1") if lg["level"] == "WARN"]
        assert len(warn) == 1 and warn[0]["taskRunId"] == "t2" and "RESUBMITTED" in warn[0]["message"]
        assert not [lg for lg in sb.store.logs_for("e1") if lg["message"] == "first"]   # Log not re-run


def test_killing_ends_killed_and_created_starts(tmp_path):
    killing = execution("k1", "two", "KILLING", [task_run("k1", "t1", "first", "two", "RUNNING")])
    created = execution("c1", "two", "CREATED")
    with Sandbox(data_dir=crashed_dir(tmp_path, killing, created)) as sb:
        assert wait_final(sb, "k1")["state"]["current"] == "KILLED"
        assert wait_final(sb, "c1")["state"]["current"] == "SUCCESS"


def test_interrupted_subflow_is_reattached_not_run_twice(tmp_path):
    """The parent's Subflow attempt is resubmitted, and the new attempt waits for the child it had
    started (recovered on its own) instead of starting a second one."""
    parent = execution("p1", "parent", "RUNNING",
                       [task_run("p1", "t1", "call", "parent", "RUNNING", outputs={"executionId": "c1"})])
    child = execution("c1", "child", "RUNNING", [task_run("c1", "t2", "nap", "child", "RUNNING")])
    with Sandbox(data_dir=crashed_dir(tmp_path, parent, child, flows=(CHILD, PARENT))) as sb:
        done = wait_final(sb, "p1")
        assert done["state"]["current"] == "SUCCESS"
        assert wait_final(sb, "c1")["state"]["current"] == "SUCCESS"
        assert [e["id"] for e in sb.store.executions.values() if e["flowId"] == "child"] == ["c1"]
        call = done["taskRunList"][0]
        assert [a["state"]["current"] for a in call["attempts"]] == ["RESUBMITTED", "SUCCESS"]
        assert call["outputs"]["executionId"] == "c1" and call["outputs"]["state"] == "SUCCESS"
        assert any("re-attached" in lg["message"] for lg in sb.store.logs_for("p1"))


def test_an_execution_that_cannot_start_ends_failed_with_a_reason(tmp_path):
    lost = execution("x1", "gone", "RUNNING", [task_run("x1", "t1", "first", "gone", "RUNNING")])
    with Sandbox(data_dir=crashed_dir(tmp_path, lost)) as sb:
        ex = sb.store.get_execution("x1")
        assert ex["state"]["current"] == "FAILED" and ex["taskRunList"][0]["state"]["current"] == "FAILED"
        assert any(lg["level"] == "ERROR" and "could not pick" in lg["message"] for lg in sb.store.logs_for("x1"))


def test_api_paused_execution_stays_paused_until_resumed(tmp_path):
    paused = execution("a1", "two", "PAUSED", [task_run("a1", "t1", "first", "two", "RUNNING", "SUCCESS")])
    with Sandbox(data_dir=crashed_dir(tmp_path, paused)) as sb:
        time.sleep(0.3)   # what the recovered run does on its own: nothing, it is paused
        ex = sb.store.get_execution("a1")
        assert ex["state"]["current"] == "PAUSED" and len(ex["taskRunList"]) == 1
        assert [h["state"] for h in ex["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED"]
        sb.engine.resume("a1")
        done = wait_final(sb, "a1")
        assert done["state"]["current"] == "SUCCESS"
        assert [h["state"] for h in done["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED", "RUNNING",
                                                                      "SUCCESS"]
        assert [tr["taskId"] for tr in done["taskRunList"]] == ["first", "second"]


PAUSING = """id: pausing
namespace: rec
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT30.5S
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: after
"""


def test_timed_pause_waits_only_for_what_is_left(tmp_path):
    """Paused 30 s before the restart with a 30.5 s pauseDuration: it resumes about 0.5 s after
    the restart (not 30.5 s), and neither the execution nor the Pause task run gets a second
    RUNNING/PAUSED pair in its history."""
    ex = execution("w1", "pausing", "PAUSED", [task_run("w1", "t1", "wait", "pausing", "RUNNING", "PAUSED")])
    long_ago = format_instant(dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=30))
    for state in (ex["state"], ex["taskRunList"][0]["state"]):
        state["histories"][-1]["date"] = long_ago
        state["endDate"] = long_ago
    ex["taskRunList"][0].pop("attempts")
    with Sandbox(data_dir=crashed_dir(tmp_path, ex, flows=(PAUSING,))) as sb:
        done = wait_final(sb, "w1", timeout=15)
        assert done["state"]["current"] == "SUCCESS"
        pause = done["taskRunList"][0]
        assert [h["state"] for h in pause["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED", "RUNNING",
                                                                       "SUCCESS"]
        assert [h["state"] for h in done["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED", "RUNNING",
                                                                      "SUCCESS"]
        assert done["taskRunList"][1]["outputs"] == {"value": "after"}


def test_queued_execution_waits_its_turn_again(tmp_path):
    running = execution("r1", "limited", "RUNNING", [task_run("r1", "t1", "nap", "limited", "RUNNING")])
    queued = execution("q1", "limited", "QUEUED")
    with Sandbox(data_dir=crashed_dir(tmp_path, running, queued, flows=(LIMITED,))) as sb:
        first, second = wait_final(sb, "r1"), wait_final(sb, "q1")
        assert first["state"]["current"] == second["state"]["current"] == "SUCCESS"
        started = next(h["date"] for h in second["state"]["histories"] if h["state"] == "RUNNING")
        assert [h["state"] for h in second["state"]["histories"]] == ["CREATED", "QUEUED", "RUNNING", "SUCCESS"]
        assert parse_instant(started) >= parse_instant(first["state"]["endDate"])   # q1 ran after r1 ended
