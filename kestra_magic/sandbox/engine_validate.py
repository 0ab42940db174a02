"""Flow validation as Kestra reports it: ``(property path, message)`` pairs.

Covers task types (per generation), unknown and missing task properties, task ids,
duplicate ids, inputs (types, duplicates, ``dependsOn``) and outputs. The protocol layer
formats these into its 422 bodies and ``ValidateConstraintViolation`` entries.
"""
from __future__ import annotations

import re

from kestra_magic.sandbox.tasks.base import lookup

_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_-]*")       # Kestra's patterns, as its messages print them
_INPUT_ID = re.compile(r"^[a-zA-Z0-9][.a-zA-Z0-9_-]*")
INPUT_TYPES = {"STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE", "TIME",
               "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML", "EMAIL"}
OUTPUT_TYPES = INPUT_TYPES - {"SECRET", "ENUM", "SELECT", "MULTISELECT", "EMAIL"}
TASK_LISTS = ("tasks", "then", "else", "errors", "finally", "defaults")
RETRY_TYPES = {"constant", "exponential", "random"}


def validate_flow(flow: dict, generation: int) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not isinstance(flow, dict):
        return [("flow", "must be a YAML mapping")]
    # `id`, `namespace`, a missing `tasks` list and input types are the protocol layer's checks
    # (sandbox/flows.py); this covers what needs the task registry.
    ids: list[str] = []
    for block in ("tasks", "errors", "finally", "afterExecution"):
        value = flow.get(block)
        if isinstance(value, list):
            for i, task in enumerate(value):
                _task(task, f"{block}[{i}]", generation, problems, ids)
        elif value is not None and block != "tasks":
            problems.append((block, "must be a list of tasks"))
    seen, dups = set(), []
    for task_id in ids:
        if task_id in seen and task_id not in dups:
            dups.append(task_id)
        seen.add(task_id)
    if dups:
        problems.append(("tasks", f"Duplicate task id with name [{', '.join(dups)}]"))
    _inputs(flow.get("inputs"), problems)
    _outputs(flow.get("outputs"), problems)
    retry = flow.get("retry")
    if retry is not None:
        _retry(retry, "retry", problems)
    concurrency = flow.get("concurrency")
    if concurrency is not None:
        if not isinstance(concurrency, dict):
            problems.append(("concurrency", "must be a mapping with `limit` and `behavior`"))
        else:
            try:
                if int(concurrency.get("limit")) < 1:
                    raise ValueError
            except (TypeError, ValueError):
                problems.append(("concurrency.limit", "must be greater than or equal to 1"))
            behavior = str(concurrency.get("behavior", "QUEUE")).upper()
            if behavior not in ("QUEUE", "CANCEL", "FAIL"):
                problems.append(("concurrency.behavior", f"Invalid behavior: {concurrency.get('behavior')} "
                                                         "(use QUEUE, CANCEL or FAIL)"))
    return problems


def _task(task, path: str, generation: int, problems: list, ids: list) -> None:
    if not isinstance(task, dict):
        problems.append((path, "must be a task (a mapping with `id` and `type`)"))
        return
    task_id = task.get("id")
    if task_id is None:
        problems.append((f"{path}.id", "must not be null"))
    elif not isinstance(task_id, str) or not _ID.fullmatch(task_id):
        problems.append((f"{path}.id", f"must match \"{_ID.pattern}\""))
    else:
        ids.append(task_id)
    type_ = task.get("type")
    if type_ is None:
        problems.append((f"{path}.type", "must not be null"))
        return
    tdef = lookup(str(type_))
    if tdef is None:
        problems.append((f"{path}.type", f"Invalid type: {type_}"))
        return
    if generation not in tdef.generations:
        problems.append((f"{path}.type", tdef.removed_message or f"Invalid type: {type_}"))
        return
    for prop in task:
        if prop not in tdef.allowed:
            problems.append((f"{path}.{prop}", f"Unrecognized field \"{prop}\" (class {tdef.type}), "
                                               "not marked as ignorable"))
    for prop in sorted(tdef.required):
        if task.get(prop) is None:
            problems.append((f"{path}.{prop}", "must not be null"))
    if task.get("retry") is not None:
        _retry(task["retry"], f"{path}.retry", problems)
    if tdef.flowable:
        for key in TASK_LISTS:
            children = task.get(key)
            if children is None or key not in tdef.allowed:
                continue
            if key == "tasks" and tdef.type.endswith(".flow.Dag"):
                _dag(task, children, path, generation, problems, ids)
                continue
            if not isinstance(children, list):
                problems.append((f"{path}.{key}", "must be a list of tasks"))
                continue
            if key in ("tasks", "then") and not children:
                problems.append((f"{path}.{key}", "must not be empty"))
            for i, child in enumerate(children):
                _task(child, f"{path}.{key}[{i}]", generation, problems, ids)
        cases = task.get("cases")
        if cases is not None and "cases" in tdef.allowed:
            if not isinstance(cases, dict):
                problems.append((f"{path}.cases", "must be a map of value to a list of tasks"))
            else:
                for case, children in cases.items():
                    if not isinstance(children, list):
                        problems.append((f"{path}.cases.{case}", "must be a list of tasks"))
                        continue
                    for i, child in enumerate(children):
                        _task(child, f"{path}.cases.{case}[{i}]", generation, problems, ids)


def _dag(task: dict, nodes, path: str, generation: int, problems: list, ids: list) -> None:
    """Dag ``tasks: [{task, dependsOn}]``: each task validated, dependencies known and acyclic
    (Kestra DagTest: "dag: Cyclic dependency detected: task1, task2", "dag: Not existing task id
    in dependency: taskX")."""
    if not isinstance(nodes, list) or not nodes:
        problems.append((f"{path}.tasks", "must not be empty" if isinstance(nodes, list) else "must be a list"))
        return
    graph: dict[str, list[str]] = {}
    for i, node in enumerate(nodes):
        if not isinstance(node, dict) or not isinstance(node.get("task"), dict):
            problems.append((f"{path}.tasks[{i}]", "must be a mapping with `task` and optional `dependsOn`"))
            continue
        _task(node["task"], f"{path}.tasks[{i}].task", generation, problems, ids)
        depends = node.get("dependsOn") or []
        graph[str(node["task"].get("id"))] = [str(d) for d in depends] if isinstance(depends, list) else []
    missing = [d for deps in graph.values() for d in deps if d not in graph]
    if missing:
        problems.append((path, f"{task.get('id')}: Not existing task id in dependency: {', '.join(missing)}"))
        return
    cyclic: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str) -> bool:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1 or (state.get(dep) is None and visit(dep)):
                if node not in cyclic:
                    cyclic.append(node)
                return True
        state[node] = 2
        return False
    for node in graph:
        if state.get(node) is None:
            visit(node)
    if cyclic:
        problems.append((path, f"{task.get('id')}: Cyclic dependency detected: {', '.join(sorted(cyclic))}"))


def _retry(retry, path: str, problems: list) -> None:
    if not isinstance(retry, dict):
        problems.append((path, "must be a mapping with `type`"))
        return
    kind = str(retry.get("type", "")).lower()
    behavior = retry.get("behavior")
    if behavior is not None and str(behavior).upper() not in ("RETRY_FAILED_TASK", "CREATE_NEW_EXECUTION"):
        problems.append((f"{path}.behavior", f"Invalid behavior: {behavior} (use RETRY_FAILED_TASK or "
                                             "CREATE_NEW_EXECUTION)"))
    if kind not in RETRY_TYPES:
        problems.append((f"{path}.type", f"Invalid type: {retry.get('type')} (use constant, exponential or random)"))
    if kind in ("constant", "exponential") and retry.get("interval") is None:
        problems.append((f"{path}.interval", "must not be null"))
    for name in ("maxAttempts", "maxAttempt"):      # Kestra's name, and its older alias
        if retry.get(name) is None:
            continue
        try:
            if int(retry[name]) < 1:
                raise ValueError
        except (TypeError, ValueError):
            problems.append((f"{path}.{name}", "must be greater than or equal to 1"))


def _inputs(inputs, problems: list) -> None:
    if inputs is None:
        return
    if not isinstance(inputs, list):
        problems.append(("inputs", "must be a list of inputs"))
        return
    declared = {str(i.get("id")) for i in inputs if isinstance(i, dict)}
    for n, spec in enumerate(inputs):
        path = f"inputs[{n}]"
        if not isinstance(spec, dict):
            problems.append((path, "must be an input (a mapping with `id` and `type`)"))
            continue
        input_id = spec.get("id")
        if input_id is not None and not _INPUT_ID.fullmatch(str(input_id)):
            problems.append((f"{path}.id", f"must match \"{_INPUT_ID.pattern}\""))
        depends = spec.get("dependsOn")
        if isinstance(depends, dict):
            refs = depends.get("inputs") or []
            if not isinstance(refs, list):
                problems.append((f"{path}.dependsOn.inputs", "must be a list of input ids"))
                refs = []
            for ref in refs:
                if str(ref) not in declared or str(ref) == str(input_id):
                    problems.append((f"{path}.dependsOn.inputs",
                                     f"Input '{input_id}' depends on unknown input '{ref}'"))
        elif depends is not None:
            problems.append((f"{path}.dependsOn", "must be a mapping with `inputs` and `condition`"))


def _outputs(outputs, problems: list) -> None:
    if outputs is None:
        return
    if not isinstance(outputs, list):
        problems.append(("outputs", "must be a list of outputs"))
        return
    for n, spec in enumerate(outputs):
        path = f"outputs[{n}]"
        if not isinstance(spec, dict):
            problems.append((path, "must be an output (a mapping with `id`, `type` and `value`)"))
            continue
        if spec.get("id") is None:
            problems.append((f"{path}.id", "must not be null"))
        if "value" not in spec:
            problems.append((f"{path}.value", "must not be null"))
        kind = spec.get("type")
        if kind is None:
            problems.append((f"{path}.type", "must not be null"))
        elif str(kind).upper() not in OUTPUT_TYPES:
            problems.append((f"{path}.type", f"Invalid output type: {kind}"))
