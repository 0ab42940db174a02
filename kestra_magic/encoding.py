"""Python values → what Kestra's create-execution/resume requests expect.

Labels (``["k:v"]`` or ``{"k": "v"}``), schedule dates (naive = local time, sent
with its offset), breakpoints (list or comma string), and inputs as multipart
parts: text parts for values (bools ``true``/``false``, dicts/lists as JSON,
dates ISO-8601) and file parts for FILE inputs (paths, bytes, file objects,
DataFrames via ``frames.to_upload``).
"""
from __future__ import annotations

import datetime as _dt
import decimal
import enum
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping

from kestra_magic.errors import KestraConfigError

Part = tuple[str, tuple[Any, Any, Any]]   # requests ``files=`` item: (name, (filename, content, type))


def labels_param(labels: Any) -> list[str]:
    """Labels as Kestra's repeatable ``labels=key:value`` query values."""
    if labels is None:
        return []
    if isinstance(labels, str):
        labels = [s for s in (p.strip() for p in labels.split(",")) if s]
    items: list[tuple[str, Any]] = []
    if isinstance(labels, Mapping):
        items = list(labels.items())
    else:
        for item in labels:
            if isinstance(item, str):
                key, sep, value = item.partition(":")
                if not sep:
                    raise KestraConfigError(f"label {item!r} has no ':'; write labels as 'key:value' "
                                            f"or as a dict {{'key': 'value'}}")
                items.append((key.strip(), value.strip()))
            elif isinstance(item, Mapping) and "key" in item:
                items.append((item["key"], item.get("value")))
            elif isinstance(item, (tuple, list)) and len(item) == 2:
                items.append((item[0], item[1]))
            else:
                raise KestraConfigError(f"label {item!r} is not 'key:value', a (key, value) pair "
                                        f"or a {{'key':..., 'value':...}} dict")
    out, seen = [], set()
    for key, value in items:
        key = str(key).strip()
        if not key:
            raise KestraConfigError("a label has an empty key; write labels as 'key:value'")
        if key in seen:
            raise KestraConfigError(f"label {key!r} is given twice; give each key once")
        seen.add(key)
        out.append(f"{key}:{_text(value) if value is not None else ''}")
    return out


def schedule_date_param(value: Any) -> str | None:
    """An ISO-8601 date-time with offset; naive datetimes (and strings) are local time."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = _dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        except ValueError:
            raise KestraConfigError(f"schedule_date {value!r} is not an ISO-8601 date-time; "
                                    f"use e.g. '2026-01-31T09:00:00+01:00' or a datetime") from None
        if parsed.tzinfo is not None:
            return text
        value = parsed
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.astimezone()   # naive = local time
        return value.isoformat()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day).astimezone().isoformat()
    raise KestraConfigError(f"schedule_date must be a datetime or an ISO-8601 string, "
                            f"not {type(value).__name__}")


def breakpoints_param(value: Any) -> str | None:
    """Breakpoints as Kestra's comma list ``taskId[.value],...``."""
    if value is None:
        return None
    if isinstance(value, str):
        items = value.split(",")
    else:
        items = [str(v) for v in value]
        if any("," in i for i in items):
            raise KestraConfigError(f"breakpoints {value!r}: a list item contains a comma; "
                                    f"give one task id per item, e.g. ['task1', 'task2']")
    items = [i.strip() for i in items]
    if not items or any(not i for i in items):
        raise KestraConfigError(f"breakpoints {value!r} contain an empty task id; "
                                f"give task ids as a list or 'task1,task2'")
    return ",".join(items)


def iso_duration(value: _dt.timedelta) -> str:
    """A timedelta as the ISO-8601 duration Java's ``Duration.parse`` reads (``PT90.5S``)."""
    total = value.total_seconds()
    sign = "-" if total < 0 else ""
    total = abs(total)
    seconds = int(total) if total == int(total) else round(total, 6)
    return f"{sign}PT{seconds}S"


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return _text(value)
    if isinstance(value, _dt.timedelta):
        return iso_duration(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):   # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _text(value: Any) -> str:
    """One input value as the text Kestra parses for its input types."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, enum.Enum):
        return _text(value.value)
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise KestraConfigError(f"input value {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, _dt.datetime):
        return (value.astimezone() if value.tzinfo is None else value).isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return iso_duration(value)
    if isinstance(value, (Mapping, list, tuple, set, frozenset)):
        return json.dumps(value, default=_json_default)
    if hasattr(value, "item") and not hasattr(value, "__len__"):   # numpy scalar
        return _text(value.item())
    return str(value)


def _is_dataframe(value: Any) -> bool:
    return type(value).__module__.startswith("pandas") and hasattr(value, "to_csv")


def _is_file_like(value: Any) -> bool:
    return hasattr(value, "read") and callable(value.read)


def _file_part(name: str, value: Any, *, strings_are_paths: bool) -> tuple[str, bytes, str]:
    """(filename, content, content type) for one FILE input."""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], str):
        filename, data = value
        if _is_dataframe(data):
            # ("x.parquet", df): the file name's extension picks the format (CSV when it names none)
            from kestra_magic import frames
            ext = os.path.splitext(filename)[1].lstrip(".").lower()
            fmt = ext if ext in ("csv", "parquet", "ion", "jsonl", "json") else None
            try:
                _, content = frames.to_upload(data, fmt)
            except ValueError as err:
                raise KestraConfigError(f"file for input {name!r}: {err}") from None
            return os.path.basename(filename), content, "application/octet-stream"
        _, content, ctype = _file_part(name, data, strings_are_paths=False) \
            if not isinstance(data, str) else (None, data.encode(), None)
        return os.path.basename(filename), content, ctype or "application/octet-stream"
    if _is_dataframe(value):
        from kestra_magic import frames   # lazy: pandas only when a DataFrame is given
        filename, content = frames.to_upload(value)
        return f"{name}{os.path.splitext(filename)[1]}", content, "application/octet-stream"
    if isinstance(value, (str, os.PathLike)) and (strings_are_paths or isinstance(value, os.PathLike)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise KestraConfigError(f"file for input {name!r} not found: {str(path)!r}; "
                                    f"give an existing path, bytes or an open file")
        return path.name, path.read_bytes(), "application/octet-stream"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return name, bytes(value), "application/octet-stream"
    if _is_file_like(value):
        content = value.read()
        if isinstance(content, str):
            content = content.encode()
        filename = getattr(value, "name", None)
        filename = os.path.basename(filename) if isinstance(filename, str) and filename else name
        return filename, content, "application/octet-stream"
    raise KestraConfigError(f"file for input {name!r} must be a path, bytes, a file object or a "
                            f"DataFrame, not {type(value).__name__}")


def input_parts(inputs: Mapping[str, Any] | None = None,
                files: Mapping[str, Any] | None = None) -> list[Part]:
    """Multipart parts for Kestra: one per input id (text) and one per FILE input (with filename)."""
    parts: list[Part] = []
    for name, value in (inputs or {}).items():
        if value is None:
            continue   # let the server apply the default
        if (isinstance(value, (bytes, bytearray, memoryview, os.PathLike))
                or _is_file_like(value) or _is_dataframe(value)):
            parts.append((str(name), _file_part(str(name), value, strings_are_paths=False)))
        else:
            parts.append((str(name), (None, _text(value).encode("utf-8"), None)))
    for name, value in (files or {}).items():
        if name in (inputs or {}) and (inputs or {})[name] is not None:
            raise KestraConfigError(f"input {name!r} is given both in inputs= and files=; give it once")
        parts.append((str(name), _file_part(str(name), value, strings_are_paths=True)))
    return parts


def empty_multipart() -> tuple[bytes, str]:
    """An empty ``multipart/form-data`` body (for routes that require one)."""
    from urllib3 import encode_multipart_formdata
    return encode_multipart_formdata([])

