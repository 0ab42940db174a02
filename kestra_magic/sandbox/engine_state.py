"""Kestra's truthiness (``TruthUtils``) for the engine and inputs' ``dependsOn``. States live in
``states.py``, instants and durations in ``instants.py``."""
from __future__ import annotations

__all__ = ["truthy"]


def truthy(value) -> bool:
    """Kestra's TruthUtils: null, empty, ``false``, ``0`` and ``-0`` are false."""
    if value is None or value is False:
        return False
    text = str(value).strip().lower()
    return text not in ("", "false", "0", "-0", "0.0", "null")
