"""The sandbox's state: flows (with revisions), executions, logs, namespace files and internal storage.

Thread-safe and free of HTTP: routes and the engine both read and write it under
``store.lock`` and wait for changes on ``store.changed`` (SSE streams, ``wait=true``).
Executions and logs are kept in Kestra 1.x *full* JSON shape; routes reshape for 2.x.

With a data dir the store is durable: the in-memory structures stay the authoritative cache and
every change is journaled to SQLite (``persist.py``) - task runs by position, so one task-run
change costs one row whatever the size of the execution (``tracking.py``). Group commit every
``COMMIT_INTERVAL`` seconds on a background thread; synchronous commit (before the change is
visible to anyone else) for what a client is told: flows, namespace files, created or deleted
executions, every change an API action makes (``update_execution(..., sync=True)``: labels, soft
delete, states set by hand, replay marks), an execution reaching PAUSED or a final state, and logs
of ended executions.
"""
from __future__ import annotations

import copy
import fcntl
import logging
import os
import random
import shutil
import tempfile
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from kestra_magic.sandbox import persist
from kestra_magic.sandbox.states import ENDED, TERMINAL, UNFINISHED
from kestra_magic.sandbox.tracking import TaskRunList

COMMIT_INTERVAL = 0.05           # seconds between group commits of the durable store
STATE_DIR = "_sandbox"           # under the data dir; "_" can start no namespace, so no storage URI clashes
DB_NAME = "state.db"
_log = logging.getLogger("kestra_magic.sandbox.store")

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_ids = random.Random(uuid.uuid4().int)   # seeded from the OS once: ids need to be unique, not secret


def friendly_id() -> str:
    """A Kestra-like FriendlyId: 128 random bits written in base 62 (at most 22 characters).

    Not ``uuid4()``: one ``os.urandom`` call per task run was a fifth of the engine's time in a
    20,000-task-run loop on this machine; ids never guard anything (the credential does)."""
    n = _ids.getrandbits(128)
    out = []
    while n:
        n, r = divmod(n, 62)
        out.append(_B62[r])
    return "".join(reversed(out)) or "0"


def storage_prefix(namespace: str, flow_id: str, execution_id: str) -> str:
    """The internal-storage prefix of an execution's files (Kestra's ``StorageContext``), ending in ``/``."""
    return f"kestra:///{namespace.replace('.', '/')}/{flow_id}/executions/{execution_id}/"


def uri_to_relpath(uri: str) -> str:
    """``kestra:///a/b/c.txt`` -> ``a/b/c.txt``; rejects anything escaping the storage root."""
    if not isinstance(uri, str) or not uri.startswith("kestra://"):
        raise ValueError(f"Invalid internal storage URI '{uri}': it must start with kestra:///")
    rel = uri[len("kestra://"):].lstrip("/")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise ValueError(f"Invalid internal storage URI '{uri}'")
    return "/".join(parts)


@dataclass
class NsFile:
    """One namespace file: every revision's bytes, and its dates in epoch milliseconds."""
    revisions: list[bytes]
    created: int
    modified: int


class LogMap(dict):
    """``store.logs``: execution id -> log entries. Replacing or dropping an execution's list
    (log deletion by the routes) is journaled on the durable store; appends go through ``add_log``."""

    __slots__ = ("_store",)

    def __init__(self, store: "Store", items=()):
        super().__init__(items)
        self._store = store

    def __setitem__(self, execution_id, entries) -> None:
        dict.__setitem__(self, execution_id, entries)
        self._store._journal_logs_replaced(execution_id, entries)

    def __delitem__(self, execution_id) -> None:
        dict.__delitem__(self, execution_id)
        self._store._journal_logs_replaced(execution_id, [])

    def pop(self, execution_id, *default):
        had = execution_id in self
        value = dict.pop(self, execution_id, *default)
        if had:
            self._store._journal_logs_replaced(execution_id, [])
        return value


class Store:
    """All sandbox state. Every access goes through ``lock``; changes notify ``changed``.

    ``durable=None`` (default): durable when ``storage_dir`` is given (state in
    ``storage_dir/_sandbox/state.db``), in memory otherwise. ``commit_interval``: seconds between
    group commits of a durable store (None: only ``flush()`` and the synchronous commits).
    """

    def __init__(self, generation: int = 2, storage_dir: str | Path | None = None, durable: bool | None = None,
                 commit_interval: float | None = COMMIT_INTERVAL):
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
        self.logs: dict[str, list[dict]] = LogMap(self)   # execution id -> 1.x LogEntry dicts, in order
        # namespace files: (namespace, "/a/b.txt") -> NsFile; directories -> creation epoch ms
        self.ns_files: dict[tuple[str, str], NsFile] = {}
        self.ns_dirs: dict[tuple[str, str], int] = {}
        self.version = 0                        # bumped on every change (cheap change detection)
        self._tr_index: dict[str, dict[str, int]] = {}   # execution id -> task-run id -> position
        # change stamps (see ``change_stamps``): execution id -> stamp of its last whole change, and
        # the stamp of each task run's last change by position; readers cache what they built from them
        self._epochs: dict[str, int] = {}
        self._stamps: dict[str, list[int]] = {}
        self._stamp = 0
        self.views: dict = {}   # what readers built from an execution (execution_json.py), by their key
        self._db: persist.Database | None = None
        if durable is None:
            durable = storage_dir is not None
        if durable:
            self._open_durable(commit_interval)

    # -- durability ------------------------------------------------------------------------
    @property
    def durable(self) -> bool:
        return self._db is not None

    def _open_durable(self, commit_interval: float | None) -> None:
        state = self.storage_dir / STATE_DIR
        state.mkdir(parents=True, exist_ok=True)
        self._lockfile = open(state / "lock", "a+")
        try:   # one sandbox per data dir; the OS drops the lock when the process dies (even kill -9)
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lockfile.close()
            raise RuntimeError(f"Sandbox data dir {self.storage_dir} is in use by another sandbox process; "
                               f"stop it or give another --data-dir") from None
        self._lockfile.seek(0)
        self._lockfile.truncate()
        self._lockfile.write(str(os.getpid()))
        self._lockfile.flush()
        self._db = persist.Database(state / DB_NAME)
        snap = self._db.load()
        self.flows = snap.flows
        for eid, ex in snap.executions.items():
            if "taskRunList" in ex:
                ex["taskRunList"] = TaskRunList(ex["taskRunList"])
            self.executions[eid] = ex
        dict.update(self.logs, snap.logs)
        for ns, path, kind, created, modified in snap.ns_entries:
            if kind == "dir":
                self.ns_dirs[(ns, path)] = created
            else:
                self.ns_files[(ns, path)] = NsFile(snap.ns_revisions.get((ns, path), []), created, modified)
        self._next_ord = snap.next_ord
        self._ord: dict[str, int] = {eid: i for i, eid in enumerate(self.executions)}
        self._ops: list[persist.Op] = []                 # journaled, not yet handed to the writer
        self._dirty: set[str] = set()                    # executions whose row/task runs changed
        self._pending: deque[list[persist.Op]] = deque()  # batches in commit order
        self._writer = threading.Lock()                   # held while batches are committed
        self._closing = threading.Event()
        self._flusher = None
        if commit_interval:
            self._flusher = threading.Thread(target=self._flush_loop, args=(commit_interval,), daemon=True,
                                             name="kestra-sandbox-store-commit")
            self._flusher.start()

    def _flush_loop(self, interval: float) -> None:
        last_error = None
        while not self._closing.wait(interval):
            try:
                self.flush()
                last_error = None
            except Exception as exc:   # the journal is kept: retried here, raised by every synchronous commit
                if str(exc) != last_error:
                    _log.error("sandbox store: commit failed: %s", exc)
                last_error = str(exc)

    def flush(self) -> int:
        """Commit everything changed so far; returns once it is on disk, with the number of rows
        this call wrote (0 in memory, or when another thread's commit took them)."""
        if self._db is None:
            return 0
        with self.lock:
            if self._db is None:
                return 0
            batch = self._collect()
            if batch:
                self._pending.append(batch)
        written = 0
        with self._writer:
            while self._pending and self._db is not None:   # closed meanwhile: close() committed it all
                batch = self._pending[0]
                self._db.apply(batch)      # a failed batch stays first in line
                self._pending.popleft()
                written += len(batch)
        return written

    def _sync(self) -> None:
        """A synchronous commit, called with ``lock`` held: the change is on disk before any
        other thread can see it (or the caller gets the error)."""
        self.flush()

    def _collect(self) -> list[persist.Op]:
        """The journal so far as one batch (called with ``lock`` held): rows of dirty executions
        serialized now, so the batch is the state of this instant. A value JSON cannot carry
        raises (naming the execution) and leaves the journal as it was."""
        ops, dirty = self._ops, self._dirty
        self._ops, self._dirty = [], set()
        journaled = len(ops)
        try:
            for eid in dirty:
                self._collect_execution(eid, ops)
        except (TypeError, ValueError) as exc:
            del ops[journaled:]
            self._ops, self._dirty = ops + self._ops, dirty | self._dirty
            for eid in dirty:   # the touched positions were taken: write those lists whole next time
                trl = (self.executions.get(eid) or {}).get("taskRunList")
                if isinstance(trl, TaskRunList):
                    trl.rewrite = True
            raise RuntimeError(f"Sandbox store: cannot save execution {eid}: {exc}") from exc
        return ops

    def _collect_execution(self, eid: str, ops: list[persist.Op]) -> None:
        ex = self.executions.get(eid)
        if ex is None:
            return
        header = {k: v for k, v in ex.items() if k != "taskRunList"}
        trl = ex.get("taskRunList")
        header[persist.HAS_TASK_RUNS] = trl is not None
        ops.append((persist.PUT_EXECUTION, (eid, self._ord_of(eid), persist.dumps(header))))
        if trl is None:
            return
        if not isinstance(trl, TaskRunList):
            trl = ex["taskRunList"] = TaskRunList(trl)
            trl.rewrite = True
        rewrite, touched = trl.take_changes()
        if rewrite:
            ops.append((persist.DELETE_TASK_RUNS, (eid,)))
            touched = range(len(trl))
        n = len(trl)
        for pos in sorted(touched):
            if pos < n:
                ops.append((persist.PUT_TASK_RUN, (eid, pos, persist.dumps(list.__getitem__(trl, pos)))))

    def _ord_of(self, eid: str) -> int:
        if eid not in self._ord:
            self._ord[eid] = self._next_ord
            self._next_ord += 1
        return self._ord[eid]

    def _journal_logs_replaced(self, execution_id: str, entries: Iterable[dict]) -> None:
        if self._db is None:
            return
        with self.lock:
            self._ops.append((persist.DELETE_LOGS, (execution_id,)))
            for entry in entries:
                self._ops.append((persist.ADD_LOG, (execution_id, persist.dumps(entry))))
            self._sync()

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
            self._journal_flow(stored)
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
            self._journal_flow(gone)
            revs.append(gone)
            self._touch()
            return True

    def _journal_flow(self, flow: dict) -> None:
        if self._db is not None:
            self._ops.append((persist.PUT_FLOW, (flow["namespace"], flow["id"], flow["revision"],
                                                 persist.dumps(flow))))
            self._sync()

    def all_flows(self) -> list[dict]:
        """The latest live revision of every flow."""
        with self.lock:
            return [copy.deepcopy(r[-1]) for r in self.flows.values() if r and not r[-1].get("deleted")]

    # -- executions ------------------------------------------------------------------------
    def get_execution(self, id: str) -> dict | None:
        """A copy of the execution (sharing nothing with the store), or None."""
        with self.lock:
            ex = self.executions.get(id)
            return copy_json(ex) if ex is not None else None

    def has_execution(self, id: str) -> bool:
        """Whether the store holds that execution (soft-deleted ones included)."""
        with self.lock:
            return id in self.executions

    def unfinished_ids(self) -> list[str]:
        """Ids of the live executions in an unfinished state (``states.UNFINISHED``), oldest first:
        what a restarted durable sandbox picks up again (recovery.py)."""
        with self.lock:
            return [eid for eid, ex in self.executions.items()
                    if not ex.get("deleted") and _current(ex) in UNFINISHED]

    def get_task_run(self, execution_id: str, task_run_id: str) -> dict | None:
        """A copy of one task run (found in O(1)), or None when the execution has no such task run."""
        with self.lock:
            found = self.find_task_run(execution_id, task_run_id)
            return copy_json(found) if found is not None else None

    def find_task_run(self, execution_id: str, task_run_id: str) -> dict | None:
        """The stored task run ``task_run_id`` (found in O(1)); the caller holds ``lock`` and copies
        what it keeps. None when the execution has no such task run."""
        ex = self.executions.get(execution_id)
        if ex is None:
            return None
        pos = self._position(execution_id, ex, task_run_id)
        return None if pos is None else list.__getitem__(ex["taskRunList"], pos)

    def _position(self, execution_id: str, ex: dict, task_run_id: str) -> int | None:
        trl = ex.get("taskRunList") or []
        index = self._tr_index.setdefault(execution_id, {})
        pos = index.get(task_run_id)
        if pos is None or pos >= len(trl) or list.__getitem__(trl, pos).get("id") != task_run_id:
            index.clear()   # the list changed as a whole (replaced, filtered): index it again
            index.update((tr.get("id"), i) for i, tr in enumerate(list.__iter__(trl)))
            pos = index.get(task_run_id)
        return pos

    def change_stamps(self, execution_id: str) -> tuple[int, list[int]]:
        """(epoch, stamps), called with ``lock`` held: ``epoch`` changes when the execution changed
        as a whole (saved, or ``update_execution``); ``stamps[pos]`` when task run ``pos`` changed
        through ``update_task_run``/``add_task_run``. What a reader built for a task run stays good
        while both are unchanged, so a poll of a 20,000-task-run execution rebuilds only what moved."""
        ex = self.executions.get(execution_id) or {}
        n = len(ex.get("taskRunList") or ())
        stamps = self._stamps.get(execution_id)
        if stamps is None or len(stamps) != n or execution_id not in self._epochs:
            stamps = self._restamp(execution_id, n)
        return self._epochs[execution_id], stamps

    def _next_stamp(self) -> int:
        self._stamp += 1
        return self._stamp

    def _restamp(self, execution_id: str, n: int) -> list[int]:
        stamp = self._next_stamp()
        self._epochs[execution_id] = stamp
        stamps = self._stamps[execution_id] = [stamp] * n
        return stamps

    def _forget_stamps(self, execution_id: str) -> None:
        self._epochs.pop(execution_id, None)
        self._stamps.pop(execution_id, None)

    def save_execution(self, execution: dict) -> None:
        """Insert or replace an execution (the stored dict is ``execution`` itself)."""
        with self.lock:
            eid = execution["id"]
            created = eid not in self.executions
            self.executions[eid] = execution
            self._tr_index.pop(eid, None)
            self._forget_stamps(eid)
            if self._db is not None:
                if execution.get("taskRunList") is not None:
                    execution["taskRunList"] = TaskRunList(execution["taskRunList"])
                    execution["taskRunList"].rewrite = True
                elif not created:
                    self._ops.append((persist.DELETE_TASK_RUNS, (eid,)))
                self._dirty.add(eid)
                if created or _current(execution) in ENDED:
                    self._sync()
            self._touch()

    def update_execution(self, id: str, fn: Callable[[dict], Any], copy_result: bool = True,
                         task_runs: bool = True, sync: bool = False) -> dict | None:
        """Run ``fn(execution)`` on the stored dict under the lock, notify, return a copy
        (``copy_result=False``: return None; the engine updates task runs many times per
        execution and copying the whole execution each time made big loops quadratic).
        ``task_runs=False`` promises that ``fn`` changes no task run (the execution's state,
        outputs, labels): what readers cached for the task runs stays good. ``sync=True``: a change
        a client is told about (an API action: labels, delete, a state set by hand), committed
        before anyone can see it, whatever the state; without it only PAUSED and final states are."""
        with self.lock:
            ex = self.executions[id]
            if task_runs:
                self._forget_stamps(id)   # fn may change anything: readers rebuild what they cached
            if self._db is None:
                fn(ex)
            else:
                before = _current(ex)
                trl = ex.get("taskRunList")
                recording = isinstance(trl, TaskRunList)
                if recording:
                    trl.recording = True
                try:
                    fn(ex)
                finally:
                    if recording:
                        trl.recording = False
                    self._dirty.add(id)
                    trl = ex.get("taskRunList")
                    if trl is not None and not isinstance(trl, TaskRunList):   # fn replaced the list
                        trl = ex["taskRunList"] = TaskRunList(trl)
                        trl.rewrite = True
                after = _current(ex)
                ended = after != before and after in ENDED
                if ended or sync:
                    if ended and after in TERMINAL and isinstance(ex.get("taskRunList"), TaskRunList):
                        ex["taskRunList"].rewrite = True   # a final state: every task run as it ended
                    self._sync()
            self._touch()
            return copy.deepcopy(ex) if copy_result else None

    def update_task_run(self, execution_id: str, task_run_id: str, fn: Callable[[dict], Any]) -> bool:
        """Run ``fn(task_run)`` on one stored task run (found by id in O(1)), notify.
        False if the execution has no such task run."""
        with self.lock:
            ex = self.executions[execution_id]
            pos = self._position(execution_id, ex, task_run_id)
            if pos is None:
                return False
            trl = ex["taskRunList"]
            fn(list.__getitem__(trl, pos))
            stamps = self._stamps.get(execution_id)
            if stamps is not None and len(stamps) == len(trl):
                stamps[pos] = self._next_stamp()
            else:
                self._forget_stamps(execution_id)
            if self._db is not None:
                if isinstance(trl, TaskRunList):
                    trl.touched.add(pos)
                self._dirty.add(execution_id)
            self._touch()
            return True

    def add_task_run(self, execution_id: str, task_run: dict) -> None:
        """Append a task run to an execution (the stored dict is ``task_run`` itself), notify."""
        with self.lock:
            ex = self.executions[execution_id]
            trl = ex.get("taskRunList")
            if trl is None:
                trl = ex["taskRunList"] = TaskRunList() if self._db is not None else []
            trl.append(task_run)
            self._tr_index.setdefault(execution_id, {})[task_run.get("id")] = len(trl) - 1
            stamps = self._stamps.get(execution_id)
            if stamps is not None and len(stamps) == len(trl) - 1:
                stamps.append(self._next_stamp())
            else:
                self._forget_stamps(execution_id)
            if self._db is not None:
                self._dirty.add(execution_id)
            self._touch()

    def delete_execution(self, id: str) -> bool:
        with self.lock:
            gone = self.executions.pop(id, None)
            dict.pop(self.logs, id, None)
            self._tr_index.pop(id, None)
            self._forget_stamps(id)
            if self._db is not None:
                self._dirty.discard(id)
                self._ops += [(persist.DELETE_EXECUTION, (id,)), (persist.DELETE_TASK_RUNS, (id,)),
                              (persist.DELETE_LOGS, (id,))]
                self._sync()
            self._touch()
            return gone is not None

    # -- logs ------------------------------------------------------------------------------
    def add_log(self, entry: dict) -> None:
        with self.lock:
            eid = entry.get("executionId") or ""
            self.logs.setdefault(eid, []).append(entry)
            if self._db is not None:
                self._ops.append((persist.ADD_LOG, (eid, persist.dumps(entry))))
                ex = self.executions.get(eid)
                if ex is not None and _current(ex) in ENDED:
                    self._sync()
            self._touch()

    def logs_for(self, execution_id: str) -> list[dict]:
        with self.lock:
            return list(self.logs.get(execution_id, []))

    def delete_logs(self, keep: Callable[[dict], bool], execution_id: str | None = None) -> int:
        """Drop the log entries (of one execution, or all) for which ``keep`` is False; returns how many."""
        with self.lock:
            dropped = 0
            for eid in [execution_id] if execution_id is not None else list(self.logs):
                entries = self.logs.get(eid)
                if not entries:
                    continue
                kept = [e for e in entries if keep(e)]
                if len(kept) != len(entries):
                    dropped += len(entries) - len(kept)
                    self.logs[eid] = kept
            if dropped:
                self._touch()
            return dropped

    # -- namespace files -------------------------------------------------------------------
    def ns_put_file(self, namespace: str, path: str, data: bytes, now_ms: int) -> int:
        """Store ``data`` as the next revision of a namespace file (creating it); returns the revision."""
        with self.lock:
            entry = self.ns_files.get((namespace, path))
            if entry is None:
                entry = self.ns_files[(namespace, path)] = NsFile([bytes(data)], now_ms, now_ms)
            else:
                entry.revisions.append(bytes(data))
                entry.modified = now_ms
            if self._db is not None:
                self._ops += [(persist.PUT_NS_ENTRY, (namespace, path, "file", entry.created, entry.modified)),
                              (persist.PUT_NS_REVISION, (namespace, path, len(entry.revisions), bytes(data)))]
                self._sync()
            self._touch()
            return len(entry.revisions)

    def ns_put_dir(self, namespace: str, path: str, now_ms: int) -> None:
        """Record a namespace directory (kept if it exists)."""
        with self.lock:
            if (namespace, path) in self.ns_dirs:
                return
            self.ns_dirs[(namespace, path)] = now_ms
            if self._db is not None:
                self._ops.append((persist.PUT_NS_ENTRY, (namespace, path, "dir", now_ms, now_ms)))
                self._sync()
            self._touch()

    def ns_remove(self, namespace: str, paths: Iterable[str]) -> None:
        """Forget namespace files and directories."""
        with self.lock:
            for path in list(paths):
                self.ns_files.pop((namespace, path), None)
                self.ns_dirs.pop((namespace, path), None)
                if self._db is not None:
                    self._ops += [(persist.DELETE_NS_ENTRY, (namespace, path)),
                                  (persist.DELETE_NS_REVISIONS, (namespace, path))]
            if self._db is not None:
                self._sync()
            self._touch()

    def ns_rename(self, namespace: str, moves: dict[str, str]) -> None:
        """Move namespace files/directories ``{old path: new path}`` in one step."""
        with self.lock:
            taken = {old: (self.ns_files.pop((namespace, old), None), self.ns_dirs.pop((namespace, old), None))
                     for old in moves}
            for old, new in moves.items():
                entry, created = taken[old]
                if entry is not None:
                    self.ns_files[(namespace, new)] = entry
                if created is not None:
                    self.ns_dirs[(namespace, new)] = created
                if self._db is not None:
                    self._ops += [(persist.DELETE_NS_ENTRY, (namespace, old)),
                                  (persist.DELETE_NS_REVISIONS, (namespace, old))]
                    if entry is not None:
                        self._ops.append((persist.PUT_NS_ENTRY, (namespace, new, "file", entry.created,
                                                                 entry.modified)))
                        self._ops += [(persist.PUT_NS_REVISION, (namespace, new, i + 1, data))
                                      for i, data in enumerate(entry.revisions)]
                    if created is not None:
                        self._ops.append((persist.PUT_NS_ENTRY, (namespace, new, "dir", created, created)))
            if self._db is not None:
                self._sync()
            self._touch()

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
        """Commit what is left and close the database; remove the storage directory if the store created it."""
        if self._db is not None:
            self._closing.set()
            if self._flusher is not None:
                self._flusher.join(5)
            with self.lock:   # no new batch, and none half-written, while the database closes
                self.flush()
                with self._writer:
                    self._db.close()
                    self._db = None
            self._lockfile.close()
        if self._own_dir:
            shutil.rmtree(self.storage_dir, ignore_errors=True)


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON-shaped value (dicts, lists, scalars), about twice as fast as
    ``copy.deepcopy`` (no memo: the store holds trees, never shared or cyclic structures); any
    other value inside goes through ``copy.deepcopy``. A ``TaskRunList`` copies to a plain list."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list or kind is TaskRunList:
        return [copy_json(v) for v in list.__iter__(value)]
    return copy.deepcopy(value)


def _current(execution: dict) -> str | None:
    state = execution.get("state")
    return state.get("current") if isinstance(state, dict) else None
