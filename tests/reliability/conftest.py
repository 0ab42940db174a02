"""Fixtures for the reliability tests: sandboxes of their own (faults, kills and deletes must
not leak into other parts' session servers), clients with short timeouts and fast backoff,
and an IPython shell whose cell outputs are captured.
"""
from __future__ import annotations

import pytest

from tests.reliability.helpers import create_flow


def _start(**kwargs):
    from kestra_magic.sandbox import Sandbox
    sb = Sandbox(**kwargs)
    sb.start()
    return sb


@pytest.fixture(scope="session")
def rel_v1():
    sb = _start(api=1, auth=False)
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def rel_v2():
    sb = _start(api=2, auth=False)
    yield sb
    sb.stop()


@pytest.fixture(params=[1, 2], ids=["api1", "api2"])
def rsb(request):
    """This directory's own sandbox of each generation, faults cleared after each test."""
    sb = request.getfixturevalue(f"rel_v{request.param}")
    sb.faults.clear()
    yield sb
    sb.faults.clear()


def make_client(url: str, **kw):
    from kestra_magic.runs import KestraClient
    from kestra_magic.config import Configuration
    settings = dict(retries=2, backoff=0.01, max_backoff=0.2, connect_timeout=2, read_timeout=5)
    settings.update(kw)
    return KestraClient(Configuration(url=url, **settings))


@pytest.fixture
def rclient(rsb):
    """A client for ``rsb`` with fast retries; the generation is probed before any fault is armed."""
    c = make_client(rsb.url)
    assert c.generation == rsb.generation
    yield c
    c.close()


@pytest.fixture
def flow(rsb, ns):
    """(namespace, flow id) of a trivial one-task flow on ``rsb``."""
    return ns, create_flow(rsb, ns, "hello")
