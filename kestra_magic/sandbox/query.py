"""Search parameters: ``page``/``size``/``sort`` and ``filters[field][OP]=value`` (kestra-api.md §2.8).

Each searchable resource passes an accessor per field; unknown fields or operators are
Kestra's 400 "Invalid query filters".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from kestra_magic.sandbox.problems import ApiError, bad_request, illegal_argument
from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import instants, states
from kestra_magic.sandbox.shapes import LEVELS
from kestra_magic.sandbox.labels import split_pair


def parse_instant(text: str | None):
    """An instant from a query value or a stored date; None when absent or unreadable."""
    if not text:
        return None
    try:
        return instants.parse_instant(str(text))
    except ValueError:
        return None

OPS = ("EQUALS", "NOT_EQUALS", "GREATER_THAN", "LESS_THAN", "GREATER_THAN_OR_EQUAL_TO",
       "LESS_THAN_OR_EQUAL_TO", "IN", "NOT_IN", "STARTS_WITH", "ENDS_WITH", "CONTAINS", "REGEX", "PREFIX")
_KEY = re.compile(r"^filters\[([A-Za-z]+)\]\[([A-Za-z_]+)\](?:\[(.*)\])?$")


@dataclass
class Filter:
    field: str
    op: str
    value: str
    label_key: str | None = None


def invalid_filters(message: str) -> ApiError:
    return ApiError(400, "invalid-query-filters", message, "Invalid query filters")


def parse_filters(args, allowed: set[str]) -> list[Filter]:
    """The ``filters[...]`` keys of a query string, checked against ``allowed`` fields."""
    out = []
    for key in args.keys():
        if not key.startswith("filters"):
            continue
        m = _KEY.match(key)
        if not m:
            raise invalid_filters(f"Unable to parse the filter key '{key}': use filters[<field>][<OPERATION>]=<value>")
        field, op, label_key = m.group(1), m.group(2).upper(), m.group(3)
        if field not in allowed:
            raise invalid_filters(f"Field '{field}' is not supported here; allowed fields: {', '.join(sorted(allowed))}")
        if op not in OPS:
            raise invalid_filters(f"Operation '{m.group(2)}' is not supported; use one of {', '.join(OPS)}")
        if field == "labels" and label_key is None:
            for value in args.getlist(key):
                pair = split_pair(value)
                if pair is None:
                    raise invalid_filters(f"Invalid labels filter '{value}': use filters[labels][{op}][<key>]=<value> "
                                          f"or filters[labels][{op}]=<key>:<value>")
                out.append(Filter(field, op, pair[1], pair[0]))
            continue
        for value in args.getlist(key):
            _check_value(field, op, value)
            out.append(Filter(field, op, value, label_key))
    return out


def _check_value(field: str, op: str, value: str) -> None:
    """Reject filter values that can never match their field (Kestra fails them up front)."""
    if field in ("startDate", "endDate", "updated", "created") and parse_instant(value) is None:
        raise invalid_filters(f"'{value}' is not an ISO-8601 date-time for field '{field}'")
    if field == "timeRange":
        from kestra_magic.sandbox.instants import parse_duration
        try:
            parse_duration(value)
        except ValueError:
            raise invalid_filters(f"'{value}' is not an ISO-8601 duration for field 'timeRange' (e.g. PT24H)") from None
    if field == "level" and value.upper() not in LEVELS and op not in ("IN", "NOT_IN"):
        raise invalid_filters(f"'{value}' is not a log level ({', '.join(LEVELS)})")
    if op == "REGEX":
        try:
            re.compile(value)
        except re.error:
            raise invalid_filters(f"'{value}' is not a valid regular expression") from None


def _compare(actual: Any, op: str, expected: str, field: str) -> bool:
    if op in ("IN", "NOT_IN"):
        values = [v.strip() for v in expected.split(",")]
        hit = (actual in values) if not isinstance(actual, list) else any(a in values for a in actual)
        return hit if op == "IN" else not hit
    if isinstance(actual, list):
        return any(_compare(a, op, expected, field) for a in actual) if op != "NOT_EQUALS" \
            else all(_compare(a, op, expected, field) for a in actual)
    if actual is None:
        return op in ("NOT_EQUALS",)
    if field == "level":
        a, e = LEVELS.index(actual) if actual in LEVELS else -1, \
            LEVELS.index(expected.upper()) if expected.upper() in LEVELS else None
        if e is None:
            raise invalid_filters(f"'{expected}' is not a log level ({', '.join(LEVELS)})")
    elif field in ("startDate", "endDate", "updated", "created"):
        a, e = parse_instant(actual), parse_instant(expected)
        if e is None:
            raise invalid_filters(f"'{expected}' is not an ISO-8601 date-time for field '{field}'")
        if a is None:
            return False
    elif isinstance(actual, (int, float)) and not isinstance(actual, bool):
        a = actual
        try:
            e = float(expected)
        except ValueError:
            raise invalid_filters(f"'{expected}' is not a number for field '{field}'") from None
    else:
        a, e = str(actual), expected
    if op == "EQUALS":
        return a == e
    if op == "NOT_EQUALS":
        return a != e
    if op == "GREATER_THAN":
        return a > e
    if op == "LESS_THAN":
        return a < e
    if op == "GREATER_THAN_OR_EQUAL_TO":
        return a >= e
    if op == "LESS_THAN_OR_EQUAL_TO":
        return a <= e
    a, e = str(a), str(e)
    if op == "STARTS_WITH":
        return a.startswith(e)
    if op == "ENDS_WITH":
        return a.endswith(e)
    if op == "CONTAINS":
        return e.lower() in a.lower()
    if op == "PREFIX":
        return a == e or a.startswith(e + ".")
    if op == "REGEX":
        try:
            return re.search(e, a) is not None
        except re.error:
            raise invalid_filters(f"'{e}' is not a valid regular expression") from None
    return False


def matches(item: Any, filters: list[Filter], fields: dict[str, Callable[[Any], Any]]) -> bool:
    for f in filters:
        if f.field == "labels":
            labels = fields["labels"](item) or {}
            if f.label_key is not None:
                actual = labels.get(f.label_key)
                if f.op == "NOT_EQUALS":
                    if actual == f.value:
                        return False
                    continue
                if actual is None or not _compare(actual, f.op, f.value, "labels"):
                    return False
            continue
        if f.field == "timeRange":
            from kestra_magic.sandbox.instants import parse_duration
            import datetime as dt
            try:
                span = parse_duration(f.value)
            except ValueError:
                raise invalid_filters(f"'{f.value}' is not an ISO-8601 duration for field 'timeRange'") from None
            start = parse_instant(fields["startDate"](item))
            if start is None or start < dt.datetime.now(dt.timezone.utc) - span:
                return False
            continue
        accessor = fields.get(f.field)
        if f.field == "q" and accessor is not None:   # full-text query: contains, whatever the operation
            if f.value.lower() not in str(accessor(item) or "").lower():
                return False
            continue
        if accessor is None:   # accepted but not meaningful in the sandbox (e.g. scope USER)
            continue
        if not _compare(accessor(item), f.op, f.value, f.field):
            return False
    return True


def int_param(args, name: str, default: int, minimum: int = 1) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"Failed to convert argument [{name}] for value [{raw}] due to: "
                          f"For input string: \"{raw}\"", slug="invalid-query-parameter") from None
    if value < minimum:
        raise ApiError(422, "validation-failed", "", "Invalid entity",
                       [(name, f"must be greater than or equal to {minimum}")])
    return value


def bool_param(args, name: str, default: bool) -> bool:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() not in ("true", "false"):
        raise bad_request(f"Failed to convert argument [{name}] for value [{raw}]",
                          slug="invalid-query-parameter")
    return raw.lower() == "true"


_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def _sort_key(value: Any) -> tuple:
    """Missing values last; numbers as numbers; instants in time order (their text, with the
    fraction's trailing zeros trimmed as Java does, does not sort); anything else as text."""
    if value is None:
        return (True, 0, "")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (False, value, "")
    text = str(value)
    if _INSTANT.match(text):
        moment = parse_instant(text)
        if moment is not None:
            return (False, moment.timestamp(), text)
    return (False, 0, text)


def sort_and_page(items: list, args, fields: dict[str, Callable[[Any], Any]],
                  default_sort: str | None = None, default_size: int = 10) -> tuple[list, int]:
    """Apply ``sort`` (``field:asc|desc``, repeatable), then 1-based ``page``/``size``."""
    page = int_param(args, "page", 1)
    size = int_param(args, "size", default_size)
    sorts = args.getlist("sort") or ([default_sort] if default_sort else [])
    for spec in reversed(sorts):
        fieldname, sep, direction = spec.partition(":")
        direction = direction.lower() or "asc"
        if not fieldname or direction not in ("asc", "desc") or fieldname not in fields:
            raise illegal_argument(f"Invalid sort parameter '{spec}': use <field>:asc|desc with field "
                                   f"one of {', '.join(sorted(fields))}")
        accessor = fields[fieldname]
        items = sorted(items, key=lambda it: _sort_key(accessor(it)), reverse=direction == "desc")
    total = len(items)
    start = (page - 1) * size
    return items[start:start + size], total


def legacy_filters(args, ops: dict[str, str]) -> list[Filter]:
    """1.x flat parameters (``q``, ``namespace``, ``labels=k:v``, ``state``...) as filters."""
    out = []
    for name, op in ops.items():
        for value in args.getlist(name):
            out.append(Filter(name, op, value))
    for value in args.getlist("labels"):
        pair = split_pair(value)
        if pair is None:
            raise ApiError(422, "invalid-query-parameter", f"Invalid queryString parameter: labels={value} "
                           f"(use key:value)", "Invalid entity")
        out.append(Filter("labels", "EQUALS", pair[1], pair[0]))
    if "state" in ops:
        chosen = args.getlist("state")
        if chosen:
            out = [f for f in out if f.field != "state"] + [Filter("state", "IN", ",".join(chosen))]
    return out


# -- the searchable fields of each resource ------------------------------------------------------
EXECUTION_FILTERS = {"q", "scope", "namespace", "flowId", "state", "labels", "startDate", "endDate",
                     "timeRange", "kind", "triggerExecutionId", "childFilter", "id", "executionId",
                     "parentId", "flowRevision"}
EXECUTION_LEGACY = {"q": "CONTAINS", "namespace": "PREFIX", "flowId": "EQUALS", "state": "IN"}


def _end(e: dict, key: str):
    return states.dates(e["state"]).get(key)


EXECUTION_FIELDS: dict[str, Callable[[dict], Any]] = {
    "id": lambda e: e["id"], "executionId": lambda e: e["id"], "namespace": lambda e: e["namespace"],
    "flowId": lambda e: e["flowId"], "state": lambda e: e["state"]["current"],
    "state.current": lambda e: e["state"]["current"],
    "labels": lambda e: flowsmod.labels_of(e), "kind": lambda e: e.get("kind") or "NORMAL",
    "startDate": lambda e: (e["state"].get("histories") or [{}])[0].get("date"),
    "state.startDate": lambda e: (e["state"].get("histories") or [{}])[0].get("date"),
    "endDate": lambda e: _end(e, "endDate"), "state.endDate": lambda e: _end(e, "endDate"),
    "state.duration": lambda e: _end(e, "duration"),
    "flowRevision": lambda e: e.get("flowRevision"), "parentId": lambda e: e.get("parentId"),
    "triggerExecutionId": lambda e: (e.get("trigger") or {}).get("variables", {}).get("executionId"),
    "childFilter": lambda e: "CHILD" if e.get("parentId") else "MAIN",
    "q": lambda e: f"{e['id']} {e['namespace']} {e['flowId']}",
}

FLOW_FILTERS = {"q", "scope", "namespace", "flowId", "labels", "id", "updated"}
FLOW_FIELDS: dict[str, Callable[[dict], Any]] = {
    "id": lambda f: f["id"], "flowId": lambda f: f["id"], "namespace": lambda f: f["namespace"],
    "labels": lambda f: flowsmod.labels_of(f), "updated": lambda f: f.get("updated"),
    "q": lambda f: f"{f['namespace']}.{f['id']} {f.get('description') or ''}",
    "revision": lambda f: f.get("revision")}

LOG_FILTERS = {"level", "taskId", "taskRunId", "attemptNumber", "q", "namespace", "flowId",
               "executionId", "triggerId", "startDate", "endDate", "scope", "timeRange"}
LOG_FIELDS: dict[str, Callable[[dict], Any]] = {
    "timestamp": lambda l: l.get("timestamp"), "level": lambda l: l.get("level"),
    "namespace": lambda l: l.get("namespace"), "flowId": lambda l: l.get("flowId"),
    "executionId": lambda l: l.get("executionId"), "taskId": lambda l: l.get("taskId"),
    "taskRunId": lambda l: l.get("taskRunId"), "triggerId": lambda l: l.get("triggerId"),
    "startDate": lambda l: l.get("timestamp"), "endDate": lambda l: l.get("timestamp"),
    "attemptNumber": lambda l: l.get("attemptNumber"), "q": lambda l: l.get("message"),
    "message": lambda l: l.get("message")}
