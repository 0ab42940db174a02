"""Pebble expressions as Kestra renders them, on a sandboxed Jinja2 environment.

Kestra renders task properties with Pebble; the subset people write daily
(``{{ inputs.x }}``, filters, ``{% if %}``/``{% for %}``, ``~`` concatenation) is
also valid Jinja2, so we reuse Jinja2's sandboxed engine instead of writing a
Pebble parser, and add Kestra's filters, functions and output rules on top:
maps and lists print as JSON (Kestra's ``JsonWriter``), ``null`` prints as an
empty string, booleans as ``true``/``false``. Anything that cannot be rendered
raises :class:`ExpressionError` naming the expression, never an empty string.
"""
from __future__ import annotations

import base64
import datetime as _dt
import decimal
import hashlib
import json
import os
import re
import urllib.parse
from typing import Any, Callable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["ExpressionError", "render", "render_value", "has_expression", "to_text"]


class ExpressionError(Exception):
    """An expression could not be rendered; the message names the expression."""


class _KestraUndefined(jinja2.ChainableUndefined, jinja2.StrictUndefined):
    """Strict like Kestra (using a missing value fails) but chainable, so that
    ``inputs.a.b | default('x')`` and ``x is defined`` still work as in Pebble."""


_EXPR = re.compile(r"\{\{|\{%")


def has_expression(text: Any) -> bool:
    """True if ``text`` is a string holding a Pebble expression or tag."""
    return isinstance(text, str) and bool(_EXPR.search(text))


# ---------------------------------------------------------------------------------------
# How values print (Kestra's JsonWriter rules)

def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return _iso(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, jinja2.Undefined):
        return None
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _to_json(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _iso(value: Any) -> str:
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None and value.utcoffset() == _dt.timedelta(0):
            return value.astimezone(_dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return value.isoformat()
    return value.isoformat()


def to_text(value: Any) -> str:
    """How Kestra prints a value inside ``{{ }}``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list, tuple)):
        return _to_json(value)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return _iso(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)  # 1.0 like Java's Double.toString
    return str(value)


def _finalize(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return value  # str() on it raises the undefined error
    return to_text(value)


# ---------------------------------------------------------------------------------------
# Dates: Java DateTimeFormatter patterns -> strftime

_JAVA_TOKENS = [
    ("yyyy", "%Y"), ("uuuu", "%Y"), ("yy", "%y"), ("MMMM", "%B"), ("MMM", "%b"), ("MM", "%m"),
    ("dd", "%d"), ("HH", "%H"), ("hh", "%I"), ("mm", "%M"), ("ss", "%S"), ("SSSSSS", "%f"),
    ("SSS", "%~3f"), ("EEEE", "%A"), ("EEE", "%a"), ("a", "%p"), ("XXX", "%~XXX"), ("xxx", "%~XXX"),
    ("Z", "%z"), ("z", "%Z"), ("D", "%j"), ("M", "%~M"), ("d", "%~d"), ("H", "%~H"), ("y", "%Y"),
]
_NAMED_FORMATS = {
    "iso": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "iso8601": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "iso_sec": "yyyy-MM-dd'T'HH:mm:ssXXX", "iso_milli": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
    "sql": "yyyy-MM-dd HH:mm:ss.SSS", "sql_seconds": "yyyy-MM-dd HH:mm:ss",
    "iso_date": "yyyy-MM-dd", "iso_date_time": "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
}


def _format_java(value: _dt.datetime, pattern: str) -> str:
    """Format like Java's DateTimeFormatter (``[...]`` optional sections print only when the
    value has the fields they need: an offset for X/x/Z/z)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "[":
            end = pattern.find("]", i + 1)
            end = len(pattern) if end < 0 else end
            inner = pattern[i + 1:end]
            if value.tzinfo is not None or not re.search(r"[XxZz]", inner):
                out.append(_format_java(value, inner))
            i = end + 1
            continue
        if ch == "'":
            end = pattern.find("'", i + 1)
            end = len(pattern) if end < 0 else end
            out.append(pattern[i + 1:end] if end > i + 1 else "'")
            i = end + 1
            continue
        for token, code in _JAVA_TOKENS:
            if pattern.startswith(token, i):
                out.append(_strf(value, code))
                i += len(token)
                break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _strf(value: _dt.datetime, code: str) -> str:
    if code == "%~3f":
        return f"{value.microsecond // 1000:03d}"
    if code == "%~XXX":
        off = value.utcoffset()
        if off is None or off == _dt.timedelta(0):
            return "Z"
        s = value.strftime("%z")
        return f"{s[:3]}:{s[3:]}"
    if code == "%~M":
        return str(value.month)
    if code == "%~d":
        return str(value.day)
    if code == "%~H":
        return str(value.hour)
    return value.strftime(code)


def _to_datetime(value: Any, tz: str | None = None) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        result = value
    elif isinstance(value, _dt.date):
        result = _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.timezone.utc)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value  # epoch millis or seconds
        result = _dt.datetime.fromtimestamp(seconds, _dt.timezone.utc)
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        text = re.sub(r"\[.*\]$", "", text)  # ZonedDateTime's [Region] suffix
        try:
            result = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError(f"'{value}' is not a date (expected an ISO-8601 date or date-time)") from None
    else:
        raise ValueError(f"{type(value).__name__} value '{value}' is not a date")
    if tz:
        from zoneinfo import ZoneInfo
        zone = _dt.timezone.utc if tz.upper() == "UTC" else ZoneInfo(tz)
        result = (result if result.tzinfo else result.replace(tzinfo=_dt.timezone.utc)).astimezone(zone)
    return result


def _date(value: Any, format: str = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX", existingFormat: str | None = None,
          timeZone: str | None = None, locale: str | None = None) -> str:
    if existingFormat and isinstance(value, str):
        value = _dt.datetime.strptime(value, _format_to_strptime(existingFormat))
    moment = _to_datetime(value, timeZone)
    return _format_java(moment, _NAMED_FORMATS.get(format, format))


def _format_to_strptime(pattern: str) -> str:
    pattern = _NAMED_FORMATS.get(pattern, pattern)
    out, i = [], 0
    while i < len(pattern):
        for token, code in _JAVA_TOKENS:
            if pattern.startswith(token, i):
                out.append({"%~3f": "%f", "%~XXX": "%z", "%~M": "%m", "%~d": "%d", "%~H": "%H"}.get(code, code))
                i += len(token)
                break
        else:
            out.append(pattern[i] if pattern[i] != "'" else "")
            i += 1
    return "".join(out)


_UNITS = {"NANOS": "microseconds", "MICROS": "microseconds", "MILLIS": "milliseconds", "SECONDS": "seconds",
          "MINUTES": "minutes", "HOURS": "hours", "DAYS": "days", "WEEKS": "weeks"}


def _date_add(value: Any, amount: int, unit: str = "DAYS", **kw: Any) -> str:
    moment = _to_datetime(value, kw.get("timeZone"))
    unit = unit.upper()
    if unit in ("MONTHS", "YEARS"):
        months = amount * (12 if unit == "YEARS" else 1) + moment.month - 1
        year, month = moment.year + months // 12, months % 12 + 1
        import calendar
        day = min(moment.day, calendar.monthrange(year, month)[1])
        moment = moment.replace(year=year, month=month, day=day)
    elif unit in _UNITS:
        moment = moment + _dt.timedelta(**{_UNITS[unit]: amount})
    else:
        raise ValueError(f"unknown unit '{unit}' (use DAYS, HOURS, MINUTES, SECONDS, WEEKS, MONTHS or YEARS)")
    return _iso(moment)


def _timestamp(value: Any, **kw: Any) -> int:
    return int(_to_datetime(value, kw.get("timeZone")).timestamp())


# ---------------------------------------------------------------------------------------
# Filters and functions (Kestra's names; Pebble's argument conventions)

def _from_json(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, (str, bytes)):
        return value
    try:
        return json.loads(value)
    except ValueError as exc:
        raise ValueError(f"invalid JSON '{str(value)[:60]}': {exc}") from None


def _number(value: Any, type_: str | None = None) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, (int, float, decimal.Decimal)) and type_ is None:
        return value
    text = str(value).strip()
    kind = (type_ or "").upper()
    try:
        if kind in ("INT", "INTEGER", "LONG"):
            return int(float(text)) if re.fullmatch(r"[-+]?\d+\.0*", text) else int(text)
        if kind in ("FLOAT", "DOUBLE"):
            return float(text)
        if kind == "BIGDECIMAL":
            return decimal.Decimal(text)
        if re.fullmatch(r"[-+]?\d+", text):
            return int(text)
        return float(text)
    except (ValueError, decimal.InvalidOperation):
        raise ValueError(f"'{value}' is not a number") from None


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Pebble's default: applies to missing, null and empty values."""
    if isinstance(value, jinja2.Undefined) or value is None:
        return default_value
    if isinstance(value, (str, list, dict, tuple)) and len(value) == 0:
        return default_value
    return value


def _replace(value: Any, old: Any, new: Any = None, regexp: bool = False) -> str:
    text = to_text(value)
    if isinstance(old, dict):  # Pebble: replace({'a': 'b', ...})
        for key, repl in old.items():
            text = text.replace(str(key), to_text(repl))
        return text
    if new is None:
        raise ValueError("replace needs a map ({'old': 'new'}) or two arguments ('old', 'new')")
    if regexp:
        return re.sub(old, to_text(new), text)
    return text.replace(str(old), to_text(new))


def _split(value: Any, delimiter: str = ",", limit: int | None = None) -> list[str]:
    text = to_text(value)
    # Pebble's split takes a regex, like Java's String.split
    parts = re.split(delimiter if len(delimiter) > 1 else re.escape(delimiter), text,
                     maxsplit=(limit - 1) if limit and limit > 0 else 0)
    if not limit:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def _slice(value: Any, start: int = 0, end: int | None = None) -> Any:
    return value[start:end]


def _join(value: Any, separator: str = "") -> str:
    if isinstance(value, str):
        return value
    return separator.join(to_text(v) for v in value)


def _length(value: Any) -> int:
    if value is None:
        return 0
    return len(value)


def _b64encode(value: Any) -> str:
    data = value if isinstance(value, bytes) else to_text(value).encode()
    return base64.b64encode(data).decode()


def _b64decode(value: Any) -> str:
    try:
        return base64.b64decode(to_text(value), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"'{to_text(value)[:40]}' is not valid base64") from None


def _keys(value: dict) -> list:
    return list(value.keys())


def _values(value: dict) -> list:
    return list(value.values())


def _first(value: Any) -> Any:
    if isinstance(value, str):
        return value[:1]
    return next(iter(value), None)


def _last(value: Any) -> Any:
    if isinstance(value, str):
        return value[-1:]
    items = list(value)
    return items[-1] if items else None


def _slugify(value: Any) -> str:
    text = to_text(value).lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def _yaml(value: Any) -> str:
    import yaml
    return yaml.safe_dump(json.loads(_to_json(value)), sort_keys=False)


def _abbreviate(value: Any, length: int) -> str:
    text = to_text(value)
    return text if len(text) <= length else text[: max(length - 3, 0)] + "..."


def _number_format(value: Any, pattern: str) -> str:
    decimals = len(pattern.split(".", 1)[1]) if "." in pattern else 0
    grouping = "," if "," in pattern else ""
    return format(float(value), f"{grouping}.{decimals}f")


def _now(**kw: Any) -> _dt.datetime:
    moment = _dt.datetime.now(_dt.timezone.utc)
    tz = kw.get("timeZone")
    return _to_datetime(moment, tz) if tz else moment


def _secret(name: str) -> str:
    """Kestra OSS reads secrets from SECRET_<NAME> environment variables (base64)."""
    raw = os.environ.get(f"SECRET_{name}")
    if raw is None:
        raise ValueError(f"Cannot find secret for key '{name}' (set the environment variable SECRET_{name} "
                         "to the base64-encoded value before starting the sandbox)")
    try:
        return base64.b64decode(raw).decode()
    except (ValueError, UnicodeDecodeError):
        return raw


def _range(start: int, end: int, step: int = 1) -> list[int]:
    """Pebble's range is inclusive of ``end``."""
    return list(range(start, end + (1 if step > 0 else -1), step))


def _distinct(value: Any) -> list:
    seen: list = []
    for item in value:
        if item not in seen:
            seen.append(item)
    return seen


def _sort(value: Any) -> list:
    return sorted(value)


def _reverse(value: Any) -> Any:
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(list(value)))


def _merge(value: Any, other: Any) -> Any:
    if isinstance(value, dict):
        return {**value, **other}
    return list(value) + list(other)


class _PebbleEnvironment(ImmutableSandboxedEnvironment):
    """Pebble reads a map's key before any attribute: ``outputs.t.values.k`` is the key "values"
    (OutputValues), not ``dict.values``; the same for ``keys``, ``items``, ``get``, ..."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _make_environment(generation: int) -> ImmutableSandboxedEnvironment:
    env = _PebbleEnvironment(undefined=_KestraUndefined, finalize=_finalize, autoescape=False,
                                        keep_trailing_newline=True)
    filters: dict[str, Callable] = {
        "upper": lambda v: to_text(v).upper(), "lower": lambda v: to_text(v).lower(),
        "trim": lambda v: to_text(v).strip(), "default": _default, "d": _default,
        "toJson": _to_json, "fromJson": _from_json, "date": _date, "number": _number,
        "length": _length, "join": _join, "split": _split, "replace": _replace,
        "base64encode": _b64encode, "base64decode": _b64decode, "keys": _keys, "values": _values,
        "first": _first, "last": _last, "slice": _slice, "slugify": _slugify, "yaml": _yaml,
        "capitalize": lambda v: to_text(v)[:1].upper() + to_text(v)[1:],
        "title": lambda v: to_text(v).title(), "abs": abs, "abbreviate": _abbreviate,
        "numberFormat": _number_format, "dateAdd": _date_add, "timestamp": _timestamp,
        "startsWith": lambda v, p: to_text(v).startswith(p), "endsWith": lambda v, p: to_text(v).endswith(p),
        "substringBefore": lambda v, s: to_text(v).split(s, 1)[0],
        "substringAfter": lambda v, s: to_text(v).split(s, 1)[1] if s in to_text(v) else "",
        "substringBeforeLast": lambda v, s: to_text(v).rsplit(s, 1)[0],
        "substringAfterLast": lambda v, s: to_text(v).rsplit(s, 1)[1] if s in to_text(v) else "",
        "sha256": lambda v: hashlib.sha256(to_text(v).encode()).hexdigest(),
        "md5": lambda v: hashlib.md5(to_text(v).encode()).hexdigest(),
        "sha1": lambda v: hashlib.sha1(to_text(v).encode()).hexdigest(),
        "urlencode": lambda v: urllib.parse.quote(to_text(v), safe=""),
        "urldecode": lambda v: urllib.parse.unquote(to_text(v)),
        "distinct": _distinct, "sort": _sort, "reverse": _reverse, "merge": _merge,
        "string": to_text, "escapeChar": lambda v, *a: to_text(v).replace("'", "\\'"),
    }
    if generation < 2:
        filters["json"] = _to_json   # removed in Kestra 2.0 (use toJson)
    filters["__coalesce"] = _coalesce
    filters["__undefined_coalesce"] = _undefined_coalesce
    env.filters.update(filters)
    env.tests.update({
        "null": lambda v: v is None, "empty": lambda v: v is None or (hasattr(v, "__len__") and len(v) == 0),
        "map": lambda v: isinstance(v, dict), "iterable": lambda v: isinstance(v, (list, tuple, dict, str)),
        "json": _is_json,
    })
    env.globals.update({
        "now": _now, "fromJson": _from_json, "secret": _secret, "range": _range,
        "null": None, "max": max, "min": min,
    })
    if generation < 2:
        env.globals["json"] = _from_json  # the old json() function, removed in 2.0
    return env


def _is_json(value: Any) -> bool:
    try:
        json.loads(value)
        return True
    except (TypeError, ValueError):
        return False


_ENVIRONMENTS: dict[int, ImmutableSandboxedEnvironment] = {}
_TEMPLATE_CACHE: dict[tuple[int, str], jinja2.Template] = {}


def _environment(generation: int) -> ImmutableSandboxedEnvironment:
    env = _ENVIRONMENTS.get(generation)
    if env is None:
        env = _ENVIRONMENTS[generation] = _make_environment(generation)
    return env


# Pebble spellings Jinja2 does not know, rewritten outside string literals.
_STRING_OR_WORD = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")|(\bequals\b)|(\|\|)|(&&)""")


def _pebble_to_jinja(template: str) -> str:
    if "?" in template or "elseif" in template:
        template = _rewrite_operators(template)
    if "equals" not in template and "||" not in template and "&&" not in template:
        return template

    def fix(m: re.Match) -> str:
        if m.group(1):
            return m.group(1)
        if m.group(2):
            return "=="
        return " or " if m.group(3) else " and "

    # only inside {{ }} and {% %}
    return re.sub(r"(\{\{.*?\}\}|\{%.*?%\})", lambda m: _STRING_OR_WORD.sub(fix, m.group(0)), template,
                  flags=re.S)


# Pebble operators Jinja2 lacks: `a ?? b` (null-coalescing), `a ??? b` (undefined-coalescing),
# `cond ? a : b` (ternary) and `{% elseif %}`. Rewritten with a small scanner that respects
# strings and brackets, because a regex cannot see nesting.

def _scan(expr: str):
    """Yield (index, char) of characters outside string literals and brackets."""
    depth, quote, i = 0, None, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            yield i, ch
        i += 1


def _rewrite_expr(expr: str) -> str:
    top = dict(_scan(expr))
    for op, name in (("???", "__undefined_coalesce"), ("??", "__coalesce")):
        cuts, i = [], 0
        while i < len(expr):
            if all(top.get(i + k) == "?" for k in range(len(op))) and top.get(i + len(op)) != "?" \
                    and top.get(i - 1) != "?":
                cuts.append(i)
                i += len(op)
            else:
                i += 1
        if cuts:
            pieces, start = [], 0
            for cut in cuts:
                pieces.append(expr[start:cut])
                start = cut + len(op)
            pieces.append(expr[start:])
            out = f"({_rewrite_expr(pieces[0])})"
            for piece in pieces[1:]:
                out += f" | {name}(({_rewrite_expr(piece)}))"
            return out
    question = next((i for i, ch in top.items() if ch == "?"), None)
    if question is not None:
        pending = 0
        for i, ch in top.items():
            if i <= question:
                continue
            if ch == "?":
                pending += 1
            elif ch == ":":
                if pending == 0:
                    cond, yes, no = expr[:question], expr[question + 1:i], expr[i + 1:]
                    return (f"(({_rewrite_expr(yes)}) if ({_rewrite_expr(cond)}) "
                            f"else ({_rewrite_expr(no)}))")
                pending -= 1
    return expr


def _rewrite_operators(template: str) -> str:
    def expression(m: re.Match) -> str:
        return "{{" + _rewrite_expr(m.group(1)) + "}}"

    def tag(m: re.Match) -> str:
        name, rest = m.group(1), m.group(2)
        name = "elif" if name == "elseif" else name
        return "{%" + m.group(0)[2:m.start(1) - m.start(0)] + name + " " + _rewrite_expr(rest) + "%}"
    template = re.sub(r"\{\{(.*?)\}\}", expression, template, flags=re.S)
    return re.sub(r"\{%-?\s*(if|elseif|elif)\s(.*?)%\}", tag, template, flags=re.S)


def _coalesce(value: Any, other: Any) -> Any:
    return other if value is None or isinstance(value, jinja2.Undefined) else value


def _undefined_coalesce(value: Any, other: Any) -> Any:
    return other if isinstance(value, jinja2.Undefined) else value


def _describe(exc: BaseException) -> str:
    if isinstance(exc, jinja2.UndefinedError):
        m = re.search(r"'([^']+)' is undefined", str(exc))
        if m:
            return f"Unable to find `{m.group(1)}`"
        m = re.search(r"has no attribute '([^']+)'", str(exc))
        if m:
            return f"Unable to find `{m.group(1)}`"
        return str(exc)
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Syntax error ({exc.message}) at line {exc.lineno}"
    text = str(exc) or type(exc).__name__
    return text


def render(template: str, context: dict, *, generation: int = 2,
           read: Callable[[str], str] | None = None) -> str:
    """Render one Pebble template string with ``context`` (inputs, outputs, vars, ...).

    ``read`` implements Kestra's ``read(uri)`` function (internal storage); ``generation``
    picks the 1.x or 2.x set of filters (``json`` was removed in 2.0).
    """
    if not isinstance(template, str) or not has_expression(template):
        return template
    env = _environment(generation)
    key = (generation, template)
    try:
        compiled = _TEMPLATE_CACHE.get(key)
        if compiled is None:
            compiled = env.from_string(_pebble_to_jinja(template))
            if len(_TEMPLATE_CACHE) < 4096:
                _TEMPLATE_CACHE[key] = compiled
        variables = dict(context)
        if read is not None:
            variables["read"] = lambda uri: read(to_text(uri))
        return compiled.render(variables)
    except ExpressionError:
        raise
    except Exception as exc:  # anything a template can throw becomes one clear message
        raise ExpressionError(f"{_describe(exc)} used in the expression `{template.strip()}`") from None


def render_value(value: Any, context: dict, **kw: Any) -> Any:
    """Render every string inside ``value`` (recursively through lists and dicts, keys too)."""
    if isinstance(value, str):
        return render(value, context, **kw)
    if isinstance(value, list):
        return [render_value(v, context, **kw) for v in value]
    if isinstance(value, dict):
        return {render(k, context, **kw) if isinstance(k, str) else k: render_value(v, context, **kw)
                for k, v in value.items()}
    return value


format_java = _format_java   # used by the serdes tasks
