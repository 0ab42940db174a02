"""The sandbox's HTTP protocol: Kestra's route table for 1.x and 2.x, and the WSGI application that
guards, records and dispatches each request to a per-resource handler, then maps errors to the
generation's body (JsonError / problem+json); nothing a client sends should produce a 500.

Layout (moto's): this route table -> thin handler modules (``handlers_*.py``: parse HTTP, shape JSON
per generation) -> one :class:`~kestra_magic.sandbox.backend.Backend` (store + engine facade, every
rule) which raises domain errors mapped here by :func:`domain_error`.
"""
from __future__ import annotations

import logging
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox import backend as domain
from kestra_magic.sandbox import guard as guards
from kestra_magic.sandbox import safe_json
from kestra_magic.sandbox.backend import Backend
from kestra_magic.sandbox.faults import FaultInjector
from kestra_magic.sandbox.guard import RequestGuard
from kestra_magic.sandbox.handlers_actions import ActionHandlers
from kestra_magic.sandbox.handlers_bulk import BulkHandlers
from kestra_magic.sandbox.handlers_configs import ConfigHandlers, page_not_found
from kestra_magic.sandbox.handlers_executions import ExecutionHandlers
from kestra_magic.sandbox.handlers_files import LogFileHandlers
from kestra_magic.sandbox.handlers_flows import FlowHandlers
from kestra_magic.sandbox.handlers_nsfiles import NamespaceFileHandlers
from kestra_magic.sandbox import handlers_plugins, ui
from kestra_magic.sandbox.handlers_plugins import PluginHandlers
from kestra_magic.sandbox.ui import UiHandlers
from kestra_magic.sandbox.handlers_webhooks import WebhookHandlers
from kestra_magic.sandbox.http import (Context, DropConnection, Redirect, empty as _empty, json_response as _json,
                                       mask as _mask)
from kestra_magic.sandbox.problems import ApiError, conflict, illegal_argument, invalid_entity, not_found, \
    bad_request, render_error

log = logging.getLogger("kestra_magic.sandbox")


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
        Rule(f"{T}/flows/<namespace>", methods=["POST"], endpoint="flow_sync_namespace"),
        Rule(f"{T}/flows/bulk", methods=["POST"], endpoint="flow_bulk"),
        Rule(f"{T}/flows/validate/task", methods=["POST"], endpoint="flow_validate_task"),
        Rule(f"{T}/flows/distinct-namespaces", methods=["GET"], endpoint="flow_distinct_namespaces"),
        Rule(f"{T}/flows/delete/by-ids", methods=["DELETE"], endpoint="flow_bulk_by_ids", defaults={"action": "delete"}),
        Rule(f"{T}/flows/delete/by-query", methods=["DELETE"], endpoint="flow_bulk_by_query",
             defaults={"action": "delete"}),
        *[Rule(f"{T}/flows/{action}/by-{by}", methods=["POST"], endpoint=f"flow_bulk_by_{by}",
               defaults={"action": action}) for action in ("disable", "enable") for by in ("ids", "query")],
        Rule(f"{T}/executions/flows/<namespace>/<flow_id>", methods=["GET"], endpoint="execution_flow"),
        Rule(f"{E}/flow", methods=["GET"], endpoint="execution_flow_by_id"),
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
        # bulk actions, latest, validate (kestra-api.md §2.6-2.7)
        Rule(f"{T}/executions/kill/by-ids", methods=["DELETE"], endpoint="bulk_by_ids", defaults={"action": "kill"}),
        Rule(f"{T}/executions/kill/by-query", methods=["DELETE"], endpoint="bulk_by_query",
             defaults={"action": "kill"}),
        *[Rule(f"{T}/executions/{action}/by-{by}", methods=["POST"], endpoint=f"bulk_by_{by}",
               defaults={"action": action})
          for action in ("restart", "resume", "pause", "replay", "unqueue", "force-run", "change-status")
          for by in ("ids", "query")],
        Rule(f"{T}/executions/labels/by-ids", methods=["POST"], endpoint="bulk_labels_by_ids"),
        Rule(f"{T}/executions/labels/by-query", methods=["POST"], endpoint="bulk_labels_by_query"),
        Rule(f"{T}/executions/by-ids", methods=["DELETE"], endpoint="bulk_delete_by_ids"),
        Rule(f"{T}/executions/by-query", methods=["DELETE"], endpoint="bulk_delete_by_query"),
        Rule(f"{T}/executions/latest", methods=["POST"], endpoint="execution_latest"),
        Rule(f"{T}/executions/webhook/<namespace>/<flow_id>/<key>", methods=["GET", "POST", "PUT"],
             endpoint="webhook"),
        Rule(f"{T}/executions/webhook/<namespace>/<flow_id>/<key>/<path:path>", methods=["GET", "POST", "PUT"],
             endpoint="webhook"),
        Rule(f"{T}/executions/<namespace>/<flow_id>/validate", methods=["POST"], endpoint="execution_validate"),
        # namespace files
        Rule(f"{T}/namespaces/<namespace>/files", methods=["GET"], endpoint="nsfile_get"),
        Rule(f"{T}/namespaces/<namespace>/files", methods=["POST"], endpoint="nsfile_put"),
        Rule(f"{T}/namespaces/<namespace>/files", methods=["PUT"], endpoint="nsfile_move"),
        Rule(f"{T}/namespaces/<namespace>/files", methods=["DELETE"], endpoint="nsfile_delete"),
        Rule(f"{T}/namespaces/<namespace>/files/stats", methods=["GET"], endpoint="nsfile_stats"),
        Rule(f"{T}/namespaces/<namespace>/files/directory", methods=["GET"], endpoint="nsfile_list_dir"),
        Rule(f"{T}/namespaces/<namespace>/files/directory", methods=["POST"], endpoint="nsfile_make_dir"),
        Rule(f"{T}/namespaces/<namespace>/files/search", methods=["GET"], endpoint="nsfile_search"),
        Rule(f"{T}/namespaces/<namespace>/files/revisions", methods=["GET"], endpoint="nsfile_revisions"),
        Rule(f"{T}/namespaces/<namespace>/files/export", methods=["GET"], endpoint="nsfile_export"),
        # logs
        Rule(f"{T}/logs/search", methods=["GET"], endpoint="logs_search"),
        Rule(f"{T}/logs/<execution_id>", methods=["DELETE"], endpoint="logs_delete"),
        Rule(f"{T}/logs/<namespace>/<flow_id>", methods=["DELETE"], endpoint="logs_delete_flow"),
        Rule(f"{T}/logs/<execution_id>", methods=["GET"], endpoint="logs_list"),
        Rule(f"{T}/logs/<execution_id>/download", methods=["GET"], endpoint="logs_download"),
        Rule(f"{T}/logs/<execution_id>/follow", methods=["GET"], endpoint="logs_follow"),
    ]
    # the plugin, graph and page modules list their own rules
    r += [Rule(rule, methods=methods, endpoint=endpoint)
          for rule, methods, endpoint in handlers_plugins.RULES + ui.RULES]
    return r


def _v1_rules() -> list[Rule]:
    T = "/api/v1/<tenant>"
    E = f"{T}/executions/<execution_id>"
    return [
        Rule(f"{T}/executions/trigger/<namespace>/<flow_id>", methods=["POST"], endpoint="execution_create"),
        Rule(f"{E}/kill", methods=["DELETE"], endpoint="action_kill"),
        Rule(f"{E}/restart", methods=["POST"], endpoint="action_restart"),
        Rule(f"{E}/resume", methods=["POST"], endpoint="action_resume"),
        Rule(f"{E}/resume/validate", methods=["POST"], endpoint="action_resume_validate"),
        Rule(f"{E}/eval/<task_run_id>", methods=["POST"], endpoint="action_eval"),
        Rule(f"{E}/resume-from-breakpoint", methods=["POST"], endpoint="action_resume_breakpoint"),
        Rule(f"{E}/replay", methods=["POST"], endpoint="action_replay"),
        Rule(f"{E}/pause", methods=["POST"], endpoint="action_pause"),
        Rule(f"{E}/labels", methods=["POST"], endpoint="action_labels"),
        Rule(f"{E}/change-status", methods=["POST"], endpoint="action_change_status"),
        Rule(f"{E}/state", methods=["POST"], endpoint="action_task_run_state"),
        Rule(f"{E}/force-run", methods=["POST"], endpoint="action_force_run"),
        Rule(f"{E}/unqueue", methods=["POST"], endpoint="action_unqueue"),
        Rule(f"{E}/replay-with-inputs", methods=["POST"], endpoint="action_replay_with_inputs"),
    ]


def _v2_rules() -> list[Rule]:
    T = "/api/v1/<tenant>"
    A = f"{T}/executions/<execution_id>/actions"
    return [
        Rule(f"{A}/kill", methods=["DELETE"], endpoint="action_kill"),
        Rule(f"{A}/restart", methods=["POST"], endpoint="action_restart"),
        Rule(f"{A}/resume", methods=["POST"], endpoint="action_resume"),
        Rule(f"{A}/resume/validate", methods=["POST"], endpoint="action_resume_validate"),
        Rule(f"{A}/eval", methods=["POST"], endpoint="action_eval"),
        Rule(f"{A}/eval/<task_run_id>", methods=["POST"], endpoint="action_eval"),
        Rule(f"{A}/resume-from-breakpoint", methods=["POST"], endpoint="action_resume_breakpoint"),
        Rule(f"{A}/replay", methods=["POST"], endpoint="action_replay"),
        Rule(f"{A}/pause", methods=["POST"], endpoint="action_pause"),
        Rule(f"{A}/labels", methods=["POST"], endpoint="action_labels"),
        Rule(f"{A}/change-status", methods=["POST"], endpoint="action_change_status"),
        Rule(f"{A}/state", methods=["POST"], endpoint="action_task_run_state"),
        Rule(f"{A}/force-run", methods=["POST"], endpoint="action_force_run"),
        Rule(f"{A}/unqueue", methods=["POST"], endpoint="action_unqueue"),
        Rule(f"{A}/replay-with-inputs", methods=["POST"], endpoint="action_replay_with_inputs"),
        Rule(f"{T}/outputs/executions/<execution_id>", methods=["GET"], endpoint="outputs_flow"),
        Rule(f"{T}/outputs/tasks/<execution_id>", methods=["GET"], endpoint="outputs_tasks"),
        Rule(f"{T}/outputs/tasks/<execution_id>/<task_run_id>", methods=["GET"], endpoint="outputs_task_run"),
        Rule(f"{T}/outputs/<execution_id>", methods=["GET"], endpoint="outputs_tasks"),
        Rule(f"{T}/outputs/<execution_id>/<task_run_id>", methods=["GET"], endpoint="outputs_task_run"),
    ]


HANDLERS = (ConfigHandlers, FlowHandlers, ExecutionHandlers, ActionHandlers, BulkHandlers, WebhookHandlers,
            LogFileHandlers, NamespaceFileHandlers, PluginHandlers, UiHandlers)


def domain_error(err: domain.DomainError, generation: int) -> ApiError:
    """A backend error as the generation's protocol error."""
    if isinstance(err, domain.AlreadyExists):
        if generation == 1:
            return invalid_entity("", [(err.path, "Flow id already exists")])
        return ApiError(409, "entity-already-exists", err.message, "Conflict")
    if isinstance(err, domain.NotFound):
        return not_found(err.message)
    if isinstance(err, domain.Conflict):
        return conflict(err.message)
    if isinstance(err, domain.Invalid):
        if err.errors:
            return invalid_entity(err.message if generation == 2 else "", err.errors, slug=err.problem)
        return illegal_argument(err.message)
    if isinstance(err, domain.NotApplicable):
        return bad_request(err.message)
    if isinstance(err, domain.Timeout):
        return ApiError(504, "timeout", err.message, "Timeout")
    return ApiError(500, "internal-error", f"{type(err).__name__}: {err.message}", "Internal server error")


class Application:
    """The WSGI app of one sandbox: guard, auth, faults, recording, dispatch, error mapping."""

    def __init__(self, settings: Settings, store: Any, engine: Any, faults: FaultInjector,
                 recorded: list[RecordedRequest], is_stopping: Callable[[], bool], guard: RequestGuard):
        self.settings = settings
        self.guard = guard
        self.faults = faults
        self.recorded = recorded
        self.backend = Backend(store, engine, settings.generation, is_stopping)
        ctx = Context(settings, self.backend, faults, is_stopping)
        self.handlers: dict[str, Callable] = {}
        for kind in HANDLERS:
            self.handlers.update(kind(ctx).endpoints())
        gen_rules = _v1_rules() if settings.generation == 1 else _v2_rules()
        self.url_map = Map(_rules() + gen_rules, strict_slashes=False, merge_slashes=False)
        missing = {rule.endpoint for rule in self.url_map.iter_rules()} - set(self.handlers)
        if missing:
            raise RuntimeError(f"sandbox routes without a handler: {sorted(missing)}")

    @property
    def gen(self) -> int:
        return self.settings.generation

    # -- WSGI entry --------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        request.max_content_length = self.settings.max_body_size
        request.max_form_memory_size = self.settings.max_body_size
        path = request.path
        refused = self.guard.check(request.method, request.headers)
        if refused is not None:      # before anything else: control calls and webhooks included
            return self._error(refused, path)(environ, start_response)
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
        response.direct_passthrough = False     # a streamed file: read it to corrupt it
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
        if request.path.rstrip("/").endswith(("/login", "/basicAuth")):
            rec.body = b"***"          # credentials in the body: never kept
            return
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
            adapter = self.url_map.bind_to_environ(request.environ)
            try:
                endpoint, values = adapter.match()
            except HTTPException:
                endpoint, values = None, {}
            # which routes are open is decided by the route matched (a 404/405 still needs credentials
            # first, as Kestra's security filter runs before routing)
            if request.path.startswith("/api/v1/") and not guards.open_endpoint(endpoint, self.gen) \
                    and not guards.authenticated(self.settings, request.headers, request.cookies):
                raise guards.unauthorized(request.headers)
            if guards.csrf_missing(self.gen, request.method, request.path, request.headers, request.cookies):
                raise ApiError(403, "forbidden", "Missing or invalid CSRF token: send the X-CSRF-TOKEN header "
                               "with cookie sessions, or authenticate with an Authorization header and no "
                               "BASIC_AUTH cookie", "Forbidden")
            if endpoint is None:
                endpoint, values = adapter.match()      # raises the 404/405 itself
            self._fill_record(request, rec)
            return self.handlers[endpoint](request, **values)
        except domain.BulkInvalid as err:       # Kestra's BulkErrorResponse, plain JSON on both generations
            return _json({"message": err.message, "invalids": err.invalids}, 400)
        except domain.DomainError as err:
            return self._error(domain_error(err, self.gen), instance)
        except ApiError as err:
            return self._error(err, instance)
        except Redirect as moved:
            resp = _empty(301)
            resp.headers["Location"] = moved.location
            return resp
        except RequestEntityTooLarge:
            length = request.content_length
            if length is not None and length <= self.settings.max_body_size:
                # within the body limit: Werkzeug refused the multipart form itself (max_form_parts)
                return self._error(ApiError(
                    413, "payload-too-large", f"The multipart body has more than {request.max_form_parts} parts "
                    f"(the sandbox's limit, Werkzeug max_form_parts): send fewer inputs or files per request",
                    "Request Entity Too Large"), instance)
            return self._error(self._too_large(length), instance)
        except MethodNotAllowed as exc:
            err = ApiError(405, "method-not-allowed", f"Method [{request.method}] not allowed for URI "
                           f"[{request.path}]. Allowed methods: {sorted(exc.valid_methods or [])}",
                           "Method Not Allowed", headers={"Allow": ", ".join(sorted(exc.valid_methods or []))})
            return self._error(err, instance)
        except NotFound:
            return self._error(page_not_found(self.gen), instance)
        except HTTPException as exc:
            return self._error(ApiError(exc.code or 400, "bad-request", exc.description or "", exc.name), instance)
        except DropConnection:
            raise
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
        size = f"The content length [{length}]" if length is not None else "The request body (chunked)"
        return ApiError(413, "payload-too-large",
                        f"{size} exceeds the maximum allowed content length "
                        f"[{self.settings.max_body_size}]", "Request Entity Too Large")

    # -- control endpoint (/_sandbox/faults) ------------------------------------------------
    def _control(self, request: Request) -> Response:
        # faults shape what clients receive (canned bodies): the credential guards them too
        if not guards.authenticated(self.settings, request.headers, request.cookies):
            return self._error(guards.unauthorized(request.headers), request.path)
        if request.path.rstrip("/") != "/_sandbox/faults":
            return _json({"message": "Unknown sandbox control endpoint; use /_sandbox/faults"}, 404)
        if request.method == "DELETE":
            self.faults.clear()
            return _empty(204)
        if request.method == "GET":
            return _json(self.faults.active())
        if request.method == "POST":
            try:
                spec = safe_json.loads(request.get_data() or b"null")
                self.faults.configure(spec)
            except (ValueError, TypeError) as exc:     # safe_json.JsonError is a ValueError
                return _json({"message": f"Invalid fault: {exc}"}, 400)
            return _json(self.faults.active())
        return _json({"message": "Use GET, POST or DELETE on /_sandbox/faults"}, 405)
