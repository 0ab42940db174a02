"""Defects a review found in the sandbox, each pinned by the test that failed before its fix."""
from __future__ import annotations

import json
import textwrap
import threading
import time

import pytest

from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import persist
from kestra_magic.sandbox.backend import Backend
from kestra_magic.sandbox.engine import Engine
from kestra_magic.sandbox.inputs import Resolved
from kestra_magic.sandbox.store import DB_NAME, STATE_DIR, Store

HELLO = """
id: hello
namespace: test.review
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
NAP = """
id: nap
namespace: test.review
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT1S
"""


def _flow(backend: Backend, source: str) -> dict:
    source = textwrap.dedent(source).strip() + "\n"
    return backend.create_flow(flowsmod.parse(source), source)


def _finished(backend: Backend, flow: dict) -> dict:
    execution_id = backend.new_execution_id()
    backend.create_execution(flow, execution_id, Resolved(), backend.create_labels(flow, [], execution_id))
    ended = backend.wait_for_end(execution_id, timeout=30)
    assert ended["state"]["current"] == "SUCCESS"
    return ended


@pytest.fixture
def durable(tmp_path):
    """A durable backend whose store never commits in the background: only what it commits
    synchronously is on disk (``on_disk`` reads the database as a restarted sandbox would)."""
    store = Store(2, tmp_path, commit_interval=None)
    engine = Engine(store)
    backend = Backend(store, engine, 2)
    backend.on_disk = lambda: _disk(tmp_path)
    yield backend
    engine.shutdown()
    store.close()


def _disk(data_dir) -> dict:
    db = persist.Database(data_dir / STATE_DIR / DB_NAME)
    try:
        return db.load().executions
    finally:
        db.close()


# -- 1. every change an API action acknowledges is on disk before the answer --------------------
def test_acknowledged_changes_are_on_disk_before_the_answer(durable):
    flow = _flow(durable, HELLO)
    ex = _finished(durable, flow)
    durable.set_labels(ex["id"], [{"key": "team", "value": "a"}])
    assert {"key": "team", "value": "a"} in durable.on_disk()[ex["id"]]["labels"]
    durable.bulk_rule("labels", labels=[{"key": "bulk", "value": "b"}]).by_ids([ex["id"]])
    assert {"key": "bulk", "value": "b"} in durable.on_disk()[ex["id"]]["labels"]
    durable.change_status(ex["id"], "WARNING")
    assert durable.on_disk()[ex["id"]]["state"]["current"] == "WARNING"
    durable.delete_execution(ex["id"], delete_logs=False)   # deleting logs would commit by itself
    assert durable.on_disk()[ex["id"]]["deleted"] is True


def test_replay_and_task_run_marks_are_on_disk_before_the_answer(durable):
    flow = _flow(durable, NAP)   # the re-run naps: its end (a synchronous commit) comes after the look
    marked, replayed = _finished(durable, flow), _finished(durable, flow)
    durable.set_task_run_state(marked["id"], marked["taskRunList"][0]["id"], "FAILED")
    assert {"key": "system.restarted", "value": "true"} in durable.on_disk()[marked["id"]]["labels"]
    durable.replay(replayed["id"])
    assert {"key": "system.replayed", "value": "true"} in durable.on_disk()[replayed["id"]]["labels"]


# -- 2. an execution's own folder is not "another execution": no redirect to itself -------------
def test_own_execution_folder_is_refused_not_redirected_to_itself(kapi, ns):
    kapi.create_flow(f"id: f\nnamespace: {ns}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
                     f"    message: hi\n")
    ex = kapi.run(ns, "f", wait="true")
    folder = f"kestra:///{ns.replace('.', '/')}/f/executions/{ex['id']}"
    for path in (folder, folder + "/"):
        resp = kapi.get(f"/executions/{ex['id']}/file", params={"path": path}, allow_redirects=False,
                        check=False)
        assert 400 <= resp.status_code < 500 and resp.status_code != 404, (path, resp.status_code)


# -- 3. replay-with-inputs stores FILE inputs in the replayed execution's own folder -------------
def test_replayed_file_input_is_downloadable_from_the_replay(kapi, ns):
    kapi.create_flow(f"id: up\nnamespace: {ns}\ninputs:\n  - id: data\n    type: FILE\ntasks:\n"
                     f"  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
    first = kapi.run(ns, "up", files=[("data", ("a.csv", b"old\n", "text/csv"))], wait="true")
    resp = kapi.action(first["id"], "replay-with-inputs", files=[("data", ("b.csv", b"new\n", "text/csv"))])
    assert resp.status_code == 200, resp.text
    replay = resp.json()
    uri = replay["inputs"]["data"]
    assert uri == f"kestra:///{ns.replace('.', '/')}/up/executions/{replay['id']}/inputs/data/b.csv"
    got = kapi.get(f"/executions/{replay['id']}/file", params={"path": uri})
    assert got.status_code == 200 and got.content == b"new\n"


# -- 4. a flow update checks and saves under one lock ------------------------------------------
def test_a_delete_racing_an_update_is_not_undone(tmp_path, monkeypatch):
    """The delete is started between the update's check and its save (from inside the save): it
    must wait for the update, so the flow ends deleted (a serial order), not resurrected."""
    store = Store(2)
    engine = Engine(store)
    backend = Backend(store, engine, 2)
    try:
        _flow(backend, HELLO)
        save, deleted = store.save_flow, []

        def racing_save(flow):
            other = threading.Thread(target=lambda: deleted.append(backend.delete_flow("test.review", "hello")))
            other.start()
            other.join(0.5)   # unlocked: the delete finishes now; locked: it waits for this update
            return save(flow)
        monkeypatch.setattr(store, "save_flow", racing_save)
        source = textwrap.dedent(HELLO).strip().replace("message: hi", "message: ho") + "\n"
        backend.update_flow("test.review", "hello", flowsmod.parse(source), source)
        monkeypatch.setattr(store, "save_flow", save)
        deadline = time.monotonic() + 10
        while not deleted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert deleted == [None]
        assert store.get_flow("test.review", "hello") is None   # the delete came last: no live flow
    finally:
        engine.shutdown()
        store.close()


# -- 5. bulk change-status refuses a KILLED execution as the single action does ----------------
def test_bulk_change_status_refuses_killed_executions_as_the_single_action(kapi, ns):
    kapi.create_flow(f"id: f\nnamespace: {ns}\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n"
                     f"    message: hi\n")
    ex = kapi.run(ns, "f", wait="true")
    assert kapi.action(ex["id"], "change-status", params={"status": "KILLED"}).json()["state"]["current"] == "KILLED"
    single = kapi.action(ex["id"], "change-status", params={"status": "SUCCESS"})
    assert single.status_code == 409
    bulk = kapi.post("/executions/change-status/by-ids", params={"newStatus": "SUCCESS"},
                     data=json.dumps([ex["id"]]), headers={"Content-Type": "application/json"})
    assert bulk.status_code == 400, bulk.text
    assert [i["invalidValue"] for i in bulk.json()["invalids"]] == [ex["id"]]
    assert "killed" in bulk.json()["invalids"][0]["message"]
    query = kapi.post("/executions/change-status/by-query", params={"newStatus": "SUCCESS",
                      "filters[namespace][EQUALS]": ns} if kapi.gen == 2 else {"newStatus": "SUCCESS", "namespace": ns})
    assert query.status_code in (200, 202) and query.json().get("count", query.json().get("totalItems")) == 0
    assert kapi.get(f"/executions/{ex['id']}").json()["state"]["current"] == "KILLED"


# -- 6. state sets have one home: states.py -----------------------------------------------------
def test_every_module_level_state_set_is_one_of_states_py():
    import importlib
    import pkgutil

    import kestra_magic.sandbox as package
    from kestra_magic.sandbox import states
    homes = [v for v in vars(states).values() if isinstance(v, (set, frozenset))]
    names = set().union(*homes) | {v for v in vars(states).values() if isinstance(v, str) and v.isupper()}
    strays = []
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name.endswith(("__main__", ".states")):
            continue
        module = importlib.import_module(info.name)
        for attr, value in vars(module).items():
            if isinstance(value, (set, frozenset)) and len(value) > 1 and value <= names \
                    and not any(value is home for home in homes):
                strays.append(f"{info.name}.{attr}")
    assert strays == []
    assert not states.UNFINISHED & states.TERMINAL
    assert states.PAUSABLE | states.RESUMABLE | states.ACTIVE <= states.UNFINISHED
    assert states.ENDED == states.TERMINAL | {states.PAUSED}


# -- 7. a webhook's trigger.headers carry no credential header ----------------------------------
def test_webhook_trigger_headers_leave_out_every_secret_header(sandbox, ns):
    from tests.sandbox.conftest import Kapi
    kapi = Kapi(sandbox)
    kapi.create_flow(f"id: w\nnamespace: {ns}\ntriggers:\n  - id: hook\n    type: io.kestra.plugin.core.trigger.Webhook\n"
                     f"    key: k3y\ntasks:\n  - id: log\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
    secrets = {"Authorization": "Bearer tok-a", "Proxy-Authorization": "Basic tok-b", "Cookie": "s=tok-c",
               "X-CSRF-Token": "tok-d", "Set-Cookie": "s=tok-e"}
    resp = kapi.post(f"/executions/webhook/{ns}/w/k3y", headers={**secrets, "X-Trace": "kept"}, check=False)
    assert resp.status_code == 200, resp.text
    got = kapi.get(f"/executions/{resp.json()['id']}").json()
    headers = got["trigger"]["variables"]["headers"]
    assert headers["x-trace"] == ["kept"]
    assert not {name.lower() for name in secrets} & set(headers)
    assert "tok-" not in json.dumps(got)


# -- 8. recovery and flow tasks read the store through its accessors ----------------------------
def test_store_accessors_for_recovery_and_subflows():
    from pathlib import Path
    store = Store(2)
    try:
        for eid, state, deleted in (("run", "RUNNING", False), ("done", "SUCCESS", False),
                                    ("gone", "RUNNING", True), ("held", "PAUSED", False)):
            store.save_execution({"id": eid, "state": {"current": state}, "deleted": deleted,
                                  "taskRunList": [{"id": f"{eid}-tr", "outputs": {"executionId": "done"}}]})
        assert store.unfinished_ids() == ["run", "held"]
        assert store.has_execution("gone") and not store.has_execution("nope")
        task_run = store.get_task_run("run", "run-tr")
        assert task_run == {"id": "run-tr", "outputs": {"executionId": "done"}}
        task_run["outputs"]["executionId"] = "changed"                       # a copy
        assert store.get_task_run("run", "run-tr")["outputs"]["executionId"] == "done"
        assert store.get_task_run("run", "nope") is None and store.get_task_run("nope", "x") is None
    finally:
        store.close()
    root = Path(__file__).resolve().parents[2] / "kestra_magic" / "sandbox"
    for module in ("recovery.py", "tasks/flow.py"):
        source = (root / module).read_text()
        assert "store.executions" not in source and "store.lock" not in source, module
