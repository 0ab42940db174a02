"""The store (no HTTP): ids, flow revisions, soft delete, change notification, storage paths."""
from __future__ import annotations

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
