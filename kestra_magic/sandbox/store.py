"""The sandbox's state: flows (with revisions), executions, logs and internal storage.

Thread-safe and free of HTTP: routes and the engine both read and write it under
``store.lock`` and wait for changes on ``store.changed`` (SSE streams, ``wait=true``).
Executions and logs are kept in Kestra 1.x *full* JSON shape; routes reshape for 2.x.
"""
from __future__ import annotations

import copy
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def friendly_id() -> str:
    """A Kestra-like FriendlyId: a random UUID written in base 62 (at most 22 characters)."""
    n = uuid.uuid4().int
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out)) or "0"


def uri_to_relpath(uri: str) -> str:
    """``kestra:///a/b/c.txt`` -> ``a/b/c.txt``; rejects anything escaping the storage root."""
    if not isinstance(uri, str) or not uri.startswith("kestra://"):
        raise ValueError(f"Invalid internal storage URI '{uri}': it must start with kestra:///")
    rel = uri[len("kestra://"):].lstrip("/")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError(f"Invalid internal storage URI '{uri}'")
    return "/".join(parts)


class Store:
    """All sandbox state. Every access goes through ``lock``; changes notify ``changed``."""

    def __init__(self, generation: int = 2, storage_dir: str | Path | None = None):
        self.generation = generation
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self._own_dir = storage_dir is None
        self.storage_dir = Path(storage_dir) if storage_dir else Path(tempfile.mkdtemp(prefix="kestra-sandbox-"))
        self.storage_dir.mkdir(parents=True, exist_ok=True)
        # (namespace, id) -> list of revisions (index i = revision i+1); each a flow dict with
        # "revision", "source", "deleted" (a delete appends a deleted revision, as Kestra does)
        self.flows: dict[tuple[str, str], list[dict]] = {}
        self.executions: dict[str, dict] = {}
        self.logs: dict[str, list[dict]] = {}   # execution id -> 1.x LogEntry dicts, in order
        self.version = 0                        # bumped on every change (cheap change detection)

    # -- ids -------------------------------------------------------------------------------
    def new_id(self) -> str:
        return friendly_id()

    # -- flows -----------------------------------------------------------------------------
    def get_flow(self, namespace: str, id: str, revision: int | None = None,
                 allow_deleted: bool = False) -> dict | None:
        """The flow dict (parsed YAML + ``revision``, ``source``, ``deleted``), a deep copy.

        Without ``revision``: the latest, or None if deleted (unless ``allow_deleted``).
        """
        with self.lock:
            revs = self.flows.get((namespace, id))
            if not revs:
                return None
            if revision is None:
                flow = revs[-1]
                if flow.get("deleted") and not allow_deleted:
                    return None
            else:
                try:
                    revision = int(revision)
                except (TypeError, ValueError):
                    return None
                if not 1 <= revision <= len(revs):
                    return None
                flow = revs[revision - 1]
            return copy.deepcopy(flow)

    def flow_revisions(self, namespace: str, id: str) -> list[dict]:
        with self.lock:
            return copy.deepcopy([f for f in self.flows.get((namespace, id), []) if not f.get("deleted")])

    def save_flow(self, flow: dict) -> dict:
        """Store ``flow`` (parsed dict with ``source``) as a new revision; returns the stored copy.

        An unchanged source keeps the current revision (Kestra does not bump it).
        """
        with self.lock:
            key = (flow["namespace"], flow["id"])
            revs = self.flows.setdefault(key, [])
            if revs and not revs[-1].get("deleted") and revs[-1].get("source") == flow.get("source"):
                return copy.deepcopy(revs[-1])
            stored = copy.deepcopy(flow)
            stored["revision"] = len(revs) + 1
            stored["deleted"] = False
            revs.append(stored)
            self._touch()
            return copy.deepcopy(stored)

    def delete_flow(self, namespace: str, id: str) -> bool:
        """Soft delete: appends a deleted revision. False if there was no live flow."""
        with self.lock:
            revs = self.flows.get((namespace, id))
            if not revs or revs[-1].get("deleted"):
                return False
            gone = copy.deepcopy(revs[-1])
            gone["revision"] = len(revs) + 1
            gone["deleted"] = True
            revs.append(gone)
            self._touch()
            return True

    def all_flows(self) -> list[dict]:
        """The latest live revision of every flow."""
        with self.lock:
            return [copy.deepcopy(r[-1]) for r in self.flows.values() if r and not r[-1].get("deleted")]

    # -- executions ------------------------------------------------------------------------
    def get_execution(self, id: str) -> dict | None:
        with self.lock:
            ex = self.executions.get(id)
            return copy.deepcopy(ex) if ex is not None else None

    def save_execution(self, execution: dict) -> None:
        with self.lock:
            self.executions[execution["id"]] = execution
            self._touch()

    def update_execution(self, id: str, fn: Callable[[dict], Any], copy_result: bool = True) -> dict | None:
        """Run ``fn(execution)`` on the stored dict under the lock, notify, return a copy
        (``copy_result=False``: return None; the engine updates task runs many times per
        execution and copying the whole execution each time made big loops quadratic)."""
        with self.lock:
            ex = self.executions[id]
            fn(ex)
            self._touch()
            return copy.deepcopy(ex) if copy_result else None

    def delete_execution(self, id: str) -> bool:
        with self.lock:
            gone = self.executions.pop(id, None)
            self.logs.pop(id, None)
            self._touch()
            return gone is not None

    # -- logs ------------------------------------------------------------------------------
    def add_log(self, entry: dict) -> None:
        with self.lock:
            self.logs.setdefault(entry.get("executionId") or "", []).append(entry)
            self._touch()

    def logs_for(self, execution_id: str) -> list[dict]:
        with self.lock:
            return list(self.logs.get(execution_id, []))

    # -- internal storage ------------------------------------------------------------------
    def file_path(self, uri: str) -> Path:
        """The local path behind a ``kestra:///`` URI (it may not exist)."""
        return self.storage_dir / uri_to_relpath(uri)

    def put_file(self, uri: str, data: bytes | Path) -> None:
        path = self.file_path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, (bytes, bytearray, memoryview)):
            path.write_bytes(bytes(data))
        else:
            shutil.copyfile(data, path)

    # -- change notification ---------------------------------------------------------------
    def _touch(self) -> None:
        self.version += 1
        self.changed.notify_all()

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block (lock held by caller or not) until ``version != since`` or timeout; returns version."""
        with self.lock:
            if self.version == since:
                self.changed.wait(timeout)
            return self.version

    def close(self) -> None:
        """Remove the storage directory if the store created it."""
        if self._own_dir:
            shutil.rmtree(self.storage_dir, ignore_errors=True)
