"""Run-layer fixtures: a client on the 2.x sandbox, and the sandbox credential seam."""
from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _sandbox_client_settings(monkeypatch):
    """Until the sandbox's per-instance credential lands (``Sandbox.client_settings()``, helper
    "protocol"), give this worktree's Sandbox that seam so ``km.start_sandbox()`` can be tested."""
    from kestra_magic.sandbox import Sandbox
    if not hasattr(Sandbox, "client_settings"):
        def client_settings(self):
            s = self.settings
            return ({"url": self.url, "username": s.username, "password": s.password} if s.username
                    else {"url": self.url})
        monkeypatch.setattr(Sandbox, "client_settings", client_settings, raising=False)


@pytest.fixture
def c2(sandbox_v2):
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    c = KestraClient(Configuration(url=sandbox_v2.url))
    yield c
    c.close()
