"""Columnar reader for the text ION Kestra 1.x writes for tabular results: one flat struct per line,
the same identifier field names in the same order on every line.

Why: rewriting the text into JSON Lines (`ion_text.to_jsonl`) and parsing that costs about twice
pandas' own JSON Lines reader; here NumPy finds every value's byte span at once (the positions of
``"``, ``,`` and newlines, with "inside a string" decided by the parity of the quotes before a
position), Arrow gathers each column's spans and parses them with its C++ casts, and no Python code
runs per value. Every span is checked against its column's kind (strict patterns for numbers, exact
bytes for field names, booleans and nulls), so anything outside that shape (escapes, blobs, nested
values, symbols, quoted field names, whitespace, comments, mixed kinds...) makes `read_columns`
return None and the caller uses the general path: results never differ from it.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from kestra_magic.frames import ion_columns

_QUOTE, _COMMA, _NL, _LBRACE, _RBRACE = 34, 44, 10, 123, 125
# bytes that may only appear inside strings in the shape this reader takes (nested structs and
# blobs need no check: their values never pass a column's checks)
_ONLY_IN_STRINGS = (b" ", b"\t", b"\r", b"'", b"/", b"[", b"(")
_NOT_INT = (b".", b"e", b"E", b"d", b"D", b"n", b"i")     # in decimals and floats, never in ints
_KEY = re.compile(rb"[A-Za-z_$][A-Za-z0-9_$]*")
_TYPED_NULLS = {b"null." + t for t in (b"null", b"bool", b"int", b"float", b"decimal", b"timestamp", b"string",
                                       b"symbol", b"blob", b"clob", b"struct", b"list", b"sexp")}
# Ion numbers Arrow's float cast does not take as they are: decimals with a `d` exponent
_NUMBER = r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]*)?(?:[dDeE][+-]?[0-9]+)?$"
_FLOAT_EXACT = 2.0 ** 53
_CASTS = {"LocalDateTime": None, "LocalDate": None, "OffsetDateTime": "UTC", "Instant": "UTC"}


class _Unsupported(Exception):
    """This text needs the general reader."""


def read_columns(data: bytes) -> pd.DataFrame | None:
    """Kestra-shaped text ION -> typed frame (the same frame the general path gives), or None."""
    try:
        import pyarrow  # noqa: F401  (spans are gathered and parsed by Arrow)
    except ImportError:
        return None
    if not data[:1] == b"{" or b"\\" in data:
        return None                         # a version marker, whitespace first, or escapes
    try:
        return _read(data)
    except (_Unsupported, IndexError, ValueError, OverflowError):
        return None


def _fields(rows_start: np.ndarray, rows_end: np.ndarray, commas: np.ndarray, quotes: np.ndarray):
    """(separators, whether each field holds a string) when every row has the same number of fields
    and no string is cut by a separator; else None. ``separators[i]``: row i's `{`, commas and `}`."""
    n = len(rows_start)
    width = int(np.searchsorted(commas, rows_end[0])) + 1
    if len(commas) != n * (width - 1) or (np.searchsorted(commas, rows_start) != np.arange(n) * (width - 1)).any():
        return None
    seps = np.empty((n, width + 1), dtype=np.int64)
    seps[:, 0] = rows_start
    seps[:, 1:width] = commas.reshape(n, width - 1)
    seps[:, width] = rows_end - 1
    # The field of every quote (a quote after a row's `}` lands in the extra last slot): each
    # string's two quotes must fall in one field (else a comma cut it), and no field holds two
    # strings (no value of this shape does)
    field = np.searchsorted(seps.ravel(), quotes, side="right") - 1
    opens, closes = field[0::2], field[1::2]
    if (opens != closes).any():
        return None
    if len(opens) and ((np.diff(opens) == 0).any() or (opens % (width + 1) == width).any()):
        raise _Unsupported
    quoted = np.zeros(n * (width + 1), dtype=bool)
    quoted[opens] = True                # the field holds one string
    return seps, quoted.reshape(n, width + 1)[:, :width]


def _read(data: bytes) -> pd.DataFrame:
    import pyarrow as pa
    end = len(data)
    while end and data[end - 1] == _NL:
        end -= 1
    raw = np.frombuffer(data, dtype=np.uint8, count=end)
    quotes = np.flatnonzero(raw == _QUOTE)
    if len(quotes) % 2:
        raise _Unsupported

    def outside(positions: np.ndarray) -> np.ndarray:
        return positions[(np.searchsorted(quotes, positions) & 1) == 0]

    # Rows end at every newline: one inside a string (not valid Ion) would cut that string, and a
    # value holding an odd number of quotes is refused below.
    rows_end = np.append(np.flatnonzero(raw == _NL), end)       # one past each row's `}`
    n = len(rows_end)
    rows_start = np.concatenate(([0], rows_end[:-1] + 1))
    if not ((raw[rows_start] == _LBRACE).all() and (raw[rows_end - 1] == _RBRACE).all()):
        raise _Unsupported
    for byte in _ONLY_IN_STRINGS:          # whitespace, comments, other quotes, lists
        if data.find(byte, 0, end) != -1 and len(outside(np.flatnonzero(raw == byte[0]))):
            raise _Unsupported
    # Optimistically every comma separates fields; a comma inside a string cuts that string, which
    # shows as a string whose two quotes fall in two fields (or as rows of different widths): then
    # the commas inside strings are found and dropped, and the fields are cut again.
    commas = np.flatnonzero(raw == _COMMA)
    cut = _fields(rows_start, rows_end, commas, quotes)
    if cut is None:
        cut = _fields(rows_start, rows_end, outside(commas), quotes)
        if cut is None:
            raise _Unsupported
    del commas
    seps, quoted = cut
    n, width = quoted.shape
    first = data[:rows_end[0]]
    keys: list[bytes] = []
    for j in range(width):
        field_start = int(seps[0, j]) + 1
        key = first[field_start:first.find(b":", field_start)]
        if not _KEY.fullmatch(key) or key in keys:
            raise _Unsupported
        keys.append(key)
    # Field names and the first 8 bytes of every value, read row by row in one pass each (the
    # file is walked in order, instead of once per column)
    bytes8 = _Bytes8(data, raw)
    starts = seps[:, :width] + 1
    bytes8.expect(starts, [key + b":" for key in keys])
    starts += np.array([len(key) + 1 for key in keys], dtype=np.int64)
    heads = bytes8.at(starts)
    tails = raw[seps[:, 1:] - 1]
    starts, stops = np.ascontiguousarray(starts.T), np.ascontiguousarray(seps[:, 1:].T)    # column by column
    del seps
    buffer = pa.py_buffer(data)
    columns: dict[str, Any] = {}
    for j, key in enumerate(keys):
        values = _Values(raw, bytes8, buffer, starts[j], stops[j], np.ascontiguousarray(heads[:, j]), tails[:, j],
                         quoted[:, j])
        columns[key.decode()] = _column(values)
    return pd.DataFrame(columns)


class _Bytes8:
    """Reads of the 8 bytes starting at given positions as little-endian integers (a strided view
    of the data, no copy; bytes past the end read as 0)."""

    def __init__(self, data: bytes, raw: np.ndarray):
        self.raw = raw
        self.words = np.ndarray(shape=(max(len(raw) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))

    def at(self, pos: np.ndarray) -> np.ndarray:
        limit = len(self.words)
        if not len(pos) or pos.max() < limit:
            return self.words[pos]
        if pos.ndim == 2 and len(pos) > 1 and pos[-2].max() < limit:    # only the last row is near the end
            out = np.empty(pos.shape, dtype="<u8")
            out[:-1] = self.words[pos[:-1]]
            out[-1] = self.at(pos[-1])
            return out
        out = self.words[np.minimum(pos, max(limit - 1, 0))] if limit else np.zeros(pos.shape, dtype="<u8")
        for index in zip(*np.nonzero(pos >= limit)):       # the last few bytes of the file
            at = int(pos[index])
            out[index] = int.from_bytes(self.raw[at:at + 8].tobytes(), "little")
        return out

    def expect(self, pos: np.ndarray, texts: list[bytes]) -> None:
        """Column j of `pos` (n x k) starts with texts[j] in every row (else unsupported)."""
        longest = max(map(len, texts))
        if (pos + np.array([len(t) for t in texts], dtype=np.int64)).max() > len(self.raw):
            raise _Unsupported
        for at in range(0, longest, 8):
            chunks = [t[at:at + 8] for t in texts]
            cols = [j for j, c in enumerate(chunks) if c]
            found = self.at(pos[:, cols] + at) if len(cols) < len(texts) else self.at(pos + at if at else pos)
            masks = np.array([(1 << (8 * len(chunks[j]))) - 1 for j in cols], dtype=np.uint64)
            expected = np.array([int.from_bytes(chunks[j], "little") for j in cols], dtype=np.uint64)
            if not ((found & masks) == expected).all():
                raise _Unsupported


def _word(text: bytes) -> np.uint64:
    return np.uint64(int.from_bytes(text, "little"))


def _low(size: int) -> np.uint64:
    return np.uint64((1 << (8 * size)) - 1)


_NULL, _NULL_DOT, _TRUE, _FALSE, _NAN = _word(b"null"), _word(b"null."), _word(b"true"), _word(b"false"), _word(b"nan")
_PLUS_INF, _MINUS_INF = _word(b"+inf"), _word(b"-inf")


class _Values:
    """One column's value spans [start, stop) with their first 8 bytes, last byte and whether they
    hold a (quoted) string."""

    def __init__(self, raw, bytes8, buffer, start, stop, head, tail, quoted):
        self.raw, self.bytes8, self.buffer = raw, bytes8, buffer
        self.start, self.stop, self.head, self.tail, self.quoted = start, stop, head, tail, quoted

    def byte(self, k: int) -> np.ndarray:
        """Byte k (0..7) of every value (a view: bytes past a value's end belong to what follows)."""
        return self.head.view(np.uint8).reshape(-1, 8)[:, k] if self.head.flags.c_contiguous else \
            ((self.head >> np.uint64(8 * k)) & np.uint64(0xFF)).astype(np.uint8)

    def select(self, rows: np.ndarray) -> "_Values":
        return _Values(self.raw, self.bytes8, self.buffer, self.start[rows], self.stop[rows], self.head[rows],
                       self.tail[rows], self.quoted[rows])


def _tokens(buffer, start: np.ndarray, stop: np.ndarray):
    """The byte spans [start, stop) as one Arrow binary array (the spans are in file order)."""
    import pyarrow as pa
    n = len(start)
    if n == 0:
        return pa.array([], type=pa.large_binary())
    offsets = np.empty(2 * n, dtype=np.int64)
    offsets[0::2], offsets[1::2] = start, stop
    spans = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 2 * n - 1, [None, pa.py_buffer(offsets), buffer])
    return spans.take(pa.array(np.arange(0, 2 * n - 1, 2)))


def _with_nulls(array, null: np.ndarray):
    """`array` (the present values) spread over all rows, missing where `null`."""
    import pyarrow as pa
    if not null.any():
        return array
    index = np.cumsum(~null) - 1
    return array.take(pa.array(index, mask=null))


def _column(v: _Values) -> pd.Series:
    import pyarrow as pa
    import pyarrow.compute as pc
    length = v.stop - v.start
    if (length <= 0).any():
        raise _Unsupported
    n = len(length)
    null = (v.head & _low(4)) == _NULL
    if null.any():
        plain = length == 4
        typed = ~plain & ((v.head & _low(5)) == _NULL_DOT)
        null &= plain | typed
        if typed.any() and not {v.raw[s:e].tobytes() for s, e in zip(v.start[typed], v.stop[typed])} <= _TYPED_NULLS:
            raise _Unsupported
    some = bool(null.any())
    if some and null.all():
        if v.quoted.any():
            raise _Unsupported
        return pd.Series([None] * n, dtype=object)
    p = v.select(~null) if some else v
    lead = int(p.head[0] & np.uint64(0xFF))
    if lead == _QUOTE:                                         # strings
        if not (p.quoted & (p.byte(0) == _QUOTE) & (p.tail == _QUOTE)).all():
            raise _Unsupported
        texts = pc.cast(_tokens(v.buffer, p.start + 1, p.stop - 1), pa.large_string())     # validates UTF-8
        return pd.Series(_with_nulls(texts, null).cast(pa.string()).to_pandas())
    if chr(lead).isalpha() and b'::"' in v.raw[p.start[0]:p.stop[0]].tobytes():
        return _annotated(p, null)
    if p.quoted.any():
        raise _Unsupported
    plen = p.stop - p.start
    if lead in b"tf":                                          # booleans
        true = (plen == 4) & ((p.head & _low(4)) == _TRUE)
        if not (true | ((plen == 5) & ((p.head & _low(5)) == _FALSE))).all():
            raise _Unsupported
        if some:
            return pd.Series(pd.arrays.BooleanArray(_spread(true, null, False), null))
        return pd.Series(true)
    b4 = p.byte(4)
    if lead in b"0123456789" and (plen >= 5).all() and ((b4 == ord("-")) | (b4 == ord("T"))).all():
        return _timestamps(_tokens(v.buffer, p.start, p.stop), null)
    return _numbers(p, plen, null)


def _numbers(p: _Values, length: np.ndarray, null: np.ndarray) -> pd.Series:
    """Ion ints (-> int64, Int64 with nulls), decimals and floats (-> float64), as the general path
    types them: a column mixing ints with decimals or floats is float64. Arrow's casts parse; the
    few spellings they accept that Ion does not (``.5``, ``NaN``, ``inf``, ``007``) are refused here."""
    import pyarrow as pa
    import pyarrow.compute as pc
    b0, b1, b2 = p.byte(0), p.byte(1), p.byte(2)
    digit = lambda b: (b >= 48) & (b <= 57)   # noqa: E731
    infinite = (length == 4) & (((p.head & _low(4)) == _PLUS_INF) | ((p.head & _low(4)) == _MINUS_INF))
    ok = digit(b0) | ((b0 == ord("-")) & digit(b1)) | infinite | ((length == 3) & ((p.head & _low(3)) == _NAN))
    leading_zero = ((b0 == ord("0")) & digit(b1) & (length > 1)) \
        | ((b0 == ord("-")) & (b1 == ord("0")) & digit(b2) & (length > 2))
    if not ok.all() or leading_zero.any():
        raise _Unsupported
    some = bool(null.any())
    tokens = _tokens(p.buffer, p.start, p.stop)
    offsets = np.frombuffer(tokens.buffers()[1], dtype=np.int64, count=len(tokens) + 1)
    chars = tokens.buffers()[2].to_pybytes()[:int(offsets[-1])]
    try:
        if not any(c in chars for c in _NOT_INT):     # (a failing cast costs 30x a good one)
            values = pc.cast(tokens, pa.int64()).to_numpy()
            if some:
                return pd.Series(pd.arrays.IntegerArray(_spread(values, null, 0), null))
            return pd.Series(values)
        if b"d" in chars or b"D" in chars:
            text = pc.cast(tokens, pa.large_string())
            if not pc.all(pc.match_substring_regex(text, _NUMBER)).as_py():
                raise _Unsupported
            tokens = pc.replace_substring_regex(text, "[dD]", "e")
        values = pc.cast(tokens, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Unsupported from None
    if pc.max(pc.abs(values)).as_py() >= _FLOAT_EXACT and pc.any(pc.is_finite(values)).as_py():
        finite = pc.filter(values, pc.is_finite(values))
        if pc.max(pc.abs(finite)).as_py() >= _FLOAT_EXACT:
            raise _Unsupported          # the general path decides how such numbers read
    return pd.Series(_spread(values.to_numpy(), null, np.nan), dtype="float64")


def _spread(values: np.ndarray, null: np.ndarray, fill) -> np.ndarray:
    if not null.any():
        return values
    out = np.full(len(null), fill, dtype=values.dtype)
    out[~null] = values
    return out


def _timestamps(tokens, null: np.ndarray) -> pd.Series:
    """Ion timestamps: all day precision -> naive dates; all with a time -> UTC (the general
    path's Arrow casts); other shapes go to the general path."""
    import pyarrow as pa
    import pyarrow.compute as pc
    text = pc.cast(tokens, pa.large_string())
    low, high = (v.as_py() for v in pc.min_max(pc.utf8_length(text)).values())
    if low == high == 10:
        zone = None
    elif low > 11:
        zone = "UTC"
    else:
        raise _Unsupported
    try:
        stamps = pc.cast(text, pa.timestamp("us", zone))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise _Unsupported from None
    return pd.Series(_with_nulls(stamps, null).to_pandas())


def _annotated(p: _Values, null: np.ndarray) -> pd.Series:
    """``Name::"text"`` with one annotation name for the whole column."""
    import pyarrow as pa
    import pyarrow.compute as pc
    first = p.raw[p.start[0]:p.stop[0]].tobytes()
    cut = first.find(b'::"')
    name = first[:cut]
    if cut < 1 or not _KEY.fullmatch(name) or not (p.quoted & (p.tail == _QUOTE)).all():
        raise _Unsupported
    p.bytes8.expect(p.start[:, None], [name + b'::"'])
    texts = pc.cast(_tokens(p.buffer, p.start + cut + 3, p.stop - 1), pa.large_string())
    texts = _with_nulls(texts, null).cast(pa.string())
    zone_name = name.decode()
    if zone_name in _CASTS:
        try:
            return pd.Series(texts.cast(pa.timestamp("us", _CASTS[zone_name])).to_pandas())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return ion_columns.annotated(zone_name, pd.Series(texts.to_pandas()))
