"""Error bodies of both generations → typed errors with one-line, secret-free messages."""
from __future__ import annotations

import json

import pytest
import requests

from kestra_magic import compat, errors


def _resp(status, body=b"", ctype="application/json", headers=None):
    r = requests.Response()
    r.status_code = status
    r._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r.headers["Content-Type"] = ctype
    r.headers.update(headers or {})
    return r


def _err(resp, creds=False):
    return compat.error_for(resp, what="flow ns.f", method="POST", path="/api/v1/main/flows",
                            has_credentials=creds, scrub=lambda s: s.replace("sekret", "***"))


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


def test_generation_from_probes():
    assert compat.generation_from_probes(_resp(200, {"isBasicAuthInitialized": True}), None) == 2
    assert compat.generation_from_probes(_resp(404), _resp(200, {"version": "1.3.3"})) == 1
    assert compat.generation_from_probes(_resp(401), _resp(200, {"version": "2.1.0-SNAPSHOT"})) == 2
    assert compat.generation_from_probes(_resp(401), _resp(401)) == 1
    assert compat.generation_from_probes(None, _resp(401, {"status": 401}, "application/problem+json")) == 2
    assert compat.parse_version("v2.0.1") == 2 and compat.parse_version("Snapshot") is None


@pytest.mark.parametrize("gen,path", [(1, ["executions", "x", "kill"]), (2, ["executions", "x", "actions", "kill"])])
def test_action_paths(gen, path):
    assert compat.Compat(gen).action_path("x", "kill") == path


def test_log_params_per_generation():
    assert compat.Compat(1).log_params(min_level="warn", task_id="t") == {"minLevel": "WARN", "taskId": "t"}
    assert compat.Compat(2).log_params(min_level="WARN", attempt=0) == {
        "filters[level][GREATER_THAN_OR_EQUAL_TO]": "WARN", "filters[attemptNumber][EQUALS]": 0}
    with pytest.raises(errors.KestraConfigError, match="not a log level"):
        compat.Compat(1).log_params(min_level="LOUD")
