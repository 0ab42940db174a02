"""Execution actions: kill/restart/resume/replay/pause/labels, 1.x paths and 2.x /actions/ (kestra-api-2.md §3)."""
from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.http import empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import (ApiError, bad_request, conflict, illegal_argument, not_found)
from kestra_magic.sandbox.query import bool_param, int_param


class ActionHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for execution actions."""

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
                raise conflict("Execution is already finished, can't kill it")
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
        return self._resolve_inputs(spec, form, uploads, prefix).values

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

    # -- change-status / task-run state / force-run / unqueue / replay-with-inputs ----------------
    def _status_target(self, raw: str | None, name: str = "status") -> str:
        if not raw:
            raise bad_request(f"Required QueryValue [{name}] not specified", slug="invalid-query-parameter")
        target = raw.strip().upper()
        if not shapes.is_terminal(target):
            raise illegal_argument(f"Invalid new status '{raw}': use a terminated state "
                                   f"({', '.join(sorted(shapes.TERMINAL))})")
        return target

    def _change_status(self, execution_id: str, target: str) -> dict:
        from kestra_magic.sandbox.engine_state import transition
        return self.store.update_execution(execution_id, lambda e: transition(e["state"], target))

    def h_action_change_status(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        target = self._status_target(request.args.get("status"))
        state = ex["state"]["current"]
        if not shapes.is_terminal(state) or state == "KILLED":
            raise conflict(f"Cannot change the status of execution {execution_id}: current state is '{state}', "
                           f"expected a terminated (not killed) execution.")
        return _json(self._core(self._change_status(execution_id, target)))

    def h_action_task_run_state(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        try:
            body = json.loads(request.get_data() or b"null")
            task_run_id, target = str(body["taskRunId"]), str(body["state"]).upper()
        except (ValueError, TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON body {\"taskRunId\", \"state\"}",
                           "Invalid JSON") from None
        if target not in shapes.TERMINAL:
            raise illegal_argument(f"Invalid state '{target}': use a terminated state")
        state = ex["state"]["current"]
        if not shapes.is_terminal(state) or state == "KILLED":
            raise conflict(f"Cannot change a task run state of execution {execution_id}: current state is "
                           f"'{state}', expected a terminated (not killed) execution.")
        if not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise not_found(f"Task run {task_run_id} not found in execution {execution_id}")
        from kestra_magic.sandbox.engine_state import transition

        def mark(e):
            for tr in e.get("taskRunList") or []:
                if tr.get("id") == task_run_id:
                    transition(tr["state"], target)
            labels = [lb for lb in e.get("labels") or [] if lb.get("key") != "system.restarted"]
            e["labels"] = labels + [{"key": "system.restarted", "value": "true"}]
        self.store.update_execution(execution_id, mark)
        if self.engine is not None:
            self.engine.restart(execution_id, None)   # the executor carries on from the new state
        return _json(self._core(self._execution(execution_id)))

    def _force_run(self, execution_id: str) -> None:
        if self.engine is not None:
            self.engine.forced.add(execution_id)
            with self.store.lock:
                self.store.changed.notify_all()

    def h_action_force_run(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        if shapes.is_terminal(ex["state"]["current"]):
            raise conflict(f"Execution '{execution_id}' is already terminated ({ex['state']['current']}), "
                           f"it can't be forced to run")
        self._force_run(execution_id)
        if self.gen == 2 and ex["state"]["current"] == "QUEUED":
            ex = self._wait_until(execution_id, lambda e: e["state"]["current"] != "QUEUED", 2.0, required=False)
        return _json(self._core(ex))

    def _unqueue_target(self, raw: str | None) -> str:
        if not raw:
            raise bad_request("Required QueryValue [state] not specified", slug="invalid-query-parameter")
        target = raw.strip().upper()
        if target not in ("RUNNING", "CANCELLED", "FAILED", "SUCCESS", "KILLED", "WARNING", "SKIPPED"):
            raise illegal_argument(f"Invalid state '{raw}' to unqueue to: use RUNNING or a terminated state")
        return target

    def _unqueue(self, execution_id: str, target: str) -> None:
        if target == "RUNNING":
            self._force_run(execution_id)
        else:
            self._change_status(execution_id, target)

    def h_action_unqueue(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        target = self._unqueue_target(request.args.get("state"))
        if ex["state"]["current"] != "QUEUED":
            raise conflict(f"Execution '{execution_id}' is not queued ({ex['state']['current']}), can't unqueue it")
        self._unqueue(execution_id, target)
        ex = self._wait_until(execution_id, lambda e: e["state"]["current"] != "QUEUED", 2.0, required=False)
        return _json(self._core(ex))

    def h_action_replay_with_inputs(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        args = request.args
        if request.mimetype != "multipart/form-data":
            raise ApiError(422, "invalid-request-body", "Required Body [inputs] not specified: send a "
                           "multipart/form-data body (it may be empty)", "Invalid request body")
        revision = int_param(args, "revision", 0) if args.get("revision") else None
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], revision or ex.get("flowRevision"),
                                   allow_deleted=True)
        if flow is None:
            raise not_found("Requested Flow revision is not found.")
        task_run_id = args.get("taskRunId") or None
        if task_run_id and not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise illegal_argument(f"Unable to find task run '{task_run_id}' in execution {execution_id}")
        form, uploads = self._uploads(request)
        if self.engine is None:
            raise conflict("The sandbox has no engine to replay executions")
        prefix_id = self.store.new_id()
        prefix = self._storage_prefix(ex["namespace"], ex["flowId"], prefix_id)
        resolved = self._resolve_inputs(flow.get("inputs"), form, uploads, prefix)
        new_id = self.engine.replay(execution_id, task_run_id, revision,
                                    self._breakpoints(args.get("breakpoints")), inputs=resolved.values)
        return _json(self._core(self._execution(new_id)))

    # -- eval --------------------------------------------------------------------------------
    def _eval_context(self, ex: dict, task_run_id: str | None) -> dict:
        """The variables an expression sees after the execution (or up to one task run)."""
        labels = {lb["key"]: lb.get("value") for lb in ex.get("labels") or [] if isinstance(lb, dict)}
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], ex.get("flowRevision"), allow_deleted=True) or {}
        outputs: dict = {}
        for tr in ex.get("taskRunList") or []:
            if tr.get("outputs") is not None:
                if tr.get("value") is not None:
                    outputs.setdefault(tr["taskId"], {})[str(tr["value"])] = tr["outputs"]
                else:
                    outputs[tr["taskId"]] = tr["outputs"]
            if tr.get("id") == task_run_id:
                break
        context = {"flow": {"id": ex["flowId"], "namespace": ex["namespace"], "revision": ex.get("flowRevision"),
                            "tenantId": "main"},
                   "execution": {"id": ex["id"], "namespace": ex["namespace"], "flowId": ex["flowId"],
                                 "startDate": (ex["state"].get("histories") or [{}])[0].get("date"),
                                 "originalId": ex.get("originalId", ex["id"]), "state": ex["state"]["current"]},
                   "inputs": ex.get("inputs") or {}, "vars": flow.get("variables") or {}, "labels": labels,
                   "outputs": outputs}
        trigger = ex.get("trigger")
        if isinstance(trigger, dict) and isinstance(trigger.get("variables"), dict):
            context["trigger"] = trigger["variables"]
        return context

    def h_action_eval(self, request, tenant, execution_id, task_run_id=None):
        from kestra_magic.sandbox.expressions import ExpressionError, render
        ex = self._execution(execution_id)
        if task_run_id is not None and not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise not_found(f"Task run {task_run_id} not found in execution {execution_id}")
        expression = request.get_data().decode("utf-8", errors="replace")

        def read(uri: str) -> str:
            return self.store.file_path(uri).read_text(encoding="utf-8", errors="replace")
        try:
            result = render(expression, self._eval_context(ex, task_run_id), generation=self.gen, read=read)
        except (ExpressionError, OSError, ValueError) as exc:
            return _json({"error": str(exc), "stackTrace": f"{type(exc).__name__}: {exc}"})
        return _json({"result": str(result)})
