"""kestra-magic: drive Kestra from Jupyter notebooks and plain Python.

``km.run("ns.flow", inputs=...)`` returns a :class:`~kestra_magic.runs.Run` (the same class
``%kestra_run`` returns); ``%load_ext kestra_magic`` registers the magics; ``kestra_magic.client()``
is the one shared, configured client both use. Heavy modules load lazily.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from kestra_magic.config import servers  # noqa: F401  (light: stdlib only)

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.runs import KestraClient, Run
    from kestra_magic.config import Configuration
    from kestra_magic.sandbox import Sandbox

__version__ = "0.1.0"

_shared: "KestraClient | None" = None
_sandbox: "Sandbox | None" = None     # the embedded sandbox started by ``start_sandbox()``
_sandbox_settings: dict = {}          # the settings it was started with (same ones: reused)
_shared_lock = threading.Lock()

# names importable from the package root without importing their modules up front
_LAZY = {
    "KestraClient": "kestra_magic.runs",
    "Run": "kestra_magic.runs",
    "ExecutionFailed": "kestra_magic.runs",
    "ExecutionHandle": "kestra_magic.handle",
    "Configuration": "kestra_magic.config",
    "ServerConfiguration": "kestra_magic.config",
    "ServerVariable": "kestra_magic.config",
    "KestraError": "kestra_magic.errors",
    "KestraConnectionError": "kestra_magic.errors",
    "KestraTimeout": "kestra_magic.errors",
    "KestraAuthError": "kestra_magic.errors",
    "KestraNotFound": "kestra_magic.errors",
    "KestraConflict": "kestra_magic.errors",
    "KestraValidationError": "kestra_magic.errors",
    "KestraServerError": "kestra_magic.errors",
    "KestraAmbiguousError": "kestra_magic.errors",
    "KestraConfigError": "kestra_magic.errors",
    "Execution": "kestra_magic.models",
    "Flow": "kestra_magic.models",
    "TaskRun": "kestra_magic.models",
    "State": "kestra_magic.models",
    "LogEntry": "kestra_magic.models",
    "Page": "kestra_magic.models",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'kestra_magic' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_LAZY))


def client() -> "KestraClient":
    """The shared client, built on first use from the environment (``KESTRA_URL``...)."""
    return _shared_client()


def _shared_client() -> "KestraClient":
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                from kestra_magic.runs import KestraClient
                _shared = KestraClient()
    return _shared


def configure(configuration: "Configuration | None" = None, **settings: Any) -> "KestraClient":
    """Change the shared client's settings (others are kept) and return the rebuilt client.

    ``configure(url="http://localhost:8080", username=..., password=...)``, or pass a whole
    ``Configuration``. ``configure(reset=True)`` starts again from the environment.
    """
    global _shared
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    reset = settings.pop("reset", False)
    with _shared_lock:
        if configuration is not None:
            config = configuration.replace(**settings) if settings else configuration
        elif _shared is None or reset:
            config = Configuration.from_env(**settings)
        else:
            config = _shared.configuration.replace(**settings)
        new = KestraClient(config)
        old, _shared = _shared, new
    if old is not None:
        old.close()
    return new


def run(flow: str, **kw: Any) -> "Run":
    """Start ``"namespace.flow_id"`` on the shared client and return its Run (see ``KestraClient.run``:
    ``inputs``, ``files``, ``labels``, ``revision``, ``schedule_date``, ``breakpoints``, ``kind``,
    ``wait=True``, ``timeout``, ``kill_on_interrupt``, ``raise_on_failure=True``)."""
    return _shared_client().run(flow, **kw)


def attach(execution_id: str) -> "Run":
    """The Run of an existing execution, on the shared client."""
    return _shared_client().attach(execution_id)


def sweep(flow: str, rows: Any, **kw: Any):
    """Run ``"namespace.flow_id"`` once per row of inputs on the shared client (a DataFrame)."""
    return _shared_client().sweep(flow, rows, **kw)


def last_run() -> "Run | None":
    """The most recent Run started in this process or kernel (also when its cell failed)."""
    from kestra_magic.runs import last_run as _last
    return _last()


def watch(run: "Run", timeout: float | None = None, *, wait: bool = True) -> "Run":
    """Show a Run live (the widget in Jupyter, text lines elsewhere) and, unless ``wait=False``,
    block until it ends, pauses or ``timeout`` passes."""
    from kestra_magic.notebook.widget import watch as _watch
    return _watch(run, timeout, wait=wait)


def start_sandbox(api: int = 2, **kw: Any) -> "Sandbox":
    """Start the embedded Kestra-compatible sandbox in the background (stopped at exit) and point
    the shared client at it with the sandbox's own credential; returns the ``Sandbox``.

    (Not ``km.sandbox``: that name is the ``kestra_magic.sandbox`` package, which replaces any
    function of that name once imported.) A call with the same ``api`` and the same settings
    reuses the running one. ``kw`` goes to
    ``kestra_magic.sandbox.Sandbox`` (``port``, ``data_dir`` — flows, executions and files kept
    there across restarts —, ``username``/``password``...).
    """
    global _sandbox, _sandbox_settings
    if kw.get("data_dir") is not None:
        import os
        kw["data_dir"] = os.path.abspath(os.path.expanduser(str(kw["data_dir"])))
    with _shared_lock:
        sb = _sandbox
        if sb is None or sb.generation != api or kw != _sandbox_settings:
            import atexit
            from kestra_magic.sandbox import Sandbox
            new = Sandbox(api=api, **kw)
            new.start()
            atexit.register(new.stop)
            if sb is not None:
                sb.stop()
            _sandbox, _sandbox_settings = new, dict(kw)
            sb = new
    # the sandbox's settings replace every credential of the previous server
    configure(**{"username": None, "password": None, "token": None, **sb.client_settings()})
    return sb


def _jupyter_labextension_paths() -> list[dict]:
    """Where JupyterLab finds the prebuilt highlighting extension of this package. A wheel install
    copies it into ``share/jupyter/labextensions`` (pyproject data files); an editable install
    (``pip install -e``) does not, so the setup scripts link it with ``jupyter labextension develop``,
    which reads this."""
    return [{"src": "labextension", "dest": "kestra-magic-highlight"}]


def load_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import unload_ipython_extension as _unload
    _unload(ipython)
