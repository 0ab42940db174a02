"""plugin-serdes converters: CsvToIon, JsonToIon, IonToCsv, IonToJson (Kestra's typing rules).

``CsvToIon`` keeps every cell a string (Kestra does); ``JsonToIon`` keeps JSON types;
the Ion writers emit text Ion on 1.x and one binary Ion stream on 2.x (``FileSerde.writeAll``).
"""
from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
from collections.abc import Mapping
from pathlib import PurePosixPath

from kestra_magic.sandbox import ion
from kestra_magic.sandbox.expressions import format_java as _format_java
from kestra_magic.sandbox.tasks.base import TaskFailure, task

SERDES = "io.kestra.plugin.serdes."


def _source(props: dict, ctx) -> tuple[str, bytes]:
    uri = str(ctx.render(props["from"]))
    if not uri.startswith("kestra://"):
        raise TaskFailure(f"`from` must be an internal storage URI (kestra:///...), got '{uri}'")
    return uri, ctx.local_path(uri).read_bytes()


def _stem(uri: str) -> str:
    return PurePosixPath(uri).stem or "data"


def _char(props: dict, ctx, key: str, default: str) -> str:
    value = ctx.render(props.get(key, default))
    return str(value) if value is not None else default


@task(SERDES + "csv.CsvToIon", required=["from"],
      optional=["fieldSeparator", "textDelimiter", "header", "skipEmptyRows", "skipRows", "charset",
                "errorOnDifferentFieldCount", "maxRows"],
      aliases=["io.kestra.plugin.serdes.csv.CsvReader"])
def csv_to_ion(props: dict, ctx) -> dict:
    """CSV -> ION rows; every cell stays a string; ``header: false`` gives array rows."""
    uri, data = _source(props, ctx)
    text = data.decode(str(ctx.render(props.get("charset", "UTF-8"))))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_char(props, ctx, "fieldSeparator", ","),
                        quotechar=_char(props, ctx, "textDelimiter", '"'))
    rows = list(reader)[int(ctx.render(props.get("skipRows", 0)) or 0):]
    if str(ctx.render(props.get("skipEmptyRows", False))).lower() == "true":
        rows = [r for r in rows if any(cell != "" for cell in r)]
    else:
        rows = [r for r in rows if r]
    header = str(ctx.render(props.get("header", True))).lower() != "false"
    strict = str(ctx.render(props.get("errorOnDifferentFieldCount", False))).lower() == "true"
    out: list = []
    if header and rows:
        names, body = rows[0], rows[1:]
        for n, row in enumerate(body, start=2):
            if strict and len(row) != len(names):
                raise TaskFailure(f"Line {n} has {len(row)} fields, the header has {len(names)}")
            out.append({name: (row[i] if i < len(row) else None) for i, name in enumerate(names)})
    else:
        out = [list(r) for r in rows]
    limit = props.get("maxRows")
    if limit is not None:
        out = out[: int(ctx.render(limit))]
    result = ion.write_rows(out, ctx.generation, single_stream=True)
    ctx.log("DEBUG", f"Converted {len(out)} CSV rows to ION")
    return {"uri": ctx.put_file(f"{_stem(uri)}.ion", result)}


@task(SERDES + "json.JsonToIon", required=["from"], optional=["charset", "newLine"],
      aliases=["io.kestra.plugin.serdes.json.JsonReader"])
def json_to_ion(props: dict, ctx) -> dict:
    """JSON Lines (``newLine: true``, default) or a JSON document/array -> ION rows."""
    uri, data = _source(props, ctx)
    text = data.decode(str(ctx.render(props.get("charset", "UTF-8"))))
    new_line = str(ctx.render(props.get("newLine", True))).lower() != "false"
    try:
        if new_line:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            doc = json.loads(text)
            rows = doc if isinstance(doc, list) else [doc]
    except ValueError as exc:
        hint = " (set `newLine: false` for a JSON document or array)" if new_line else ""
        raise TaskFailure(f"Invalid JSON in '{uri}': {exc}{hint}") from None
    return {"uri": ctx.put_file(f"{_stem(uri)}.ion", ion.write_rows(rows, ctx.generation, single_stream=True))}


def _parse_temporal(text: str) -> dt.datetime:
    import re
    return dt.datetime.fromisoformat(re.sub(r"\[.*\]$", "", text).replace("Z", "+00:00"))


# annotated Ion strings Kestra reads back as java.time values
_TEMPORAL = {"LocalDateTime": _parse_temporal, "ZonedDateTime": _parse_temporal, "OffsetDateTime": _parse_temporal,
             "LocalTime": dt.time.fromisoformat, "OffsetTime": dt.time.fromisoformat,
             "LocalDate": dt.date.fromisoformat}


def _java_double(value: float) -> str:
    text = repr(value)
    if "e" in text or "E" in text:
        mantissa, exp = text.lower().split("e")
        if "." not in mantissa:
            mantissa += ".0"
        return f"{mantissa}E{int(exp)}"
    return text


def _zone(props: dict, ctx):
    name = props.get("timeZoneId")
    if not name:
        return dt.timezone.utc
    name = str(ctx.render(name))
    if name.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    from zoneinfo import ZoneInfo
    return ZoneInfo(name)


@task(SERDES + "csv.IonToCsv", required=["from"],
      optional=["fieldSeparator", "textDelimiter", "header", "lineDelimiter", "charset", "dateFormat",
                "timeFormat", "dateTimeFormat", "timeZoneId", "alwaysDelimitText"],
      aliases=["io.kestra.plugin.serdes.csv.CsvWriter"])
def ion_to_csv(props: dict, ctx) -> dict:
    """ION rows -> CSV (header from the first row's fields, dates formatted like Kestra)."""
    uri, data = _source(props, ctx)
    zone = _zone(props, ctx)
    date_format = str(ctx.render(props.get("dateFormat", "yyyy-MM-dd")))
    time_format = str(ctx.render(props.get("timeFormat", "HH:mm:ss[XXX]")))
    datetime_format = str(ctx.render(props.get("dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSS[XXX]")))

    def cell(value):
        java = ion.annotation(value)
        value = ion.to_python(value)
        if isinstance(value, str) and java in _TEMPORAL:
            value = _TEMPORAL[java](value)
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, dt.datetime):
            moment = value.astimezone(zone) if value.tzinfo else value
            return _format_java(moment, datetime_format)
        if isinstance(value, dt.date):
            return _format_java(dt.datetime(value.year, value.month, value.day), date_format)
        if isinstance(value, dt.time):
            return _format_java(dt.datetime.combine(dt.date(2000, 1, 1), value), time_format)
        if isinstance(value, float):
            return _java_double(value)
        if isinstance(value, decimal.Decimal):
            return str(value)
        if isinstance(value, (dict, list)):
            return json.dumps(value, default=str, separators=(",", ":"))
        if isinstance(value, bytes):
            import base64
            return base64.b64encode(value).decode()
        return str(value)

    rows = ion.read_rows(data)
    buffer = io.StringIO(newline="")
    always = str(ctx.render(props.get("alwaysDelimitText", False))).lower() == "true"
    writer = csv.writer(buffer, delimiter=_char(props, ctx, "fieldSeparator", ","),
                        quotechar=_char(props, ctx, "textDelimiter", '"'),
                        lineterminator=_char(props, ctx, "lineDelimiter", "\n"),
                        quoting=csv.QUOTE_NONNUMERIC if always else csv.QUOTE_MINIMAL)
    header = str(ctx.render(props.get("header", True))).lower() != "false"
    names: list[str] | None = None
    for row in rows:
        if isinstance(row, Mapping):
            if names is None:
                names = [str(k) for k in row.keys()]
                if header:
                    writer.writerow(names)
            writer.writerow([cell(row.get(name)) for name in names])
        else:
            writer.writerow([cell(v) for v in (row if isinstance(row, list) else [row])])
    charset = str(ctx.render(props.get("charset", "UTF-8")))
    return {"uri": ctx.put_file(f"{_stem(uri)}.csv", buffer.getvalue().encode(charset))}


def _json_ready(value, zone, keep_annotations: bool):
    note = ion.annotation(value)
    plain = ion.to_python(value)
    if isinstance(plain, dict):
        return {k: _json_ready(v, zone, keep_annotations) for k, v in value.items()}
    if isinstance(plain, list):
        return [_json_ready(v, zone, keep_annotations) for v in value]
    if isinstance(plain, dt.datetime):
        moment = plain.astimezone(zone) if plain.tzinfo else plain
        text = moment.isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    if isinstance(plain, dt.date):
        return plain.isoformat()
    if isinstance(plain, decimal.Decimal):
        return float(plain) if plain != plain.to_integral_value() else int(plain)
    if isinstance(plain, bytes):
        import base64
        return base64.b64encode(plain).decode()
    if keep_annotations and note and isinstance(plain, str):
        return {"ion_annotations": [note], "value": plain}
    return plain


@task(SERDES + "json.IonToJson", required=["from"], optional=["newLine", "charset", "timeZoneId",
                                                               "shouldKeepAnnotations"],
      aliases=["io.kestra.plugin.serdes.json.JsonWriter"])
def ion_to_json(props: dict, ctx) -> dict:
    """ION rows -> JSON Lines (``newLine: true``, default, ``.jsonl``) or one JSON array (``.json``)."""
    uri, data = _source(props, ctx)
    zone = _zone(props, ctx)
    keep = str(ctx.render(props.get("shouldKeepAnnotations", False))).lower() == "true"
    rows = [_json_ready(v, zone, keep) for v in ion.read_rows(data)]
    new_line = str(ctx.render(props.get("newLine", True))).lower() != "false"
    charset = str(ctx.render(props.get("charset", "UTF-8")))
    if new_line:
        body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        return {"uri": ctx.put_file(f"{_stem(uri)}.jsonl", body.encode(charset))}
    return {"uri": ctx.put_file(f"{_stem(uri)}.json", json.dumps(rows, ensure_ascii=False).encode(charset))}
