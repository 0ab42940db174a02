"""Fault injection (docs/interfaces.md): latency, canned failures, dropped connections (before and
after handling), SSE streams cut after N events, malformed bodies; in process and over HTTP."""
from __future__ import annotations

import time

import pytest
import requests

from kestra_magic.sandbox import Sandbox
from tests.sandbox.conftest import Kapi, flow_yaml


@pytest.fixture
def fsb():
    """A private sandbox per test: faults are per server instance (open: plain requests below)."""
    with Sandbox(api=2, auth=False) as sb:
        yield sb


def test_latency_applies_to_every_request_until_cleared(fsb):
    fsb.faults.latency(1.0)
    t0 = time.monotonic()
    requests.get(fsb.url + "/api/v1/configs", timeout=5)
    assert time.monotonic() - t0 >= 1.0
    fsb.faults.latency(0)
    t0 = time.monotonic()
    requests.get(fsb.url + "/api/v1/configs", timeout=5)
    assert time.monotonic() - t0 < 0.8


def test_fail_matches_method_and_path_for_n_times(fsb):
    fsb.faults.fail(503, times=2, method="GET", path=r"/flows/search$", body={"message": "busy"},
                    headers={"Retry-After": "1"})
    url = fsb.url + "/api/v1/main/flows/search"
    assert requests.delete(url, timeout=5).status_code == 405          # other method: handled normally
    first = requests.get(url, timeout=5)
    assert first.status_code == 503 and first.json() == {"message": "busy"} and first.headers["Retry-After"] == "1"
    assert requests.get(url, timeout=5).status_code == 503
    assert requests.get(url, timeout=5).status_code == 200             # used up
    fsb.faults.fail(500, path="configs")
    assert requests.get(fsb.url + "/api/v1/configs", timeout=5).status_code == 500
    fsb.faults.fail(502, body="<html>gateway</html>", content_type="text/html")
    resp = requests.get(fsb.url + "/api/v1/configs", timeout=5)
    assert resp.status_code == 502 and resp.headers["Content-Type"].startswith("text/html")


def test_drop_before_handling_creates_nothing(fsb, ns):
    k = Kapi(fsb)
    k.create_flow(flow_yaml(ns, "d"))
    fsb.faults.drop(method="POST", path="/executions/")
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{fsb.url}/api/v1/main/executions/{ns}/d", timeout=5)
    assert not [e for e in fsb.store.executions.values() if e["namespace"] == ns]
    assert k.post(f"/executions/{ns}/d").status_code == 200            # next one goes through


def test_drop_after_handling_creates_the_execution(fsb, ns):
    k = Kapi(fsb)
    k.create_flow(flow_yaml(ns, "d"))
    fsb.faults.drop(method="POST", path="/executions/", after_handling=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(f"{fsb.url}/api/v1/main/executions/{ns}/d", timeout=5)
    created = [e for e in fsb.store.executions.values() if e["namespace"] == ns]
    assert len(created) == 1


def test_sse_drop_after_n_events(fsb, ns):
    k = Kapi(fsb)
    eid = fsb.store.new_id()
    now = "2026-01-01T00:00:00Z"
    fsb.store.save_execution({   # a RUNNING execution nobody advances: start + progress, then silence
        "id": eid, "namespace": ns, "flowId": "held", "flowRevision": 1, "tenantId": "main",
        "state": {"current": "RUNNING", "histories": [{"state": "RUNNING", "date": now}]},
        "originalId": eid, "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now}})
    fsb.faults.sse_drop_after(2)
    cut = k.sse(f"/executions/{eid}/follow", timeout=10)
    assert [m for m, _ in cut] == ["start", "progress"]
    fsb.store.update_execution(eid, lambda ex: ex["state"].update(current="SUCCESS"))
    full = k.sse(f"/executions/{eid}/follow", timeout=10)
    assert [m for m, _ in full] == ["start", "end"]
    fsb.faults.sse_drop_after(1)
    assert [m for m, _ in k.sse(f"/logs/{eid}/follow", timeout=10)] == ["start"]   # log streams too


@pytest.mark.parametrize("kind", ["truncated", "invalid-json", "html"])
def test_malformed_bodies(fsb, kind):
    fsb.faults.malformed(kind, path="configs")
    url = fsb.url + "/api/v1/configs"
    if kind == "truncated":
        with pytest.raises(requests.exceptions.RequestException):
            requests.get(url, timeout=5).json()
    else:
        resp = requests.get(url, timeout=5)
        assert resp.status_code == 200
        with pytest.raises(ValueError):
            resp.json()
        if kind == "html":
            assert resp.headers["Content-Type"].startswith("text/html")
    assert requests.get(url, timeout=5).json()["edition"] == "OSS"


def test_http_control_endpoint(fsb):
    ctl = fsb.url + "/_sandbox/faults"
    assert requests.post(ctl, json={"kind": "fail", "status": 429, "times": 1, "path": "configs"},
                         timeout=5).status_code == 200
    assert requests.get(fsb.url + "/api/v1/configs", timeout=5).status_code == 429
    requests.post(ctl, json={"kind": "latency", "seconds": 5}, timeout=5)
    assert requests.get(ctl, timeout=5).json()["latency"] == 5
    assert requests.delete(ctl, timeout=5).status_code == 204          # control calls are never delayed
    t0 = time.monotonic()
    requests.get(fsb.url + "/api/v1/configs", timeout=5)
    assert time.monotonic() - t0 < 1
    bad = requests.post(ctl, json={"kind": "explode"}, timeout=5)
    assert bad.status_code == 400 and "unknown fault kind" in bad.json()["message"]
    assert requests.post(ctl, json={"kind": "fail", "status": 42}, timeout=5).status_code == 400
    assert not [r for r in fsb.requests if r.path.startswith("/_sandbox")]


def test_bad_fault_arguments_raise_clear_errors(fsb):
    with pytest.raises(ValueError, match="times must be >= 1"):
        fsb.faults.fail(500, times=0)
    with pytest.raises(ValueError, match="not a valid regular expression"):
        fsb.faults.drop(path="(")
    with pytest.raises(ValueError, match="truncated"):
        fsb.faults.malformed("weird")
    fsb.faults.fail(500)
    fsb.faults.clear()
    assert requests.get(fsb.url + "/api/v1/configs", timeout=5).status_code == 200
