"""Two tiny stdlib servers on 127.0.0.1 for the client tests: a request recorder (a redirect
target that must never see credentials) and a forward HTTP proxy that records what it relays."""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


class _Server:
    handler: type

    def __init__(self, ssl_context=None):
        self.seen: list[tuple[str, str, dict]] = []   # (method, path or absolute URL, headers)
        outer = self

        class H(self.handler):  # type: ignore[name-defined,misc]
            server_obj = outer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if ssl_context is not None else "http"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class _RecordHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_obj: "Recorder"

    def log_message(self, *a):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        self.server_obj.seen.append((self.command, self.path, dict(self.headers.items())))
        body = b'{"recorded": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = _any


class Recorder(_Server):
    """Answers ``{"recorded": true}`` to anything and records the request."""
    handler = _RecordHandler


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_obj: "ForwardProxy"

    def log_message(self, *a):
        pass

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        self.server_obj.seen.append((self.command, self.path, dict(self.headers.items())))
        target = urlsplit(self.path)          # a proxy receives the absolute URL
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection", "keep-alive")}
        path = target.path + (f"?{target.query}" if target.query else "")
        conn.request(self.command, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Via", "1.1 test-proxy")
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = do_PUT = do_DELETE = _any


class ForwardProxy(_Server):
    """A plain-HTTP forward proxy (absolute-form requests), recording each relayed URL."""
    handler = _ProxyHandler
