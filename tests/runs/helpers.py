"""Serving any Kestra state from the sandbox: an execution held before it runs (a scheduleDate an
hour away, or a Pause task) is moved to the wanted state in the sandbox's store (its documented
seam ``store.update_execution``), exactly as a server would report it."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

LATER = (datetime.now(timezone.utc) + timedelta(hours=1)).replace(microsecond=0).isoformat()

HELD = """id: held
namespace: {ns}
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: hi
"""
PAUSING = """id: pausing
namespace: {ns}
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
"""


def serve_state(sb, ns: str, flow_id: str, state: str, *, when: str = "CREATED", count: int = 1,
                within: float = 20.0) -> threading.Thread:
    """In the background, move each of the next ``count`` executions of ``ns.flow_id`` that are in
    ``when`` to ``state`` (history and end date as the sandbox records them)."""
    from kestra_magic.sandbox.states import transition

    def flip() -> None:
        done: set = set()
        deadline = time.monotonic() + within
        while len(done) < count and time.monotonic() < deadline:
            with sb.store.lock:
                found = [i for i, e in sb.store.executions.items()
                         if e.get("namespace") == ns and e.get("flowId") == flow_id and i not in done
                         and (e.get("state") or {}).get("current") == when]
            for ex_id in found:
                sb.store.update_execution(ex_id, lambda e: transition(e["state"], state))
                done.add(ex_id)
            time.sleep(0.02)

    t = threading.Thread(target=flip, daemon=True, name=f"serve-{state}")
    t.start()
    return t
