"""Kestra's truthiness (``TruthUtils``) for the engine and inputs' ``dependsOn``. States live in
``states.py``, instants and durations in ``instants.py``; ``parse_duration`` is re-exported for
``tasks/core.py`` until it imports it from ``instants`` directly."""
from __future__ import annotations

from kestra_magic.sandbox.instants import parse_duration

__all__ = ["truthy", "parse_duration"]


def truthy(value) -> bool:
    """Kestra's TruthUtils: null, empty, ``false``, ``0`` and ``-0`` are false."""
    if value is None or value is False:
        return False
    text = str(value).strip().lower()
    return text not in ("", "false", "0", "-0", "0.0", "null")
