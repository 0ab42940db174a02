"""Flow ``sla``: MAX_DURATION (a timer from the start) and EXECUTION_ASSERTION (evaluated as the
execution changes: at the start and before each task). The first violation acts: FAIL ends the
execution FAILED, CANCEL ends it CANCELLED, NONE only adds the SLA's ``labels`` (Kestra
ExecutorService.handleExecutionChangedSLA/processViolation, MaxDurationSLA, ExecutionAssertionSLA;
SLATestCase over sla-max-duration-*.yaml and sla-execution-condition.yaml).
"""
from __future__ import annotations

import threading

from kestra_magic.sandbox.engine_state import truthy
from kestra_magic.sandbox.instants import format_duration, now as utcnow, parse_duration
from kestra_magic.sandbox.expressions import ExpressionError


def _labels(sla: dict) -> list[dict]:
    labels = sla.get("labels") or {}
    if isinstance(labels, dict):
        return [{"key": str(k), "value": str(v)} for k, v in labels.items()]
    return [lb for lb in labels if isinstance(lb, dict)]


def violate(walker, run, sla: dict, reason: str) -> None:
    """Apply one violation to the run (log, labels, FAIL/CANCEL end)."""
    walker.log(run, "WARN", f"SLA '{sla.get('id')}' violated: {reason}")
    labels = _labels(sla)
    if labels:
        def add(ex: dict) -> None:
            have = {(lb.get("key"), lb.get("value")) for lb in ex.get("labels") or []}
            missing = [lb for lb in labels if (lb["key"], lb["value"]) not in have]
            if missing:
                ex["labels"] = list(ex.get("labels") or []) + missing
        walker.update(run, add)
    behavior = str(sla.get("behavior") or "NONE").upper()
    if behavior in ("FAIL", "CANCEL") and run.end_state is None:
        if behavior == "FAIL":
            walker.log(run, "ERROR", f"Execution failed due to SLA '{sla.get('id')}' violated: {reason}")
        run.end_state = "FAILED" if behavior == "FAIL" else "CANCELLED"
        run.kill()


def check_assertions(walker, run, variables: dict) -> None:
    """Evaluate the EXECUTION_ASSERTION SLAs; only the first violation acts (as Kestra)."""
    for sla in run.flow.get("sla") or []:
        if not isinstance(sla, dict) or str(sla.get("type")).upper() != "EXECUTION_ASSERTION":
            continue
        try:
            ok = truthy(walker.render(run, sla.get("assert"), variables))
        except ExpressionError as exc:
            walker.log(run, "ERROR", f"Ignoring SLA '{sla.get('id')}' because of the error: {exc}")
            continue
        if not ok:
            violate(walker, run, sla, f"assertion is false: {sla.get('assert')}.")
            return


def start_timers(walker, run) -> list[threading.Timer]:
    """One timer per MAX_DURATION SLA; cancel them when the execution ends."""
    timers = []
    started = utcnow()
    for sla in run.flow.get("sla") or []:
        if not isinstance(sla, dict) or str(sla.get("type")).upper() != "MAX_DURATION":
            continue
        limit = parse_duration(str(sla.get("duration")))

        def fire(sla=sla, limit=limit) -> None:
            if not run.finished.is_set():
                elapsed = utcnow() - started
                violate(walker, run, sla, f"execution duration of {format_duration(elapsed)} exceed the maximum "
                                          f"duration of {format_duration(limit)}.")
        timer = threading.Timer(limit.total_seconds(), fire)
        timer.daemon = True
        timer.start()
        timers.append(timer)
    return timers
