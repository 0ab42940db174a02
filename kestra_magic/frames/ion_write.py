"""DataFrame -> Kestra-shaped text ION (one struct per line), the inverse of `read_ion`'s typing:
tz-aware datetimes -> timestamps, midnight-only naive datetimes -> day timestamps, other naive
datetimes -> ``LocalDateTime::"..."``, ``datetime.time`` -> ``LocalTime::"..."``, missing -> null."""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd


def _ion():
    from amazon.ion import simpleion
    from amazon.ion.core import IonType, Timestamp, TimestampPrecision
    from amazon.ion.simple_types import IonPyText
    return simpleion, IonType, Timestamp, TimestampPrecision, IonPyText


def write_ion(df: pd.DataFrame) -> bytes:
    """The frame's rows as text ION, one struct per line (readable by Kestra 1.x and 2.x)."""
    simpleion, IonType, Timestamp, Precision, IonPyText = _ion()
    converters = {name: _converter(df[name], IonType, Timestamp, Precision, IonPyText) for name in df.columns}
    columns = [(str(name), [converters[name](v) for v in df[name].tolist()]) for name in df.columns]
    lines = []
    for i in range(len(df)):
        row = {name: values[i] for name, values in columns}
        lines.append(simpleion.dumps(row, binary=False, omit_version_marker=True))
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _missing(v: Any) -> bool:
    if v is None or v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, float) and math.isnan(v)


def _converter(col: pd.Series, IonType, Timestamp, Precision, IonPyText):
    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        def stamp(v):
            if _missing(v):
                return None
            v = v.tz_convert("UTC")
            return Timestamp(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond,
                             dt.timezone.utc, precision=Precision.SECOND, fractional_precision=6 if v.microsecond else None)
        return stamp
    if pd.api.types.is_datetime64_dtype(dtype):
        present = col.dropna()
        if len(present) and (present == present.dt.normalize()).all():
            return lambda v: None if _missing(v) else Timestamp(v.year, v.month, v.day, precision=Precision.DAY)
        return lambda v: None if _missing(v) else IonPyText.from_value(
            IonType.STRING, v.isoformat(), ("LocalDateTime",))

    def plain(v):
        if _missing(v):
            return None
        if isinstance(v, (np.integer,)):
            return int(v)
        if isinstance(v, (np.floating,)):
            return float(v)
        if isinstance(v, np.bool_):
            return bool(v)
        if isinstance(v, dt.time):
            return IonPyText.from_value(IonType.STRING, v.isoformat(), ("LocalTime",))
        if isinstance(v, pd.Timestamp):
            return v.to_pydatetime()
        if isinstance(v, (pd.Timedelta, dt.timedelta)):
            return pd.Timedelta(v).isoformat()
        if isinstance(v, (str, bytes, int, float, bool, Decimal, dict, list)):
            return v
        return str(v)
    return plain
