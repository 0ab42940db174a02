"""The run layer: one execution as a user holds it, shared by scripts and magics.

:class:`KestraClient` is the public client: the API groups of :class:`~kestra_magic.api.client.ApiClient`
plus the run layer.
"""
from __future__ import annotations

from kestra_magic.api.client import ApiClient


class KestraClient(ApiClient):
    """A configured Kestra client: ``client.flows``, ``client.executions``, ``client.logs``."""
