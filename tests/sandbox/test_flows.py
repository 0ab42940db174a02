"""Flow endpoints: create/update/get/delete/list/search/revisions/validate (kestra-api.md §1)."""
from __future__ import annotations

import json

import pytest

from tests.sandbox.conftest import YAML, error_text, flow_yaml


def test_create_returns_flow_with_source_revision_1(kapi, ns):
    src = flow_yaml(ns, "hello")
    body = kapi.create_flow(src)
    assert body["id"] == "hello" and body["namespace"] == ns and body["revision"] == 1
    assert body["source"] == src
    assert body["tasks"][0]["type"] == "io.kestra.plugin.core.log.Log"
    assert body["deleted"] is False


def test_duplicate_create_is_422_on_1x_and_409_on_2x(kapi, ns):
    src = flow_yaml(ns, "dup")
    kapi.create_flow(src)
    resp = kapi.post("/flows", data=src, headers=YAML)
    if kapi.gen == 1:
        assert resp.status_code == 422
        assert resp.json()["message"] == "Invalid entity: flow.id: Flow id already exists"
        assert resp.json()["_embedded"]["errors"] == [{"message": "Flow id already exists", "path": "flow.id"}]
    else:
        assert resp.status_code == 409
        problem = resp.json()
        assert problem["type"] == "https://kestra.io/docs/api-reference/problems/entity-already-exists"
        assert problem["instance"] == "/api/v1/main/flows" and "dup" in problem["detail"]


def test_update_bumps_revision_unless_source_identical(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "up"))
    changed = flow_yaml(ns, "up") + "description: changed\n"
    r2 = kapi.put(f"/flows/{ns}/up", data=changed, headers=YAML)
    assert r2.status_code == 200 and r2.json()["revision"] == 2 and r2.json()["description"] == "changed"
    r3 = kapi.put(f"/flows/{ns}/up", data=changed, headers=YAML)
    assert r3.json()["revision"] == 2
    revs = kapi.get(f"/flows/{ns}/up/revisions").json()
    assert [r["revision"] for r in revs] == [1, 2]
    assert all("source" in r for r in revs)
    old = kapi.get(f"/flows/{ns}/up", params={"revision": 1, "source": "true"}).json()
    assert old["revision"] == 1 and "description" not in old and old["source"] == flow_yaml(ns, "up")


def test_update_rejects_id_or_namespace_change_and_unknown_flow(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "keep"))
    resp = kapi.put(f"/flows/{ns}/keep", data=flow_yaml(ns, "other"), headers=YAML)
    assert resp.status_code == 422
    assert "flow.id: Illegal flow id update" in error_text(resp)
    resp = kapi.put(f"/flows/{ns}/keep", data=flow_yaml(ns + ".x", "keep"), headers=YAML)
    assert resp.status_code == 422 and "Illegal namespace update" in resp.text
    missing = kapi.put(f"/flows/{ns}/nope", data=flow_yaml(ns, "nope"), headers=YAML)
    assert missing.status_code == 404
    assert (missing.content == b"") == (kapi.gen == 1)


def test_get_with_and_without_source_and_404(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "g"))
    plain = kapi.get(f"/flows/{ns}/g").json()
    assert "source" not in plain and plain["id"] == "g"
    assert "source" in kapi.get(f"/flows/{ns}/g", params={"source": "true"}).json()
    resp = kapi.get(f"/flows/{ns}/missing")
    assert resp.status_code == 404
    if kapi.gen == 1:
        assert resp.json()["message"] == "Not Found"


def test_delete_is_soft_and_recreate_gets_next_revision(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "d"))
    assert kapi.delete(f"/flows/{ns}/d").status_code == 204
    assert kapi.get(f"/flows/{ns}/d").status_code == 404
    deleted = kapi.get(f"/flows/{ns}/d", params={"allowDeleted": "true"}).json()
    assert deleted["deleted"] is True
    missing = kapi.delete(f"/flows/{ns}/d")
    assert missing.status_code == 404
    again = kapi.create_flow(flow_yaml(ns, "d"))
    assert again["revision"] == 3


def test_list_namespace_and_search_filters_paging_sort(kapi, ns):
    for fid in ("b", "a", "c"):
        kapi.create_flow(flow_yaml(ns, fid) + "labels:\n  team: " + ("x" if fid != "c" else "y") + "\n")
    kapi.create_flow(flow_yaml(ns + ".child", "z"))
    listed = kapi.get(f"/flows/{ns}").json()
    assert [f["id"] for f in listed] == ["a", "b", "c"]
    assert listed[0]["labels"] == [{"key": "team", "value": "x"}]
    page = kapi.get("/flows/search", params={"filters[namespace][EQUALS]": ns, "size": 2, "page": 1,
                                             "sort": "id:desc"}).json()
    assert page["total"] == 3 and [f["id"] for f in page["results"]] == ["c", "b"]
    page2 = kapi.get("/flows/search", params={"filters[namespace][EQUALS]": ns, "size": 2, "page": 2,
                                              "sort": "id:desc"}).json()
    assert [f["id"] for f in page2["results"]] == ["a"]
    prefix = kapi.get("/flows/search", params={"filters[namespace][PREFIX]": ns, "size": 50}).json()
    assert prefix["total"] == 4
    labels = kapi.get("/flows/search", params={"filters[namespace][EQUALS]": ns,
                                               "filters[labels][EQUALS][team]": "y"}).json()
    assert [f["id"] for f in labels["results"]] == ["c"]
    q = kapi.get("/flows/search", params={"filters[q][EQUALS]": "child", "filters[namespace][PREFIX]": ns}).json()
    assert [f["id"] for f in q["results"]] == ["z"]


def test_legacy_flat_search_params_work_on_1x_only(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "legacy"))
    if kapi.gen == 1:
        assert kapi.get("/flows/search", params={"namespace": ns}).json()["total"] == 1
    else:  # 2.x silently ignores flat params (only filters[...] select)
        kapi.create_flow(flow_yaml(ns + "x", "other"))
        body = kapi.get("/flows/search", params={"namespace": ns, "filters[namespace][STARTS_WITH]": ns}).json()
        assert sorted(f["namespace"] for f in body["results"]) == [ns, ns + "x"]


@pytest.mark.parametrize("params,status", [
    ({"filters[nope][EQUALS]": "x"}, 400),
    ({"filters[namespace][SOUNDS_LIKE]": "x"}, 400),
    ({"sort": "id:sideways"}, 422),
    ({"page": "zero"}, 400),
    ({"page": "0"}, 422),
])
def test_bad_search_parameters(kapi, params, status):
    resp = kapi.get("/flows/search", params=params)
    assert resp.status_code == status, resp.text


def test_create_validation_errors(kapi, ns):
    cases = {
        "id: x\nnamespace: [unclosed\n": "Invalid YAML",
        f"namespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n": "id",
        f"id: x\nnamespace: {ns}\n": "tasks",
        f"id: x\nnamespace: {ns}\nbogus: 1\n" + "tasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n":
            "Unrecognized field \"bogus\"",
        f"id: x\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.nope.Task\n": "tasks[0]",
        "- just\n- a list\n": "mapping",
        f"id: x\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
        f"  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n": "Duplicate task id",
        f"id: x\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: m\n"
        f"    colour: red\n": "tasks[0].colour: Unrecognized field",
        f"id: x\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n": "tasks[0].message: must not be null",
    }
    for source, needle in cases.items():
        resp = kapi.post("/flows", data=source, headers=YAML)
        assert resp.status_code == 422, (source, resp.status_code, resp.text)
        assert needle in error_text(resp), (source, resp.text)
        if kapi.gen == 1:
            assert resp.json()["message"].startswith("Invalid entity: ")
        else:
            assert resp.json()["type"].rsplit("/", 1)[1] in ("validation-failed", "invalid-entity")
    blank = kapi.post("/flows", data="  \n", headers=YAML)
    assert blank.status_code == 422
    assert "Flow source cannot be empty" in error_text(blank)


def test_create_needs_the_yaml_content_type(kapi, ns):
    resp = kapi.post("/flows", data=flow_yaml(ns, "ct"))
    if kapi.gen == 2:
        assert resp.status_code == 415
    else:   # 1.x: the deprecated JSON route catches it and cannot parse YAML as JSON
        assert resp.status_code == 422
        as_json = kapi.post("/flows", data=json.dumps({"id": "js", "namespace": ns, "tasks": [
            {"id": "a", "type": "io.kestra.plugin.core.log.Log", "message": "m"}]}),
            headers={"Content-Type": "application/json"})
        assert as_json.status_code == 200 and as_json.json()["id"] == "js"


def test_validate_multi_document(kapi, ns):
    good = flow_yaml(ns, "ok")
    bad = f"id: bad\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.nope.Task\n"
    resp = kapi.post("/flows/validate", data=good + "---\n" + bad + "---\nid: [broken\n", headers=YAML)
    assert resp.status_code == 200
    results = resp.json()
    assert [r["index"] for r in results] == [0, 1, 2]
    assert results[0]["flow"] == "ok" and "constraints" not in results[0]
    assert results[1]["flow"] == "bad" and "tasks[0]" in results[1]["constraints"]
    assert "Invalid YAML" in results[2]["constraints"]


def test_validate_multipart_files(kapi, ns):
    resp = kapi.post("/flows/validate", files=[("flows", ("one.yml", flow_yaml(ns, "one").encode()))])
    assert resp.status_code == 200
    assert resp.json()[0]["filename"] == "one.yml" and resp.json()[0]["flow"] == "one"
