"""The store (no HTTP): ids, flow revisions, soft delete, change notification, storage paths."""
from __future__ import annotations

import copy
import re
import threading

import pytest

from kestra_magic.sandbox.store import Store, friendly_id, uri_to_relpath


def test_friendly_ids_are_base62_and_at_most_22_chars():
    ids = {friendly_id() for _ in range(2000)}
    assert len(ids) == 2000
    assert all(re.fullmatch(r"[0-9A-Za-z]{1,22}", i) for i in ids)


def test_flow_revisions_identical_source_and_soft_delete(tmp_path):
    store = Store(2, tmp_path)
    flow = {"id": "f", "namespace": "n", "tasks": [], "source": "v1"}
    assert store.save_flow(flow)["revision"] == 1
    assert store.save_flow(flow)["revision"] == 1              # identical source: same revision
    assert store.save_flow(dict(flow, source="v2"))["revision"] == 2
    assert store.delete_flow("n", "f") and not store.delete_flow("n", "f")
    assert store.get_flow("n", "f") is None
    assert store.get_flow("n", "f", allow_deleted=True)["deleted"] is True
    assert store.get_flow("n", "f", revision=1)["source"] == "v1"
    assert store.get_flow("n", "f", revision="x") is None and store.get_flow("n", "f", revision=9) is None
    assert store.save_flow(dict(flow, source="v3"))["revision"] == 4
    assert [f["revision"] for f in store.flow_revisions("n", "f")] == [1, 2, 4]
    copy = store.get_flow("n", "f")
    copy["tasks"].append("mutated")
    assert store.get_flow("n", "f")["tasks"] == []               # callers get copies


def test_changes_wake_waiters(tmp_path):
    store = Store(1, tmp_path)
    store.save_execution({"id": "e1", "state": {"current": "CREATED"}})
    version = store.version
    woke = threading.Event()

    def waiter():
        if store.wait_for_change(version, timeout=5) != version:
            woke.set()
    t = threading.Thread(target=waiter)
    t.start()
    store.update_execution("e1", lambda ex: ex["state"].update(current="RUNNING"))
    t.join(5)
    assert woke.is_set() and store.get_execution("e1")["state"]["current"] == "RUNNING"
    store.add_log({"executionId": "e1", "message": "m"})
    assert [l["message"] for l in store.logs_for("e1")] == ["m"]


def test_storage_uris(tmp_path):
    store = Store(2, tmp_path)
    store.put_file("kestra:///a/b/c.txt", b"hi")
    assert (tmp_path / "a/b/c.txt").read_bytes() == b"hi"
    src = tmp_path / "src.bin"
    src.write_bytes(b"\x00\x01")
    store.put_file("kestra:///x/y.bin", src)
    assert store.file_path("kestra:///x/y.bin").read_bytes() == b"\x00\x01"
    assert uri_to_relpath("kestra:///a//./b") == "a/b"
    for bad in ("file:///etc/passwd", "kestra:///../etc/passwd", "kestra:///", "/etc/passwd"):
        with pytest.raises(ValueError):
            uri_to_relpath(bad)


def test_own_temporary_storage_is_removed_on_close():
    store = Store(2)
    store.put_file("kestra:///t.txt", b"x")
    root = store.storage_dir
    assert root.exists()
    store.close()
    assert not root.exists()


def _task_run(i: int) -> dict:
    return {"id": f"tr{i}", "taskId": "step", "value": str(i), "state": {"current": "CREATED", "histories": []}}


def test_durable_store_reopens_with_everything(tmp_path):
    store = Store(2, tmp_path)
    assert store.durable and not Store(2).durable
    store.save_flow({"id": "f", "namespace": "n", "tasks": [], "source": "id: f\r\n# é ✓  \n"})
    store.save_flow({"id": "f", "namespace": "n", "tasks": [], "source": "v2"})
    store.delete_flow("n", "f")
    store.save_execution({"id": "e1", "namespace": "n", "flowId": "f", "state": {"current": "CREATED"}})
    store.save_execution({"id": "e2", "namespace": "n", "flowId": "f", "state": {"current": "CREATED"},
                          "taskRunList": [_task_run(0)], "labels": [{"key": "k", "value": "v"}]})
    store.update_execution("e2", lambda ex: ex["taskRunList"].append(_task_run(1)))
    store.update_task_run("e2", "tr0", lambda tr: tr["state"].update(current="SUCCESS"))
    store.add_task_run("e2", _task_run(2))
    store.update_execution("e2", lambda ex: ex["state"].update(current="SUCCESS"))
    for i in range(3):
        store.add_log({"executionId": "e2", "message": f"m{i}"})
    store.delete_logs(lambda e: e["message"] != "m1", "e2")
    store.ns_put_file("n", "/a/b.txt", b"one", 1)
    store.ns_put_file("n", "/a/b.txt", b"two", 2)
    store.ns_put_dir("n", "/a", 1)
    store.ns_rename("n", {"/a/b.txt": "/a/c.txt"})
    flows, executions = copy.deepcopy(store.flows), store.get_execution("e2")
    store.close()

    again = Store(2, tmp_path)
    try:
        assert again.flows == flows and again.get_flow("n", "f", 1)["source"] == "id: f\r\n# é ✓  \n"
        assert list(again.executions) == ["e1", "e2"] and "taskRunList" not in again.executions["e1"]
        assert again.get_execution("e2") == executions
        assert [tr["state"]["current"] for tr in executions["taskRunList"]] == ["SUCCESS", "CREATED", "CREATED"]
        assert [e["message"] for e in again.logs_for("e2")] == ["m0", "m2"]
        assert set(again.ns_files) == {("n", "/a/c.txt")} and again.ns_files[("n", "/a/c.txt")].revisions == [b"one",
                                                                                                           b"two"]
        assert again.ns_dirs == {("n", "/a"): 1}
        assert again.delete_execution("e1")
    finally:
        again.close()
    third = Store(2, tmp_path)
    assert "e1" not in third.executions
    third.close()


def test_one_task_run_change_writes_one_row_whatever_the_execution_size(tmp_path):
    """A per-task-run full rewrite (quadratic on big loops) must not come back."""
    store = Store(2, tmp_path, commit_interval=None)   # no background commits: flush() counts every row
    try:
        store.save_execution({"id": "e", "state": {"current": "RUNNING"}, "taskRunList": []})
        for size in (200, 4000):
            count = len(store.executions["e"]["taskRunList"])
            store.update_execution("e", lambda ex: ex["taskRunList"].extend(_task_run(i) for i in range(count, size)),
                                   copy_result=False)
            store.flush()
            last = f"tr{size - 1}"

            def finish(ex: dict) -> None:   # the engine's way: search from the end, change in place
                for tr in reversed(ex["taskRunList"]):
                    if tr["id"] == last:
                        tr["state"]["current"] = "SUCCESS"
                        return
            store.update_execution("e", finish, copy_result=False)
            assert store.flush() == 2          # the execution row and that task run's row
            store.update_task_run("e", "tr0", lambda tr: tr.update(outputs={"x": size}))
            assert store.flush() == 2
            store.add_log({"executionId": "e", "message": "m"})
            assert store.flush() == 1
        store.update_execution("e", lambda ex: ex["state"].update(current="SUCCESS"), copy_result=False)
        assert store.flush() == 0                 # a final state is committed before the call returns
    finally:
        store.close()


def test_a_value_json_cannot_carry_fails_loudly_and_loses_nothing(tmp_path):
    store = Store(2, tmp_path, commit_interval=None)
    try:
        store.save_execution({"id": "e", "state": {"current": "RUNNING"}, "taskRunList": [_task_run(0)]})
        store.add_log({"executionId": "e", "message": "kept"})
        store.update_task_run("e", "tr0", lambda tr: tr.update(outputs={"bad": object()}))
        with pytest.raises(RuntimeError, match="cannot save execution e"):
            store.flush()
        store.update_task_run("e", "tr0", lambda tr: tr.update(outputs={"good": 1}))
        assert store.flush() == 4     # the log line, the execution row, its task run (whole list) again
    finally:
        store.close()
    again = Store(2, tmp_path)
    try:
        assert again.get_execution("e")["taskRunList"][0]["outputs"] == {"good": 1}
        assert [e["message"] for e in again.logs_for("e")] == ["kept"]
    finally:
        again.close()
