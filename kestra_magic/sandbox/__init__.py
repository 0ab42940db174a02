"""A local Kestra-compatible server: the test double for the suite and the embedded default.

Laid out like ``moto``: a route table (``routes``) -> thin per-resource handlers (``handlers_*``)
-> one backend (``backend``: store + engine facade, every rule) over the ``store`` (state) and the
``engine``/``tasks``/``expressions`` (running flows). It runs code as the user, so it is guarded
(``guard``: credential, Host allow-list, Origin check). It imports nothing from the client.

>>> with Sandbox(api=2) as sb:          # doctest: +SKIP
...     requests.get(sb.url + "/api/v1/configs", auth=(sb.username, sb.password)).json()["version"]
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from kestra_magic.sandbox.guard import Credential, RequestGuard, is_loopback

__all__ = ["Sandbox", "DEFAULT_VERSIONS"]

DEFAULT_VERSIONS = {1: "1.3.3", 2: "2.0.3"}


class Sandbox:
    """A Kestra-compatible server on a background thread (``port=0``: a free port).

    It runs shell and Python tasks as the user, so it is guarded like a Jupyter server: with
    ``auth=True`` (the default) and no ``username``/``password``/``token`` it makes a random basic-auth
    credential (kept in ``data_dir`` when given); ``sb.client_settings()`` configures a client with it.
    ``auth=False`` runs open (tests, ``--no-auth``), on loopback only. Requests must name an allowed
    ``Host`` (``allow_hosts``) and state changes must not come from a foreign ``Origin`` (``allow_origins``).
    """

    def __init__(self, api: int = 2, host: str = "127.0.0.1", port: int = 0, username: str | None = None,
                 password: str | None = None, token: str | None = None, auth: bool = True,
                 data_dir: str | Path | None = None, version: str | None = None, max_body_size: int | None = None,
                 allow_hosts: tuple[str, ...] | list[str] = (), allow_origins: tuple[str, ...] | list[str] = ()):
        if api not in (1, 2):
            raise ValueError(f"Sandbox(api={api!r}): api must be 1 or 2 (the Kestra generation to emulate)")
        if bool(username) != bool(password):
            raise ValueError("Sandbox: give both username and password for basic auth, or neither")
        if not auth and (username or token):
            raise ValueError("Sandbox(auth=False) runs open: drop username/password/token, or keep auth=True")
        if not auth and not is_loopback(host or "0.0.0.0"):
            raise ValueError(f"Sandbox(host={host!r}) serves other machines: it requires a credential "
                             f"(auth=True, or give username/password); auth=False is for 127.0.0.1 only")
        from kestra_magic.sandbox.faults import FaultInjector
        from kestra_magic.sandbox.routes import Settings
        from kestra_magic.sandbox.store import Store
        self.generation = api
        self.host, self.port = host, port
        credential = None
        if username:
            credential = Credential(username, password)
            if data_dir is not None:
                credential.save(data_dir)
        elif auth and not token:
            credential = Credential.kept_in(data_dir) if data_dir is not None else Credential.generate()
        self.settings = Settings(generation=api, version=version or DEFAULT_VERSIONS[api],
                                 username=credential.username if credential else None,
                                 password=credential.password if credential else None, token=token)
        if max_body_size is not None:
            self.settings.max_body_size = int(max_body_size)
        self.guard = RequestGuard(host, tuple(allow_hosts), tuple(allow_origins))
        self.store = Store(api, data_dir)
        self.faults = FaultInjector()
        self.requests: list = []
        self.engine: Any = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def auth(self) -> bool:
        """True when requests need the credential (or the token)."""
        return self.settings.auth_required

    @property
    def username(self) -> str | None:
        return self.settings.username

    @property
    def password(self) -> str | None:
        return self.settings.password

    def client_settings(self) -> dict[str, str]:
        """What a Kestra client needs to use this sandbox: ``{"url", "username", "password"}``
        (``"token"`` when one was given; just ``{"url"}`` when open). Contains the secret: pass it
        to a client, never print it."""
        out = {"url": self.url}
        if self.settings.username:
            out.update(username=self.settings.username, password=self.settings.password)
        if self.settings.token:
            out["token"] = self.settings.token
        return out

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        auth = "basic auth" if self.settings.username else ("token" if self.settings.token else "open")
        return f"<Sandbox api={self.generation} version={self.settings.version} {state} {auth}>"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("Sandbox.url: the sandbox is not started; call start() or use `with Sandbox() as sb`")
        return f"http://{self._display_host()}:{self._server.server_port}"

    @property
    def version(self) -> str:
        return self.settings.version

    def _display_host(self) -> str:
        if self.host in ("", "0.0.0.0"):
            return "127.0.0.1"
        if self.host == "::":
            return "[::1]"
        return f"[{self.host}]" if ":" in self.host else self.host

    def start(self) -> "Sandbox":
        """Start serving on a background thread; returns self (``sb.url`` is then set)."""
        if self._server is not None:
            return self
        from werkzeug.serving import make_server
        from kestra_magic.sandbox.routes import Application
        from kestra_magic.sandbox.server import QuietHandler
        from kestra_magic.sandbox.engine import Engine
        from kestra_magic.sandbox.recovery import recover
        self.engine = Engine(self.store)
        recover(self.store, self.engine)   # a durable store's unfinished executions go on (sandbox/recovery.py)
        app = Application(self.settings, self.store, self.engine, self.faults, self.requests,
                          self._stopping.is_set, self.guard)
        try:
            self._server = make_server(self.host, self.port, app, threaded=True, request_handler=QuietHandler)
        except SystemExit:   # werkzeug exits when the port is taken; make it an error callers can handle
            raise OSError(98, f"Address already in use: {self.host}:{self.port}") from None
        self._server.daemon_threads = True
        self.settings.base_url = self.url
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"kestra-sandbox-{self._server.server_port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end open streams and the engine, remove temporary storage."""
        if self._server is None:
            return
        self._stopping.set()
        with self.store.lock:
            self.store.changed.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._server = None
        if self.store.durable:
            # a graceful stop keeps running executions as they are (closing the database first), so
            # they go on after a restart as after a crash; shutting the engine down would kill them
            self.store.close()
            self.engine.shutdown()
        else:
            self.engine.shutdown()
            self.store.close()

    def serve_forever(self) -> None:
        """Block until Ctrl-C (used by ``python -m kestra_magic.sandbox``)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
