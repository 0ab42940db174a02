"""Kestra's core tasks: Log, Return, Sleep, Fail, OutputValues, storage.Write, and the
flowable ones the engine drives itself (Sequential, Parallel, If, ForEach, Loop, Subflow, Pause)."""
from __future__ import annotations

from kestra_magic.sandbox.engine_state import truthy
from kestra_magic.sandbox.instants import parse_duration
from kestra_magic.sandbox.pebble_functions import mask_secrets
from kestra_magic.sandbox.tasks.base import TaskFailure, task

CORE = "io.kestra.plugin.core."
LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


@task(CORE + "log.Log", required=["message"], optional=["level"], aliases=["io.kestra.core.tasks.log.Log"])
def log(props: dict, ctx) -> dict:
    """Logs ``message`` (a string or a list of strings) at ``level`` (INFO by default)."""
    level = str(ctx.render(props.get("level") or "INFO")).upper()
    if level not in LEVELS:
        raise TaskFailure(f"Invalid level '{level}': use one of {', '.join(LEVELS)}")
    messages = props["message"] if isinstance(props["message"], list) else [props["message"]]
    for message in messages:
        ctx.log(level, mask_secrets(ctx.render(message) if isinstance(message, str) else str(message)))
    return {}


@task(CORE + "debug.Return", optional=["format"], aliases=["io.kestra.core.tasks.debugs.Return"])
def return_(props: dict, ctx) -> dict:
    """Renders ``format`` into the ``value`` output."""
    return {"value": ctx.render(props.get("format"))}


@task(CORE + "flow.Sleep", required=["duration"], aliases=["io.kestra.core.tasks.flows.Sleep"])
def sleep(props: dict, ctx) -> dict:
    """Waits ``duration`` (ISO-8601); a kill interrupts it."""
    try:
        seconds = parse_duration(str(ctx.render(props["duration"]))).total_seconds()
    except ValueError as exc:
        raise TaskFailure(f"Invalid duration: {exc}") from None
    ctx.sleep(seconds)
    return {}


@task(CORE + "execution.Fail", optional=["condition", "errorMessage"],
      aliases=["io.kestra.core.tasks.executions.Fail"])
def fail(props: dict, ctx) -> dict:
    """Fails the task run (when ``condition`` is given: only when it renders truthy)."""
    if "condition" in props:
        if not truthy(ctx.render(props["condition"])):
            return {}
    raise TaskFailure(str(ctx.render(props.get("errorMessage") or "Task failure")))


@task(CORE + "output.OutputValues", optional=["values"], aliases=["io.kestra.core.tasks.outputs.OutputValues"])
def output_values(props: dict, ctx) -> dict:
    """Renders ``values`` (a map) into the ``values`` output."""
    return {"values": ctx.render(props.get("values") or {})}


@task(CORE + "storage.Write", required=["content"], optional=["extension"],
      aliases=["io.kestra.core.tasks.storages.Write"])
def write(props: dict, ctx) -> dict:
    """Writes the rendered ``content`` to a new internal-storage file (``uri`` output)."""
    content = ctx.render(props["content"])
    # no extension: Kestra's WorkingDir.createTempFile(bytes) -> Files.createTempFile(dir, null, null): ".tmp"
    extension = str(ctx.render(props.get("extension") or ".tmp"))
    if not extension.startswith("."):
        extension = "." + extension
    data = content.encode("utf-8") if isinstance(content, str) else str(content).encode("utf-8")
    return {"uri": ctx.put_file(f"{ctx.task_run_id}{extension}", data)}


@task(CORE + "execution.Labels", required=["labels"], aliases=["io.kestra.core.tasks.executions.Labels"])
def labels(props: dict, ctx) -> dict:
    """Adds (or replaces) labels of the running execution; ``system.*`` keys are Kestra's own."""
    value = ctx.render(props["labels"])
    if isinstance(value, str):
        import json
        try:
            value = json.loads(value)
        except ValueError:
            raise TaskFailure("`labels` must be a map of key to value, or a list of {key, value}") from None
    if isinstance(value, dict):
        pairs = [(str(k), "" if v is None else str(v)) for k, v in value.items()]
    elif isinstance(value, list) and all(isinstance(x, dict) and "key" in x for x in value):
        pairs = [(str(x["key"]), str(x.get("value", ""))) for x in value]
    else:
        raise TaskFailure("`labels` must be a map of key to value, or a list of {key, value}")
    bad = [k for k, _ in pairs if k.startswith("system.")]
    if bad:
        raise TaskFailure(f"System labels can only be set by Kestra itself, offending label(s): {', '.join(bad)}")
    ctx.set_labels(dict(pairs))
    return {}


@task(CORE + "debug.Echo", required=["format"], optional=["level"], generations=[1],
      aliases=["io.kestra.core.tasks.debugs.Echo"],
      removed_message=("Invalid type: io.kestra.plugin.core.debug.Echo (Echo was removed in Kestra 2.0: use "
                       "io.kestra.plugin.core.log.Log with `message`)"))
def echo(props: dict, ctx) -> dict:
    """Deprecated 1.x task: logs ``format`` at ``level`` (INFO by default), as Log does (Echo.run)."""
    return log({"message": props["format"], "level": props.get("level")}, ctx)


@task(CORE + "trigger.Toggle", required=["trigger"], optional=["namespace", "flowId", "enabled"],
      aliases=["io.kestra.core.tasks.trigger.Toggle"])
def toggle(props: dict, ctx) -> dict:
    """Enables or disables a flow's trigger. The sandbox runs no triggers: it checks, as Kestra does
    (Toggle.run), that the flow and its trigger exist, and logs what Kestra would switch."""
    namespace = str(ctx.render(props.get("namespace") or ctx.namespace))
    flow_id = str(ctx.render(props.get("flowId") or ctx.flow_id))
    trigger = str(ctx.render(props["trigger"]))
    enabled = props.get("enabled", False)
    enabled = enabled if isinstance(enabled, bool) else str(ctx.render(enabled)).strip().lower() == "true"
    flow = ctx.store.get_flow(namespace, flow_id)
    if flow is None:
        raise TaskFailure(f"Unable to find flow {namespace}.{flow_id}. Make sure the flow exists and the current "
                          "execution is authorized to access it.")
    if not any(isinstance(t, dict) and t.get("id") == trigger for t in flow.get("triggers") or []):
        raise TaskFailure(f"Unable to find trigger {trigger} for the flow {namespace}.{flow_id}")
    ctx.log("INFO", f"Trigger {trigger} of {namespace}.{flow_id} {'enabled' if enabled else 'disabled'} "
                    "(the sandbox does not run triggers)")
    return {}
