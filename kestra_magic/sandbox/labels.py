"""Execution labels as a client sends them: the one parser and validator behind execution creation
(``?labels=key:value``), the labels action and the bulk label routes.

Kestra's ``Label`` record constrains both parts: key ``@NotEmpty @Pattern(^[\\p{Ll}][\\p{L}0-9._-]*$)``
with the message below, value ``@NotEmpty`` (the ``Label`` schema of openapi-1.3.0.yml and
openapi-2.0.0.yml, generated from it; added by kestra-io/kestra PR #13499, closing #11229). Since
kestra-io/kestra PR #18730 ("validate label keys on every execution label API", closing #18332)
every execution label API checks them: ``ExecutionController.parseLabels`` for the create query
parameter, ``@Valid`` on the labels action and on ``SetLabelsByIdsRequest.executionLabels``; a
violation is Micronaut's ConstraintViolation answer, 422. ``system.*`` keys pass the pattern; who
may set them is the backend's rule (``Backend.check_user_labels``).
"""
from __future__ import annotations

import unicodedata
from typing import Any

from kestra_magic.sandbox.problems import ApiError, invalid_entity

KEY_MESSAGE = ("Invalid label key. A valid key contains only lowercase letters numbers hyphens (-) underscores (_) "
               "or periods (.) and must begin with a lowercase letter.")
VALUE_MESSAGE = "must not be empty"


def key_ok(key: str) -> bool:
    """Java's ``^[\\p{Ll}][\\p{L}0-9._-]*$`` matched as ``@Pattern`` does (the whole key). Python's
    ``re`` has no ``\\p{..}`` classes (the ``regex`` package is only a test dependency): the Unicode
    general categories are read with :mod:`unicodedata`, as Java's ``\\p{Ll}`` / ``\\p{L}`` do."""
    if not key or unicodedata.category(key[0]) != "Ll":
        return False
    return all(unicodedata.category(c).startswith("L") or c in "0123456789._-" for c in key[1:])


def _scalar(value: Any) -> str | None:
    """A label part as Jackson reads it into a String (a JSON number or boolean is its text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def check(labels: list[dict], where: str = "labels") -> None:
    """422 naming every label Kestra's ``Label`` constraints refuse."""
    errors = []
    for i, label in enumerate(labels):
        if not key_ok(label["key"]):
            errors.append((f"{where}[{i}].key", KEY_MESSAGE))
        if not label["value"]:
            errors.append((f"{where}[{i}].value", VALUE_MESSAGE))
    if errors:
        raise invalid_entity("; ".join(f"{p}: {m}" for p, m in errors), errors)


def from_body(body: Any, where: str = "labels") -> list[dict]:
    """A JSON array of ``{"key", "value"}`` labels, checked (422 otherwise)."""
    shape = ApiError(422, "invalid-json", "Expected a JSON array of {\"key\": \"...\", \"value\": \"...\"} labels",
                     "Invalid JSON")
    if not isinstance(body, list):
        raise shape
    out = []
    for item in body:
        if not isinstance(item, dict):
            raise shape
        key, value = _scalar(item.get("key")), _scalar(item.get("value"))
        if key is None or value is None:
            raise shape
        out.append({"key": key, "value": value})
    check(out, where)
    return out


def split_pair(raw: str) -> tuple[str, str] | None:
    """``key:value`` (as query parameters and filters write a label) -> ``(key, value)`` stripped;
    None when there is no ``:`` or no key."""
    key, sep, value = raw.partition(":")
    key, value = key.strip(), value.strip()
    return (key, value) if sep and key else None


def from_query(raw_values: list[str]) -> list[dict]:
    """``labels=key:value`` query parameters, checked (422 for a malformed or refused one)."""
    out = []
    for raw in raw_values:
        pair = split_pair(raw)
        if pair is None:
            raise ApiError(422, "invalid-argument", f"Invalid queryString parameter: labels={raw} "
                           f"(use labels=key:value)", "Invalid queryString parameter")
        out.append({"key": pair[0], "value": pair[1]})
    check(out)
    return out
