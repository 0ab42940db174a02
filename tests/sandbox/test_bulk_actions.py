"""Bulk execution routes (by-ids / by-query), executions/latest and change-status on both
generations, every response checked against Kestra's spec of the generation."""
from __future__ import annotations

import json
import time

from tests.sandbox.conftest import flow_yaml

SLOW = """
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""
JSON = {"Content-Type": "application/json"}


def wait_state(kapi, execution_id, *states, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        ex = kapi.get(f"/executions/{execution_id}").json()
        if ex["state"]["current"] in states:
            return ex
        assert time.monotonic() < deadline, f"{execution_id} stuck in {ex['state']['current']}"
        time.sleep(0.05)


def bulk_count(kapi, resp) -> int:
    if kapi.gen == 1:
        assert resp.status_code == 200, resp.text
        return resp.json()["count"]
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["operationId"]
    return body["totalItems"]


def test_kill_by_ids_and_by_query(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "slow", SLOW))
    ids = [kapi.run(ns, "slow")["id"] for _ in range(3)]
    for i in ids:
        wait_state(kapi, i, "RUNNING")
    resp = kapi.delete("/executions/kill/by-ids", data=json.dumps(ids[:2]), headers=JSON)
    assert bulk_count(kapi, resp) == 2
    for i in ids[:2]:
        wait_state(kapi, i, "KILLED")
    bad = kapi.delete("/executions/kill/by-ids", data=json.dumps([ids[0], "nope"]), headers=JSON)
    assert bad.status_code == 400
    body = bad.json()
    assert body["message"] == "invalid bulk kill"
    assert sorted(i["invalidValue"] for i in body["invalids"]) == sorted([ids[0], "nope"])
    assert wait_state(kapi, ids[2], "RUNNING")["state"]["current"] == "RUNNING"   # nothing applied
    resp = kapi.delete("/executions/kill/by-query", params={"filters[namespace][EQUALS]": ns})
    assert bulk_count(kapi, resp) == 1
    wait_state(kapi, ids[2], "KILLED")


def test_by_query_rejects_legacy_params_on_2x_and_bad_filters(kapi, ns):
    resp = kapi.post("/executions/restart/by-query", params={"namespace": ns})
    if kapi.gen == 2:
        assert resp.status_code == 400 and "filters[namespace][EQUALS]" in resp.json()["detail"]
    else:
        assert bulk_count(kapi, resp) == 0
    bad = kapi.post("/executions/restart/by-query", params={"filters[nope][EQUALS]": "x"})
    assert bad.status_code == 400


def test_restart_labels_change_status_delete_by_ids(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "boom", """
    tasks:
      - id: bad
        type: io.kestra.plugin.core.execution.Fail
    """))
    ids = [kapi.run(ns, "boom", wait="true")["id"] for _ in range(2)]
    assert bulk_count(kapi, kapi.post("/executions/restart/by-ids", data=json.dumps(ids), headers=JSON)) == 2
    for i in ids:
        ex = wait_state(kapi, i, "FAILED")
        assert ex["state"]["histories"][-2]["state"] in ("RUNNING", "RESTARTED")
    body = {"executionsId": ids, "executionLabels": [{"key": "team", "value": "ops"}]}
    assert bulk_count(kapi, kapi.post("/executions/labels/by-ids", data=json.dumps(body), headers=JSON)) == 2
    labels = {l["key"]: l["value"] for l in kapi.get(f"/executions/{ids[0]}").json()["labels"]}
    assert labels["team"] == "ops"
    resp = kapi.post("/executions/change-status/by-ids", params={"newStatus": "SUCCESS"},
                     data=json.dumps(ids), headers=JSON)
    assert bulk_count(kapi, resp) == 2
    assert kapi.get(f"/executions/{ids[1]}").json()["state"]["current"] == "SUCCESS"
    not_terminal = kapi.post("/executions/change-status/by-ids", params={"newStatus": "RUNNING"},
                             data=json.dumps(ids), headers=JSON)
    assert not_terminal.status_code == 422
    resp = kapi.delete("/executions/by-ids", data=json.dumps(ids), headers=JSON)
    assert resp.status_code == 200 and resp.json() == {"count": 2}
    assert kapi.get(f"/executions/{ids[0]}").status_code == 404


def test_latest_and_list_by_flow(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "f"))
    first = kapi.run(ns, "f", wait="true")
    second = kapi.run(ns, "f", wait="true")
    resp = kapi.post("/executions/latest", data=json.dumps([{"namespace": ns, "id": "f"},
                                                           {"namespace": ns, "id": "none"}]), headers=JSON)
    assert resp.status_code == 200
    assert [(l["id"], l["status"]) for l in resp.json()] == [(second["id"], "SUCCESS")]
    page = kapi.get("/executions", params={"namespace": ns, "flowId": "f"}).json()
    assert page["total"] == 2 and {e["id"] for e in page["results"]} == {first["id"], second["id"]}


def test_change_status_single_action(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "f"))
    ex = kapi.run(ns, "f", wait="true")
    seg = "actions/change-status" if kapi.gen == 2 else "change-status"
    resp = kapi.post(f"/executions/{ex['id']}/{seg}", params={"status": "FAILED"})
    assert resp.status_code == 200 and resp.json()["state"]["current"] == "FAILED"
    assert kapi.post(f"/executions/{ex['id']}/{seg}", params={"status": "RUNNING"}).status_code == 422
    assert kapi.post(f"/executions/nope/{seg}", params={"status": "FAILED"}).status_code == 404
