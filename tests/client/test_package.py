"""The package root stays light and ``kestra_magic.client`` is a function, never a module."""
from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
import kestra_magic as km
heavy = [m for m in ("requests", "pandas", "ipywidgets", "pyarrow", "amazon.ion", "yaml") if m in sys.modules]
assert not heavy, heavy
assert callable(km.client)
import kestra_magic.api.client, kestra_magic.transport   # no module shadows the accessor
assert callable(km.client) and not isinstance(km.client, type(sys))
c = km.client()
assert c is km.client() and type(c).__name__ == "KestraClient"
from kestra_magic.runs import KestraClient
assert isinstance(c, KestraClient) and c.url == "http://127.0.0.1:9"
assert "pandas" not in sys.modules
print("ok")
"""


def test_import_is_light_and_client_callable():
    env = {"KESTRA_URL": "http://127.0.0.1:9", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
