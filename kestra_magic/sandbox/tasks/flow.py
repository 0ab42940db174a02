"""Kestra's flowable tasks, each registered with the drive function the engine's walker calls.

``drive(walk, run, task, taskrun, scope)`` runs the task's children through the walker
(``walk.block``/``walk.sequence``/``walk.run_task``/``walk.concurrently``/``walk.handlers``),
renders with ``walk.render(run, value, walk.variables(run, task, taskrun, scope))`` and returns
the task run's final state, or ``(state, outputs)``. The walker does the rest (RUNNING, the final
state, ``allowFailure``/``allowWarning``, outputs registration). *Executable* tasks (Subflow)
run inside the walker's attempt loop instead: they return outputs or raise TaskFailure, and get
attempts and retries like runnable tasks (Kestra: ``ExecutableTask``).

Facts cited beside each task come from kestra-io/kestra (core/src/main/java/io/kestra/plugin/core/flow/
and the tests under core/src/test/java/io/kestra/plugin/core/flow/).
"""
from __future__ import annotations

import copy
import json
import shutil
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

from kestra_magic.sandbox.engine_state import truthy
from kestra_magic.sandbox.instants import format_instant as instant, now as utcnow, parse_duration, parse_instant
from kestra_magic.sandbox.states import SUCCESSFUL, new_state, worst
from kestra_magic.sandbox.expressions import to_text
from kestra_magic.sandbox.tasks.base import TaskFailure, TaskResult, flowable, task as runnable

CORE = "io.kestra.plugin.core.flow."
OLD = "io.kestra.core.tasks.flows."
HANDLERS = ["errors", "finally"]


# -- blocks ---------------------------------------------------------------------------------

@flowable(CORE + "Sequential", required=["tasks"], optional=HANDLERS, aliases=[OLD + "Sequential"])
def sequential(w, run, task, tr, scope):
    return w.block(run, task.get("tasks") or [], scope.under(tr, task), task.get("errors"), task.get("finally"))


@flowable(CORE + "Parallel", required=["tasks"], optional=["concurrent", *HANDLERS], aliases=[OLD + "Parallel"])
def parallel(w, run, task, tr, scope):
    children = [t for t in task.get("tasks") or [] if isinstance(t, dict) and t.get("disabled") is not True]
    limit = int(w.render(run, task.get("concurrent", 0), w.variables(run, task, tr, scope)) or 0)
    child_scope = scope.under(tr, task)
    state = w.concurrently(run, [(lambda c=c: w.run_task(run, c, child_scope)) for c in children], limit)
    return w.handlers(run, task, state, child_scope)


@flowable(CORE + "AllowFailure", required=["tasks"], optional=HANDLERS, aliases=[OLD + "AllowFailure"])
def allow_failure(w, run, task, tr, scope):
    """Children's failure (after their ``errors``) ends this task in WARNING and the flow goes on
    (AllowFailureTest.success: allow-failure.yaml, 9 task runs, the execution in WARNING)."""
    state = w.block(run, task.get("tasks") or [], scope.under(tr, task), task.get("errors"), task.get("finally"))
    return "WARNING" if state == "FAILED" else state


@flowable(CORE + "If", required=["condition", "then"], optional=["else", *HANDLERS], aliases=[OLD + "If"])
def if_(w, run, task, tr, scope):
    condition = w.render(run, task.get("condition"), w.variables(run, task, tr, scope))
    branch = task.get("then") if truthy(condition) else task.get("else")
    return w.block(run, branch or [], scope.under(tr, task), task.get("errors"), task.get("finally"))


@flowable(CORE + "Switch", required=["value"], optional=["cases", "defaults", *HANDLERS], aliases=[OLD + "Switch"])
def switch(w, run, task, tr, scope):
    """The matching case, else ``defaults``; no match and no ``defaults`` fails the Switch
    (FailTest.failOnSwitch: fail-on-switch.yaml, 1 task run, FAILED)."""
    value = w.render(run, task.get("value"), w.variables(run, task, tr, scope))
    key = to_text(value)
    cases = task.get("cases") or {}
    branch = next((tasks for case, tasks in cases.items() if to_text(case) == key), None)
    if branch is None and not task.get("defaults"):
        raise TaskFailure(f"Switch '{task['id']}': no case matches the value '{key}' and there are no `defaults`")
    outputs = {"value": key, "defaults": branch is None}
    state = w.block(run, (task.get("defaults") or []) if branch is None else branch, scope.under(tr, task),
                    task.get("errors"), task.get("finally"))
    return state, outputs


@flowable(CORE + "WorkingDirectory", required=["tasks"],
          optional=["inputFiles", "outputFiles", "namespaceFiles", "cache", *HANDLERS], aliases=[OLD + "WorkingDirectory"])
def working_directory(w, run, task, tr, scope):
    """Child tasks share one working directory (``inputFiles`` in, ``outputFiles`` out)."""
    from kestra_magic.sandbox.tasks.namespace import load_namespace_files
    from kestra_magic.sandbox.tasks.scripts import _input_files, _output_files, output_dir
    shared = Path(tempfile.mkdtemp(prefix=f"kestra-{task['id']}-"))
    try:
        ctx = w.task_context(run, task, tr, 0, replace(scope, workdir=shared))
        variables = {"workingDir": str(shared)}
        load_namespace_files(task.get("namespaceFiles"), ctx, shared)   # then inputFiles (preExecuteTasks)
        _input_files(task, ctx, shared, variables)
        state = w.block(run, task.get("tasks") or [], scope.under(tr, task, workdir=shared),
                        task.get("errors"), task.get("finally"))
        outputs = None
        if task.get("outputFiles") is not None and state in SUCCESSFUL:
            outputs = {"outputFiles": _output_files(task, ctx, shared, output_dir(ctx), variables)}
        return state, outputs
    finally:
        shutil.rmtree(shared, ignore_errors=True)


# -- loops -----------------------------------------------------------------------------------

def java_text(value: Any) -> str:
    """A value as Java's ``toString`` prints it (``[1, null, {key=v}]``), for Kestra's messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_text(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(java_text(v) for v in value) + "]"
    return str(value)


def values_of(w, run, task, tr, scope, prop: str = "values") -> list:
    """The rendered list to iterate (a JSON array string, a list, a map, or a kestra:/// file of
    lines). Null items fail the task as Kestra does (EachSequentialTest.eachNull: each-null.yaml,
    1 task run, FAILED, "Found '1' null values on Each, with values=[1, null, {key=my-key, ...}]")."""
    values = w.render(run, task.get(prop), w.variables(run, task, tr, scope))
    if isinstance(values, str):
        text = values.strip()
        if text.startswith("kestra://"):
            return [line for line in Path(w.store.file_path(text)).read_text().splitlines() if line]
        try:
            values = json.loads(text)
        except ValueError:
            raise TaskFailure(f"Unable to parse `{prop}` of task '{task['id']}' as a JSON array: "
                              f"{text[:80]}") from None
    if isinstance(values, dict):
        return [(k, v) for k, v in values.items()]
    if not isinstance(values, list):
        raise TaskFailure(f"`{prop}` of task '{task['id']}' must be a list, got {type(values).__name__}")
    nulls = sum(1 for v in values if v is None)
    if nulls:
        raise TaskFailure(f"Found '{nulls}' null values on Each, with values={java_text(values)}")
    return values


def each(w, run, task, tr, scope, values: list, limit: int):
    """One sequence of ``tasks`` per value, children of this task run, ``taskrun.value`` set and
    outputs under ``outputs.<task>[value]`` (1.x ForEach, EachSequential, EachParallel)."""
    def iteration(index: int, item: Any):
        value = item if isinstance(item, str) else to_text(item)
        child = scope.under(tr, task, value=value, iteration=index, path=scope.path + (value,))
        return w.sequence(run, task.get("tasks") or [], child)
    jobs = [(lambda i=i, v=v: iteration(i, v)) for i, v in enumerate(values)]
    state = w.concurrently(run, jobs, limit)
    return w.handlers(run, task, state, scope.under(tr, task))


_FOREACH_2X = ("Invalid type: io.kestra.plugin.core.flow.ForEach (ForEach was removed in Kestra 2.0: "
               "use io.kestra.plugin.core.flow.Loop and {{ item.value }} instead of {{ taskrun.value }})")


@flowable(CORE + "ForEach", required=["values", "tasks"], optional=["concurrencyLimit", *HANDLERS],
          generations=[1], removed_message=_FOREACH_2X)
def for_each(w, run, task, tr, scope):
    return each(w, run, task, tr, scope, values_of(w, run, task, tr, scope), int(task.get("concurrencyLimit", 1)))


@flowable(CORE + "EachSequential", required=["value", "tasks"], optional=HANDLERS, aliases=[OLD + "EachSequential"],
          generations=[1], removed_message="Invalid type: io.kestra.plugin.core.flow.EachSequential (EachSequential was "
                                           "removed in Kestra 2.0: use io.kestra.plugin.core.flow.Loop and "
                                           "{{ item.value }} instead of {{ taskrun.value }})")
def each_sequential(w, run, task, tr, scope):
    """Deprecated 1.x ForEach with ``value`` (EachSequentialTest.sequential: each-sequential.yaml)."""
    return each(w, run, task, tr, scope, values_of(w, run, task, tr, scope, "value"), 1)


@flowable(CORE + "EachParallel", required=["value", "tasks"], optional=["concurrent", *HANDLERS],
          aliases=[OLD + "EachParallel"], generations=[1],
          removed_message="Invalid type: io.kestra.plugin.core.flow.EachParallel (EachParallel was removed in Kestra "
                          "2.0: use io.kestra.plugin.core.flow.Loop with concurrencyLimit: 0 and {{ item.value }} "
                          "instead of {{ taskrun.value }})")
def each_parallel(w, run, task, tr, scope):
    """Deprecated 1.x ForEach with ``value`` and ``concurrent`` (0: all at once)."""
    limit = int(w.render(run, task.get("concurrent", 0), w.variables(run, task, tr, scope)) or 0)
    return each(w, run, task, tr, scope, values_of(w, run, task, tr, scope, "value"), limit)


@flowable(CORE + "Loop", required=["values", "tasks"], optional=["concurrencyLimit", "outputs", *HANDLERS],
          generations=[2], removed_message="Invalid type: io.kestra.plugin.core.flow.Loop (Loop arrives with Kestra "
                                           "2.0: use io.kestra.plugin.core.flow.ForEach and {{ taskrun.value }} on 1.x)")
def loop(w, run, task, tr, scope):
    """Kestra 2.x: ``item.value``/``item.index``(/``item.key`` over a map), each iteration sees
    its own outputs; ``outputs`` rendered per iteration."""
    from kestra_magic.sandbox.engine_walk import typed_output
    values = values_of(w, run, task, tr, scope)
    limit = int(task.get("concurrencyLimit", 1))
    per_iteration: list = [None] * len(values)

    def iteration(index: int, item: Any):
        key = None
        if isinstance(item, tuple):   # a map: one iteration per entry
            key, item = item
        value = item if isinstance(item, str) else to_text(item)
        with run.lock:
            isolated = copy.copy(scope.outputs)
        loop_item = {"value": value, "index": index}
        if key is not None:
            loop_item["key"] = key
        child = scope.under(tr, task, value=value, iteration=index, item=loop_item, outputs=isolated)
        state = w.sequence(run, task.get("tasks") or [], child)
        if task.get("outputs") and state in SUCCESSFUL:
            variables = w.variables(run, task, tr, child)
            specs = task["outputs"]
            if isinstance(specs, dict):
                specs = [{"id": k, "value": v} for k, v in specs.items()]
            per_iteration[index] = {s["id"]: typed_output(s, w.render(run, s.get("value"), variables)) for s in specs}
        return state
    jobs = [(lambda i=i, v=v: iteration(i, v)) for i, v in enumerate(values)]
    state = w.concurrently(run, jobs, limit)
    state = w.handlers(run, task, state, scope.under(tr, task))
    outputs = {"iterations": len(values)}
    if task.get("outputs"):
        outputs["outputs"] = per_iteration
    return state, outputs


@flowable(CORE + "WaitFor", required=["tasks", "condition"], optional=["checkFrequency", "failOnMaxReached", "errors"])
def wait_for(w, run, task, tr, scope):
    """Runs ``tasks`` until ``condition`` is true, ``checkFrequency.interval`` apart; past
    ``maxIterations`` (100) or ``maxDuration`` (PT1H) it ends, FAILED when ``failOnMaxReached``.
    Between iterations the children's task runs are removed and this task run's ``iteration``
    grows (WaitFor.java, ExecutionService.retryWaitFor; WaitForCaseTest: waitfor*.yaml).
    ``outputs.<id>.iterationCount`` counts from 1."""
    frequency = task.get("checkFrequency") or {}
    max_iterations = int(frequency.get("maxIterations", 100))
    max_duration = parse_duration(str(frequency.get("maxDuration", "PT1H"))).total_seconds()
    interval = parse_duration(str(frequency.get("interval", "PT1S"))).total_seconds()
    started = utcnow()
    count = 1
    while True:
        outputs = {"iterationCount": count}
        w.register(run, scope, task["id"], outputs)
        w.update_tr(run, tr["id"], lambda t: t.__setitem__("outputs", dict(outputs)))
        state = w.block(run, task.get("tasks") or [], scope.under(tr, task), task.get("errors"))
        if state not in SUCCESSFUL:
            return state, outputs
        if truthy(w.render(run, task["condition"], w.variables(run, task, tr, scope))):
            return state, outputs
        reached = count > max_iterations or (utcnow() - started).total_seconds() > max_duration
        if reached:
            w.log(run, "WARN", "Max iterations reached" if count > max_iterations else "Max duration reached",
                  task_id=task["id"], task_run_id=tr["id"])
            return ("FAILED" if task.get("failOnMaxReached") is True else state), outputs
        if run.killed.wait(interval):
            return "KILLED", outputs
        w.drop_children(run, tr["id"])
        count += 1
        w.update_tr(run, tr["id"], lambda t: t.__setitem__("iteration", count - 1))


@flowable(CORE + "Dag", required=["tasks"], optional=["concurrent", "errors", "finally"], aliases=[OLD + "Dag"])
def dag(w, run, task, tr, scope):
    """``tasks: [{task, dependsOn}]``: each task starts once all it depends on succeeded, up to
    ``concurrent`` at once (0: no limit); a failure starts nothing new (DagTest.dag: dag.yaml,
    7 task runs). Cycles and unknown ids are validation errors (engine_validate)."""
    nodes = [n for n in task.get("tasks") or [] if isinstance(n, dict) and isinstance(n.get("task"), dict)]
    nodes = [n for n in nodes if n["task"].get("disabled") is not True]
    limit = int(w.render(run, task.get("concurrent", 0), w.variables(run, task, tr, scope)) or 0)
    child_scope = scope.under(tr, task)
    ids = {n["task"]["id"] for n in nodes}
    pending = {n["task"]["id"]: n for n in nodes}
    needs = {i: {d for d in (n.get("dependsOn") or []) if d in ids} for i, n in pending.items()}
    done: set[str] = set()
    state = "SUCCESS"
    workers = limit if limit > 0 else max(1, len(nodes))
    with ThreadPoolExecutor(max_workers=min(workers, 64), thread_name_prefix=threading.current_thread().name) as pool:
        running: dict = {}
        while pending or running:
            if state not in ("FAILED", "KILLED") and not run.killed.is_set():
                for task_id in [i for i in pending if needs[i] <= done]:
                    if limit > 0 and len(running) >= limit:
                        break
                    node = pending.pop(task_id)
                    running[pool.submit(w.run_task, run, node["task"], child_scope)] = task_id
            if not running:
                break
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in finished:
                task_id = running.pop(future)
                result = future.result()
                if result is None or result in SUCCESSFUL:
                    done.add(task_id)
                if result is not None:
                    state = worst(state, result)
    return w.handlers(run, task, state, child_scope)


# -- pause ---------------------------------------------------------------------------------------

@flowable(CORE + "Pause", optional=["pauseDuration", "delay", "timeout", "behavior", "onResume", "tasks", "onPause"],
          aliases=[OLD + "Pause"])
def pause(w, run, task, tr, scope):
    """PAUSED until resumed, or until ``pauseDuration``/``delay`` (then RUNNING again and SUCCESS),
    or ``timeout`` (then FAILED straight from PAUSED: PauseTest.runTimeout, pause-timeout.yaml —
    one RUNNING in the task run's history, its children not run)."""
    variables = w.variables(run, task, tr, scope)
    raw = task.get("pauseDuration") or task.get("delay")
    fail_after = task.get("timeout") if not raw else None
    seconds = None
    if raw or fail_after:
        seconds = parse_duration(str(w.render(run, raw or fail_after, variables))).total_seconds()
        if run.recovered and tr["state"]["current"] == "PAUSED":   # paused before a sandbox restart
            paused_at = parse_instant(tr["state"]["histories"][-1]["date"])
            seconds = max(0.0, seconds - (utcnow() - paused_at).total_seconds())
    with run.lock:
        run._released.pop(tr["id"], None)
        run.pauses[tr["id"]] = {"id": task["id"], "taskRunId": tr["id"], "onResume": task.get("onResume") or []}
    w.set_state(run, tr["id"], "PAUSED")
    w.set_execution_state(run, "PAUSED")
    resumed = run.wait_for(lambda: tr["id"] in run._released, seconds)
    with run.lock:
        inputs = run._released.pop(tr["id"], None)
        run.pauses.pop(tr["id"], None)
        still_paused = bool(run.pauses)
    if run.killed.is_set():
        return "KILLED"
    if not still_paused:   # another Pause task (in a Parallel) may still be waiting
        w.set_execution_state(run, "RUNNING")
    state = "SUCCESS"
    if not resumed:
        behavior = str(task.get("behavior") or ("FAIL" if fail_after else "RESUME")).upper()
        state = {"RESUME": "SUCCESS", "WARN": "WARNING", "FAIL": "FAILED", "CANCEL": "KILLED"}.get(behavior, "SUCCESS")
        if state == "FAILED":
            w.log(run, "ERROR", f"Pause timed out after {raw or fail_after}", task_id=task["id"], task_run_id=tr["id"])
    if state in SUCCESSFUL:
        w.set_state(run, tr["id"], "RUNNING")
    outputs = None
    if task.get("onResume"):
        outputs = {"onResume": {**default_inputs(task["onResume"]), **(inputs or {})}}
    if task.get("tasks") and state in SUCCESSFUL:
        state = worst(state, w.block(run, task["tasks"], scope.under(tr, task)))
    return state, outputs


def default_inputs(specs: list) -> dict:
    return {s["id"]: s.get("defaults") for s in specs if isinstance(s, dict) and "id" in s}


# -- subflow (executable: attempts and retries like a runnable task) -----------------------------

@flowable(CORE + "Subflow", required=["namespace", "flowId"],
          optional=["inputs", "wait", "transmitFailed", "revision", "labels", "inheritLabels", "restartBehavior",
                    "scheduleDate", "outputs"], aliases=[OLD + "Subflow"], executable=True)
def subflow(w, run, task, tr, scope):
    """One child execution per attempt (FlowCaseTest: task-flow.yaml — one attempt in the child's
    end state; outputs ``executionId``, ``state`` and the task's rendered ``outputs`` over the
    child's task outputs, even when the child failed; labels: the child flow's, the parent
    execution's non-system ones with ``inheritLabels``, the task's, and the parent's correlation id)."""
    variables = w.variables(run, task, tr, scope)
    wait_end = truthy(w.render(run, task.get("wait", True), variables))
    transmit = truthy(w.render(run, task.get("transmitFailed", True), variables))
    child_id = interrupted_child(w, run, tr)
    if child_id is None:
        child_id = start_child(w, run, task, tr, scope, task.get("inputs") or {})[1]["id"]
    else:
        with run.lock:
            run.children.add(child_id)
        w.log(run, "INFO", f"Subflow execution {child_id} re-attached after the sandbox restarted",
              task_id=task["id"], task_run_id=tr["id"], attempt=None)
    outputs: dict = {"executionId": child_id}
    if not wait_end:
        return outputs
    w.update_tr(run, tr["id"], lambda t: t.__setitem__("outputs", dict(outputs)))
    final = w.engine.wait_terminal(child_id, run)
    if run.killed.is_set():
        w.engine.kill(child_id)
        raise TaskFailure("Task was killed")
    child_state = final["state"]["current"] if final else "FAILED"
    outputs["state"] = child_state
    if final and final.get("outputs") is not None:
        outputs["outputs"] = final["outputs"]
    if task.get("outputs") and final is not None:
        outputs["outputs"] = {**(outputs.get("outputs") or {}), **child_task_outputs(w, run, task, final)}
    if child_state in ("FAILED", "KILLED") and transmit:
        failure = TaskFailure(f"Subflow execution {child_id} ended in {child_state}")
        failure.outputs = outputs
        raise failure
    return TaskResult(outputs, "WARNING" if child_state == "WARNING" else "SUCCESS")


def interrupted_child(w, run, tr: dict) -> str | None:
    """The child execution that a Subflow attempt interrupted by a sandbox restart was waiting for
    (recovery.py moved that attempt to RESUBMITTED; its ``outputs.executionId`` names the child),
    so that the new attempt waits for it instead of starting a second one. In Kestra the executor,
    not a worker, runs executable tasks (``ExecutableTask``: Subflow, ForEachItem), so a restart
    never creates the child twice; the parent goes on with the child's result."""
    stored = w.store.get_task_run(run.id, tr["id"])
    if stored is None:
        return None
    attempts = stored.get("attempts") or []
    outputs = stored.get("outputs") if isinstance(stored.get("outputs"), dict) else {}
    child_id = outputs.get("executionId")
    if (len(attempts) < 2 or (attempts[-2].get("state") or {}).get("current") != "RESUBMITTED"
            or not child_id or not w.store.has_execution(child_id)):
        return None
    return child_id


def start_child(w, run, task: dict, tr: dict, scope, inputs: dict, extra: dict | None = None) -> tuple[dict, dict]:
    """Create and start one child execution of the task's ``namespace``/``flowId`` with
    ``inputs`` rendered (``extra`` variables added); (the flow, the child) — Subflow, ForEachItem."""
    from kestra_magic.sandbox.inputs import convert_inputs
    variables = w.variables(run, task, tr, scope)
    for key, value in (extra or {}).items():
        variables[key] = {**variables.get(key, {}), **value} if isinstance(value, dict) else value
    props = {k: w.render(run, task.get(k), variables) for k in ("namespace", "flowId", "labels", "revision",
                                                                "scheduleDate")}
    props["inputs"] = w.render(run, inputs, variables)
    revision = int(props["revision"]) if props.get("revision") not in (None, "") else None
    flow = w.store.get_flow(props["namespace"], props["flowId"], revision)
    if flow is None:
        raise TaskFailure(f"Unable to find flow '{props['namespace']}'.'{props['flowId']}'"
                          + (f" with revision {revision}" if revision else ""))
    try:
        typed = convert_inputs(flow.get("inputs") or [], props.get("inputs") or {})
    except ValueError as exc:
        raise TaskFailure(f"Invalid inputs for subflow {props['namespace']}.{props['flowId']}: {exc}") from None
    child = child_execution(w, run, task, tr, flow, typed, props)
    with run.lock:
        run.children.add(child["id"])
    w.log(run, "INFO", f"Subflow execution {child['id']} of {flow['namespace']}.{flow['id']} created",
          task_id=task["id"], task_run_id=tr["id"], attempt=None)
    w.engine.create_child(child)
    return flow, child


def child_task_outputs(w, run, task: dict, child: dict) -> dict:
    """The Subflow task's ``outputs`` map rendered over the child's task outputs (1.x)."""
    task_outputs: dict = {}
    for ctr in child.get("taskRunList") or []:
        if ctr.get("outputs") is None:
            continue
        if ctr.get("value") is None:
            task_outputs[ctr["taskId"]] = ctr["outputs"]
        else:
            task_outputs.setdefault(ctr["taskId"], {})[str(ctr["value"])] = ctr["outputs"]
    variables = {"outputs": task_outputs, "inputs": child.get("inputs") or {},
                 "execution": {"id": child["id"], "state": child["state"]["current"]}}
    return {str(k): w.render(run, v, variables) for k, v in (task.get("outputs") or {}).items()}


def child_execution(w, run, task: dict, tr: dict, flow: dict, inputs: dict, props: dict) -> dict:
    child_id = w.store.new_id()
    parent_labels = run.execution.get("labels") or []
    labels: list[dict] = []
    if isinstance(flow.get("labels"), dict):
        labels = [{"key": k, "value": str(v)} for k, v in flow["labels"].items()]
    elif isinstance(flow.get("labels"), list):
        labels = [lb for lb in flow["labels"] if isinstance(lb, dict)]
    if task.get("inheritLabels"):
        labels += [lb for lb in parent_labels if not str(lb.get("key", "")).startswith("system.")]
    extra = props.get("labels") or {}
    if isinstance(extra, dict):
        labels += [{"key": str(k), "value": to_text(v)} for k, v in extra.items()]
    elif isinstance(extra, list):
        labels += [lb for lb in extra if isinstance(lb, dict)]
    correlation = next((lb.get("value") for lb in parent_labels if lb.get("key") == "system.correlationId"), run.id)
    labels.append({"key": "system.correlationId", "value": correlation})
    now = instant()
    child = {"id": child_id, "tenantId": "main", "namespace": flow["namespace"], "flowId": flow["id"],
             "flowRevision": flow.get("revision"), "state": new_state("CREATED"), "taskRunList": [],
             "inputs": inputs, "labels": labels, "parentId": run.id, "originalId": child_id,
             "trigger": {"id": task["id"], "type": task.get("type"),
                         "variables": {"executionId": run.id, "namespace": run.flow["namespace"],
                                       "flowId": run.flow["id"], "flowRevision": run.flow.get("revision"),
                                       "taskRunId": tr["id"]}},
             "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
             "kind": run.execution.get("kind") or "NORMAL"}
    if props.get("scheduleDate"):
        child["scheduleDate"] = props["scheduleDate"]
    return child



# -- ForEachItem: split a file into batches, one subflow execution per batch ---------------------

ITEMS = "io.kestra.plugin.core.flow.ForEachItem"
_SPLIT, _RUN, _MERGE = ITEMS + "$ForEachItemSplit", ITEMS + "$ForEachItemExecutable", ITEMS + "$ForEachItemMergeOutputs"


@flowable(ITEMS, required=["items", "namespace", "flowId"],
          optional=["batch", "inputs", "wait", "transmitFailed", "inheritLabels", "labels", "revision",
                    "scheduleDate", "errors"], aliases=["io.kestra.core.tasks.flows.ForEachItem"],
          generations=[1],   # kestra-api-2.md §flows: "ForEach/ForEachItem removed (use Loop)"
          removed_message="Invalid type: io.kestra.plugin.core.flow.ForEachItem (ForEachItem was removed in Kestra "
                          "2.0: use io.kestra.plugin.core.flow.Loop over the file's lines with a Subflow task)")
def for_each_item(w, run, task, tr, scope):
    """Three child task runs, as Kestra makes them: ``<id>_split`` (the batches, ``batch.rows``
    lines each, or ``batch.partitions`` parts), ``<id>_items`` (one subflow execution per batch,
    ``{{ taskrun.items }}`` = the batch's URI; outputs ``numberOfBatches`` and ``iterations``
    counted per end state) and ``<id>_merge`` (the subflows' outputs in one ION file)
    (ForEachItemCaseTest.forEachItem: for-each-item.yaml, 4 task runs, 26 batches of 4 rows)."""
    children = [{"id": f"{task['id']}_split", "type": _SPLIT, "forEachItem": task},
                {"id": f"{task['id']}_items", "type": _RUN, "forEachItem": task},
                {"id": f"{task['id']}_merge", "type": _MERGE, "forEachItem": task}]
    return w.block(run, children, scope.under(tr, task), task.get("errors"))


def _bytes(text: str) -> int:
    import re
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?B?)\s*", str(text).upper())
    if not m:
        raise TaskFailure(f"Invalid batch.bytes '{text}': use a size like 10KB or 1MB")
    return int(m.group(1)) * {"": 1, "B": 1, "KB": 1024, "K": 1024, "MB": 1024 ** 2, "M": 1024 ** 2,
                              "GB": 1024 ** 3, "G": 1024 ** 3}[m.group(2)]


@runnable(_SPLIT, optional=["forEachItem"], generations=())   # internal: not for flows
def for_each_item_split(props: dict, ctx) -> dict:
    spec = props["forEachItem"]
    lines = ctx.read_text(str(ctx.render(spec["items"]))).splitlines(keepends=True)
    batch = spec.get("batch") or {}
    if batch.get("partitions") is not None:
        parts = max(1, int(ctx.render(batch["partitions"])))
        size = -(-len(lines) // parts) if lines else 1
        batches = [lines[i:i + size] for i in range(0, len(lines), size)]
    elif batch.get("bytes") is not None:
        limit, batches, current, used = _bytes(ctx.render(batch["bytes"])), [], [], 0
        for line in lines:
            if current and used + len(line.encode()) > limit:
                batches.append(current)
                current, used = [], 0
            current.append(line)
            used += len(line.encode())
        if current:
            batches.append(current)
    else:
        rows = max(1, int(ctx.render(batch.get("rows", 1))))
        batches = [lines[i:i + rows] for i in range(0, len(lines), rows)]
    uris = [ctx.put_file(f"{n}.txt", "".join(b).encode()) for n, b in enumerate(batches, start=1)]
    return {"splits": ctx.put_file("splits.txt", "\n".join(uris).encode())}


@flowable(_RUN, optional=["forEachItem"], executable=True, generations=())
def for_each_item_run(w, run, task, tr, scope):
    spec = task["forEachItem"]
    split_tr = w.sibling_outputs(run, scope, f"{spec['id']}_split") or {}
    uris = [u for u in w.read(split_tr["splits"]).splitlines() if u] if split_tr.get("splits") else []
    variables = w.variables(run, task, tr, scope)
    wait_end = truthy(w.render(run, spec.get("wait", True), variables))
    transmit = truthy(w.render(run, spec.get("transmitFailed", True), variables))
    children = []
    for n, uri in enumerate(uris, start=1):
        _, child = start_child(w, run, spec, tr, scope, spec.get("inputs") or {},
                               extra={"taskrun": {"items": uri, "iteration": n}})
        children.append(child["id"])
    counts = {"CREATED": len(children) if not wait_end else 0, "RUNNING": 0, "SUCCESS": 0}
    outputs = {"numberOfBatches": len(uris), "iterations": counts}
    if not wait_end:
        return outputs
    finals = []
    for child_id in children:
        final = w.engine.wait_terminal(child_id, run)
        if run.killed.is_set():
            for other in children:
                w.engine.kill(other)
            raise TaskFailure("Task was killed")
        state = final["state"]["current"] if final else "FAILED"
        counts[state] = counts.get(state, 0) + 1
        finals.append(final or {})
    with run.lock:   # for <id>_merge (not an output of this task run in Kestra)
        run.notes[(spec["id"], scope.path)] = [f.get("outputs") for f in finals if f.get("outputs") is not None]
    failed = [s for s in ("FAILED", "KILLED") if counts.get(s)]
    if failed and transmit:
        failure = TaskFailure(f"{sum(counts[s] for s in failed)} of {len(children)} subflow executions ended in "
                              f"{' or '.join(failed)}")
        failure.outputs = outputs
        raise failure
    return TaskResult(outputs, "WARNING" if counts.get("WARNING") else "SUCCESS")


@flowable(_MERGE, optional=["forEachItem"], executable=True, generations=())
def for_each_item_merge(w, run, task, tr, scope):
    import json as _json
    with run.lock:
        merged = run.notes.pop((task["forEachItem"]["id"], scope.path), None) or []
    if not merged:
        return {}
    ctx = w.task_context(run, task, tr, 0, scope)
    return {"subflowOutputs": ctx.put_file("outputs.ion", "\n".join(_json.dumps(m) for m in merged).encode())}


# -- execution.Resume: resumes a PAUSED execution (needs the engine) ------------------------------

@flowable("io.kestra.plugin.core.execution.Resume", optional=["namespace", "flowId", "executionId", "inputs"],
          aliases=["io.kestra.core.tasks.executions.Resume"], executable=True)
def resume(w, run, task, tr, scope):
    """Resumes the execution ``executionId`` (default: this one) with ``inputs``; ``namespace``/
    ``flowId`` must match it when given (Resume.java; ResumeTest.resume: resume-execution.yaml
    SUCCESS, the paused execution then ends)."""
    from kestra_magic.sandbox.engine_errors import EngineConflict, EngineInvalid
    variables = w.variables(run, task, tr, scope)
    target = str(w.render(run, task.get("executionId"), variables) or run.id)
    ex = w.store.get_execution(target)
    if ex is None:
        raise TaskFailure(f"No execution found for execution id {target}")
    for key, field in (("namespace", "namespace"), ("flowId", "flowId")):
        wanted = w.render(run, task.get(key), variables)
        if wanted and wanted != ex[field]:
            raise TaskFailure(f"Execution {target} is not an execution of {key} '{wanted}'")
    inputs = w.render(run, task.get("inputs"), variables)
    try:
        w.engine.resume(target, inputs if isinstance(inputs, dict) else None)
    except (EngineConflict, EngineInvalid) as exc:
        raise TaskFailure(str(exc)) from None
    return {}
