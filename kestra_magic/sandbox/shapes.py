"""JSON shapes on the way out: the stored 1.x dicts as each generation serializes them.

The store keeps executions in Kestra 1.x *full* shape; 2.x drops task-run outputs and
per-task-run ids, ``deleted`` and execution ``outputs`` depending on the endpoint
(kestra-api-2.md §4). Nulls are omitted, as Kestra's ``non_null`` inclusion does.
"""
from __future__ import annotations

import copy

from kestra_magic.sandbox import states

LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")

_V2_TASKRUN_DROP = ("outputs", "executionId", "namespace", "flowId", "tenantId")
# fields of the slim 2.x search item (ApiLightExecution)
_LIGHT = ("tenantId", "id", "namespace", "flowId", "flowRevision", "inputs", "labels", "state",
          "parentId", "originalId", "trigger", "scheduleDate", "kind", "loopRun")


def shape_state(state: dict | None) -> dict | None:
    """Nulls dropped; ``startDate`` from the first history; ``endDate``/``duration`` once terminated
    or PAUSED. ``states.transition`` stores them already: they are recomputed (instants parsed) only
    when they do not match the histories, so a state changed by hand stays coherent and a
    20,000-task-run GET parses no instant."""
    if not isinstance(state, dict):
        return state
    out = {k: v for k, v in state.items() if v is not None}
    if not _dates_coherent(out):
        out.pop("endDate", None)
        out.pop("duration", None)
        out.update(states.dates(out))
    return out


def _dates_coherent(state: dict) -> bool:
    histories = state.get("histories")
    if not histories or not isinstance(histories, list):
        return "startDate" not in state and "endDate" not in state
    if not isinstance(histories[0], dict) or state.get("startDate") != histories[0].get("date"):
        return False
    if state.get("current") in states.ENDED:
        return (isinstance(histories[-1], dict) and state.get("endDate") == histories[-1].get("date")
                and "duration" in state)
    return "endDate" not in state and "duration" not in state


def _clean(d: dict, keep_null: tuple[str, ...] = ()) -> dict:
    return {k: v for k, v in d.items() if v is not None or k in keep_null}


def task_run(tr: dict, generation: int, form: str = "full") -> dict:
    """One stored task run as the execution ``form`` carries it (a new dict; nested values shared)."""
    return _task_run(tr, generation, slim=form == "api")


def _task_run(tr: dict, generation: int, slim: bool) -> dict:
    out = _clean(tr, keep_null=("outputs",) if generation == 1 else ())
    if "state" in out:
        out["state"] = shape_state(out["state"])
    out["attempts"] = [dict(_clean(a), state=shape_state(a.get("state"))) if isinstance(a, dict) else a
                       for a in out.get("attempts") or []] or None
    if out["attempts"] is None:
        out.pop("attempts")
    if generation == 2:
        # core TaskRun (create/follow/actions) keeps its ids; ApiTaskRun (GET) is slim
        for k in _V2_TASKRUN_DROP if slim else ("outputs",):
            out.pop(k, None)
    elif "outputs" not in out:
        out["outputs"] = None
    return out


def execution(ex: dict, generation: int, form: str = "full", url: str | None = None) -> dict:
    """Shape a stored execution. ``form``: full (1.x GET/everything), api (2.x GET),
    light (2.x search), core (2.x follow/actions/create).

    Builds new dicts down to states and attempts and shares the rest with ``ex`` (callers pass a
    copy, or serialize at once under the store lock): a deep copy here cost a second copy per GET."""
    out = _clean(ex)
    out.pop("_internal", None)
    out["state"] = shape_state(out.get("state"))
    if not out.get("inputs"):
        out.pop("inputs", None)
    if out.get("taskRunList") is not None:
        out["taskRunList"] = [_task_run(tr, generation, slim=form == "api") for tr in out["taskRunList"]]
        if not out["taskRunList"]:
            out.pop("taskRunList")
    if generation == 2:
        out.pop("outputs", None)
        if form in ("api", "light"):
            out.pop("deleted", None)
        if form == "light":
            out = {k: v for k, v in out.items() if k in _LIGHT}
    if url is not None:
        out["url"] = url
    return out


def flow(stored: dict, generation: int, with_source: bool) -> dict:
    """A stored flow as Flow / FlowWithSource JSON."""
    out = {k: v for k, v in copy.deepcopy(stored).items() if v is not None and not k.startswith("_")}
    out.setdefault("tenantId", "main")
    labels = out.get("labels")
    if isinstance(labels, dict):
        out["labels"] = [{"key": str(k), "value": str(v)} for k, v in labels.items()]
    if isinstance(out.get("inputs"), list):
        out["inputs"] = [dict({"required": True}, **i) if isinstance(i, dict) else i for i in out["inputs"]]
    out.setdefault("disabled", False)
    out.setdefault("deleted", False)
    if generation == 2:
        out.setdefault("draft", False)
    if not with_source:
        out.pop("source", None)
    return out


def log_entry(entry: dict, generation: int, follow: bool = False) -> dict:
    out = _clean(entry, keep_null=("attemptNumber",))
    out.setdefault("attemptNumber", None)
    if generation == 2 and follow:
        out.pop("deleted", None)
    return out
