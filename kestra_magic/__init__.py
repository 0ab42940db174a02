"""kestra-magic: drive Kestra from Jupyter notebooks and plain Python.

``%load_ext kestra_magic`` registers the magics; ``kestra_magic.client()`` is the
one shared, configured client they use. Heavy modules load lazily.
"""
from __future__ import annotations

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin
    from kestra_magic.notebook.magics import unload_ipython_extension as _unload
    _unload(ipython)
