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
PROGRESS_BYTES_PER_SECOND = 4_000_000   # execution `progress` events: at most about this many bytes a second
NAP_STEP = 0.05              # while a progress waits its turn, how often the end is looked for


def event(marker: str, data: dict) -> bytes:
    return f"id:{marker}\ndata:{json.dumps(data, separators=(',', ':'))}\n\n".encode()


def follow_execution(backend, execution_id: str, generation: int, is_stopping: Callable[[], bool],
                     limit: int | None = None) -> Iterator[bytes]:
    """``start`` stub, ``progress`` per update (throttled for big executions), ``end`` when the
    follow stop condition holds.

    Kestra's ExecutionStreamingService reads the execution once per change and sends that one
    object to every follower, ``progress`` on each change and ``end`` once the execution and all
    its task runs are terminated (kestra-io/kestra webserver/.../services/ExecutionStreamingService
    .java, ``startQueueConsumer``/``isStopFollow``). Here too one payload per store version is
    shared (``backend.execution_json``). Every event carries the whole execution, which the client
    parses: 1 KB for a small flow, 15 MB for a 20,000-task-run loop that the sandbox changes
    thousands of times a second. So after an event of B bytes the next progress waits B /
    ``PROGRESS_BYTES_PER_SECOND`` seconds (0.25 ms after 1 KB: every change goes out, as in Kestra;
    0.25 s after 1 MB; 4 s after 15 MB): following costs a bounded share of the run whatever its
    size, and a person watching cannot tell. The latest state is always sent, and ``end`` is never
    delayed by the throttle."""
    sent = 0

    def emit(marker: str, body: bytes) -> bytes | None:
        nonlocal sent
        if limit is not None and sent >= limit:
            return None
        sent += 1
        return b"id:" + marker.encode() + b"\ndata:" + body + b"\n\n"

    start = {"id": execution_id} if generation == 2 else {"id": execution_id, "deleted": False}
    first = emit("start", json.dumps(start, separators=(",", ":")).encode())
    if first is None:
        return
    yield first
    if limit is not None and sent >= limit:
        return
    form = "core" if generation == 2 else "full"
    deadline = time.monotonic() + LOOKUP_SECONDS
    last_changes = None        # ``changes`` of the view last sent as progress
    last_sent = float("-inf")
    interval = 0.0
    idle_since = time.monotonic()
    while not is_stopping():
        view = backend.execution_json(execution_id, form)
        if view is None:
            if time.monotonic() > deadline:
                return      # Kestra ends the stream without `end` for an unknown execution
            backend.wait_for_change(backend.version(), timeout=0.25)
            continue
        if view.done:
            chunk = emit("end", view.body)
            if chunk:
                yield chunk
            return
        if view.changes != last_changes:
            early = interval - (time.monotonic() - last_sent)
            if early > 0:   # a newer state waits its turn; an ending execution does not
                _nap(backend, execution_id, early, is_stopping)
                continue
            chunk = emit("progress", view.body)
            if chunk is None:
                return
            yield chunk
            if limit is not None and sent >= limit:
                return      # the fault: cut the stream right after its N-th event
            last_changes, last_sent = view.changes, time.monotonic()
            interval = len(view.body) / PROGRESS_BYTES_PER_SECOND
            idle_since = last_sent
        backend.wait_for_change(view.version, timeout=1.0)
        if time.monotonic() - idle_since > HEARTBEAT_SECONDS:
            idle_since = time.monotonic()
            yield b":\n\n"


def _nap(backend, execution_id: str, seconds: float, is_stopping: Callable[[], bool]) -> None:
    """Sleep ``seconds`` in short steps, waking as soon as the execution is terminated."""
    until = time.monotonic() + seconds
    while not is_stopping() and not states.is_terminal(backend.execution_state(execution_id)):
        left = until - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, NAP_STEP))


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
