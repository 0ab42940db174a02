"""The walk of one execution through its flow: task runs, attempts, retries, flowable tasks.

``Walker.execute(run)`` runs on the execution's own thread. Task runs are matched by
``(taskId, parentTaskRunId, value)`` so that a restart or a replay re-enters the tree and
reuses every task run that already succeeded, as Kestra does.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from kestra_magic.sandbox.engine_errors import EngineInvalid
from kestra_magic.sandbox.inputs import convert_inputs
from kestra_magic.sandbox.engine_state import truthy
from kestra_magic.sandbox.instants import (
    format_duration, format_instant as instant, now as utcnow, parse_duration, parse_instant,
)
from kestra_magic.sandbox.states import ACTIVE, SUCCESSFUL, TERMINAL, new_state, transition, worst
from kestra_magic.sandbox.expressions import ExpressionError, render_value
from kestra_magic.sandbox.kv import KVStore
from kestra_magic.sandbox.pebble_functions import mask_secrets
from kestra_magic.sandbox.store import storage_prefix
from kestra_magic.sandbox.tasks.base import TaskDef, TaskFailure, TaskResult, lookup

_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
MAX_CONCURRENCY = 64   # threads per Parallel/ForEach/Loop task


# ---------------------------------------------------------------------------------------
# Per-execution runtime state

def tr_key(task_id: str, parent: str | None, value: Any) -> tuple:
    """How a task run is matched on re-entry (restart, replay): task id, parent task run, value."""
    try:
        hash(value)
    except TypeError:
        value = json.dumps(value, sort_keys=True, default=str)
    return task_id, parent, value


class Run:
    """What the engine keeps in memory about one running execution."""

    def __init__(self, execution_id: str, flow: dict, execution: dict):
        self.id = execution_id
        self.flow = flow
        self.execution = execution
        self.thread: threading.Thread | None = None
        self.killed = threading.Event()
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.outputs: dict = {}
        self.children: set[str] = set()
        self.breakpoints: list[dict] = list(execution.get("breakpoints") or [])
        self.breakpoints_hit: set[tuple] = set()
        self._cancel_events: set[threading.Event] = set()
        self.api_paused = False
        self.recovered = False                   # picked up again after a sandbox restart (Engine.start)
        self.pauses: dict[str, dict] = {}       # Pause task runs waiting for resume, in order
        self._released: dict[str, dict] = {}     # task run id -> the onResume inputs it got
        self._bp_released = False
        self.base: dict = {}
        self.retry_in: float | None = None       # CREATE_NEW_EXECUTION: seconds until the new execution
        self.notes: dict = {}                    # what a drive function hands to a later one (ForEachItem)
        self.root: Scope | None = None           # the flow's top-level scope
        self.end_state: str | None = None        # an SLA violation's end (FAILED/CANCELLED) instead of KILLED
        self.finished = threading.Event()        # the walk is over (SLA timers stop)
        # Task runs by match key, so that re-entering a task is O(1) whatever the size of the
        # execution (a 20 000-iteration Loop must not scan its task runs per step); by id, the
        # store finds them (store.find_task_run / update_task_run)
        self.tr_key: dict[tuple, str] = {}       # (taskId, parentTaskRunId, value) -> first task run id
        self.index(execution.get("taskRunList") or [])

    def index(self, trs: list) -> None:
        """(Re)build the task-run index from the stored list (at start, or after WaitFor dropped some)."""
        self.tr_key = {}
        for tr in trs:
            self.add_index(tr)

    def add_index(self, tr: dict) -> None:
        self.tr_key.setdefault(tr_key(tr["taskId"], tr.get("parentTaskRunId"), tr.get("value")), tr["id"])

    def kill(self) -> None:
        with self.lock:
            self.killed.set()
            for event in self._cancel_events:
                event.set()
            self.cond.notify_all()

    def track(self, event: threading.Event) -> None:
        with self.lock:
            self._cancel_events.add(event)
            if self.killed.is_set():
                event.set()

    def untrack(self, event: threading.Event) -> None:
        with self.lock:
            self._cancel_events.discard(event)

    def api_pause(self) -> None:
        with self.lock:
            self.api_paused = True

    @property
    def pause_task(self) -> dict | None:
        """The first Pause task waiting (its ``onResume`` inputs are the ones a resume carries)."""
        with self.lock:
            return next(iter(self.pauses.values()), None)

    def resume(self, inputs: dict) -> None:
        """Resume the execution: every waiting Pause task goes on; the first gets ``inputs``."""
        with self.lock:
            self.api_paused = False
            for n, tr_id in enumerate(list(self.pauses)):
                self._released[tr_id] = inputs if n == 0 else {}
            self.pauses.clear()
            self.cond.notify_all()

    def resume_breakpoint(self) -> None:
        with self.lock:
            self._bp_released = True
            self.cond.notify_all()

    def wait_for(self, predicate, timeout: float | None = None) -> bool:
        """Wait until predicate() or kill; False on timeout."""
        deadline = None if timeout is None else utcnow().timestamp() + timeout
        with self.lock:
            while not predicate() and not self.killed.is_set():
                left = None if deadline is None else deadline - utcnow().timestamp()
                if left is not None and left <= 0:
                    return False
                self.cond.wait(left if left is not None else 1.0)
            return True


@dataclass
class Scope:
    """Where a block of tasks runs: its parent task run, iteration value and output map."""
    outputs: dict
    parent_tr: dict | None = None
    value: Any = None
    iteration: int | None = None
    path: tuple = ()
    parents: list = field(default_factory=list)
    item: dict | None = None
    workdir: Path | None = None     # shared by the tasks of a WorkingDirectory task
    retry: dict | None = None       # the nearest enclosing flowable's retry (its children use it)

    def under(self, tr: dict, task: dict, **changes: Any) -> "Scope":
        # Kestra's `parents`: nearest first, `{taskrun: {value}}` for each parent task run that has
        # a value, the others left out (Execution.parents; WorkingDirectoryTest.taskRunNested)
        parents = self.parents
        if tr.get("value") is not None:
            parents = [{"taskrun": {"value": tr["value"]}}, *self.parents]
        changes.setdefault("retry", task.get("retry") or self.retry)
        return replace(self, parent_tr=tr, parents=parents, **changes)


# ---------------------------------------------------------------------------------------
# What a runnable task sees

class TaskContext:
    """The engine's implementation of ``tasks.base.RunContext``."""

    def __init__(self, walker: "Walker", run: Run, task: dict, tr: dict, attempt: int, scope: Scope):
        self._walker, self._run, self._scope = walker, run, scope
        self.store = walker.store   # the sandbox store (KV, namespace files and storage tasks use it)
        self.task = task
        self.generation = walker.generation
        self.execution_id = run.id
        self.namespace = run.flow["namespace"]
        self.flow_id = run.flow["id"]
        self.task_id = task["id"]
        self.task_run_id = tr["id"]
        self.value = scope.value
        self.attempt = attempt
        self.cancelled = threading.Event()
        self._tr = tr
        self._workdir: Path | None = None
        self.log_lines: list[str] = []   # logToFile: this attempt's log lines

    def variables(self, **extra: Any) -> dict:
        variables = self._walker.variables(self._run, self.task, self._tr, self._scope)
        variables.update(extra)
        return variables

    def render(self, value: Any, **extra: Any) -> Any:
        return self._walker.render(self._run, value, self.variables(**extra))

    def log(self, level: str, message: str) -> None:
        floor = str(self.task.get("logLevel") or "TRACE").upper()   # the task's minimum log level
        if _LEVELS.index(level.upper()) < _LEVELS.index(floor if floor in _LEVELS else "TRACE"):
            return
        if self.task.get("logToFile") is True:   # the attempt's log file instead of log entries
            self.log_lines.append(f"{instant()} {level.upper()} {message}")
            return
        self._walker.log(self._run, level, message, task_id=self.task_id, task_run_id=self.task_run_id,
                         attempt=self.attempt)

    def workdir(self) -> Path:
        if self._scope.workdir is not None:
            return self._scope.workdir
        if self._workdir is None:
            self._workdir = Path(tempfile.mkdtemp(prefix=f"kestra-{self.task_id}-"))
        return self._workdir

    def cleanup(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def storage_prefix(self) -> str:
        return f"{storage_prefix(self.namespace, self.flow_id, self.execution_id)}tasks/{self.task_id}/{self.task_run_id}"

    def put_file(self, name: str, data: bytes | Path) -> str:
        uri = f"{self.storage_prefix()}/{name.lstrip('/')}"
        self._walker.store.put_file(uri, data)
        return uri

    def local_path(self, uri: str) -> Path:
        try:
            path = self._walker.store.file_path(str(uri))
        except ValueError as exc:
            raise TaskFailure(str(exc)) from None
        if not path.is_file():
            raise TaskFailure(f"File '{uri}' does not exist in internal storage")
        return path

    def set_labels(self, labels: dict) -> None:
        """Add or replace labels of the execution (the ``execution.Labels`` task)."""
        def apply(ex: dict) -> None:
            kept = [lb for lb in ex.get("labels") or [] if lb.get("key") not in labels]
            ex["labels"] = kept + [{"key": k, "value": v} for k, v in labels.items()]
        self._walker.update_header(self._run, apply)
        with self._run.lock:
            self._run.base = dict(self._run.base, labels={**self._run.base.get("labels", {}), **labels})

    def read_text(self, uri: str) -> str:
        return self.local_path(uri).read_text(encoding="utf-8")

    def sleep(self, seconds: float) -> None:
        if self.cancelled.wait(max(0.0, seconds)):
            raise TaskFailure("Task was killed" if self._run.killed.is_set() else "Task was interrupted")


# ---------------------------------------------------------------------------------------

class EngineOps(Protocol):
    """What the walker needs from the engine (and nothing more)."""

    store: Any
    generation: int

    def forget(self, run: Run) -> None:
        """The run's thread is leaving: drop it from the running executions."""

    def create_child(self, execution: dict) -> None:
        """Store and start a new execution (a subflow's child, a retry's new execution)."""

    def wait_terminal(self, execution_id: str, run: Run) -> dict | None:
        """Block until that execution ends (or ``run`` is killed); its last copy."""

    def kill(self, execution_id: str, cascade: bool = True) -> None:
        """Kill that execution (a subflow's child when its parent is killed)."""

    def is_forced(self, execution_id: str) -> bool:
        """True when the execution was force-run past its flow's concurrency limit."""

    def resume(self, execution_id: str, inputs: dict | None = None) -> None:
        """Resume a PAUSED execution (the Resume task); EngineConflict when it is not paused."""


class Walker:
    """Walks one execution's flow on the execution's thread; flowable tasks are driven by the
    functions registered in ``tasks/flow.py`` through this walker's block/sequence/run_task."""

    def __init__(self, engine: EngineOps):
        self.engine = engine
        self.store = engine.store
        self.generation = engine.generation
        self.kv = KVStore.for_store(engine.store)   # Pebble's kv() in running flows

    # -- store helpers ---------------------------------------------------------------------
    def update(self, run: Run, fn) -> None:
        self.store.update_execution(run.id, fn, copy_result=False)

    def update_header(self, run: Run, fn) -> None:
        """``fn(execution)`` that changes no task run (state, outputs, labels): readers keep what
        they cached of the task runs (a 20,000-task-run execution is not re-serialized at its end)."""
        self.store.update_execution(run.id, fn, copy_result=False, task_runs=False)

    def update_tr(self, run: Run, tr_id: str, fn) -> None:
        """``fn(task_run)`` on the stored task run: one task run persisted and re-shaped, O(1)."""
        self.store.update_task_run(run.id, tr_id, fn)

    def log(self, run: Run, level: str, message: str, *, task_id: str | None = None,
            task_run_id: str | None = None, attempt: int | None = None) -> None:
        entry = {"tenantId": "main", "namespace": run.flow["namespace"], "flowId": run.flow["id"],
                 "executionId": run.id, "timestamp": instant(), "level": level.upper(),
                 "thread": threading.current_thread().name, "message": mask_secrets(str(message)),
                 "attemptNumber": attempt, "deleted": False}
        if task_id is not None:
            entry["taskId"] = task_id
        if task_run_id is not None:
            entry["taskRunId"] = task_run_id
        kind = run.execution.get("kind")
        if kind:
            entry["executionKind"] = kind
        self.store.add_log(entry)

    def new_tr(self, run: Run, task: dict, scope: Scope, value: Any = None, iteration: int | None = None) -> dict:
        tr = {"id": self.store.new_id(), "tenantId": "main", "executionId": run.id,
              "namespace": run.flow["namespace"], "flowId": run.flow["id"], "taskId": task["id"],
              "state": new_state("CREATED"), "outputs": None}
        if scope.parent_tr is not None:
            tr["parentTaskRunId"] = scope.parent_tr["id"]
        value = scope.value if value is None else value
        if value is not None:
            tr["value"] = value
        iteration = scope.iteration if iteration is None else iteration
        if iteration is not None:
            tr["iteration"] = iteration

        # the stored task run shares nothing mutable with ``tr``
        stored = dict(tr, state={**tr["state"], "histories": [dict(h) for h in tr["state"]["histories"]]})
        with self.store.lock:
            self.store.add_task_run(run.id, stored)
            run.add_index(tr)
        return tr

    def existing_tr(self, run: Run, task_id: str, scope: Scope, value: Any = None) -> dict | None:
        """A copy of the task run this task already has in ``scope`` (restart, replay), or None."""
        parent = scope.parent_tr["id"] if scope.parent_tr else None
        value = scope.value if value is None else value
        tr_id = run.tr_key.get(tr_key(task_id, parent, value))
        if tr_id is None:
            return None
        with self.store.lock:   # one task run copied, never the whole execution
            tr = self.store.find_task_run(run.id, tr_id)
            return copy.deepcopy(tr) if tr is not None else None

    def set_state(self, run: Run, tr_id: str, state: str, outputs: Any = None) -> None:
        def apply(tr: dict) -> None:
            if outputs is not None:
                tr["outputs"] = outputs
            transition(tr["state"], state)
        self.update_tr(run, tr_id, apply)

    def set_execution_state(self, run: Run, state: str) -> None:
        self.update_header(run, lambda ex: transition(ex["state"], state) if ex["state"]["current"] not in TERMINAL
                    else None)

    # -- expressions -----------------------------------------------------------------------
    def base_variables(self, run: Run) -> dict:
        ex = run.execution
        flow = run.flow
        labels = {lb["key"]: lb.get("value") for lb in ex.get("labels") or [] if isinstance(lb, dict)}
        variables = {
            "flow": {"id": flow["id"], "namespace": flow["namespace"], "revision": flow.get("revision"),
                     "tenantId": "main"},
            "execution": {"id": ex["id"], "namespace": ex["namespace"], "flowId": ex["flowId"],
                          "startDate": ex["state"].get("startDate"), "originalId": ex.get("originalId", ex["id"]),
                          "state": ex["state"]["current"]},
            "vars": flow.get("variables") or {},
            "labels": labels,
            "envs": {k[len("ENV_"):].lower(): v for k, v in os.environ.items() if k.startswith("ENV_")},
        }
        if ex.get("inputs"):   # none: no `inputs` variable, so a missing one is named as Kestra does
            variables["inputs"] = ex["inputs"]
        trigger = ex.get("trigger")
        if isinstance(trigger, dict) and isinstance(trigger.get("variables"), dict):
            variables["trigger"] = trigger["variables"]
        return variables

    def variables(self, run: Run, task: dict | None, tr: dict | None, scope: Scope) -> dict:
        variables = dict(run.base)
        with run.lock:
            variables["outputs"] = copy.copy(scope.outputs)
        if task is not None:
            variables["task"] = {"id": task["id"], "type": task.get("type")}
        if tr is not None:
            taskrun = {"id": tr["id"], "startDate": tr["state"].get("startDate"),
                       "attemptsCount": len(tr.get("attempts") or []), "parentId": tr.get("parentTaskRunId")}
            if scope.value is not None and scope.item is None:
                taskrun["value"] = scope.value     # ForEach (1.x); Loop uses item.value
            if scope.iteration is not None:
                taskrun["iteration"] = scope.iteration
            variables["taskrun"] = taskrun
            if scope.workdir is not None:   # inside a WorkingDirectory (RunContextInitializer.forWorkingDirectory)
                variables["workerTaskrun"] = taskrun
        if scope.parents:
            variables["parent"] = scope.parents[0]
            variables["parents"] = scope.parents
        if scope.item is not None:
            variables["item"] = scope.item
        variables["render"] = lambda text: self.render(run, text, variables)
        # Kestra's currentEachOutput(outputs.x): x's outputs of the current iteration (by value path)
        variables["currentEachOutput"] = lambda value: current_each_output(value, scope.path)
        # Kestra's errorLogs(): the execution's ERROR log entries (for `errors` handlers)
        variables["errorLogs"] = lambda: [dict(e) for e in self.store.logs_for(run.id) if e.get("level") == "ERROR"]
        return variables

    def render(self, run: Run, value: Any, variables: dict) -> Any:
        return render_value(value, variables, generation=self.generation, read=lambda uri: self.read(uri),
                            kv=self.kv)

    def read(self, uri: str) -> str:
        if not uri.startswith("kestra://"):
            raise ValueError(f"read('{uri}'): the sandbox reads internal storage files (kestra:///...) only")
        path = self.store.file_path(uri)
        if not path.is_file():
            raise ValueError(f"Unable to read the file '{uri}': it does not exist in internal storage")
        return path.read_text(encoding="utf-8")

    def sibling_outputs(self, run: Run, scope: Scope, task_id: str) -> Any:
        """The outputs registered by ``task_id`` in ``scope`` (under its iteration path), or None."""
        with run.lock:
            node = scope.outputs.get(task_id)
            for key in scope.path:
                node = node.get(str(key)) if isinstance(node, dict) else None
            return node

    def register(self, run: Run, scope: Scope, task_id: str, outputs: Any) -> None:
        if outputs is None:
            return
        with run.lock:
            if not scope.path:
                scope.outputs[task_id] = outputs
                return
            node = scope.outputs.setdefault(task_id, {})
            for key in scope.path[:-1]:
                node = node.setdefault(str(key), {})
            node[str(scope.path[-1])] = outputs

    # -- the execution ---------------------------------------------------------------------
    def execute(self, run: Run) -> None:
        from kestra_magic.sandbox import engine_sla
        from kestra_magic.sandbox.engine import schedule_delay
        timers: list = []
        try:
            delay = schedule_delay(run.execution)
            if delay:
                run.killed.wait(delay)
            going_on = run.recovered and run.execution["state"]["current"] in ("RUNNING", "PAUSED", "BREAKPOINT")
            self.wait_api_pause(run)
            if run.killed.is_set():
                self.update(run, self.mark_killed)
                return
            if going_on:   # it held its slot and its state before the restart: it keeps them
                self.update_header(run, lambda ex: ex.setdefault("taskRunList", []))
            elif not self.acquire_slot(run):
                return
            else:
                self.update_header(run, lambda ex: (ex.setdefault("taskRunList", []),
                                                    transition(ex["state"], "RUNNING")))
            run.execution = self.store.get_execution(run.id)
            run.index(run.execution.get("taskRunList") or [])
            run.base = self.base_variables(run)
            root = Scope(outputs=run.outputs)
            run.root = root
            if run.flow.get("sla"):
                timers = engine_sla.start_timers(self, run)
                engine_sla.check_assertions(self, run, self.variables(run, None, None, root))
            for name in ("afterExecution",):
                if run.flow.get(name):
                    self.log(run, "WARN", f"`{name}` tasks are not run by the sandbox")
            state = self.block(run, run.flow.get("tasks") or [], root, run.flow.get("errors"),
                               run.flow.get("finally"))
            if run.retry_in is not None and not run.killed.is_set():
                self.retry_as_new_execution(run)
                return
            self.wait_api_pause(run)
            if run.killed.is_set():
                self.update(run, self.mark_killed if run.end_state is None
                            else lambda ex: self.mark_terminal(ex, run.end_state))
                return
            outputs = None
            if state in ("SUCCESS", "WARNING") and run.flow.get("outputs"):
                try:
                    outputs = self.flow_outputs(run, root)
                except (ExpressionError, ValueError, TypeError) as exc:
                    self.log(run, "ERROR", f"Failed to render output values: {exc}")
                    state = "FAILED"

            def finish(ex: dict) -> None:
                if outputs is not None:
                    ex["outputs"] = outputs
                transition(ex["state"], "SUCCESS" if state == "SKIPPED" else state)
            self.update_header(run, finish)
        except Exception as exc:  # never leave an execution hanging in RUNNING
            self.log(run, "ERROR", f"Sandbox engine error: {type(exc).__name__}: {exc}")
            self.update(run, lambda ex: self.mark_terminal(ex, "FAILED"))
        finally:
            run.finished.set()
            for timer in timers:
                timer.cancel()
            self.engine.forget(run)

    def retry_as_new_execution(self, run: Run) -> None:
        """``retry.behavior: CREATE_NEW_EXECUTION``: this execution ends RETRIED and, after the
        retry's delay, a new one (next attempt number) runs the flow again (RetryCaseTest.
        retryNewExecution*: RETRIED, RETRIED, FAILED for maxAttempt 3)."""
        from kestra_magic.sandbox import engine_copy
        self.update(run, lambda ex: transition(ex["state"], "RETRIED"))
        if run.killed.wait(run.retry_in or 0):
            return
        ex = self.store.get_execution(run.id)
        new = engine_copy.retry_as_new_execution(ex, run.flow, self.store.new_id)
        self.log(run, "INFO", f"Retrying the execution as a new execution {new['id']} "
                              f"(attempt {new['metadata']['attemptNumber']})")
        self.engine.create_child(new)

    def acquire_slot(self, run: Run) -> bool:
        """Flow ``concurrency``: wait in QUEUED (FIFO), or end CANCELLED/FAILED, while ``limit``
        executions of the flow are active. True when this execution may run."""
        concurrency = run.flow.get("concurrency")
        if not isinstance(concurrency, dict) or not concurrency.get("limit"):
            return True
        limit = int(concurrency["limit"])
        behavior = str(concurrency.get("behavior") or "QUEUE").upper()
        key = (run.flow["namespace"], run.flow["id"])
        while True:
            with self.store.lock:
                mine = self.store.executions.get(run.id)
                if mine is None or mine["state"]["current"] in TERMINAL:
                    return False   # gone, or unqueued into a final state through the API
                same = [ex for ex in self.store.executions.values()
                        if (ex["namespace"], ex["flowId"]) == key and ex["id"] != run.id and not ex.get("deleted")]
                active = sum(1 for ex in same if ex["state"]["current"] in ACTIVE)
                created = parse_instant(mine["state"]["histories"][0]["date"])
                older_queued = any(ex["state"]["current"] == "QUEUED"
                                   and parse_instant(ex["state"]["histories"][0]["date"]) < created for ex in same)
                if (active < limit and not older_queued) or self.engine.is_forced(run.id):
                    self.update(run, lambda ex: (transition(ex["state"], "RUNNING"), ex.setdefault("taskRunList", [])))
                    return True
                if behavior in ("CANCEL", "FAIL"):
                    final = "CANCELLED" if behavior == "CANCEL" else "FAILED"
                    self.update(run, lambda ex: transition(ex["state"], final))
                    self.log(run, "WARN" if final == "CANCELLED" else "ERROR",
                             f"Flow concurrency limit of {limit} reached: execution {final.lower()}")
                    return False
                if run.killed.is_set():
                    self.update(run, self.mark_killed)
                    return False
                if mine["state"]["current"] != "QUEUED":
                    self.update(run, lambda ex: transition(ex["state"], "QUEUED"))
                self.store.changed.wait(0.5)

    def mark_killed(self, ex: dict) -> None:
        self.mark_terminal(ex, "KILLED")

    @staticmethod
    def mark_terminal(ex: dict, state: str) -> None:
        for tr in ex.get("taskRunList") or []:
            if tr["state"]["current"] not in TERMINAL:
                for attempt in tr.get("attempts") or []:
                    if attempt["state"]["current"] not in TERMINAL:
                        transition(attempt["state"], state)
                transition(tr["state"], state)
        if ex["state"]["current"] not in TERMINAL:
            if state == "KILLED" and ex["state"]["current"] != "KILLING":
                transition(ex["state"], "KILLING")
            transition(ex["state"], state)

    def flow_outputs(self, run: Run, root: Scope) -> dict:
        variables = self.variables(run, None, None, root)
        result = {}
        for spec in run.flow.get("outputs") or []:
            value = spec.get("value")
            rendered = self.render(run, value, variables)
            result[spec["id"]] = typed_output(spec, rendered)
        return result

    def wait_api_pause(self, run: Run) -> None:
        if run.api_paused:
            run.wait_for(lambda: not run.api_paused)
            if not run.killed.is_set():
                self.set_execution_state(run, "RUNNING")

    # -- blocks ----------------------------------------------------------------------------
    def block(self, run: Run, tasks: list, scope: Scope, errors: list | None = None,
              finally_: list | None = None) -> str:
        """Run ``tasks`` one after the other; ``errors`` on failure; ``finally`` always."""
        state = self.sequence(run, tasks, scope)
        if run.retry_in is not None:   # the execution is retried as a new one: no handlers
            return state
        if state == "FAILED" and errors and not run.killed.is_set():
            self.sequence(run, errors, scope)
        if finally_ and not run.killed.is_set():
            state = worst(state, self.sequence(run, finally_, scope))
        return state

    def sequence(self, run: Run, tasks: list, scope: Scope) -> str:
        state = "SUCCESS"
        for task in tasks or []:
            if run.killed.is_set():
                return "KILLED"
            result = self.run_task(run, task, scope)
            if result is None:
                continue
            state = worst(state, result)
            if result in ("FAILED", "KILLED"):
                break
        return state

    def run_task(self, run: Run, task: dict, scope: Scope) -> str | None:
        """Run one task (any kind) in ``scope``; returns its final state (None if disabled)."""
        if not isinstance(task, dict) or task.get("disabled") is True:
            return None
        self.wait_api_pause(run)
        if run.flow.get("sla") and not run.killed.is_set():
            from kestra_magic.sandbox import engine_sla
            engine_sla.check_assertions(self, run, self.variables(run, None, None, run.root or scope))
        if run.killed.is_set():
            return "KILLED"
        existing = self.existing_tr(run, task["id"], scope)
        if existing is not None and existing["state"]["current"] in SUCCESSFUL:
            self.register(run, scope, task["id"], existing.get("outputs"))
            return existing["state"]["current"]
        tdef = lookup(str(task.get("type")))
        tr = existing if existing is not None else self.new_tr(run, task, scope)
        if self.breakpoint(run, task, tr, scope) is False:
            return "KILLED"
        try:
            if "runIf" in task:
                condition = self.render(run, task["runIf"], self.variables(run, task, tr, scope))
                if not truthy(condition):
                    self.set_state(run, tr["id"], "SKIPPED")
                    return "SKIPPED"
        except ExpressionError as exc:
            self.log(run, "ERROR", str(exc), task_id=task["id"], task_run_id=tr["id"])
            self.set_state(run, tr["id"], "FAILED")
            return "FAILED"
        if tdef is None:
            self.log(run, "ERROR", f"Invalid type: {task.get('type')}", task_id=task["id"], task_run_id=tr["id"])
            self.set_state(run, tr["id"], "FAILED")
            return "FAILED"
        if tdef.flowable and not tdef.executable:
            return self.flowable(run, task, tdef, tr, scope)
        return self.runnable(run, task, tdef, tr, scope)

    def breakpoint(self, run: Run, task: dict, tr: dict, scope: Scope) -> bool | None:
        hit = None
        with self.store.lock:   # the routes may change them (resume-from-breakpoint)
            stored = self.store.executions.get(run.id) or {}
            breakpoints = list(stored.get("breakpoints") or run.breakpoints)
        for bp in breakpoints:
            if bp.get("id") == task["id"] and (bp.get("value") in (None, "") or str(bp.get("value")) == str(scope.value)):
                hit = (task["id"], scope.value)
        if hit is None or hit in run.breakpoints_hit:
            return None
        run.breakpoints_hit.add(hit)
        with run.lock:
            run._bp_released = False
        self.set_state(run, tr["id"], "BREAKPOINT")
        self.set_execution_state(run, "BREAKPOINT")
        run.wait_for(lambda: run._bp_released)
        if run.killed.is_set():
            return False
        self.set_execution_state(run, "RUNNING")
        return True

    # -- runnable tasks ----------------------------------------------------------------------
    def runnable(self, run: Run, task: dict, tdef: TaskDef, tr: dict, scope: Scope) -> str:
        """Attempts of a runnable (or executable: Subflow) task, retried by the task's ``retry``,
        else the nearest enclosing flowable's, else the flow's (Kestra ExecutorService.handleRetryTask)."""
        retry = task.get("retry") or scope.retry or run.flow.get("retry")
        attempt = len(tr.get("attempts") or [])
        first_attempt = attempt
        started = utcnow()
        retried = False
        outputs: Any = None
        attempt_open = True   # the last attempt's end is written with the task run's (one store update)

        def start(t: dict) -> None:
            transition(t["state"], "RUNNING")
            t.setdefault("attempts", []).append({"state": new_state("RUNNING")})
        while True:
            self.update_tr(run, tr["id"], start)
            attempt_open = True
            tr_now = dict(tr, attempts=[{}] * attempt)   # attemptsCount: the attempts before this one
            ctx = TaskContext(self, run, task, tr_now, attempt, scope)
            run.track(ctx.cancelled)
            try:
                if tdef.executable:
                    result = tdef.drive(self, run, task, tr_now, scope)
                else:
                    result = self.call(tdef, task, ctx)
                if isinstance(result, TaskResult):
                    outputs, state = result.outputs, result.state
                else:
                    outputs, state = result, "SUCCESS"
            except TaskFailure as exc:
                state, outputs = "FAILED", getattr(exc, "outputs", None)
                ctx.log("ERROR", str(exc) or "Task failure")
            except ExpressionError as exc:
                state, outputs = "FAILED", None
                ctx.log("ERROR", str(exc))
            except Exception as exc:  # a task bug must fail the task run, not the engine
                state, outputs = "FAILED", None
                ctx.log("ERROR", f"{type(exc).__name__}: {exc}")
            finally:
                run.untrack(ctx.cancelled)
                ctx.cleanup()
            if ctx.log_lines:   # logToFile (LogToFileTest: one line per entry, in the attempt's logFile)
                log_file = ctx.put_file(f"{attempt}.log", ("\n".join(ctx.log_lines) + "\n").encode())
                self.update_tr(run, tr["id"], lambda t: t["attempts"][-1].__setitem__("logFile", log_file))
            if run.killed.is_set() and state == "FAILED":
                state = "KILLED"
            outputs = jsonable(outputs)
            final_attempt_state = state
            if state == "FAILED" and isinstance(retry, dict) and not run.killed.is_set():
                if str(retry.get("behavior") or "").upper() == "CREATE_NEW_EXECUTION":
                    delay = self.new_execution_delay(run, retry)
                    if delay is not None:
                        with run.lock:
                            run.retry_in = delay
                        retried = True
                    break
                delay = retry_delay(retry, attempt - first_attempt + 1, started, utcnow())
                if delay is not None:
                    self.update_tr(run, tr["id"], lambda t: (transition(t["attempts"][-1]["state"], final_attempt_state),
                                                             transition(t["state"], "RETRYING")))
                    attempt_open = False
                    if run.killed.wait(delay):
                        state = "KILLED"
                        break
                    attempt += 1
                    continue
            break
        if retried:
            self.finish_tr(run, tr["id"], "RETRIED", outputs, final_attempt_state if attempt_open else None)
            return "FAILED"
        if state == "SUCCESS" and attempt > first_attempt and isinstance(retry, dict) and retry.get("warningOnRetry"):
            state = "WARNING"
        if state == "FAILED" and task.get("allowFailure") is True:
            state = "WARNING"
        if state == "WARNING" and task.get("allowWarning") is True:
            state = "SUCCESS"
        self.finish_tr(run, tr["id"], state, outputs, final_attempt_state if attempt_open else None)
        if state in SUCCESSFUL:
            self.register(run, scope, task["id"], outputs or {})
        return state

    def finish_tr(self, run: Run, tr_id: str, state: str, outputs: Any, attempt_state: str | None) -> None:
        """The task run's end in one store update: its last attempt's end (when still open),
        its outputs and its final state."""
        def apply(t: dict) -> None:
            if attempt_state is not None and t.get("attempts"):
                transition(t["attempts"][-1]["state"], attempt_state)
            if outputs:
                t["outputs"] = outputs
            transition(t["state"], state)
        self.update_tr(run, tr_id, apply)

    def new_execution_delay(self, run: Run, retry: dict) -> float | None:
        """Seconds before the new execution of a CREATE_NEW_EXECUTION retry, or None when the
        execution's attempt number reached ``maxAttempt`` or the next start would pass the
        original creation date + ``maxDuration`` (Kestra TaskRun.nextRetryDate(retry, execution))."""
        with self.store.lock:
            ex = self.store.executions.get(run.id) or {}
            meta = dict(ex.get("metadata") or {})
            created = meta.get("originalCreatedDate") or ex["state"]["histories"][0]["date"]
        number = int(meta.get("attemptNumber") or 1)
        max_attempt = retry.get("maxAttempt", retry.get("maxAttempts"))
        if max_attempt is not None and number >= int(max_attempt):
            return None
        delay = retry_interval(retry, number)
        if retry.get("maxDuration"):
            limit = parse_instant(str(created)) + parse_duration(str(retry["maxDuration"]))
            if utcnow() + dt.timedelta(seconds=delay) > limit:
                return None
        return delay

    def task_context(self, run: Run, task: dict, tr: dict, attempt: int, scope: Scope) -> TaskContext:
        return TaskContext(self, run, task, tr, attempt, scope)

    def drop_children(self, run: Run, parent_id: str) -> None:
        """Remove every task run under ``parent_id`` (WaitFor between iterations) and reindex."""
        def apply(ex: dict) -> None:
            trs = ex.get("taskRunList") or []
            gone = {parent_id}
            kept = []
            for tr in trs:   # parents come before their children in the list
                if tr.get("parentTaskRunId") in gone:
                    gone.add(tr["id"])
                else:
                    kept.append(tr)
            ex["taskRunList"] = kept
            run.index(kept)
        self.update(run, apply)

    @staticmethod
    def call(tdef: TaskDef, task: dict, ctx: TaskContext) -> Any:
        timeout = task.get("timeout")
        if not timeout:
            return tdef.run(task, ctx)
        try:
            seconds = parse_duration(ctx.render(timeout)).total_seconds()
        except ValueError as exc:
            raise TaskFailure(f"Invalid timeout: {exc}") from None
        box: dict = {}

        def target() -> None:
            try:
                box["result"] = tdef.run(task, ctx)
            except BaseException as exc:  # re-raised in the caller's thread
                box["error"] = exc
        worker = threading.Thread(target=target, daemon=True, name=f"{threading.current_thread().name}-task")
        worker.start()
        worker.join(seconds)
        if worker.is_alive():
            ctx.cancelled.set()
            worker.join(5)
            raise TaskFailure(f"Timeout after {format_duration(parse_duration(str(timeout)))}")
        if "error" in box:
            raise box["error"]
        return box.get("result")

    # -- flowable tasks ----------------------------------------------------------------------
    def flowable(self, run: Run, task: dict, tdef: TaskDef, tr: dict, scope: Scope) -> str:
        """Drive a flowable task with its registered function (tasks/flow.py)."""
        if not (run.recovered and tr["state"]["current"] == "PAUSED"):   # a recovered Pause stays PAUSED
            self.set_state(run, tr["id"], "RUNNING")
        outputs: Any = None
        try:
            result = tdef.drive(self, run, task, tr, scope)
            state, outputs = result if isinstance(result, tuple) else (result, None)
        except (ExpressionError, TaskFailure, ValueError, TypeError) as exc:
            self.log(run, "ERROR", str(exc), task_id=task["id"], task_run_id=tr["id"])
            state = "FAILED"
        if run.killed.is_set() and state != "SUCCESS":
            state = "KILLED"
        if run.retry_in is not None and state == "FAILED":   # a child is retried as a new execution
            self.set_state(run, tr["id"], "RETRIED", outputs=outputs)
            return "FAILED"
        if state == "FAILED" and task.get("allowFailure") is True:
            state = "WARNING"
        if state == "WARNING" and task.get("allowWarning") is True:
            state = "SUCCESS"
        self.set_state(run, tr["id"], state, outputs=outputs)
        if state in SUCCESSFUL and outputs is not None:
            self.register(run, scope, task["id"], outputs)
        return state

    def concurrently(self, run: Run, jobs: list, limit: int) -> str:
        if not jobs:
            return "SUCCESS"
        # 0 means "no limit" in Kestra; threads are capped so a 10 000-value loop stays sane
        workers = min(len(jobs), MAX_CONCURRENCY) if limit <= 0 else max(1, min(limit, len(jobs), MAX_CONCURRENCY))
        failed = threading.Event()
        state = "SUCCESS"

        def guarded(job):
            # with a limit, a failure starts no new job; without one Kestra created them all at
            # once, so they all run (FlowableUtils.resolveParallelNexts; FinallyTest.parallelWithErrors)
            if (limit > 0 and failed.is_set()) or run.killed.is_set():
                return None
            result = job()
            if result in ("FAILED", "KILLED"):
                failed.set()
            return result
        if workers == 1:
            results = [guarded(job) for job in jobs]
        else:
            with ThreadPoolExecutor(max_workers=workers,
                                    thread_name_prefix=threading.current_thread().name) as pool:
                results = list(pool.map(guarded, jobs))
        for result in results:
            if result is not None:
                state = worst(state, result)
        return state

    def handlers(self, run: Run, task: dict, state: str, scope: Scope) -> str:
        if state == "FAILED" and task.get("errors") and not run.killed.is_set():
            self.sequence(run, task["errors"], scope)
        if task.get("finally") and not run.killed.is_set():
            state = worst(state, self.sequence(run, task["finally"], scope))
        return state

    def check_resume_inputs(self, run: Run, given: dict) -> dict:
        """Typed ``onResume`` inputs; raises EngineInvalid naming the bad one."""
        with run.lock:
            pause = run.pause_task
        if pause is None:
            return dict(given)
        try:
            return convert_inputs(pause["onResume"], given)
        except ValueError as exc:
            raise EngineInvalid(str(exc)) from None


def jsonable(value: Any) -> Any:
    """Task outputs as JSON can carry them (dates -> ISO text, Decimal -> number, ...)."""
    import base64
    import datetime as _dt
    import decimal
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)
    if isinstance(value, _dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    if hasattr(value, "item"):
        return jsonable(value.item())
    return str(value)


def current_each_output(value: Any, path: tuple) -> Any:
    """``outputs.x`` narrowed to the current iteration: indexed by each enclosing loop value it
    is keyed by (Kestra CurrentEachOutputFunction; CurrentEachOutputFunctionTest: current-output.yaml)."""
    for key in path:
        if isinstance(value, dict) and str(key) in value:
            value = value[str(key)]
    return value


def retry_delay(retry: dict, attempts: int, first_started, last_ended) -> float | None:
    """Seconds to wait before the next attempt, or None when the policy is exhausted: ``attempts``
    reached ``maxAttempt``, or the next attempt would start after the first one's start +
    ``maxDuration`` (Kestra TaskRun.nextRetryDate: 4 attempts for maxAttempt 4, 3 for
    maxDuration PT6S with interval PT2S — RetryCaseTest.retryFailedTask*)."""
    if not isinstance(retry, dict):
        return None
    max_attempt = retry.get("maxAttempt", retry.get("maxAttempts"))
    if max_attempt is None and not retry.get("maxDuration"):
        return None
    if max_attempt is not None and attempts >= int(max_attempt):
        return None
    delay = retry_interval(retry, attempts)
    if retry.get("maxDuration"):
        limit = first_started + parse_duration(str(retry["maxDuration"]))
        if last_ended + dt.timedelta(seconds=delay) > limit:
            return None
    return delay


def retry_interval(retry: dict, attempts: int) -> float:
    """The wait after ``attempts`` attempts, by the retry's ``type`` (constant, exponential, random)."""
    kind = str(retry.get("type", "constant")).lower()
    if kind == "exponential":
        base = parse_duration(str(retry.get("interval", "PT1S"))).total_seconds()
        delay = base * float(retry.get("delayFactor", 2)) ** (attempts - 1)
        if retry.get("maxInterval"):
            delay = min(delay, parse_duration(str(retry["maxInterval"])).total_seconds())
        return delay
    if kind == "random":
        import random
        low = parse_duration(str(retry.get("minInterval", "PT0S"))).total_seconds()
        high = parse_duration(str(retry.get("maxInterval", "PT1S"))).total_seconds()
        return random.uniform(low, high)
    return parse_duration(str(retry.get("interval", "PT1S"))).total_seconds()


def typed_output(spec: dict, value: Any) -> Any:
    """A flow (or Loop) output converted to its declared ``type`` (Kestra types outputs)."""
    kind = str(spec.get("type") or "STRING").upper()
    if value is None:
        return None
    try:
        if kind in ("INT", "LONG"):
            return int(float(value)) if isinstance(value, str) and "." in value else int(value)
        if kind in ("FLOAT", "DOUBLE"):
            return float(value)
        if kind in ("BOOLEAN", "BOOL"):
            return value if isinstance(value, bool) else str(value).strip().lower() == "true"
        if kind in ("JSON", "ARRAY", "MULTISELECT", "YAML"):
            return json.loads(value) if isinstance(value, str) else value
    except (TypeError, ValueError):
        raise ValueError(f"Invalid value for output `{spec.get('id')}`: `{value}` is not a valid {kind}") from None
    return value
