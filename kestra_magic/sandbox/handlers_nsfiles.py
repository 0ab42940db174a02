"""Namespace files (``/api/v1/{t}/namespaces/{namespace}/files[...]``, same on 1.x and 2.x):
upload with revisions, download, stats, directory listing/creation, move, delete, search and a
zip export. The files are store state (``store.ns_files``/``store.ns_dirs``, changed only through
the store's ``ns_*`` methods, so a durable sandbox keeps them); script tasks and WorkingDirectory
see them through ``namespaceFiles`` (tasks/namespace.py).
"""
from __future__ import annotations

import io
import posixpath
import time
import zipfile

from werkzeug.wrappers import Response

from kestra_magic.sandbox.http import attachment as _attachment, empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, bad_request, not_found


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

    def _is_dir(self, namespace: str, path: str) -> bool:
        store = self.store
        if path == "/" or (namespace, path) in store.ns_dirs:
            return True
        prefix = path.rstrip("/") + "/"
        return any(ns == namespace and p.startswith(prefix) for ns, p in list(store.ns_files) + list(store.ns_dirs))

    def _attributes(self, namespace: str, path: str) -> dict:
        name = posixpath.basename(path) or "/"
        entry = self.store.ns_files.get((namespace, path))
        if entry is not None:
            return {"fileName": name, "type": "File", "size": len(entry.revisions[-1]),
                    "creationTime": entry.created, "lastModifiedTime": entry.modified, "metadata": {}}
        created = self.store.ns_dirs.get((namespace, path), 0)
        return {"fileName": name, "type": "Directory", "size": 0, "creationTime": created,
                "lastModifiedTime": created, "metadata": {}}

    def _add_parents(self, namespace: str, path: str) -> None:
        parent = posixpath.dirname(path)
        while parent not in ("/", ""):
            self.store.ns_put_dir(namespace, parent, _now_ms())
            parent = posixpath.dirname(parent)

    def h_nsfile_get(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        with self.store.lock:
            entry = self.store.ns_files.get((namespace, path))
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
        with self.store.lock:
            if (namespace, path) in self.store.ns_dirs:
                raise ApiError(409, "conflict", f"'{path}' is a directory in namespace {namespace}", "Conflict")
            self._add_parents(namespace, path)
            self.store.ns_put_file(namespace, path, data, _now_ms())
        return _empty(200)

    def h_nsfile_move(self, request, tenant, namespace):
        source = _norm(request.args.get("from"), name="from")
        target = _norm(request.args.get("to"), name="to")
        store = self.store
        with store.lock:
            moves = {p: target + p[len(source):] for (ns, p) in list(store.ns_files) + list(store.ns_dirs)
                     if ns == namespace and (p == source or p.startswith(source.rstrip("/") + "/"))}
            if not moves:
                raise not_found(f"File '{source}' not found in namespace {namespace}")
            store.ns_rename(namespace, moves)
            self._add_parents(namespace, target)
        return _empty(200)

    def h_nsfile_delete(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        store = self.store
        with store.lock:
            if not self._is_dir(namespace, path) and (namespace, path) not in store.ns_files:
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            prefix = path.rstrip("/") + "/"
            store.ns_remove(namespace, {p for (ns, p) in list(store.ns_files) + list(store.ns_dirs)
                                        if ns == namespace and (p == path or p.startswith(prefix))})
        return _empty(200)

    def h_nsfile_stats(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        with self.store.lock:
            if (namespace, path) not in self.store.ns_files and not self._is_dir(namespace, path):
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            return _json(self._attributes(namespace, path))

    def h_nsfile_list_dir(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        store = self.store
        with store.lock:
            if (namespace, path) in store.ns_files:
                raise ApiError(422, "invalid-argument", f"'{path}' is a file, not a directory", "Invalid argument")
            if not self._is_dir(namespace, path):
                raise not_found(f"Directory '{path}' not found in namespace {namespace}")
            prefix = path.rstrip("/") + "/"
            children = sorted({prefix + p[len(prefix):].split("/", 1)[0]
                               for ns, p in list(store.ns_files) + list(store.ns_dirs)
                               if ns == namespace and p.startswith(prefix) and p != path})
            return _json([self._attributes(namespace, child) for child in children])

    def h_nsfile_make_dir(self, request, tenant, namespace):
        path = _norm(request.args.get("path"), required=False)
        with self.store.lock:
            if (namespace, path) in self.store.ns_files:
                raise ApiError(409, "conflict", f"'{path}' is a file in namespace {namespace}", "Conflict")
            if path != "/":
                self._add_parents(namespace, path)
                self.store.ns_put_dir(namespace, path, _now_ms())
        return _empty(200)

    def h_nsfile_search(self, request, tenant, namespace):
        q = request.args.get("q")
        if q is None:
            raise bad_request("Required QueryValue [q] not specified", slug="invalid-query-parameter")
        with self.store.lock:
            return _json(sorted(p for ns, p in self.store.ns_files if ns == namespace and q.lower() in p.lower()))

    def h_nsfile_revisions(self, request, tenant, namespace):
        path = _norm(request.args.get("path"))
        with self.store.lock:
            entry = self.store.ns_files.get((namespace, path))
            if entry is None:
                raise not_found(f"File '{path}' not found in namespace {namespace}")
            return _json([{"revision": i + 1} for i in range(len(entry.revisions))])

    def h_nsfile_export(self, request, tenant, namespace):
        buffer = io.BytesIO()
        with self.store.lock, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for (ns, p), entry in sorted(self.store.ns_files.items()):
                if ns == namespace:
                    archive.writestr(p.lstrip("/"), entry.revisions[-1])
        resp = Response(buffer.getvalue(), content_type="application/octet-stream")
        resp.headers["Content-Disposition"] = _attachment(f"{namespace}_files.zip")
        return resp
