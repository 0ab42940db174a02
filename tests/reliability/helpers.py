"""Small real servers the reliability tests need besides the sandbox: a self-signed HTTPS
server, a header-recording server (redirect target), a scripted server (redirects, proxy
error pages, streams that never end). Stdlib only, bound to 127.0.0.x, stopped by the test.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterable

import requests

FLOW_YAML = """\
id: {flow}
namespace: {ns}
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hello {{{{ execution.id }}}}
"""

SLEEP_FLOW_YAML = """\
id: {flow}
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: {duration}
"""


def create_flow(sb, ns: str, flow: str = "hello", source: str | None = None, **fmt) -> str:
    """Create a flow on the sandbox with plain requests (independent of the client under test)."""
    body = (source or FLOW_YAML).format(ns=ns, flow=flow, **fmt)
    auth = _auth_of(sb)
    r = requests.post(f"{sb.url}/api/v1/main/flows", data=body.encode(),
                      headers={"Content-Type": "application/x-yaml", **auth}, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    return flow


def _auth_of(sb) -> dict:
    token = getattr(sb, "token", None)
    return {"Authorization": f"Bearer {token}"} if token else {}


def executions_of(sb, ns: str, flow: str) -> list[dict]:
    """Executions of one flow as the sandbox's store holds them (the server's truth)."""
    with sb.store.lock:
        return [dict(e) for e in sb.store.executions.values()
                if e.get("namespace") == ns and e.get("flowId") == flow]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# -- certificates -------------------------------------------------------------------------------
def self_signed_cert(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A throwaway self-signed certificate for ``host`` (cryptography; no CA trusts it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = _dt.datetime.now(_dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - _dt.timedelta(minutes=5))
            .not_valid_after(now + _dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


# -- a scripted HTTP server ---------------------------------------------------------------------
@dataclass
class Seen:
    method: str
    path: str
    headers: dict


@dataclass
class Reply:
    status: int = 200
    headers: dict = field(default_factory=dict)
    body: bytes | Iterable[bytes] = b""   # an iterable is streamed (chunk by chunk, no length)


class ScriptedServer:
    """A threaded HTTP(S) server answering every request with ``handler(Seen) -> Reply``.

    Records what it saw (``.seen``); ``stop()`` ends streams and closes the socket.
    """

    def __init__(self, handler: Callable[[Seen], Reply], host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None):
        self.handler = handler
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        outer = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # keep test output clean
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                seen = Seen(self.command, self.path, dict(self.headers.items()))
                outer.seen.append(seen)
                reply = outer.handler(seen)
                self.send_response(reply.status)
                streamed = not isinstance(reply.body, (bytes, bytearray))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if streamed:
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        for chunk in reply.body:
                            if outer.stopping.is_set():
                                break
                            self.wfile.write(chunk)
                            self.wfile.flush()
                    except OSError:
                        pass
                    self.close_connection = True
                else:
                    if "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _any

        self.httpd = ThreadingHTTPServer((host, 0), _H)
        self.httpd.daemon_threads = True
        if ssl_context is not None:
            self.httpd.socket = ssl_context.wrap_socket(self.httpd.socket, server_side=True)
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="reliability-scripted-server", daemon=True)

    def start(self) -> "ScriptedServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def json_reply(obj, status: int = 200, ctype: str = "application/json", **headers) -> Reply:
    return Reply(status, {"Content-Type": ctype, **headers}, json.dumps(obj).encode())


def never_ending_stream(stop: threading.Event, first: bytes = b"", every: float = 0.2,
                        chunk: bytes = b": keep-alive\n\n"):
    """An SSE body that sends ``first`` then a comment line forever (until ``stop``)."""
    if first:
        yield first
    while not stop.is_set():
        time.sleep(every)
        yield chunk
