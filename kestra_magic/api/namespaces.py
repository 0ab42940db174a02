"""Namespace files (``client.namespaces``): the files a namespace holds for its flows' script tasks.

Same routes on both generations (``/api/v1/{tenant}/namespaces/{namespace}/files[...]``, operation
ids ``createNamespaceFile``, ``getFileContent``/``fileContent``, ``getFileMetadatas``/``fileMetadatas``,
``listNamespaceDirectoryFiles``, ``deleteFileDirectory`` in openapi-1.3.0.yml and openapi-2.0.0.yml).
A path is absolute inside the namespace (``/scripts/clean.py``); a relative one gets a leading ``/``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport import Transport

_N = "NamespacesAPIService."


def file_path(path: str) -> str:
    """``scripts/a.py`` -> ``/scripts/a.py``; a clear ValueError for what Kestra refuses
    (no name, ``..``, backslashes)."""
    if not isinstance(path, str) or not path.strip().strip("/"):
        raise ValueError(f"namespace file path {path!r} names no file; give e.g. scripts/clean.py")
    path = path.strip()
    if "\\" in path or ".." in path.split("/"):
        raise ValueError(f"namespace file path {path!r} may not contain '..' or backslashes")
    return "/" + path.lstrip("/")


class NamespacesApi:
    """Upload, read, list and delete namespace files."""

    def __init__(self, transport: "Transport"):
        self._t = transport

    def upload_file(self, namespace: str, path: str, content: bytes | str, **options: Any) -> str:
        """Write ``content`` (text is sent as UTF-8) at ``path``; a new revision if it exists.
        Returns the absolute path written."""
        path = file_path(path)
        data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
        name = path.rsplit("/", 1)[-1]
        self._t.send(_N + "CreateNamespaceFile", {"namespace": namespace}, params={"path": path},
                     files={"fileContent": (name, data, "application/octet-stream")},
                     what=f"namespace file {namespace}:{path}", options=options)
        return path

    def get_file(self, namespace: str, path: str, *, revision: int | None = None, **options: Any) -> bytes:
        """The bytes of a namespace file (its latest revision, or ``revision``)."""
        path = file_path(path)
        params: dict[str, Any] = {"path": path}
        if revision is not None:
            params["revision"] = int(revision)
        return self._t.send(_N + "GetFileContent", {"namespace": namespace}, params=params,
                            what=f"namespace file {namespace}:{path}", options=options).content

    def file_stats(self, namespace: str, path: str, **options: Any) -> dict:
        """``{fileName, type, size, creationTime, lastModifiedTime}`` of a file or directory."""
        path = file_path(path)
        return self._t.json(_N + "GetFileMetadatas", {"namespace": namespace}, params={"path": path},
                            what=f"namespace file {namespace}:{path}", options=options) or {}

    def list_directory(self, namespace: str, path: str = "/", **options: Any) -> list[dict]:
        """The entries (files and directories, their stats) directly under ``path``."""
        params = {"path": "/" + path.strip().lstrip("/")} if path.strip("/ ") else None
        return list(self._t.json(_N + "ListNamespaceDirectoryFiles", {"namespace": namespace}, params=params,
                                 what=f"namespace directory {namespace}:{path}", options=options) or [])

    def delete_file(self, namespace: str, path: str, **options: Any) -> None:
        """Delete a file, or a directory with everything under it."""
        path = file_path(path)
        self._t.send(_N + "DeleteFileDirectory", {"namespace": namespace}, params={"path": path},
                     what=f"namespace file {namespace}:{path}", options=options)
