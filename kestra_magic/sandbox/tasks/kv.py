"""Kestra's KV tasks: core.kv.Set, Get, GetKeys, Delete (io.kestra.plugin.core.kv.*).

Values live in the sandbox's KV store (sandbox/kv.py), files under the store's storage directory,
so ``kv()`` in expressions and the KV tasks of later executions see them.
"""
from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from kestra_magic.sandbox.instants import parse_duration
from kestra_magic.sandbox.expressions import render_typed
from kestra_magic.sandbox.kv import KVError, KVStore
from kestra_magic.sandbox.tasks.base import TaskFailure, task

KV = "io.kestra.plugin.core.kv."
KV_TYPES = ("STRING", "NUMBER", "BOOLEAN", "DATETIME", "DATE", "DURATION", "JSON")


def kv_store(ctx) -> KVStore:
    """The KV store of the sandbox running ``ctx`` (under its store's storage directory)."""
    return KVStore.for_store(ctx.store)


def _checked(ctx, namespace: str) -> KVStore:
    kv = kv_store(ctx)
    try:
        kv.check_access(namespace, ctx.namespace)
    except KVError as exc:
        raise TaskFailure(str(exc)) from None
    return kv


def _namespace(props: dict, ctx) -> str:
    return str(ctx.render(props.get("namespace") or "{{ flow.namespace }}"))


def _typed(value: Any, kv_type: str | None) -> Any:
    """Set's kvType: the rendered string read as the given type (Set.run)."""
    if kv_type is None or not isinstance(value, str):
        return value
    kind = kv_type.upper()
    if kind not in KV_TYPES:
        raise TaskFailure(f"Invalid kvType '{kv_type}': use one of {', '.join(KV_TYPES)}")
    try:
        if kind == "NUMBER":
            number = json.loads(value)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                raise ValueError
            return number
        if kind == "BOOLEAN":
            return value.strip().lower() == "true"
        if kind in ("DATETIME", "DATE"):
            _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return value
        if kind == "DURATION":
            return parse_duration(value).total_seconds()
        if kind == "JSON":
            return json.loads(value)
    except ValueError:
        raise TaskFailure(f"Cannot read '{value}' as {kind}") from None
    return value


@task(KV + "Set", required=["key", "value"], optional=["namespace", "overwrite", "ttl", "kvType", "description"])
def set_(props: dict, ctx) -> dict:
    """Stores ``value`` under ``key`` in ``namespace`` (the flow's by default)."""
    namespace, key = _namespace(props, ctx), str(ctx.render(props["key"]))
    value = _typed(render_typed(props["value"], ctx.variables(), generation=ctx.generation, read=ctx.read_text,
                                kv=kv_store(ctx)), props.get("kvType"))
    ttl = None
    if props.get("ttl") is not None:
        try:
            ttl = parse_duration(str(ctx.render(props["ttl"])))
        except ValueError as exc:
            raise TaskFailure(f"Invalid ttl: {exc}") from None
    overwrite = props.get("overwrite", True)
    overwrite = overwrite if isinstance(overwrite, bool) else str(ctx.render(overwrite)).lower() == "true"
    try:
        _checked(ctx, namespace).put(namespace, key, value, type_=(props.get("kvType") or None), ttl=ttl,
                          description=ctx.render(props.get("description")), overwrite=overwrite)
    except KVError as exc:
        raise TaskFailure(str(exc)) from None
    return {}


def _error_on_missing(props: dict, ctx) -> bool:
    flag = props.get("errorOnMissing", False)
    return flag if isinstance(flag, bool) else str(ctx.render(flag)).lower() == "true"


@task(KV + "Get", required=["key"], optional=["namespace", "errorOnMissing"])
def get(props: dict, ctx) -> dict:
    """Reads ``key`` into the ``value`` output (null when missing, unless ``errorOnMissing``)."""
    namespace, key = _namespace(props, ctx), str(ctx.render(props["key"]))
    try:
        found, value = _checked(ctx, namespace).get(namespace, key)
    except KVError as exc:
        raise TaskFailure(str(exc)) from None
    if not found and _error_on_missing(props, ctx):
        raise TaskFailure(f"No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set "
                          "to true")
    return {"value": value}


@task(KV + "GetKeys", optional=["prefix", "namespace"])
def get_keys(props: dict, ctx) -> dict:
    """Lists the keys of ``namespace`` (starting with ``prefix``) into the ``keys`` output."""
    namespace = _namespace(props, ctx)
    prefix = ctx.render(props.get("prefix"))
    keys = [e["key"] for e in _checked(ctx, namespace).keys(namespace) if not prefix or e["key"].startswith(str(prefix))]
    return {"keys": keys}


@task(KV + "Delete", required=["key"], optional=["namespace", "errorOnMissing"])
def delete(props: dict, ctx) -> dict:
    """Deletes ``key``; the ``deleted`` output says whether it existed."""
    namespace, key = _namespace(props, ctx), str(ctx.render(props["key"]))
    try:
        deleted = _checked(ctx, namespace).delete(namespace, key)
    except KVError as exc:
        raise TaskFailure(str(exc)) from None
    if not deleted and _error_on_missing(props, ctx):
        raise TaskFailure(f"No value found for key '{key}' in namespace '{namespace}' and `errorOnMissing` is set "
                          "to true")
    return {"deleted": deleted}
