"""POST /flows/{namespace} (namespace sync, `delete`), POST /flows/bulk and POST
/flows/validate/task on both generations, checked against the spec."""
from __future__ import annotations

import json

YAML = {"Content-Type": "application/x-yaml"}


def doc(ns: str, flow_id: str, message: str = "hi") -> str:
    return (f"id: {flow_id}\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
            f"    message: {message}\n")


def ids(kapi, ns):
    return sorted(f["id"] for f in kapi.get(f"/flows/{ns}").json())


def test_namespace_sync_creates_updates_and_deletes(kapi, ns):
    resp = kapi.post(f"/flows/{ns}", data="---\n".join([doc(ns, "a"), doc(ns, "b")]), headers=YAML)
    assert resp.status_code == 200, resp.text
    assert sorted((f["id"], f["revision"]) for f in resp.json()) == [("a", 1), ("b", 1)]
    resp = kapi.post(f"/flows/{ns}", data="---\n".join([doc(ns, "a"), doc(ns, "c", "new")]), headers=YAML)
    assert sorted((f["id"], f["revision"]) for f in resp.json()) == [("a", 1), ("c", 1)]
    assert ids(kapi, ns) == ["a", "c"]
    kapi.post(f"/flows/{ns}", params={"delete": "false"}, data=doc(ns, "a", "changed"), headers=YAML)
    assert ids(kapi, ns) == ["a", "c"]
    assert kapi.get(f"/flows/{ns}/a").json()["revision"] == 2


def test_namespace_sync_rejects_other_namespaces_and_bad_yaml_atomically(kapi, ns):
    resp = kapi.post(f"/flows/{ns}", data="---\n".join([doc(ns, "a"), doc(ns + ".x", "b")]), headers=YAML)
    assert resp.status_code == 422
    resp = kapi.post(f"/flows/{ns}", data=doc(ns, "a") + "---\nid: [\n", headers=YAML)
    assert resp.status_code == 422
    assert ids(kapi, ns) == []


def test_bulk_with_and_without_namespace(kapi, ns):
    resp = kapi.post("/flows/bulk", data="---\n".join([doc(ns, "a"), doc(ns + ".child", "b")]), headers=YAML)
    assert resp.status_code == 200 and sorted(f["id"] for f in resp.json()) == ["a", "b"]
    refused = kapi.post("/flows/bulk", params={"namespace": ns}, data=doc(ns + ".child", "b"), headers=YAML)
    assert refused.status_code == 422
    resp = kapi.post("/flows/bulk", params={"namespace": ns, "allowNamespaceChild": "true"},
                     data=doc(ns + ".child", "b"), headers=YAML)
    assert resp.status_code == 200
    assert ids(kapi, ns) == []          # `delete` (default true) removed `a` from the namespace


def test_validate_task(kapi):
    ok = kapi.post("/flows/validate/task", params={"section": "TASKS"}, headers={"Content-Type": "application/json"},
                   data=json.dumps({"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "x"}))
    assert ok.status_code == 200 and "constraints" not in ok.json()
    bad = kapi.post("/flows/validate/task", params={"section": "TASKS"}, headers=YAML,
                    data="id: t\ntype: io.kestra.plugin.core.log.Log\n")
    assert bad.status_code == 200 and "message" in bad.json()["constraints"]
    assert kapi.post("/flows/validate/task", params={"section": "NOPE"}, headers=YAML, data="id: t").status_code == 400
