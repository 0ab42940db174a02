"""Server-sent event streams: execution follow (start/progress/end) and log follow (never ends).

Kestra marks events with the SSE ``id:`` field (no ``event:`` names) and one-line JSON data
(kestra-api.md §2.5, §3). Streams read through the backend and wake on the store's change
notification, so an update goes out as soon as the engine saves it.
"""
from __future__ import annotations

import json
import time
from typing import Callable, Iterator

from kestra_magic.sandbox import shapes, states

HEARTBEAT_SECONDS = 10.0     # an SSE comment line while idle, so dead clients are noticed
LOOKUP_SECONDS = 1.0         # Kestra looks an unknown execution up for ~10 s; the store is immediate


def event(marker: str, data: dict) -> bytes:
    return f"id:{marker}\ndata:{json.dumps(data, separators=(',', ':'))}\n\n".encode()


def follow_execution(backend, execution_id: str, generation: int, is_stopping: Callable[[], bool],
                     limit: int | None = None) -> Iterator[bytes]:
    """``start`` stub, ``progress`` per update, ``end`` when the follow stop condition holds."""
    sent = 0

    def emit(marker: str, data: dict) -> bytes | None:
        nonlocal sent
        if limit is not None and sent >= limit:
            return None
        sent += 1
        return event(marker, data)

    first = emit("start", {"id": execution_id} if generation == 2 else {"id": execution_id, "deleted": False})
    if first is None:
        return
    yield first
    if limit is not None and sent >= limit:
        return
    deadline = time.monotonic() + LOOKUP_SECONDS
    last = None
    idle_since = time.monotonic()
    while not is_stopping():
        ex, version = backend.snapshot(execution_id)
        if ex is None:
            if time.monotonic() > deadline:
                return      # Kestra ends the stream without `end` for an unknown execution
            shaped = None
        else:
            shaped = shapes.execution(ex, generation, form="core" if generation == 2 else "full")
            done = states.all_terminated(ex)
        if shaped is not None:
            text = json.dumps(shaped, sort_keys=True)
            if done:
                chunk = emit("end", shaped)
                if chunk:
                    yield chunk
                return
            if text != last:
                last = text
                chunk = emit("progress", shaped)
                if chunk is None:
                    return
                yield chunk
                if limit is not None and sent >= limit:
                    return      # the fault: cut the stream right after its N-th event
                idle_since = time.monotonic()
        backend.wait_for_change(version, timeout=0.25 if ex is None else 1.0)
        if time.monotonic() - idle_since > HEARTBEAT_SECONDS:
            idle_since = time.monotonic()
            yield b":\n\n"


def follow_logs(backend, execution_id: str, generation: int, keep: Callable[[dict], bool],
                is_stopping: Callable[[], bool], limit: int | None = None) -> Iterator[bytes]:
    """``start`` (empty entry), then every stored and live matching entry as ``progress``; never ends."""
    sent = 0
    if limit is not None and limit <= 0:
        return
    yield event("start", {})
    sent += 1
    if limit is not None and sent >= limit:
        return
    index = 0
    idle_since = time.monotonic()
    while not is_stopping():
        fresh, index, version = backend.logs_since(execution_id, index)
        for entry in fresh:
            if keep(entry):
                if limit is not None and sent >= limit:
                    return
                yield event("progress", shapes.log_entry(entry, generation, follow=True))
                sent += 1
                if limit is not None and sent >= limit:
                    return
                idle_since = time.monotonic()
        backend.wait_for_change(version, timeout=1.0)
        if time.monotonic() - idle_since > HEARTBEAT_SECONDS:
            idle_since = time.monotonic()
            yield b":\n\n"
