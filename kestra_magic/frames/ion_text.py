"""Fast path for Kestra's text ION: rewrite it into JSON Lines with C-speed byte operations, then
let a C JSON reader (pyarrow's, or the json module's) build the rows.

Why our own path: amazon.ion's C extension builds one Python object per value through a generic
reader (2-3x slower than pandas' JSON Lines reader on Kestra-shaped rows), while the text ION
Kestra writes is JSON plus a few constructs: bare field names, timestamps, annotated strings,
blobs, typed nulls, ``nan``. Every rewrite below is a ``bytes.replace``/``split``/``join`` or a
``re.split`` on a pattern with a literal first byte, so no Python code runs per value. Inside
strings, the characters the rewrites act on (``{ } , :``) are first turned into JSON ``\\u``
escapes, so the rewrites can run over the whole text. Values JSON cannot carry become strings
starting with a private-use marker, typed column by column afterwards
(`kestra_magic.frames.ion_columns`).

Anything outside that subset (lists, quoted symbols, comments, clobs, whitespace inside rows,
escaped structural characters, ...) makes `to_jsonl` return None and the caller falls back to
amazon.ion; the JSON parser rejects every other leftover Ion construct (the caller falls back then
too), so the fast path is never less correct than the reference parser on valid input.
"""
from __future__ import annotations

import json
import re
from typing import Any

# Markers in front of values JSON cannot express (private-use code points).
TS = "\ue000"        # Ion timestamp: TS + ISO text
ANN = "\ue001"       # annotated string: ANN + annotation + ANN_END + text
ANN_END = "\ue002"
BLOB = "\ue003"      # blob: BLOB + base64
_TS_OPEN = b'"' + TS.encode()
_BLOB_OPEN = b'"' + BLOB.encode()
_ANN_B, _ANN_END_B = ANN.encode(), ANN_END.encode()

_STRING = re.compile(rb'"([^"\\\n]*(?:\\.[^"\\\n]*)*)"')
_ANNOTATION = re.compile(rb':([A-Za-z_$][A-Za-z0-9_$]*)::"')
# Only a timestamp can follow a field's colon with 4 digits and a dash; a malformed one fails
# when the column is parsed (and the caller falls back to amazon.ion).
_TIMESTAMP = re.compile(rb":(\d\d\d\d-[0-9][-0-9T:.Z+]*)")
_BLOB = re.compile(rb":\{\{([A-Za-z0-9+/=]*)\}\}")
_TYPED_NULL = re.compile(
    rb":null\.(?:null|bool|int|float|decimal|timestamp|string|symbol|blob|clob|struct|list|sexp)\b")
_SLOT, _TS_SLOT, _BLOB_SLOT = b"\x00", b"\x02", b"\x03"
# characters the structural rewrites act on, as JSON escapes (inside strings only)
_ESCAPES = ((b"{", b"\\u007b"), (b"}", b"\\u007d"), (b",", b"\\u002c"), (b":", b"\\u003a"))
_MAX_ANNOTATIONS = 32
_SLOT_BYTES = (b"\x00", b"\x01", b"\x02", b"\x03", b"\x04")
_INNER_WHITESPACE = (b" ", b"\t", b"\r", b"\x0b", b"\x0c")


def to_rows(data: bytes) -> list[Any] | None:
    """Parse Kestra-style text ION (one struct per line) into Python rows, or return None when
    the text needs the full Ion parser."""
    for fix in (False, True):
        body = to_jsonl(data, fix_decimals=fix)
        if body is None:
            return None
        rows = jsonl_rows(body)
        if rows is not None:
            return rows
    return None


def jsonl_rows(body: bytes) -> list[Any] | None:
    """`to_jsonl` output -> rows with the C json decoder (None if it is not valid JSON)."""
    if not body:
        return []
    try:
        return json.loads(b"[" + body.replace(b"}\n{", b"},{") + b"]")
    except ValueError:
        return None


_DECIMAL_EXP = re.compile(rb":(-?\d+(?:\.\d*)?)[dD]")
_DECIMAL_DOT = re.compile(rb":(-?\d+)\.(?=[,}\n]|$)")


def to_jsonl(data: bytes, *, fix_decimals: bool = False) -> bytes | None:
    """Rewrite Kestra-style text ION as JSON Lines (typed values as marked strings), or None
    when the text uses constructs outside the subset. The result may still be invalid JSON
    (e.g. decimals like ``6960d0`` unless ``fix_decimals``): the JSON parser is the final check."""
    data = data.strip()
    if data.startswith(b"$ion_1_0"):
        data = data[len(b"$ion_1_0"):].lstrip()
    if not data:
        return b""
    if not data.startswith(b"{") or b"\xee\x80" in data or any(c in data for c in _SLOT_BYTES):
        return None
    if b'\\"' in data:                 # escaped quotes: strings need a real tokenizer
        parts = _STRING.split(data)
    else:                               # no escaped quote: every `"` opens or closes a string
        parts = data.split(b'"')
        if len(parts) % 2 == 0:
            return None
    outside = b"".join(parts[0::2])          # only to check what lies outside the strings
    if b'"' in outside or b"'" in outside or b"[" in outside or b"(" in outside:
        return None
    # The only whitespace allowed is the newline between rows: anything else could end up inside
    # a quoted field name below.
    if any(c in outside for c in _INNER_WHITESPACE) or outside.count(b"\n") != outside.count(b"}\n{"):
        return None
    has_annotations, has_blobs = b"::" in outside, b"{{" in outside
    del outside
    # Inside strings, the characters the rewrites below act on become JSON escapes (decoded back by
    # the parser), so the rewrites can run over the whole text in place, quotes and all.
    contents = _SLOT.join(parts[1::2])
    escapes = [(ch, esc) for ch, esc in _ESCAPES if ch in contents]
    if any(b"\\" + ch in contents for ch, _ in escapes):
        return None         # a backslash before one of them: let the full parser judge the escape
    if escapes:
        for ch, esc in escapes:
            contents = contents.replace(ch, esc)
        parts[1::2] = contents.split(_SLOT)
    del contents
    text = b'"'.join(parts)
    del parts
    if has_annotations:
        text = _mark_annotations(text)
        if text is None:
            return None
    blobs: list[bytes] = []
    if has_blobs:
        pieces = _BLOB.split(text)
        blobs = pieces[1::2]
        text = (b":" + _BLOB_SLOT).join(pieces[0::2])
        if b"{{" in text:
            return None
    pieces = _TIMESTAMP.split(text)
    stamps = pieces[1::2]
    if stamps:
        text = (b":" + _TS_SLOT).join(pieces[0::2])
    del pieces
    if fix_decimals:
        text = _DECIMAL_DOT.sub(rb":\1.0", _DECIMAL_EXP.sub(rb":\1e", text))
    if b":null." in text:
        text = _TYPED_NULL.sub(b":null", text)
    if b":nan" in text or b"inf" in text:
        text = text.replace(b":nan", b":NaN").replace(b":+inf", b":Infinity").replace(b":-inf", b":-Infinity")
    # Structure: outside strings and slots, every `{`/`,` starts a field name and every `:` ends one.
    text = text.replace(b"{", b'{"').replace(b",", b',"').replace(b":", b'":').replace(b'{"}', b"{}")
    text = _fill(text, _TS_SLOT, stamps, _TS_OPEN, b'"')
    return _fill(text, _BLOB_SLOT, blobs, _BLOB_OPEN, b'"')


def _mark_annotations(text: bytes) -> bytes | None:
    """`:Name::"text"` -> `:"<ANN>Name<ANN_END>text"`; None if an annotation sits anywhere else."""
    for _ in range(_MAX_ANNOTATIONS):
        if b'::"' not in text:       # a plain substring test before another regex scan
            break
        m = _ANNOTATION.search(text)
        if m is None:
            break
        name = m.group(1)
        text = text.replace(b":" + name + b'::"', b':"' + _ANN_B + name + _ANN_END_B)
    return None if b"::" in text else text


def _fill(text: bytes | None, slot: bytes, values: list[bytes], open_: bytes = b"",
          close: bytes = b"") -> bytes | None:
    """Put `open_ + value + close` into each slot, in order (None if the counts disagree)."""
    if text is None or not values:
        return text if (text is None or slot not in text) else None
    if open_ or close:
        text = text.replace(slot, open_ + slot + close)
    pieces = text.split(slot)
    if len(pieces) != len(values) + 1:
        return None
    merged: list[bytes] = [b""] * (2 * len(values) + 1)
    merged[0::2] = pieces        # slice assignment: the interleave runs in C
    merged[1::2] = values
    return b"".join(merged)
