"""Kestra's error bodies: 1.x Micronaut ``JsonError`` and 2.x RFC 9457 problem documents.

Handlers raise :class:`ApiError`; :func:`render_error` turns it into the body, status and
headers the emulated generation sends (see kestra-api.md §6 and kestra-api-2.md §2).
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

PROBLEM_BASE = "https://kestra.io/docs/api-reference/problems/"

# slug -> (status, title), the OSS catalogue of kestra-api-2.md §2.1
PROBLEMS: dict[str, tuple[int, str]] = {
    "bad-request": (400, "Bad request"),
    "invalid-query-parameter": (400, "Invalid query parameter"),
    "invalid-query-filters": (400, "Invalid query filters"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Access denied"),
    "not-found": (404, "Resource not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "not-acceptable": (406, "Not acceptable"),
    "conflict": (409, "Conflict"),
    "entity-already-exists": (409, "Entity already exists"),
    "payload-too-large": (413, "Payload too large"),
    "unsupported-media-type": (415, "Unsupported media type"),
    "invalid-json": (422, "Invalid JSON"),
    "invalid-format": (422, "Invalid format"),
    "invalid-request-body": (422, "Invalid request body"),
    "invalid-argument": (422, "Invalid argument"),
    "validation-failed": (422, "Validation failed"),
    "invalid-entity": (422, "Invalid entity"),
    "internal-error": (500, "Internal server error"),
    "timeout": (504, "Timeout"),
}

INTERNAL_DETAIL = "An unexpected error occurred. Quote the traceId when contacting support."


@dataclass
class ApiError(Exception):
    """A protocol error. ``reason`` is the 1.x message prefix ("Not Found", "Invalid entity", ...).

    ``message`` is the text after it (1.x) and the problem ``detail`` (2.x); ``errors`` are
    ``(path, message)`` constraint violations; ``empty_v1`` sends a bare status on 1.x.
    """
    status: int
    slug: str
    message: str = ""
    reason: str = ""
    errors: list[tuple[str, str]] = field(default_factory=list)
    empty_v1: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    v1_message: str | None = None     # the literal 1.x ``message`` when it is not "<reason>: <message>"

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


def not_found(message: str = "", *, empty_v1: bool = False) -> ApiError:
    return ApiError(404, "not-found", message, "Not Found", empty_v1=empty_v1)


def invalid_entity(message: str, errors: list[tuple[str, str]] | None = None, *,
                   slug: str = "validation-failed") -> ApiError:
    return ApiError(422, slug, message, "Invalid entity", errors or [])


def illegal_argument(message: str) -> ApiError:
    return ApiError(422, "invalid-argument", message, "Illegal argument")


def conflict(message: str, *, slug: str = "conflict") -> ApiError:
    return ApiError(409, slug, message, "Illegal state")


def bad_request(message: str, *, slug: str = "bad-request", reason: str = "Bad Request") -> ApiError:
    return ApiError(400, slug, message, reason)


def _pointer(path: str) -> str:
    """``tasks[0].type`` -> ``/tasks/0/type`` (RFC 6901)."""
    out = path.replace("]", "").replace("[", ".")
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in out.split(".") if p)


def render_error(err: ApiError, generation: int, instance: str) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for ``err`` as the emulated generation sends it."""
    headers = dict(err.headers)
    if generation == 1:
        if err.empty_v1:
            return err.status, headers, b""
        if err.v1_message is not None:
            text = err.v1_message
        elif err.errors:
            violations = "; ".join(f"{p}: {m}" if p else m for p, m in err.errors)
            text = f"{err.reason}: {err.message or violations}" if err.reason else (err.message or violations)
        elif err.reason and err.message:
            text = f"{err.reason}: {err.message}"
        else:
            text = err.reason or err.message
        body: dict = {"message": text, "_links": {"self": {"href": instance, "templated": False}}}
        if err.errors:
            body["_embedded"] = {"errors": [{"message": m, "path": p} if p else {"message": m}
                                            for p, m in err.errors]}
        headers["Content-Type"] = "application/json"
        return err.status, headers, json.dumps(body).encode()
    status_default, title = PROBLEMS.get(err.slug, (err.status, "Error"))
    problem: dict = {"type": PROBLEM_BASE + err.slug, "title": title, "status": err.status,
                     "detail": err.message or title, "instance": instance}
    if err.status >= 500:
        problem["detail"] = INTERNAL_DETAIL
        problem["traceId"] = secrets.token_hex(16)
    elif err.errors:
        problem["errors"] = sorted(
            ({"detail": m, "pointer": _pointer(p), "path": p} if p else {"detail": m}
             for p, m in err.errors), key=lambda e: e.get("pointer", ""))
    if err.status == 404:
        headers["X-Kestra-Edition"] = "OSS"
    headers["Content-Type"] = "application/problem+json"
    return err.status, headers, json.dumps(problem).encode()
