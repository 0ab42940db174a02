"""Kestra 2.x responses replayed against the client: slim/light executions, actions under
``/actions/``, outputs endpoints, ``filters[...]`` logs, problem+json, the 404 window."""
from __future__ import annotations

import json

import pytest

from kestra_magic import errors
from tests.client.replays.helpers import API, EXEC_V2 as EID, make_client, multipart_parts
from tests.client.replays.server import Reply, ReplayServer, load

PROBLEM = "application/problem+json"


def problem(status: int, slug: str, detail: str, **extra) -> Reply:
    return Reply(status, {"type": f"https://kestra.io/docs/api-reference/problems/{slug}", "title": slug,
                          "status": status, "detail": detail, **extra}, PROBLEM)


@pytest.fixture
def rs():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def c(rs):
    with make_client(rs, 2) as client:
        yield client


def test_detects_2x_from_a_problem_401_and_reads_the_version_with_credentials(rs):
    rs.route("GET", "/api/v1/configs", problem(401, "unauthenticated", "Authentication required"),
             Reply(200, load("v2/configs.json")))
    client = make_client(rs, None)
    assert client.generation == 2
    assert not rs.requests("GET", "/api/v1/configs/login")          # the problem body settled it
    assert client.server_version == "2.1.0-SNAPSHOT"
    first, second = rs.requests("GET", "/api/v1/configs")
    assert "Authorization" not in first.headers and second.headers["Authorization"].startswith("Basic ")


def test_detects_2x_from_the_login_config_when_configs_is_inconclusive(rs):
    rs.route("GET", "/api/v1/configs", Reply(401, {"message": "Unauthorized"}))   # e.g. behind a gateway
    rs.route("GET", "/api/v1/configs/login", Reply(200, load("v2/configs_login.json")))
    assert make_client(rs, None).generation == 2


def test_get_execution_slim_shape(rs, c):
    body = load("v2/execution_api.json")
    for where in (body["taskRunList"][2]["state"], body["taskRunList"][2]["state"]["histories"][0]):
        key = "current" if "current" in where else "state"
        where[key] = "SUBMITTED_TO_A_FUTURE_QUEUE"   # a state name this client has never heard of
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, body))
    e = c.executions.get_execution(EID)
    assert e.outputs == {} and e.flow_revision == 4 and e.labels["system.from"] == "api"
    each, extract, report = e.task_runs
    assert all(tr.outputs is None for tr in e.task_runs)
    assert extract.value == "eu" and extract.parent_task_run_id == each.id
    assert extract.state.start_date == "2026-10-20T12:00:01.5+00:00"
    assert report.state.current == "SUBMITTED_TO_A_FUTURE_QUEUE" and not report.state.is_terminal
    assert report.attempts == [] and report.state.start_date == "2026-10-20T12:00:02.1Z"
    assert e.raw["metadata"]["executionDepth"] == 0 and "deleted" not in e.raw


def test_search_returns_light_executions(rs, c):
    rs.route("GET", f"{API}/executions/search", Reply(200, load("v2/search_light.json")))
    page = c.executions.search_executions(flow_id="etl", state=["QUEUED"])
    assert page.total == 57 and [e.task_runs for e in page] == [[], []]
    assert page[1].parent_id == EID and page[1].state.current == "QUEUED" and page[1].labels == {}
    assert rs.last("GET", f"{API}/executions/search").query == [
        ("page", "1"), ("size", "25"), ("filters[flowId][EQUALS]", "etl"), ("filters[state][EQUALS]", "QUEUED")]


def test_create_and_create_wait(rs, c):
    rs.route("POST", f"{API}/executions/company.team/etl", Reply(200, load("v2/create_response.json")),
             Reply(200, load("v2/create_wait.json")))
    e = c.executions.create_execution("company.team", "etl", inputs={"n": 3, "flag": False}, labels=["run:a:b"])
    assert e.url.startswith("/ui/main/executions/") and e.state.current == "CREATED"
    sent = rs.last("POST", f"{API}/executions/company.team/etl")
    assert sent.query == [("labels", "run:a:b")]
    assert multipart_parts(sent) == [("n", None, b"3"), ("flag", None, b"false")]
    done = c.executions.create_execution("company.team", "etl", wait=True)
    assert done.state.is_failed and done.task_runs[0].outputs == {"value": "x"}
    assert rs.last("POST", f"{API}/executions/company.team/etl").params == {"wait": "true"}


def test_actions_live_under_actions_and_return_the_execution(rs, c):
    act = f"{API}/executions/{EID}/actions"
    body = load("v2/action_execution.json")
    rs.route("DELETE", f"{act}/kill", Reply(200, body, "text/json"))
    for name in ("pause", "resume", "restart", "replay"):
        rs.route("POST", f"{act}/{name}", Reply(200, body))
    killed = c.executions.kill_execution(EID)
    assert killed.state.current == "KILLING" and killed.raw["deleted"] is False
    assert rs.last("DELETE", f"{act}/kill").params == {"isOnKillCascade": "true"}
    assert c.executions.pause_execution(EID).id == EID
    assert rs.last("POST", f"{act}/pause").body == b""
    assert c.executions.resume_execution(EID, {"ok": "yes"}).id == EID
    assert multipart_parts(rs.last("POST", f"{act}/resume")) == [("ok", None, b"yes")]
    assert c.executions.restart_execution(EID).id == EID
    assert c.executions.replay_execution(EID, breakpoints=["t1", "t2.v"]).id == EID
    assert rs.last("POST", f"{act}/replay").params == {"breakpoints": "t1,t2.v"}
    old_style = [s.path for s in rs.seen if s.path.rsplit("/", 1)[-1] in ("kill", "pause", "resume")
                 and "/actions/" not in s.path]
    assert old_style == []


def test_outputs_endpoints(rs, c):
    rs.route("GET", f"{API}/outputs/executions/{EID}", Reply(200, load("v2/outputs_execution.json")))
    rs.route("GET", f"{API}/outputs/tasks/{EID}", Reply(200, load("v2/outputs_tasks.json") + [{"taskId": "odd"}]))
    rs.route("GET", f"{API}/outputs/tasks/{EID}/7gG8hH9iI0jJ1kK2lL3mM4",
             Reply(200, load("v2/outputs_taskrun_extract.json")))
    rs.route("GET", f"{API}/outputs/tasks/{EID}/8hH9iI0jJ1kK2lL3mM4nN5",
             Reply(200, load("v2/outputs_taskrun_report.json")))
    assert c.executions.flow_outputs(EID) == {"result": "n=3", "count": 3,
                                              "file": load("v2/outputs_execution.json")["file"]}
    outs = c.executions.task_outputs(EID)
    assert [(o["taskId"], o["value"], o["iteration"]) for o in outs] == [("extract", "eu", 0), ("report", None, None)]
    assert outs[0]["outputs"]["vars"] == {"total": 12.5} and outs[1]["outputs"] == {"value": "n=3"}
    assert all(s.query == [] for s in rs.seen)


def test_outputs_pre_release_short_form(rs, c):
    rs.route("GET", f"{API}/outputs/executions/{EID}", problem(404, "not-found", "Resource not found"))
    rs.route("GET", f"{API}/outputs/tasks/{EID}", problem(404, "not-found", "Resource not found"))
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, {**load("v2/execution_api.json"),
                                                          "outputs": {"result": "n=3"}}))
    rs.route("GET", f"{API}/outputs/{EID}", Reply(200, load("v2/outputs_tasks.json")[:1]))
    rs.route("GET", f"{API}/outputs/{EID}/7gG8hH9iI0jJ1kK2lL3mM4", Reply(200, {"value": 1}))
    assert c.executions.flow_outputs(EID) == {"result": "n=3"}
    assert c.executions.task_outputs(EID) == [{"taskId": "extract", "taskRunId": "7gG8hH9iI0jJ1kK2lL3mM4",
                                               "value": "eu", "iteration": 0, "outputs": {"value": 1}}]


def test_feature_gated_outputs_raise_a_clear_auth_error(rs, c):
    gated = problem(403, "feature-disabled", "The feature 'outputs' is not enabled for this tenant")
    rs.route("GET", f"{API}/outputs/executions/{EID}", gated)
    rs.route("GET", f"{API}/outputs/tasks/{EID}", gated)
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v2/execution_api.json")))
    for call in (c.executions.flow_outputs, c.executions.task_outputs):
        with pytest.raises(errors.KestraAuthError) as info:
            call(EID)
        err = info.value
        assert err.status == 403 and "not enabled" in str(err) and "\n" not in str(err)
        assert "administrator" in str(err) and "CSRF" not in str(err)
        assert err.server_message == "The feature 'outputs' is not enabled for this tenant"
    # a build that still puts outputs in the execution is served from there
    full = {**load("v2/execution_api.json"), "outputs": {"result": "n=3"}}
    full["taskRunList"][1] = {**full["taskRunList"][1], "outputs": {"value": "eu!"}}
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, full))
    assert c.executions.flow_outputs(EID) == {"result": "n=3"}
    assert c.executions.task_outputs(EID) == [{"taskId": "extract", "taskRunId": "7gG8hH9iI0jJ1kK2lL3mM4",
                                               "value": "eu", "iteration": 0, "outputs": {"value": "eu!"}}]


def test_logs_on_2x_use_filters(rs, c):
    rs.route("GET", f"{API}/logs/{EID}", Reply(200, load("v2/logs.json")))
    rs.route("GET", f"{API}/logs/{EID}/download", Reply(200, "2026-10-20T12:00:01.123456789Z WARN careful",
                                                         "text/plain"))
    rs.route("GET", f"{API}/logs/{EID}/follow", Reply(200, load("v2/logs_follow.sse"), "text/event-stream",
                                                       stream=True))
    logs = c.logs.list_logs(EID, min_level="WARN", task_id="extract", task_run_id="7gG8", attempt=0)
    assert rs.last("GET", f"{API}/logs/{EID}").query == [
        ("filters[level][GREATER_THAN_OR_EQUAL_TO]", "WARN"), ("filters[taskId][EQUALS]", "extract"),
        ("filters[taskRunId][EQUALS]", "7gG8"), ("filters[attemptNumber][EQUALS]", "0")]
    assert logs[0].raw["progress"] == "RUNNING" and logs[1].raw["id"] == "log-42" and logs[1].task_run_id is None
    assert c.logs.download_logs(EID, min_level="WARN").endswith("careful")
    assert rs.last("GET", f"{API}/logs/{EID}/download").params == {"filters[level][GREATER_THAN_OR_EQUAL_TO]": "WARN"}
    stream = c.logs.follow_logs(EID, min_level="INFO")
    got = [(e.level, e.message, e.raw.get("progress")) for e in stream]
    stream.close()
    assert got == [("WARN", "careful", "RUNNING"), ("INFO", "", "SUCCESS")]
    assert rs.last("GET", f"{API}/logs/{EID}/follow").params == {"filters[level][GREATER_THAN_OR_EQUAL_TO]": "INFO"}


def test_download_asks_jsonl_on_2x(rs, c):
    uri = f"kestra:///company/team/etl/executions/{EID}/tasks/extract/7gG8/data.ion"
    rs.route("GET", f"{API}/executions/{EID}/file", Reply(200, b'{"a":1}\n', "application/x-ndjson"))
    assert c.executions.download_file(EID, uri, format="jsonl") == b'{"a":1}\n'
    assert rs.last("GET", f"{API}/executions/{EID}/file").query == [("path", uri), ("format", "JSONL")]


def test_follow_with_breakpoint_re_emits(rs, c):
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v2/execution_api.json")))
    rs.route("GET", f"{API}/executions/{EID}/follow",
             Reply(200, load("v2/follow_breakpoint.sse"), "text/event-stream", stream=True))
    states = [e.state.current for e in c.executions.follow_execution(EID)]
    assert states == ["BREAKPOINT", "BREAKPOINT", "RUNNING", "WARNING"]


def test_follow_stream_closing_without_end_falls_back_to_get(rs, c):
    running = {**load("v2/execution_api.json"), "state": {"current": "RUNNING", "histories": []}}
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, running), Reply(200, load("v2/execution_api.json")))
    rs.route("GET", f"{API}/executions/{EID}/follow",
             Reply(200, load("v2/follow_noend.sse"), "text/event-stream", stream=True))
    states = [e.state.current for e in c.executions.follow_execution(EID)]
    assert states == ["RUNNING", "SUCCESS"]
    assert len(rs.requests("GET", f"{API}/executions/{EID}/follow")) == 1


def test_404_window_after_creating_a_flow(rs):
    client = make_client(rs, 2, not_found_grace=3.0)
    rs.route("POST", f"{API}/flows", Reply(200, load("v2/flow_labels_map.json")))
    rs.route("POST", f"{API}/executions/company.team/etl",
             problem(404, "not-found", "Requested Flow is not found."), Reply(200, load("v2/create_response.json")))
    rs.route("GET", f"{API}/executions/9Oi4Wp3rFkscV7bPE2tU6h", problem(404, "not-found", "Resource not found"),
             Reply(200, load("v2/create_response.json")))
    client.flows.create_flow(load("v2/flow_labels_map.json")["source"])
    e = client.executions.create_execution("company.team", "etl")
    assert client.executions.get_execution(e.id).id == e.id
    assert len(rs.requests("POST", f"{API}/executions/company.team/etl")) == 2
    # a flow this client did not just create: the 404 is final at once
    rs.route("POST", f"{API}/executions/company.team/other", problem(404, "not-found", "Requested Flow is not found."))
    with pytest.raises(errors.KestraNotFound) as info:
        client.executions.create_execution("company.team", "other")
    assert "Requested Flow is not found." in str(info.value)
    assert len(rs.requests("POST", f"{API}/executions/company.team/other")) == 1


def test_flows_on_2x(rs, c):
    flow = load("v2/flow_labels_map.json")
    src = flow["source"]
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(200, {**flow, "source": "older"}))
    rs.route("PUT", f"{API}/flows/company.team/etl", Reply(200, {**flow, "revision": 5}))
    rs.route("GET", f"{API}/flows/search", Reply(200, load("v2/search_flows.json")))
    f, what = c.flows.upsert_flow(src)
    assert what == "updated" and f.revision == 5 and f.labels == {"owner": "data-team", "tier": "gold"}
    assert f.raw["workerSelector"] == {"tags": ["gpu"]}
    page = c.flows.search_flows(namespace="company.team")
    assert page.total == 2 and page[0].labels == {"owner": "data-team"} and page[1].labels == {}
    rs.route("POST", f"{API}/flows", load_error("v2_409_exists"))
    with pytest.raises(errors.KestraConflict) as info:
        c.flows.create_flow(src)
    assert "already exists" in str(info.value) and info.value.status == 409


def load_error(name: str) -> Reply:
    case = load("errors/cases.json")[name]
    return Reply(case["status"], case["body"], case["ctype"], case.get("headers", {}))


def test_utf8_bodies_under_text_content_types(rs, c):
    """requests decodes ``text/*`` without a charset as ISO-8859-1; Kestra sends UTF-8."""
    body = {**load("v2/action_execution.json"), "inputs": {"who": "Zoë 🚀"}, "labels": [{"key": "team", "value": "données"}]}
    rs.route("DELETE", f"{API}/executions/{EID}/actions/kill", Reply(200, json.dumps(body, ensure_ascii=False).encode(),
                                                                      "text/json"))
    killed = c.executions.kill_execution(EID)
    assert killed.inputs == {"who": "Zoë 🚀"} and killed.labels == {"team": "données"}
    rs.route("GET", f"{API}/logs/{EID}/download", Reply(200, "2026-10-20T12:00:01Z INFO héllo 🚀".encode(), "text/plain"))
    assert c.logs.download_logs(EID).endswith("héllo 🚀")
    rs.route("GET", f"{API}/logs/{EID}/download", Reply(200, "x é".encode("latin-1"), "text/plain; charset=ISO-8859-1"))
    assert c.logs.download_logs(EID) == "x é"
    rs.route("GET", f"{API}/executions/{EID}", Reply(409, "État invalide: déjà terminé".encode(), "text/plain"))
    with pytest.raises(errors.KestraConflict) as info:
        c.executions.get_execution(EID)
    assert info.value.server_message == "État invalide: déjà terminé"


def test_a_log_follow_that_never_ends_is_closed_promptly_and_times_out_when_silent(rs):
    import time
    rs.route("GET", f"{API}/logs/{EID}/follow", Reply(200, load("v2/logs_follow.sse"), "text/event-stream",
                                                       stream=True, hold=5))
    with make_client(rs, 2, stream_timeout=0.5) as c:
        stream = c.logs.follow_logs(EID)
        first = next(stream)
        started = time.monotonic()
        stream.close()
        assert first.message == "careful" and time.monotonic() - started < 1.0
        with pytest.raises(errors.KestraTimeout) as info, c.logs.follow_logs(EID) as again:
            for _ in again:
                pass
        assert "stream_timeout" in str(info.value)


def test_follow_stream_cut_mid_way_falls_back_to_get(rs, c):
    running = {**load("v2/execution_api.json"), "state": {"current": "RUNNING", "histories": []}}
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, running), Reply(200, load("v2/execution_api.json")))
    rs.route("GET", f"{API}/executions/{EID}/follow",
             Reply(200, load("v2/follow_noend.sse"), "text/event-stream", stream=True, cut=True))
    assert [e.state.current for e in c.executions.follow_execution(EID)] == ["RUNNING", "SUCCESS"]


def test_follow_skips_comments_keepalives_and_odd_events(rs, c):
    stream = ("retry: 1000\n\n: keep-alive\n\nid: start\ndata: {\"id\":\"x\"}\n\n"
              "id: progress\ndata: not json at all\n\n"
              "event: ping\ndata: {}\n\n"
              "id: progress\ndata: {\"id\":\"x\",\n"
              "data: \"state\":{\"current\":\"RUNNING\"}}\n\n"
              ": heartbeat\n\nid: end\ndata: {\"id\":\"x\",\"state\":{\"current\":\"KILLED\"}}\n\n")
    rs.route("GET", f"{API}/executions/x", Reply(200, {"id": "x", "state": {"current": "RUNNING"}}))
    rs.route("GET", f"{API}/executions/x/follow", Reply(200, stream.encode(), "text/event-stream", stream=True))
    states = [e.state.current for e in c.executions.follow_execution("x")]
    assert states == ["RUNNING", "KILLED"]


def test_a_cut_log_stream_raises_a_readable_connection_error(rs, c):
    rs.route("GET", f"{API}/logs/{EID}/follow", Reply(200, load("v2/logs_follow.sse"), "text/event-stream",
                                                       stream=True, cut=True))
    with c.logs.follow_logs(EID) as stream, pytest.raises(errors.KestraConnectionError) as info:
        list(stream)
    text = str(info.value)
    assert "the stream broke (Connection broken" in text and "((" not in text and "follow again" in text


def test_an_end_event_with_a_running_execution_is_checked_with_a_get(rs, c):
    stream = ('id: start\ndata: {"id":"e","labels":[],"originalId":"e"}\n\n'
              'id: end\ndata: {"id":"e","state":{"current":"RUNNING"}}\n\n')
    rs.route("GET", f"{API}/executions/e", Reply(200, {"id": "e", "state": {"current": "RUNNING"}}),
             Reply(200, {"id": "e", "state": {"current": "SUCCESS"}}))
    rs.route("GET", f"{API}/executions/e/follow", Reply(200, stream.encode(), "text/event-stream", stream=True))
    assert [x.state.current for x in c.executions.follow_execution("e")] == ["RUNNING", "SUCCESS"]


def test_follow_of_an_unknown_execution_cut_after_start_is_not_found(rs, c):
    """Before kestra#12052 an unknown id got a `start` stub, then a cut stream (curl: error 18)."""
    stub = 'id: start\ndata: {"id":"nope","labels":[],"originalId":"nope"}\n\n'
    rs.route("GET", f"{API}/executions/nope", Reply(200, {"id": "nope", "state": {"current": "CREATED"}}),
             problem(404, "not-found", "Resource not found"))
    rs.route("GET", f"{API}/executions/nope/follow", Reply(200, stub.encode(), "text/event-stream", stream=True,
                                                            cut=True))
    with pytest.raises(errors.KestraNotFound):
        list(c.executions.follow_execution("nope"))


def test_behind_a_gateway_that_401s_everything_the_authenticated_configs_decides(rs):
    rs.route("GET", "/api/v1/configs", Reply(401, b"", None, {"WWW-Authenticate": "Bearer"}),
             Reply(200, load("v2/configs.json")))
    rs.route("GET", "/api/v1/configs/login", Reply(401, b"", None))
    client = make_client(rs, None)
    assert client.generation == 2 and client.server_version == "2.1.0-SNAPSHOT"
    probes = rs.requests("GET", "/api/v1/configs")
    assert len(probes) == 2 and "Authorization" not in probes[0].headers and "Authorization" in probes[1].headers
    # without credentials nothing more is tried: 1.x's empty 401 stays the best guess
    rs.route("GET", "/api/v1/configs", Reply(401, b"", None))
    assert make_client(rs, None, username=None, password=None).generation == 1


def test_remaining_flow_and_file_operations_on_2x(rs, c):
    flow = load("v2/flow_labels_map.json")
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(200, {k: v for k, v in flow.items() if k != "source"}))
    rs.route("GET", f"{API}/flows/company.team/etl/revisions",
             Reply(200, [{**flow, "revision": 1, "labels": [{"key": "v", "value": "1"}]}, flow]))
    rs.route("GET", f"{API}/flows/company.team", Reply(200, [flow]))
    rs.route("POST", f"{API}/flows/validate", Reply(200, [{"index": 0, "flow": "etl", "namespace": "company.team",
                                                           "constraints": "tasks[0].type: Invalid type",
                                                           "deprecationPaths": [], "warnings": [], "infos": []}]))
    rs.route("DELETE", f"{API}/flows/company.team/etl", Reply(204, b"", None))
    rs.route("DELETE", f"{API}/executions/{EID}", Reply(204, b"", None))
    uri = f"kestra:///company/team/etl/executions/{EID}/tasks/extract/7gG8/data.ion"
    rs.route("GET", f"{API}/executions/{EID}/file/metas", Reply(200, {"size": 123456789012}))
    rs.route("GET", f"{API}/executions/{EID}/file/preview", Reply(200, load("previews.json")["LIST"]))
    got = c.flows.get_flow("company.team", "etl", source=False)
    assert got.source is None and got.labels == {"owner": "data-team", "tier": "gold"}
    assert rs.last("GET", f"{API}/flows/company.team/etl").params == {"source": "false"}
    assert [r.labels for r in c.flows.flow_revisions("company.team", "etl")] == [{"v": "1"}, flow["labels"]]
    assert c.flows.list_flows_by_namespace("company.team")[0].raw["draft"] is False
    assert c.flows.validate_flows(flow["source"])[0]["constraints"].startswith("tasks[0].type")
    assert c.flows.delete_flow("company.team", "etl") is None
    assert c.executions.delete_execution(EID) is None
    assert c.executions.file_metadata(EID, uri) == {"size": 123456789012}
    preview = c.executions.preview_file(EID, uri)
    assert preview["type"] == "LIST" and preview["content"][1] == {"id": 2, "name": None, "amount": None}
    assert rs.last("GET", f"{API}/executions/{EID}/file/preview").params == {"path": uri, "maxRows": "100",
                                                                            "encoding": "UTF-8"}
