"""A replay server for client tests: stdlib ``http.server`` on 127.0.0.1 in a thread.

It answers canned (status, headers, body) per method + path and records every request
(method, path, query pairs, headers, body) so tests can check what the client sent.
A route may hold several responses: they are served in order and the last one repeats.
Anything unrouted answers 599 with a text body naming it, so a test fails loudly.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

HERE = Path(__file__).parent


def load(name: str) -> Any:
    """A recorded body: ``.json`` files parsed, anything else as bytes."""
    path = HERE / name
    return json.loads(path.read_text()) if path.suffix == ".json" else path.read_bytes()


@dataclass
class Reply:
    status: int = 200
    body: Any = b""                      # bytes/str sent as is; dict/list/other JSON-encoded
    ctype: str | None = "application/json"
    headers: dict = field(default_factory=dict)
    stream: bool = False                 # no Content-Length, close after the body (SSE)
    hold: float = 0.0                    # stream: keep the connection open this long after the body
    cut: bool = False                    # stream: announce more bytes than sent, then drop the connection

    def payload(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str) and self.ctype and "json" not in self.ctype:
            return self.body.encode()
        return json.dumps(self.body).encode()


@dataclass
class Seen:
    method: str
    path: str                 # decoded path, no query
    raw_path: str             # as sent (quoted, with query)
    query: list[tuple[str, str]]
    headers: dict
    body: bytes

    @property
    def params(self) -> dict[str, str]:
        return dict(self.query)

    @property
    def ctype(self) -> str:
        return self.headers.get("Content-Type", "")


class ReplayServer:
    """``with ReplayServer() as rs: rs.route("GET", "/api/v1/main/flows/a/b", Reply(...))``."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def _any(self) -> None:
                outer._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def route(self, method: str, path: str, *replies: Reply) -> "ReplayServer":
        self.routes[(method.upper(), path)] = list(replies) or [Reply()]
        return self

    def clear(self) -> None:
        with self._lock:
            self.routes.clear()
            self.seen.clear()

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method)
                and (path is None or s.path == path)]

    def last(self, method: str, path: str) -> Seen:
        found = self.requests(method, path)
        assert found, f"no {method} {path} was sent; sent: {[(s.method, s.path) for s in self.seen]}"
        return found[-1]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        parts = urlsplit(h.path)
        seen = Seen(h.command, unquote(parts.path), h.path, parse_qsl(parts.query, keep_blank_values=True),
                    dict(h.headers.items()), body)
        with self._lock:
            self.seen.append(seen)
            replies = self.routes.get((h.command, seen.path))
            reply = (replies.pop(0) if len(replies) > 1 else replies[0]) if replies else \
                Reply(599, f"replay: no route for {h.command} {seen.path}", "text/plain")
        data = reply.payload()
        h.send_response(reply.status)
        if reply.ctype:
            h.send_header("Content-Type", reply.ctype)
        for k, v in reply.headers.items():
            h.send_header(k, v)
        if reply.stream:
            if reply.cut:
                h.send_header("Content-Length", str(len(data) + 1000))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
            if reply.hold:
                time.sleep(reply.hold)   # like Kestra's log follow, which never ends by itself
            h.close_connection = True
            return
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def __enter__(self) -> "ReplayServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
