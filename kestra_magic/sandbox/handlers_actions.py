"""Execution actions on 1.x paths and 2.x ``/actions/`` (kestra-api-2.md §3): kill, restart, resume
(and its validation), resume-from-breakpoint, replay (with inputs), pause, labels, change-status,
task-run state, force-run, unqueue, eval. The rules are the backend's; 2.x answers once the
engine applied the action."""
from __future__ import annotations

from werkzeug.wrappers import Response

from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import states
from kestra_magic.sandbox.http import Handlers, empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, bad_request
from kestra_magic.sandbox.query import bool_param


def required_param(args, name: str) -> str:
    """A query parameter Kestra requires (400 when absent)."""
    value = args.get(name)
    if not value:
        raise bad_request(f"Required QueryValue [{name}] not specified", slug="invalid-query-parameter")
    return value


class ActionHandlers(Handlers):
    """The actions on one execution."""

    def _settled(self, execution_id: str, test, timeout: float = 1.0):
        """2.x: the execution once ``test`` holds (or as it is after ``timeout``)."""
        return _json(self.core(self.backend.wait_until(execution_id, test, timeout, required=False)))

    def h_action_kill(self, request, tenant, execution_id):
        ex = self.execution(execution_id, empty_v1=True)
        killed = self.backend.kill(execution_id, bool_param(request.args, "isOnKillCascade", True))
        if self.gen == 1:
            return Response(b"", status=202, content_type="text/json")
        if killed:
            ex = self.backend.wait_until(execution_id, lambda e: e["state"]["current"] == states.KILLING
                                         or states.is_terminal(e["state"]["current"]))
        return _json(self.core(ex), content_type="text/json")

    def h_action_restart(self, request, tenant, execution_id):
        self.execution(execution_id)
        new_id = self.backend.restart(execution_id, self.revision(request.args))
        return _json(self.core(self.execution(new_id)))

    def h_action_resume(self, request, tenant, execution_id):
        ex = self.execution(execution_id)
        self.backend.check_resumable(ex)
        form, uploads = self.uploads(request)
        self.backend.resume(execution_id, self.backend.resume_values(ex, form, uploads))
        if self.gen == 1:
            return _empty(204)
        return self._settled(execution_id, lambda e: e["state"]["current"] not in states.RESUMABLE)

    def h_action_resume_validate(self, request, tenant, execution_id):
        ex = self.execution(execution_id)
        self.backend.check_resumable(ex)
        form, uploads = self.uploads(request)
        return _json({"id": ex["id"], "namespace": ex["namespace"], "checks": [],
                      "inputs": inputsmod.validate_values(self.backend.on_resume_inputs(ex), form, uploads)})

    def h_action_resume_breakpoint(self, request, tenant, execution_id):
        self.execution(execution_id)
        self.backend.resume_from_breakpoint(execution_id, self.breakpoints(request.args.get("breakpoints")))
        if self.gen == 1:
            return _empty(204)
        return self._settled(execution_id, lambda e: e["state"]["current"] != states.BREAKPOINT)

    def h_action_replay(self, request, tenant, execution_id):
        self.execution(execution_id)
        args = request.args
        new_id = self.backend.replay(execution_id, args.get("taskRunId") or None, self.revision(args),
                                     self.breakpoints(args.get("breakpoints")))
        return _json(self.core(self.execution(new_id)))

    def h_action_replay_with_inputs(self, request, tenant, execution_id):
        ex = self.execution(execution_id)
        args = request.args
        if request.mimetype != "multipart/form-data":
            raise ApiError(422, "invalid-request-body", "Required Body [inputs] not specified: send a "
                           "multipart/form-data body (it may be empty)", "Invalid request body")
        task_run_id, revision = args.get("taskRunId") or None, self.revision(args)
        self.backend.check_replay(ex, task_run_id, revision)   # a wrong revision / task run before the body is read
        form, uploads = self.uploads(request)
        new_id = self.backend.replay_with_inputs(execution_id, task_run_id, revision,
                                                 self.breakpoints(args.get("breakpoints")), form, uploads)
        return _json(self.core(self.execution(new_id)))

    def h_action_pause(self, request, tenant, execution_id):
        self.execution(execution_id)
        self.backend.pause(execution_id)
        if self.gen == 1:
            return _empty(204)
        return self._settled(execution_id, lambda e: e["state"]["current"] == states.PAUSED
                             or states.is_terminal(e["state"]["current"]))

    def h_action_labels(self, request, tenant, execution_id):
        self.execution(execution_id)
        labels = self.labels_body(request)
        return _json(self.core(self.backend.set_labels(execution_id, labels)))

    def h_action_change_status(self, request, tenant, execution_id):
        self.execution(execution_id)
        target = required_param(request.args, "status")
        return _json(self.core(self.backend.change_status(execution_id, target)))

    def h_action_task_run_state(self, request, tenant, execution_id):
        self.execution(execution_id)
        body = self.json_body(request, "{\"taskRunId\", \"state\"}")
        try:
            task_run_id, target = str(body["taskRunId"]), str(body["state"])
        except (TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON body {\"taskRunId\", \"state\"}",
                           "Invalid JSON") from None
        return _json(self.core(self.backend.set_task_run_state(execution_id, task_run_id, target)))

    def h_action_force_run(self, request, tenant, execution_id):
        self.execution(execution_id)
        ex = self.backend.force_run(execution_id)
        if self.gen == 2 and ex["state"]["current"] == states.QUEUED:
            ex = self.backend.wait_until(execution_id, lambda e: e["state"]["current"] != states.QUEUED, 2.0,
                                         required=False)
        return _json(self.core(ex))

    def h_action_unqueue(self, request, tenant, execution_id):
        self.execution(execution_id)
        self.backend.unqueue(execution_id, required_param(request.args, "state"))
        return self._settled(execution_id, lambda e: e["state"]["current"] != states.QUEUED, 2.0)

    def h_action_eval(self, request, tenant, execution_id, task_run_id=None):
        self.execution(execution_id)
        expression = request.get_data().decode("utf-8", errors="replace")
        return _json(self.backend.evaluate(execution_id, task_run_id, expression))
