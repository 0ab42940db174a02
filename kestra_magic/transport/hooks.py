"""Response hooks: behaviour that looks at an answer before it is returned or mapped to an error.

A hook is ``hook(response, call) -> float | None``: a number means "send the call again after
that many seconds" (the response is closed); it may also raise a ``KestraError``. The transport
runs them in order after the retry policy, for calls that raise on error statuses (probes skip them).
"""
from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable

import requests

from kestra_magic import errors

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.compat import ServerGeneration
    from kestra_magic.transport.call import Call

Hook = Callable[[requests.Response, "Call"], "float | None"]


class NotFoundGrace:
    """The 2.x 404 window: right after this client created a flow or an execution, a 404 for it is
    the server catching up, so the call is sent again (0.1 s doubling to 1 s) until the window ends.

    ``mark(key)`` records a creation (thread-safe: sweeps create from threads); ``window(key)`` is
    the seconds left for it, given the generation's window length.
    """

    def __init__(self, length: Callable[[], float]):
        self._length = length
        self._lock = threading.Lock()
        self._recent: dict[tuple, float] = {}

    def mark(self, key: tuple) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent[key] = now
            if len(self._recent) > 512:
                horizon = now - max(self._length(), 1.0)
                self._recent = {k: t for k, t in self._recent.items() if t > horizon}

    def forget(self, key: tuple) -> None:
        with self._lock:
            self._recent.pop(key, None)

    def window(self, key: tuple | None) -> float:
        created = self._recent.get(key) if key is not None else None
        if created is None:
            return 0.0
        return max(0.0, created + self._length() - time.monotonic())

    def __call__(self, resp: requests.Response, call: "Call") -> float | None:
        if resp.status_code != 404 or not call.grace_until or time.monotonic() >= call.grace_until:
            return None
        resp.close()
        delay, call.grace_delay = call.grace_delay, min(call.grace_delay * 2, 1.0)
        return delay


class GenerationCheck:
    """A 404/405 with ``api_generation`` configured: if the server definitely speaks the other
    generation, say so (``KestraConfigError``) instead of "not found" (checked once per client)."""

    def __init__(self, generation: "ServerGeneration"):
        self._generation = generation

    def __call__(self, resp: requests.Response, call: "Call") -> float | None:
        if resp.status_code in (404, 405) and self._generation.configured is not None:
            message = self._generation.mismatch()
            if message is not None:
                resp.close()
                raise errors.KestraConfigError(message, resp.status_code)
        return None
