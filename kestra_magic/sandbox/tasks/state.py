"""Kestra 1.x's state tasks: core.state.Set, Get, Delete (io.kestra.plugin.core.state.*, removed in 2.0).

A state is a JSON map kept in internal storage per flow (or per namespace with ``namespace: true``),
per ``name`` and, by default, per ForEach value of the task run (``taskrunValue``): Set merges its
``data`` into it, Get reads it, Delete removes it (AbstractState).
"""
from __future__ import annotations

import hashlib
import json

from kestra_magic.sandbox.tasks.base import TaskFailure, task

STATE = "io.kestra.plugin.core.state."
_REMOVED = ("Invalid type: io.kestra.plugin.core.state.{0} (the state tasks were removed in Kestra 2.0: use "
            "io.kestra.plugin.core.kv.{1} instead)")
_COMMON = ["name", "namespace", "taskrunValue"]


def _flag(props: dict, ctx, name: str, default: bool) -> bool:
    value = props.get(name, default)
    return value if isinstance(value, bool) else str(ctx.render(value)).strip().lower() == "true"


def _uri(props: dict, ctx) -> str:
    name = str(ctx.render(props.get("name") or "default"))
    scope = ctx.namespace.replace(".", "/") + ("" if _flag(props, ctx, "namespace", False) else f"/{ctx.flow_id}")
    value = ctx.value if _flag(props, ctx, "taskrunValue", True) else None
    suffix = "" if value is None else "-" + hashlib.sha1(str(value).encode()).hexdigest()[:12]
    return f"kestra:///{scope}/states/tasks-states/{name}{suffix}.json"


def _read(ctx, uri: str) -> dict | None:
    path = ctx.store.file_path(uri)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


@task(STATE + "Set", optional=["data", *_COMMON], generations=[1], aliases=["io.kestra.core.tasks.states.Set"],
      removed_message=_REMOVED.format("Set", "Set"))
def set_(props: dict, ctx) -> dict:
    """Merges ``data`` into the state; outputs ``count`` (keys now) and ``key`` (where it is stored)."""
    uri = _uri(props, ctx)
    data = ctx.render(props.get("data") or {})
    if not isinstance(data, dict):
        raise TaskFailure("`data` must be a map")
    merged = {**(_read(ctx, uri) or {}), **data}
    ctx.store.put_file(uri, json.dumps(merged).encode("utf-8"))
    return {"count": len(merged), "key": uri}


@task(STATE + "Get", optional=["errorOnMissing", *_COMMON], generations=[1],
      aliases=["io.kestra.core.tasks.states.Get"], removed_message=_REMOVED.format("Get", "Get"))
def get(props: dict, ctx) -> dict:
    """Reads the state into ``data`` and ``count`` (empty when missing, unless ``errorOnMissing``)."""
    uri = _uri(props, ctx)
    data = _read(ctx, uri)
    if data is None:
        if _flag(props, ctx, "errorOnMissing", False):
            raise TaskFailure(f"Unable to find the state file '{ctx.render(props.get('name') or 'default')}'")
        data = {}
    return {"count": len(data), "data": data}


@task(STATE + "Delete", optional=["errorOnMissing", *_COMMON], generations=[1],
      aliases=["io.kestra.core.tasks.states.Delete"], removed_message=_REMOVED.format("Delete", "Delete"))
def delete(props: dict, ctx) -> dict:
    """Removes the state; the ``deleted`` output says whether it existed."""
    path = ctx.store.file_path(_uri(props, ctx))
    deleted = path.is_file()
    if deleted:
        path.unlink()
    if not deleted and _flag(props, ctx, "errorOnMissing", False):
        raise TaskFailure(f"Unable to find the state file '{ctx.render(props.get('name') or 'default')}'")
    return {"deleted": deleted}
