"""The sandbox's backend: one object over the store and the engine that owns every rule (which
action fits which state, labels, inputs, bulk checks, file access) and raises domain errors.

Handlers parse HTTP and shape JSON per generation; they call only this. Routes turn the domain
errors below into the generation's error body (``routes.domain_error``). No HTTP here.
"""
from __future__ import annotations

import contextlib
import copy
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from kestra_magic.sandbox import execution_json
from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import states
from kestra_magic.sandbox.engine import EngineConflict, EngineInvalid
from kestra_magic.sandbox.instants import now_iso, parse_instant
from kestra_magic.sandbox.store import storage_prefix, uri_to_relpath

__all__ = ["Backend", "DomainError", "NotFound", "Conflict", "AlreadyExists", "Invalid", "NotApplicable",
           "Timeout", "BulkInvalid", "OtherExecution"]

END_POLL_PACE = 0.005   # seconds between two looks at a running execution by wait_for_end (wait=true)


# -- domain errors -----------------------------------------------------------------------------
class DomainError(Exception):
    """A rule said no; ``message`` is Kestra's wording."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """No such flow, revision, execution or task run (404)."""


class Conflict(DomainError):
    """An action on something in the wrong state (409)."""


class AlreadyExists(Conflict):
    """A flow with that namespace and id exists already."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


class Invalid(DomainError):
    """Invalid arguments (422); ``errors`` are ``(path, message)`` violations, ``problem`` the 2.x
    problem type Kestra uses for them."""

    def __init__(self, message: str = "", errors: list[tuple[str, str]] | None = None,
                 problem: str = "validation-failed"):
        super().__init__(message)
        self.errors = errors or []
        self.problem = problem


class NotApplicable(DomainError):
    """A request Kestra answers 400 for (e.g. labels on an execution still running)."""


class Timeout(DomainError):
    """The engine did not apply an action in time (504)."""


class BulkInvalid(DomainError):
    """Some ids of a bulk action do not fit it: ``invalids`` = ``[{invalidValue, message}]``."""

    def __init__(self, action: str, invalids: list[dict]):
        super().__init__(f"invalid bulk {action}")
        self.action = action
        self.invalids = invalids


class OtherExecution(DomainError):
    """A file URI that belongs to another execution of the same flow (Kestra redirects there)."""

    def __init__(self, execution_id: str):
        super().__init__(execution_id)
        self.execution_id = execution_id


SYSTEM_LABELS_ON_CREATE = ("system.correlationId", "system.from")


class Backend:
    """Store + engine facade: every rule of the sandbox in one place."""

    def __init__(self, store, engine, generation: int, is_stopping: Callable[[], bool] = lambda: False):
        self.store = store
        self.engine = engine
        self.generation = generation
        self.is_stopping = is_stopping

    # -- engine calls: its errors become domain errors ---------------------------------------
    @contextlib.contextmanager
    def _engine(self):
        try:
            yield self.engine
        except EngineConflict as exc:
            raise Conflict(str(exc)) from None
        except EngineInvalid as exc:
            raise Invalid(str(exc), problem="invalid-argument") from None

    # -- flows -------------------------------------------------------------------------------
    def flow(self, namespace: str, flow_id: str, revision: int | None = None,
             allow_deleted: bool = False) -> dict | None:
        return self.store.get_flow(namespace, flow_id, revision, allow_deleted=allow_deleted)

    def live_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> dict:
        """A flow (revision) that is not deleted; NotFound otherwise."""
        flow = self.store.get_flow(namespace, flow_id, revision)
        if flow is None or flow.get("deleted"):
            raise NotFound("Requested Flow is not found.")
        return flow

    def executable_flow(self, namespace: str, flow_id: str, revision: int | None = None) -> dict:
        """The flow executions may be created from: NotFound when missing, Conflict when disabled."""
        flow = self.live_flow(namespace, flow_id, revision)
        if flow.get("disabled"):
            raise Conflict("Requested Flow is disabled.")
        return flow

    def flows(self) -> list[dict]:
        """The latest live revision of every flow."""
        return self.store.all_flows()

    def flow_revisions(self, namespace: str, flow_id: str) -> list[dict]:
        return self.store.flow_revisions(namespace, flow_id)

    def flow_problems(self, flow: dict) -> list[tuple[str, str]]:
        """Every ``(path, message)`` problem of a parsed flow (protocol and engine checks)."""
        return flowsmod.violations(flow, self.generation, self.engine.validate)

    def create_flow(self, flow: dict, source: str) -> dict:
        problems = self.flow_problems(flow)
        if problems:
            raise Invalid("", problems)
        with self.store.lock:
            if self.store.get_flow(flow["namespace"], flow["id"]) is not None:
                raise AlreadyExists(f"A flow with id '{flow['id']}' already exists in namespace "
                                    f"'{flow['namespace']}'.", "flow.id")
            return self.store.save_flow(dict(flow, source=source, updated=now_iso()))

    def update_flow(self, namespace: str, flow_id: str, flow: dict, source: str) -> dict:
        """A new revision of a live flow; the check and the save under one lock, so a delete in
        between cannot be undone by the save."""
        with self.store.lock:
            if self.store.get_flow(namespace, flow_id) is None:
                raise NotFound(f"Flow {namespace}.{flow_id} not found")
            problems = flowsmod.update_violations(flow, namespace, flow_id) + self.flow_problems(flow)
            if problems:
                raise Invalid("", problems)
            return self.store.save_flow(dict(flow, source=source, updated=now_iso()))

    def delete_flow(self, namespace: str, flow_id: str) -> None:
        if not self.store.delete_flow(namespace, flow_id):
            raise NotFound(f"Flow {namespace}.{flow_id} not found")

    def sync_flows(self, documents: list[tuple[int, dict, str]], problems: list[tuple[str, str]],
                   namespace: str | None, allow_child: bool, delete_others: bool) -> list[dict]:
        """Create/update every flow of a multi-document body (all checked first, ``problems`` are the
        caller's parse errors); with a namespace and ``delete_others``, delete its other flows."""
        problems = list(problems)
        for index, flow, _ in documents:
            problems += [(f"flows[{index}].{p}" if p else f"flows[{index}]", m) for p, m in self.flow_problems(flow)]
            ns = flow.get("namespace")
            if namespace is not None and isinstance(ns, str) and not (
                    ns == namespace or (allow_child and ns.startswith(namespace + "."))):
                problems.append((f"flows[{index}].namespace",
                                 f"Flow namespace '{ns}' is not the namespace '{namespace}' of the request"))
        if problems:
            raise Invalid("", problems)
        saved = []
        with self.store.lock:
            for _, flow, doc in documents:
                saved.append(self.store.save_flow(dict(flow, source=doc, updated=now_iso())))
            if namespace is not None and delete_others:
                keep = {(f["namespace"], f["id"]) for _, f, _ in documents}
                for other in self.store.all_flows():
                    if other["namespace"] == namespace and (other["namespace"], other["id"]) not in keep:
                        self.store.delete_flow(other["namespace"], other["id"])
        return saved

    def set_flows(self, action: str, keys: Iterable[tuple[str, str]]) -> int:
        """``delete`` / ``disable`` / ``enable`` these flows; how many it applied to. Disabling writes
        ``disabled: true`` into the source as a new revision."""
        count = 0
        with self.store.lock:
            for namespace, flow_id in keys:
                current = self.store.get_flow(namespace, flow_id)
                if current is None or current.get("deleted"):
                    continue
                if action == "delete":
                    count += bool(self.store.delete_flow(namespace, flow_id))
                    continue
                disabled = action == "disable"
                if bool(current.get("disabled")) != disabled:
                    source = flowsmod.set_top_level(current.get("source") or "", "disabled", disabled)
                    updated = {k: v for k, v in current.items() if k not in ("revision", "deleted")}
                    self.store.save_flow(dict(updated, disabled=disabled, source=source, updated=now_iso()))
                count += 1
        return count

    # -- reading executions ------------------------------------------------------------------
    def find_execution(self, execution_id: str) -> dict | None:
        """A copy of the execution, or None when unknown or deleted."""
        ex = self.store.get_execution(execution_id)
        return None if ex is None or ex.get("deleted") else ex

    def execution(self, execution_id: str) -> dict:
        ex = self.find_execution(execution_id)
        if ex is None:
            raise NotFound(f"Execution {execution_id} not found")
        return ex

    def select_executions(self, match: Callable[[dict], bool],
                          pick: Callable[[list[dict]], list[dict]] = lambda items: items) -> list[dict]:
        """Copies of the live executions ``match`` keeps, narrowed by ``pick`` (sort and page) before
        copying, so a search copies only its page."""
        with self.store.lock:
            items = [e for e in self.store.executions.values() if not e.get("deleted") and match(e)]
            return copy.deepcopy(pick(items))

    def latest_executions(self, wanted: list[tuple[str, str]]) -> list[dict]:
        """The last execution of each ``(namespace, flow id)`` that has one."""
        out = []
        with self.store.lock:
            live = [e for e in self.store.executions.values() if not e.get("deleted")]
            for namespace, flow_id in wanted:
                mine = [e for e in live if e["namespace"] == namespace and e["flowId"] == flow_id]
                if mine:
                    out.append(copy.deepcopy(max(mine, key=lambda e: parse_instant(e["state"]["histories"][0]["date"]))))
        return out

    def execution_flow(self, ex: dict) -> dict:
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], ex.get("flowRevision"), allow_deleted=True)
        if flow is None:
            raise NotFound(f"Unable to find flow {ex['namespace']}.{ex['flowId']}")
        return flow

    def snapshot(self, execution_id: str) -> tuple[dict | None, int]:
        """(the live execution or None, the store version it was read at), for streams."""
        with self.store.lock:
            return self.find_execution(execution_id), self.store.version

    def execution_json(self, execution_id: str, form: str):
        """The live execution's JSON in ``form`` (``execution_json.View``: body, done, version,
        changes), or None when unknown or deleted; shared by every poller and follower."""
        return execution_json.render(self.store, execution_id, self.generation, form)

    def execution_state(self, execution_id: str) -> str | None:
        """The execution's current state without copying it (None when unknown)."""
        with self.store.lock:
            ex = self.store.executions.get(execution_id)
            return None if ex is None else (ex.get("state") or {}).get("current")

    def version(self) -> int:
        """The store's change counter (what ``wait_for_change`` waits to move)."""
        return self.store.version

    def wait_for_change(self, version: int, timeout: float) -> int:
        return self.store.wait_for_change(version, timeout)

    def wait_until(self, execution_id: str, test: Callable[[dict], bool], timeout: float = 10.0,
                   required: bool = True) -> dict:
        """Block until ``test(execution)`` holds (2.x actions answer once the executor applied them).
        Past ``timeout``: Timeout when ``required``, else the execution as it is."""
        deadline = time.monotonic() + timeout
        version = -1
        while True:
            ex, version_now = self.snapshot(execution_id)
            if ex is None or test(ex) or self.is_stopping():
                break
            left = deadline - time.monotonic()
            if left <= 0 and not required:
                break
            if left <= 0:
                raise Timeout(f"Timed out waiting for the action on execution {execution_id} to be applied")
            if version_now == version:
                self.wait_for_change(version_now, min(left, 0.5))
            version = version_now
        return self.execution(execution_id)

    def wait_for_end(self, execution_id: str, timeout: float = 3600.0) -> dict | None:
        """Block until the execution and its task runs are terminated (``wait=true``).

        Looks at the stored execution while it waits and copies it once, at the end: a copy per
        store change made ``wait=true`` on a 20,000-task-run loop quadratic."""
        deadline = time.monotonic() + timeout
        while not self.is_stopping() and time.monotonic() < deadline:
            with self.store.lock:
                ex = self.store.executions.get(execution_id)
                ended = ex is None or ex.get("deleted") or states.all_terminated(ex)   # O(1) until terminal
                version = self.store.version
            if ended:
                break
            self.wait_for_change(version, 1.0)
            time.sleep(END_POLL_PACE)   # a running loop changes the store all the time: look at most this often
        return self.find_execution(execution_id)

    # -- inputs ------------------------------------------------------------------------------
    def new_execution_id(self) -> str:
        return self.store.new_id()

    def resolve_inputs(self, declared: list | None, form: dict, uploads: dict, prefix: str) -> inputsmod.Resolved:
        """Typed inputs (Invalid with Kestra's messages when wrong); FILE parts stored under ``prefix``."""
        try:
            resolved = inputsmod.resolve(declared, form, uploads, lambda iid, fname: f"{prefix}inputs/{iid}/{fname}")
        except inputsmod.InputErrors as exc:
            raise Invalid("; ".join(p.message for p in exc.problems),
                          [(f"inputs.{p.input_id}", p.message) for p in exc.problems], problem="invalid-entity") \
                from None
        for input_id, part in resolved.files.items():
            self.store.put_file(f"{prefix}inputs/{input_id}/{part.filename}", part.data)
        return resolved

    def on_resume_inputs(self, ex: dict) -> list | None:
        """The ``onResume`` declarations of the execution's paused task, if any."""
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], ex.get("flowRevision"), allow_deleted=True)
        paused = {tr.get("taskId") for tr in ex.get("taskRunList") or []
                  if (tr.get("state") or {}).get("current") in (states.PAUSED, states.RUNNING)}

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

    def resume_values(self, ex: dict, form: dict, uploads: dict) -> dict:
        """The typed ``onResume`` inputs of a resume request (the raw form when none are declared)."""
        if not form and not uploads:
            return {}
        spec = self.on_resume_inputs(ex)
        if spec is None:
            return dict(form)
        return self.resolve_inputs(spec, form, uploads, storage_prefix(ex["namespace"], ex["flowId"], ex["id"])).values

    # -- labels ------------------------------------------------------------------------------
    @staticmethod
    def check_user_labels(labels: list[dict], allowed_system: tuple[str, ...] = ()) -> None:
        """Only Kestra sets ``system.*`` labels (create may pass correlationId and from)."""
        for label in labels:
            if label["key"].startswith("system.") and label["key"] not in allowed_system:
                raise Invalid(f"System labels can only be set by Kestra itself, offending label: "
                              f"{label['key']}={label['value']}", problem="invalid-argument")

    def create_labels(self, flow: dict, given: list[dict], execution_id: str, source: str = "api") -> list[dict]:
        """The flow's labels, then the request's, then ``system.correlationId`` / ``system.from``."""
        self.check_user_labels(given, SYSTEM_LABELS_ON_CREATE)
        seen = set()
        for label in given:
            if label["key"] in seen:
                raise Conflict(f"Duplicate key {label['key']} (attempted merging values {label['value']})")
            seen.add(label["key"])
        out = [{"key": k, "value": v} for k, v in flowsmod.labels_of(flow).items() if not k.startswith("system.")]
        out += given
        keys = {lb["key"] for lb in out}
        if "system.correlationId" not in keys:
            out.append({"key": "system.correlationId", "value": execution_id})
        if source and "system.from" not in keys:
            out.append({"key": "system.from", "value": source})
        return out

    def set_labels(self, execution_id: str, labels: list[dict]) -> dict:
        """Replace the user labels of a terminated execution (system labels are kept)."""
        ex = self.execution(execution_id)
        if not states.is_terminal(ex["state"]["current"]):
            raise NotApplicable("The execution is not terminated")
        self.check_user_labels(labels)

        def apply(e):
            kept = [lb for lb in e.get("labels") or [] if lb["key"].startswith("system.")]
            e["labels"] = labels + kept
        return self.store.update_execution(execution_id, apply, sync=True)

    # -- creating executions -----------------------------------------------------------------
    def _log(self, ex: dict, level: str, message: str) -> None:
        self.store.add_log({"namespace": ex["namespace"], "flowId": ex["flowId"], "executionId": ex["id"],
                            "tenantId": "main", "timestamp": now_iso(), "level": level, "thread": "sandbox",
                            "message": message, "attemptNumber": None, "deleted": False})

    def create_execution(self, flow: dict, execution_id: str, inputs: inputsmod.Resolved, labels: list[dict],
                         schedule_date: str | None = None, breakpoints: list[dict] | None = None,
                         kind: str | None = None, trigger: dict | None = None) -> dict:
        """Save a CREATED execution, start it, and return it as created (Kestra answers the execution
        it emitted to its queue, before the executor ran anything)."""
        now = now_iso()
        ex = {"id": execution_id, "namespace": flow["namespace"], "flowId": flow["id"],
              "flowRevision": flow["revision"], "tenantId": "main",
              "state": {"current": states.CREATED, "histories": [{"state": states.CREATED, "date": now}]},
              "inputs": inputs.values, "labels": labels, "variables": flow.get("variables"),
              "originalId": execution_id, "deleted": False,
              "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
              "scheduleDate": schedule_date, "kind": kind, "breakpoints": breakpoints, "trigger": trigger}
        self.store.save_execution({k: v for k, v in ex.items() if v is not None})
        for name in inputs.ignored:
            self._log(ex, "WARN", f"Input '{name}' is not declared by the flow and was ignored")
        created = self.store.get_execution(execution_id)
        with self._engine() as engine:
            engine.start(execution_id)
        return created

    def webhook_trigger(self, namespace: str, flow_id: str, key: str) -> tuple[dict, dict]:
        """The flow and its enabled Webhook trigger of that ``key`` (compared literally)."""
        flow = self.store.get_flow(namespace, flow_id)
        if flow is None or flow.get("deleted") or flow.get("disabled"):
            raise NotFound(f"Flow {namespace}.{flow_id} not found")
        for trigger in flow.get("triggers") or []:
            if isinstance(trigger, dict) and trigger.get("type") in WEBHOOK_TYPES \
                    and str(trigger.get("key")) == key and not trigger.get("disabled"):
                return flow, trigger
        raise NotFound(f"Webhook with key '{key}' not found on flow {namespace}.{flow_id}")

    def trigger_webhook(self, namespace: str, flow_id: str, key: str, variables: dict) -> tuple[dict, dict]:
        """Start an execution from a webhook call; with the trigger's ``wait``, after it ended."""
        flow, trigger = self.webhook_trigger(namespace, flow_id, key)
        execution_id = self.new_execution_id()
        labels = self.create_labels(flow, [], execution_id, source="")
        self.create_execution(flow, execution_id, inputsmod.Resolved(), labels,
                              trigger={"id": trigger.get("id"), "type": trigger.get("type"), "variables": variables})
        if trigger.get("wait"):
            self.wait_for_end(execution_id)
        return self.store.get_execution(execution_id), trigger

    # -- actions (every wrong-state rule lives here) -----------------------------------------
    def kill(self, execution_id: str, cascade: bool = True) -> bool:
        """Kill a running execution; False when it had already finished (Conflict without cascade)."""
        ex = self.execution(execution_id)
        if states.is_terminal(ex["state"]["current"]):
            if not cascade:
                raise Conflict("Execution is already finished, can't kill it")
            return False
        with self._engine() as engine:
            engine.kill(execution_id)
        return True

    def restart(self, execution_id: str, revision: int | None = None) -> str:
        """Restart a terminated or PAUSED execution; the id that runs (a new one for another revision)."""
        ex = self.execution(execution_id)
        if revision is not None and self.store.get_flow(ex["namespace"], ex["flowId"], revision) is None:
            raise NotFound("Requested Flow revision is not found.")
        current = ex["state"]["current"]
        if current not in states.RESTARTABLE:
            if self.generation == 1:
                raise Conflict(f"Execution must be terminated to be restarted, current state is {current}")
            raise Conflict(f"Cannot restart execution: current state is '{current}', expected terminated or paused.")
        with self._engine() as engine:
            return engine.restart(execution_id, revision)

    @staticmethod
    def check_resumable(ex: dict) -> None:
        """PAUSED or at a BREAKPOINT (checked before resume inputs are read)."""
        if ex["state"]["current"] not in states.RESUMABLE:
            raise Conflict(f"Execution '{ex['id']}' is not paused, can't resume it")

    def resume(self, execution_id: str, values: dict) -> None:
        self.check_resumable(self.execution(execution_id))
        with self._engine() as engine:
            engine.resume(execution_id, values)

    def resume_from_breakpoint(self, execution_id: str, breakpoints: list[dict] | None) -> None:
        ex = self.execution(execution_id)
        if ex["state"]["current"] != states.BREAKPOINT:
            raise Conflict(f"Execution '{execution_id}' is not in BREAKPOINT state, can't resume it")
        with self._engine() as engine:
            engine.resume_from_breakpoint(execution_id, breakpoints)

    def pause(self, execution_id: str) -> None:
        ex = self.execution(execution_id)
        if ex["state"]["current"] not in states.PAUSABLE:
            raise Conflict(f"Execution '{execution_id}' is not running, can't pause it")
        with self._engine() as engine:
            engine.pause(execution_id)

    def check_replay(self, ex: dict, task_run_id: str | None, revision: int | None) -> dict:
        """The flow revision a replay runs (NotFound / Invalid for an unknown revision / task run)."""
        flow = self.store.get_flow(ex["namespace"], ex["flowId"], revision or ex.get("flowRevision"),
                                   allow_deleted=revision is None)
        if flow is None:
            raise NotFound("Requested Flow revision is not found.")
        if task_run_id and not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise Invalid(f"Unable to find task run '{task_run_id}' in execution {ex['id']}", problem="invalid-argument")
        return flow

    def replay(self, execution_id: str, task_run_id: str | None = None, revision: int | None = None,
               breakpoints: list[dict] | None = None) -> str:
        """A new execution re-running this one (from ``task_run_id``); its id."""
        ex = self.execution(execution_id)
        self.check_replay(ex, task_run_id, revision)
        with self._engine() as engine:
            return engine.replay(execution_id, task_run_id, revision, breakpoints)

    def replay_with_inputs(self, execution_id: str, task_run_id: str | None, revision: int | None,
                           breakpoints: list[dict] | None, form: dict, uploads: dict) -> str:
        """A replay with new inputs typed by the replayed revision's declarations; its id. The id is
        chosen first, so FILE inputs are stored in the new execution's own folder (downloadable there)."""
        ex = self.execution(execution_id)
        flow = self.check_replay(ex, task_run_id, revision)
        new_id = self.new_execution_id()
        resolved = self.resolve_inputs(flow.get("inputs"), form, uploads,
                                       storage_prefix(ex["namespace"], ex["flowId"], new_id))
        with self._engine() as engine:
            return engine.replay(execution_id, task_run_id, revision, breakpoints, inputs=resolved.values,
                                 new_id=new_id)

    @staticmethod
    def status_target(raw: str) -> str:
        """A change-status target: a terminated state."""
        target = raw.strip().upper()
        if not states.is_terminal(target):
            raise Invalid(f"Invalid new status '{raw}': use a terminated state "
                          f"({', '.join(sorted(states.TERMINAL))})", problem="invalid-argument")
        return target

    def _set_state(self, execution_id: str, target: str) -> dict:
        return self.store.update_execution(execution_id, lambda e: states.transition(e["state"], target), sync=True)

    def change_status(self, execution_id: str, target: str) -> dict:
        """Set a terminated (not killed) execution's state to another terminated one."""
        target = self.status_target(target)
        self._check_changeable(self.execution(execution_id))
        return self._set_state(execution_id, target)

    @staticmethod
    def _check_changeable(ex: dict, what: str = "the status") -> None:
        state = ex["state"]["current"]
        if not states.is_terminal(state) or state == states.KILLED:
            raise Conflict(f"Cannot change {what} of execution {ex['id']}: current state is '{state}', "
                           f"expected a terminated (not killed) execution.")

    def set_task_run_state(self, execution_id: str, task_run_id: str, target: str) -> dict:
        """Mark a task run of a terminated execution, then restart it from there."""
        ex = self.execution(execution_id)
        target = target.upper()
        if target not in states.TERMINAL:
            raise Invalid(f"Invalid state '{target}': use a terminated state", problem="invalid-argument")
        self._check_changeable(ex, "a task run state")
        if not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise NotFound(f"Task run {task_run_id} not found in execution {execution_id}")

        def mark(e):
            for tr in e.get("taskRunList") or []:
                if tr.get("id") == task_run_id:
                    states.transition(tr["state"], target)
            labels = [lb for lb in e.get("labels") or [] if lb.get("key") != "system.restarted"]
            e["labels"] = labels + [{"key": "system.restarted", "value": "true"}]
        self.store.update_execution(execution_id, mark, sync=True)
        with self._engine() as engine:
            engine.restart(execution_id, None)   # the executor carries on from the new state
        return self.execution(execution_id)

    def force_run(self, execution_id: str) -> dict:
        """Let a not-terminated execution past its flow's concurrency limit."""
        ex = self.execution(execution_id)
        if states.is_terminal(ex["state"]["current"]):
            raise Conflict(f"Execution '{execution_id}' is already terminated ({ex['state']['current']}), "
                           f"it can't be forced to run")
        self._force(execution_id)
        return ex

    def _force(self, execution_id: str) -> None:
        self.engine.force_run(execution_id)

    @staticmethod
    def unqueue_target(raw: str) -> str:
        target = raw.strip().upper()
        if target not in states.UNQUEUE_TARGETS:
            raise Invalid(f"Invalid state '{raw}' to unqueue to: use RUNNING or a terminated state",
                          problem="invalid-argument")
        return target

    def unqueue(self, execution_id: str, target: str) -> None:
        """A QUEUED execution runs now (RUNNING) or ends in ``target``."""
        ex = self.execution(execution_id)
        target = self.unqueue_target(target)
        if ex["state"]["current"] != states.QUEUED:
            raise Conflict(f"Execution '{execution_id}' is not queued ({ex['state']['current']}), can't unqueue it")
        self._unqueue(execution_id, target)

    def _unqueue(self, execution_id: str, target: str) -> None:
        if target == states.RUNNING:
            self._force(execution_id)
        else:
            self._set_state(execution_id, target)

    def delete_execution(self, execution_id: str, delete_logs: bool = True) -> None:
        """Kill it if it runs, then hide it (soft delete), with its logs unless told otherwise."""
        ex = self.execution(execution_id)
        if not states.is_terminal(ex["state"]["current"]):
            try:
                with self._engine() as engine:
                    engine.kill(execution_id)
            except DomainError:   # already finishing: deleting wins anyway
                pass
        self.store.update_execution(execution_id, lambda e: e.__setitem__("deleted", True), sync=True)
        if delete_logs:
            self.delete_logs(execution_id, lambda entry: True)

    # -- bulk ------------------------------------------------------------------------------
    def _bulk_rule(self, action: str, params: dict) -> tuple[Callable[[dict], None], Callable[[dict], Any]]:
        """``(check, apply)`` of one bulk action; check raises Conflict with the reason."""
        terminal = states.is_terminal

        def need(test, message):
            def check(ex):
                if not test(ex["state"]["current"]):
                    raise Conflict(message.format(state=ex["state"]["current"]))
            return check

        if action == "kill":
            return (need(lambda s: not terminal(s), "execution already finished ({state})"),
                    lambda ex: self.kill(ex["id"]))
        if action == "restart":
            return (need(lambda s: s in states.RESTARTABLE, "execution must be terminated to be restarted, "
                         "current state is {state}"), lambda ex: self.restart(ex["id"], None))
        if action == "resume":
            return (need(lambda s: s in states.RESUMABLE, "execution is not paused ({state})"),
                    lambda ex: self.resume(ex["id"], {}))
        if action == "pause":
            return (need(lambda s: s in states.PAUSABLE, "execution is not running ({state})"),
                    lambda ex: self.pause(ex["id"]))
        if action == "replay":
            def replay(ex):
                revision = None
                if params.get("latest_revision"):
                    flow = self.store.get_flow(ex["namespace"], ex["flowId"])
                    revision = flow["revision"] if flow else None
                self.replay(ex["id"], None, revision, None)
            return (lambda ex: None), replay
        if action == "force-run":
            return (need(lambda s: not terminal(s), "execution already finished ({state})"),
                    lambda ex: self._force(ex["id"]))
        if action == "unqueue":
            target = self.unqueue_target(params["target"])
            return (need(lambda s: s == states.QUEUED, "execution is not queued ({state})"),
                    lambda ex: self._unqueue(ex["id"], target))
        if action == "change-status":
            target = self.status_target(params["target"])
            return self._check_changeable, (lambda ex: self._set_state(ex["id"], target))   # as one change-status
        if action == "labels":
            labels = params["labels"]
            self.check_user_labels(labels)
            return (need(terminal, "execution is not terminated ({state})"),
                    lambda ex: self._merge_labels(ex["id"], labels))
        if action == "delete":
            include, delete_logs = params.get("include_non_terminated", False), params.get("delete_logs", True)

            def check(ex):
                if not include and not terminal(ex["state"]["current"]):
                    raise Conflict(f"execution not terminated ({ex['state']['current']}); pass "
                                   f"includeNonTerminated=true to delete it")
            return check, (lambda ex: self.delete_execution(ex["id"], delete_logs))
        raise NotFound("Resource not found")

    def bulk_rule(self, action: str, **params: Any) -> "BulkAction":
        """The checked rule of a bulk action (argument errors raised now, before any id is read)."""
        return BulkAction(self, action, *self._bulk_rule(action, params))

    def _merge_labels(self, execution_id: str, labels: list[dict]) -> None:
        def apply(e):
            new_keys = {lb["key"] for lb in labels}
            e["labels"] = [lb for lb in e.get("labels") or [] if lb["key"] not in new_keys] + labels
        self.store.update_execution(execution_id, apply, sync=True)

    # -- eval ------------------------------------------------------------------------------
    def evaluate(self, execution_id: str, task_run_id: str | None, expression: str) -> dict:
        """``{result}`` or ``{error, stackTrace}``: an expression rendered against the execution's
        variables (up to ``task_run_id``)."""
        from kestra_magic.sandbox.expressions import ExpressionError, render
        from kestra_magic.sandbox.kv import KVStore
        ex = self.execution(execution_id)
        if task_run_id is not None and not any(tr.get("id") == task_run_id for tr in ex.get("taskRunList") or []):
            raise NotFound(f"Task run {task_run_id} not found in execution {execution_id}")

        def read(uri: str) -> str:
            return self.store.file_path(uri).read_text(encoding="utf-8", errors="replace")
        try:
            result = render(expression, self._eval_context(ex, task_run_id), generation=self.generation, read=read,
                            kv=KVStore.for_store(self.store))
        except (ExpressionError, OSError, ValueError) as exc:
            return {"error": str(exc), "stackTrace": f"{type(exc).__name__}: {exc}"}
        return {"result": str(result)}

    def _eval_context(self, ex: dict, task_run_id: str | None) -> dict:
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

    # -- logs ------------------------------------------------------------------------------
    def logs(self, execution_id: str) -> list[dict]:
        return self.store.logs_for(execution_id)

    def all_logs(self) -> list[dict]:
        """Every kept log line of every execution (deleted executions included, as Kestra's search)."""
        with self.store.lock:
            ids = list(self.store.executions)
        return [e for i in ids for e in self.store.logs_for(i) if not e.get("deleted")]

    def logs_since(self, execution_id: str, index: int) -> tuple[list[dict], int, int]:
        """(the log lines after the first ``index``, the new index, the store version), for streams."""
        with self.store.lock:
            version = self.store.version
            entries = self.store.logs_for(execution_id)
        return entries[index:], len(entries), version

    def delete_logs(self, execution_id: str, where: Callable[[dict], bool]) -> None:
        """Delete the log lines of one execution that ``where`` selects."""
        self.store.delete_logs(lambda e: not where(e), execution_id)

    def delete_flow_logs(self, namespace: str, flow_id: str, trigger_id: str | None = None) -> None:
        self.store.delete_logs(lambda e: not (e.get("namespace") == namespace and e.get("flowId") == flow_id
                                              and (trigger_id is None or e.get("triggerId") == trigger_id)))

    # -- files -----------------------------------------------------------------------------
    def execution_file(self, execution_id: str, uri: str) -> tuple[str, Path]:
        """(canonical URI, local path) of a file an execution may read: its own files or its flow's
        state store (Kestra's ``validateFile``); OtherExecution for a sibling execution's file. A
        path, not bytes: downloads stream the file and metadata reads only its size."""
        ex = self.execution(execution_id)
        try:
            relpath = uri_to_relpath(uri)
        except ValueError as exc:
            raise Invalid(str(exc), problem="invalid-argument") from None
        prefix = storage_prefix(ex["namespace"], ex["flowId"], execution_id)
        flow_root = f"{ex['namespace'].replace('.', '/')}/{ex['flowId']}/"
        canonical = "kestra:///" + relpath
        if not canonical.startswith(prefix):
            parts = relpath.split("/")
            if relpath.startswith(flow_root) and len(parts) > len(flow_root.split("/")) \
                    and relpath[len(flow_root):].startswith("executions/"):
                other = relpath[len(flow_root):].split("/")[1]
                if other != execution_id and self.store.get_execution(other) is not None:   # own folder: no loop
                    raise OtherExecution(other)
            if not relpath.startswith(flow_root + "states/"):
                raise Invalid("Invalid prefix path", problem="invalid-argument")
        path = self.store.file_path(canonical)
        if not path.is_file():
            raise NotFound(f"Unable to find file '{uri}'")
        return canonical, path


WEBHOOK_TYPES = ("io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook")


class BulkAction:
    """One bulk action's rule: check every id first (any invalid one: BulkInvalid with all of them),
    or apply to what a query matches, skipping what the action does not fit."""

    def __init__(self, backend: Backend, action: str, check: Callable[[dict], None], apply: Callable[[dict], Any]):
        self.backend, self.action, self.check, self.apply = backend, action, check, apply

    def by_ids(self, ids: list[str]) -> int:
        invalids = []
        for execution_id in ids:
            ex = self.backend.find_execution(execution_id)
            if ex is None:
                invalids.append({"invalidValue": execution_id, "message": "execution not found"})
                continue
            try:
                self.check(ex)
            except DomainError as exc:
                invalids.append({"invalidValue": execution_id, "message": exc.message})
        if invalids:
            raise BulkInvalid(self.action, invalids)
        for execution_id in ids:
            self.apply(self.backend.execution(execution_id))
        return len(ids)

    def by_query(self, match: Callable[[dict], bool]) -> int:
        count = 0
        for ex in self.backend.select_executions(match):
            current = self.backend.find_execution(ex["id"])
            if current is None:
                continue
            try:
                self.check(current)
            except DomainError:
                continue
            self.apply(current)
            count += 1
        return count
