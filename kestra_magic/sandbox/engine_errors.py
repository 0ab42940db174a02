"""The engine's errors, as the routes map them (409, 422)."""
from __future__ import annotations


class EngineConflict(Exception):
    """An action on an execution in the wrong state (the routes answer 409)."""


class EngineInvalid(Exception):
    """An action with invalid arguments (the routes answer 422)."""
