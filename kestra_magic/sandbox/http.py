"""HTTP helpers shared by the sandbox's handler modules: responses, headers, request parsing, and the
:class:`Handlers` base every per-resource handler class extends."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from werkzeug.wrappers import Response

from kestra_magic.sandbox import labels as labelsmod
from kestra_magic.sandbox import safe_json, shapes
from kestra_magic.sandbox.inputs import FilePart
from kestra_magic.sandbox.problems import ApiError, not_found
from kestra_magic.sandbox.query import int_param

SECRET_HEADERS = ("authorization", "cookie", "x-csrf-token", "proxy-authorization", "set-cookie")


def mask(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme = value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
    return f"{scheme} ***" if scheme else "***"


def json_response(data: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, content_type=content_type)


def attachment(filename: str, quoted: bool = True) -> str:
    """A Content-Disposition value safe for any file name (RFC 6266 ``filename*`` when not ASCII)."""
    from urllib.parse import quote
    plain = filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename
    if plain:
        return f'attachment; filename="{filename}"' if quoted else f"attachment; filename={filename}"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def read_json(request, what: str, *, empty: Any = None) -> Any:
    """The request body as JSON (``empty`` when there is none) within :mod:`safe_json`'s limits; the one
    JSON-body reader of the sandbox: 422 ``invalid-json`` naming the problem and what was expected."""
    data = request.get_data()
    if not data:
        return empty
    try:
        return safe_json.loads(data)
    except safe_json.JsonError as exc:
        raise ApiError(422, "invalid-json", f"Can not parse the JSON body, expected {what}: {exc}",
                       "Invalid JSON") from None


def empty(status: int) -> Response:
    return Response(b"", status=status)


class Redirect(Exception):
    """A file URI of another execution: Kestra redirects (301) to that execution's endpoint."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


class DropConnection(ConnectionAbortedError):
    """Raised to make the server close the socket without answering (fault injection)."""


# -- what every handler module shares ---------------------------------------------------------------
@dataclass
class Context:
    """What a handler needs: the settings (generation, base URL), the backend, the fault injector
    (SSE cuts) and whether the server is stopping."""
    settings: Any
    backend: Any
    faults: Any
    is_stopping: Callable[[], bool]


class Handlers:
    """Base of the per-resource handler classes: ``h_<endpoint>(request, **url values)`` methods
    that parse HTTP, call the backend and shape JSON for the generation."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.backend = ctx.backend
        self.settings = ctx.settings

    @property
    def gen(self) -> int:
        return self.settings.generation

    def endpoints(self) -> dict[str, Callable]:
        """``endpoint name -> bound handler`` for the route table."""
        return {name[2:]: getattr(self, name) for name in dir(type(self)) if name.startswith("h_")}

    # -- executions as the protocol answers them --------------------------------------------------
    def execution(self, execution_id: str, *, empty_v1: bool = False) -> dict:
        """The live execution or Kestra's 404 (1.x: "Not Found", or a bare 404 when ``empty_v1``)."""
        ex = self.backend.find_execution(execution_id)
        if ex is None:
            raise not_found(f"Execution {execution_id} not found" if self.gen == 2 or empty_v1 else "",
                            empty_v1=empty_v1)
        return ex

    def core(self, ex: dict) -> dict:
        """The Execution JSON answered by create and actions (1.x full, 2.x core)."""
        return shapes.execution(ex, self.gen, form="core" if self.gen == 2 else "full")

    def ui_url(self, ex: dict) -> str:
        return f"{self.settings.base_url}/ui/main/executions/{ex['namespace']}/{ex['flowId']}/{ex['id']}"

    @staticmethod
    def sse(stream) -> Response:
        resp = Response(stream, content_type="text/event-stream", direct_passthrough=True)
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    # -- request parsing ----------------------------------------------------------------------
    @staticmethod
    def json_body(request, what: str, *, empty: Any = None) -> Any:
        """The JSON body (:func:`read_json`)."""
        return read_json(request, what, empty=empty)

    @staticmethod
    def uploads(request) -> tuple[dict[str, str], dict[str, FilePart]]:
        """Multipart text parts and file parts (legacy part name ``files``: the file name is the input id)."""
        form = {k: v for k, v in request.form.items()}
        files: dict[str, FilePart] = {}
        for name, upload in request.files.items(multi=True):
            filename = (upload.filename or name).replace("\\", "/").rsplit("/", 1)[-1]
            if filename in ("", ".", ".."):
                filename = name
            data = upload.read()
            if name == "files":
                files[filename] = FilePart(filename, data)
            else:
                files[name] = FilePart(filename, data)
        return form, files

    @staticmethod
    def breakpoints(raw: str | None) -> list[dict] | None:
        """``a,b.value`` -> ``[{id: a}, {id: b, value: value}]``."""
        if not raw:
            return None
        out = []
        for item in raw.split(","):
            item = item.strip()
            if not item:
                continue
            task_id, sep, value = item.partition(".")
            out.append({"id": task_id, "value": value} if sep else {"id": task_id})
        return out or None

    @staticmethod
    def labels_body(request, *, empty: Any = None) -> list[dict]:
        """A JSON body that is an array of labels, checked as Kestra's ``Label`` (:mod:`labels`); ``empty``
        is what no body (or ``null``) means (``None``: a 422)."""
        body = read_json(request, "a JSON array of {\"key\", \"value\"} labels")
        return labelsmod.from_body(empty if body is None else body)

    @staticmethod
    def revision(args) -> int | None:
        return int_param(args, "revision", 0) if args.get("revision") else None
