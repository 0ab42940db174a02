"""Kestra 1.x responses replayed against the client: every operation parses the real shapes
leniently (keeping ``.raw``) and sends what a real 1.x server expects."""
from __future__ import annotations

import datetime as dt

import pytest

from kestra_magic import errors
from kestra_magic.models import Execution
from tests.client.replays.helpers import API, EXEC_V1 as EID, make_client, multipart_parts
from tests.client.replays.server import Reply, ReplayServer, load


@pytest.fixture
def rs():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def c(rs):
    with make_client(rs, 1) as client:
        yield client


def test_detects_1x_from_the_open_configs_probe(rs):
    rs.route("GET", "/api/v1/configs", Reply(200, load("v1/configs.json")))
    client = make_client(rs, None)
    assert client.generation == 1 and client.server_version == "1.3.3"
    probe = rs.last("GET", "/api/v1/configs")
    assert "Authorization" not in probe.headers            # the probe is unauthenticated
    assert len(rs.requests("GET", "/api/v1/configs")) == 1   # version cached from the probe


@pytest.mark.parametrize("version,expected", [("Snapshot", 1), ("1.0.0-SNAPSHOT", 1), ("v2.0.1", 2)])
def test_detects_generation_from_odd_version_strings(rs, version, expected):
    rs.route("GET", "/api/v1/configs", Reply(200, {**load("v1/configs.json"), "version": version}))
    rs.route("GET", "/api/v1/configs/login", Reply(401, b"", None, {"WWW-Authenticate": "Basic"}))
    assert make_client(rs, None).generation == expected


def test_get_execution_full_shape(rs, c):
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v1/execution_full.json")))
    e = c.executions.get_execution(EID)
    assert (e.id, e.namespace, e.flow_id, e.flow_revision) == (EID, "company.team", "etl", 3)
    assert e.state.current == "SUCCESS" and e.state.is_terminal and not e.state.is_failed
    assert e.state.start_date == "2026-03-10T09:00:00.001234567Z" and e.state.duration == "PT2.998765433S"
    assert e.labels == {"owner": "data-team", "system.correlationId": EID, "system.from": "api"}
    assert e.inputs["cfg"] == {"a": [1, 2]} and "opt" in e.inputs and e.inputs["opt"] is None
    assert e.outputs["result"] == "n=3"
    each, extract, report = e.task_runs
    assert each.outputs is None and each.parent_task_run_id is None
    assert extract.parent_task_run_id == each.id and extract.value == '{"region":"eu"}' and extract.iteration == 0
    assert extract.outputs["vars"]["total"] == 12.5 and extract.attempts[0]["workerId"].startswith("c0ffee")
    assert report.outputs == {"value": "n=3"} and report.state.duration == "PT0.35S"
    assert e.raw["futureFieldAddedIn13"] == {"nested": True} and extract.raw["assets"] == {"inputs": [], "outputs": []}


def test_task_and_flow_outputs_come_from_the_execution(rs, c):
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v1/execution_full.json")))
    outs = c.executions.task_outputs(EID)
    assert [(o["taskId"], o["value"], o["iteration"]) for o in outs] == [("extract", '{"region":"eu"}', 0),
                                                                         ("report", None, None)]
    assert outs[0]["outputs"]["outputFiles"]["data.csv"].endswith("/data.csv")
    assert c.executions.flow_outputs(EID)["result"] == "n=3"
    assert not rs.requests(path=f"{API}/outputs/{EID}")   # 1.x has no outputs endpoints


def test_create_execution_without_inputs_sends_no_body(rs, c):
    rs.route("POST", f"{API}/executions/company.team/etl", Reply(200, load("v1/execution_created.json")))
    e = c.executions.create_execution("company.team", "etl")
    sent = rs.last("POST", f"{API}/executions/company.team/etl")
    assert sent.body == b"" and sent.query == []
    assert e.state.current == "CREATED" and not e.state.is_terminal and e.task_runs == []
    assert e.url == f"http://localhost:8080/ui/main/executions/company.team/etl/{e.id}"
    assert e.labels["run"] == "a:b"


def test_create_execution_query_and_multipart(rs, c, tmp_path):
    rs.route("POST", f"{API}/executions/company.team/etl", Reply(200, load("v1/execution_created.json")))
    f = tmp_path / "rows.csv"
    f.write_bytes(b"a,b\n1,2\n")
    when = dt.datetime(2026, 3, 10, 10, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    c.executions.create_execution("company.team", "etl", inputs={"name": "wörld", "n": 3, "flag": True,
                                                                 "cfg": {"a": [1, 2]}, "day": dt.date(2026, 1, 2)},
                                  files={"data": str(f)}, wait=True, labels={"owner": "me", "run": "a:b"},
                                  revision=2, schedule_date=when, breakpoints=["extract", "report.eu"],
                                  kind="test")
    sent = rs.last("POST", f"{API}/executions/company.team/etl")
    assert sent.query == [("labels", "owner:me"), ("labels", "run:a:b"), ("wait", "true"), ("revision", "2"),
                          ("scheduleDate", "2026-03-10T10:05:00+01:00"), ("breakpoints", "extract,report.eu"),
                          ("kind", "TEST")]
    assert "%2B01%3A00" in sent.raw_path     # the offset's '+' is URL-encoded
    parts = {name: (filename, content) for name, filename, content in multipart_parts(sent)}
    assert parts["name"] == (None, "wörld".encode()) and parts["n"] == (None, b"3")
    assert parts["flag"] == (None, b"true") and parts["cfg"] == (None, b'{"a": [1, 2]}')
    assert parts["day"] == (None, b"2026-01-02") and parts["data"] == ("rows.csv", b"a,b\n1,2\n")


def test_search_executions_sends_filters_and_reads_full_items(rs, c):
    full = load("v1/execution_full.json")
    rs.route("GET", f"{API}/executions/search", Reply(200, {"results": [full], "total": 1234}))
    page = c.executions.search_executions(namespace="company.team", flow_id="etl", state="failed,killed",
                                          labels={"owner": "data-team"}, page=2, size=10,
                                          sort="state.startDate:desc")
    assert page.total == 1234 and len(page) == 1 and page[0].task_runs[1].outputs["size"] == 3
    assert rs.last("GET", f"{API}/executions/search").query == [
        ("page", "2"), ("size", "10"), ("sort", "state.startDate:desc"),
        ("filters[namespace][EQUALS]", "company.team"), ("filters[flowId][EQUALS]", "etl"),
        ("filters[state][IN]", "FAILED,KILLED"), ("filters[labels][EQUALS][owner]", "data-team")]


def test_follow_execution_skips_start_and_ends_on_end(rs, c):
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v1/execution_full.json")))
    rs.route("GET", f"{API}/executions/{EID}/follow",
             Reply(200, load("v1/follow.sse"), "text/event-stream", stream=True))
    states = [e.state.current for e in c.executions.follow_execution(EID)]
    assert states == ["RUNNING", "PAUSED", "SUCCESS"]
    sent = rs.last("GET", f"{API}/executions/{EID}/follow")
    assert sent.headers["Accept"] == "text/event-stream"


def test_actions_use_1x_paths_and_empty_bodies(rs, c):
    """1.x answers kill/pause/resume with an empty 202/204: the execution is read back once, so
    the actions return an Execution on both generations."""
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v1/execution_full.json")))
    rs.route("DELETE", f"{API}/executions/{EID}/kill", Reply(202, b"", "text/json"))
    rs.route("POST", f"{API}/executions/{EID}/pause", Reply(204, b"", None))
    rs.route("POST", f"{API}/executions/{EID}/resume", Reply(204, b"", None))
    rs.route("POST", f"{API}/executions/{EID}/restart", Reply(200, load("v1/execution_full.json")))
    rs.route("POST", f"{API}/executions/{EID}/replay", Reply(200, load("v1/execution_created.json")))
    rs.route("DELETE", f"{API}/executions/{EID}", Reply(204, b"", None))
    killed = c.executions.kill_execution(EID)
    assert isinstance(killed, Execution) and killed.id == EID and killed.state.current == "SUCCESS"
    assert [s.method for s in rs.seen][-2:] == ["DELETE", "GET"]        # the action, then one read back
    assert rs.last("DELETE", f"{API}/executions/{EID}/kill").query == [("isOnKillCascade", "true")]
    c.executions.kill_execution(EID, is_on_kill_cascade=False)
    assert rs.last("DELETE", f"{API}/executions/{EID}/kill").query == [("isOnKillCascade", "false")]
    assert c.executions.pause_execution(EID).id == EID
    assert c.executions.resume_execution(EID).id == EID
    resume = rs.last("POST", f"{API}/executions/{EID}/resume")
    assert resume.ctype.startswith("multipart/form-data") and multipart_parts(resume) == []
    assert isinstance(c.executions.resume_execution(EID, {"approved": True}), Execution)
    assert multipart_parts(rs.last("POST", f"{API}/executions/{EID}/resume")) == [("approved", None, b"true")]
    assert c.executions.restart_execution(EID, revision=2).id == EID
    assert rs.last("POST", f"{API}/executions/{EID}/restart").query == [("revision", "2")]
    new = c.executions.replay_execution(EID, task_run_id="2bB3", revision=3, breakpoints="a, b")
    assert new.id != EID
    assert rs.last("POST", f"{API}/executions/{EID}/replay").params == {
        "taskRunId": "2bB3", "revision": "3", "breakpoints": "a,b"}
    assert c.executions.delete_execution(EID, delete_storage=False) is None
    assert rs.last("DELETE", f"{API}/executions/{EID}").params == {
        "deleteLogs": "true", "deleteMetrics": "true", "deleteStorage": "false"}
    assert not [s for s in rs.seen if "/actions/" in s.path]


def test_files_on_1x(rs, c):
    uri = f"kestra:///company/team/etl/executions/{EID}/tasks/extract/2bB3/data.csv"
    rs.route("GET", f"{API}/executions/{EID}/file",
             Reply(200, b"a,b\n1,2\n", "application/octet-stream",
                   {"Content-Disposition": 'attachment; filename="data.csv"'}))
    rs.route("GET", f"{API}/executions/{EID}/file/metas", Reply(200, {"size": 8}))
    previews = load("previews.json")
    rs.route("GET", f"{API}/executions/{EID}/file/preview", *[Reply(200, previews[k]) for k in previews])
    assert c.executions.download_file(EID, uri, format="JSONL") == b"a,b\n1,2\n"
    assert rs.last("GET", f"{API}/executions/{EID}/file").query == [("path", uri)]   # no format on 1.x
    assert c.executions.file_metadata(EID, uri) == {"size": 8}
    seen_types = [c.executions.preview_file(EID, uri, max_rows=5)["type"] for _ in previews]
    assert seen_types == ["LIST", "TEXT", "IMAGE", "MARKDOWN"]
    assert rs.last("GET", f"{API}/executions/{EID}/file/preview").params == {
        "path": uri, "maxRows": "5", "encoding": "UTF-8"}


def test_logs_on_1x_use_flat_params(rs, c):
    rs.route("GET", f"{API}/logs/{EID}", Reply(200, load("v1/logs.json")))
    rs.route("GET", f"{API}/logs/{EID}/download", Reply(200, load("v1/logs_download.txt"), "text/plain",
                                                         {"Content-Disposition": f"attachment; filename={EID}.log"}))
    rs.route("GET", f"{API}/logs/{EID}/follow", Reply(200, load("v1/logs_follow.sse"), "text/event-stream",
                                                       stream=True))
    logs = c.logs.list_logs(EID, min_level="warn", task_id="report", attempt=0)
    assert rs.last("GET", f"{API}/logs/{EID}").params == {"minLevel": "WARN", "taskId": "report", "attempt": "0"}
    assert [entry.level for entry in logs] == ["INFO", "WARN", "ERROR"]
    assert logs[0].timestamp == "2026-03-10T09:00:00.512345678Z" and logs[0].attempt_number == 0
    assert logs[1].attempt_number is None and logs[2].task_id is None and logs[1].raw["thread"] == "WorkerThread"
    text = c.logs.download_logs(EID, task_run_id="3cC4")
    assert text.startswith("2026-03-10T09:00:00.512345678Z INFO") and "multi\nline" in text
    assert rs.last("GET", f"{API}/logs/{EID}/download").params == {"taskRunId": "3cC4"}
    with c.logs.follow_logs(EID, min_level="INFO") as stream:
        got = [(entry.level, entry.message) for entry in stream]
    assert got == [("INFO", "extracting eu"), ("ERROR", "boom")]
    sent = rs.last("GET", f"{API}/logs/{EID}/follow")
    assert sent.params == {"minLevel": "INFO"} and sent.headers["Accept"] == "text/event-stream"


def test_flows_on_1x(rs, c):
    flow = load("v1/flow_with_source.json")
    src = flow["source"]
    rs.route("POST", f"{API}/flows", Reply(200, flow))
    rs.route("PUT", f"{API}/flows/company.team/etl", Reply(200, {**flow, "revision": 4}))
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(200, flow))
    rs.route("GET", f"{API}/flows/company.team/etl/revisions", Reply(200, load("v1/revisions.json")))
    rs.route("POST", f"{API}/flows/validate", Reply(200, load("v1/validate.json")))
    rs.route("DELETE", f"{API}/flows/company.team/etl", Reply(204, b"", None))
    rs.route("GET", f"{API}/flows/search", Reply(200, {"results": [flow], "total": 1}))
    rs.route("GET", f"{API}/flows/company.team", Reply(200, [flow]))
    created = c.flows.create_flow(src)
    sent = rs.last("POST", f"{API}/flows")
    assert sent.ctype == "application/x-yaml" and sent.body == src.encode()
    assert created.labels == {"owner": "data-team", "tier": "gold"} and created.source == src
    assert created.inputs[1] == {"id": "n", "type": "INT", "required": True} and created.raw["updated"].endswith(".123456789Z")
    assert c.flows.update_flow("company.team", "etl", src).revision == 4
    assert rs.last("PUT", f"{API}/flows/company.team/etl").ctype == "application/x-yaml"
    got = c.flows.get_flow("company.team", "etl", revision=3)
    assert got.revision == 3 and got.tasks[0]["type"].endswith("ForEach")
    assert rs.last("GET", f"{API}/flows/company.team/etl").params == {"source": "true", "revision": "3"}
    revs = c.flows.flow_revisions("company.team", "etl")
    assert [(r.revision, r.deleted, r.labels) for r in revs] == [(1, False, {}), (2, True, {}),
                                                                (3, False, {"owner": "data-team"})]
    results = c.flows.validate_flows(src + "---\n" + src)
    assert "constraints" not in results[0] and results[1]["outdated"] is True
    assert results[1]["constraints"].startswith("tasks[0].type")
    assert c.flows.delete_flow("company.team", "etl") is None
    page = c.flows.search_flows(namespace="company.team", q="etl", labels=["owner:data-team"], size=5)
    assert page.total == 1 and page[0].id == "etl"
    assert rs.last("GET", f"{API}/flows/search").query == [
        ("page", "1"), ("size", "5"), ("filters[namespace][EQUALS]", "company.team"), ("filters[q][EQUALS]", "etl"),
        ("filters[labels][EQUALS][owner]", "data-team")]
    assert [f.id for f in c.flows.list_flows_by_namespace("company.team")] == ["etl"]


def test_upsert_on_1x_creates_after_an_empty_404_and_updates_after_422(rs, c):
    flow = load("v1/flow_with_source.json")
    src = flow["source"]
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(404, {"message": "Not Found"}))
    rs.route("POST", f"{API}/flows", Reply(200, flow))
    assert c.flows.upsert_flow(src)[1] == "created"
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(404, b"", None), Reply(200, {**flow, "source": "old"}))
    rs.route("POST", f"{API}/flows", Reply(422, {"message": "Invalid entity: flow.id: Flow id already exists",
                                                 "_embedded": {"errors": [{"message": "Flow id already exists",
                                                                           "path": "flow.id"}]}}))
    rs.route("PUT", f"{API}/flows/company.team/etl", Reply(200, {**flow, "revision": 4}))
    flow_out, what = c.flows.upsert_flow(src)
    assert what == "updated" and flow_out.revision == 4


def test_kill_404_with_empty_body_is_not_found(rs, c):
    rs.route("DELETE", f"{API}/executions/nope/kill", Reply(404, b"", None))
    with pytest.raises(errors.KestraNotFound) as info:
        c.executions.kill_execution("nope")
    assert info.value.status == 404 and info.value.server_message is None and "\n" not in str(info.value)


def test_a_file_of_another_execution_follows_kestras_redirect_with_credentials(rs, c):
    other = "9zZ8yY7xX6wW5vV4uU3tT2"
    uri = f"kestra:///company/team/etl/executions/{other}/tasks/t/1/data.csv"
    rs.route("GET", f"{API}/executions/{EID}/file",
             Reply(301, b"", None, {"Location": f"{API}/executions/{other}/file?path={uri}"}))
    rs.route("GET", f"{API}/executions/{other}/file", Reply(200, b"x,y\n", "application/octet-stream"))
    assert c.executions.download_file(EID, uri) == b"x,y\n"
    again = rs.last("GET", f"{API}/executions/{other}/file")
    assert again.params == {"path": uri} and again.headers["Authorization"].startswith("Basic ")
