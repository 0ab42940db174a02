"""Restart recovery of a durable sandbox: executions the previous process left unfinished go on.

Kestra's semantics (``kestra-io/kestra``, ``DefaultServiceLivenessCoordinator.resubmitWorkerTask``
and ``TaskRun.onRunningResend``): when a worker dies, every task it was running is sent again;
the interrupted attempt ends ``RESUBMITTED`` (``KILLED`` in older versions), a WARN "Resubmit WorkerTask."
is logged on the task run and the task runs again as a new attempt, while the executor keeps the
execution and its finished task runs as they are. Here the whole process died, so per execution:

- CREATED / RESTARTED / QUEUED: started again (``engine.start(id, recovered=True)``);
  ``scheduleDate`` and the flow's concurrency queue (FIFO by creation) are honoured by the engine
  as on a first start.
- RUNNING / RETRYING: every task run whose last attempt had not ended gets that attempt moved to
  RESUBMITTED with a WARN log line, then the execution goes on (no second RUNNING in its
  history, its concurrency slot kept): finished task runs are kept (their outputs feed later
  tasks), the resubmitted ones run as a new attempt.
- PAUSED on a Pause task, BREAKPOINT: the execution stays PAUSED/BREAKPOINT; the walk stops at the
  same Pause task (a timed one waits only for what is left of its duration) or breakpoint, and it
  can be resumed through the API.
- PAUSED through the API (no paused task run): it starts paused, and goes on when resumed.
- KILLING: ends KILLED (``engine.kill``), as the executor would complete the kill.
- A Subflow task run resubmitted while its child execution was still running: the new attempt
  re-attaches to that child (``tasks/flow.py`` ``interrupted_child``), which is recovered as any
  other execution; no second child is started.

Nothing stays RUNNING: every unfinished execution has a live run or a final state afterwards.
"""
from __future__ import annotations

import logging
import threading

from kestra_magic.sandbox.instants import format_instant as instant
from kestra_magic.sandbox.states import TERMINAL, UNFINISHED, transition

__all__ = ["recover"]
_log = logging.getLogger("kestra_magic.sandbox.recovery")


def recover(store, engine) -> list[str]:
    """Pick up every unfinished execution of ``store`` (call once, before serving). Returns their ids."""
    started = []
    for execution_id in store.unfinished_ids():
        try:
            if _recover_one(store, engine, execution_id):
                started.append(execution_id)
        except Exception as exc:   # one broken execution must not keep the server down, nor stay RUNNING
            _log.error("sandbox recovery: execution %s could not be picked up: %s", execution_id, exc)
            _fail(store, execution_id, f"The sandbox restarted and could not pick this execution up again: "
                                       f"{type(exc).__name__}: {exc}")
    if started:
        _log.info("sandbox recovery: %d unfinished execution(s) picked up", len(started))
    return started


def _recover_one(store, engine, execution_id: str) -> bool:
    """Pick one execution up; False when it had ended meanwhile."""
    execution = store.get_execution(execution_id)
    current = execution["state"]["current"]
    if current not in UNFINISHED:
        return False
    if current == "KILLING":
        engine.kill(execution_id)
        return True
    resubmitted: list[dict] = []

    def resubmit(ex: dict) -> None:
        for tr in ex.get("taskRunList") or []:
            if tr["state"]["current"] in TERMINAL:
                continue
            attempts = tr.get("attempts") or []
            if attempts and attempts[-1]["state"]["current"] not in TERMINAL:
                transition(attempts[-1]["state"], "RESUBMITTED")
                resubmitted.append({"taskId": tr["taskId"], "id": tr["id"], "attempt": len(attempts)})
    if current in ("RUNNING", "RETRYING", "PAUSED", "BREAKPOINT"):
        store.update_execution(execution_id, resubmit, copy_result=False)
    for item in resubmitted:
        _log_line(store, execution, "WARN", "The sandbox stopped while this task was running: the attempt is "
                  "RESUBMITTED and the task runs again as a new attempt", item)
    engine.start(execution_id, recovered=True)
    return True


def _fail(store, execution_id: str, message: str) -> None:
    """End an execution FAILED (its unfinished task runs and attempts too), with an ERROR log line."""
    def mark(ex: dict) -> None:
        for tr in ex.get("taskRunList") or []:
            if tr["state"]["current"] not in TERMINAL:
                for attempt in tr.get("attempts") or []:
                    if attempt["state"]["current"] not in TERMINAL:
                        transition(attempt["state"], "FAILED")
                transition(tr["state"], "FAILED")
        if ex["state"]["current"] not in TERMINAL:
            transition(ex["state"], "FAILED")
    execution = store.get_execution(execution_id)
    _log_line(store, execution, "ERROR", message)
    store.update_execution(execution_id, mark, copy_result=False)


def _log_line(store, execution: dict, level: str, message: str, task_run: dict | None = None) -> None:
    entry = {"tenantId": "main", "namespace": execution["namespace"], "flowId": execution["flowId"],
             "executionId": execution["id"], "timestamp": instant(), "level": level,
             "thread": threading.current_thread().name, "message": message,
             "attemptNumber": task_run["attempt"] if task_run else None, "deleted": False}
    if task_run is not None:
        entry["taskId"] = task_run["taskId"]
        entry["taskRunId"] = task_run["id"]
    if execution.get("kind"):
        entry["executionKind"] = execution["kind"]
    store.add_log(entry)
