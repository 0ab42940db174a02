"""Retries, ambiguity, timeouts, the 2.x 404 window, malformed answers and version detection,
with failures injected into the real sandbox (sb.faults) over real HTTP."""
from __future__ import annotations

import socket
import time

import pytest

from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration
from kestra_magic.errors import (KestraAmbiguousError, KestraAuthError, KestraConnectionError, KestraError,
                                 KestraNotFound, KestraServerError, KestraTimeout, KestraValidationError)
from tests.client.conftest import SLEEP_FLOW, flow_source, requests_to


@pytest.fixture
def fast(sandbox):
    """A client with tiny backoffs, and the sandbox's faults cleared afterwards."""
    c = KestraClient(Configuration(url=sandbox.url, backoff=0.01, api_generation=sandbox.generation))
    yield c
    sandbox.faults.clear()
    c.close()


@pytest.fixture
def flow(fast, ns):
    fast.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    return ns


def _executions(sandbox, ns):
    with sandbox.store.lock:
        return [e for e in sandbox.store.executions.values() if e.get("namespace") == ns]


def test_idempotent_get_is_retried_on_502_503_504_honouring_retry_after(fast, sandbox, flow):
    e = fast.executions.create_execution(flow, "f", wait=True)
    path = f"/executions/{e.id}$"
    sandbox.faults.fail(503, times=1, method="GET", path=path, headers={"Retry-After": "1"})
    sandbox.faults.fail(502, times=1, method="GET", path=path)
    sandbox.faults.fail(504, times=1, method="GET", path=path)
    since = len(sandbox.requests)
    started = time.monotonic()
    assert fast.executions.get_execution(e.id).id == e.id
    assert time.monotonic() - started >= 0.95            # Retry-After: 1 was honoured
    assert len(requests_to(sandbox, "GET", f"/executions/{e.id}", since)) == 4


def test_retries_are_bounded(fast, sandbox, flow):
    e = fast.executions.create_execution(flow, "f", wait=True)
    sandbox.faults.fail(503, times=10, method="GET", path=f"/executions/{e.id}$")
    since = len(sandbox.requests)
    with pytest.raises(KestraServerError, match="503") as info:
        fast.executions.get_execution(e.id)
    assert info.value.status == 503
    assert len(requests_to(sandbox, "GET", f"/executions/{e.id}", since)) == 1 + fast.configuration.retries


def test_500_is_not_retried(fast, sandbox, flow):
    sandbox.faults.fail(500, method="GET", path=f"/flows/{flow}/f$",
                        body={"message": "Internal server error: boom"})
    since = len(sandbox.requests)
    with pytest.raises(KestraServerError, match="boom"):
        fast.flows.get_flow(flow, "f")
    assert len(requests_to(sandbox, "GET", f"/flows/{flow}/f", since)) == 1


@pytest.mark.parametrize("status", [502, 504])
def test_create_execution_gateway_error_is_ambiguous_and_not_resent(fast, sandbox, flow, status):
    sandbox.faults.fail(status, method="POST", path=f"/executions/{flow}/f$")
    since = len(sandbox.requests)
    with pytest.raises(KestraAmbiguousError, match="check the executions") as info:
        fast.executions.create_execution(flow, "f")
    assert "\n" not in str(info.value) and info.value.status == status
    assert len(requests_to(sandbox, "POST", f"/executions/{flow}/f", since)) == 1


def test_create_execution_503_is_not_resent(fast, sandbox, flow):
    sandbox.faults.fail(503, method="POST", path=f"/executions/{flow}/f$")
    since = len(sandbox.requests)
    with pytest.raises(KestraServerError):
        fast.executions.create_execution(flow, "f")
    assert len(requests_to(sandbox, "POST", f"/executions/{flow}/f", since)) == 1
    assert _executions(sandbox, flow) == []


def test_dropped_connection_after_create_is_ambiguous(fast, sandbox, flow):
    sandbox.faults.drop(method="POST", path=f"/executions/{flow}/f$", after_handling=True)
    with pytest.raises(KestraAmbiguousError, match="NOT re-sent"):
        fast.executions.create_execution(flow, "f")
    assert len(_executions(sandbox, flow)) == 1          # created once, never twice


@pytest.mark.parametrize("action", ["restart", "replay"])
def test_dropped_restart_and_replay_are_ambiguous(fast, sandbox, flow, action):
    e = fast.executions.create_execution(flow, "f", wait=True)
    sandbox.faults.drop(method="POST", path=f"/executions/{e.id}/(actions/)?{action}$")
    since = len(sandbox.requests)
    with pytest.raises(KestraAmbiguousError):
        getattr(fast.executions, f"{action}_execution")(e.id)
    assert len(requests_to(sandbox, "POST", f"/{action}", since)) <= 1


def test_dropped_flow_create_is_ambiguous(fast, sandbox, ns):
    sandbox.faults.drop(method="POST", path="/api/v1/main/flows$")
    with pytest.raises(KestraAmbiguousError):
        fast.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))


def test_dropped_get_is_retried(fast, sandbox, flow):
    sandbox.faults.drop(times=2, method="GET", path=f"/flows/{flow}/f$")
    assert fast.flows.get_flow(flow, "f").id == "f"


def test_connection_refused_is_a_clear_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = KestraClient(Configuration(url=f"http://127.0.0.1:{port}", retries=1, backoff=0.01, api_generation=2))
    with pytest.raises(KestraConnectionError, match=f"cannot reach Kestra at http://127.0.0.1:{port}") as info:
        c.flows.get_flow("a", "b")
    assert "connection refused" in str(info.value) and "KESTRA_URL" in str(info.value)
    with pytest.raises(KestraConnectionError):   # refused = never sent: a create may say so plainly
        c.executions.create_execution("a", "b")


def test_read_timeout(sandbox, ns):
    c = KestraClient(Configuration(url=sandbox.url, read_timeout=0.3, retries=2, backoff=0.01,
                                   api_generation=sandbox.generation))
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    sandbox.faults.latency(0.8)
    try:
        started = time.monotonic()
        with pytest.raises(KestraTimeout, match="within 0.3s; raise read_timeout"):
            c.flows.get_flow(ns, "f")
        assert time.monotonic() - started < 0.75            # a slow server is not asked again
        with pytest.raises(KestraAmbiguousError):
            c.executions.create_execution(ns, "f")
        with pytest.raises(KestraTimeout):
            c.flows.get_flow(ns, "f", timeout=0.2)   # per-call timeout
    finally:
        sandbox.faults.clear()
    time.sleep(0.6)   # let the delayed create land before other tests look
    assert len(_executions(sandbox, ns)) == 1


def test_404_window_after_create_on_2x(fast, sandbox, flow):
    sandbox.faults.fail(404, times=2, method="POST", path=f"/executions/{flow}/f$")
    if sandbox.generation == 2:     # a flow this client just created: wait out the window
        e = fast.executions.create_execution(flow, "f")
        sandbox.faults.fail(404, times=2, method="GET", path=f"/executions/{e.id}$")
        assert fast.executions.get_execution(e.id).id == e.id
    else:                           # 1.x has no such window: a 404 is a 404
        with pytest.raises(KestraNotFound):
            fast.executions.create_execution(flow, "f")
    started = time.monotonic()      # a flow nobody created here fails at once, on both
    with pytest.raises(KestraNotFound):
        fast.executions.create_execution(flow, "never-created")
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("kind", ["invalid-json", "html"])
def test_malformed_answers(fast, sandbox, flow, kind):
    sandbox.faults.malformed(kind, method="GET", path=f"/flows/{flow}/f$")
    with pytest.raises(KestraError, match=r"not valid JSON \(\d+ bytes\); check the URL") as info:
        fast.flows.get_flow(flow, "f")
    assert "\n" not in str(info.value)


def test_truncated_answer_is_retried_then_reported(fast, sandbox, flow):
    sandbox.faults.malformed("truncated", method="GET", path=f"/flows/{flow}/f$")
    since = len(sandbox.requests)
    assert fast.flows.get_flow(flow, "f").id == "f"          # a GET is safe to send again
    assert len(requests_to(sandbox, "GET", f"/flows/{flow}/f", since)) == 2
    sandbox.faults.malformed("truncated", times=10, method="GET", path=f"/flows/{flow}/f$")
    with pytest.raises(KestraConnectionError, match="broke"):
        fast.flows.get_flow(flow, "f")


def test_html_error_page(fast, sandbox, flow):
    sandbox.faults.fail(404, method="GET", path=f"/flows/{flow}/f$", content_type="text/html",
                        body="<html><title>Nginx: no such page</title></html>")
    with pytest.raises(KestraNotFound, match="HTML page: Nginx: no such page"):
        fast.flows.get_flow(flow, "f")


def test_generation_detected_once_and_cached(sandbox):
    since = len(sandbox.requests)
    c = KestraClient(Configuration(url=sandbox.url))
    assert c.generation == sandbox.generation and c.generation == c.generation
    probes = [r.path for r in sandbox.requests[since:]]
    assert probes == ["/api/v1/configs"]                 # one probe settles it on both generations
    assert all("Authorization" not in r.headers for r in sandbox.requests[since:])
    c.flows.search_flows(size=1)
    c2_since = len(sandbox.requests)
    assert c.generation == sandbox.generation and len(sandbox.requests) == c2_since
    assert c.server_version == sandbox.version


def test_generation_override_skips_the_probe(sandbox):
    other = 1 if sandbox.generation == 2 else 2
    since = len(sandbox.requests)
    c = KestraClient(Configuration(url=sandbox.url, api_generation=other))
    assert c.generation == other
    assert [r for r in sandbox.requests[since:] if "/configs" in r.path] == []


def test_403_is_an_auth_error(fast, sandbox, flow):
    body = ({"message": "Forbidden: no access"} if sandbox.generation == 1 else
            {"type": "https://kestra.io/docs/api-reference/problems/forbidden", "title": "Access denied",
             "status": 403, "detail": "no access"})
    sandbox.faults.fail(403, method="GET", path=f"/flows/{flow}/f$", body=body,
                        content_type="application/json" if sandbox.generation == 1 else "application/problem+json")
    with pytest.raises(KestraAuthError, match="403 Forbidden.*no access.*permission") as info:
        fast.flows.get_flow(flow, "f")
    assert info.value.status == 403


def test_validation_violations_from_both_generations(fast, ns):
    bad = f"id: bad\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.nothing.Here\n"
    with pytest.raises(KestraValidationError) as info:
        fast.flows.create_flow(bad)
    assert info.value.violations and info.value.violations[0]["path"] == "tasks[0].type"
    assert "io.kestra.plugin.core.nothing.Here" in str(info.value) and "\n" not in str(info.value)
