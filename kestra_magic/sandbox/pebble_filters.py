"""Pebble filters with Kestra's names, argument names and results.

Each filter takes Kestra's argument names (io.kestra.core.runners.pebble.filters.*Filter
``getArgumentNames``), so the named form ``substringAfter(separator='.')`` works as the positional
one. Behaviour follows Kestra's filter sources and their tests under
core/src/test/java/io/kestra/core/runners/pebble/filters/ (cited in tests/conformance/test_pebble.py).
"""
from __future__ import annotations

import base64
import decimal
import hashlib
import json
import re
import unicodedata
import urllib.parse
from functools import lru_cache
from typing import Any, Callable

import jinja2

from kestra_magic.sandbox import pebble_dates as dates
from kestra_magic.sandbox.pebble_values import (JavaBigInteger, JavaFloat, JavaLong, java_class_name,
                                                java_double, to_json, to_text)


def _java_type(value: Any) -> str:
    return java_class_name(value) or "null"


def from_json(value: Any) -> Any:
    if value is None or isinstance(value, jinja2.Undefined):
        return None
    if not isinstance(value, (str, bytes)):
        return value
    from kestra_magic.sandbox import safe_json   # the same limits as request bodies (a webhook's body)
    try:
        return safe_json.loads(value)
    except safe_json.JsonError as exc:
        raise ValueError(f"invalid JSON '{str(value)[:60]}': {exc}") from None


# -- numbers ------------------------------------------------------------------------------

def _create_integer(text: str) -> int:
    value = int(text, 16) if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text) else int(text)
    if -2**31 <= value < 2**31:
        return value
    return JavaLong(value) if -2**63 <= value < 2**63 else JavaBigInteger(value)


def _create_number(text: str) -> Any:
    """commons-lang3 NumberUtils.createNumber, which Kestra's ``number`` filter uses by default."""
    body = text.strip()
    if not body:
        raise ValueError("\"\" is not a valid number.")
    if re.fullmatch(r"[-+]?(0[xX][0-9a-fA-F]+|\d+)", body):
        return _create_integer(body)
    if re.fullmatch(r"[-+]?\d+[lL]", body):
        return JavaLong(int(body[:-1]))
    if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?[fFdD]?", body):
        if body[-1] in "fF":
            return JavaFloat(float(body[:-1]))
        if body[-1] in "dD":
            return float(body[:-1])
        mantissa = re.split(r"[eE]", body)[0]
        decimals = len(mantissa.split(".", 1)[1]) if "." in mantissa else 0
        if decimals <= 7:
            return JavaFloat(float(body))
        if decimals <= 16:
            return float(body)
        return decimal.Decimal(body)
    raise ValueError(f"{body} is not a valid number.")


def number(value: Any, type: str | None = None) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, (int, float, decimal.Decimal)) and not type:
        return value
    text, kind = str(value).strip(), (type or "").upper()
    try:
        if kind == "INT":
            result = int(text)
            if not -2**31 <= result < 2**31:
                raise ValueError
            return result
        if kind == "LONG":
            return JavaLong(int(text.rstrip("lL")))
        if kind == "FLOAT":
            return JavaFloat(float(text.rstrip("fF")))
        if kind == "DOUBLE":
            return float(text.rstrip("dD"))
        if kind == "BIGDECIMAL":
            return decimal.Decimal(text)
        if kind == "BIGINTEGER":
            return JavaBigInteger(int(text))
        return _create_number(text)
    except (ValueError, decimal.InvalidOperation):
        raise ValueError(f"'{value}' is not a number") from None


def number_format(value: Any, format: str) -> str:
    """Java DecimalFormat for the usual patterns (``#.##``, ``0.00``, ``#,##0.0``)."""
    number_value = decimal.Decimal(str(value))
    integer, _, fraction = format.partition(".")
    min_frac, max_frac = fraction.count("0"), len(fraction.replace(",", ""))
    quantized = number_value.quantize(decimal.Decimal(1).scaleb(-max_frac), rounding=decimal.ROUND_HALF_EVEN)
    text = f"{quantized:{',' if ',' in integer else ''}.{max_frac}f}"
    if max_frac > min_frac and "." in text:
        head, tail = text.split(".")
        tail = tail.rstrip("0").ljust(min_frac, "0")
        text = head + ("." + tail if tail else "")
    min_int = integer.replace(",", "").count("0")
    if min_int == 0 and text.startswith("0.") :
        text = text[1:]
    return text


# -- strings ------------------------------------------------------------------------------

def _string_or_none(fn: Callable[..., Any]) -> Callable[..., Any]:
    def apply(value: Any, *args: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return fn(to_text(value), *args, **kwargs)
    apply.__name__ = fn.__name__
    return apply


@_string_or_none
def substring_before(text: str, separator: str) -> str:
    return text.split(separator, 1)[0] if separator else ""


@_string_or_none
def substring_after(text: str, separator: str) -> str:
    if not separator:
        return text
    return text.split(separator, 1)[1] if separator in text else ""


@_string_or_none
def substring_before_last(text: str, separator: str) -> str:
    if not separator:
        return text
    return text.rsplit(separator, 1)[0] if separator in text else text


@_string_or_none
def substring_after_last(text: str, separator: str) -> str:
    if not separator:
        return ""
    return text.rsplit(separator, 1)[1] if separator in text and not text.endswith(separator) else ""


def _java_replacement(replacement: str) -> str:
    """Java's replaceAll replacement (``$1``, ``\\$``) as Python's re.sub template."""
    out, i = [], 0
    while i < len(replacement):
        ch = replacement[i]
        if ch == "\\" and i + 1 < len(replacement):
            out.append(replacement[i + 1].replace("\\", "\\\\"))
            i += 2
        elif ch == "$" and i + 1 < len(replacement) and replacement[i + 1].isdigit():
            j = i + 1
            while j < len(replacement) and replacement[j].isdigit():
                j += 1
            out.append(f"\\g<{replacement[i + 1:j]}>")
            i = j
        elif ch == "$" and replacement[i + 1:i + 2] == "{":
            end = replacement.index("}", i)
            out.append(f"\\g<{replacement[i + 2:end]}>")
            i = end + 1
        else:
            out.append(ch.replace("\\", "\\\\"))
            i += 1
    return "".join(out)


def replace(value: Any, replace_pairs: Any = None, regexp: Any = False) -> Any:
    """Kestra's replace: ``replace({'old': 'new'}, regexp=false)`` on strings, lists and maps."""
    if value is None:
        return None
    if isinstance(replace_pairs, str) and isinstance(regexp, str):
        replace_pairs, regexp = {replace_pairs: regexp}, False   # the sandbox's old two-argument form
    if not isinstance(replace_pairs, dict):
        raise ValueError("The argument 'replace_pairs' is required.")

    def one(text: str) -> str:
        for old, new in replace_pairs.items():
            if regexp:
                text = re.sub(str(old), _java_replacement(to_text(new)), text)
            else:
                text = text.replace(str(old), to_text(new))
        return text

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return one(to_text(item))
    return walk(value)


def escape_char(value: Any, type: str | None = None) -> Any:
    if value is None:
        return None
    kind = (type or "").lower()
    pairs = {"single": ("'", "\\'"), "double": ('"', '\\"'), "shell": ("'", "'\\''")}
    if type is None:
        raise ValueError("The 'escapeChar' filter expects an argument 'type'.")
    if kind not in pairs:
        raise ValueError("The 'escapeChar' filter expects the value of 'type' to be either 'single', "
                         "'double', or 'shell'.")
    old, new = pairs[kind]

    def walk(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return to_text(item).replace(old, new)
    return walk(value)


def _line_separator(text: str) -> str:
    for sep in ("\r\n", "\n\r", "\n", "\r"):
        if sep in text:
            return sep
    return "\n"   # System.lineSeparator() on the Linux JVMs Kestra runs on


def _indent(value: Any, amount: Any, prefix: str, first_line: bool, name: str) -> Any:
    if value is None:
        return None
    text = to_text(value)
    if not text:
        return text
    if amount is None:
        raise ValueError(f"The '{name}' filter expects an integer as argument 'amount'.")
    if int(amount) < 0:
        raise ValueError(f"The '{name}' filter expects a positive integer >=0 as argument 'amount'.")
    sep = _line_separator(text)
    pad = prefix * int(amount)
    return ((sep + text) if first_line else text).replace(sep, sep + pad)


def indent(value: Any, amount: Any = None, prefix: str = " ") -> Any:
    return _indent(value, amount, prefix, False, "indent")


def nindent(value: Any, amount: Any = None, prefix: str = " ") -> Any:
    return _indent(value, amount, prefix, True, "nindent")


def slugify(value: Any) -> Any:
    """Slugify.of: accents dropped, lower case, runs of other characters as one ``-``."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKD", to_text(value)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def title(value: Any) -> Any:
    """Pebble's title: the first letter after whitespace upper-cased, the rest unchanged."""
    if value is None:
        return None
    out, upper_next = [], True
    for ch in to_text(value):
        if ch.isspace():
            upper_next = True
            out.append(ch)
        elif upper_next:
            out.append(ch.upper())
            upper_next = False
        else:
            out.append(ch)
    return "".join(out)


def abbreviate(value: Any, length: int) -> Any:
    if value is None:
        return None
    text = to_text(value)
    if len(text) <= length:
        return text
    return text[: max(length - 3, 0)] + "..." if length >= 3 else text[:length]


def urlencode(value: Any) -> str:
    """java.net.URLEncoder.encode(value, UTF-8): spaces as ``+``, ``*-._`` kept."""
    return urllib.parse.quote_plus(to_text(value), safe="*").replace("~", "%7E")


def urldecode(value: Any) -> Any:
    return None if value is None else urllib.parse.unquote_plus(to_text(value))


def _digest(name: str) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        return None if value is None else hashlib.new(name, to_text(value).encode()).hexdigest()
    return apply


def b64encode(value: Any) -> Any:
    if value is None:
        return None
    data = value if isinstance(value, bytes) else to_text(value).encode()
    return base64.b64encode(data).decode()


def b64decode(value: Any) -> Any:
    if value is None:
        return None
    try:
        return base64.b64decode(to_text(value), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError(f"'{to_text(value)[:40]}' is not valid base64") from None


def split(value: Any, delimiter: str = ",", limit: int | None = None) -> Any:
    if value is None:
        return None
    text = to_text(value)
    # Pebble's split is Java's String.split(regex); a single character is taken literally
    pattern = delimiter if len(delimiter) > 1 else re.escape(delimiter)
    parts = re.split(pattern, text, maxsplit=(limit - 1) if limit and limit > 0 else 0)
    if not limit:
        while parts and parts[-1] == "":
            parts.pop()
    return parts


def starts_with(value: Any, value_: Any = None, **kw: Any) -> bool:
    prefix = kw.get("value", value_)
    return value is not None and to_text(value).startswith(to_text(prefix))


def ends_with(value: Any, value_: Any = None, **kw: Any) -> bool:
    suffix = kw.get("value", value_)
    return value is not None and to_text(value).endswith(to_text(suffix))


def regex_match(value: Any, regex: str | None = None) -> bool:
    """regexMatch: whether ``regex`` is found anywhere in the value (Matcher.find)."""
    if value is None:
        return False
    return re.search(_java_regex(regex), to_text(value)) is not None


def regex_replace(value: Any, regex: str | None = None, replacement: str = "") -> Any:
    if value is None:
        return None
    return re.sub(_java_regex(regex), _java_replacement(to_text(replacement)), to_text(value))


def regex_extract(value: Any, regex: str | None = None, group: int = 0) -> Any:
    if value is None:
        return None
    m = re.search(_java_regex(regex), to_text(value))
    return m.group(int(group)) if m else None


def _java_regex(regex: Any) -> str:
    if regex is None:
        raise ValueError("The filter expects an argument 'regex'.")
    return str(regex)


# -- collections ----------------------------------------------------------------------------

def chunk(value: Any, size: Any = None) -> Any:
    if value is None:
        return None
    if size is None:
        raise ValueError("'chunk' filter expects an argument 'size'.")
    if not isinstance(value, list):
        raise ValueError(f"'chunk' filter can only be applied to List. Actual type was: {_java_type(value)}")
    size = int(size)
    return [value[i:i + size] for i in range(0, len(value), size)]


def flatten(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("The 'flatten' filter can only be applied to lists.")
    out: list = []
    for item in value:
        out.extend(item if isinstance(item, list) else [item])
    return out


def keys(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return list(value.keys())
    if isinstance(value, (list, tuple)):
        return list(range(len(value)))
    raise ValueError(f"'keys' filter can only be applied to List, Map, Array. Actual type was: {_java_type(value)}")


def values(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return list(value.values())
    raise ValueError(f"'values' filter can only be applied to Map. Actual type was: {_java_type(value)}")


def length(value: Any) -> int:
    if value is None or isinstance(value, jinja2.Undefined):
        return 0
    if isinstance(value, (int, float)):
        return len(to_text(value))
    return len(value)


def join(value: Any, separator: str = "") -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return separator.join(to_text(v) for v in value)


def first(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[:1]
    return next(iter(value), None)


def last(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[-1:]
    items = list(value)
    return items[-1] if items else None


def slice_(value: Any, fromIndex: int = 0, toIndex: int | None = None) -> Any:
    return None if value is None else value[fromIndex:toIndex]


def distinct(value: Any) -> Any:
    if value is None:
        return "null"   # DistinctFilterTest#toDistinctFilter: `null | distinct` prints "null"
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"'distinct' filter can only be applied to List. Actual type was: {_java_type(value)}")
    seen: list = []
    for item in value:
        if item not in seen:
            seen.append(item)
    return seen


def reverse(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value[::-1]
    return list(reversed(list(value)))


def merge(value: Any, items: Any) -> Any:
    if isinstance(value, dict):
        return {**value, **items}
    return list(value) + (list(items) if isinstance(items, (list, tuple)) else [items])


def default(value: Any, default: Any = "", boolean: bool = False) -> Any:
    """Pebble's default: applies to missing, null and empty values."""
    if isinstance(value, jinja2.Undefined) or value is None:
        return default
    if isinstance(value, (str, list, dict, tuple)) and len(value) == 0:
        return default
    return value


def class_name(value: Any) -> Any:
    return java_class_name(value)


# -- structured data --------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _jq_program(expression: str):
    import jq   # the libjq binding (PyPI "jq"): the real jq, not a re-implementation
    return jq.compile(expression)


def jq_filter(value: Any, expression: str | None = None) -> Any:
    """Kestra's ``jq``: every result of ``expression`` on the value (a JSON string is parsed first)."""
    if value is None:
        return None
    if expression is None:
        raise ValueError("The 'jq' filter expects an argument 'expression'.")
    try:
        text = value if isinstance(value, str) else to_json(value)
        return _jq_program(expression).input_text(text).all()
    except Exception as exc:
        raise ValueError(f"Unable to parse jq value '{to_text(value)[:200]}' with type '{_java_type(value)}': "
                         f"{str(exc).strip()}") from None


# Jackson YAML's StringQuotingChecker: reserved words and strings with characters YAML would misread
_YAML_RESERVED = {"true", "false", "yes", "no", "y", "n", "on", "off", "null", "~"}


def _yaml_needs_quotes(value: str) -> bool:
    if value.lower() in _YAML_RESERVED or value != value.strip():
        return True
    if value[0] in "-?:,[]{}#&*!|>'\"%@`" or value.endswith(":"):
        return True
    return ": " in value or " #" in value or any(ch in value for ch in "\t\r")


def _yaml_scalar(value: Any, indent: int = 0) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if not isinstance(value, str):
        return _yaml_scalar(to_text(value), indent)
    if value == "":
        return '""'
    if "\n" in value:   # MINIMIZE_QUOTES writes multi-line strings as literal blocks
        pad = " " * (indent + 2)
        body = value[:-1] if value.endswith("\n") else value
        return ("|" if value.endswith("\n") else "|-") + "".join(f"\n{pad}{line}" if line else "\n"
                                                               for line in body.split("\n"))
    return json.dumps(value, ensure_ascii=False) if _yaml_needs_quotes(value) else value


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return [pad + "{}"]
        lines = []
        for key, item in value.items():
            label = f"{pad}{_yaml_scalar(str(key))}:"
            if isinstance(item, dict) and item:
                lines += [label, *_yaml_lines(item, indent + 2)]
            elif isinstance(item, list) and item:
                lines += [label, *_yaml_lines(item, indent)]
            else:
                lines.append(f"{label} {_yaml_scalar(item, indent) if not isinstance(item, (dict, list)) else _yaml_lines(item, 0)[0]}")
        return lines
    if isinstance(value, list):
        if not value:
            return [pad + "[]"]
        lines = []
        for item in value:    # Jackson's INDENT_ARRAYS: "- " indented by one more space
            inner = _yaml_lines(item, indent + 3)
            lines.append(f"{pad} - {inner[0].lstrip()}")
            lines += inner[1:]
        return lines
    return [pad + _yaml_scalar(value, indent)]


def to_yaml(value: Any) -> str:
    """Kestra's ``yaml`` filter (Jackson YAML, MINIMIZE_QUOTES and INDENT_ARRAYS, no ``---``)."""
    if value is None:
        return "null"
    value = json.loads(to_json(value))   # dates as Jackson writes them (ISO with seconds)
    return "\n".join(_yaml_lines(value, 0)) + "\n"


def to_ion(value: Any) -> str:
    """Kestra's ``toIon``: the value as Ion text (Jackson's Ion writer: field names as symbols,
    floats as ``1.5e0``, dates annotated with their Java type)."""
    import datetime as _dt
    if value is None or isinstance(value, jinja2.Undefined):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        mantissa, _, exponent = text.partition("e")
        return f"{mantissa}e{int(exponent) if exponent else 0}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k if re.fullmatch(r'[A-Za-z_$][A-Za-z0-9_$]*', str(k)) else json.dumps(str(k))}:"
                              f"{to_ion(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(to_ion(v) for v in value) + "]"
    if isinstance(value, (_dt.datetime, _dt.date)):
        kind = (java_class_name(value) or "").rsplit(".", 1)[-1]
        return f"{kind}::{json.dumps(to_text(value))}"
    return json.dumps(to_text(value), ensure_ascii=False)


FILTERS: dict[str, Callable] = {
    "upper": lambda v: None if v is None else to_text(v).upper(),
    "lower": lambda v: None if v is None else to_text(v).lower(),
    "trim": lambda v: None if v is None else to_text(v).strip(),
    "capitalize": lambda v: None if v is None else to_text(v)[:1].upper() + to_text(v)[1:],
    "title": title, "abbreviate": abbreviate, "abs": abs,
    "default": default, "d": default,
    "toJson": to_json, "fromJson": from_json, "toIon": to_ion, "yaml": to_yaml, "jq": jq_filter,
    "date": dates.date_filter, "dateAdd": dates.date_add, "timestamp": dates.timestamp,
    "timestampMilli": dates.timestamp_milli, "timestampMicro": dates.timestamp_micro,
    "timestampNano": dates.timestamp_nano,
    "number": number, "numberFormat": number_format, "numberformat": number_format, "className": class_name,
    "length": length, "join": join, "split": split, "replace": replace, "escapeChar": escape_char,
    "base64encode": b64encode, "base64decode": b64decode, "keys": keys, "values": values,
    "first": first, "last": last, "slice": slice_, "slugify": slugify,
    "startsWith": starts_with, "endsWith": ends_with,
    "substringBefore": substring_before, "substringAfter": substring_after,
    "substringBeforeLast": substring_before_last, "substringAfterLast": substring_after_last,
    "sha1": _digest("sha1"), "sha256": _digest("sha256"), "sha512": _digest("sha512"), "md5": _digest("md5"),
    "urlencode": urlencode, "urldecode": urldecode,
    "indent": indent, "nindent": nindent, "chunk": chunk, "flatten": flatten,
    "distinct": distinct, "sort": lambda v: None if v is None else sorted(v),
    "rsort": lambda v: None if v is None else sorted(v, reverse=True),
    "reverse": reverse, "merge": merge,
    "regexMatch": regex_match, "regexReplace": regex_replace, "regexExtract": regex_extract, "string": lambda v: None if v is None else to_text(v),
}
FILTERS_1X_ONLY: dict[str, Callable] = {"json": to_json}   # removed in Kestra 2.0 (use toJson)
