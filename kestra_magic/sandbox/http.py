"""Small HTTP helpers shared by the sandbox's route handlers (responses, headers, control flow)."""
from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

SECRET_HEADERS = ("authorization", "cookie", "x-csrf-token", "proxy-authorization", "set-cookie")


def mask(name: str, value: str) -> str:
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme = value.split(" ", 1)[0] if " " in value and name.lower().endswith("authorization") else ""
    return f"{scheme} ***" if scheme else "***"


def json_response(data: Any, status: int = 200, content_type: str = "application/json") -> Response:
    return Response(json.dumps(data, separators=(",", ":")), status=status, content_type=content_type)


def attachment(filename: str, quoted: bool = True) -> str:
    """A Content-Disposition value safe for any file name (RFC 6266 ``filename*`` when not ASCII)."""
    from urllib.parse import quote
    plain = filename.isascii() and filename.isprintable() and '"' not in filename and "\\" not in filename
    if plain:
        return f'attachment; filename="{filename}"' if quoted else f"attachment; filename={filename}"
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def empty(status: int) -> Response:
    return Response(b"", status=status)


class Redirect(Exception):
    """A file URI of another execution: Kestra redirects (301) to that execution's endpoint."""

    def __init__(self, location: str):
        super().__init__(location)
        self.location = location


class DropConnection(ConnectionAbortedError):
    """Raised to make the server close the socket without answering (fault injection)."""
