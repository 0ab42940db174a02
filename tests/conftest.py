"""Shared fixtures: real sandbox servers on 127.0.0.1 (one per generation and
auth mode, per session), clients pointed at them, and fresh IPython shells.

Tests use unique namespaces (the ``ns`` fixture) instead of resetting state,
so session-scoped servers can be shared safely.
"""
from __future__ import annotations

import os
import uuid

import pytest

# Never let a developer's real Kestra settings leak into the suite.
for _var in ("KESTRA_URL", "KESTRA_HOSTNAME", "KESTRA_HOST", "KESTRA_USERNAME", "KESTRA_USER",
             "KESTRA_PASSWORD", "KESTRA_API_TOKEN", "KESTRA_TENANT", "KESTRA_TENANT_ID"):
    os.environ.pop(_var, None)

USERNAME = "admin@kestra.io"
PASSWORD = "Kestra-Sandbox-Pw1"   # a secret: tests grep outputs for it
TOKEN = "kestra-test-token-7f3a9c"  # a secret too


def _start(**kwargs):
    from kestra_magic.sandbox import Sandbox
    sb = Sandbox(**kwargs)
    sb.start()
    return sb


@pytest.fixture(scope="session")
def sandbox_v1():
    # open through the explicit switch: many parts' tests speak plain HTTP to the shared servers;
    # the guarded default (generated credential) has its own fixtures below and in tests/sandbox
    sb = _start(api=1, auth=False)
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def sandbox_v2():
    sb = _start(api=2, auth=False)
    yield sb
    sb.stop()


@pytest.fixture(scope="session", params=[1, 2], ids=["api1", "api2"])
def sandbox(request):
    """The sandbox of each generation in turn (no auth)."""
    return request.getfixturevalue(f"sandbox_v{request.param}")


@pytest.fixture(scope="session", params=[1, 2], ids=["api1", "api2"])
def auth_sandbox(request):
    """A sandbox of each generation requiring basic auth (USERNAME/PASSWORD) or TOKEN."""
    sb = _start(api=request.param, username=USERNAME, password=PASSWORD, token=TOKEN)
    yield sb
    sb.stop()


@pytest.fixture
def ns():
    """A namespace no other test uses."""
    return f"test.{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def guarded_v1():
    """A 1.x sandbox as a notebook starts it: the default generated credential (sb.client_settings())."""
    sb = _start(api=1)
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def guarded_v2():
    sb = _start(api=2)
    yield sb
    sb.stop()


@pytest.fixture(scope="session", params=[1, 2], ids=["api1", "api2"])
def guarded_sandbox(request):
    """The guarded sandbox (generated credential) of each generation in turn."""
    return request.getfixturevalue(f"guarded_v{request.param}")


@pytest.fixture
def client(sandbox):
    """A KestraClient configured from the sandbox of each generation (``sb.client_settings()``)."""
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    c = KestraClient(Configuration(**sandbox.client_settings()))
    yield c
    c.close()


@pytest.fixture
def ip():
    """A fresh IPython InteractiveShell with the extension loaded."""
    from IPython.core.interactiveshell import InteractiveShell
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "kestra_magic")
    yield shell
    shell.run_line_magic("unload_ext", "kestra_magic")
    shell.reset()
