"""Runs executions: Kestra's state machine, task runs, attempts, logs and flow semantics.

The engine holds the running executions and the actions on them (kill, pause, resume,
restart, replay). One thread per execution walks the flow's task tree (``engine_walk``,
which sees the engine only through its narrow ``EngineOps`` protocol); flowable tasks are
driven by the functions registered in ``tasks/flow.py``, runnable tasks are the functions
registered in the other ``tasks/`` modules; restart/replay/retry copies are made in
``engine_copy``. Everything observable goes through the store (``update_execution``/``add_log``
notify SSE readers; what an action changes is committed before it returns: ``sync=True``). No HTTP here.
"""
from __future__ import annotations

import datetime as dt
import threading
from typing import Any

from kestra_magic.sandbox import engine_copy
from kestra_magic.sandbox.engine_errors import EngineConflict, EngineInvalid
from kestra_magic.sandbox.instants import now as utcnow, parse_instant
from kestra_magic.sandbox.states import PAUSABLE, RESTARTABLE, RESUMABLE, TERMINAL, transition
from kestra_magic.sandbox.engine_validate import validate_flow
from kestra_magic.sandbox.engine_walk import Run, Walker

__all__ = ["Engine", "EngineConflict", "EngineInvalid"]


class Engine:
    """Runs the executions stored in ``store``; see docs/interfaces.md for the seam."""

    def __init__(self, store):
        self.store = store
        self.generation = getattr(store, "generation", 2)
        self._runs: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._walker = Walker(self)
        self._closed = False
        self.forced: set[str] = set()   # executions force-run past their flow's concurrency limit

    # -- validation ------------------------------------------------------------------------
    def validate(self, flow: dict) -> list[tuple[str, str]]:
        """(property path, message) for every problem of ``flow``; [] when it is valid."""
        return validate_flow(flow, self.generation)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, execution_id: str, recovered: bool = False) -> None:
        """Run a stored CREATED (or RESTARTED) execution on its own thread.

        ``recovered``: the execution was left unfinished by a previous sandbox process (recovery.py)
        and goes on where it was: one RUNNING, PAUSED or BREAKPOINT keeps its state (no new RUNNING
        in its history, no concurrency slot asked again), one PAUSED through the API starts paused,
        a timed Pause waits only for what is left of its duration."""
        execution = self.store.get_execution(execution_id)
        if execution is None:
            raise EngineInvalid(f"Execution '{execution_id}' not found")
        flow = self.store.get_flow(execution["namespace"], execution["flowId"], execution.get("flowRevision"),
                                   allow_deleted=True)
        if flow is None:
            raise EngineInvalid(f"Flow {execution['namespace']}.{execution['flowId']} not found")
        with self._lock:
            if self._closed:
                return
            old = self._runs.get(execution_id)
        if old is not None and old.thread is not None and old.thread.is_alive():
            old.thread.join(2.0)   # a restart right after the end: the old thread is just leaving
            if old.thread.is_alive():
                raise EngineConflict(f"Execution '{execution_id}' is already running")
        with self._lock:
            run = Run(execution_id, flow, execution)
            run.recovered = recovered
            if recovered and execution["state"]["current"] == "PAUSED" and not any(
                    tr["state"]["current"] == "PAUSED" for tr in execution.get("taskRunList") or []):
                run.api_paused = True   # paused through the API: it stays paused until resumed
            self._runs[execution_id] = run
        run.thread = threading.Thread(target=self._walker.execute, args=(run,), daemon=True,
                                      name=f"kestra-execution-{execution_id}")
        run.thread.start()

    def forget(self, run: Run) -> None:
        """Drop a finished run (unless a restart already replaced it)."""
        with self._lock:
            if self._runs.get(run.id) is run:
                del self._runs[run.id]

    def run_of(self, execution_id: str) -> Run | None:
        with self._lock:
            return self._runs.get(execution_id)

    def is_forced(self, execution_id: str) -> bool:
        return execution_id in self.forced

    def force_run(self, execution_id: str) -> None:
        """Let the execution past its flow's concurrency limit (force-run, unqueue to RUNNING):
        a run waiting in QUEUED wakes up and starts."""
        self.forced.add(execution_id)
        with self.store.lock:
            self.store.changed.notify_all()

    def _alive(self, execution_id: str) -> Run | None:
        run = self.run_of(execution_id)
        if run is not None and run.thread is not None and run.thread.is_alive():
            return run
        return None

    def _require(self, execution_id: str) -> dict:
        execution = self.store.get_execution(execution_id)
        if execution is None:
            raise EngineInvalid(f"Execution '{execution_id}' not found")
        return execution

    # -- actions ---------------------------------------------------------------------------
    def kill(self, execution_id: str, cascade: bool = True) -> None:
        """KILLING -> KILLED, children and subflows included. No-op when already finished
        (unless ``cascade`` is False: then EngineConflict, as Kestra does)."""
        execution = self._require(execution_id)
        if execution["state"]["current"] in TERMINAL:
            if not cascade:
                raise EngineConflict(f"Execution is already finished, can't kill it (state "
                                     f"{execution['state']['current']})")
            return
        run = self._alive(execution_id)
        if run is None:
            self.store.update_execution(execution_id, lambda ex: self._walker.mark_killed(ex), sync=True)
            return
        self.store.update_execution(execution_id, lambda ex: transition(ex["state"], "KILLING")
                                    if ex["state"]["current"] not in TERMINAL else None, sync=True)
        run.kill()
        for child_id in list(run.children):
            try:
                self.kill(child_id)
            except EngineInvalid:
                pass

    def pause(self, execution_id: str) -> None:
        execution = self._require(execution_id)
        run = self._alive(execution_id)
        if execution["state"]["current"] not in PAUSABLE or run is None:
            raise EngineConflict(f"Execution '{execution_id}' is not running, can't pause it "
                                 f"(state {execution['state']['current']})")
        run.api_pause()
        self.store.update_execution(execution_id, lambda ex: transition(ex["state"], "PAUSED"), sync=True)

    def resume(self, execution_id: str, inputs: dict | None = None) -> None:
        """Resume a PAUSED execution (Pause task ``onResume`` inputs become its outputs) or one
        stopped at a BREAKPOINT."""
        execution = self._require(execution_id)
        current = execution["state"]["current"]
        run = self._alive(execution_id)
        if current not in RESUMABLE or run is None:
            raise EngineConflict(f"Execution '{execution_id}' is not paused, can't resume it")
        if current == "BREAKPOINT":
            run.resume_breakpoint()
            return
        values = self._walker.check_resume_inputs(run, inputs or {})
        api_pause = run.pause_task is None
        run.resume(values)
        if api_pause:   # a task may still be running: the execution is RUNNING again right away
            self.store.update_execution(execution_id, lambda ex: transition(ex["state"], "RUNNING")
                                        if ex["state"]["current"] == "PAUSED" else None, sync=True)

    def resume_from_breakpoint(self, execution_id: str, breakpoints: list[dict] | None = None) -> None:
        execution = self._require(execution_id)
        run = self._alive(execution_id)
        if execution["state"]["current"] != "BREAKPOINT" or run is None:
            raise EngineConflict(f"Execution '{execution_id}' is not in BREAKPOINT state")
        if breakpoints is not None:
            run.breakpoints = list(breakpoints)
            self.store.update_execution(execution_id, lambda ex: ex.__setitem__("breakpoints", list(breakpoints)),
                                        sync=True)
        run.resume_breakpoint()

    def restart(self, execution_id: str, revision: int | None = None) -> str:
        """Re-run the failed task runs of a finished (or PAUSED) execution: same id, attempt + 1.
        With another ``revision``: a new execution (``parentId`` = this one) on that revision."""
        execution = self._require(execution_id)
        current = execution["state"]["current"]
        if current not in RESTARTABLE:
            raise EngineConflict(f"Execution must be terminated to be restarted, current state is {current}")
        if current == "PAUSED" and self._alive(execution_id):
            run = self._alive(execution_id)
            run.kill()
            run.thread.join(5)
        flow_rev = execution.get("flowRevision")
        flow = self.store.get_flow(execution["namespace"], execution["flowId"], flow_rev, allow_deleted=True) or {}
        if revision is not None and int(revision) != flow_rev:
            if self.store.get_flow(execution["namespace"], execution["flowId"], int(revision)) is None:
                raise EngineInvalid(f"Flow revision {revision} of {execution['namespace']}."
                                    f"{execution['flowId']} not found")
            new = engine_copy.restart_on_revision(execution, flow, int(revision), self.store.new_id)
            self.store.save_execution(new)
            self.start(new["id"])
            return new["id"]
        self.store.update_execution(execution_id, lambda ex: engine_copy.restart_in_place(ex, flow), sync=True)
        self.start(execution_id)
        return execution_id

    def replay(self, execution_id: str, task_run_id: str | None = None, revision: int | None = None,
               breakpoints: list | str | None = None, inputs: dict | None = None, new_id: str | None = None) -> str:
        """A new execution re-running this one, from ``task_run_id`` when given (with new
        ``inputs`` when given: replay-with-inputs). ``new_id``: the new execution's id, when the
        caller chose it already (FILE inputs were stored under that id's folder)."""
        execution = self._require(execution_id)   # any state: only successful task runs are copied
        rev = int(revision) if revision is not None else execution.get("flowRevision")
        if self.store.get_flow(execution["namespace"], execution["flowId"], rev) is None:
            raise EngineInvalid(f"Flow revision {rev} of {execution['namespace']}.{execution['flowId']} not found")
        flow = self.store.get_flow(execution["namespace"], execution["flowId"], execution.get("flowRevision"),
                                   allow_deleted=True) or {}
        new = engine_copy.replay(execution, flow, task_run_id, self.store.new_id)
        new["flowRevision"] = rev
        if new_id is not None:
            new["id"] = new_id
            for tr in new.get("taskRunList") or []:
                tr["executionId"] = new_id
        if inputs is not None:
            new["inputs"] = inputs
        if breakpoints:
            new["breakpoints"] = _breakpoints(breakpoints)
        else:
            new.pop("breakpoints", None)
        self.store.save_execution(new)

        def mark(ex: dict) -> None:
            labels = [lb for lb in ex.get("labels") or [] if lb.get("key") != "system.replayed"]
            ex["labels"] = labels + [{"key": "system.replayed", "value": "true"}]
        self.store.update_execution(execution_id, mark, sync=True)
        self.start(new["id"])
        return new["id"]

    def shutdown(self, timeout: float = 5.0) -> None:
        """Kill every running execution and wait (bounded) for their threads."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.kill()
        deadline = utcnow() + dt.timedelta(seconds=timeout)
        for run in runs:
            left = (deadline - utcnow()).total_seconds()
            if run.thread is not None and left > 0:
                run.thread.join(left)

    # -- EngineOps: what the walker calls (subflows, retries) ---------------------------------
    def create_child(self, execution: dict) -> None:
        self.store.save_execution(execution)
        self.start(execution["id"])

    def wait_terminal(self, execution_id: str, run: Run) -> dict | None:
        """Block until the execution ends (or ``run`` is killed); returns its last copy.

        Looks at the state only while waiting (a copy per store change would make a big
        subflow quadratic); copies the execution once, at the end."""
        with self.store.lock:
            while True:
                ex = self.store.executions.get(execution_id)
                if ex is None or ex["state"]["current"] in TERMINAL or run.killed.is_set():
                    break
                self.store.changed.wait(0.5)
        return self.store.get_execution(execution_id)


def _breakpoints(value: Any) -> list[dict]:
    """``"a,b.v"`` or a list -> ``[{id, value?}]``."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    out = []
    for item in value or []:
        if isinstance(item, dict):
            out.append(item)
            continue
        task_id, _, val = str(item).partition(".")
        out.append({"id": task_id, **({"value": val} if val else {})})
    return out


def schedule_delay(execution: dict) -> float:
    """Seconds until the execution's ``scheduleDate`` (0 when absent or past)."""
    when = execution.get("scheduleDate")
    if not when:
        return 0.0
    try:
        return max(0.0, (parse_instant(str(when)) - utcnow()).total_seconds())
    except ValueError:
        return 0.0

