"""GET /logs/search (1.x `{results,total}`, 2.x `{results,total,type}` and cursor pages) and log
deletion, on both generations, checked against the spec."""
from __future__ import annotations

from tests.sandbox.conftest import flow_yaml

LOGS = """
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: first
  - id: b
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: second
  - id: c
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: third
"""


def test_search_filters_sort_and_pages(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "l", LOGS))
    ex = kapi.run(ns, "l", wait="true")
    by_ns = {"filters[namespace][EQUALS]": ns}
    body = kapi.get("/logs/search", params=dict(by_ns, sort="timestamp:asc")).json()
    assert body["total"] == 3 and [l["message"] for l in body["results"]] == ["first", "second", "third"]
    assert all(l["executionId"] == ex["id"] for l in body["results"])
    assert (body.get("type") == "OFFSET") == (kapi.gen == 2) and ("type" in body) == (kapi.gen == 2)
    warn_up = kapi.get("/logs/search", params=dict(by_ns, **{"filters[level][GREATER_THAN_OR_EQUAL_TO]": "WARN",
                                                            "sort": "timestamp:asc"})).json()
    assert [l["message"] for l in warn_up["results"]] == ["second", "third"]
    page2 = kapi.get("/logs/search", params=dict(by_ns, size=2, page=2, sort="timestamp:asc")).json()
    assert page2["total"] == 3 and [l["message"] for l in page2["results"]] == ["third"]
    q = kapi.get("/logs/search", params=dict(by_ns, **{"filters[q][EQUALS]": "second"})).json()
    assert [l["message"] for l in q["results"]] == ["second"]
    bad = kapi.get("/logs/search", params={"filters[bogus][EQUALS]": "x"})
    assert bad.status_code == 400


def test_cursor_pages_on_2x(kapi2, ns):
    kapi2.create_flow(flow_yaml(ns, "l", LOGS))
    kapi2.run(ns, "l", wait="true")
    params = {"filters[namespace][EQUALS]": ns, "size": 2, "sort": "timestamp:asc", "cursor": "0"}
    first = kapi2.get("/logs/search", params=params).json()
    assert first["type"] == "CURSOR" and [l["message"] for l in first["results"]] == ["first", "second"]
    rest = kapi2.get("/logs/search", params=dict(params, cursor=first["nextCursor"])).json()
    assert [l["message"] for l in rest["results"]] == ["third"] and "nextCursor" not in rest
    assert kapi2.get("/logs/search", params=dict(params, cursor="zz")).status_code == 400


def test_delete_logs_of_execution_and_flow(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "l", LOGS))
    one = kapi.run(ns, "l", wait="true")
    two = kapi.run(ns, "l", wait="true")
    params = {"filters[level][EQUALS]": "ERROR"} if kapi.gen == 2 else {"minLevel": "ERROR"}
    assert kapi.delete(f"/logs/{one['id']}", params=params).status_code == 200
    assert [l["message"] for l in kapi.get(f"/logs/{one['id']}").json()] == ["first", "second"]
    assert kapi.delete(f"/logs/{ns}/l").status_code == 200
    assert kapi.get(f"/logs/{one['id']}").json() == [] and kapi.get(f"/logs/{two['id']}").json() == []
