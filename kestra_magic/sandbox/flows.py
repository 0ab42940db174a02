"""Flow YAML parsing and protocol-level validation (syntax, id/namespace/tasks, known keys).

Task-level checks (types, properties, duplicate ids) are the engine's ``validate``; this
module merges both into Kestra's ``(path, message)`` constraint violations.
"""
from __future__ import annotations

import re
from typing import Any, Callable

import yaml

from kestra_magic import safe_yaml
from kestra_magic.sandbox import labels as labelsmod
from kestra_magic.sandbox.inputs import INPUT_TYPES, to_jsonable

ID_PATTERN = r"^[a-zA-Z0-9][a-zA-Z0-9_-]*"
NAMESPACE_PATTERN = r"^[a-z0-9][a-z0-9._-]*"

_COMMON_KEYS = {"id", "namespace", "revision", "description", "inputs", "outputs", "variables",
                "tasks", "errors", "finally", "afterExecution", "triggers", "labels", "concurrency",
                "retry", "sla", "checks", "disabled", "deleted", "tenantId", "updated"}
FLOW_KEYS = {1: _COMMON_KEYS | {"pluginDefaults", "workerGroup", "taskDefaults", "listeners"},
             2: _COMMON_KEYS | {"workerSelector", "draft", "policyRefs", "quotas"}}


# input types Kestra 2.0 removed (its spec's Type enum), with their replacement
REMOVED_IN_2 = {"BOOLEAN": "BOOL", "ENUM": "SELECT"}


class _Resolver(yaml.resolver.Resolver):
    """YAML 1.2-style booleans (only true/false), as Kestra's Jackson parser reads ``id: off``."""


_Resolver.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.resolver.Resolver.yaml_implicit_resolvers.items()}
_Resolver.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                list("tTfF"))


def load_yaml(text: str):
    """The YAML within Kestra's limits (aliases, depth, size: kestra_magic/safe_yaml.py); YAMLError if not."""
    return safe_yaml.load(text, resolver=_Resolver)


class YamlError(ValueError):
    """The body is not a YAML mapping."""


def split_documents(source: str) -> list[str]:
    """Multi-document YAML split on ``---`` lines, keeping each document's text."""
    docs, current = [], []
    for line in source.splitlines(keepends=True):
        if re.match(r"^---\s*$", line):
            docs.append("".join(current))
            current = []
        else:
            current.append(line)
    docs.append("".join(current))
    return [d for d in docs if d.strip()] or [""]


def parse(source: str) -> dict:
    """The YAML as a JSON-able dict; raises :class:`YamlError` with a line/column message."""
    try:
        data = load_yaml(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise YamlError(f"Invalid YAML: {problem}{where}") from None
    if not isinstance(data, dict):
        raise YamlError("Invalid YAML: the flow must be a YAML mapping with id, namespace and tasks")
    return to_jsonable(data)


def violations(flow: dict, generation: int,
               engine_validate: Callable[[dict], list[tuple[str, str]]] | None) -> list[tuple[str, str]]:
    """Every ``(path, message)`` problem of a parsed flow, protocol checks first."""
    out: list[tuple[str, str]] = []
    for key in ("id", "namespace"):
        value = flow.get(key)
        if value is None or value == "":
            out.append((key, "must not be null"))
        elif not isinstance(value, str):
            out.append((key, "must be a string"))
        elif not re.fullmatch(ID_PATTERN if key == "id" else NAMESPACE_PATTERN, value):
            out.append((key, f"must match \"{ID_PATTERN if key == 'id' else NAMESPACE_PATTERN}\""))
    tasks = flow.get("tasks")
    if not tasks:
        out.append(("tasks", "must not be empty"))
    elif not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        out.append(("tasks", "must be a list of tasks"))
    for key in flow:
        if key not in FLOW_KEYS[generation]:
            out.append((key, f"Unrecognized field \"{key}\" (class io.kestra.core.models.flows.Flow), "
                             f"not marked as ignorable"))
    inputs = flow.get("inputs")
    if inputs is not None:
        if not isinstance(inputs, list):
            out.append(("inputs", "must be a list of inputs"))
        else:
            seen = set()
            for i, spec in enumerate(inputs):
                if not isinstance(spec, dict):
                    out.append((f"inputs[{i}]", "must be an input definition"))
                    continue
                input_id = spec.get("id") or spec.get("name")
                if not input_id:
                    out.append((f"inputs[{i}].id", "must not be null"))
                elif input_id in seen:
                    out.append((f"inputs[{i}].id", f"Duplicate input with id '{input_id}'"))
                seen.add(input_id)
                kind = str(spec.get("type", "")).upper()
                if generation == 2 and kind in REMOVED_IN_2:
                    out.append((f"inputs[{i}].type", f"Invalid input type '{spec.get('type')}': removed in "
                                                     f"Kestra 2.0, use {REMOVED_IN_2[kind]}"))
                elif kind not in INPUT_TYPES:
                    out.append((f"inputs[{i}].type", f"Invalid input type '{spec.get('type')}', use one of "
                                                     f"{', '.join(sorted(INPUT_TYPES))}"))
                elif kind == "ARRAY" and not spec.get("itemType"):
                    out.append((f"inputs[{i}].itemType", "must not be null"))
                elif kind in ("SELECT", "ENUM", "MULTISELECT") and not (spec.get("values") or spec.get("options")
                                                                       or spec.get("expression")):
                    out.append((f"inputs[{i}].values", "must not be empty"))
    out.extend(_label_violations(flow.get("labels")))
    if engine_validate is not None and not any(p == "tasks" for p, _ in out):
        try:
            out.extend(engine_validate(flow))
        except Exception as exc:  # the engine must never turn a bad flow into a 500
            out.append(("tasks", f"Unable to validate the flow: {exc}"))
    return out


def _label_violations(labels: Any) -> list[tuple[str, str]]:
    """A flow's labels (a map or a list of ``{key, value}``) against Kestra's ``Label`` constraints
    (kestra_magic/sandbox/labels.py: Kestra checks them on flow definitions too)."""
    if labels is None:
        return []
    if isinstance(labels, dict):
        items = [(f"labels.{k}", k, v) for k, v in labels.items()]
    elif isinstance(labels, list) and all(isinstance(lb, dict) for lb in labels):
        items = [(f"labels[{i}]", lb.get("key"), lb.get("value")) for i, lb in enumerate(labels)]
    else:
        return [("labels", "must be a map of key: value or a list of {key, value} labels")]
    out = []
    for path, key, value in items:
        if not isinstance(key, str) or not labelsmod.key_ok(key):
            out.append((f"{path}.key" if path.startswith("labels[") else path, labelsmod.KEY_MESSAGE))
        if value is None or value == "":
            out.append((f"{path}.value" if path.startswith("labels[") else path, labelsmod.VALUE_MESSAGE))
    return out


def update_violations(flow: dict, namespace: str, flow_id: str) -> list[tuple[str, str]]:
    out = []
    if flow.get("id") != flow_id:
        out.append(("flow.id", "Illegal flow id update"))
    if flow.get("namespace") != namespace:
        out.append(("flow.namespace", "Illegal namespace update"))
    return out


def labels_of(obj: dict) -> dict[str, str]:
    """Labels as a dict, from Kestra's list-of-{key,value} or a YAML map."""
    labels = obj.get("labels")
    if isinstance(labels, dict):
        return {str(k): str(v) for k, v in labels.items()}
    if isinstance(labels, list):
        return {str(l.get("key")): str(l.get("value")) for l in labels if isinstance(l, dict)}
    return {}


def describe(flow: Any) -> str:
    return f"{flow.get('namespace')}.{flow.get('id')}" if isinstance(flow, dict) else "?"


def set_top_level(source: str, key: str, value: bool) -> str:
    """``source`` with the top-level ``key: true|false`` line set (replaced or appended), the way
    Kestra edits a flow's YAML when it disables/enables it."""
    import re
    line = f"{key}: {'true' if value else 'false'}"
    pattern = re.compile(rf"^{re.escape(key)}\s*:.*$", re.M)
    if pattern.search(source):
        return pattern.sub(line, source, count=1)
    return source.rstrip("\n") + "\n" + line + "\n"
