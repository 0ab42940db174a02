"""Kestra-typed ION rows: written as text Ion on 1.x (one value per line) and as concatenated
binary Ion streams, one per row, on 2.x (``FileSerde.write``), read back from either.

Typing follows Kestra's ``IonModule``: aware datetimes -> Ion timestamps at millisecond
precision, dates -> day-precision timestamps, naive datetimes / times / zoned values ->
strings annotated with the Java type (``LocalDateTime::"..."``), Decimal -> Ion decimal,
float -> Ion float, bytes -> blob (ion-and-tasks.md §1.1).
"""
from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any, Iterable, Iterator

ION_BINARY_MARKER = b"\xe0\x01\x00\xea"


def annotated(java_type: str, text: str) -> Any:
    """An Ion string carrying Kestra's Java type annotation."""
    from amazon.ion.core import IonType
    from amazon.ion.simple_types import IonPyText
    return IonPyText.from_value(IonType.STRING, text, (java_type,))


def _timestamp(value: dt.datetime) -> Any:
    from amazon.ion.core import Timestamp, TimestampPrecision
    value = value.astimezone(dt.timezone.utc)
    millis = value.microsecond // 1000
    return Timestamp(value.year, value.month, value.day, value.hour, value.minute, value.second, millis * 1000,
                     tzinfo=dt.timezone.utc, precision=TimestampPrecision.SECOND, fractional_precision=3)


def _day(value: dt.date) -> Any:
    from amazon.ion.core import Timestamp, TimestampPrecision
    return Timestamp(value.year, value.month, value.day, precision=TimestampPrecision.DAY)


def to_ion(value: Any) -> Any:
    """A Python value as Kestra would type it in an ION file."""
    if value is None or isinstance(value, (bool, int, float, str, bytes, decimal.Decimal)):
        return value   # annotated IonPyText strings pass through with their annotation
    if isinstance(value, dt.datetime):
        if getattr(value, "precision", None) is not None:  # already an Ion timestamp
            return value
        if value.tzinfo is None:
            return annotated("LocalDateTime", value.isoformat(timespec="milliseconds")
                             if value.microsecond else value.isoformat())
        return _timestamp(value)
    if isinstance(value, dt.date):
        return _day(value)
    if isinstance(value, dt.time):
        java = "OffsetTime" if value.tzinfo is not None else "LocalTime"
        return annotated(java, value.isoformat())
    if isinstance(value, dict):
        return {str(k): to_ion(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_ion(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return to_ion(value.item())
    return str(value)


def write_rows(rows: Iterable[Any], generation: int, single_stream: bool = False) -> bytes:
    """Rows as Kestra's ``FileSerde`` emits them for ``generation`` (1: text, one per line;
    2: binary). On 2.x ``FileSerde.write`` (row by row, e.g. JDBC ``STORE``) makes one binary
    stream per row; ``single_stream=True`` is ``FileSerde.writeAll`` (the serdes converters)."""
    from amazon.ion import simpleion
    if generation != 1 and single_stream:
        values = [to_ion(row) for row in rows if row is not None]
        return simpleion.dumps(values, binary=True, sequence_as_stream=True) if values else b""
    out = bytearray()
    for row in rows:
        if row is None:
            continue  # FileSerde skips null rows
        value = to_ion(row)
        if generation == 1:
            out += simpleion.dumps(value, binary=False, omit_version_marker=True).encode("utf-8") + b"\n"
        else:
            out += simpleion.dumps(value, binary=True)
    return bytes(out)


def read_rows(data: bytes) -> list[Any]:
    """Every top-level value of a text or binary (possibly concatenated) Ion file."""
    if not data or not data.strip():
        return []
    from amazon.ion import simpleion
    return list(simpleion.loads(data, single_value=False))


def to_python(value: Any) -> Any:
    """An Ion value as plain Python: timestamps -> datetime/date, typed nulls -> None,
    annotated strings -> str (the annotation is dropped), structs -> dict."""
    from amazon.ion.core import IonType
    ion_type = getattr(value, "ion_type", None)
    if value is None or ion_type is IonType.NULL or getattr(value, "is_null", False):
        return None
    if isinstance(value, Mapping):
        return {str(k): to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_python(v) for v in value]
    if isinstance(value, bool) or ion_type is IonType.BOOL:
        return bool(value)
    if isinstance(value, dt.datetime):
        precision = getattr(value, "precision", None)
        if precision is not None and getattr(precision, "name", "") in ("YEAR", "MONTH", "DAY"):
            return dt.date(value.year, value.month, value.day)
        return dt.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                           value.microsecond, tzinfo=value.tzinfo)
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(value)
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def annotation(value: Any) -> str | None:
    """The Java type annotation of an Ion value (``LocalDateTime``...), if any."""
    notes = getattr(value, "ion_annotations", ()) or ()
    return notes[0].text if notes else None


def iter_python_rows(data: bytes) -> Iterator[Any]:
    for value in read_rows(data):
        yield to_python(value)
