"""Bulk execution routes (``…/executions/<action>/by-ids|by-query``), ``executions/latest`` and
``executions/{ns}/{id}/validate`` (kestra-api.md §2.6-2.7, kestra-api-2.md §3).

1.x answers bulk actions with 200 ``{count}``; 2.x with 202 ``{operationId, totalItems}``
(processing is asynchronous in Kestra; the sandbox applies the actions before answering, which
a client cannot tell apart). ``DELETE …/executions/by-ids|by-query`` is 200 ``{count}`` on both.
Invalid ids are 400 ``{message: "invalid bulk <action>", invalids: [...]}`` (Kestra's
``BulkErrorResponse``).
"""
from __future__ import annotations

import json
import uuid

from werkzeug.wrappers import Response

from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.http import json_response as _json
from kestra_magic.sandbox.problems import ApiError, bad_request, illegal_argument, not_found
from kestra_magic.sandbox.query import bool_param, matches, parse_filters

# legacy flat params 2.x rejects on by-query mutations (kestra-api-2.md §10)
LEGACY_PARAMS = ("q", "scope", "namespace", "flowId", "state", "labels", "startDate", "endDate",
                 "timeRange", "triggerExecutionId", "childFilter")


class BulkRejected(Exception):
    """One execution a bulk action cannot apply to, with the reason."""


class BulkHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for bulk actions and validation."""

    # -- helpers ----------------------------------------------------------------------------
    def _json_body(self, request, what: str):
        try:
            return json.loads(request.get_data() or b"null")
        except ValueError:
            raise ApiError(422, "invalid-json", f"Can not parse the JSON body: expected {what}",
                           "Invalid JSON") from None

    def _id_list(self, request) -> list[str]:
        body = self._json_body(request, "a JSON array of execution ids")
        if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
            raise ApiError(422, "invalid-json", "Expected a JSON array of execution ids, e.g. [\"4Fz...\"]",
                           "Invalid JSON")
        return body

    def _bulk_answer(self, count: int, *, asynchronous: bool = True) -> Response:
        if self.gen == 2 and asynchronous:
            return _json({"operationId": uuid.uuid4().hex, "totalItems": count}, 202)
        return _json({"count": count})

    def _bulk_by_ids(self, ids: list[str], action: str, check, apply) -> list[str]:
        """Check every id first (any invalid one ⇒ 400 with all of them), then apply."""
        invalids = []
        for execution_id in ids:
            ex = self.store.get_execution(execution_id)
            if ex is None or ex.get("deleted"):
                invalids.append({"invalidValue": execution_id, "message": "execution not found"})
                continue
            try:
                check(ex)
            except BulkRejected as exc:
                invalids.append({"invalidValue": execution_id, "message": str(exc)})
        if invalids:
            raise _BulkError(action, invalids)
        for execution_id in ids:
            apply(self.store.get_execution(execution_id))
        return ids

    def _bulk_by_query(self, request, check, apply) -> int:
        args = request.args
        if self.gen == 2:
            for name in LEGACY_PARAMS:
                if name in args:
                    raise ApiError(400, "invalid-query-filters",
                                   f"'{name}' is not a supported query parameter on this endpoint, use "
                                   f"filters[{name}][EQUALS]=<value>", "Invalid query filters")
        from kestra_magic.sandbox.handlers_executions import EXECUTION_FIELDS
        filters = parse_filters(args, EXECUTION_FIELDS)
        if not filters and self.gen == 1:
            filters = self._legacy_filters(args, {"q": "CONTAINS", "namespace": "PREFIX", "flowId": "EQUALS",
                                                  "state": "IN"})
        with self.store.lock:
            chosen = [e["id"] for e in self.store.executions.values()
                      if not e.get("deleted") and matches(e, filters, self._execution_fields)]
        count = 0
        for execution_id in chosen:
            ex = self.store.get_execution(execution_id)
            try:
                check(ex)
            except BulkRejected:
                continue          # by-query skips what the action does not apply to
            apply(ex)
            count += 1
        return count

    def _bulk(self, request, action: str, check, apply, by: str) -> Response:
        if by == "ids":
            count = len(self._bulk_by_ids(self._id_list(request), action, check, apply))
        else:
            count = self._bulk_by_query(request, check, apply)
        return self._bulk_answer(count)

    def _engine_or_conflict(self):
        if self.engine is None:
            raise ApiError(409, "conflict", "The sandbox has no engine to run executions", "Conflict")
        return self.engine

    # -- the actions ------------------------------------------------------------------------
    @staticmethod
    def _state(ex: dict) -> str:
        return ex["state"]["current"]

    def _bulk_spec(self, action: str, request):
        """``(check, apply)`` for one bulk action."""
        args = request.args
        terminal = shapes.is_terminal

        def need(test, message):
            def check(ex):
                if not test(self._state(ex)):
                    raise BulkRejected(message.format(state=self._state(ex)))
            return check

        if action == "kill":
            return (need(lambda s: not terminal(s), "execution already finished ({state})"),
                    lambda ex: self._engine_or_conflict().kill(ex["id"]))
        if action == "restart":
            return (need(lambda s: terminal(s) or s == "PAUSED", "execution must be terminated to be "
                         "restarted, current state is {state}"),
                    lambda ex: self._engine_or_conflict().restart(ex["id"], None))
        if action == "resume":
            return (need(lambda s: s in ("PAUSED", "BREAKPOINT"), "execution is not paused ({state})"),
                    lambda ex: self._engine_or_conflict().resume(ex["id"], {}))
        if action == "pause":
            return (need(lambda s: s in ("RUNNING", "CREATED"), "execution is not running ({state})"),
                    lambda ex: self._engine_or_conflict().pause(ex["id"]))
        if action == "replay":
            latest = bool_param(args, "latestRevision", False)

            def replay(ex):
                revision = None
                if latest:
                    flow = self.store.get_flow(ex["namespace"], ex["flowId"])
                    revision = flow["revision"] if flow else None
                self._engine_or_conflict().replay(ex["id"], None, revision, None)
            return (lambda ex: None), replay
        if action == "force-run":
            return (need(lambda s: not terminal(s), "execution already finished ({state})"),
                    lambda ex: self._force_run(ex["id"]))
        if action == "unqueue":
            target = self._unqueue_target(args.get("state") or args.get("newState"))
            return (need(lambda s: s == "QUEUED", "execution is not queued ({state})"),
                    lambda ex: self._unqueue(ex["id"], target))
        if action == "change-status":
            target = self._status_target(args.get("newStatus"), "newStatus")
            return (need(terminal, "execution is not terminated ({state})"),
                    lambda ex: self._change_status(ex["id"], target))
        raise not_found("Resource not found")

    def h_bulk_by_ids(self, request, tenant, action):
        check, apply = self._bulk_spec(action, request)
        return self._bulk(request, action, check, apply, "ids")

    def h_bulk_by_query(self, request, tenant, action):
        check, apply = self._bulk_spec(action, request)
        return self._bulk(request, action, check, apply, "query")

    # -- labels -----------------------------------------------------------------------------
    def _label_list(self, body) -> list[dict]:
        try:
            labels = [{"key": str(lb["key"]), "value": str(lb["value"])} for lb in body]
        except (TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"key\", \"value\"} labels",
                           "Invalid JSON") from None
        bad = [lb for lb in labels if lb["key"].startswith("system.")]
        if bad:
            raise illegal_argument(f"System labels can only be set by Kestra itself, offending label: "
                                   f"{bad[0]['key']}={bad[0]['value']}")
        return labels

    def _merge_labels(self, execution_id: str, labels: list[dict]) -> None:
        def apply(e):
            new_keys = {lb["key"] for lb in labels}
            kept = [lb for lb in e.get("labels") or [] if lb["key"] not in new_keys]
            e["labels"] = kept + labels
        self.store.update_execution(execution_id, apply)

    def h_bulk_labels_by_ids(self, request, tenant):
        body = self._json_body(request, "{\"executionsId\": [...], \"executionLabels\": [...]}")
        if not isinstance(body, dict) or not isinstance(body.get("executionsId"), list):
            raise ApiError(422, "invalid-json", "Expected {\"executionsId\": [ids], \"executionLabels\": "
                           "[{\"key\", \"value\"}]}", "Invalid JSON")
        labels = self._label_list(body.get("executionLabels") or [])
        check = lambda ex: None if shapes.is_terminal(self._state(ex)) else (_ for _ in ()).throw(
            BulkRejected(f"execution is not terminated ({self._state(ex)})"))
        ids = [str(i) for i in body["executionsId"]]
        self._bulk_by_ids(ids, "labels", check, lambda ex: self._merge_labels(ex["id"], labels))
        return self._bulk_answer(len(ids))

    def h_bulk_labels_by_query(self, request, tenant):
        labels = self._label_list(self._json_body(request, "a JSON array of labels") or [])

        def check(ex):
            if not shapes.is_terminal(self._state(ex)):
                raise BulkRejected("execution is not terminated")
        count = self._bulk_by_query(request, check, lambda ex: self._merge_labels(ex["id"], labels))
        return self._bulk_answer(count)

    # -- delete -----------------------------------------------------------------------------
    def _delete_one(self, ex: dict, delete_logs: bool) -> None:
        if not shapes.is_terminal(self._state(ex)) and self.engine is not None:
            try:
                self.engine.kill(ex["id"])
            except Exception:  # already finishing: deleting wins anyway
                pass
        self.store.update_execution(ex["id"], lambda e: e.__setitem__("deleted", True))
        if delete_logs:
            with self.store.lock:
                self.store.logs.pop(ex["id"], None)

    def _delete_spec(self, request):
        include = bool_param(request.args, "includeNonTerminated", False)
        delete_logs = bool_param(request.args, "deleteLogs", True)

        def check(ex):
            if not include and not shapes.is_terminal(self._state(ex)):
                raise BulkRejected(f"execution not terminated ({self._state(ex)}); pass "
                                   f"includeNonTerminated=true to delete it")
        return check, (lambda ex: self._delete_one(ex, delete_logs))

    def h_bulk_delete_by_ids(self, request, tenant):
        check, apply = self._delete_spec(request)
        ids = self._bulk_by_ids(self._id_list(request), "delete", check, apply)
        return self._bulk_answer(len(ids), asynchronous=False)

    def h_bulk_delete_by_query(self, request, tenant):
        check, apply = self._delete_spec(request)
        return self._bulk_answer(self._bulk_by_query(request, check, apply), asynchronous=False)

    # -- latest -----------------------------------------------------------------------------
    def h_execution_latest(self, request, tenant):
        body = self._json_body(request, "a JSON array of {\"namespace\", \"id\"}")
        if not isinstance(body, list) or not all(isinstance(f, dict) and f.get("namespace") and f.get("id")
                                                 for f in body):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"namespace\", \"id\"} flows",
                           "Invalid JSON")
        out = []
        with self.store.lock:
            executions = [e for e in self.store.executions.values() if not e.get("deleted")]
            for wanted in body:
                mine = [e for e in executions
                        if e["namespace"] == wanted["namespace"] and e["flowId"] == wanted["id"]]
                if not mine:
                    continue
                last = max(mine, key=lambda e: e["state"]["histories"][0]["date"])
                out.append({"id": last["id"], "flowId": last["flowId"], "namespace": last["namespace"],
                            "startDate": last["state"]["histories"][0]["date"],
                            "status": last["state"]["current"]})
        return _json(out)

    # -- validate new execution inputs ------------------------------------------------------
    def h_execution_validate(self, request, tenant, namespace, flow_id):
        args = request.args
        from kestra_magic.sandbox.query import int_param
        revision = int_param(args, "revision", 0) if args.get("revision") else None
        flow = self.store.get_flow(namespace, flow_id, revision)
        if flow is None or flow.get("deleted"):
            raise not_found("Requested Flow is not found.")
        self._labels(args)        # same label checks as a creation
        form, uploads = self._uploads(request)
        return _json({"id": flow_id, "namespace": namespace,
                      "inputs": self._validated_inputs(flow.get("inputs"), form, uploads), "checks": []})

    def h_action_resume_validate(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        if ex["state"]["current"] not in ("PAUSED", "BREAKPOINT"):
            raise ApiError(409, "conflict", f"Execution '{execution_id}' is not paused, can't resume it", "Conflict")
        form, uploads = self._uploads(request)
        return _json({"id": ex["id"], "namespace": ex["namespace"],
                      "inputs": self._validated_inputs(self._on_resume_spec(ex), form, uploads), "checks": []})

    def _validated_inputs(self, declared, form, uploads) -> list[dict]:
        """Kestra's ``ApiInputAndValue`` list: each declared input with its typed value, whether it
        came from ``defaults``, and its errors."""
        declared = [d for d in declared or [] if isinstance(d, dict)]
        errors: dict[str, list[str]] = {}
        values: dict = {}
        try:
            values = inputsmod.resolve(declared, form, uploads, lambda iid, fname: f"kestra:///{iid}/{fname}").values
        except inputsmod.InputErrors as exc:
            for p in exc.problems:
                errors.setdefault(p.input_id, []).append(p.message)
        out = []
        for spec in declared:
            input_id = str(spec.get("id") or spec.get("name"))
            submitted = input_id in form or input_id in uploads
            value = _dig(values, input_id)
            if input_id in errors:
                value = form.get(input_id)
            elif errors and input_id in form:        # resolve() stopped at another input's error
                try:
                    value = inputsmod.convert(spec, form[input_id])
                except (ValueError, TypeError, ArithmeticError):
                    value = form[input_id]
            elif errors and spec.get("defaults") is not None:
                try:
                    value = inputsmod.convert(spec, spec["defaults"])
                except (ValueError, TypeError, ArithmeticError):
                    value = spec["defaults"]
            entry = {"input": inputsmod.to_jsonable(spec), "enabled": True,
                     "isDefault": not submitted and spec.get("defaults") is not None,
                     "errors": [{"message": m} for m in errors.get(input_id, [])]}
            if value is not None:
                entry["value"] = value
            out.append(entry)
        return out


def _dig(values: dict, dotted: str):
    node = values
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class _BulkError(ApiError):
    """Kestra's ``BulkErrorResponse`` (plain JSON on both generations)."""

    def __init__(self, action: str, invalids: list[dict]):
        super().__init__(400, "bad-request", f"invalid bulk {action}", "Bad Request")
        self.body = {"message": f"invalid bulk {action}", "invalids": invalids}


def bulk_error_response(err: _BulkError) -> Response:
    return _json(err.body, 400)


__all__ = ["BulkHandlers", "BulkRejected", "bulk_error_response", "bad_request"]
