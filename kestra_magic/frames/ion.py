"""Read Kestra's ION result files (text on 1.x, concatenated binary streams on 2.x) into pandas.

Strategy, fastest sound path first:
1. tabular rows (flat structs, the same fields in the same order): text ION (1.x) ->
   `ion_text_columns.read_columns`, binary ION (2.x) -> `ion_binary.read_binary`; both find every
   value's bytes with NumPy and parse whole columns with Arrow's casts (no Python code per value);
2. other text ION in Kestra's shape -> `ion_text.to_jsonl` (rewrite to JSON Lines) read by pyarrow's
   JSON reader (the json module without pyarrow), typed values cast by Arrow;
3. otherwise amazon.ion's C extension with the bare value model
   (MAY_BE_BARE | SYMBOL_AS_TEXT | STRUCT_AS_STD_DICT) and the garbage collector paused, which
   reads text and binary in one call (2.x's repeated per-row headers merged first, see
   `single_stream`);
4. without the C extension, the pure-Python reader with a warning (it is ~100x slower).
Every path lands on the same pandas types (`ion_columns`: Kestra's typing rules); a fast path that
meets anything it does not decode hands the whole file to the next one.
"""
from __future__ import annotations

import gc
import io
import json
import warnings
from operator import itemgetter
from typing import Any

import pandas as pd

from kestra_magic.frames import ion_columns, ion_text

BINARY_MARKER = b"\xe0\x01\x00\xea"


def is_binary_ion(data: bytes) -> bool:
    """True for binary Ion (starts with the Ion 1.0 version marker)."""
    return data[:4] == BINARY_MARKER


def single_stream(data: bytes) -> bytes | None:
    """Kestra 2.x writes every row as its own binary stream (version marker + the same local
    symbol table + one value). Dropping the repeated headers gives one stream that amazon.ion
    reads ~20% faster. Returns None unless every piece between two headers is exactly one
    complete value (checked against its own length field), so a header-like byte run inside a
    blob can never be cut out silently."""
    rows = split_rows(data)
    return None if rows is None else rows[0] + rows[1]


def split_rows(data: bytes):
    """(header, body, row starts, row lengths) for binary ION made of repeated identical
    headers each followed by exactly one value; None otherwise (see `single_stream`)."""
    import numpy as np
    if data[:4] != BINARY_MARKER or len(data) < 6:
        return None
    td = data[4]
    if td >> 4 != 0xE:                  # no local symbol table: the marker alone repeats
        prefix = BINARY_MARKER
    else:
        header, length = _length(data, 4)
        if length is None:
            return None
        prefix = data[:4 + header + length]
    chunks = data.split(prefix)
    if chunks[0] or len(chunks) < 3:
        return None
    chunks = chunks[1:]
    lengths = np.fromiter(map(len, chunks), dtype=np.int64, count=len(chunks))
    if lengths.min() < 1:
        return None
    body = b"".join(chunks)
    starts = np.cumsum(lengths) - lengths
    raw = np.frombuffer(body + b"\0\0\0\0", dtype=np.uint8)
    td = raw[starts]
    low = (td & 0x0F).astype(np.int64)
    b1, b2, b3 = (raw[starts + i].astype(np.int64) for i in (1, 2, 3))
    one, two = (b1 & 0x80) != 0, (b2 & 0x80) != 0
    var = np.where(one, b1 & 0x7F, np.where(two, ((b1 & 0x7F) << 7) | (b2 & 0x7F),
                                            ((b1 & 0x7F) << 14) | ((b2 & 0x7F) << 7) | (b3 & 0x7F)))
    var_size = np.where(one, 1, np.where(two, 2, 3))
    three_ok = one | two | ((b3 & 0x80) != 0)
    kind = td >> 4
    short = (low < 14) & (kind != 0xD) | ((kind == 0xD) & (low < 14) & (low != 1))
    total = np.where(short, 1 + low, 1 + var_size + var)
    if not (short | three_ok).all() or (low == 15).any() or not (total == lengths).all():
        return None
    return prefix, body, starts, lengths


def _length(data: bytes, pos: int) -> tuple[int, int | None]:
    """(header size, body length) of the binary Ion value whose type descriptor is at `pos`."""
    low = data[pos] & 0x0F
    if low < 14:
        return 1, low
    if low == 15:
        return 1, None
    value, i = 0, pos + 1
    while i < len(data) and i < pos + 5:
        value = (value << 7) | (data[i] & 0x7F)
        if data[i] & 0x80:
            return i - pos + 1, value
        i += 1
    return 1, None


def _amazon_ion_rows(data: bytes) -> list[Any]:
    from amazon.ion import simpleion
    from amazon.ion.simpleion import IonPyValueModel as Model
    if not data.strip():
        return []
    if not simpleion.c_ext:   # pragma: no cover - depends on the installed wheel
        warnings.warn("amazon-ion's C extension is not available: reading ION in pure Python is "
                      "about 100x slower; reinstall amazon-ion from a wheel for your platform",
                      RuntimeWarning, stacklevel=3)
    model = Model.MAY_BE_BARE | Model.SYMBOL_AS_TEXT | Model.STRUCT_AS_STD_DICT
    if is_binary_ion(data):
        data = single_stream(data) or data
    enabled = gc.isenabled()
    gc.disable()   # the reader allocates millions of small objects; GC passes dominate otherwise
    try:
        return simpleion.loads(data, single_value=False, value_model=model)
    except Exception as e:
        from kestra_magic.errors import KestraError
        raise KestraError(f"not a valid ION file ({type(e).__name__}: {str(e)[:200]}); "
                          "read it as bytes with format='bytes' to inspect it") from None
    finally:
        if enabled:
            gc.enable()


def _text_fast_frame(data: bytes, flatten: bool) -> pd.DataFrame | None:
    """Text ION in Kestra's shape -> frame via JSON Lines (pyarrow's reader when installed, else
    the json module); None when the text needs amazon.ion."""
    for fix in (False, True):
        body = ion_text.to_jsonl(data, fix_decimals=fix)
        if body is None:
            return None
        if not body:
            return pd.DataFrame()
        frame = _arrow_frame(body)
        if frame is None:
            rows = ion_text.jsonl_rows(body)
            if rows is None:
                continue        # not JSON yet: retry once with decimals rewritten
            frame = rows_frame(rows, marked=True)
        return flatten_structs(frame) if flatten else frame
    return None


_FLOAT_EXACT = 2.0 ** 53


def _arrow_frame(body: bytes, iso: bool = False) -> pd.DataFrame | None:
    """pyarrow's multi-threaded JSON reader; None when it is missing or the data needs the
    general path (nested values, mixed types, ints beyond 2**53 read as doubles, ...)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.json as pj
    except ImportError:
        return None
    try:
        table = pj.read_json(io.BytesIO(body))
        inferred = [f.name for f in table.schema if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type)]
        if inferred:    # genuine strings that pyarrow took for dates: read them as the strings they are
            schema = pa.schema([(name, pa.string()) for name in inferred])
            order = table.column_names
            table = pj.read_json(io.BytesIO(body), parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="infer")).select(order)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    columns: dict[str, pd.Series] = {}
    for name, col in zip(table.column_names, table.columns):
        kind = col.type
        if pa.types.is_int64(kind):
            columns[name] = (pd.Series(col.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
                             if col.null_count else pd.Series(col.to_numpy()))
        elif pa.types.is_floating(kind):
            biggest = pc.max(pc.abs(col)).as_py() if len(col) > col.null_count else None
            if biggest is not None and biggest == biggest and _FLOAT_EXACT <= biggest < float("inf"):
                return None     # maybe an int above 2**53 silently made a double: parse exactly
            columns[name] = pd.Series(col.to_numpy(zero_copy_only=False), dtype="float64")
        elif pa.types.is_boolean(kind):
            columns[name] = (pd.Series(col.to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
                             if col.null_count else pd.Series(col.to_numpy(zero_copy_only=False), dtype=bool))
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if iso:     # the server's JSON rendering: ISO strings stand for dates and times
                converted = _arrow_iso(col, pa, pc)
            else:
                converted = _arrow_temporal(col, pa, pc)
                if converted is None:
                    converted = ion_columns.marked_series(pd.Series(col.to_pandas()))
            if converted is None:
                return None
            columns[name] = converted
        elif pa.types.is_null(kind):
            columns[name] = pd.Series([None] * len(col), dtype=object)
        else:
            return None         # structs and lists: the general path keeps them exactly
    return pd.DataFrame(columns)


_ARROW_CASTS = {"LocalDateTime": None, "LocalDate": None, "OffsetDateTime": "UTC", "Instant": "UTC"}


def _arrow_temporal(col, pa, pc) -> pd.Series | None:
    """Marked timestamp / java.time columns cast by Arrow's ISO-8601 parser (about 30x faster than
    pandas.to_datetime); None for anything else, or anything it does not parse whole."""
    present = col.drop_null()
    if len(present) == 0:
        return None
    first = present[0].as_py()
    if first.startswith(ion_text.TS):
        prefix = ion_text.TS
    elif first.startswith(ion_text.ANN):
        prefix = first[: first.find(ion_text.ANN_END) + 1]
        if prefix[1:-1] not in _ARROW_CASTS:
            return None
    else:
        return None
    try:
        if not pc.all(pc.starts_with(present, prefix)).as_py():
            return None
        texts = pc.utf8_slice_codeunits(col, len(prefix))
        lengths = pc.utf8_length(texts.drop_null() if hasattr(texts, "drop_null") else texts)
        if prefix == ion_text.TS:
            low, high = pc.min_max(lengths).values()
            if low.as_py() == high.as_py() == 10:
                zone = None                 # all day precision: dates
            elif low.as_py() > 11:
                zone = "UTC"                # instants with their offsets
            else:
                return None                 # a mix: the pandas path handles it
        else:
            zone = _ARROW_CASTS[prefix[1:-1]]
        stamps = pc.cast(texts, pa.timestamp("us", zone))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return pd.Series(stamps.to_pandas())


_ISO_FORMS = ((ion_columns._ISO_DATE, None), (ion_columns._ISO_INSTANT, "UTC"), (ion_columns._ISO_LOCAL, None))


def _arrow_iso(col, pa, pc) -> pd.Series:
    """A JSON string column: ISO dates/instants/local date-times (every value) -> datetimes via
    Arrow's parser, times of day -> `datetime.time`, anything else the strings themselves."""
    present = col.drop_null()
    first = present[0].as_py() if len(present) else ""
    if not (first[:4].isdigit() and first[4:5] == "-"):
        if first[:2].isdigit() and first[2:3] == ":":
            return ion_columns.column(col.to_pylist(), iso=True)     # maybe times of day
        return pd.Series(col.to_pandas())
    import re
    for pattern, zone in _ISO_FORMS:
        if re.fullmatch(pattern, first):
            try:
                if pc.all(pc.match_substring_regex(present, f"^{pattern}$")).as_py():
                    return pd.Series(pc.cast(col, pa.timestamp("us", zone)).to_pandas())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                break
            break
    return pd.Series(col.to_pandas())


def read_ion(data: bytes, *, keep_decimal: bool = False, flatten: bool = False,
             infer_types: bool = False) -> pd.DataFrame:
    """ION bytes (text or binary) -> DataFrame with Kestra's typing mapped to pandas types.

    Rows that are structs give named columns, rows that are lists positional columns 0..n-1,
    scalar rows one column ``value``. ``keep_decimal`` keeps decimals as exact ``Decimal``
    objects instead of float64; ``flatten`` turns nested structs into ``parent.child`` columns;
    ``infer_types`` types all-text columns that read as numbers, booleans or ISO dates (files
    from CsvToIon hold every cell as a string).
    """
    frame = None
    if not keep_decimal and not is_binary_ion(data):
        from kestra_magic.frames.ion_text_columns import read_columns
        frame = read_columns(data)      # flat rows only: nothing to flatten
        if frame is None:
            frame = _text_fast_frame(data, flatten)
    elif not keep_decimal:
        from kestra_magic.frames.ion_binary import read_binary
        frame = read_binary(data)
        if frame is not None and flatten:
            frame = flatten_structs(frame)
    if frame is None:
        frame = rows_frame(_amazon_ion_rows(data), keep_decimal=keep_decimal, flatten=flatten)
    return ion_columns.infer_strings(frame) if infer_types else frame


def json_rows_frame(data: bytes | list, *, flatten: bool = False, infer_types: bool = False) -> pd.DataFrame:
    """ION rows as the server renders them in JSON (2.x ``format=JSONL`` downloads, previews):
    the same typing as `read_ion` where JSON kept it, ISO date strings typed back to dates."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data)
        if not data.strip():
            return pd.DataFrame()
        frame = _arrow_frame(data, iso=True)
        if frame is not None:
            frame = flatten_structs(frame) if flatten else frame
            return ion_columns.infer_strings(frame) if infer_types else frame
        lines = [line for line in data.splitlines() if line.strip()]
        rows = json.loads(b"[" + b",".join(lines) + b"]") if lines else []
    else:
        rows = list(data)
    frame = rows_frame(rows, flatten=flatten, iso=True)
    return ion_columns.infer_strings(frame) if infer_types else frame


def rows_frame(rows: list[Any], *, keep_decimal: bool = False, flatten: bool = False,
               marked: bool = False, iso: bool = False) -> pd.DataFrame:
    """Parsed ION rows -> typed DataFrame (see `read_ion`)."""
    if not rows:
        return pd.DataFrame()
    kinds = set(map(type, rows))
    if kinds == {dict}:
        columns = _struct_columns(rows)
    elif kinds == {list}:
        width = max(map(len, rows))
        columns = {i: [r[i] if i < len(r) else None for r in rows] for i in range(width)}
    else:
        columns = {"value": list(rows)}
    data = {name: ion_columns.column(values, keep_decimal=keep_decimal, marked=marked, iso=iso)
            for name, values in columns.items()}
    frame = pd.DataFrame(data)
    if flatten:
        frame = flatten_structs(frame)
    return frame


def _struct_columns(rows: list[dict]) -> dict[Any, list]:
    keys = list(rows[0])
    if set(map(len, rows)) == {len(keys)}:      # Kestra writes the same fields in every row
        try:
            return {k: list(map(itemgetter(k), rows)) for k in keys}   # one C-level pass per column
        except KeyError:
            pass
    seen: dict[Any, None] = {}
    for r in rows:
        seen.update(dict.fromkeys(r))
    return {k: [r.get(k) for r in rows] for k in seen}


def flatten_structs(frame: pd.DataFrame, sep: str = ".") -> pd.DataFrame:
    """Replace struct (dict) columns by one column per nested field, named ``parent.child``."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if col.dtype == object and col.map(lambda v: isinstance(v, dict) or v is None).all() \
                and col.map(lambda v: isinstance(v, dict)).any():
            nested = pd.json_normalize([v if isinstance(v, dict) else {} for v in col], sep=sep)
            for sub in nested.columns:
                values = nested[sub].tolist()
                out[f"{name}{sep}{sub}"] = ion_columns.column(
                    [None if _missing(v) else v for v in values])
        else:
            out[name] = col
    return pd.DataFrame(out, index=frame.index)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)
