"""The durable sandbox's SQLite database (stdlib ``sqlite3``, WAL): schema, load, batched writes.

Rows hold JSON documents in the shapes the store keeps in memory: one row per flow revision,
per execution (without its task runs), per task run (by position), per log line, per namespace
file or directory and per namespace-file revision (bytes as BLOBs). The store is the only
writer; it hands over batches of :data:`Op` that are applied in one transaction each, so a
``kill -9`` leaves the database at a batch boundary (SQLite's WAL makes the commit atomic).
``synchronous=NORMAL``: a committed batch survives the process dying at any moment; only a
power cut may lose the last commits.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS flows (
    namespace TEXT NOT NULL, id TEXT NOT NULL, revision INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (namespace, id, revision));
CREATE TABLE IF NOT EXISTS executions (id TEXT PRIMARY KEY, ord INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS task_runs (
    execution_id TEXT NOT NULL, pos INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (execution_id, pos)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, execution_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_by_execution ON logs (execution_id);
CREATE TABLE IF NOT EXISTS ns_entries (
    namespace TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL, created INTEGER NOT NULL,
    modified INTEGER NOT NULL, PRIMARY KEY (namespace, path));
CREATE TABLE IF NOT EXISTS ns_revisions (
    namespace TEXT NOT NULL, path TEXT NOT NULL, revision INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (namespace, path, revision));
"""

# An execution row is the execution without ``taskRunList``, plus this key saying whether it had one
HAS_TASK_RUNS = "\u0000taskRunList"

# One write: (SQL, parameters). Built by the store under its lock, applied here in order.
Op = tuple[str, tuple]


def dumps(value: Any) -> str:
    """Compact JSON; anything JSON cannot carry fails loudly (the store only holds JSON shapes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=True)


@dataclass
class Snapshot:
    """Everything the database holds, in the store's in-memory shapes."""
    flows: dict[tuple[str, str], list[dict]] = field(default_factory=dict)
    executions: dict[str, dict] = field(default_factory=dict)   # taskRunList as plain lists
    logs: dict[str, list[dict]] = field(default_factory=dict)
    ns_entries: list[tuple[str, str, str, int, int]] = field(default_factory=list)
    ns_revisions: dict[tuple[str, str], list[bytes]] = field(default_factory=dict)
    next_ord: int = 0


class Database:
    """One SQLite file; ``apply(ops)`` commits a batch atomically. Thread-safe (own lock)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(_SCHEMA)
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) != SCHEMA_VERSION:
            raise RuntimeError(f"Sandbox data dir {self.path.parent.parent}: database schema {row[0]} is not "
                               f"{SCHEMA_VERSION}; use a new --data-dir or the kestra-magic version that wrote it")

    def load(self) -> Snapshot:
        snap = Snapshot()
        c = self._conn
        for ns, fid, _rev, body in c.execute("SELECT namespace, id, revision, body FROM flows "
                                             "ORDER BY namespace, id, revision"):
            snap.flows.setdefault((ns, fid), []).append(json.loads(body))
        for eid, ord_, body in c.execute("SELECT id, ord, body FROM executions ORDER BY ord"):
            ex = json.loads(body)
            if ex.pop(HAS_TASK_RUNS):
                ex["taskRunList"] = []
            snap.executions[eid] = ex
            snap.next_ord = max(snap.next_ord, ord_ + 1)
        for eid, body in c.execute("SELECT execution_id, body FROM task_runs ORDER BY execution_id, pos"):
            ex = snap.executions.get(eid)
            if ex is not None and "taskRunList" in ex:
                ex["taskRunList"].append(json.loads(body))
        for eid, body in c.execute("SELECT execution_id, body FROM logs ORDER BY seq"):
            snap.logs.setdefault(eid, []).append(json.loads(body))
        snap.ns_entries = [tuple(r) for r in c.execute(
            "SELECT namespace, path, kind, created, modified FROM ns_entries ORDER BY namespace, path")]
        for ns, path, data in c.execute("SELECT namespace, path, data FROM ns_revisions "
                                        "ORDER BY namespace, path, revision"):
            snap.ns_revisions.setdefault((ns, path), []).append(bytes(data))
        return snap

    def apply(self, ops: list[Op]) -> None:
        """Run ``ops`` in one transaction (all or nothing)."""
        if not ops:
            return
        with self._lock:
            c = self._conn
            c.execute("BEGIN")
            try:
                for sql, params in ops:
                    c.execute(sql, params)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# -- the statements the store journals ----------------------------------------------------------
PUT_FLOW = "INSERT OR REPLACE INTO flows (namespace, id, revision, body) VALUES (?, ?, ?, ?)"
PUT_EXECUTION = ("INSERT INTO executions (id, ord, body) VALUES (?, ?, ?) "
                 "ON CONFLICT (id) DO UPDATE SET body = excluded.body")
DELETE_EXECUTION = "DELETE FROM executions WHERE id = ?"
PUT_TASK_RUN = "INSERT OR REPLACE INTO task_runs (execution_id, pos, body) VALUES (?, ?, ?)"
DELETE_TASK_RUNS = "DELETE FROM task_runs WHERE execution_id = ?"
ADD_LOG = "INSERT INTO logs (execution_id, body) VALUES (?, ?)"
DELETE_LOGS = "DELETE FROM logs WHERE execution_id = ?"
PUT_NS_ENTRY = ("INSERT OR REPLACE INTO ns_entries (namespace, path, kind, created, modified) "
                "VALUES (?, ?, ?, ?, ?)")
DELETE_NS_ENTRY = "DELETE FROM ns_entries WHERE namespace = ? AND path = ?"
PUT_NS_REVISION = "INSERT OR REPLACE INTO ns_revisions (namespace, path, revision, data) VALUES (?, ?, ?, ?)"
DELETE_NS_REVISIONS = "DELETE FROM ns_revisions WHERE namespace = ? AND path = ?"
