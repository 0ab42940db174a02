"""Every request the client sends, checked against Kestra's own OpenAPI spec of its generation.

The client runs each public operation against the replay server; each recorded request must
match a method + path template of ``openapi-1.3.0.yml`` (1.x) or ``openapi-2.0.0.yml`` (2.x),
use only query parameters that operation declares (typed as declared: booleans ``true``/``false``,
integers, enum values), and send the request body content type it accepts (or none when the
body is optional). Operations the specs are known to lack are listed once, below.
"""
from __future__ import annotations

import functools
import re

import pytest

from tests.client.replays.helpers import API, make_client
from tests.client.replays.server import Reply, ReplayServer, load
from tests.sandbox.openapi_check import spec_dict

# Operations that exist on real servers but are missing from the spec file (kestra-api.md §0, kestra-api-2.md §4.3)
KNOWN_MISSING = {
    1: {("GET", "/api/v1/{tenant}/executions/{executionId}/file/preview"),   # stripped for SDK generation
        ("GET", "/api/v1/{tenant}/logs/{executionId}/follow")},              # stripped for SDK generation
    2: {("GET", "/api/v1/{tenant}/outputs/executions/{executionId}"),        # released 2.0.x, spec pre-release
        ("GET", "/api/v1/{tenant}/outputs/tasks/{executionId}"),
        ("GET", "/api/v1/{tenant}/outputs/tasks/{executionId}/{taskRunId}")},
}

# the spec operations the client's public methods map to (a 1.x-style action path on 2.x would
# land on createExecution instead, so this set and the createExecution count catch it)
_COMMON = {"createFlow", "updateFlow", "deleteFlow", "searchFlows", "listFlowsByNamespace", "validateFlows",
           "listFlowRevisions", "createExecution", "searchExecutions", "followExecution", "killExecution",
           "restartExecution", "resumeExecution", "replayExecution", "pauseExecution", "deleteExecution",
           "downloadFileFromExecution", "listLogsFromExecution", "downloadLogsFromExecution"}
EXPECTED_OPERATIONS = {
    1: _COMMON | {"flow", "execution", "fileMetadatasFromExecution", "configuration"},
    2: _COMMON | {"getFlow", "getExecution", "getFileMetadatasFromExecution", "previewFileFromExecution",
                  "followLogsFromExecution", "getConfiguration"},
}

EID = "4Jd9Rk8mAfnXQ2wKZ7oP1c"
TRID = "7gG8hH9iI0jJ1kK2lL3mM4"


def spec(generation: int) -> dict:
    """Kestra's spec of that generation, shared with the sandbox suite (its known schema defects
    patched; paths, parameters and request bodies are as published)."""
    return spec_dict(generation)


def _resolve(doc: dict, node):
    while isinstance(node, dict) and "$ref" in node:
        node = functools.reduce(lambda d, k: d[k], node["$ref"].lstrip("#/").split("/"), doc)
    return node


@functools.lru_cache(maxsize=None)
def templates(generation: int) -> list[tuple[str, str, re.Pattern]]:
    out = []
    for path in spec(generation)["paths"]:
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$")
        out.append((path, path, pattern))
    # literal segments win over parameters (``/executions/search`` before ``/executions/{executionId}``)
    return sorted(out, key=lambda t: (t[0].count("{"), -len(t[0])))


def find_operation(generation: int, method: str, path: str):
    doc = spec(generation)
    for template, _, pattern in templates(generation):
        if pattern.match(path) and method.lower() in doc["paths"][template]:
            return template, doc["paths"][template][method.lower()]
    return None, None


def exercise(c, rs, generation: int) -> None:
    """Route every path the client uses and call every public operation once (or more)."""
    ex = load("v1/execution_full.json" if generation == 1 else "v2/execution_api.json")
    ex = {**ex, "id": EID}
    flow = load("v1/flow_with_source.json")
    act = f"{API}/executions/{EID}" + ("/actions" if generation == 2 else "")
    rs.route("GET", "/api/v1/configs", Reply(200, load(f"v{generation}/configs.json")))
    rs.route("POST", f"{API}/flows", Reply(200, flow))
    rs.route("PUT", f"{API}/flows/company.team/etl", Reply(200, flow))
    rs.route("GET", f"{API}/flows/company.team/etl", Reply(200, flow))
    rs.route("DELETE", f"{API}/flows/company.team/etl", Reply(204, b"", None))
    rs.route("GET", f"{API}/flows/search", Reply(200, {"results": [flow], "total": 1}))
    rs.route("GET", f"{API}/flows/company.team", Reply(200, [flow]))
    rs.route("POST", f"{API}/flows/validate", Reply(200, load("v1/validate.json")))
    rs.route("GET", f"{API}/flows/company.team/etl/revisions", Reply(200, load("v1/revisions.json")))
    rs.route("POST", f"{API}/executions/company.team/etl", Reply(200, ex))
    rs.route("GET", f"{API}/executions/{EID}", Reply(200, ex))
    rs.route("DELETE", f"{API}/executions/{EID}", Reply(204, b"", None))
    rs.route("GET", f"{API}/executions/search", Reply(200, {"results": [ex], "total": 1}))
    rs.route("GET", f"{API}/executions/{EID}/follow",
             Reply(200, f'id: end\ndata: {{"id":"{EID}","state":{{"current":"SUCCESS"}}}}\n\n', "text/event-stream",
                   stream=True))
    rs.route("DELETE", f"{act}/kill", Reply(200, ex, "text/json"))
    for action in ("pause", "resume", "restart", "replay"):
        rs.route("POST", f"{act}/{action}", Reply(200, ex))
    rs.route("GET", f"{API}/executions/{EID}/file", Reply(200, b"x", "application/octet-stream"))
    rs.route("GET", f"{API}/executions/{EID}/file/metas", Reply(200, {"size": 1}))
    rs.route("GET", f"{API}/executions/{EID}/file/preview", Reply(200, load("previews.json")["TEXT"]))
    rs.route("GET", f"{API}/outputs/executions/{EID}", Reply(200, {"a": 1}))
    rs.route("GET", f"{API}/outputs/tasks/{EID}", Reply(200, [{"taskId": "t", "taskRunId": TRID}]))
    rs.route("GET", f"{API}/outputs/tasks/{EID}/{TRID}", Reply(200, {"value": 1}))
    rs.route("GET", f"{API}/logs/{EID}", Reply(200, load("v1/logs.json")))
    rs.route("GET", f"{API}/logs/{EID}/download", Reply(200, "log", "text/plain"))
    rs.route("GET", f"{API}/logs/{EID}/follow", Reply(200, load("v1/logs_follow.sse"), "text/event-stream",
                                                       stream=True))
    src = flow["source"]
    uri = f"kestra:///company/team/etl/executions/{EID}/tasks/t/{TRID}/data.ion"
    assert c.server_version
    c.flows.create_flow(src)
    c.flows.update_flow("company.team", "etl", src)
    c.flows.get_flow("company.team", "etl", revision=2)
    c.flows.get_flow("company.team", "etl", source=False)
    c.flows.upsert_flow(src)
    c.flows.delete_flow("company.team", "etl")
    c.flows.search_flows(namespace="company.team", q="x", labels={"a": "b"}, sort=["id:desc"])
    c.flows.list_flows_by_namespace("company.team")
    c.flows.validate_flows(src)
    c.flows.flow_revisions("company.team", "etl")
    c.executions.create_execution("company.team", "etl")
    c.executions.create_execution("company.team", "etl", inputs={"n": 1, "ok": True}, files={"f": b"data"},
                                  wait=True, labels=["a:b", "c:d"], revision=1,
                                  schedule_date="2026-01-31T09:00:00+01:00", breakpoints=["t"], kind="TEST")
    c.executions.get_execution(EID)
    c.executions.search_executions(namespace="company.team", flow_id="etl", state=["FAILED", "KILLED"],
                                   labels={"a": "b"}, page=2, size=5, sort="state.startDate:desc")
    list(c.executions.follow_execution(EID))
    c.executions.kill_execution(EID)
    c.executions.kill_execution(EID, is_on_kill_cascade=False)
    c.executions.restart_execution(EID, revision=2)
    c.executions.resume_execution(EID)
    c.executions.resume_execution(EID, {"approve": True})
    c.executions.replay_execution(EID, task_run_id=TRID, revision=1, breakpoints="a,b")
    c.executions.pause_execution(EID)
    c.executions.delete_execution(EID, delete_logs=False)
    c.executions.download_file(EID, uri, format="JSONL")
    c.executions.file_metadata(EID, uri)
    c.executions.preview_file(EID, uri, max_rows=10)
    c.executions.flow_outputs(EID)
    c.executions.task_outputs(EID)
    c.logs.list_logs(EID, min_level="INFO", task_id="t", task_run_id=TRID, attempt=1)
    c.logs.download_logs(EID, min_level="WARN")
    with c.logs.follow_logs(EID, min_level="DEBUG") as stream:
        list(stream)


def _check_value(name: str, value: str, schema: dict, doc: dict) -> str | None:
    schema = _resolve(doc, schema) or {}
    if "allOf" in schema:
        schema = _resolve(doc, schema["allOf"][0])
    if schema.get("type") == "array":
        schema = _resolve(doc, schema.get("items") or {})
    kind = schema.get("type")
    if kind == "boolean" and value not in ("true", "false"):
        return f"{name}={value!r} is not true/false"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{name}={value!r} is not an integer"
    if schema.get("enum") and value not in schema["enum"]:
        return f"{name}={value!r} not in {schema['enum']}"
    if schema.get("format") == "date-time" and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)", value):
        return f"{name}={value!r} is not an ISO date-time with offset"
    return None


@pytest.mark.parametrize("generation", [1, 2])
def test_every_request_matches_the_spec_of_its_generation(generation):
    with ReplayServer() as rs, make_client(rs, generation) as c:
        exercise(c, rs, generation)
        seen = list(rs.seen)
    doc = spec(generation)
    problems, used, operation_ids = [], set(), []
    for s in seen:
        known = {k for k in KNOWN_MISSING[generation]
                 if k[0] == s.method and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", k[1]), s.path)}
        if known:   # checked first: a parameter template may match it by accident (executionId="executions")
            assert not any(k[1] in doc["paths"] for k in known), f"{known} is in the spec now: update KNOWN_MISSING"
            used |= known
            continue
        template, op = find_operation(generation, s.method, s.path)
        if op is None:
            problems.append(f"{s.method} {s.path}: no such operation in the {generation}.x spec")
            continue
        used.add((s.method, template))
        operation_ids.append(op.get("operationId"))
        params = {p["name"]: p for p in (_resolve(doc, p) for p in op.get("parameters", []))
                  if p.get("in") == "query"}
        for name, value in s.query:
            base = name.split("[", 1)[0]
            if base not in params:
                problems.append(f"{s.method} {s.path}: query {name!r} not in {sorted(params)}")
                continue
            if "[" not in name:
                bad = _check_value(name, value, params[base].get("schema") or {}, doc)
                if bad:
                    problems.append(f"{s.method} {s.path}: {bad}")
        body = _resolve(doc, op.get("requestBody")) or {}
        ctypes = list((body.get("content") or {}).keys())
        sent = s.ctype.split(";")[0].strip()
        if s.body or sent:
            if sent not in ctypes:
                problems.append(f"{s.method} {s.path}: content type {sent!r} not in {ctypes}")
        elif body.get("required"):
            problems.append(f"{s.method} {s.path}: the spec requires a {ctypes} body, none sent")
        if "follow" in s.path and s.headers.get("Accept") != "text/event-stream":
            problems.append(f"{s.method} {s.path}: follow without Accept: text/event-stream")
    assert problems == []
    assert used >= KNOWN_MISSING[generation], "a known-missing operation was not exercised"
    assert set(operation_ids) == EXPECTED_OPERATIONS[generation]
    assert operation_ids.count("createExecution") == 2     # the two create_execution calls, nothing else


def test_the_2x_pre_release_outputs_fallback_matches_the_2x_spec():
    with ReplayServer() as rs, make_client(rs, 2) as c:
        rs.route("GET", f"{API}/outputs/tasks/{EID}", Reply(404, {"type": "x/not-found", "title": "t", "status": 404,
                                                                  "detail": "Resource not found"},
                                                            "application/problem+json"))
        rs.route("GET", f"{API}/executions/{EID}", Reply(200, load("v2/execution_api.json")))
        rs.route("GET", f"{API}/outputs/{EID}", Reply(200, [{"taskId": "t", "taskRunId": TRID}]))
        rs.route("GET", f"{API}/outputs/{EID}/{TRID}", Reply(200, {"value": 1}))
        assert c.executions.task_outputs(EID)[0]["outputs"] == {"value": 1}
        for path in (f"{API}/outputs/{EID}", f"{API}/outputs/{EID}/{TRID}"):
            template, op = find_operation(2, "GET", path)
            assert op is not None and op["operationId"] in ("getTaskOutputsInformation", "getTaskRunOutputs")


def test_the_detection_probes_are_spec_operations():
    with ReplayServer() as rs:
        rs.route("GET", "/api/v1/configs", Reply(401, {"message": "Unauthorized"}))
        rs.route("GET", "/api/v1/configs/login", Reply(200, load("v2/configs_login.json")))
        assert make_client(rs, None).generation == 2
        seen = [(s.method, s.path) for s in rs.seen]
    assert seen == [("GET", "/api/v1/configs"), ("GET", "/api/v1/configs/login")]
    assert [find_operation(2, m, p)[1]["operationId"] for m, p in seen] == ["getConfiguration",
                                                                              "getLoginConfiguration"]
    assert find_operation(1, "GET", "/api/v1/configs")[1]["operationId"] == "configuration"
