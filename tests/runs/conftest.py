"""Run-layer fixtures: a client on the 2.x sandbox."""
from __future__ import annotations

import pytest


@pytest.fixture
def c2(sandbox_v2):
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    c = KestraClient(Configuration(url=sandbox_v2.url))
    yield c
    c.close()
