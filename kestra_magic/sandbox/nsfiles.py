"""Namespace files' rules, in one place: path normalisation, files vs directories, parent folders,
revisions, moves, deletes, listing, search and export. Used by the ``/namespaces/{ns}/files`` API
(handlers_nsfiles.py) and the namespace tasks / ``namespaceFiles`` (tasks/namespace.py).

The files are store state (``store.ns_files``/``store.ns_dirs``), changed only through the store's
``ns_*`` methods so a durable sandbox keeps them. Rule violations raise the backend's domain errors
(:class:`~kestra_magic.sandbox.backend.NotFound`, ``Conflict``, ``Invalid``); no HTTP here.
"""
from __future__ import annotations

import io
import posixpath
import time
import zipfile
from typing import Callable, Iterable

from kestra_magic.sandbox.backend import Conflict, Invalid, NotFound

CONFLICTS = ("OVERWRITE", "ERROR", "SKIP")    # Kestra's Namespace.Conflicts


def _now_ms() -> int:
    return int(time.time() * 1000)


def normalise(raw: str | None) -> str:
    """A namespace path as the store keys it (``/a/b.txt``; none or empty: the root ``/``); '..' and
    backslashes are refused (Invalid)."""
    if raw is None or raw == "":
        return "/"
    if "\\" in raw or any(part == ".." for part in raw.split("/")):
        raise Invalid(f"Invalid path '{raw}': '..' and backslashes are not allowed")
    norm = posixpath.normpath("/" + raw.lstrip("/"))
    return "/" if norm in ("/", "//") else norm


def ancestors(path: str) -> list[str]:
    """The folders above ``path``, nearest first, without the root."""
    parents = []
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return parents


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


class NamespaceFiles:
    """The namespace files of one store; every method takes raw paths and normalises them."""

    def __init__(self, store):
        self.store = store

    # -- reading -------------------------------------------------------------------------------
    def _paths(self, namespace: str) -> list[str]:
        """Every file and directory path of ``namespace`` (caller holds the lock)."""
        return [p for ns, p in list(self.store.ns_files) + list(self.store.ns_dirs) if ns == namespace]

    def _entry(self, namespace: str, path: str):
        entry = self.store.ns_files.get((namespace, path))
        if entry is None:
            raise NotFound(f"File '{path}' not found in namespace {namespace}")
        return entry

    def _is_dir(self, namespace: str, path: str) -> bool:
        if path == "/" or (namespace, path) in self.store.ns_dirs:
            return True
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self._paths(namespace))

    def _attributes(self, namespace: str, path: str) -> dict:
        """Kestra's ``FileAttributes`` of a file or directory."""
        name = posixpath.basename(path) or "/"
        entry = self.store.ns_files.get((namespace, path))
        if entry is not None:
            return {"fileName": name, "type": "File", "size": len(entry.revisions[-1]),
                    "creationTime": entry.created, "lastModifiedTime": entry.modified, "metadata": {}}
        created = self.store.ns_dirs.get((namespace, path), 0)
        return {"fileName": name, "type": "Directory", "size": 0, "creationTime": created,
                "lastModifiedTime": created, "metadata": {}}

    def read(self, namespace: str, raw_path: str | None, revision: str | None = None) -> tuple[str, bytes]:
        """(normalised path, bytes) of the latest revision, or of ``revision`` (1-based, as given)."""
        path = normalise(raw_path)
        with self.store.lock:
            entry = self._entry(namespace, path)
            if not revision:
                return path, entry.revisions[-1]
            try:
                data = entry.revisions[int(revision) - 1] if int(revision) >= 1 else None
            except (ValueError, IndexError):
                data = None
            if data is None:
                raise NotFound(f"Revision {revision} of '{path}' not found")
            return path, data

    def revisions(self, namespace: str, raw_path: str | None) -> int:
        path = normalise(raw_path)
        with self.store.lock:
            return len(self._entry(namespace, path).revisions)

    def latest(self, namespace: str) -> dict[str, bytes]:
        """``/path`` -> latest bytes of every file of ``namespace``."""
        with self.store.lock:
            return {p: e.revisions[-1] for (ns, p), e in self.store.ns_files.items() if ns == namespace}

    def stats(self, namespace: str, raw_path: str | None) -> dict:
        path = normalise(raw_path)
        with self.store.lock:
            if (namespace, path) not in self.store.ns_files and not self._is_dir(namespace, path):
                raise NotFound(f"File '{path}' not found in namespace {namespace}")
            return self._attributes(namespace, path)

    def list_dir(self, namespace: str, raw_path: str | None) -> list[dict]:
        """The attributes of a directory's direct children, sorted by path."""
        path = normalise(raw_path)
        with self.store.lock:
            if (namespace, path) in self.store.ns_files:
                raise Invalid(f"'{path}' is a file, not a directory")
            if not self._is_dir(namespace, path):
                raise NotFound(f"Directory '{path}' not found in namespace {namespace}")
            prefix = path.rstrip("/") + "/"
            children = sorted({prefix + p[len(prefix):].split("/", 1)[0]
                               for p in self._paths(namespace) if p.startswith(prefix) and p != path})
            return [self._attributes(namespace, child) for child in children]

    def search(self, namespace: str, q: str) -> list[str]:
        """File paths containing ``q`` (case-insensitive), sorted."""
        with self.store.lock:
            return sorted(p for ns, p in self.store.ns_files if ns == namespace and q.lower() in p.lower())

    def export(self, namespace: str) -> bytes:
        """A zip of the latest revision of every file (paths without the leading '/')."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path, data in sorted(self.latest(namespace).items()):
                archive.writestr(path.lstrip("/"), data)
        return buffer.getvalue()

    # -- changing ------------------------------------------------------------------------------
    def _add_parents(self, namespace: str, path: str, now: int) -> None:
        for parent in ancestors(path):
            self.store.ns_put_dir(namespace, parent, now)

    def put(self, namespace: str, raw_path: str | None, data: bytes, conflict: str = "OVERWRITE") -> bool:
        """Write a file (a new revision when it exists), recording its parent folders; ``conflict`` as
        Namespace.putFile's Conflicts: OVERWRITE, ERROR (Conflict), SKIP. False when skipped."""
        path = normalise(raw_path)
        if path == "/":
            raise Invalid("Cannot write a file at the namespace root '/': give a file path such as "
                          "/data/input.csv")
        with self.store.lock:
            if (namespace, path) in self.store.ns_dirs:
                raise Conflict(f"'{path}' is a directory in namespace {namespace}")
            if (namespace, path) in self.store.ns_files:
                if conflict == "ERROR":
                    raise Conflict(f"File '{path}' already exists in namespace '{namespace}' "
                                   f"and conflict is set to ERROR")
                if conflict == "SKIP":
                    return False
            now = _now_ms()
            self._add_parents(namespace, path, now)
            self.store.ns_put_file(namespace, path, bytes(data), now)
        return True

    def mkdir(self, namespace: str, raw_path: str | None) -> None:
        """Create a directory and its parents (the root always exists)."""
        path = normalise(raw_path)
        with self.store.lock:
            if (namespace, path) in self.store.ns_files:
                raise Conflict(f"'{path}' is a file in namespace {namespace}")
            if path != "/":
                now = _now_ms()
                self._add_parents(namespace, path, now)
                self.store.ns_put_dir(namespace, path, now)

    def move(self, namespace: str, raw_source: str | None, raw_target: str | None) -> None:
        """Move a file or a directory with everything under it; the target's parents are created."""
        source, target = normalise(raw_source), normalise(raw_target)
        with self.store.lock:
            moves = {p: target + p[len(source):] for p in self._paths(namespace) if _under(p, source)}
            if not moves:
                raise NotFound(f"File '{source}' not found in namespace {namespace}")
            self.store.ns_rename(namespace, moves)
            self._add_parents(namespace, target, _now_ms())

    def delete(self, namespace: str, raw_path: str | None) -> None:
        """Delete a file, or a directory with everything under it."""
        path = normalise(raw_path)
        with self.store.lock:
            if not self._is_dir(namespace, path) and (namespace, path) not in self.store.ns_files:
                raise NotFound(f"File '{path}' not found in namespace {namespace}")
            self.store.ns_remove(namespace, {p for p in self._paths(namespace) if _under(p, path)})

    def delete_files(self, namespace: str, match: Callable[[str], bool], *,
                     delete_parents: bool = False) -> list[str]:
        """Delete the files whose path ``match`` keeps; with ``delete_parents`` also the folders they
        leave empty, deepest first. Returns the deleted file paths, sorted."""
        with self.store.lock:
            doomed = sorted(p for p in self.latest(namespace) if match(p))
            self.store.ns_remove(namespace, doomed)
            if delete_parents:
                self._remove_empty(namespace, {parent for path in doomed for parent in ancestors(path)})
            return doomed

    def _remove_empty(self, namespace: str, folders: Iterable[str]) -> None:
        for folder in sorted(folders, key=lambda p: -p.count("/")):
            prefix = folder + "/"
            if not any(p.startswith(prefix) for p in self._paths(namespace)):
                self.store.ns_remove(namespace, [folder])
