"""Namespace files (``/api/v1/{t}/namespaces/{namespace}/files[...]``, same on 1.x and 2.x):
upload with revisions, download, stats, directory listing/creation, move, delete, search and a
zip export. Kept in memory per sandbox; scripts do not see them (``namespaceFiles`` is ignored).
"""
from __future__ import annotations

import io
import posixpath
import threading
import time
import zipfile
from dataclasses import dataclass, field

from werkzeug.wrappers import Response

from kestra_magic.sandbox.http import attachment as _attachment, empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, bad_request, not_found


@dataclass
class NsFile:
    """One namespace file: every revision's bytes, and its dates in epoch milliseconds."""
    revisions: list[bytes]
    created: int
    modified: int


@dataclass
class NamespaceFiles:
    """The namespace files of one sandbox: ``(namespace, "/a/b.txt")`` -> :class:`NsFile`."""
    files: dict[tuple[str, str], NsFile] = field(default_factory=dict)
    dirs: dict[tuple[str, str], int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _norm(path: str | None, *, required: bool = True, name: str = "path") -> str:
    if path is None or path == "":
        if required:
            raise bad_request(f"Required QueryValue [{name}] not specified", slug="invalid-query-parameter")
        return "/"
    if "\\" in path or any(part == ".." for part in path.split("/")):
        raise ApiError(422, "invalid-argument", f"Invalid path '{path}': '..' and backslashes are not allowed",
                       "Invalid argument")
    norm = posixpath.normpath("/" + path.lstrip("/"))
    return "/" if norm in ("/", "//") else norm


class NamespaceFileHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for namespace files."""

    @property
    def _nsfiles(self) -> NamespaceFiles:
        box = getattr(self.store, "namespace_files", None)
        if box is None:
            box = NamespaceFiles()
            self.store.namespace_files = box
        return box

    def _is_dir(self, box: NamespaceFiles, namespace: str, path: str) -> bool:
        if path == "/" or (namespace, path) in box.dirs:
            return True
        prefix = path.rstrip("/") + "/"
        return any(ns == namespace and p.startswith(prefix) for ns, p in list(box.files) + list(box.dirs))

    def _attributes(self, box: NamespaceFiles, namespace: str, path: str) -> dict:
        name = posixpath.basename(path) or "/"
        entry = box.files.get((namespace, path))
        if entry is not None:
            return {"fileName": name, "type": "File", "size": len(entry.revisions[-1]),
                    "creationTime": entry.created, "lastModifiedTime": entry.modified, "metadata": {}}
        created = box.dirs.get((namespace, path), 0)
        return {"fileName": name, "type": "Directory", "size": 0, "creationTime": created,
                "lastModifiedTime": created, "metadata": {}}

    def _add_parents(self, box: NamespaceFiles, namespace: str, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent not in ("/", ""):
            box.dirs.setdefault((namespace, parent), _now_ms())
            parent = posixpath.dirname(parent)

    def h_nsfile_get(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        box = self._nsfiles
        with box.lock:
            entry = box.files.get((namespace, path))
            if entry is None:
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            raw = request.args.get("revision")
            if raw:
                try:
                    data = entry.revisions[int(raw) - 1] if int(raw) >= 1 else None
                except (ValueError, IndexError):
                    data = None
                if data is None:
                    raise not_found(f"Revision {raw} of '{path}' not found")
            else:
                data = entry.revisions[-1]
        resp = Response(data, content_type="application/octet-stream")
        resp.headers["Content-Disposition"] = _attachment(posixpath.basename(path))
        return resp

    def h_nsfile_put(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        if path == "/":
            raise ApiError(422, "invalid-argument", "Cannot write a file at the namespace root '/': give a file "
                           "path such as /data/input.csv", "Invalid argument")
        upload = request.files.get("fileContent")
        data = upload.read() if upload is not None else b""
        box = self._nsfiles
        with box.lock:
            if (namespace, path) in box.dirs:
                raise ApiError(409, "conflict", f"'{path}' is a directory in namespace {namespace}", "Conflict")
            self._add_parents(box, namespace, path)
            now = _now_ms()
            entry = box.files.get((namespace, path))
            if entry is None:
                box.files[(namespace, path)] = NsFile([data], now, now)
            else:
                entry.revisions.append(data)
                entry.modified = now
        return _empty(200)

    def h_nsfile_move(self, request, tenant, namespace):
        source = _norm(request.args.get("from"), name="from")
        target = _norm(request.args.get("to"), name="to")
        box = self._nsfiles
        with box.lock:
            moved = False
            for kind in (box.files, box.dirs):
                for (ns, p) in list(kind):
                    if ns == namespace and (p == source or p.startswith(source.rstrip("/") + "/")):
                        kind[(ns, target + p[len(source):])] = kind.pop((ns, p))
                        moved = True
            if not moved:
                raise not_found(f"File '{source}' not found in namespace {namespace}")
            self._add_parents(box, namespace, target)
        return _empty(200)

    def h_nsfile_delete(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        box = self._nsfiles
        with box.lock:
            if not self._is_dir(box, namespace, path) and (namespace, path) not in box.files:
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            prefix = path.rstrip("/") + "/"
            for kind in (box.files, box.dirs):
                for (ns, p) in list(kind):
                    if ns == namespace and (p == path or p.startswith(prefix)):
                        del kind[(ns, p)]
        return _empty(200)

    def h_nsfile_stats(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        box = self._nsfiles
        with box.lock:
            if (namespace, path) not in box.files and not self._is_dir(box, namespace, path):
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            return _json(self._attributes(box, namespace, path))

    def h_nsfile_list_dir(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        box = self._nsfiles
        with box.lock:
            if (namespace, path) in box.files:
                raise ApiError(422, "invalid-argument", f"'{path}' is a file, not a directory", "Invalid argument")
            if not self._is_dir(box, namespace, path):
                raise not_found(f"Directory '{path}' not found in namespace {namespace}")
            prefix = path.rstrip("/") + "/"
            children = sorted({prefix + p[len(prefix):].split("/", 1)[0] for ns, p in list(box.files) + list(box.dirs)
                               if ns == namespace and p.startswith(prefix) and p != path})
            return _json([self._attributes(box, namespace, child) for child in children])

    def h_nsfile_make_dir(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        box = self._nsfiles
        with box.lock:
            if (namespace, path) in box.files:
                raise ApiError(409, "conflict", f"'{path}' is a file in namespace {namespace}", "Conflict")
            if path != "/":
                self._add_parents(box, namespace, path)
                box.dirs.setdefault((namespace, path), _now_ms())
        return _empty(200)

    def h_nsfile_search(self, request, tenant, namespace):
        q = request.args.get("q")
        if q is None:
            raise bad_request("Required QueryValue [q] not specified", slug="invalid-query-parameter")
        box = self._nsfiles
        with box.lock:
            return _json(sorted(p for ns, p in box.files if ns == namespace and q.lower() in p.lower()))

    def h_nsfile_revisions(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        box = self._nsfiles
        with box.lock:
            entry = box.files.get((namespace, path))
            if entry is None:
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            return _json([{"revision": i + 1} for i in range(len(entry.revisions))])

    def h_nsfile_export(self, request, tenant, namespace):
        box = self._nsfiles
        buffer = io.BytesIO()
        with box.lock, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for (ns, p), entry in sorted(box.files.items()):
                if ns == namespace:
                    archive.writestr(p.lstrip("/"), entry.revisions[-1])
        resp = Response(buffer.getvalue(), content_type="application/octet-stream")
        resp.headers["Content-Disposition"] = _attachment(f"{namespace}_files.zip")
        return resp
