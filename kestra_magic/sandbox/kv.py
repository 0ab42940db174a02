"""The sandbox's KV store: Kestra's namespace key-value pairs, kept as files so they survive restarts.

One JSON file per key under ``<storage_dir>/_kv/<namespace>/<key>.json`` holding the value, its
Kestra type (STRING, NUMBER, BOOLEAN, DATETIME, DATE, DURATION, JSON), an optional expiration date and
the description. Used by the ``core.kv.*`` tasks and the ``kv()`` Pebble function; as in Kestra
(io.kestra.core.storages.kv.InternalKVStore, KVStoreService), a read that names no namespace looks in the
flow's namespace, then in its parent namespaces (KvFunctionTest#shouldGetValueFromKVGivenExistingKeyWithInheritance).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterable

from kestra_magic.sandbox.instants import format_instant, now, parse_instant

_KEY = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
_NAMESPACE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
_lock = threading.Lock()


class KVError(Exception):
    """A KV operation failed; the message is Kestra's wording where Kestra has one."""


class KVExpired(KVError):
    pass


def value_type(value: Any) -> str:
    """Kestra's KVType for a value written without an explicit type."""
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, (int, float)):
        return "NUMBER"
    if isinstance(value, (dict, list)):
        return "JSON"
    return "STRING"


class KVStore:
    """Key-value pairs of every namespace, under ``root`` (``<storage_dir>/_kv``)."""

    def __init__(self, root: str | Path, flow_namespaces: Callable[[], Iterable[str]] | None = None):
        self.root = Path(root)
        self.flow_namespaces = flow_namespaces   # the namespaces that have flows (existence check)

    @classmethod
    def under(cls, storage_dir: str | Path, flow_namespaces: Callable[[], Iterable[str]] | None = None) -> "KVStore":
        return cls(Path(storage_dir) / "_kv", flow_namespaces)

    @classmethod
    def for_store(cls, store: Any) -> "KVStore":
        """The KV store of a sandbox ``Store`` (its ``storage_dir``; its flows' namespaces exist)."""
        return cls.under(store.storage_dir, lambda: {flow["namespace"] for flow in store.all_flows()})

    def check_access(self, namespace: str, from_namespace: str | None) -> None:
        """KVStoreService.get: a namespace other than the caller's or a parent of it must exist (hold a flow,
        directly or below) or already hold keys; OSS allows every namespace otherwise."""
        if from_namespace is not None and from_namespace.startswith(namespace):
            return
        if self.flow_namespaces is None:
            return
        if any(ns == namespace or ns.startswith(namespace) for ns in self.flow_namespaces()):
            return
        if not self.keys(namespace):
            raise KVError(f"Cannot access the KV store. The namespace '{namespace}' does not exist.")

    def _path(self, namespace: str, key: str) -> Path:
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise KVError(f"Invalid namespace '{namespace}'")
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            raise KVError(f"Key '{key}' does not match the pattern [a-zA-Z0-9][a-zA-Z0-9._-]*")
        return self.root / namespace / f"{key}.json"

    def put(self, namespace: str, key: str, value: Any, *, type_: str | None = None,
            ttl: _dt.timedelta | None = None, description: str | None = None, overwrite: bool = True) -> dict:
        path = self._path(namespace, key)
        with _lock:
            previous = self._read(path)
            if previous is not None and not overwrite and not self._expired(previous):
                raise KVError(f"Cannot set value for key '{key}'. Key already exists and `overwrite` is set "
                              "to `false`.")
            moment = now()
            stamp = format_instant(moment)
            entry = {"key": key, "namespace": namespace, "value": value, "type": type_ or value_type(value),
                     "description": description,
                     "expirationDate": format_instant(moment + ttl) if ttl is not None else None,
                     "creationDate": (previous or {}).get("creationDate", stamp), "updateDate": stamp,
                     "version": int((previous or {}).get("version", 0)) + 1}
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".kv-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, path)
        return entry

    @staticmethod
    def _read(path: Path) -> dict | None:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    @staticmethod
    def _expired(entry: dict) -> bool:
        exp = entry.get("expirationDate")
        return bool(exp) and parse_instant(exp) <= now()

    def entry(self, namespace: str, key: str) -> dict | None:
        """The stored entry (value and metadata), or None; raises KVExpired for an expired key."""
        entry = self._read(self._path(namespace, key))
        if entry is not None and self._expired(entry):
            raise KVExpired("The requested value has expired")
        return entry

    def get(self, namespace: str, key: str, *, inherit: bool = False) -> tuple[bool, Any]:
        """(found, value); with ``inherit`` the parent namespaces are searched too, nearest first."""
        candidates = [namespace]
        if inherit:
            parts = namespace.split(".")
            candidates = [".".join(parts[:i]) for i in range(len(parts), 0, -1)]
        for ns in candidates:
            entry = self.entry(ns, key)
            if entry is not None:
                return True, entry["value"]
        return False, None

    def delete(self, namespace: str, key: str) -> bool:
        path = self._path(namespace, key)
        with _lock:
            try:
                path.unlink()
                return True
            except FileNotFoundError:
                return False

    def keys(self, namespace: str) -> list[dict]:
        folder = self.root / namespace
        out = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            entry = self._read(path)
            if entry is not None and not self._expired(entry):
                out.append(entry)
        return out
