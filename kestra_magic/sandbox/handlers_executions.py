"""Execution routes: create (typed inputs), get, search, follow, delete, and 2.x outputs (kestra-api.md §2)."""
from __future__ import annotations

import datetime as dt
import time
from typing import Callable

from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import shapes, sse
from kestra_magic.sandbox.http import empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import (ApiError, bad_request, conflict, illegal_argument, invalid_entity,
                                           not_found)
from kestra_magic.sandbox.query import Filter, bool_param, int_param, matches, parse_filters, sort_and_page

EXECUTION_FIELDS = {"q", "scope", "namespace", "flowId", "state", "labels", "startDate", "endDate",
                    "timeRange", "kind", "triggerExecutionId", "childFilter", "id", "executionId",
                    "parentId", "flowRevision"}
KINDS = {1: {"NORMAL", "TEST", "PLAYGROUND"}, 2: {"NORMAL", "TEST", "PLAYGROUND", "LOOP"}}


class ExecutionHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for /executions and /outputs."""

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

    def _resolve_inputs(self, spec, form, uploads, prefix: str):
        """Typed inputs from a multipart form (422 with Kestra's messages when they are wrong);
        FILE parts are stored under ``prefix``."""
        try:
            resolved = inputsmod.resolve(spec, form, uploads, lambda iid, fname: f"{prefix}inputs/{iid}/{fname}")
        except inputsmod.InputErrors as exc:
            raise invalid_entity("; ".join(p.message for p in exc.problems) if self.gen == 2 else "",
                                 [(f"inputs.{p.input_id}", p.message) for p in exc.problems],
                                 slug="invalid-entity") from None
        for input_id, part in resolved.files.items():
            self.store.put_file(f"{prefix}inputs/{input_id}/{part.filename}", part.data)
        return resolved

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
        resolved = self._resolve_inputs(flow.get("inputs"), form, uploads, prefix)
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
        created = self.store.get_execution(execution_id)
        self.engine.start(execution_id)
        if not wait:
            # Kestra answers the execution as emitted to its queue (CREATED, one history entry) and
            # runs it afterwards; with wait=true, the last one streamed (kestra-io/kestra
            # webserver/.../controllers/api/ExecutionController.java, createExecution:
            # `if (!wait || ...) return ExecutionResponse.fromExecution(executionWithInputs, ...)`).
            return _json(dict(self._core(created), url=self._url(ex)))
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
