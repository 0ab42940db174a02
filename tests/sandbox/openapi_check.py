"""Validate sandbox responses against Kestra's own OpenAPI specs (openapi-core).

Specs are loaded once per session with spec validation off (they do not pass it as
published), after applying the documented defects of ``spec_defects``. Undocumented error
statuses are checked against the generation's error format instead; undocumented operations
must be listed in ``spec_defects.MISSING_OPERATIONS``.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import yaml

from tests.sandbox import spec_defects

SPEC_FILES = {1: "openapi-1.3.0.yml", 2: "openapi-2.0.0.yml"}
PROBLEM_BASE = "https://kestra.io/docs/api-reference/problems/"


@lru_cache(maxsize=None)
def spec_dict(generation: int) -> dict:
    path = Path(__file__).parent / "specs" / SPEC_FILES[generation]
    data = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    spec_defects.patch(data, generation)
    return data


@lru_cache(maxsize=None)
def openapi(generation: int):
    from openapi_core import Config, OpenAPI
    # Kestra's kill answers `text/json` (as its spec says); openapi-core only knows application/json
    return OpenAPI.from_dict(spec_dict(generation), config=Config(
        spec_validator_cls=None, extra_media_type_deserializers={"text/json": json.loads}))


def check_error_body(response, generation: int) -> None:
    """A Kestra error: 1.x JsonError (or empty body), 2.x application/problem+json."""
    if generation == 1:
        if not response.content:
            return
        assert response.headers["Content-Type"].startswith("application/json"), response.headers
        body = response.json()
        assert isinstance(body.get("message"), str) and body["message"], body
        assert body["_links"]["self"]["href"].startswith("/"), body
        for err in (body.get("_embedded") or {}).get("errors", []):
            assert isinstance(err["message"], str), body
        return
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["type"].startswith(PROBLEM_BASE), body
    assert body["status"] == response.status_code, body
    assert body["title"] and body["detail"] and body["instance"].startswith("/"), body
    assert ("traceId" in body) == (response.status_code >= 500), body
    for err in body.get("errors", []):
        assert err.get("detail"), body


def check_response(response, generation: int) -> None:
    """Fail unless ``response`` matches Kestra's spec (or its error format) for its request."""
    from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.templating.responses.exceptions import ResponseNotFound
    request = response.request
    if response.headers.get("Content-Type", "").startswith("text/event-stream"):
        return   # SSE payloads are checked event by event with check_schema
    path = request.path_url.split("?", 1)[0]
    if spec_defects.missing_operation(generation, request.method, path):
        if response.status_code >= 400:
            check_error_body(response, generation)
        return   # not in the spec (openapi-core could mis-match it to a broader template)
    try:
        openapi(generation).validate_response(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))
    except (PathNotFound, OperationNotFound):
        if response.status_code >= 400:
            check_error_body(response, generation)
            return
        assert spec_defects.missing_operation(generation, request.method, path), \
            f"{request.method} {path} is not in Kestra's {SPEC_FILES[generation]} and not listed in spec_defects"
    except ResponseNotFound:
        assert response.status_code >= 300, f"{request.method} {path}: status {response.status_code} not in spec"
        if response.status_code >= 400:
            check_error_body(response, generation)
    except Exception as exc:
        cause = exc.__cause__
        details = [str(e).split("\n\n")[0] + " @ " + "/".join(map(str, e.absolute_path))
                   for e in getattr(cause, "schema_errors", None) or []]
        raise AssertionError(f"{request.method} {path} -> {response.status_code} does not match "
                             f"{SPEC_FILES[generation]}: {exc}\n" + "\n".join(details[:10])) from None


def check_schema(data, schema: str, generation: int) -> None:
    """Validate one JSON value (e.g. an SSE payload) against ``components/schemas/<schema>``."""
    from openapi_schema_validator import OAS30Validator
    root = {"$ref": f"#/components/schemas/{schema}", "components": spec_dict(generation)["components"]}
    errors = sorted(OAS30Validator(root).iter_errors(data), key=str)
    assert not errors, f"{schema} ({SPEC_FILES[generation]}): " + "; ".join(
        f"{e.message} @ {'/'.join(map(str, e.absolute_path))}" for e in errors[:5]) + f"\n{json.dumps(data)[:500]}"
