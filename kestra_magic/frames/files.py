"""Output files -> DataFrames (dispatch by extension and content), and DataFrames -> upload bytes.

ION goes through `kestra_magic.frames.ion`; CSV/TSV/JSON/JSON Lines through pandas; Parquet and
Avro through the optional extras (pyarrow, fastavro). Anything else comes back as bytes.
"""
from __future__ import annotations

import io
import json
import os
from typing import Any

from kestra_magic.frames.ion import BINARY_MARKER

FORMATS = ("ion", "csv", "tsv", "json", "jsonl", "parquet", "avro", "bytes")
_EXTENSIONS = {
    ".ion": "ion", ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".jsonl": "jsonl",
    ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".avro": "avro",
}
_EXTRAS = {"parquet": ("pyarrow", "parquet"), "avro": ("fastavro", "avro")}


class MissingExtraError(ImportError):
    """An optional dependency for a file format is not installed."""


def detect_format(data: bytes, name: str = "") -> str:
    """The reader to use for a file: content magic first (binary formats), then the extension."""
    if data[:4] == BINARY_MARKER:
        return "ion"
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:4] == b"Obj\x01":
        return "avro"
    base = os.path.basename(name.split("?", 1)[0]).lower()
    for ext, fmt in _EXTENSIONS.items():
        if base.endswith(ext):
            return fmt
    return "bytes"


def read_file(data: bytes, name: str = "", *, format: str | None = None, nrows: int | None = None,
              keep_decimal: bool = False, flatten: bool = False, infer_types: bool = False, **opts: Any):
    """File bytes -> DataFrame (or the bytes themselves for formats that are not tables).

    ``format`` forces a reader (one of FORMATS); ``nrows`` keeps the first rows; ``keep_decimal``,
    ``flatten`` and ``infer_types`` apply to ION (see `read_ion`); other keyword arguments go to
    the pandas reader (e.g. ``sep=";"`` for CSV)."""
    fmt = (format or detect_format(data, name)).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {format!r} for {name or 'the file'}; use one of {', '.join(FORMATS)}")
    if fmt == "bytes":
        return data
    import pandas as pd
    if fmt == "ion":
        from kestra_magic.frames.ion import read_ion
        frame = read_ion(data, keep_decimal=keep_decimal, flatten=flatten, infer_types=infer_types)
    elif fmt in ("csv", "tsv"):
        if not data.strip():
            return pd.DataFrame()
        opts.setdefault("sep", "\t" if fmt == "tsv" else ",")
        frame = pd.read_csv(io.BytesIO(data), nrows=nrows, **opts)
    elif fmt in ("json", "jsonl"):
        frame = _read_json(data, fmt, nrows, **opts)
    elif fmt == "parquet":
        _require("parquet")
        frame = pd.read_parquet(io.BytesIO(data), **opts)
    else:
        frame = _read_avro(data)
    return frame.head(nrows) if nrows is not None else frame


def _read_json(data: bytes, fmt: str, nrows: int | None, **opts: Any):
    import pandas as pd
    text = data.strip()
    if not text:
        return pd.DataFrame()
    if fmt == "json":
        try:
            doc = json.loads(text)
        except ValueError:
            fmt = "jsonl"       # several documents: JSON Lines under a .json name (IonToJson's default)
        else:
            if isinstance(doc, list):
                return pd.json_normalize(doc, max_level=0) if doc and all(isinstance(d, dict) for d in doc) \
                    else pd.DataFrame({"value": doc})
            if isinstance(doc, dict):
                return pd.DataFrame([doc])
            return pd.DataFrame({"value": [doc]})
    return pd.read_json(io.BytesIO(text), lines=True, nrows=nrows, **opts)


def _require(fmt: str) -> None:
    module, extra = _EXTRAS[fmt]
    try:
        __import__(module)
    except ImportError:
        raise MissingExtraError(f"reading or writing {fmt} files needs {module}: "
                                f"pip install 'kestra-magic[{extra}]'") from None


def _read_avro(data: bytes):
    _require("avro")
    import fastavro
    import pandas as pd
    records = list(fastavro.reader(io.BytesIO(data)))
    return pd.DataFrame.from_records(records)


UPLOAD_FORMAT_ATTR = "kestra_upload_format"


def to_upload(df, fmt: str | None = None, name: str = "data") -> tuple[str, bytes]:
    """A DataFrame -> (filename, bytes) for a FILE input: CSV (default), ION (Kestra's text form,
    readable by both generations), Parquet or JSON Lines.

    Without ``fmt``, ``df.attrs["kestra_upload_format"]`` decides (so a frame can carry its
    format into ``%kestra_run``); the returned pair is itself a valid FILE input value."""
    fmt = (fmt or df.attrs.get(UPLOAD_FORMAT_ATTR) or "csv").lower()
    if fmt == "csv":
        return f"{name}.csv", df.to_csv(index=False).encode()
    if fmt in ("jsonl", "json"):
        return f"{name}.jsonl", df.to_json(orient="records", lines=True, date_format="iso").encode()
    if fmt == "parquet":
        _require("parquet")
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return f"{name}.parquet", buf.getvalue()
    if fmt == "ion":
        from kestra_magic.frames.ion_write import write_ion
        return f"{name}.ion", write_ion(df)
    raise ValueError(f"cannot upload a DataFrame as {fmt!r}; use csv, ion, parquet or jsonl")
