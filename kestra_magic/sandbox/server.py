"""Werkzeug request handler tuned for the sandbox: no access log on stderr, quiet disconnects."""
from __future__ import annotations

from werkzeug.serving import WSGIRequestHandler


class QuietHandler(WSGIRequestHandler):
    """Serves HTTP/1.1 (chunked SSE) without printing a line per request."""

    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log(self, type: str, message: str, *args) -> None:
        if type == "error":
            super().log(type, message, *args)

    def connection_dropped(self, error, environ=None) -> None:
        pass
