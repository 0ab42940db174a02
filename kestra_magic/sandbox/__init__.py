"""A local Kestra-compatible server: the test double for the suite and the embedded default.

Laid out like ``moto``: ``routes`` (HTTP protocol) apart from ``store`` (state) apart from
``engine``/``tasks``/``expressions`` (running flows). It imports nothing from the client.
"""
from __future__ import annotations
