"""The one place where an execution is copied for a restart, a replay or a retry.

Task runs that succeeded are kept (the walker matches them by ``(taskId, parentTaskRunId,
value)`` and does not run them again), the others re-run; ``errors``/``finally`` task runs
always re-run. Copies get new task-run ids unless the restart keeps the execution's id.
"""
from __future__ import annotations

import copy
from typing import Callable

from kestra_magic.sandbox.engine_errors import EngineInvalid
from kestra_magic.sandbox.instants import format_instant as instant
from kestra_magic.sandbox.states import SUCCESSFUL, new_state, transition


def handler_task_ids(flow: dict) -> set[str]:
    """Ids of every task inside an ``errors`` or ``finally`` block (re-run on restart)."""
    out: set[str] = set()

    def collect(tasks, inside: bool) -> None:
        for t in tasks or []:
            if not isinstance(t, dict):
                continue
            if isinstance(t.get("task"), dict):   # a Dag node
                t = t["task"]
            if inside:
                out.add(t.get("id"))
            for key, value in t.items():
                if isinstance(value, list) and value and isinstance(value[0], dict) \
                        and ("type" in value[0] or "task" in value[0]):
                    collect(value, inside or key in ("errors", "finally"))
                elif key == "cases" and isinstance(value, dict):
                    for branch in value.values():
                        collect(branch if isinstance(branch, list) else [], inside)
    collect(flow.get("tasks"), False)
    collect(flow.get("errors"), True)
    collect(flow.get("finally"), True)
    return out


def remap(ex: dict, new_id: Callable[[], str]) -> None:
    """Give every task run a new id (and this execution's id), keeping parent links."""
    mapping = {tr["id"]: new_id() for tr in ex.get("taskRunList") or []}
    for tr in ex.get("taskRunList") or []:
        tr["id"] = mapping[tr["id"]]
        tr["executionId"] = ex["id"]
        if tr.get("parentTaskRunId") in mapping:
            tr["parentTaskRunId"] = mapping[tr["parentTaskRunId"]]


def restart_in_place(ex: dict, flow: dict) -> None:
    """Restart ``ex`` itself (same id): failed task runs RESTARTED, handlers dropped, attempt + 1."""
    ex["taskRunList"] = _restarted_task_runs(copy.deepcopy(ex.get("taskRunList") or []), flow)
    ex.pop("outputs", None)
    meta = ex.setdefault("metadata", {})
    meta["attemptNumber"] = int(meta.get("attemptNumber") or 1) + 1
    transition(ex["state"], "RESTARTED")


def restart_on_revision(ex: dict, flow: dict, revision: int, new_id: Callable[[], str]) -> dict:
    """A new RESTARTED execution (``parentId`` = ``ex``) re-running ``ex`` on another revision."""
    new = copy.deepcopy(ex)
    new["taskRunList"] = _restarted_task_runs(new.get("taskRunList") or [], flow)
    new["id"] = new_id()
    new["flowRevision"] = int(revision)
    new["parentId"] = ex["id"]
    new["state"] = new_state("RESTARTED")
    remap(new, new_id)
    return new


def _restarted_task_runs(trs: list, flow: dict) -> list:
    handlers = handler_task_ids(flow)
    kept = []
    for tr in trs:
        if tr["taskId"] in handlers:
            continue
        if tr["state"]["current"] not in SUCCESSFUL:
            transition(tr["state"], "RESTARTED")
        kept.append(tr)
    return kept


def replay(ex: dict, flow: dict, task_run_id: str | None, new_id: Callable[[], str]) -> dict:
    """A new CREATED execution re-running ``ex`` from ``task_run_id`` (from the start when None):
    task runs before it that succeeded are kept, its ancestors are RESTARTED, the rest re-run."""
    new = copy.deepcopy(ex)
    trs = new.get("taskRunList") or []
    kept: list[dict] = []
    if task_run_id:
        by_id = {tr["id"]: tr for tr in trs}
        if task_run_id not in by_id:
            raise EngineInvalid(f"Unable to find task run '{task_run_id}' in execution '{ex['id']}'")
        ancestors: set[str] = set()
        node = by_id[task_run_id].get("parentTaskRunId")
        while node and node in by_id:
            ancestors.add(node)
            node = by_id[node].get("parentTaskRunId")

        def descends(tr: dict) -> bool:
            node = tr["id"]
            while node:
                if node == task_run_id:
                    return True
                node = by_id[node].get("parentTaskRunId") if node in by_id else None
            return False
        handlers = handler_task_ids(flow)
        target_index = next(i for i, tr in enumerate(trs) if tr["id"] == task_run_id)
        for index, tr in enumerate(trs):
            if tr["id"] in ancestors:
                tr["state"] = new_state("RESTARTED")
                tr.pop("attempts", None)
                tr["outputs"] = None
                kept.append(tr)
            elif index < target_index and not descends(tr) and tr["taskId"] not in handlers \
                    and tr["state"]["current"] in SUCCESSFUL:
                kept.append(tr)
    new["taskRunList"] = kept
    new["id"] = new_id()
    remap(new, new_id)
    new["state"] = new_state("CREATED")
    new.pop("outputs", None)
    new["metadata"] = {"attemptNumber": 1, "originalCreatedDate": instant()}
    new["originalId"] = ex.get("originalId") or ex["id"]
    new["labels"] = [lb for lb in new.get("labels") or [] if lb.get("key") != "system.replayed"]
    return new


def retry_as_new_execution(ex: dict, flow: dict, new_id: Callable[[], str]) -> dict:
    """``retry.behavior: CREATE_NEW_EXECUTION``: a replay of ``ex`` from the start with the next
    attempt number and the original creation date kept (Kestra ExecutionService.replay +
    ExecutionMetadata.nextAttempt; RetryCaseTest.retryNewExecution*)."""
    new = replay(ex, flow, None, new_id)
    meta = ex.get("metadata") or {}
    new["metadata"] = {"attemptNumber": int(meta.get("attemptNumber") or 1) + 1,
                       "originalCreatedDate": meta.get("originalCreatedDate")
                       or (ex["state"].get("histories") or [{}])[0].get("date") or instant()}
    new.pop("breakpoints", None)
    return new
