"""The error mapper: error bodies of both generations → typed errors with one-line, secret-free
messages; and the generation evidence compat reads from the detection probes."""
from __future__ import annotations

import json

import pytest
import requests

from kestra_magic import compat, errors, operations
from kestra_magic.config import Configuration
from kestra_magic.transport import Transport
from kestra_magic.transport.call import Call
from kestra_magic.transport.error_map import ErrorMapper
from tests.client.replays.server import Reply, ReplayServer


def _resp(status, body=b"", ctype="application/json", headers=None):
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r.headers["Content-Type"] = ctype
    r.headers.update(headers or {})
    return r


def _call(operation="FlowsAPIService.UpdateFlow"):
    return Call(operations.get(operation), "http://k", "/api/v1/main/flows/ns/f", "flow ns.f", (1.0, 2.0))


def _err(resp, creds=False, operation="FlowsAPIService.UpdateFlow"):
    mapper = ErrorMapper(lambda s: s.replace("sekret", "***"), has_credentials=creds)
    return mapper.for_response(resp, _call(operation))


def test_v1_jsonerror_with_embedded_violations_object_or_list():
    body = {"message": "Invalid entity: tasks[0].type: must not be null",
            "_embedded": {"errors": {"message": "must not be null", "path": "tasks[0].type"}}}
    e = _err(_resp(422, body))
    assert isinstance(e, errors.KestraValidationError) and e.status == 422
    assert e.violations == [{"path": "tasks[0].type", "message": "must not be null"}]
    assert "\n" not in str(e) and "must not be null" in str(e)
    assert e.server_message == "Invalid entity: tasks[0].type: must not be null"
    body["_embedded"]["errors"] = [body["_embedded"]["errors"]]
    assert _err(_resp(422, body)).violations[0]["path"] == "tasks[0].type"


def test_v2_problem_json():
    body = {"type": "https://kestra.io/docs/api-reference/problems/validation-failed", "title": "Validation failed",
            "status": 422, "detail": "Validation failed",
            "errors": [{"detail": "must not be null", "pointer": "/tasks/0/type", "path": "tasks[t].type"}]}
    e = _err(_resp(422, body, "application/problem+json"))
    assert isinstance(e, errors.KestraValidationError)
    assert e.violations == [{"path": "tasks[t].type", "message": "must not be null"}]
    assert "tasks[t].type: must not be null" in str(e)
    e5 = _err(_resp(500, {"type": "x/internal-error", "title": "Internal", "status": 500,
                          "detail": "An unexpected error occurred.", "traceId": "tr-1"}, "application/problem+json"))
    assert isinstance(e5, errors.KestraServerError) and "tr-1" in str(e5)
    assert e5.server_message == "An unexpected error occurred. (traceId tr-1)"
    assert _err(_resp(401)).server_message is None


def test_already_exists_is_a_conflict_on_both_generations():
    v1 = _err(_resp(422, {"message": "Invalid entity: flow.id: Flow id already exists"}))
    v2 = _err(_resp(409, {"type": "https://kestra.io/docs/api-reference/problems/entity-already-exists",
                          "title": "Entity already exists", "status": 409, "detail": "A flow exists"},
                    "application/problem+json"))
    assert isinstance(v1, errors.KestraConflict) and isinstance(v2, errors.KestraConflict)
    assert "upsert_flow" in str(v1) and v1.status == 422 and v2.status == 409


def test_status_classes_and_empty_bodies():
    assert isinstance(_err(_resp(401)), errors.KestraAuthError)
    assert "KESTRA_USERNAME" in str(_err(_resp(401)))
    assert "rejected" in str(_err(_resp(401), creds=True))
    assert isinstance(_err(_resp(403, {"message": "no"})), errors.KestraAuthError)
    nf = _err(_resp(404))
    assert isinstance(nf, errors.KestraNotFound) and str(nf).startswith("flow ns.f not found")
    assert isinstance(_err(_resp(409, {"message": "Illegal state: not paused"})), errors.KestraConflict)
    assert isinstance(_err(_resp(400, "bare string")), errors.KestraValidationError)
    assert isinstance(_err(_resp(503)), errors.KestraServerError)
    assert type(_err(_resp(418))) is errors.KestraError


def test_html_and_secrets_in_bodies():
    e = _err(_resp(502, b"<html><head><title>Bad gateway</title></head>\n<body>x</body></html>", "text/html"))
    assert "Bad gateway" in str(e) and "\n" not in str(e)
    e = _err(_resp(422, {"message": "bad password sekret"}))
    assert "sekret" not in str(e) and "***" in str(e)


def test_gateway_errors_on_a_create_are_ambiguous_and_only_there():
    for status in (502, 504):
        e = _err(_resp(status), operation="ExecutionsAPIService.CreateExecution")
        assert isinstance(e, errors.KestraAmbiguousError) and "NOT re-sent" in str(e) and e.status == status
        assert isinstance(_err(_resp(status)), errors.KestraServerError)
    # 503 = unavailable, the request was not handled: a plain server error even for a create
    assert type(_err(_resp(503), operation="ExecutionsAPIService.CreateExecution")) is errors.KestraServerError


@pytest.fixture
def rs():
    with ReplayServer() as server:
        yield server


def _probe(rs, routes: dict, credentials: bool = False):
    """The real probe of a transport pointed at a replay server answering ``routes``."""
    for path, reply in routes.items():
        rs.route("GET", path, reply)
    auth = {"username": "u", "password": "Pw-secret-1"} if credentials else {}
    return Transport(Configuration(url=rs.url, retries=0, **auth)).probe


CONFIGS, LOGIN = "/api/v1/configs", "/api/v1/configs/login"


def test_detect_reads_the_probes_in_one_place(rs):
    """The cases the replay suites do not cover already (test_replay_v1/v2 detect_*)."""
    probe = _probe(rs, {CONFIGS: _reply(401, b""), LOGIN: _reply(401, b"")})
    assert compat.detect(probe, has_credentials=False) == (1, None)   # empty 401s: 1.x's filter
    assert [s.path for s in rs.seen] == [CONFIGS, LOGIN]
    rs.clear()
    probe = _probe(rs, {CONFIGS: _reply(404, b""), LOGIN: _reply(404, b"")})
    assert compat.detect(probe, has_credentials=False) == (2, None)   # nothing definite: 2
    rs.clear()
    probe = _probe(rs, {CONFIGS: _reply(200, {"version": "1.3.3"})})
    assert compat.detect(probe, has_credentials=False) == (1, "1.3.3") and len(rs.seen) == 1
    assert compat.parse_version("v2.0.1") == 2 and compat.parse_version("Snapshot") is None


def test_definite_generation_needs_an_unambiguous_answer(rs):
    probe = _probe(rs, {CONFIGS: _reply(200, {"version": "1.3.3"})}, credentials=True)
    assert compat.definite_generation(probe) == 1
    assert "Authorization" in rs.seen[-1].headers        # the authenticated /configs is authoritative
    rs.clear()
    probe = _probe(rs, {CONFIGS: _reply(401, b"{}"), LOGIN: _reply(200, {"isBasicAuthInitialized": False})})
    assert compat.definite_generation(probe) == 2
    rs.clear()
    probe = _probe(rs, {CONFIGS: _reply(404, b""), LOGIN: _reply(404, b"")})
    assert compat.definite_generation(probe) is None      # blocked probes: no opinion


def _reply(status, body):
    return Reply(status, body, "application/json" if body else None)


@pytest.mark.parametrize("gen,path", [(1, "/api/v1/main/executions/x%2Fy/kill"),
                                      (2, "/api/v1/main/executions/x%2Fy/actions/kill")])
def test_paths_come_from_the_descriptors_of_the_generation(gen, path):
    server = compat.ServerGeneration(gen, lambda *a: None, has_credentials=False, where=lambda: "http://k")
    assert server.path(operations.get("ExecutionsAPIService.KillExecution"), {"executionId": "x/y"}, "main") == path
    assert server.path(operations.get("MiscAPIService.GetConfiguration"), {}, "main") == "/api/v1/configs"


def test_log_params_per_generation():
    assert compat.Compat(1).log_params(min_level="warn", task_id="t") == {"minLevel": "WARN", "taskId": "t"}
    assert compat.Compat(2).log_params(min_level="WARN", attempt=0) == {
        "filters[level][GREATER_THAN_OR_EQUAL_TO]": "WARN", "filters[attemptNumber][EQUALS]": 0}
    with pytest.raises(errors.KestraConfigError, match="not a log level"):
        compat.Compat(1).log_params(min_level="LOUD")
