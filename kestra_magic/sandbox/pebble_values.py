"""How Pebble values print and are typed in Kestra (JsonWriter output, Java class names).

Kestra prints maps and lists as compact JSON, ``null`` as an empty string, booleans as
``true``/``false`` and dates with Java's ``toString``. Kestra's ``number`` filter and ``className``
filter expose Java number types (Integer, Long, Float, Double, BigDecimal, BigInteger); Python has one
int and one float type, so the few values that must remember their Java type carry it in a subclass.
"""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
from typing import Any

import jinja2

from kestra_magic.sandbox.pebble_dates import java_string


class JavaFloat(float):
    """A float Kestra holds as java.lang.Float (e.g. ``'12.3' | number``)."""


class JavaBigInteger(int):
    """An integer Kestra holds as java.math.BigInteger (``number('BIGINTEGER')``)."""


class JavaLong(int):
    """An integer Kestra holds as java.lang.Long although it fits an Integer (``number('LONG')``)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z") if value.tzinfo else value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, tuple, frozenset)):
        return list(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, jinja2.Undefined):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(value: Any) -> str:
    """Compact JSON like Kestra's ``toJson`` (``null`` for None)."""
    if isinstance(value, jinja2.Undefined):
        value = None
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def to_text(value: Any) -> str:
    """How Kestra prints a value inside ``{{ }}``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return to_json(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return java_string(value)
    if isinstance(value, float):
        return java_double(value)
    return str(value)


def java_double(value: float) -> str:
    """Java's Double.toString: ``1.0``, ``0.001``, ``1.0E7``, ``1.5E-4``, ``NaN``, ``Infinity``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if ("." in text or "e" in text) else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(value)).normalize().as_tuple()
    text = "".join(map(str, digits))
    return f"{'-' if sign else ''}{text[0]}.{text[1:] or '0'}E{len(text) - 1 + exponent}"


def java_class_name(value: Any) -> str | None:
    """The Java class Kestra would hold ``value`` as (``className`` filter)."""
    if value is None or isinstance(value, jinja2.Undefined):
        return None
    if isinstance(value, bool):
        return "java.lang.Boolean"
    if isinstance(value, JavaBigInteger):
        return "java.math.BigInteger"
    if isinstance(value, JavaLong):
        return "java.lang.Long"
    if isinstance(value, int):
        return "java.lang.Integer" if -2**31 <= value < 2**31 else (
            "java.lang.Long" if -2**63 <= value < 2**63 else "java.math.BigInteger")
    if isinstance(value, JavaFloat):
        return "java.lang.Float"
    if isinstance(value, float):
        return "java.lang.Double"
    if isinstance(value, decimal.Decimal):
        return "java.math.BigDecimal"
    if isinstance(value, str):
        return "java.lang.String"
    if isinstance(value, dict):
        return "java.util.LinkedHashMap"
    if isinstance(value, (list, tuple)):
        return "java.util.ArrayList"
    if isinstance(value, _dt.datetime):
        return "java.time.ZonedDateTime" if value.tzinfo else "java.time.LocalDateTime"
    if isinstance(value, _dt.date):
        return "java.time.LocalDate"
    return type(value).__name__
