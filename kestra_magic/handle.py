"""``ExecutionHandle``: the former name of :class:`kestra_magic.runs.Run` (one class; kept as an alias)."""
from kestra_magic.runs import Run as ExecutionHandle  # noqa: F401
