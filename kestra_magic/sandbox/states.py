"""Kestra's execution and task-run states: the names, the sets the rules use, and the one
transition function that records a history entry (``State.java``).

A stored state is ``{current, histories:[{state, date}], startDate, endDate?, duration?}``;
``endDate``/``duration`` appear once terminated or PAUSED.
"""
from __future__ import annotations

from kestra_magic.sandbox.instants import format_duration, format_instant, parse_instant

__all__ = ["TERMINAL", "SUCCESSFUL", "RESTARTABLE", "RESUMABLE", "PAUSABLE", "UNQUEUE_TARGETS", "ENDED",
           "UNFINISHED", "ACTIVE", "is_terminal", "new_state", "transition", "dates", "worst", "all_terminated"]

CREATED, RUNNING, PAUSED, QUEUED, BREAKPOINT = "CREATED", "RUNNING", "PAUSED", "QUEUED", "BREAKPOINT"
KILLING, KILLED, RESTARTED = "KILLING", "KILLED", "RESTARTED"

TERMINAL = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED",
                      "RESUBMITTED"})
SUCCESSFUL = frozenset({"SUCCESS", "WARNING", "SKIPPED"})
ENDED = TERMINAL | {PAUSED}                       # states that carry endDate/duration
RESTARTABLE = TERMINAL | {PAUSED}                 # State.canBeRestarted()
RESUMABLE = frozenset({PAUSED, BREAKPOINT})
PAUSABLE = frozenset({RUNNING, CREATED})
UNQUEUE_TARGETS = frozenset({RUNNING, "CANCELLED", "FAILED", "SUCCESS", "KILLED", "WARNING", "SKIPPED"})
# an execution left in one of these by a stopped sandbox is picked up again (recovery.py)
UNFINISHED = frozenset({CREATED, RESTARTED, QUEUED, RUNNING, "RETRYING", PAUSED, BREAKPOINT, KILLING})
ACTIVE = frozenset({RUNNING, KILLING, PAUSED, BREAKPOINT})   # executions a flow's concurrency limit counts

# Worst-state order used to combine the states of sibling task runs
_RANK = {"SUCCESS": 0, "SKIPPED": 0, "WARNING": 1, "FAILED": 2, "KILLED": 3}


def is_terminal(state: str | None) -> bool:
    return state in TERMINAL


def dates(state: dict) -> dict:
    """``startDate`` from the first history; ``endDate``/``duration`` once ENDED (else absent)."""
    histories = state.get("histories") or []
    if not histories:
        return {}
    out = {"startDate": histories[0].get("date")}
    if state.get("current") in ENDED:
        out["endDate"] = histories[-1].get("date")
        try:
            out["duration"] = format_duration(parse_instant(out["endDate"]) - parse_instant(out["startDate"]))
        except (TypeError, ValueError):
            pass
    return out


def _close(state: dict) -> None:
    state.pop("endDate", None)
    state.pop("duration", None)
    state.update(dates(state))


def new_state(current: str = CREATED) -> dict:
    state = {"current": current, "histories": [{"state": current, "date": format_instant()}]}
    _close(state)
    return state


def transition(state: dict, current: str) -> dict:
    """Move ``state`` (in place) to ``current``, recording the history; a no-op when already there."""
    if state.get("current") == current:
        return state
    state["current"] = current
    state.setdefault("histories", []).append({"state": current, "date": format_instant()})
    _close(state)
    return state


def worst(a: str, b: str) -> str:
    """The state that wins when combining sibling results (FAILED over WARNING over SUCCESS)."""
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def all_terminated(execution: dict) -> bool:
    """The execution and every one of its task runs are terminated (Kestra's follow stop condition)."""
    if not is_terminal((execution.get("state") or {}).get("current")):
        return False
    return all(is_terminal((tr.get("state") or {}).get("current")) for tr in execution.get("taskRunList") or [])
