"""Namespace files (``/api/v1/{t}/namespaces/{namespace}/files[...]``, same on 1.x and 2.x): upload
with revisions, download, stats, directory listing/creation, move, delete, search and a zip export.
The rules live in :mod:`kestra_magic.sandbox.nsfiles` (shared with the namespace tasks); these
handlers parse the query and shape the responses.
"""
from __future__ import annotations

import posixpath

from werkzeug.wrappers import Response

from kestra_magic.sandbox.http import Context, Handlers, attachment as _attachment, empty as _empty, \
    json_response as _json
from kestra_magic.sandbox.nsfiles import NamespaceFiles, normalise
from kestra_magic.sandbox.problems import bad_request


def _required(request, name: str = "path") -> str:
    value = request.args.get(name)
    if value is None or value == "":
        raise bad_request(f"Required QueryValue [{name}] not specified", slug="invalid-query-parameter")
    return value


def _download(data: bytes, filename: str) -> Response:
    resp = Response(data, content_type="application/octet-stream")
    resp.headers["Content-Disposition"] = _attachment(filename)
    return resp


class NamespaceFileHandlers(Handlers):
    """``h_nsfile_*``: the namespace files API over :class:`NamespaceFiles`."""

    def __init__(self, ctx: Context):
        super().__init__(ctx)
        self.files = NamespaceFiles(ctx.backend.store)

    def h_nsfile_get(self, request, tenant, namespace):
        path, data = self.files.read(namespace, _required(request), request.args.get("revision"))
        return _download(data, posixpath.basename(path))

    def h_nsfile_put(self, request, tenant, namespace):
        raw = _required(request)
        upload = request.files.get("fileContent")
        self.files.put(namespace, raw, upload.read() if upload is not None else b"")
        return _empty(200)

    def h_nsfile_move(self, request, tenant, namespace):
        source = normalise(_required(request, "from"))      # a bad source answers before a missing target
        self.files.move(namespace, source, _required(request, "to"))
        return _empty(200)

    def h_nsfile_delete(self, request, tenant, namespace):
        self.files.delete(namespace, _required(request))
        return _empty(200)

    def h_nsfile_stats(self, request, tenant, namespace):
        return _json(self.files.stats(namespace, request.args.get("path")))

    def h_nsfile_list_dir(self, request, tenant, namespace):
        return _json(self.files.list_dir(namespace, request.args.get("path")))

    def h_nsfile_make_dir(self, request, tenant, namespace):
        self.files.mkdir(namespace, request.args.get("path"))
        return _empty(200)

    def h_nsfile_search(self, request, tenant, namespace):
        q = request.args.get("q")
        if q is None:       # an empty q is a search for every file
            raise bad_request("Required QueryValue [q] not specified", slug="invalid-query-parameter")
        return _json(self.files.search(namespace, q))

    def h_nsfile_revisions(self, request, tenant, namespace):
        count = self.files.revisions(namespace, _required(request))
        return _json([{"revision": i + 1} for i in range(count)])

    def h_nsfile_export(self, request, tenant, namespace):
        return _download(self.files.export(namespace), f"{namespace}_files.zip")
