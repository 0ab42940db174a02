"""Pure functions from Kestra's JSON and files to pandas DataFrames (no HTTP here).

Names load lazily so that ``from kestra_magic import frames`` does not import pandas until a
function is used.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "task_runs_frame": "tables", "logs_frame": "tables", "task_outputs_frame": "tables",
    "flow_outputs_frame": "tables", "executions_frame": "tables", "flows_frame": "tables",
    "read_ion": "ion", "read_file": "files", "to_upload": "files", "detect_format": "files",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kestra_magic.frames' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"kestra_magic.frames.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
