"""One-line notebook errors: the cell fails (so "Run all" and papermill stop) without a traceback.

IPython asks an exception for ``_render_traceback_()`` before formatting a traceback; returning a
single line is how this error prints just its message (``KestraMagic.show_traceback`` shows the rest).
"""
from __future__ import annotations


class KestraMagicError(Exception):
    """A failure a notebook user can fix; ``str()`` is one line naming the fix."""

    def __init__(self, message: str, kind: str = "KestraError"):
        self.message = one_line(message)
        self.kind = kind
        super().__init__(self.message)

    def _render_traceback_(self) -> list[str]:
        return [f"{self.kind}: {self.message}"]


def one_line(err: object) -> str:
    """Collapse whitespace so a message always prints on one line."""
    return " ".join(str(err).split())


def is_expected(err: BaseException) -> bool:
    """Errors we report as one line (server/config/input problems), not bugs needing a traceback."""
    from kestra_magic.errors import KestraError
    return isinstance(err, (KestraError, ValueError))
