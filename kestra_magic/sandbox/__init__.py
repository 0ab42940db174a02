"""A local Kestra-compatible server: the test double for the suite and the embedded default.

Laid out like ``moto``: ``routes`` (HTTP protocol) apart from ``store`` (state) apart from
``engine``/``tasks``/``expressions`` (running flows). It imports nothing from the client.

>>> with Sandbox(api=2) as sb:          # doctest: +SKIP
...     requests.get(sb.url + "/api/v1/configs").json()["version"]
"""
from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

__all__ = ["Sandbox", "DEFAULT_VERSIONS"]

DEFAULT_VERSIONS = {1: "1.3.3", 2: "2.0.3"}


class Sandbox:
    """A Kestra-compatible server on a background thread (``port=0``: a free port)."""

    def __init__(self, api: int = 2, host: str = "127.0.0.1", port: int = 0, username: str | None = None,
                 password: str | None = None, token: str | None = None, data_dir: str | Path | None = None,
                 version: str | None = None, max_body_size: int | None = None):
        if api not in (1, 2):
            raise ValueError(f"Sandbox(api={api!r}): api must be 1 or 2 (the Kestra generation to emulate)")
        if bool(username) != bool(password):
            raise ValueError("Sandbox: give both username and password for basic auth, or neither")
        from kestra_magic.sandbox.faults import FaultInjector
        from kestra_magic.sandbox.routes import Settings
        from kestra_magic.sandbox.store import Store
        self.generation = api
        self.host, self.port = host, port
        self.settings = Settings(generation=api, version=version or DEFAULT_VERSIONS[api], username=username,
                                 password=password, token=token)
        if max_body_size is not None:
            self.settings.max_body_size = int(max_body_size)
        self.store = Store(api, data_dir)
        self.faults = FaultInjector()
        self.requests: list = []
        self.engine: Any = None
        self._server = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def __repr__(self) -> str:
        state = self.url if self._server else "stopped"
        return f"<Sandbox api={self.generation} version={self.settings.version} {state}>"

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("Sandbox.url: the sandbox is not started; call start() or use `with Sandbox() as sb`")
        return f"http://{self._display_host()}:{self._server.server_port}"

    @property
    def version(self) -> str:
        return self.settings.version

    def _display_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host

    def start(self) -> "Sandbox":
        """Start serving on a background thread; returns self (``sb.url`` is then set)."""
        if self._server is not None:
            return self
        from werkzeug.serving import make_server
        from kestra_magic.sandbox.routes import Application
        from kestra_magic.sandbox.server import QuietHandler
        self.engine = _make_engine(self.store)
        from kestra_magic.sandbox.recovery import recover
        recover(self.store, self.engine)   # a durable store's unfinished executions go on (sandbox/recovery.py)
        app = Application(self.settings, self.store, self.engine, self.faults, self.requests,
                          self._stopping.is_set)
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
        if self.engine is not None and hasattr(self.engine, "shutdown"):
            self.engine.shutdown()
        self._server = None
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


def _make_engine(store):
    """The engine of the sandbox, or None while ``engine.py`` does not exist yet."""
    if importlib.util.find_spec("kestra_magic.sandbox.engine") is None:
        logging.getLogger("kestra_magic.sandbox").warning("no sandbox engine: executions stay CREATED")
        return None
    try:
        from kestra_magic.sandbox.engine import Engine
    except ImportError as exc:   # the engine is being built beside the protocol layer
        logging.getLogger("kestra_magic.sandbox").warning("sandbox engine unavailable (%s): "
                                                          "executions stay CREATED", exc)
        return None
    return Engine(store)
