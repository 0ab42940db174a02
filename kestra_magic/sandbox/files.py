"""Internal-storage files: ION rows (text on 1.x, binary on 2.x), previews and JSONL export.

Kestra's preview renders ``.ion`` as a LIST of JSON rows, ``.md`` as MARKDOWN, images as
base64 and everything else as the first lines of text (kestra-api.md §4, ion-and-tasks.md §1.4).
"""
from __future__ import annotations

import base64
import codecs
import datetime as dt
import json
from decimal import Decimal
from typing import Any, Iterable

from kestra_magic.sandbox import ion
PREVIEW_INITIAL_ROWS = 100
PREVIEW_MAX_ROWS = 5000
PREVIEW_MAX_BYTES = 2 * 1024 * 1024
IMAGE_EXTENSIONS = {"jpg", "jpeg", "png", "gif", "svg", "bmp", "webp"}


def read_ion(data: bytes) -> list[Any]:
    """Every top-level value of a text or binary (possibly concatenated) Ion file."""
    return ion.read_rows(data)


def ion_to_json(value: Any) -> Any:
    """An Ion value as Kestra's JSON: timestamps -> ISO strings (UTC, milliseconds, ``Z``; day
    precision -> a date), decimals -> numbers, blobs -> base64, nulls -> None. Ion typing is
    ``ion.to_python``'s; this only writes its values as JSON."""
    return _json_value(ion.to_python(value))


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 \
            else float(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def write_ion(rows: Iterable[Any], generation: int) -> bytes:
    """Rows as Kestra writes them: one text value per line (1.x), binary row streams (2.x)."""
    return ion.write_rows(rows, generation)


annotated = ion.annotated   # an Ion string with Kestra's Java type annotation (``LocalDateTime::"..."``)


def to_jsonl(data: bytes) -> bytes:
    """An ION file as JSON Lines (2.x ``format=JSONL`` download)."""
    return b"".join(json.dumps(ion_to_json(v), separators=(",", ":")).encode() + b"\n"
                    for v in read_ion(data))


def extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def preview(path: str, data: bytes, max_rows: int | None, encoding: str | None) -> dict:
    """Kestra's ``FileRender`` for a stored file: ``{extension, type, content, maxLine, truncated}``.

    Raises ``LookupError`` for an unknown ``encoding`` and ``ValueError`` for an unreadable ION file.
    """
    rows = PREVIEW_INITIAL_ROWS if max_rows is None else max(1, min(int(max_rows), PREVIEW_MAX_ROWS))
    charset = codecs.lookup(encoding or "UTF-8").name
    ext = extension(path)
    if ext == "ion":
        values = read_ion(data)
        return {"extension": ext, "type": "LIST", "content": [ion_to_json(v) for v in values[:rows]],
                "maxLine": rows, "truncated": len(values) > rows}
    if ext in IMAGE_EXTENSIONS:
        return {"extension": ext, "type": "IMAGE", "content": base64.b64encode(data).decode(),
                "maxLine": rows, "truncated": False}
    text = data.decode(charset, errors="replace")
    lines = text.splitlines()
    kept = "\n".join(lines[:rows])
    truncated = len(lines) > rows
    if len(kept.encode(charset, errors="replace")) > PREVIEW_MAX_BYTES:
        kept = kept.encode(charset, errors="replace")[:PREVIEW_MAX_BYTES].decode(charset, errors="ignore")
        truncated = True
    return {"extension": ext, "type": "MARKDOWN" if ext == "md" else "TEXT", "content": kept,
            "maxLine": rows, "truncated": truncated}
