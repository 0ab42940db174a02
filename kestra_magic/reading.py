"""Find an execution's output file (by output name, file name or ``kestra://`` URI) and read it
into pandas with the cheapest sound strategy:

- ION (both generations): download the file itself and decode it with the package's own decoder
  (exact Kestra typing: annotated java.time strings, decimals, blobs, typed nulls; and faster than the
  server's conversion). The server's ``format=JSONL`` conversion (2.x) only with ``via="jsonl"``, or
  when the server will not serve the raw file (a 5xx on the download);
- ``nrows``: the server's preview endpoint (first rows only, up to 5000) for text formats; ION previews
  decode the raw file too, so a preview keeps the column types of a full read;
- before a full download, ``/file/metas`` gives the size and a warning is raised above
  ``warn_size`` bytes (the download still happens: the warning says how to preview instead).
"""
from __future__ import annotations

import re
import warnings
from typing import Any, Iterable

from kestra_magic.errors import KestraError, KestraNotFound, KestraServerError

WARN_SIZE_BYTES = 200 * 1024 * 1024
PREVIEW_MAX_ROWS = 5000
_NOT_PREVIEWABLE = ("parquet", "avro", "bytes")      # the preview endpoint renders these as text garbage
_EXECUTION_IN_URI = re.compile(r"/executions/([A-Za-z0-9_-]+)/")
_BRACKET = re.compile(r"""\[\s*(?:'([^']*)'|"([^"]*)"|([^\]]*))\s*\]""")


class LargeFileWarning(UserWarning):
    """An output file is larger than the configured threshold."""


def _execution_id(execution: Any, what: str) -> str:
    if execution is None:
        m = _EXECUTION_IN_URI.search(what)
        if m:
            return m.group(1)
        raise KestraError(f"cannot tell which execution {what!r} belongs to; "
                          "pass the execution (or its id) together with an output name or file name")
    if isinstance(execution, str):
        return execution
    if isinstance(execution, dict) and isinstance(execution.get("id"), str):
        return execution["id"]
    if isinstance(getattr(execution, "id", None), str):        # Execution model or ExecutionHandle
        return execution.id
    raise TypeError(f"expected an execution, its handle, dict or id, got {type(execution).__name__}")


def _normalise(path: str) -> str:
    """``{{ outputs.py.outputFiles['data.csv'] }}`` -> ``outputs.py.outputFiles.data.csv``."""
    path = path.strip()
    if path.startswith("{{") and path.endswith("}}"):
        path = path[2:-2].strip()
    return _BRACKET.sub(lambda m: "." + next(g for g in m.groups() if g is not None), path).strip(".")


def _flatten(prefix: str, value: Any) -> Iterable[tuple[str, Any]]:
    yield prefix, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(f"{prefix}.{k}", v)


def _is_uri(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("kestra://", "nsfile://"))


def output_candidates(client: Any, execution_id: str) -> list[tuple[str, Any, str]]:
    """Every (path, value, label) the execution produced: flow outputs under ``outputs.<id>`` and
    ``<id>``, task outputs under ``outputs.<taskId>[.<value>].<key>...``."""
    found: list[tuple[str, Any, str]] = []
    for key, value in (client.executions.flow_outputs(execution_id) or {}).items():
        for path, v in _flatten(str(key), value):
            found.append((path, v, f"flow output {path}"))
            found.append((f"outputs.{path}", v, f"flow output {path}"))
    for info in client.executions.task_outputs(execution_id) or []:
        task, value = info.get("taskId"), info.get("value")
        bases = [f"outputs.{task}", str(task)]
        if value is not None:
            bases = [f"outputs.{task}.{value}", f"{task}.{value}"] + bases
        where = f"task {task}" + (f"[{value}]" if value is not None else "")
        for key, out in (info.get("outputs") or {}).items():
            for path, v in _flatten(str(key), out):
                for base in bases:
                    found.append((f"{base}.{path}", v, f"{where} output {path}"))
    return found


def find_file(client: Any, execution: Any, what: str) -> tuple[str, str]:
    """(execution id, ``kestra://`` URI) for an output name, a file name, or a URI."""
    execution_id = _execution_id(execution, what)
    if _is_uri(what):
        return execution_id, what
    candidates = output_candidates(client, execution_id)
    wanted = _normalise(what)
    exact = {v for path, v, _ in candidates if path == wanted}
    if exact:
        uris = {v for v in exact if _is_uri(v)}
        if not uris:
            value = next(iter(exact))
            raise KestraError(f"output {what!r} of execution {execution_id} is not a file "
                              f"(its value is {str(value)[:80]!r}); read it from ex.outputs instead")
        if len(uris) == 1:
            return execution_id, uris.pop()
    files = {v: label for _, v, label in candidates if _is_uri(v)}
    by_name = sorted({uri for uri in files if uri.rsplit("/", 1)[-1] == what or uri.endswith("/" + what.lstrip("/"))})
    if len(by_name) == 1:
        return execution_id, by_name[0]
    if len(by_name) > 1:
        raise KestraError(f"{len(by_name)} output files of execution {execution_id} are named {what!r} "
                          f"({'; '.join(files[u] for u in by_name[:5])}); name the output instead, "
                          "e.g. 'outputs.<taskId>.<value>.uri', or pass its kestra:// URI")
    names = sorted({u.rsplit('/', 1)[-1] for u in files})
    hint = f"its files are: {', '.join(names[:10])}" if names else "it produced no output files"
    raise KestraNotFound(f"no output file {what!r} in execution {execution_id}; {hint}")


def read_output(client: Any, execution: Any, what: str, *, nrows: int | None = None,
                via: str = "auto", warn_size: int | None = None, **opts: Any):
    """Read one output file of an execution as a DataFrame (bytes for formats that are not tables).

    ``what``: an output name (``"outputs.query.uri"``, ``"outputs.py.outputFiles['data.csv']"``,
    a flow output id), a file name (``"data.csv"``) or a ``kestra://`` URI. ``nrows`` reads only
    the first rows (the preview endpoint for text formats; same column types as a full read).
    ``via``: ``"auto"`` or ``"raw"`` download the file itself; ``"jsonl"`` asks a 2.x server to
    convert ION to JSON Lines (ISO date columns typed back; Kestra's annotations are lost). Other
    options go to `kestra_magic.frames.read_file` (``format``, ``keep_decimal``, ``flatten``...).
    """
    from kestra_magic.frames.files import detect_format, read_file
    if via not in ("auto", "jsonl", "raw"):
        raise ValueError(f"via={via!r} is not a read strategy; use 'auto', 'jsonl' or 'raw'")
    if nrows is not None and nrows < 0:
        raise ValueError(f"nrows must be 0 or more, got {nrows}")
    execution_id, uri = find_file(client, execution, what)
    name = uri.rsplit("/", 1)[-1]
    fmt = (opts.get("format") or detect_format(b"", name)).lower()
    if via == "jsonl" and fmt == "ion":
        if not client.converts_ion_to_jsonl:
            raise KestraError(f"this Kestra server (API generation {client.generation}) does not convert "
                              f"ION to JSON Lines; read {name} with via='auto'")
        _warn_if_large(client, execution_id, uri, warn_size)
        return _jsonl_frame(client, execution_id, uri, nrows, opts)
    if nrows is not None and fmt != "ion":
        lines = nrows + 1 if fmt in ("csv", "tsv") else nrows     # the header is a line too
        if lines <= PREVIEW_MAX_ROWS and fmt not in _NOT_PREVIEWABLE:
            frame = _preview(client, execution_id, uri, name, nrows, lines, opts)
            if frame is not None:
                return frame
    _warn_if_large(client, execution_id, uri, warn_size)
    try:
        data = client.executions.download_file(execution_id, uri)
    except KestraServerError:
        if fmt != "ion" or not client.converts_ion_to_jsonl:
            raise
        # the server would not serve the raw file: its own JSON Lines conversion is all there is
        return _jsonl_frame(client, execution_id, uri, nrows, opts)
    return read_file(data, name, nrows=nrows, **opts)


def _jsonl_frame(client: Any, execution_id: str, uri: str, nrows: int | None, opts: dict):
    """The server's ``format=JSONL`` conversion of an ION file (2.x), ISO strings typed back."""
    from kestra_magic.frames.ion import json_rows_frame
    data = client.executions.download_file(execution_id, uri, format="JSONL")
    if not _looks_like_jsonl(data):
        raise KestraError(f"the server's JSON Lines conversion of {uri.rsplit('/', 1)[-1]} is not JSON "
                          f"Lines; read it with via='auto'")
    frame = json_rows_frame(data, flatten=opts.get("flatten", False), infer_types=opts.get("infer_types", False))
    return frame.head(nrows) if nrows is not None else frame


def _looks_like_jsonl(data: bytes) -> bool:
    head = data[:64].lstrip()
    return not head or head.startswith((b'{"', b"[", b"{}"))


def _warn_if_large(client: Any, execution_id: str, uri: str, warn_size: int | None) -> None:
    limit = WARN_SIZE_BYTES if warn_size is None else warn_size
    try:
        size = int((client.executions.file_metadata(execution_id, uri) or {}).get("size") or 0)
    except KestraNotFound:
        raise
    except KestraError:
        return              # metas is advisory: a server without it still serves the file
    if size > limit:
        warnings.warn(f"{uri.rsplit('/', 1)[-1]} is {size / 1e6:.1f} MB; downloading all of it "
                      f"(use nrows=... to preview the first rows instead)", LargeFileWarning, stacklevel=3)


def _preview(client: Any, execution_id: str, uri: str, name: str, nrows: int, lines: int, opts: dict):
    from kestra_magic.frames.files import read_file
    try:
        rendered = client.executions.preview_file(execution_id, uri, max_rows=max(lines, 1))
    except KestraNotFound:
        raise
    except KestraError:
        return None         # no preview on this server: the caller downloads instead
    kind, content = rendered.get("type"), rendered.get("content")
    if kind == "LIST" and isinstance(content, list):
        from kestra_magic.frames.ion import json_rows_frame
        return json_rows_frame(content, flatten=opts.get("flatten", False),
                               infer_types=opts.get("infer_types", False)).head(nrows)
    if kind in ("TEXT", "MARKDOWN") and isinstance(content, str):
        if rendered.get("truncated") and len(content.encode()) >= 2 * 1024 * 1024 - 4:
            return None     # cut at the server's 2 MB limit mid-row: download instead
        try:
            return read_file(content.encode(), name, nrows=nrows, **opts)
        except ValueError:  # e.g. a JSON document cut after N lines: download instead
            return None
    return None


def search_executions_frame(client: Any, *, limit: int = 100, page_size: int = 100, **filters: Any):
    """Executions matching ``filters`` (``namespace``, ``flow_id``, ``state``, ``labels``, ``sort``)
    as a frame, following pages until ``limit`` rows (``None``: all of them)."""
    from kestra_magic.frames.tables import executions_frame
    return executions_frame(_pages(client.executions.search_executions, limit, page_size, filters))


def search_flows_frame(client: Any, *, limit: int = 100, page_size: int = 100, **filters: Any):
    """Flows matching ``filters`` (``namespace``, ``q``, ``labels``, ``sort``) as a frame, following
    pages until ``limit`` rows (``None``: all of them)."""
    from kestra_magic.frames.tables import flows_frame
    return flows_frame(_pages(client.flows.search_flows, limit, page_size, filters))


def _pages(search: Any, limit: int | None, page_size: int, filters: dict) -> list:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more (None for everything), got {limit}")
    items: list = []
    page = 1
    size = page_size if limit is None else max(1, min(page_size, limit))   # one size: offsets line up
    while limit is None or len(items) < limit:
        result = search(page=page, size=size, **filters)
        items.extend(result.results)
        if not result.results or page * size >= result.total:
            break
        page += 1
    return items if limit is None else items[:limit]
