"""The KestraError hierarchy: one class per thing a caller may want to catch.

Every error carries the HTTP status (if any), Kestra's own message parsed from
either generation's body, and a one-line ``str()`` that names the cause and the fix.
"""
from __future__ import annotations

from typing import Any, Sequence

__all__ = [
    "KestraError", "KestraConnectionError", "KestraTimeout", "KestraAuthError",
    "KestraNotFound", "KestraConflict", "KestraValidationError", "KestraServerError",
    "KestraAmbiguousError", "KestraConfigError",
]


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class KestraError(Exception):
    """Base of every error kestra-magic raises on purpose."""

    def __init__(self, message: str, status: int | None = None,
                 violations: Sequence[dict] = (), body: Any = None, server_message: str | None = None):
        self.message = _one_line(message)
        self.status = status
        self.violations = list(violations)
        self.body = body
        self.server_message = server_message   # Kestra's own text (1.x ``message`` / 2.x ``detail``)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, status={self.status!r})"


class KestraConnectionError(KestraError):
    """The server could not be reached, or the connection broke."""


class KestraTimeout(KestraConnectionError):
    """The server did not answer within the configured timeout."""


class KestraAuthError(KestraError):
    """401/403: missing or wrong credentials, or not allowed."""


class KestraNotFound(KestraError):
    """404: the flow, execution, file or revision does not exist."""


class KestraConflict(KestraError):
    """409 (or 1.x's 422 "already exists"): wrong state, or the thing already exists."""


class KestraValidationError(KestraError):
    """400/422: the request was understood but rejected; ``violations`` lists why."""


class KestraServerError(KestraError):
    """5xx: the server failed (its trace id, if any, is in the message)."""


class KestraAmbiguousError(KestraError):
    """A create request may or may not have reached the server; it was not re-sent."""


class KestraConfigError(KestraError, ValueError):
    """A configuration mistake (bad URL, unknown server index, value outside an enum...)."""
