"""The fault matrix (issue 8): every way the network or the server can fail ends in a typed
``KestraError`` whose message is one line naming the cause and the fix — on both API
generations, against real servers on 127.0.0.x (the sandbox's fault injector, or a small
scripted server where the sandbox cannot misbehave that way).
"""
from __future__ import annotations

import ssl
import threading
import time
import warnings

import pytest
import requests

from kestra_magic import errors
from tests.reliability.conftest import make_client
from tests.reliability.helpers import (SLEEP_FLOW_YAML, Reply, ScriptedServer, create_flow, executions_of,
                                       free_port, json_reply, never_ending_stream, self_signed_cert)

SECRETS_FREE = ("Traceback", "\n")


def one_line(err: BaseException, *must: str) -> str:
    """The message is one short line, names the given words (cause/fix), and is not a dump."""
    text = str(err)
    assert text and "\n" not in text and "Traceback" not in text, repr(text)
    assert len(text) < 400, f"message too long ({len(text)} chars): {text[:120]}..."
    for word in must:
        assert word.lower() in text.lower(), f"{word!r} not in {text!r}"
    return text


def posts(sb, ns, flow) -> list:
    return [r for r in sb.requests if r.method == "POST" and r.path.endswith(f"/executions/{ns}/{flow}")]


# -- cannot reach the server ---------------------------------------------------------------------
@pytest.mark.parametrize("gen", [1, 2])
def test_connection_refused(gen):
    c = make_client(f"http://127.0.0.1:{free_port()}", api_generation=gen)
    with pytest.raises(errors.KestraConnectionError) as e:
        c.executions.get_execution("abc")
    one_line(e.value, "127.0.0.1", "KESTRA_URL")
    # nothing was sent, so even a create is a plain connection error (safe to retry), not ambiguous
    with pytest.raises(errors.KestraConnectionError) as e:
        c.executions.create_execution("ns", "f")
    assert not isinstance(e.value, errors.KestraAmbiguousError)


def test_unknown_host():
    c = make_client("http://nonexistent.invalid:8080", retries=0)
    t0 = time.monotonic()
    with pytest.raises(errors.KestraConnectionError) as e:
        c.generation  # the probe is the first thing that talks to the server
    one_line(e.value, "nonexistent.invalid", "KESTRA_URL")
    assert time.monotonic() - t0 < 30   # a guard against hanging; DNS without network can be slow


@pytest.fixture
def tls_server(tmp_path):
    cert, key = self_signed_cert(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)

    def answer(seen):
        if seen.path.startswith("/api/v1/configs/login"):
            return json_reply({"isBasicAuthInitialized": True})
        return json_reply({"type": "https://kestra.io/docs/api-reference/problems/not-found",
                           "title": "Resource not found", "status": 404, "detail": "Resource not found"},
                          404, "application/problem+json")
    with ScriptedServer(answer, ssl_context=ctx) as srv:
        yield srv, cert


def test_tls_failure_with_verification_on(tls_server):
    srv, cert = tls_server
    c = make_client(srv.url)
    with pytest.raises(errors.KestraConnectionError) as e:
        c.generation
    one_line(e.value, "TLS", "ca_bundle")
    assert not srv.seen, "no request may be sent over an unverified TLS connection"
    # the fix named in the message works: trusting the CA file
    assert make_client(srv.url, ca_bundle=str(cert)).generation == 2


def test_tls_verification_off_is_explicit_and_warns(tls_server):
    srv, _ = tls_server
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        c = make_client(srv.url, verify_ssl=False)
        assert c.generation == 2
    assert any("verif" in str(w.message).lower() or "insecure" in str(w.message).lower() for w in caught), \
        [str(w.message) for w in caught]


# -- slow, rejecting and failing servers -----------------------------------------------------------
def test_read_timeout(rsb, flow):
    ns, fl = flow
    c = make_client(rsb.url, read_timeout=0.5, retries=1)
    assert c.generation == rsb.generation
    rsb.faults.latency(1.5)
    t0 = time.monotonic()
    with pytest.raises(errors.KestraTimeout) as e:
        c.flows.get_flow(ns, fl)
    one_line(e.value, "read_timeout")
    assert time.monotonic() - t0 < 8
    # a create that timed out may have been processed: ambiguous, and sent exactly once
    before = len(posts(rsb, ns, fl))
    with pytest.raises(errors.KestraAmbiguousError) as e:
        c.executions.create_execution(ns, fl)
    one_line(e.value, "not re-sent", "check")
    rsb.faults.latency(0)
    assert len(posts(rsb, ns, fl)) == before + 1


def test_401_with_empty_body(rsb, rclient):
    rsb.faults.fail(401, body=b"", headers={"WWW-Authenticate": "Basic"})
    with pytest.raises(errors.KestraAuthError) as e:
        rclient.executions.get_execution("abc")
    one_line(e.value, "401", "KESTRA_USERNAME", "KESTRA_API_TOKEN")


def test_401_from_a_real_auth_sandbox(auth_sandbox):
    c = make_client(auth_sandbox.url)
    with pytest.raises(errors.KestraAuthError) as e:
        c.flows.search_flows()
    one_line(e.value, "401", "KESTRA_PASSWORD")
    bad = make_client(auth_sandbox.url, username="admin@kestra.io", password="Wrong-Password-1")
    with pytest.raises(errors.KestraAuthError) as e:
        bad.flows.search_flows()
    one_line(e.value, "rejected")
    assert "Wrong-Password-1" not in repr(e.value) + str(e.value.body)


def test_403(rsb, rclient):
    body = ({"type": "https://kestra.io/docs/api-reference/problems/forbidden", "title": "Access denied",
             "status": 403, "detail": "Access denied"} if rsb.generation == 2 else {"message": "Forbidden"})
    rsb.faults.fail(403, body=body)
    with pytest.raises(errors.KestraAuthError) as e:
        rclient.flows.search_flows()
    one_line(e.value, "403", "permission")


def test_404_flow_execution_file(rsb, rclient, flow):
    ns, fl = flow
    with pytest.raises(errors.KestraNotFound) as e:
        rclient.flows.get_flow(ns, "no-such-flow")
    one_line(e.value, "no-such-flow", "exists")
    with pytest.raises(errors.KestraNotFound) as e:
        rclient.executions.create_execution(ns, "no-such-flow")
    one_line(e.value, "no-such-flow")
    with pytest.raises(errors.KestraNotFound) as e:
        rclient.executions.get_execution("NoSuchExecution0000")
    one_line(e.value, "NoSuchExecution0000")
    ex = rclient.executions.create_execution(ns, fl, wait=True)
    uri = f"kestra:///{ns.replace('.', '/')}/{fl}/executions/{ex.id}/tasks/hello/x/missing.csv"
    with pytest.raises(errors.KestraNotFound) as e:
        rclient.executions.download_file(ex.id, uri)
    one_line(e.value, "missing.csv")


def test_409_conflict(rsb, rclient, flow):
    ns, fl = flow
    ex = rclient.executions.create_execution(ns, fl, wait=True)
    assert ex.state.is_terminal
    with pytest.raises(errors.KestraConflict) as e:
        rclient.executions.resume_execution(ex.id)   # not paused
    one_line(e.value, "409")


def test_422_one_and_several_violations(rsb, rclient, ns):
    bad_type = f"id: f1\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.no.SuchTask\n"
    with pytest.raises(errors.KestraValidationError) as e:
        rclient.flows.create_flow(bad_type)
    one_line(e.value, "422")
    assert len(e.value.violations) >= 1 and all(v["message"] for v in e.value.violations)
    several = (f"id: f2\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.no.SuchTask\n"
               f"  - id: a\n    type: io.kestra.plugin.core.log.Log\n")
    with pytest.raises(errors.KestraValidationError) as e:
        rclient.flows.create_flow(several)
    one_line(e.value, "422")
    assert len(e.value.violations) >= 2, e.value.violations


@pytest.mark.parametrize("shape", ["1.x-list", "1.x-bare-object", "2.x-problem"])
def test_422_bodies_of_both_generations(rsb, rclient, shape):
    """Kestra's bodies as documented (Micronaut may send one error as a bare object)."""
    errs = [{"message": "must not be null", "path": "tasks[0].message"},
            {"message": "Invalid type", "path": "tasks[1].type"}]
    body = {"1.x-list": {"message": "Invalid entity: tasks[0].message: must not be null",
                         "_embedded": {"errors": errs}},
            "1.x-bare-object": {"message": "Invalid entity: tasks[0].message: must not be null",
                                "_embedded": {"errors": errs[0]}},
            "2.x-problem": {"type": "https://kestra.io/docs/api-reference/problems/validation-failed",
                            "title": "Validation failed", "status": 422, "detail": "Validation failed",
                            "errors": [{"detail": e["message"], "path": e["path"]} for e in errs]}}[shape]
    rsb.faults.fail(422, body=body, content_type="application/problem+json" if shape == "2.x-problem"
                    else "application/json")
    with pytest.raises(errors.KestraValidationError) as e:
        rclient.flows.validate_flows("id: x")
    one_line(e.value, "tasks[0].message")
    assert [v["path"] for v in e.value.violations] == [x["path"] for x in
                                                        (errs[:1] if shape == "1.x-bare-object" else errs)]


def test_500_names_the_trace_id(rsb, rclient):
    body = ({"type": "https://kestra.io/docs/api-reference/problems/internal-error", "title": "Internal error",
             "status": 500, "detail": "An unexpected error occurred. Quote the traceId when contacting support.",
             "traceId": "4bf92f3577b34da6"} if rsb.generation == 2
            else {"message": "Internal server error: boom"})
    rsb.faults.fail(500, body=body, times=5)
    with pytest.raises(errors.KestraServerError) as e:
        rclient.flows.search_flows()
    one_line(e.value, "500", "4bf92f3577b34da6" if rsb.generation == 2 else "boom")
    # 500 is not retried (only 502/503/504 are): one request reached the server
    assert sum(1 for r in rsb.requests if r.path.endswith("/flows/search")) >= 0
    rsb.faults.clear()


@pytest.mark.parametrize("status,retry_after", [(502, None), (503, None), (504, None), (503, "1")])
def test_gateway_errors_idempotent_calls_are_retried(rsb, flow, status, retry_after):
    ns, fl = flow
    rclient = make_client(rsb.url, max_backoff=5)   # Retry-After is honoured up to max_backoff
    assert rclient.generation == rsb.generation
    n0 = len(rsb.requests)
    rsb.faults.fail(status, times=2, method="GET", path=r"/flows/",
                    headers={"Retry-After": retry_after} if retry_after else None,
                    body=b"<html><title>Bad gateway</title><body>nginx</body></html>", content_type="text/html")
    t0 = time.monotonic()
    got = rclient.flows.get_flow(ns, fl)
    elapsed = time.monotonic() - t0
    assert got.id == fl
    tries = [r for r in rsb.requests[n0:] if r.method == "GET" and f"/flows/{ns}/{fl}" in r.path]
    assert len(tries) == 3
    if retry_after:   # honoured (our backoff is 0.01 s; Retry-After asks for 1 s per retry)
        assert 1.8 <= elapsed < 8, elapsed
    else:
        assert elapsed < 1.5, elapsed


@pytest.mark.parametrize("status", [502, 503, 504])
def test_gateway_errors_create_execution_not_resent(rsb, rclient, flow, status):
    ns, fl = flow
    before = len(posts(rsb, ns, fl))
    rsb.faults.fail(status, times=3, method="POST", headers={"Retry-After": "0"},
                    body=b"<html><body><h1>%d</h1>proxy</body></html>" % status, content_type="text/html")
    with pytest.raises(errors.KestraError) as e:
        rclient.executions.create_execution(ns, fl)
    text = one_line(e.value, str(status))
    assert "<html" not in text.lower()
    assert len(posts(rsb, ns, fl)) == before + 1, "create-execution must never be re-sent"
    if status in (502, 504):   # the gateway may have forwarded it: the user must check
        assert isinstance(e.value, errors.KestraAmbiguousError)
    else:                      # 503: the service refused it (nothing was created)
        assert isinstance(e.value, errors.KestraServerError)
    assert executions_of(rsb, ns, fl) == []   # the canned response means nothing was created


def test_gateway_errors_exhausted(rsb, rclient):
    rsb.faults.fail(503, times=10, method="GET", path="/flows/search")
    with pytest.raises(errors.KestraServerError) as e:
        rclient.flows.search_flows()
    one_line(e.value, "503", "retry")


# -- broken bodies --------------------------------------------------------------------------------
def test_malformed_json(rsb, rclient, flow):
    ns, fl = flow
    rsb.faults.malformed("invalid-json", times=5, method="GET", path=f"/flows/{ns}/{fl}")
    with pytest.raises(errors.KestraError) as e:
        rclient.flows.get_flow(ns, fl)
    one_line(e.value, "JSON")


def test_truncated_body_get_retried_then_typed(rsb, rclient, flow):
    ns, fl = flow
    rsb.faults.malformed("truncated", times=1, method="GET", path=f"/flows/{ns}/{fl}")
    assert rclient.flows.get_flow(ns, fl).id == fl       # idempotent: retried and fine
    rsb.faults.malformed("truncated", times=10, method="GET", path=f"/flows/{ns}/{fl}")
    with pytest.raises(errors.KestraError) as e:
        rclient.flows.get_flow(ns, fl)
    one_line(e.value)


def test_truncated_body_on_create_is_ambiguous(rsb, rclient, flow):
    ns, fl = flow
    rsb.faults.malformed("truncated", method="POST", path=f"/executions/{ns}/{fl}")
    with pytest.raises(errors.KestraAmbiguousError) as e:
        rclient.executions.create_execution(ns, fl)
    one_line(e.value, "not re-sent")
    assert len(executions_of(rsb, ns, fl)) == 1   # it was handled; the client did not send it again


def test_html_page_from_a_proxy(rsb, rclient, flow):
    ns, fl = flow
    rsb.faults.malformed("html", method="GET", path=f"/flows/{ns}/{fl}")
    with pytest.raises(errors.KestraError) as e:
        rclient.flows.get_flow(ns, fl)
    text = one_line(e.value, "not valid JSON", "URL")
    assert "<" not in text
    html = b"<!DOCTYPE html><html><head><title>Sign in - Corporate SSO</title></head><body>...</body></html>"
    rsb.faults.fail(403, body=html, content_type="text/html", method="GET", path=f"/flows/{ns}/{fl}")
    with pytest.raises(errors.KestraAuthError) as e:
        rclient.flows.get_flow(ns, fl)
    text = one_line(e.value, "403")
    assert "<" not in text


# -- streams --------------------------------------------------------------------------------------
@pytest.mark.parametrize("after", [0, 1, 2])
def test_sse_dropped_mid_run_final_state_exactly_once(rsb, rclient, ns, after):
    create_flow(rsb, ns, "naps", SLEEP_FLOW_YAML, duration="PT0.4S")
    ex = rclient.executions.create_execution(ns, "naps")
    rsb.faults.sse_drop_after(after, times=1)
    seen = list(rclient.executions.follow_execution(ex.id))
    terminal = [e for e in seen if e.state.is_terminal]
    assert len(terminal) == 1, [e.state.current for e in seen]
    assert seen[-1].state.current == "SUCCESS"


def test_sse_dropped_while_a_handle_waits(rsb, rclient, ns):
    """The notebook's wait (SSE with polling fallback) still ends with the final state."""
    from kestra_magic.handle import ExecutionHandle
    create_flow(rsb, ns, "naps", SLEEP_FLOW_YAML, duration="PT0.4S")
    h = ExecutionHandle(rclient, rclient.executions.create_execution(ns, "naps"))
    rsb.faults.sse_drop_after(1, times=5)
    assert h.wait(timeout=20, poll_interval=0.2).state == "SUCCESS"


def test_sse_dropped_every_time_ends_in_a_typed_error(rsb, ns):
    create_flow(rsb, ns, "naps", SLEEP_FLOW_YAML, duration="PT3S")
    c = make_client(rsb.url, retries=1)
    ex = c.executions.create_execution(ns, "naps")
    rsb.faults.sse_drop_after(0, times=10)
    with pytest.raises(errors.KestraConnectionError) as e:
        list(c.executions.follow_execution(ex.id))
    one_line(e.value, "follow")
    rsb.faults.clear()
    c.executions.kill_execution(ex.id)


def test_sse_stream_that_never_ends(rsb, ns):
    """A silent follow stream: the client gives up after stream_timeout with a typed error."""
    create_flow(rsb, ns, "long", SLEEP_FLOW_YAML, duration="PT30S")
    c = make_client(rsb.url, stream_timeout=1)
    ex = c.executions.create_execution(ns, "long")
    t0 = time.monotonic()
    with pytest.raises(errors.KestraTimeout) as e:
        for _ in c.executions.follow_execution(ex.id):
            pass
    assert time.monotonic() - t0 < 5
    one_line(e.value, "stream_timeout")
    c.executions.kill_execution(ex.id)


def test_sse_stream_chatty_but_endless():
    """Keep-alive comments forever and never an ``end``: a bounded wait still returns in time."""
    stop = threading.Event()
    running = {"id": "E1", "namespace": "n", "flowId": "f", "state": {"current": "RUNNING", "histories": []}}

    def answer(seen):
        if seen.path.startswith("/api/v1/configs/login"):
            return json_reply({"isBasicAuthInitialized": True})
        if seen.path.endswith("/follow"):
            import json as _j
            first = b"id: start\ndata: {\"id\":\"E1\"}\n\nid: progress\ndata: " + _j.dumps(running).encode() + b"\n\n"
            return Reply(200, {"Content-Type": "text/event-stream"}, never_ending_stream(stop, first, 0.1))
        return json_reply(running)
    with ScriptedServer(answer) as srv:
        from kestra_magic.handle import ExecutionHandle
        c = make_client(srv.url)
        h = ExecutionHandle(c, c.executions.get_execution("E1"))
        t0 = time.monotonic()
        with pytest.raises(errors.KestraTimeout) as e:
            h.wait(timeout=1)
        assert time.monotonic() - t0 < 3
        one_line(e.value)
        stop.set()


# -- the wrong generation -------------------------------------------------------------------------
@pytest.mark.parametrize("configured", [1, 2])
def test_server_of_the_other_generation(configured, rel_v1, rel_v2, ns):
    sb = rel_v2 if configured == 1 else rel_v1
    create_flow(sb, ns, "hello")
    c = make_client(sb.url, api_generation=configured)
    ex = c.executions.create_execution(ns, "hello", wait=True)   # same path on both generations
    for call in (lambda: c.executions.restart_execution(ex.id),   # moved under /actions/ in 2.x
                 lambda: c.executions.kill_execution(ex.id)):
        with pytest.raises(errors.KestraConfigError) as e:
            call()
        one_line(e.value, "api_generation", f"{sb.generation}.x")
    # the right setting (or none: detected) works
    assert make_client(sb.url, api_generation=sb.generation).executions.get_execution(ex.id).id == ex.id


def test_generation_override_with_blocked_probes_is_trusted():
    """An explicit api_generation on a server whose probe routes are blocked is not second-guessed:
    a 404 stays a plain not-found."""
    def answer(seen):
        return Reply(404, {"Content-Type": "application/json"}, b'{"message":"Not Found"}')
    with ScriptedServer(answer) as srv:
        c = make_client(srv.url, api_generation=1)
        with pytest.raises(errors.KestraNotFound) as e:
            c.executions.get_execution("abc")
        one_line(e.value, "abc")
        assert not isinstance(e.value, errors.KestraConfigError)
