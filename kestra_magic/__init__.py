"""kestra-magic: drive Kestra from Jupyter notebooks and plain Python.

``%load_ext kestra_magic`` registers the magics; ``kestra_magic.client()`` is the
one shared, configured client they use. Heavy modules load lazily.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from kestra_magic.config import servers  # noqa: F401  (light: stdlib only)

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration

__version__ = "0.1.0"

_shared: "KestraClient | None" = None
_shared_lock = threading.Lock()

# names importable from the package root without importing their modules up front
_LAZY = {
    "KestraClient": "kestra_magic.runs",
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


def load_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import unload_ipython_extension as _unload
    _unload(ipython)
