"""JSON reading with explicit limits, for every JSON a client sends the sandbox (request bodies,
JSON and ARRAY inputs): a one-line :class:`JsonError` instead of a ``RecursionError`` or an
unbounded value that breaks later.

Kestra reads JSON with Jackson, whose ``StreamReadConstraints`` defaults (jackson-core 2.15+,
``DEFAULT_MAX_DEPTH = 1000``, ``DEFAULT_MAX_NUM_LEN = 1000``) refuse documents nested deeper than
1,000 levels and numbers longer than 1,000 characters, and whose default
``JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS = false`` refuses ``NaN``/``Infinity``. The sandbox
keeps the number limit and the non-numeric refusal (Python's ``json`` accepts both, then writes
``NaN`` that no client can read back), refuses floats Python would turn into ``inf``, and caps
depth lower than Jackson: Python walks these values recursively after reading them (copies for the
engine, JSON output, expression rendering: ``copy.deepcopy`` fails from ~500 levels), so a value
over ``MAX_DEPTH`` is refused as it arrives instead of failing a run later.
"""
from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 200           # kestra-magic's own (Jackson: 1,000); see the module docstring
MAX_NUMBER_LENGTH = 1000  # Jackson StreamReadConstraints.DEFAULT_MAX_NUM_LEN


class JsonError(ValueError):
    """Unreadable or over-limit JSON; the message is one line naming the problem."""


class JsonLimitError(JsonError):
    """Readable JSON over one of the limits (depth, number length, ``NaN``/``Infinity``, range)."""


def _number_text(text: str) -> None:
    if len(text) > MAX_NUMBER_LENGTH:
        raise JsonLimitError(f"a number has {len(text)} characters, more than {MAX_NUMBER_LENGTH} (Kestra's limit, "
                        f"Jackson maxNumberLength): send it as a string")


def _int(text: str) -> int:
    _number_text(text)
    return int(text)


def _float(text: str) -> float:
    _number_text(text)
    value = float(text)
    if math.isinf(value):
        raise JsonLimitError(f"the number {text[:20]}{'...' if len(text) > 20 else ''} is out of range for a "
                        f"double: send it as a string")
    return value


def _constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not JSON (Kestra refuses non-numeric numbers): send null or a string")


def _depth_exceeded(value: Any) -> bool:
    """Whether ``value`` nests deeper than MAX_DEPTH (iterative: no recursion on hostile input)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def _too_deep() -> JsonLimitError:
    return JsonLimitError(f"the JSON nests deeper than {MAX_DEPTH} levels (the sandbox's limit): flatten it, "
                     f"e.g. send deep data as a FILE input or a string")


def loads(data: str | bytes) -> Any:
    """The JSON value of ``data`` (bytes: UTF-8/16/32 as ``json.loads`` detects), within the limits
    above; raises :class:`JsonError`."""
    try:
        if isinstance(data, (bytes, bytearray)):
            # strictly: json.loads would let UTF-8-encoded lone surrogates through ('surrogatepass'),
            # which Jackson refuses as invalid UTF-8 and which cannot be written back as UTF-8
            data = bytes(data).decode(json.detect_encoding(data))
        value = json.loads(data, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except JsonError:
        raise
    except RecursionError:
        raise _too_deep() from None
    except json.JSONDecodeError as exc:
        raise JsonError(f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except UnicodeDecodeError as exc:
        raise JsonError(f"the JSON is not valid {exc.encoding.upper()} text") from None
    except ValueError as exc:     # int() past Python's digit limit (its message names it)
        raise JsonLimitError(str(exc).split(";")[0]) from None
    if _depth_exceeded(value):
        raise _too_deep()
    return value
