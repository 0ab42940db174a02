"""Typed flow inputs: convert multipart text parts / defaults to Kestra's input values.

Kestra converts every input server side and refuses the whole execution (422) when one is
missing or malformed; the messages below follow its ``Missing required input:<id>`` /
``Invalid input for `<id>`, ...`` forms (kestra-api.md §2.1, ion-and-tasks.md §2.2).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable
from urllib.parse import urlparse

import yaml

from kestra_magic import safe_yaml
from kestra_magic.sandbox import safe_json
from kestra_magic.sandbox.instants import format_duration, format_instant, parse_duration

INPUT_TYPES = frozenset({"STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME",
                         "DATE", "TIME", "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY",
                         "MULTISELECT", "YAML", "EMAIL"})

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InputError(ValueError):
    """One input problem: ``path`` (``inputs.<id>``) and Kestra's message."""

    def __init__(self, input_id: str, message: str):
        super().__init__(message)
        self.input_id = input_id
        self.message = message


@dataclass
class FilePart:
    """An uploaded FILE input part."""
    filename: str
    data: bytes


@dataclass
class Resolved:
    """The typed inputs of a new execution (nested for dotted ids) and the files to store."""
    values: dict = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)   # input id -> upload
    ignored: list[str] = field(default_factory=list)            # undeclared input names


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _json_value(value: Any) -> Any:
    """A JSON input's value: text is read within the JSON limits (``safe_json``)."""
    return safe_json.loads(value) if isinstance(value, str) else value


def _convert_scalar(kind: str, value: Any, spec: dict) -> Any:
    """Convert one value of input type ``kind``; raises ValueError with the reason."""
    if kind in ("STRING", "SECRET"):
        text = _text(value)
        validator = spec.get("validator")
        if validator and not re.fullmatch(str(validator), text):
            raise ValueError(f"it must match the pattern `{validator}`")
        for bound, test, word in (("minLength", lambda n: len(text) < n, "at least"),
                                  ("maxLength", lambda n: len(text) > n, "at most")):
            if spec.get(bound) is not None and test(int(spec[bound])):
                raise ValueError(f"it must be {word} `{spec[bound]}` characters long")
        return text
    if kind == "INT":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected INT but received `{value}`")
        try:
            number = int(value) if not isinstance(value, str) else int(value.strip())
        except (TypeError, ValueError):
            raise ValueError(f"For input string: \"{value}\"") from None
        _bounds(number, spec)
        return number
    if kind == "FLOAT":
        if isinstance(value, bool):
            raise ValueError(f"expected FLOAT but received `{value}`")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"For input string: \"{value}\"") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(f"For input string: \"{value}\"")
        _bounds(number, spec)
        return number
    if kind in ("BOOL", "BOOLEAN"):
        # Kestra uses Boolean.parseBoolean: anything but "true" (any case) is false
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() == "true"
    if kind == "DATETIME":
        if isinstance(value, dt.datetime):
            moment = value
        else:
            try:
                moment = dt.datetime.fromisoformat(str(value).strip())
            except ValueError:
                raise ValueError(f"Text '{value}' could not be parsed") from None
        if moment.tzinfo is None:
            raise ValueError(f"Text '{value}' could not be parsed: a time zone (e.g. Z) is required")
        return format_instant(moment)
    if kind == "DATE":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        try:
            return dt.date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            raise ValueError(f"Text '{value}' could not be parsed") from None
    if kind == "TIME":
        try:
            moment = dt.time.fromisoformat(str(value).strip())
        except ValueError:
            raise ValueError(f"Text '{value}' could not be parsed") from None
        if moment.tzinfo is not None:
            raise ValueError(f"Text '{value}' could not be parsed")
        return moment.isoformat()
    if kind == "DURATION":
        if isinstance(value, dt.timedelta):
            return format_duration(value)
        return format_duration(parse_duration(str(value)))
    if kind == "JSON":
        try:
            return _json_value(value)
        except safe_json.JsonError as exc:
            raise ValueError(f"invalid JSON: {exc}") from None
    if kind == "YAML":
        if not isinstance(value, str):
            return value
        try:
            return to_jsonable(safe_yaml.load(value))    # Kestra's YAML limits, as for flows
        except safe_yaml.YamlLimitError as exc:
            raise ValueError(f"invalid YAML: {exc.problem}") from None
        except yaml.YAMLError as exc:
            raise ValueError(f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if kind == "URI":
        text = _text(value).strip()
        parsed = urlparse(text)
        if not parsed.scheme or " " in text:
            raise ValueError(f"`{text}` is not a valid URI")
        return text
    if kind == "EMAIL":
        text = _text(value).strip()
        if not _EMAIL.match(text):
            raise ValueError(f"`{text}` is not a valid email")
        return text
    if kind in ("SELECT", "ENUM"):
        text = _text(value)
        allowed = [str(v) for v in spec.get("values") or []]
        if allowed and text not in allowed and not spec.get("allowCustomValue"):
            raise ValueError(f"it must match the values `{allowed}`")
        return text
    raise ValueError(f"unsupported input type {kind}")


def _bounds(number: float, spec: dict) -> None:
    if spec.get("min") is not None and number < float(spec["min"]):
        raise ValueError(f"it must be more than `{spec['min']}`")
    if spec.get("max") is not None and number > float(spec["max"]):
        raise ValueError(f"it must be less than `{spec['max']}`")


def _as_list(value: Any) -> list:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = safe_json.loads(text)
        except safe_json.JsonLimitError:
            raise
        except safe_json.JsonError:
            # Kestra also accepts a comma separated list for ARRAY/MULTISELECT parts
            return [p.strip() for p in text.split(",")] if text else []
        if not isinstance(parsed, list):
            raise ValueError(f"expected a JSON array but received `{value}`")
        return parsed
    raise ValueError(f"expected a JSON array but received `{value}`")


def convert(spec: dict, value: Any) -> Any:
    """The typed value of one input (``spec`` is the flow's input definition)."""
    kind = str(spec.get("type", "STRING")).upper()
    if kind == "ARRAY":
        item_type = str(spec.get("itemType") or "STRING").upper()
        return [_convert_scalar(item_type, v, {}) for v in _as_list(value)]
    if kind == "MULTISELECT":
        items = [_text(v) for v in _as_list(value)]
        allowed = [str(v) for v in spec.get("values") or spec.get("options") or []]
        bad = [v for v in items if allowed and v not in allowed]
        if bad and not spec.get("allowCustomValue"):
            raise ValueError(f"value `{bad[0]}` doesn't match the values `{allowed}`")
        return items
    if kind == "FILE":
        text = _text(value)
        if not re.match(r"^(kestra|nsfile|file)://", text):
            raise ValueError(f"expected a file upload or a kestra:/// URI but received `{text}`")
        return text
    return _convert_scalar(kind, value, spec)


def convert_inputs(specs: list, given: dict) -> dict:
    """Typed values for declared inputs given as values, not multipart parts (subflow inputs, Pause
    ``onResume``, for the engine); ValueError naming the bad one. The same :func:`convert` as
    :func:`resolve`, so both paths agree."""
    given = dict(given or {})
    out: dict = {}
    for spec in specs or []:
        if not isinstance(spec, dict) or "id" not in spec:
            continue
        input_id = spec["id"]
        if input_id in given and given[input_id] is not None:
            value = given[input_id]
        elif spec.get("defaults") is not None:
            value = spec["defaults"]
        elif spec.get("required", True) is not False:
            raise ValueError(f"Missing required input:{input_id}")
        else:
            out[input_id] = None
            continue
        try:
            out[input_id] = convert(spec, value)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"Invalid input for `{input_id}`, {exc}") from None
    if not specs:       # nothing declared: the given values pass as they are
        out.update(given)
    return out


def _nest(values: dict, dotted: str, value: Any) -> None:
    """Dotted input ids become nested maps: ``a.b`` -> ``{"a": {"b": ...}}``."""
    parts = dotted.split(".")
    node = values
    for p in parts[:-1]:
        child = node.get(p)
        if not isinstance(child, dict):
            child = node[p] = {}
        node = child
    node[parts[-1]] = value


def resolve(declared: list[dict] | None, form: dict[str, str], files: dict[str, FilePart],
            file_uri: Callable[[str, str], str]) -> Resolved:
    """Convert submitted parts against the flow's ``inputs``; raises :class:`InputErrors`.

    ``file_uri(input_id, filename)`` gives the kestra:/// URI a FILE upload will be stored at.
    """
    out = Resolved()
    problems: list[InputError] = []
    declared = [d for d in (declared or []) if isinstance(d, dict)]
    known = {str(d.get("id") or d.get("name")) for d in declared}
    out.ignored = sorted(set(form) - known | set(files) - known)
    for spec in declared:
        input_id = str(spec.get("id") or spec.get("name"))
        kind = str(spec.get("type", "STRING")).upper()
        required = spec.get("required", True) is not False
        try:
            if not _enabled(spec, out.values):
                continue   # a false dependsOn condition disables the input: Kestra drops it
            if input_id in files:
                part = files[input_id]
                if kind != "FILE":
                    raise InputError(input_id, f"Invalid input for `{input_id}`, a file was uploaded "
                                               f"but the input type is {kind}")
                value = file_uri(input_id, part.filename)
                out.files[input_id] = part
            elif input_id in form and not (form[input_id] == "" and kind not in ("STRING", "SECRET")):
                value = convert(spec, form[input_id])
            elif spec.get("defaults") is not None:
                value = convert(spec, spec["defaults"])
            elif required:
                raise InputError(input_id, f"Missing required input:{input_id}")
            else:
                value = None
        except InputError as exc:
            problems.append(exc)
            continue
        except (ValueError, TypeError, ArithmeticError) as exc:
            problems.append(InputError(input_id, f"Invalid input for `{input_id}`, {exc}"))
            continue
        _nest(out.values, input_id, value)
    if problems:
        raise InputErrors(problems)
    return out


def _enabled(spec: dict, values: dict) -> bool:
    """An input's ``dependsOn.condition``, rendered against the inputs resolved so far."""
    depends = spec.get("dependsOn")
    if not isinstance(depends, dict) or depends.get("condition") in (None, ""):
        return True
    from kestra_magic.sandbox.engine_state import truthy
    from kestra_magic.sandbox.expressions import ExpressionError, render
    input_id = str(spec.get("id") or spec.get("name"))
    try:
        return truthy(render(str(depends["condition"]), {"inputs": values}))
    except ExpressionError as exc:
        raise InputError(input_id, f"Invalid condition for input `{input_id}`: {exc}") from None


class InputErrors(ValueError):
    """All input problems of one request (Kestra reports them together)."""

    def __init__(self, problems: list[InputError]):
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def to_jsonable(value: Any) -> Any:
    """Decimals and dates in YAML-typed inputs -> JSON-able values."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    return value


def validate_values(declared: list | None, form: dict[str, str], files: dict[str, FilePart]) -> list[dict]:
    """Kestra's ``ApiInputAndValue`` list (the ``validate`` endpoints): each declared input with its
    typed value, whether it came from ``defaults``, and its errors."""
    declared = [d for d in declared or [] if isinstance(d, dict)]
    errors: dict[str, list[str]] = {}
    values: dict = {}
    try:
        values = resolve(declared, form, files, lambda iid, fname: f"kestra:///{iid}/{fname}").values
    except InputErrors as exc:
        for p in exc.problems:
            errors.setdefault(p.input_id, []).append(p.message)
    out = []
    for spec in declared:
        input_id = str(spec.get("id") or spec.get("name"))
        submitted = input_id in form or input_id in files
        value = _dig(values, input_id)
        if input_id in errors:
            value = form.get(input_id)
        elif errors and input_id in form:        # resolve() stopped at another input's error
            try:
                value = convert(spec, form[input_id])
            except (ValueError, TypeError, ArithmeticError):
                value = form[input_id]
        elif errors and spec.get("defaults") is not None:
            try:
                value = convert(spec, spec["defaults"])
            except (ValueError, TypeError, ArithmeticError):
                value = spec["defaults"]
        entry = {"input": to_jsonable(spec), "enabled": True,
                 "isDefault": not submitted and spec.get("defaults") is not None,
                 "errors": [{"message": m} for m in errors.get(input_id, [])]}
        if value is not None:
            entry["value"] = value
        out.append(entry)
    return out


def _dig(values: dict, dotted: str):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
