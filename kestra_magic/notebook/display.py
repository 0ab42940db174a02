"""IPython display of the package's DataFrames: durations read as ``2.0 s`` (``render.frame_html``).

Registered by ``%load_ext kestra_magic`` and removed by ``%unload_ext``."""
from __future__ import annotations

from typing import Any

from kestra_magic.render import _durations_shown, frame_html

_FRAME_MODULES = ("pandas", "pandas.core.frame")


def register_frame_display(ip: Any) -> None:
    """Show the Timedelta columns of the frames this package returns (``task_runs``, executions,
    sweeps: marked with ``frames.tables.with_readable_durations``) as durations people read, in HTML
    and plain text; other frames, and long ones (over ``display.max_rows``), keep pandas' display."""
    formatters = ip.display_formatter.formatters
    # by name, so registering does not import pandas (``%load_ext`` stays fast); the module IPython
    # matches is ``DataFrame.__module__``: "pandas" since pandas 3, "pandas.core.frame" before
    for module in _FRAME_MODULES:
        formatters["text/html"].for_type_by_name(module, "DataFrame", frame_html)

    def plain(df: Any, p: Any, cycle: bool) -> None:
        shown = _durations_shown(df)
        p.text(repr(shown if shown is not None else df))
    for module in _FRAME_MODULES:
        formatters["text/plain"].for_type_by_name(module, "DataFrame", plain)


def unregister_frame_display(ip: Any) -> None:
    """Undo :func:`register_frame_display` (``%unload_ext``)."""
    import sys
    formatters = ip.display_formatter.formatters
    for mime in ("text/html", "text/plain"):
        for module in _FRAME_MODULES:
            formatters[mime].deferred_printers.pop((module, "DataFrame"), None)
        frame_type = getattr(sys.modules.get("pandas"), "DataFrame", None)
        if frame_type is not None:
            formatters[mime].type_printers.pop(frame_type, None)
