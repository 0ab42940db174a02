"""Shared by the kestrapy tests: a long-running flow and kestrapy's state as a name."""
from __future__ import annotations

SLOW = """id: slow
namespace: {ns}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""


def state(ex) -> str:
    """The current state name of a kestrapy execution model (or a raw execution dict)."""
    cur = ex.state.current if hasattr(ex, "state") else ex["state"]["current"]
    return str(getattr(cur, "value", cur))
