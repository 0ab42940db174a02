"""The sandbox's HTTP protocol: Kestra's routes, status codes and bodies for 1.x and 2.x.

A WSGI application (Werkzeug routing) over the :class:`~kestra_magic.sandbox.store.Store`;
running flows is delegated to the engine through the seam in docs/interfaces.md. Every
error becomes the generation's error body (JsonError / problem+json); nothing a client
sends should produce a 500.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import secrets
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox import files as filesmod
from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import shapes, sse
from kestra_magic.sandbox.faults import FaultInjector
from kestra_magic.sandbox.problems import (ApiError, bad_request, conflict, illegal_argument,
                                           invalid_entity, not_found, render_error)
from kestra_magic.sandbox.query import (bool_param, int_param, invalid_filters, matches,
                                        parse_filters, sort_and_page)
from kestra_magic.sandbox.store import Store, uri_to_relpath

log = logging.getLogger("kestra_magic.sandbox")

SECRET_HEADERS = ("authorization", "cookie", "x-csrf-token", "proxy-authorization", "set-cookie")
EXECUTION_FIELDS = {"q", "scope", "namespace", "flowId", "state", "labels", "startDate", "endDate",
                    "timeRange", "kind", "triggerExecutionId", "childFilter", "id", "executionId",
                    "parentId", "flowRevision"}
FLOW_FIELDS = {"q", "scope", "namespace", "flowId", "labels", "id", "updated"}
LOG_FIELDS = {"level", "taskId", "taskRunId", "attemptNumber", "q", "namespace", "flowId",
              "executionId", "triggerId", "startDate", "endDate", "scope", "timeRange"}
KINDS = {1: {"NORMAL", "TEST", "PLAYGROUND"}, 2: {"NORMAL", "TEST", "PLAYGROUND", "LOOP"}}


@dataclass
class RecordedRequest:
    """One request as the sandbox received it (secrets in headers masked)."""
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, int]] = field(default_factory=dict)
    body: bytes = b""


@dataclass
class Settings:
    generation: int = 2
    version: str = "2.0.3"
    username: str | None = None
    password: str | None = None
    token: str | None = None
    base_url: str = ""
    max_body_size: int = 100 * 1024 * 1024

    def __repr__(self) -> str:  # never show credentials
        return (f"Settings(generation={self.generation}, version={self.version!r}, "
                f"auth={'on' if self.auth_required else 'off'}, base_url={self.base_url!r})")

    @property
    def auth_required(self) -> bool:
        return bool((self.username and self.password) or self.token)


def _mask(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme = value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
    return f"{scheme} ***" if scheme else "***"


def _json(data: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, content_type=content_type)


def _attachment(filename: str, quoted: bool = True) -> str:
    """A Content-Disposition value safe for any file name (RFC 6266 ``filename*`` when not ASCII)."""
    from urllib.parse import quote
    plain = filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename
    if plain:
        return f'attachment; filename="{filename}"' if quoted else f"attachment; filename={filename}"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _empty(status: int) -> Response:
    return Response(b"", status=status)


class Redirect(Exception):
    """A file URI of another execution: Kestra redirects (301) to that execution's endpoint."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


class DropConnection(ConnectionAbortedError):
    """Raised to make the server close the socket without answering (fault injection)."""


def _rules() -> list[Rule]:
    T = "/api/v1/<tenant>"
    E = f"{T}/executions/<execution_id>"
    r = [
        Rule("/api/v1/configs", methods=["GET"], endpoint="configs"),
        Rule("/api/v1/configs/login", methods=["GET"], endpoint="configs_login"),
        Rule("/api/v1/login", methods=["POST"], endpoint="login"),
        Rule("/ping", methods=["GET"], endpoint="ping"),
        # flows
        Rule(f"{T}/flows", methods=["POST"], endpoint="flow_create"),
        Rule(f"{T}/flows/validate", methods=["POST"], endpoint="flow_validate"),
        Rule(f"{T}/flows/search", methods=["GET"], endpoint="flow_search"),
        Rule(f"{T}/flows/<namespace>", methods=["GET"], endpoint="flow_list"),
        Rule(f"{T}/flows/<namespace>/<flow_id>", methods=["GET"], endpoint="flow_get"),
        Rule(f"{T}/flows/<namespace>/<flow_id>", methods=["PUT"], endpoint="flow_update"),
        Rule(f"{T}/flows/<namespace>/<flow_id>", methods=["DELETE"], endpoint="flow_delete"),
        Rule(f"{T}/flows/<namespace>/<flow_id>/revisions", methods=["GET"], endpoint="flow_revisions"),
        # executions
        Rule(f"{T}/executions/search", methods=["GET"], endpoint="execution_search"),
        Rule(f"{T}/executions", methods=["GET"], endpoint="execution_list"),
        Rule(f"{T}/executions/<namespace>/<flow_id>", methods=["POST"], endpoint="execution_create"),
        Rule(E, methods=["GET"], endpoint="execution_get"),
        Rule(E, methods=["DELETE"], endpoint="execution_delete"),
        Rule(f"{E}/follow", methods=["GET"], endpoint="execution_follow"),
        Rule(f"{E}/file", methods=["GET"], endpoint="file_download"),
        Rule(f"{E}/file/metas", methods=["GET"], endpoint="file_metas"),
        Rule(f"{E}/file/preview", methods=["GET"], endpoint="file_preview"),
        # logs
        Rule(f"{T}/logs/<execution_id>", methods=["GET"], endpoint="logs_list"),
        Rule(f"{T}/logs/<execution_id>/download", methods=["GET"], endpoint="logs_download"),
        Rule(f"{T}/logs/<execution_id>/follow", methods=["GET"], endpoint="logs_follow"),
    ]
    return r


def _v1_rules() -> list[Rule]:
    T = "/api/v1/<tenant>"
    E = f"{T}/executions/<execution_id>"
    return [
        Rule(f"{T}/executions/trigger/<namespace>/<flow_id>", methods=["POST"], endpoint="execution_create"),
        Rule(f"{E}/kill", methods=["DELETE"], endpoint="action_kill"),
        Rule(f"{E}/restart", methods=["POST"], endpoint="action_restart"),
        Rule(f"{E}/resume", methods=["POST"], endpoint="action_resume"),
        Rule(f"{E}/resume-from-breakpoint", methods=["POST"], endpoint="action_resume_breakpoint"),
        Rule(f"{E}/replay", methods=["POST"], endpoint="action_replay"),
        Rule(f"{E}/pause", methods=["POST"], endpoint="action_pause"),
        Rule(f"{E}/labels", methods=["POST"], endpoint="action_labels"),
    ]


def _v2_rules() -> list[Rule]:
    T = "/api/v1/<tenant>"
    A = f"{T}/executions/<execution_id>/actions"
    return [
        Rule(f"{A}/kill", methods=["DELETE"], endpoint="action_kill"),
        Rule(f"{A}/restart", methods=["POST"], endpoint="action_restart"),
        Rule(f"{A}/resume", methods=["POST"], endpoint="action_resume"),
        Rule(f"{A}/resume-from-breakpoint", methods=["POST"], endpoint="action_resume_breakpoint"),
        Rule(f"{A}/replay", methods=["POST"], endpoint="action_replay"),
        Rule(f"{A}/pause", methods=["POST"], endpoint="action_pause"),
        Rule(f"{A}/labels", methods=["POST"], endpoint="action_labels"),
        Rule(f"{T}/outputs/executions/<execution_id>", methods=["GET"], endpoint="outputs_flow"),
        Rule(f"{T}/outputs/tasks/<execution_id>", methods=["GET"], endpoint="outputs_tasks"),
        Rule(f"{T}/outputs/tasks/<execution_id>/<task_run_id>", methods=["GET"], endpoint="outputs_task_run"),
        Rule(f"{T}/outputs/<execution_id>", methods=["GET"], endpoint="outputs_tasks"),
        Rule(f"{T}/outputs/<execution_id>/<task_run_id>", methods=["GET"], endpoint="outputs_task_run"),
    ]


def engine_errors():
    """The engine's EngineConflict / EngineInvalid classes (or never-raised stand-ins)."""
    try:
        from kestra_magic.sandbox.engine import EngineConflict, EngineInvalid
        return EngineConflict, EngineInvalid
    except ImportError:
        class _Never(Exception):
            pass
        return _Never, _Never


class Application:
    """The WSGI app of one sandbox: routing, auth, faults, recording, error mapping."""

    def __init__(self, settings: Settings, store: Store, engine: Any, faults: FaultInjector,
                 recorded: list[RecordedRequest], is_stopping: Callable[[], bool]):
        self.settings = settings
        self.store = store
        self.engine = engine
        self.faults = faults
        self.recorded = recorded
        self.is_stopping = is_stopping
        gen_rules = _v1_rules() if settings.generation == 1 else _v2_rules()
        self.url_map = Map(_rules() + gen_rules, strict_slashes=False, merge_slashes=False)
        self.engine_conflict, self.engine_invalid = engine_errors()

    @property
    def gen(self) -> int:
        return self.settings.generation

    # -- WSGI entry --------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.settings.max_body_size
        request.max_form_memory_size = self.settings.max_body_size
        path = request.path
        if path.startswith("/_sandbox/"):
            return self._control(request)(environ, start_response)
        rec = self._record(request)
        if self.faults.delay:
            time.sleep(self.faults.delay)
        fault = self.faults.take(request.method, path)
        if fault is not None and fault.kind == "fail":
            resp = Response(fault.body or b"", status=fault.status, headers=fault.headers,
                            content_type=fault.content_type or ("application/json" if fault.body else None))
            return resp(environ, start_response)
        if fault is not None and fault.kind == "drop" and not fault.after_handling:
            self._drop(environ)
        response = self._handle(request, rec)
        if fault is not None and fault.kind == "drop":
            if not response.is_streamed:
                response.get_data()     # make sure the work is fully done before dropping
            self._drop(environ)
        if fault is not None and fault.kind == "malformed":
            response = self._corrupt(response, fault.malformed)
        return response(environ, start_response)

    @staticmethod
    def _drop(environ) -> None:
        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise DropConnection("sandbox fault: connection dropped")

    @staticmethod
    def _corrupt(response: Response, kind: str) -> Response:
        body = response.get_data()
        if kind == "truncated":
            full = len(body) if len(body) > 1 else 64
            cut = body[: max(1, len(body) // 2)] if body else b"{"
            resp = Response(iter([cut]), status=response.status_code,
                            content_type=response.content_type or "application/json")
            resp.headers["Content-Length"] = str(full)   # promise more than is sent, then close
            return resp
        if kind == "invalid-json":
            return Response(body[: len(body) // 2] + b"<<not json", status=response.status_code,
                            content_type="application/json")
        html = (b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>"
                b"<h1>Bad Gateway</h1><p>The proxy received an invalid response.</p></body></html>")
        return Response(html, status=response.status_code, content_type="text/html; charset=utf-8")

    def _record(self, request: Request) -> RecordedRequest:
        rec = RecordedRequest(
            method=request.method, path=request.path,
            query={k: request.args.getlist(k) for k in request.args.keys()},
            headers={k: _mask(k, v) for k, v in request.headers.items()})
        self.recorded.append(rec)
        return rec

    def _fill_record(self, request: Request, rec: RecordedRequest) -> None:
        """Read the body (bounded) and note form fields / uploads on the record."""
        rec.body = request.get_data(cache=True)
        if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
            rec.form = {k: (v[0] if len(v) == 1 else v) for k, v in request.form.lists()}
            for name, upload in request.files.items(multi=True):
                data = upload.read()
                upload.seek(0)
                rec.files[name] = (upload.filename or "", len(data))

    # -- dispatch ---------------------------------------------------------------------------
    def _handle(self, request: Request, rec: RecordedRequest) -> Response:
        instance = request.path
        try:
            length = request.content_length
            if length is not None and length > self.settings.max_body_size:
                raise self._too_large(length)
            if request.path.startswith("/api/v1/") and not self._open(request.path) \
                    and not self._authenticated(request):
                return self._unauthorized(request)
            adapter = self.url_map.bind_to_environ(request.environ)
            endpoint, values = adapter.match()
            self._fill_record(request, rec)
            handler = getattr(self, "h_" + endpoint)
            return handler(request, **values)
        except ApiError as err:
            return self._error(err, instance)
        except Redirect as moved:
            resp = _empty(301)
            resp.headers["Location"] = moved.location
            return resp
        except RequestEntityTooLarge:
            return self._error(self._too_large(request.content_length), instance)
        except MethodNotAllowed as exc:
            err = ApiError(405, "method-not-allowed", f"Method [{request.method}] not allowed for URI "
                           f"[{request.path}]. Allowed methods: {sorted(exc.valid_methods or [])}",
                           "Method Not Allowed", headers={"Allow": ", ".join(sorted(exc.valid_methods or []))})
            return self._error(err, instance)
        except NotFound:
            return self._error(self._page_not_found(), instance)
        except HTTPException as exc:
            return self._error(ApiError(exc.code or 400, "bad-request", exc.description or "", exc.name), instance)
        except DropConnection:
            raise
        except self.engine_conflict as exc:
            return self._error(conflict(str(exc)), instance)
        except self.engine_invalid as exc:
            return self._error(illegal_argument(str(exc)), instance)
        except Exception as exc:  # a sandbox bug: report it like Kestra does, never a stack trace
            log.error("sandbox error on %s %s:\n%s", request.method, request.path, traceback.format_exc())
            return self._error(ApiError(500, "internal-error", f"{type(exc).__name__}: {exc}",
                                        "Internal server error"), instance)

    def _error(self, err: ApiError, instance: str) -> Response:
        status, headers, body = render_error(err, self.gen, instance)
        resp = Response(body, status=status)
        for k, v in headers.items():
            resp.headers[k] = v
        return resp

    def _too_large(self, length: int | None) -> ApiError:
        return ApiError(413, "payload-too-large",
                        f"The content length [{length}] exceeds the maximum allowed content length "
                        f"[{self.settings.max_body_size}]", "Request Entity Too Large")

    def _page_not_found(self) -> ApiError:
        if self.gen == 1:
            return ApiError(404, "not-found", "", "Not Found", [("", "Page Not Found")], v1_message="Not Found")
        return not_found("Resource not found")

    # -- auth -------------------------------------------------------------------------------
    def _open(self, path: str) -> bool:
        p = path.rstrip("/")
        if self.gen == 1:
            return p == "/api/v1/configs"
        return p in ("/api/v1/configs/login", "/api/v1/login")

    def _credentials_ok(self, user: str, password: str) -> bool:
        s = self.settings
        return bool(s.username and s.password) and secrets.compare_digest(user, s.username) \
            and secrets.compare_digest(password, s.password)

    def _authenticated(self, request: Request) -> bool:
        s = self.settings
        if not s.auth_required:
            return True
        header = request.headers.get("Authorization", "")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer" and s.token:
            return secrets.compare_digest(credentials.strip(), s.token)
        token = credentials if scheme.lower() == "basic" else request.cookies.get("BASIC_AUTH", "")
        if token:
            try:
                user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError, ValueError):
                return False
            return self._credentials_ok(user, password)
        return False

    def _unauthorized(self, request: Request) -> Response:
        err = ApiError(401, "unauthenticated", "Authentication required", "Unauthorized", empty_v1=True)
        if not request.headers.get("Referer", "").endswith("/login"):
            err.headers["WWW-Authenticate"] = "Basic"
        return self._error(err, request.path)

    # -- control endpoint (/_sandbox/faults) ------------------------------------------------
    def _control(self, request: Request) -> Response:
        if request.path.rstrip("/") != "/_sandbox/faults":
            return _json({"message": "Unknown sandbox control endpoint; use /_sandbox/faults"}, 404)
        if request.method == "DELETE":
            self.faults.clear()
            return _empty(204)
        if request.method == "GET":
            return _json(self.faults.active())
        if request.method == "POST":
            try:
                spec = json.loads(request.get_data() or b"null")
                self.faults.configure(spec)
            except (ValueError, TypeError) as exc:
                return _json({"message": f"Invalid fault: {exc}"}, 400)
            return _json(self.faults.active())
        return _json({"message": "Use GET, POST or DELETE on /_sandbox/faults"}, 405)

    # -- misc -------------------------------------------------------------------------------
    def _configuration(self) -> dict:
        s = self.settings
        out = {"uuid": "00000000-sandbox-" + s.version, "version": s.version, "edition": "OSS",
               "commitId": "sandbox", "commitDate": "2026-01-01T00:00:00Z",
               "chartDefaultDuration": "P30D", "isCustomDashboardsEnabled": False,
               "isAnonymousUsageEnabled": False, "isUiAnonymousUsageEnabled": False,
               "environment": {"name": "sandbox", "color": "#8405FF"},
               "url": s.base_url + "/", "preview": {"initial": filesmod.PREVIEW_INITIAL_ROWS,
                                                     "max": filesmod.PREVIEW_MAX_ROWS},
               "systemNamespace": "system", "hiddenLabelsPrefixes": ["system."],
               "isAiEnabled": False, "isBasicAuthInitialized": True, "pluginsHash": 0}
        if self.gen == 2:
            out.update({"isAiApiKeyConfigured": False, "isConcurrencyViewEnabled": False,
                        "flowTemplate": "id: myflow\nnamespace: company.team\ntasks: []\n"})
        else:
            out["isTemplateEnabled"] = False
        return out

    def h_configs(self, request):
        return _json(self._configuration())

    def h_configs_login(self, request):
        if self.gen == 1:
            raise self._page_not_found()
        return _json({"isBasicAuthInitialized": True})

    def h_ping(self, request):
        if self.gen == 1:
            raise self._page_not_found()
        return Response("pong", content_type="text/plain")

    def h_login(self, request):
        if self.gen == 1:
            raise self._page_not_found()
        try:
            body = json.loads(request.get_data() or b"{}")
            user, password = str(body["username"]), str(body["password"])
        except (ValueError, KeyError, TypeError):
            raise ApiError(422, "invalid-json", "Expected a JSON body {\"username\", \"password\"}",
                           "Invalid JSON") from None
        if not self.settings.auth_required:
            resp = _empty(204)
        elif not self._credentials_ok(user, password):
            return self._unauthorized(request)
        else:
            resp = _empty(204)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        resp.set_cookie("BASIC_AUTH", token, path="/", httponly=True, samesite="Strict")
        resp.set_cookie("kestraBasicAuthenticated", "true", path="/")
        return resp

    # -- flows ------------------------------------------------------------------------------
    def _read_flow_body(self, request: Request) -> tuple[dict, str]:
        """The parsed flow and its source text, per the generation's content-type rules."""
        raw = request.get_data(cache=True)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise illegal_argument("The flow source is not valid UTF-8 text") from None
        mimetype = request.mimetype
        if mimetype != "application/x-yaml":
            if self.gen == 2:
                raise ApiError(415, "unsupported-media-type",
                               f"Content-Type '{request.content_type or '(none)'}' is not supported: "
                               f"send the flow YAML with Content-Type: application/x-yaml",
                               "Unsupported Media Type")
            # 1.x: the deprecated JSON variant catches every other content type
            try:
                data = json.loads(source)
            except json.JSONDecodeError as exc:
                raise ApiError(422, "invalid-json", f"Can not parse the JSON body: {exc.msg} (send the "
                               f"flow YAML with Content-Type: application/x-yaml)", "Invalid JSON") from None
            if not isinstance(data, dict):
                raise invalid_entity("", [("flow", "must be a JSON object")])
            import yaml
            return inputsmod.to_jsonable(data), yaml.safe_dump(data, sort_keys=False)
        if not source.strip():
            raise illegal_argument("Flow source cannot be empty: send the flow YAML as the request body")
        try:
            return flowsmod.parse(source), source
        except flowsmod.YamlError as exc:
            raise invalid_entity("", [("flow", str(exc))], slug="invalid-entity") from None

    def _validate(self, flow: dict) -> list[tuple[str, str]]:
        return flowsmod.violations(flow, self.gen, self.engine.validate if self.engine else None)

    def _flow_json(self, stored: dict, with_source: bool = True) -> dict:
        return shapes.flow(stored, self.gen, with_source)

    def h_flow_create(self, request, tenant):
        flow, source = self._read_flow_body(request)
        problems = self._validate(flow)
        if problems:
            raise invalid_entity("", problems)
        with self.store.lock:
            if self.store.get_flow(flow["namespace"], flow["id"]) is not None:
                if self.gen == 1:
                    raise invalid_entity("", [("flow.id", "Flow id already exists")])
                raise ApiError(409, "entity-already-exists",
                               f"A flow with id '{flow['id']}' already exists in namespace '{flow['namespace']}'.",
                               "Conflict")
            stored = self.store.save_flow(dict(flow, source=source, updated=shapes.now_iso()))
        return _json(self._flow_json(stored))

    def h_flow_update(self, request, tenant, namespace, flow_id):
        if self.store.get_flow(namespace, flow_id) is None:
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        flow, source = self._read_flow_body(request)
        problems = flowsmod.update_violations(flow, namespace, flow_id) + self._validate(flow)
        if problems:
            raise invalid_entity("", problems)
        stored = self.store.save_flow(dict(flow, source=source, updated=shapes.now_iso()))
        return _json(self._flow_json(stored))

    def h_flow_get(self, request, tenant, namespace, flow_id):
        revision = request.args.get("revision")
        if revision is not None:
            revision = int_param(request.args, "revision", 0)
        allow_deleted = bool_param(request.args, "allowDeleted", False)
        stored = self.store.get_flow(namespace, flow_id, revision, allow_deleted=allow_deleted)
        if stored is None or (stored.get("deleted") and not allow_deleted):
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json(self._flow_json(stored, bool_param(request.args, "source", False)))

    def h_flow_delete(self, request, tenant, namespace, flow_id):
        if not self.store.delete_flow(namespace, flow_id):
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        return _empty(204)

    def h_flow_list(self, request, tenant, namespace):
        flows = sorted((f for f in self.store.all_flows() if f["namespace"] == namespace), key=lambda f: f["id"])
        return _json([self._flow_json(f, False) for f in flows])

    def h_flow_revisions(self, request, tenant, namespace, flow_id):
        revisions = self.store.flow_revisions(namespace, flow_id)
        if not revisions:
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json([self._flow_json(f) for f in revisions])

    _flow_fields = {"id": lambda f: f["id"], "flowId": lambda f: f["id"], "namespace": lambda f: f["namespace"],
                    "labels": lambda f: flowsmod.labels_of(f), "updated": lambda f: f.get("updated"),
                    "q": lambda f: f"{f['namespace']}.{f['id']} {f.get('description') or ''}",
                    "revision": lambda f: f.get("revision")}

    def h_flow_search(self, request, tenant):
        args = request.args
        filters = parse_filters(args, FLOW_FIELDS)
        if not filters and self.gen == 1:
            filters = self._legacy_filters(args, {"q": "CONTAINS", "namespace": "PREFIX", "scope": "EQUALS"})
        flows = [f for f in self.store.all_flows() if matches(f, filters, self._flow_fields)]
        flows.sort(key=lambda f: (f["namespace"], f["id"]))
        page, total = sort_and_page(flows, args, self._flow_fields)
        return _json({"results": [self._flow_json(f, False) for f in page], "total": total})

    def _legacy_filters(self, args, ops: dict[str, str]):
        from kestra_magic.sandbox.query import Filter
        out = []
        for name, op in ops.items():
            for value in args.getlist(name):
                out.append(Filter(name, op, value))
        for value in args.getlist("labels"):
            k, sep, v = value.partition(":")
            if not sep:
                raise ApiError(422, "invalid-query-parameter", f"Invalid queryString parameter: labels={value} "
                               f"(use key:value)", "Invalid entity")
            out.append(Filter("labels", "EQUALS", v.strip(), k.strip()))
        if "state" in ops:
            states = args.getlist("state")
            if states:
                out = [f for f in out if f.field != "state"] + [Filter("state", "IN", ",".join(states))]
        return out

    def h_flow_validate(self, request, tenant):
        if request.mimetype == "multipart/form-data":
            docs = [(f.filename, f.read().decode("utf-8", errors="replace"))
                    for f in request.files.getlist("flows")]
        else:
            docs = [(None, d) for d in flowsmod.split_documents(request.get_data().decode("utf-8", errors="replace"))]
        results = []
        index = 0
        for filename, text in docs:
            for doc in flowsmod.split_documents(text) if filename else [text]:
                entry: dict = {"index": index, "outdated": False, "deprecationPaths": [], "warnings": [], "infos": []}
                if filename:
                    entry["filename"] = filename
                try:
                    flow = flowsmod.parse(doc)
                except flowsmod.YamlError as exc:
                    entry["constraints"] = str(exc)
                else:
                    if isinstance(flow.get("id"), str):
                        entry["flow"] = flow["id"]
                    if isinstance(flow.get("namespace"), str):
                        entry["namespace"] = flow["namespace"]
                    problems = self._validate(flow)
                    if problems:
                        entry["constraints"] = "\n".join(f"{p}: {m}" if p else m for p, m in problems)
                    revision = flow.get("revision")
                    if revision is not None and entry.get("flow") and entry.get("namespace"):
                        current = self.store.get_flow(entry["namespace"], entry["flow"], allow_deleted=True)
                        last = current["revision"] if current else 0
                        entry["outdated"] = revision != last + 1
                results.append(entry)
                index += 1
        return _json(results)

    # -- executions -------------------------------------------------------------------------
    def _execution(self, execution_id: str, *, empty_v1: bool = False) -> dict:
        ex = self.store.get_execution(execution_id)
        if ex is None or ex.get("deleted"):
            raise not_found(f"Execution {execution_id} not found" if self.gen == 2 or empty_v1 else "",
                            empty_v1=empty_v1)
        return ex

    def _url(self, ex: dict) -> str:
        return f"{self.settings.base_url}/ui/main/executions/{ex['namespace']}/{ex['flowId']}/{ex['id']}"

    def _core(self, ex: dict) -> dict:
        """The core Execution JSON returned by create/actions (full on 1.x)."""
        return shapes.execution(ex, self.gen, form="core" if self.gen == 2 else "full")

    def _labels(self, args) -> list[dict]:
        out, seen = [], set()
        for raw in args.getlist("labels"):
            key, sep, value = raw.partition(":")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise ApiError(422, "invalid-argument", f"Invalid queryString parameter: labels={raw} "
                               f"(use labels=key:value)", "Invalid queryString parameter")
            if key.startswith("system.") and key not in ("system.correlationId", "system.from"):
                raise illegal_argument(f"System labels can only be set by Kestra itself, offending label: "
                                       f"{key}={value}")
            if key in seen:
                raise conflict(f"Duplicate key {key} (attempted merging values {value})")
            seen.add(key)
            out.append({"key": key, "value": value})
        return out

    def _breakpoints(self, raw: str | None) -> list[dict] | None:
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

    def _schedule_date(self, raw: str | None) -> str | None:
        if not raw:
            return None
        try:
            moment = dt.datetime.fromisoformat(raw.strip().replace(" ", "+"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise bad_request(f"Failed to convert argument [scheduleDate] for value [{raw}]: use an ISO-8601 "
                              f"date-time with a zone, e.g. 2026-01-01T10:00:00Z", slug="invalid-query-parameter")
        return inputsmod.format_instant(moment)

    def _uploads(self, request: Request) -> tuple[dict[str, str], dict[str, inputsmod.FilePart]]:
        form = {k: v for k, v in request.form.items()}
        files: dict[str, inputsmod.FilePart] = {}
        for name, upload in request.files.items(multi=True):
            filename = (upload.filename or name).replace("\\", "/").rsplit("/", 1)[-1]
            if filename in ("", ".", ".."):
                filename = name
            data = upload.read()
            if name == "files":       # legacy style: part "files", filename = input id
                files[filename] = inputsmod.FilePart(filename, data)
            else:
                files[name] = inputsmod.FilePart(filename, data)
        return form, files

    @staticmethod
    def _storage_prefix(namespace: str, flow_id: str, execution_id: str) -> str:
        return f"kestra:///{namespace.replace('.', '/')}/{flow_id}/executions/{execution_id}/"

    def h_execution_create(self, request, tenant, namespace, flow_id):
        args = request.args
        revision = int_param(args, "revision", 0) if args.get("revision") else None
        flow = self.store.get_flow(namespace, flow_id, revision)
        if flow is None or flow.get("deleted"):
            raise not_found("Requested Flow is not found.")
        if flow.get("disabled"):
            raise conflict("Requested Flow is disabled.")
        wait = bool_param(args, "wait", False)
        labels = self._labels(args)
        schedule = self._schedule_date(args.get("scheduleDate"))
        breakpoints = self._breakpoints(args.get("breakpoints"))
        kind = args.get("kind")
        if kind is not None and kind.upper() not in KINDS[self.gen]:
            raise bad_request(f"Failed to convert argument [kind] for value [{kind}]: use one of "
                              f"{', '.join(sorted(KINDS[self.gen]))}", slug="invalid-query-parameter")
        execution_id = self.store.new_id()
        prefix = self._storage_prefix(namespace, flow_id, execution_id)
        form, uploads = self._uploads(request)
        try:
            resolved = inputsmod.resolve(flow.get("inputs"), form, uploads,
                                         lambda iid, fname: f"{prefix}inputs/{iid}/{fname}")
        except inputsmod.InputErrors as exc:
            raise invalid_entity("; ".join(p.message for p in exc.problems) if self.gen == 2 else "",
                                 [(f"inputs.{p.input_id}", p.message) for p in exc.problems],
                                 slug="invalid-entity") from None
        for input_id, part in resolved.files.items():
            self.store.put_file(f"{prefix}inputs/{input_id}/{part.filename}", part.data)
        now = shapes.now_iso()
        all_labels = [l for l in self._flow_labels(flow) if not l["key"].startswith("system.")] + labels
        keys = {l["key"] for l in all_labels}
        if "system.correlationId" not in keys:
            all_labels.append({"key": "system.correlationId", "value": execution_id})
        if "system.from" not in keys:
            all_labels.append({"key": "system.from", "value": "api"})
        ex = {"id": execution_id, "namespace": namespace, "flowId": flow_id, "flowRevision": flow["revision"],
              "tenantId": "main", "state": {"current": "CREATED", "histories": [{"state": "CREATED", "date": now}]},
              "inputs": resolved.values, "labels": all_labels, "variables": flow.get("variables"),
              "originalId": execution_id, "deleted": False,
              "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
              "scheduleDate": schedule, "kind": kind.upper() if kind else None, "breakpoints": breakpoints}
        self.store.save_execution({k: v for k, v in ex.items() if v is not None})
        for name in resolved.ignored:
            self.store.add_log(self._log(ex, "WARN", f"Input '{name}' is not declared by the flow and was ignored"))
        if self.engine is not None:
            self.engine.start(execution_id)
            if wait:
                self._wait_for_end(execution_id)
        return _json(dict(self._core(self.store.get_execution(execution_id)), url=self._url(ex)))

    @staticmethod
    def _flow_labels(flow: dict) -> list[dict]:
        return [{"key": k, "value": v} for k, v in flowsmod.labels_of(flow).items()]

    @staticmethod
    def _log(ex: dict, level: str, message: str) -> dict:
        return {"namespace": ex["namespace"], "flowId": ex["flowId"], "executionId": ex["id"],
                "tenantId": "main", "timestamp": shapes.now_iso(), "level": level, "thread": "sandbox",
                "message": message, "attemptNumber": None, "deleted": False}

    def _wait_for_end(self, execution_id: str, timeout: float = 3600.0) -> None:
        deadline = time.monotonic() + timeout
        with self.store.lock:
            while not self.is_stopping() and time.monotonic() < deadline:
                ex = self.store.executions.get(execution_id)
                if ex is None or shapes.stop_follow(ex):
                    return
                self.store.changed.wait(1.0)

    def _wait_until(self, execution_id: str, test: Callable[[dict], bool], timeout: float = 10.0,
                    required: bool = True) -> dict:
        """Block until ``test(execution)`` holds (2.x actions return once the executor applied them).

        Past ``timeout``: 504 when ``required``, else the execution as it is (the sandbox engine
        applies some commands lazily, e.g. a resume after an API pause at the next task).
        """
        deadline = time.monotonic() + timeout
        with self.store.lock:
            while True:
                ex = self.store.executions.get(execution_id)
                if ex is None or test(ex) or self.is_stopping():
                    break
                left = deadline - time.monotonic()
                if left <= 0 and not required:
                    break
                if left <= 0:
                    raise ApiError(504, "timeout", f"Timed out waiting for the action on execution "
                                   f"{execution_id} to be applied", "Timeout")
                self.store.changed.wait(min(left, 0.5))
        return self._execution(execution_id)

    _execution_fields = {
        "id": lambda e: e["id"], "executionId": lambda e: e["id"], "namespace": lambda e: e["namespace"],
        "flowId": lambda e: e["flowId"], "state": lambda e: e["state"]["current"],
        "state.current": lambda e: e["state"]["current"],
        "labels": lambda e: flowsmod.labels_of(e), "kind": lambda e: e.get("kind") or "NORMAL",
        "startDate": lambda e: (e["state"].get("histories") or [{}])[0].get("date"),
        "state.startDate": lambda e: (e["state"].get("histories") or [{}])[0].get("date"),
        "endDate": lambda e: shapes.shape_state(e["state"]).get("endDate"),
        "state.endDate": lambda e: shapes.shape_state(e["state"]).get("endDate"),
        "state.duration": lambda e: shapes.shape_state(e["state"]).get("duration"),
        "flowRevision": lambda e: e.get("flowRevision"), "parentId": lambda e: e.get("parentId"),
        "triggerExecutionId": lambda e: (e.get("trigger") or {}).get("variables", {}).get("executionId"),
        "childFilter": lambda e: "CHILD" if e.get("parentId") else "MAIN",
        "q": lambda e: f"{e['id']} {e['namespace']} {e['flowId']}",
    }

    def _search(self, request, extra: list | None = None) -> Response:
        args = request.args
        filters = parse_filters(args, EXECUTION_FIELDS) + (extra or [])
        if not any(f for f in filters if f not in (extra or [])) and self.gen == 1:
            filters += self._legacy_filters(args, {"q": "CONTAINS", "namespace": "PREFIX", "flowId": "EQUALS",
                                                   "state": "IN"})
        with self.store.lock:
            items = [e for e in self.store.executions.values() if not e.get("deleted")]
            items = [e for e in items if matches(e, filters, self._execution_fields)]
            page, total = sort_and_page(items, args, self._execution_fields, default_sort="state.startDate:desc")
            form = "light" if self.gen == 2 else "full"
            results = [shapes.execution(e, self.gen, form=form) for e in page]
        return _json({"results": results, "total": total})

    def h_execution_search(self, request, tenant):
        return self._search(request)

    def h_execution_list(self, request, tenant):
        from kestra_magic.sandbox.query import Filter
        namespace, flow_id = request.args.get("namespace"), request.args.get("flowId")
        if not namespace or not flow_id:
            missing = "namespace" if not namespace else "flowId"
            raise bad_request(f"Required QueryValue [{missing}] not specified", slug="invalid-query-parameter")
        return self._search(request, [Filter("namespace", "EQUALS", namespace), Filter("flowId", "EQUALS", flow_id)])

    def h_execution_get(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        return _json(shapes.execution(ex, self.gen, form="api" if self.gen == 2 else "full"))

    def h_execution_delete(self, request, tenant, execution_id):
        ex = self._execution(execution_id, empty_v1=True)
        if not shapes.is_terminal(ex["state"]["current"]) and self.engine is not None:
            try:
                self.engine.kill(execution_id)
            except Exception:  # already finishing: deleting wins anyway
                pass
        self.store.update_execution(execution_id, lambda e: e.__setitem__("deleted", True))
        if bool_param(request.args, "deleteLogs", True):
            with self.store.lock:
                self.store.logs.pop(execution_id, None)
        return _empty(204)

    def h_execution_follow(self, request, tenant, execution_id):
        stream = sse.follow_execution(self.store, execution_id, self.gen, self.is_stopping,
                                      self.faults.take_sse_limit())
        return self._sse(stream)

    @staticmethod
    def _sse(stream) -> Response:
        resp = Response(stream, content_type="text/event-stream", direct_passthrough=True)
        resp.headers["Cache-Control"] = "no-cache"
        return resp

    # -- actions ----------------------------------------------------------------------------
    def _action_result(self, execution_id: str, status_v1: int) -> Response:
        if self.gen == 1:
            return _empty(status_v1)
        return _json(self._core(self._execution(execution_id)))

    def h_action_kill(self, request, tenant, execution_id):
        ex = self._execution(execution_id, empty_v1=True)
        cascade = bool_param(request.args, "isOnKillCascade", True)
        if shapes.is_terminal(ex["state"]["current"]):
            if not cascade:
                raise conflict(f"Execution is already finished, can't kill it")
            if self.gen == 1:
                return Response(b"", status=202, content_type="text/json")
            return _json(self._core(ex), content_type="text/json")
        if self.engine is not None:
            self.engine.kill(execution_id)
        if self.gen == 1:
            return Response(b"", status=202, content_type="text/json")
        ex = self._wait_until(execution_id, lambda e: e["state"]["current"] in ("KILLING", "KILLED")
                              or shapes.is_terminal(e["state"]["current"]))
        return _json(self._core(ex), content_type="text/json")

    def h_action_restart(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        revision = int_param(request.args, "revision", 0) if request.args.get("revision") else None
        if revision is not None and self.store.get_flow(ex["namespace"], ex["flowId"], revision) is None:
            raise not_found("Requested Flow revision is not found.")
        state = ex["state"]["current"]
        if not (shapes.is_terminal(state) or state == "PAUSED"):
            if self.gen == 1:
                raise conflict(f"Execution must be terminated to be restarted, current state is {state}")
            raise conflict(f"Cannot restart execution: current state is '{state}', expected terminated or paused.")
        if self.engine is None:
            raise conflict("The sandbox has no engine to restart executions")
        new_id = self.engine.restart(execution_id, revision)
        return _json(self._core(self._execution(new_id)))

    def _resume_inputs(self, request: Request, ex: dict) -> dict:
        form, uploads = self._uploads(request)
        if not form and not uploads:
            return {}
        spec = self._on_resume_spec(ex)
        if spec is None:
            return dict(form)
        prefix = self._storage_prefix(ex["namespace"], ex["flowId"], ex["id"])
        try:
            resolved = inputsmod.resolve(spec, form, uploads, lambda iid, fname: f"{prefix}inputs/{iid}/{fname}")
        except inputsmod.InputErrors as exc:
            raise invalid_entity("; ".join(p.message for p in exc.problems) if self.gen == 2 else "",
                                 [(f"inputs.{p.input_id}", p.message) for p in exc.problems],
                                 slug="invalid-entity") from None
        for input_id, part in resolved.files.items():
            self.store.put_file(f"{prefix}inputs/{input_id}/{part.filename}", part.data)
        return resolved.values

    def _on_resume_spec(self, ex: dict) -> list | None:
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], ex.get("flowRevision"), allow_deleted=True)
        paused = {tr.get("taskId") for tr in ex.get("taskRunList") or []
                  if (tr.get("state") or {}).get("current") in ("PAUSED", "RUNNING")}

        def walk(tasks):
            for t in tasks or []:
                if isinstance(t, dict):
                    if t.get("id") in paused and "onResume" in t:
                        return t.get("onResume")
                    for key in ("tasks", "then", "else", "errors", "finally"):
                        found = walk(t.get(key) if isinstance(t.get(key), list) else None)
                        if found is not None:
                            return found
            return None
        return walk(flow.get("tasks")) if flow else None

    def h_action_resume(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        if ex["state"]["current"] not in ("PAUSED", "BREAKPOINT"):
            raise conflict(f"Execution '{execution_id}' is not paused, can't resume it")
        values = self._resume_inputs(request, ex)
        if self.engine is None:
            raise conflict("The sandbox has no engine to resume executions")
        self.engine.resume(execution_id, values)
        if self.gen == 1:
            return _empty(204)
        return _json(self._core(self._wait_until(execution_id, lambda e: e["state"]["current"]
                                                 not in ("PAUSED", "BREAKPOINT"), 1.0, required=False)))

    def h_action_resume_breakpoint(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        if ex["state"]["current"] != "BREAKPOINT":
            raise conflict(f"Execution '{execution_id}' is not in BREAKPOINT state, can't resume it")
        if self.engine is None:
            raise conflict("The sandbox has no engine to resume executions")
        breakpoints = self._breakpoints(request.args.get("breakpoints"))
        if hasattr(self.engine, "resume_from_breakpoint"):
            self.engine.resume_from_breakpoint(execution_id, breakpoints)
        else:
            if breakpoints is not None:
                self.store.update_execution(execution_id, lambda e: e.__setitem__("breakpoints", breakpoints))
            self.engine.resume(execution_id, {})
        if self.gen == 1:
            return _empty(204)
        return _json(self._core(self._wait_until(execution_id, lambda e: e["state"]["current"] != "BREAKPOINT",
                                                 1.0, required=False)))

    def h_action_replay(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        args = request.args
        revision = int_param(args, "revision", 0) if args.get("revision") else None
        if revision is not None and self.store.get_flow(ex["namespace"], ex["flowId"], revision) is None:
            raise not_found("Requested Flow revision is not found.")
        task_run_id = args.get("taskRunId") or None
        if task_run_id and not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise illegal_argument(f"Unable to find task run '{task_run_id}' in execution {execution_id}")
        if self.engine is None:
            raise conflict("The sandbox has no engine to replay executions")
        new_id = self.engine.replay(execution_id, task_run_id, revision, self._breakpoints(args.get("breakpoints")))
        return _json(self._core(self._execution(new_id)))

    def h_action_pause(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        if ex["state"]["current"] not in ("RUNNING", "CREATED"):
            raise conflict(f"Execution '{execution_id}' is not running, can't pause it")
        if self.engine is None:
            raise conflict("The sandbox has no engine to pause executions")
        self.engine.pause(execution_id)
        if self.gen == 1:
            return _empty(204)
        return _json(self._core(self._wait_until(execution_id, lambda e: e["state"]["current"] == "PAUSED"
                                                 or shapes.is_terminal(e["state"]["current"]), 1.0, required=False)))

    def h_action_labels(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        try:
            body = json.loads(request.get_data() or b"null")
            labels = [{"key": str(l["key"]), "value": str(l["value"])} for l in body]
        except (ValueError, TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"key\", \"value\"} labels",
                           "Invalid JSON") from None
        if not shapes.is_terminal(ex["state"]["current"]):
            raise bad_request("The execution is not terminated")
        bad = [l for l in labels if l["key"].startswith("system.")]
        if bad:
            raise illegal_argument(f"System labels can only be set by Kestra itself, offending label: "
                                   f"{bad[0]['key']}={bad[0]['value']}")

        def apply(e):
            kept = [l for l in e.get("labels") or [] if l["key"].startswith("system.")]
            e["labels"] = labels + kept
        ex = self.store.update_execution(execution_id, apply)
        return _json(self._core(ex))

    # -- outputs (2.x) -----------------------------------------------------------------------
    def h_outputs_flow(self, request, tenant, execution_id):
        return _json(self._execution(execution_id).get("outputs") or {})

    def h_outputs_tasks(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        out = [{"taskId": tr.get("taskId"), "taskRunId": tr.get("id"), "value": tr.get("value"),
                "iteration": tr.get("iteration"), "inline": True}
               for tr in ex.get("taskRunList") or [] if tr.get("outputs")]
        return _json([{k: v for k, v in o.items() if v is not None} for o in out])

    def h_outputs_task_run(self, request, tenant, execution_id, task_run_id):
        ex = self._execution(execution_id)
        for tr in ex.get("taskRunList") or []:
            if tr.get("id") == task_run_id:
                return _json(tr.get("outputs") or {})
        raise not_found(f"Task run {task_run_id} not found in execution {execution_id}")

    # -- logs -------------------------------------------------------------------------------
    def _log_filter(self, request) -> Callable[[dict], bool]:
        args = request.args
        if self.gen == 2:
            filters = parse_filters(args, LOG_FIELDS)
            fields = {"level": lambda l: l.get("level"), "taskId": lambda l: l.get("taskId"),
                      "taskRunId": lambda l: l.get("taskRunId"),
                      "attemptNumber": lambda l: l.get("attemptNumber"),
                      "namespace": lambda l: l.get("namespace"), "flowId": lambda l: l.get("flowId"),
                      "executionId": lambda l: l.get("executionId"), "triggerId": lambda l: l.get("triggerId"),
                      "startDate": lambda l: l.get("timestamp"), "endDate": lambda l: l.get("timestamp"),
                      "q": lambda l: l.get("message")}
            return lambda entry: matches(entry, filters, fields)
        min_level = (args.get("minLevel") or "").upper() or None
        if min_level is not None and min_level not in shapes.LEVELS:
            raise bad_request(f"Failed to convert argument [minLevel] for value [{args.get('minLevel')}]: "
                              f"use one of {', '.join(shapes.LEVELS)}")
        task_id, task_run_id = args.get("taskId"), args.get("taskRunId")
        attempt = int_param(args, "attempt", 0, minimum=0) if args.get("attempt") else None
        floor = shapes.LEVELS.index(min_level) if min_level else 0

        def keep(entry: dict) -> bool:
            level = entry.get("level")
            return ((level not in shapes.LEVELS or shapes.LEVELS.index(level) >= floor)
                    and (task_id is None or entry.get("taskId") == task_id)
                    and (task_run_id is None or entry.get("taskRunId") == task_run_id)
                    and (attempt is None or entry.get("attemptNumber") == attempt))
        return keep

    def h_logs_list(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        return _json([shapes.log_entry(e, self.gen) for e in self.store.logs_for(execution_id) if keep(e)])

    def h_logs_download(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        lines = [f"{e.get('timestamp')} {e.get('level')} {e.get('message')}"
                 for e in self.store.logs_for(execution_id) if keep(e)]
        resp = Response("\n".join(lines), content_type="text/plain")
        resp.headers["Content-Disposition"] = _attachment(f"{execution_id}.log", quoted=False)
        ex = self.store.get_execution(execution_id)
        if ex is not None and not shapes.is_terminal(ex["state"]["current"]):
            resp.headers["Cache-Control"] = "no-cache"
        return resp

    def h_logs_follow(self, request, tenant, execution_id):
        keep = self._log_filter(request)
        stream = sse.follow_logs(self.store, execution_id, self.gen, keep, self.is_stopping,
                                 self.faults.take_sse_limit())
        return self._sse(stream)

    # -- files ------------------------------------------------------------------------------
    def _file(self, request, execution_id: str) -> tuple[str, bytes]:
        ex = self._execution(execution_id)
        uri = request.args.get("path")
        if not uri:
            raise bad_request("Required QueryValue [path] not specified", slug="invalid-query-parameter")
        try:
            relpath = uri_to_relpath(uri)
        except ValueError as exc:
            raise illegal_argument(f"{exc}") from None
        prefix = self._storage_prefix(ex["namespace"], ex["flowId"], execution_id)
        flow_root = f"{ex['namespace'].replace('.', '/')}/{ex['flowId']}/"
        canonical = "kestra:///" + relpath
        if not canonical.startswith(prefix):
            parts = relpath.split("/")
            if flow_root and relpath.startswith(flow_root) and len(parts) > len(flow_root.split("/")) \
                    and relpath[len(flow_root):].startswith("executions/"):
                other = relpath[len(flow_root):].split("/")[1]
                if self.store.get_execution(other) is not None:
                    raise Redirect(request.url.replace(f"/executions/{execution_id}/", f"/executions/{other}/", 1))
            if not relpath.startswith(flow_root + "states/"):
                raise illegal_argument("Invalid prefix path")
        path = self.store.file_path(canonical)
        if not path.is_file():
            raise not_found(f"Unable to find file '{uri}'")
        return canonical, path.read_bytes()

    def h_file_download(self, request, tenant, execution_id):
        uri, data = self._file(request, execution_id)
        name = uri.rsplit("/", 1)[-1]
        fmt = (request.args.get("format") or "RAW").upper()
        if self.gen == 2 and fmt not in ("RAW", "JSONL"):
            raise bad_request(f"Failed to convert argument [format] for value [{request.args.get('format')}]: "
                              f"use RAW or JSONL", slug="invalid-query-parameter")
        if self.gen == 2 and fmt == "JSONL" and filesmod.extension(uri) == "ion":
            try:
                data = filesmod.to_jsonl(data)
            except Exception as exc:
                raise illegal_argument(f"Unable to convert {name} to JSONL: {exc}") from None
            resp = Response(data, content_type="application/x-ndjson")
            resp.headers["Content-Disposition"] = _attachment(f'{name.rsplit(".", 1)[0]}.jsonl')
            return resp
        resp = Response(data, content_type="application/octet-stream")
        resp.headers["Content-Disposition"] = _attachment(name)
        return resp

    def h_file_metas(self, request, tenant, execution_id):
        uri, data = self._file(request, execution_id)
        return _json({"size": len(data)})

    def h_file_preview(self, request, tenant, execution_id):
        uri, data = self._file(request, execution_id)
        max_rows = int_param(request.args, "maxRows", filesmod.PREVIEW_INITIAL_ROWS)
        encoding = request.args.get("encoding")
        try:
            return _json(filesmod.preview(uri, data, max_rows, encoding))
        except LookupError:
            raise illegal_argument(f"Unable to preview using encoding '{encoding}'") from None
        except Exception as exc:
            raise illegal_argument(f"Unable to preview {uri}: {exc}") from None
