"""Execution routes: create (typed inputs), get, search, follow, delete, latest, validate, the flow
of an execution, and 2.x outputs (kestra-api.md §2)."""
from __future__ import annotations

import datetime as dt

from werkzeug.wrappers import Response

from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import labels as labelsmod
from kestra_magic.sandbox import shapes, sse
from kestra_magic.sandbox.store import storage_prefix
from kestra_magic.sandbox.http import Handlers, empty as _empty, json_response as _json
from kestra_magic.sandbox.instants import format_instant
from kestra_magic.sandbox.problems import ApiError, bad_request, not_found
from kestra_magic.sandbox.query import (EXECUTION_FIELDS, EXECUTION_FILTERS, EXECUTION_LEGACY, Filter, bool_param,
                                        legacy_filters, matches, parse_filters, sort_and_page)

KINDS = {1: {"NORMAL", "TEST", "PLAYGROUND"}, 2: {"NORMAL", "TEST", "PLAYGROUND", "LOOP"}}


def execution_filters(args, generation: int) -> list[Filter]:
    """``filters[...]`` (both generations) or 1.x's flat parameters."""
    filters = parse_filters(args, EXECUTION_FILTERS)
    if not filters and generation == 1:
        filters = legacy_filters(args, EXECUTION_LEGACY)
    return filters


class ExecutionHandlers(Handlers):
    """/executions (create, read, search, follow, delete) and /outputs."""

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
        return format_instant(moment)

    def h_execution_create(self, request, tenant, namespace, flow_id):
        args = request.args
        flow = self.backend.executable_flow(namespace, flow_id, self.revision(args))
        wait = bool_param(args, "wait", False)
        execution_id = self.backend.new_execution_id()
        labels = self.backend.create_labels(flow, labelsmod.from_query(args.getlist("labels")), execution_id)
        schedule = self._schedule_date(args.get("scheduleDate"))
        breakpoints = self.breakpoints(args.get("breakpoints"))
        kind = args.get("kind")
        if kind is not None and kind.upper() not in KINDS[self.gen]:
            raise bad_request(f"Failed to convert argument [kind] for value [{kind}]: use one of "
                              f"{', '.join(sorted(KINDS[self.gen]))}", slug="invalid-query-parameter")
        form, uploads = self.uploads(request)
        resolved = self.backend.resolve_inputs(flow.get("inputs"), form, uploads,
                                               storage_prefix(namespace, flow_id, execution_id))
        ex = self.backend.create_execution(flow, execution_id, resolved, labels, schedule, breakpoints,
                                           kind.upper() if kind else None)
        if wait:
            # Kestra answers the execution as emitted to its queue (CREATED, one history entry) and
            # runs it afterwards; with wait=true, the last one streamed (kestra-io/kestra
            # webserver/.../controllers/api/ExecutionController.java, createExecution:
            # `if (!wait || ...) return ExecutionResponse.fromExecution(executionWithInputs, ...)`).
            ex = self.backend.wait_for_end(execution_id) or ex
        return _json(dict(self.core(ex), url=self.ui_url(ex)))

    def _search(self, request, extra: list[Filter] | None = None):
        args = request.args
        filters = execution_filters(args, self.gen) + (extra or [])
        total = 0

        def pick(items):
            nonlocal total
            page, total = sort_and_page(items, args, EXECUTION_FIELDS, default_sort="state.startDate:desc")
            return page
        page = self.backend.select_executions(lambda e: matches(e, filters, EXECUTION_FIELDS), pick)
        form = "light" if self.gen == 2 else "full"
        return _json({"results": [shapes.execution(e, self.gen, form=form) for e in page], "total": total})

    def h_execution_search(self, request, tenant):
        return self._search(request)

    def h_execution_list(self, request, tenant):
        namespace, flow_id = request.args.get("namespace"), request.args.get("flowId")
        if not namespace or not flow_id:
            missing = "namespace" if not namespace else "flowId"
            raise bad_request(f"Required QueryValue [{missing}] not specified", slug="invalid-query-parameter")
        return self._search(request, [Filter("namespace", "EQUALS", namespace), Filter("flowId", "EQUALS", flow_id)])

    def h_execution_get(self, request, tenant, execution_id):
        form = "api" if self.gen == 2 else "full"
        view = self.backend.execution_json(execution_id, form)
        while view is None:   # Kestra's 404 for an unknown one (or it appeared meanwhile: read again)
            self.execution(execution_id)
            view = self.backend.execution_json(execution_id, form)
        # the shaped JSON, cached per task run: a poll of a 20,000-task-run execution re-serializes
        # only what changed since the last one (execution_json.py)
        return Response(view.body, content_type="application/json")

    def h_execution_delete(self, request, tenant, execution_id):
        self.execution(execution_id, empty_v1=True)
        self.backend.delete_execution(execution_id, bool_param(request.args, "deleteLogs", True))
        return _empty(204)

    def h_execution_follow(self, request, tenant, execution_id):
        stream = sse.follow_execution(self.backend, execution_id, self.gen, self.ctx.is_stopping,
                                      self.ctx.faults.take_sse_limit())
        return self.sse(stream)

    def h_execution_latest(self, request, tenant):
        body = self.json_body(request, "a JSON array of {\"namespace\", \"id\"}")
        if not isinstance(body, list) or not all(isinstance(f, dict) and f.get("namespace") and f.get("id")
                                                 for f in body):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"namespace\", \"id\"} flows",
                           "Invalid JSON")
        latest = self.backend.latest_executions([(f["namespace"], f["id"]) for f in body])
        return _json([{"id": e["id"], "flowId": e["flowId"], "namespace": e["namespace"],
                       "startDate": e["state"]["histories"][0]["date"], "status": e["state"]["current"]}
                      for e in latest])

    def h_execution_validate(self, request, tenant, namespace, flow_id):
        flow = self.backend.live_flow(namespace, flow_id, self.revision(request.args))
        # the same label checks as a creation
        self.backend.create_labels(flow, labelsmod.from_query(request.args.getlist("labels")), "validate")
        form, uploads = self.uploads(request)
        return _json({"id": flow_id, "namespace": namespace,
                      "inputs": inputsmod.validate_values(flow.get("inputs"), form, uploads), "checks": []})

    # -- the flow of an execution -----------------------------------------------------------
    def h_execution_flow_by_id(self, request, tenant, execution_id):
        flow = self.backend.execution_flow(self.execution(execution_id))
        return _json(shapes.flow(flow, self.gen, False))

    def h_execution_flow(self, request, tenant, namespace, flow_id):
        stored = self.backend.flow(namespace, flow_id, self.revision(request.args), allow_deleted=True)
        if stored is None:
            raise not_found(f"Unable to find flow {namespace}.{flow_id}")
        return _json(shapes.flow(stored, self.gen, False))

    # -- outputs (2.x) -----------------------------------------------------------------------
    def h_outputs_flow(self, request, tenant, execution_id):
        return _json(self.execution(execution_id).get("outputs") or {})

    def h_outputs_tasks(self, request, tenant, execution_id):
        ex = self.execution(execution_id)
        out = [{"taskId": tr.get("taskId"), "taskRunId": tr.get("id"), "value": tr.get("value"),
                "iteration": tr.get("iteration"), "inline": True}
               for tr in ex.get("taskRunList") or [] if tr.get("outputs")]
        return _json([{k: v for k, v in o.items() if v is not None} for o in out])

    def h_outputs_task_run(self, request, tenant, execution_id, task_run_id):
        ex = self.execution(execution_id)
        for tr in ex.get("taskRunList") or []:
            if tr.get("id") == task_run_id:
                return _json(tr.get("outputs") or {})
        raise not_found(f"Task run {task_run_id} not found in execution {execution_id}")
