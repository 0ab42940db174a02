"""Turn one column of parsed ION values into a typed pandas Series, applying Kestra's typing rules.

Values arrive either from amazon.ion's bare value model (``Timestamp``, ``IonPyText`` with
annotations, ``IonPyNull``, ``Decimal``, ``bytes``) or from the text fast path
(`kestra_magic.frames.ion_text`: marked strings). Both land on the same pandas types:

- time-precision timestamps -> ``datetime64[us, UTC]``; day (or month/year) precision -> naive
  ``datetime64[us]`` dates
- ``LocalDateTime::`` -> naive ``datetime64[us]``; ``ZonedDateTime::`` -> tz-aware (in the region when
  the column has exactly one ``[Region]``, else UTC); ``OffsetDateTime::``/``Instant::`` -> UTC;
  ``LocalDate::`` -> dates; ``LocalTime::``/``OffsetTime::`` -> ``datetime.time`` objects
- decimals -> float64 (``Decimal`` objects with ``keep_decimal=True``); ints with nulls -> ``Int64``;
  bools with nulls -> ``boolean``; typed nulls -> missing; blobs/clobs -> ``bytes``; symbols -> str
"""
from __future__ import annotations

import base64
import datetime as dt
import re
from decimal import Decimal
from operator import attrgetter
from typing import Any

import numpy as np
import pandas as pd

from kestra_magic.frames.ion_text import ANN, ANN_END, BLOB, TS

_REGION = re.compile(r"\[([^\]]*)\]$")
_DATE_ANNOTATIONS = {"LocalDate"}
_NAIVE_ANNOTATIONS = {"LocalDateTime"}
_UTC_ANNOTATIONS = {"OffsetDateTime", "Instant"}
_TIME_ANNOTATIONS = {"LocalTime", "OffsetTime"}
_TEMPORAL = _DATE_ANNOTATIONS | _NAIVE_ANNOTATIONS | _UTC_ANNOTATIONS | _TIME_ANNOTATIONS | {"ZonedDateTime"}
UTC_DTYPE = "datetime64[us, UTC]"
NAIVE_DTYPE = "datetime64[us]"


def _ion_types():
    from amazon.ion.core import Timestamp, TimestampPrecision
    from amazon.ion.simple_types import IonPyNull, IonPyText
    return Timestamp, TimestampPrecision, IonPyNull, IonPyText


def column(values: list[Any], *, keep_decimal: bool = False, marked: bool = False,
           iso: bool = False) -> pd.Series:
    """One column (a list of parsed values, None for missing) -> a typed Series.

    `marked` says the strings may carry the fast path's markers (text fast path only); `iso`
    types string columns that are entirely ISO dates/datetimes (JSON rendered by the server)."""
    types = set(map(type, values))
    has_null = type(None) in types
    types.discard(type(None))
    if not types:
        return pd.Series(values, dtype=object)          # empty or all missing
    if marked and str in types and len(types) > 1:      # mixed kinds: decode markers value by value
        return _mixed_marked(values)
    if len(types) == 1:
        (kind,) = types
        if kind is bool:
            return pd.Series(values, dtype="boolean" if has_null else bool)
        if kind is int:
            return _ints(values, has_null)
        if kind is float:
            return pd.Series(np.array(values, dtype=float))
        if kind is Decimal:
            if keep_decimal:
                return pd.Series(values, dtype=object)
            if has_null:
                return pd.Series(np.array(values, dtype=float))
            return pd.Series(np.fromiter(map(float, values), dtype=float, count=len(values)))
        if kind is str:
            if marked:
                return _strings(values, has_null)
            return _iso_strings(values) if iso else _plain_strings(values)
        if kind is dict or kind is list:
            return pd.Series(values, dtype=object)
        if kind is bytes:
            return pd.Series(values, dtype=object)
    return _ion_objects(values, types, keep_decimal=keep_decimal)


def _ints(values: list, has_null: bool) -> pd.Series:
    try:
        if has_null:
            return pd.Series(pd.array(values, dtype="Int64"))
        return pd.Series(np.array(values, dtype=np.int64))
    except (OverflowError, TypeError, ValueError):
        return pd.Series(values, dtype=object)        # beyond int64: keep Python ints exactly


def _plain_strings(values: list) -> pd.Series:
    try:
        import pyarrow as pa
    except ImportError:
        return pd.Series(values)
    return pd.Series(pa.array(values, type=pa.string()).to_pandas())   # ~3x faster than from a list


_ISO_INSTANT = r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)"
_ISO_LOCAL = r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?"
_ISO_DATE = r"\d{4}-\d\d-\d\d"
_ISO_TIME = r"\d\d:\d\d(?::\d\d(?:\.\d+)?)?"


def _iso_strings(values: list) -> pd.Series:
    """Strings from Kestra's JSON rendering of ION rows: instants (``...Z``) -> UTC datetimes,
    ``YYYY-MM-DD`` -> dates, local date-times -> naive datetimes, ``HH:MM[:SS]`` -> times;
    anything else (or any column with one value that does not fit) stays text."""
    s = pd.Series(values)
    present = s.dropna()
    first = present.iloc[0]
    if first[:2].isdigit() and first[2:3] == ":" and present.str.fullmatch(_ISO_TIME).all():
        return pd.Series([None if v is None else _time(v) for v in values], dtype=object)
    if len(first) < 10 or not first[:4].isdigit() or first[4:5] != "-":
        return s
    try:
        if present.str.fullmatch(_ISO_DATE).all():
            return pd.to_datetime(s, format="%Y-%m-%d").astype(NAIVE_DTYPE)
        if present.str.fullmatch(_ISO_INSTANT).all():
            return pd.to_datetime(s, format="ISO8601", utc=True).astype(UTC_DTYPE)
        if present.str.fullmatch(_ISO_LOCAL).all():
            return pd.to_datetime(s, format="ISO8601").astype(NAIVE_DTYPE)
    except (ValueError, OverflowError):   # out of pandas' range: keep the text
        pass
    return s


def _strings(values: list, has_null: bool) -> pd.Series:
    return marked_series(pd.Series(values))


def marked_series(s: pd.Series) -> pd.Series:
    """Fast-path strings: plain, or every non-null value carrying one marker kind."""
    present = s.dropna()
    if present.empty:
        return s
    first = present.iloc[0]
    marker = first[:1]
    if marker not in (TS, ANN, BLOB):
        if present.str.startswith((TS, ANN, BLOB)).any():
            return _mixed_marked(s.tolist())
        return s
    if not present.str.startswith(marker).all():
        return _mixed_marked(s.tolist())
    if marker == TS:
        return _timestamps_from_text(s.str.slice(1))
    if marker == BLOB:
        return pd.Series([base64.b64decode(v[1:]) if isinstance(v, str) else None for v in s], dtype=object)
    # annotated strings: ANN + name + ANN_END + text
    end = first.find(ANN_END)
    prefix = first[: end + 1]
    if not present.str.startswith(prefix).all():
        return _mixed_marked(s.tolist())
    name = prefix[1:-1]
    return annotated(name, s.str.slice(len(prefix)))


def _mixed_marked(values: list) -> pd.Series:
    """A column mixing kinds (rare): decode value by value into an object column."""
    out = []
    for v in values:
        if not isinstance(v, str) and pd.isna(v):
            v = None
        elif isinstance(v, str) and v[:1] in (TS, ANN, BLOB):
            v = _decode_marked(v)
        out.append(v)
    return pd.Series(out, dtype=object)


def _decode_marked(v: str) -> Any:
    if v[0] == TS:
        return _scalar_timestamp_text(v[1:])
    if v[0] == BLOB:
        return base64.b64decode(v[1:])
    end = v.find(ANN_END)
    return _scalar_annotated(v[1:end], v[end + 1:])


def _timestamps_from_text(s: pd.Series) -> pd.Series:
    """ISO Ion timestamp texts -> UTC datetimes, or naive dates when all are day precision."""
    present = s.dropna()
    lengths = present.str.len()
    if lengths.min() == lengths.max() == 10:      # Kestra's LocalDate: `2025-03-17`
        return pd.to_datetime(s, format="%Y-%m-%d").astype(NAIVE_DTYPE)
    if not present.str.contains("T", regex=False).any() or lengths.max() <= 11:
        # day precision (`2025-03-17`, `2025-03-17T`, `2025T`, `2025-03T`)
        return pd.to_datetime(s.str.rstrip("T").map(_pad_date, na_action="ignore"), format="%Y-%m-%d").astype(NAIVE_DTYPE)
    full = s.map(_date_to_utc, na_action="ignore") if (present.str.len() <= 11).any() else s
    return pd.to_datetime(full, format="ISO8601", utc=True).astype(UTC_DTYPE)


def _pad_date(text: str) -> str:
    return text + "-01" * (2 - text.count("-"))


def _date_to_utc(text: str) -> str:
    return text if len(text) > 11 else _pad_date(text.rstrip("T")) + "T00:00:00Z"


def _scalar_timestamp_text(text: str) -> Any:
    if len(text) <= 11:                                  # day (or coarser) precision: a date
        return pd.Timestamp(_pad_date(text.rstrip("T")))
    stamp = pd.Timestamp(text)                           # Ion times always carry an offset
    return stamp.tz_convert("UTC") if stamp.tzinfo is not None else stamp.tz_localize("UTC")


def annotated(name: str, s: pd.Series) -> pd.Series:
    """Strings annotated with a java.time type name -> the matching pandas type."""
    if name not in _TEMPORAL:
        return s                                    # unknown annotation: the text is the value
    if name in _NAIVE_ANNOTATIONS:
        return pd.to_datetime(s, format="ISO8601").astype(NAIVE_DTYPE)
    if name in _DATE_ANNOTATIONS:
        return pd.to_datetime(s, format="ISO8601").astype(NAIVE_DTYPE)
    if name in _UTC_ANNOTATIONS:
        return pd.to_datetime(s, format="ISO8601", utc=True).astype(UTC_DTYPE)
    if name == "ZonedDateTime":
        regions = s.str.extract(_REGION, expand=False)
        stamps = pd.to_datetime(s.str.replace(_REGION, "", regex=True), format="ISO8601", utc=True).astype(UTC_DTYPE)
        distinct = regions.dropna().unique()
        if len(distinct) == 1 and regions.notna().sum() == s.notna().sum():
            try:
                return stamps.dt.tz_convert(distinct[0])
            except Exception:   # an unknown region name: keep the instant in UTC
                return stamps
        return stamps
    return pd.Series([None if pd.isna(v) else _time(v) for v in s], dtype=object)


def _time(text: str) -> dt.time:
    return dt.time.fromisoformat(text)


def _scalar_annotated(name: str, text: str) -> Any:
    if name not in _TEMPORAL:
        return text
    if name in _TIME_ANNOTATIONS:
        return _time(text)
    value = annotated(name, pd.Series([text]))
    return value.iloc[0]


def _ion_objects(values: list, types: set, *, keep_decimal: bool) -> pd.Series:
    """Columns holding amazon.ion objects (timestamps, annotated text, typed nulls, ...)."""
    Timestamp, TimestampPrecision, IonPyNull, IonPyText = _ion_types()
    if IonPyNull in types:
        values = [None if type(v) is IonPyNull else v for v in values]
        types = set(map(type, values))
        types.discard(type(None))
        if not types:
            return pd.Series(values, dtype=object)
        if types <= {bool, int, float, Decimal, str, bytes, dict, list}:
            return column(values, keep_decimal=keep_decimal)
    if types == {Timestamp}:
        return _ion_timestamps(values, TimestampPrecision)
    if types == {IonPyText}:
        present = [v for v in values if v is not None]
        annotations = set(map(attrgetter("ion_annotations"), present))
        names = {a[0].text if a else None for a in annotations}
        if len(names) == 1:
            (name,) = names
            texts = pd.Series([None if v is None else str(v) for v in values], dtype=object)
            return texts.astype("str") if name is None else annotated(name, texts)
    if types <= {int, float, Decimal} and not keep_decimal:
        return pd.Series(np.array(values, dtype=float))
    if types <= {bytes} or all(isinstance(v, bytes) for v in values if v is not None):
        return pd.Series([None if v is None else bytes(v) for v in values], dtype=object)
    return pd.Series([_scalar(v, Timestamp, IonPyText, IonPyNull, keep_decimal) for v in values], dtype=object)


def _annotation(v: Any) -> str | None:
    anns = getattr(v, "ion_annotations", None)
    return anns[0].text if anns else None


def _ion_timestamps(values: list, Precision) -> pd.Series:
    present = [v for v in values if v is not None]
    zones = set(map(attrgetter("tzinfo"), present))
    if None not in zones:       # Kestra's instants: `...Z`
        return pd.Series(pd.to_datetime(values, utc=True)).astype(UTC_DTYPE)
    day = Precision.DAY.value
    precisions = {p.value for p in set(map(attrgetter("precision"), present))}
    if max(precisions) <= day:  # dates (LocalDate is written as a day-precision timestamp)
        return pd.Series(pd.to_datetime(values)).astype(NAIVE_DTYPE)   # naive midnights
    utc = dt.timezone.utc       # a mix, or unknown offsets (`-00:00`): everything as UTC instants
    out = [None if v is None else (
        dt.datetime(v.year, v.month, v.day, tzinfo=utc) if v.precision.value <= day
        else (v if v.tzinfo is not None else v.replace(tzinfo=utc)))
        for v in values]
    return pd.Series(pd.to_datetime(out, utc=True)).astype(UTC_DTYPE)


def _scalar(v: Any, Timestamp, IonPyText, IonPyNull, keep_decimal: bool) -> Any:
    """One value of a mixed column, typed as the column rules would type it alone."""
    if v is None or type(v) is IonPyNull:
        return None
    if isinstance(v, Timestamp):
        return _ion_timestamps([v], _ion_types()[1]).iloc[0]
    if isinstance(v, IonPyText):
        name = _annotation(v)
        return str(v) if name is None else _scalar_annotated(name, str(v))
    if isinstance(v, Decimal) and not keep_decimal:
        return float(v)
    if isinstance(v, bytes) and type(v) is not bytes:
        return bytes(v)
    return v


def infer_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """Type text columns whose every value reads as a number, a boolean or an ISO date/time
    (CsvToIon writes every cell as a string); other columns are left alone."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        present = col.dropna()
        if present.empty or not (pd.api.types.is_string_dtype(col.dtype) and present.map(type).eq(str).all()):
            out[name] = col
            continue
        lowered = present.str.lower()
        if lowered.isin(["true", "false"]).all():
            values = col.str.lower().map({"true": True, "false": False})
            out[name] = values.astype("boolean" if col.isna().any() else bool)
            continue
        try:
            numbers = pd.to_numeric(col)
        except (ValueError, TypeError):
            out[name] = _iso_strings(col.tolist())
            continue
        if (numbers.dropna() % 1 == 0).all() and not present.str.contains(r"[.eE]", regex=True).any():
            out[name] = numbers.astype("Int64" if numbers.isna().any() else "int64")
        else:
            out[name] = numbers.astype("float64")
    return pd.DataFrame(out, index=frame.index)
