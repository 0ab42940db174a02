"""The sandbox KV store (sandbox/kv.py): files that outlive the process, Kestra's key rules, expiry,
namespace inheritance; and KV values set by one sandbox read by the next on the same data_dir."""
from __future__ import annotations

import datetime as dt

import pytest
import requests

from kestra_magic.sandbox import Sandbox
from kestra_magic.sandbox.kv import KVError, KVExpired, KVStore


def test_values_keep_their_type_and_survive_a_new_store(tmp_path):
    KVStore(tmp_path).put("team.a", "cfg", {"n": 1, "tags": ["x"]})
    KVStore(tmp_path).put("team.a", "flag", True)
    fresh = KVStore(tmp_path)
    assert fresh.get("team.a", "cfg") == (True, {"n": 1, "tags": ["x"]})
    assert fresh.entry("team.a", "flag")["type"] == "BOOLEAN"
    assert [e["key"] for e in fresh.keys("team.a")] == ["cfg", "flag"]


def test_overwrite_false_expiry_and_inheritance(tmp_path):
    store = KVStore(tmp_path)
    store.put("company", "k", "parent")
    store.put("company.team", "k", "child")
    assert store.get("company.team.project", "k", inherit=True) == (True, "child")
    assert store.get("company.team.project", "k") == (False, None)
    with pytest.raises(KVError, match="Key already exists and `overwrite` is set to `false`"):
        store.put("company", "k", "again", overwrite=False)
    store.put("company", "old", "x", ttl=dt.timedelta(seconds=-1))
    with pytest.raises(KVExpired, match="The requested value has expired"):
        store.get("company", "old")
    store.put("company", "old", "renewed", overwrite=False)   # an expired key may be set again
    assert store.delete("company", "old") is True and store.delete("company", "old") is False


@pytest.mark.parametrize("key", ["", "-dash-first", "has space", "../escape", "a/b"])
def test_bad_keys_are_refused(tmp_path, key):
    with pytest.raises(KVError, match="does not match the pattern"):
        KVStore(tmp_path).put("ns", key, 1)


def _run(sb: Sandbox, ns: str, source: str, flow_id: str) -> dict:
    base = f"{sb.url}/api/v1/main"
    r = requests.post(f"{base}/flows", data=source.encode(), headers={"Content-Type": "application/x-yaml"},
                      timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(f"{base}/executions/{ns}/{flow_id}", params={"wait": "true"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_kv_set_by_one_sandbox_is_read_by_the_next(tmp_path, ns):
    first = Sandbox(api=1, data_dir=tmp_path, auth=False)
    first.start()
    try:
        ex = _run(first, ns, f"""
id: put
namespace: {ns}
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: answer
    value: "42"
    kvType: NUMBER
""", "put")
        assert ex["state"]["current"] == "SUCCESS"
    finally:
        first.stop()
    second = Sandbox(api=1, data_dir=tmp_path, auth=False)
    second.start()
    try:
        ex = _run(second, ns, f"""
id: get
namespace: {ns}
tasks:
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: answer
""", "get")
        assert ex["state"]["current"] == "SUCCESS"
        assert ex["taskRunList"][0]["outputs"]["value"] == 42
    finally:
        second.stop()
