"""Recorded error bodies of both generations, replayed over HTTP: each becomes the right typed
KestraError with Kestra's own message, its violations and a one-line str() with no secret."""
from __future__ import annotations

import pytest

from kestra_magic import errors
from tests.client.replays.helpers import API, make_client
from tests.client.replays.server import Reply, ReplayServer, load

CASES = load("errors/cases.json")
PASSWORD = "Repl4y-Secret-pw"


@pytest.fixture(scope="module")
def rs():
    with ReplayServer() as server:
        yield server


def _reply(case: dict) -> Reply:
    body = case["body"]
    if case.get("raw"):
        body = body.encode()
    return Reply(case["status"], body, case["ctype"], case.get("headers", {}))


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_case(rs, name):
    case = CASES[name]
    generation = 1 if name.startswith(("v1", "bare")) else 2
    rs.route("GET", f"{API}/executions/{name}", _reply(case))
    with make_client(rs, generation) as c, pytest.raises(errors.KestraError) as info:
        c.executions.get_execution(name)
    err = info.value
    assert type(err).__name__ == case["error"], str(err)
    assert err.status == case["status"]
    text = str(err)
    assert "\n" not in text and "\t" not in text and PASSWORD not in text and PASSWORD not in repr(err)
    if case.get("server_message") is not None:
        assert " ".join(err.server_message.split()) == case["server_message"]
        if case["status"] != 401:
            assert case["server_message"][:40] in text
    elif "server_message" in case:
        assert err.server_message is None
    if "violations" in case:
        assert err.violations == case["violations"]
    if case["status"] == 401:
        assert "KESTRA_USERNAME" in text       # names the fix


def test_html_error_page_is_named_as_such(rs):
    rs.route("GET", f"{API}/executions/html", _reply(CASES["v1_503_html"]))
    with make_client(rs, 1) as c, pytest.raises(errors.KestraServerError) as info:
        c.executions.get_execution("html")
    assert "HTML page" in str(info.value) and "503 Service Temporarily Unavailable" in str(info.value)


def test_create_execution_502_is_ambiguous_and_not_resent(rs):
    rs.route("POST", f"{API}/executions/company.team/amb", Reply(502, b"Bad Gateway", "text/plain"))
    with make_client(rs, 2, retries=3) as c, pytest.raises(errors.KestraAmbiguousError) as info:
        c.executions.create_execution("company.team", "amb")
    assert len(rs.requests("POST", f"{API}/executions/company.team/amb")) == 1
    assert "NOT re-sent" in str(info.value)


def test_get_retries_a_503_honouring_retry_after(rs):
    rs.route("GET", f"{API}/executions/flaky", Reply(503, load("errors/cases.json")["v2_500_trace"]["body"],
                                                     "application/problem+json", {"Retry-After": "0"}),
             Reply(200, {"id": "flaky", "state": {"current": "RUNNING"}}))
    with make_client(rs, 2, retries=2) as c:
        assert c.executions.get_execution("flaky").state.current == "RUNNING"
    assert len(rs.requests("GET", f"{API}/executions/flaky")) == 2


def test_429_is_waited_out_even_for_a_create(rs):
    case = CASES["v2_429"]
    rs.route("POST", f"{API}/executions/company.team/busy", _reply(case),
             Reply(200, load("v2/create_response.json")))
    with make_client(rs, 2, retries=1) as c:
        assert c.executions.create_execution("company.team", "busy").state.current == "CREATED"
    assert len(rs.requests("POST", f"{API}/executions/company.team/busy")) == 2
    rs.route("GET", f"{API}/executions/busy", _reply(case))
    with make_client(rs, 2, retries=0) as c, pytest.raises(errors.KestraError) as info:
        c.executions.get_execution("busy")
    assert "429 Too Many Requests" in str(info.value) and "retries=" in str(info.value)


def test_a_stack_trace_message_is_cut_in_str_but_kept_whole(rs):
    trace = "Internal server error: java.lang.IllegalStateException: boom\n" + "\tat io.kestra.X.y(X.java:1)\n" * 300
    rs.route("GET", f"{API}/executions/trace", Reply(500, {"message": trace}))
    with make_client(rs, 1) as c, pytest.raises(errors.KestraServerError) as info:
        c.executions.get_execution("trace")
    err = info.value
    assert len(str(err)) < 600 and "…" in str(err) and "\n" not in str(err)
    assert err.server_message == trace and "IllegalStateException: boom" in str(err)


def test_state_without_current_falls_back_to_the_last_history(rs):
    body = {"id": "h", "state": {"histories": [{"state": "CREATED", "date": "2026-01-01T00:00:00Z"},
                                               {"state": "RUNNING", "date": "2026-01-01T00:00:01Z"}]}}
    rs.route("GET", f"{API}/executions/h", Reply(200, body))
    with make_client(rs, 2) as c:
        e = c.executions.get_execution("h")
    assert e.state.current == "RUNNING" and e.state.start_date == "2026-01-01T00:00:00Z"


def test_a_violation_with_only_a_path_reads_cleanly(rs):
    rs.route("GET", f"{API}/executions/pathonly", _reply(CASES["v2_422_invalid_json"]))
    with make_client(rs, 2) as c, pytest.raises(errors.KestraValidationError) as info:
        c.executions.get_execution("pathonly")
    assert info.value.violations == [{"path": "namespace", "message": ""}]
    assert "[namespace]" in str(info.value) and "namespace:" not in str(info.value)


def test_405_and_415_hint_at_the_other_generation(rs):
    case = CASES["v2_415_plain"]
    rs.route("POST", f"{API}/executions/x/restart", _reply(case))
    with make_client(rs, 1) as c, pytest.raises(errors.KestraError) as info:
        c.executions.restart_execution("x")
    assert info.value.status == 415 and "api_generation=1 or 2" in str(info.value)
