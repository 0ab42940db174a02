"""Fault injection for the client's reliability tests (off by default, per server instance).

Rules are consumed first-registered first; each applies to the next ``times`` matching
requests. Also driven over HTTP: ``POST /_sandbox/faults`` ``{"kind": ..., kwargs...}`` and
``DELETE /_sandbox/faults``.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

MALFORMED_KINDS = ("truncated", "invalid-json", "html")


@dataclass
class Fault:
    """One armed rule. ``kind``: fail | drop | malformed."""
    kind: str
    times: int
    method: str | None = None
    path: str | None = None
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    content_type: str | None = None
    after_handling: bool = False
    malformed: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return not self.path or re.search(self.path, path) is not None

    def describe(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, {}, False) and k != "body"}


class FaultInjector:
    """The armed faults of one sandbox; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[Fault] = []
        self._latency = 0.0
        self._sse: list[list[int]] = []     # [events, times remaining]

    # -- arming ----------------------------------------------------------------------------
    def latency(self, seconds: float) -> None:
        """Add ``seconds`` before every request is handled (0 clears it)."""
        seconds = float(seconds)
        if seconds < 0:
            raise ValueError("latency(seconds): seconds must be >= 0")
        with self._lock:
            self._latency = seconds

    def fail(self, status: int, *, times: int = 1, method: str | None = None, path: str | None = None,
             headers: dict | None = None, body: bytes | str | dict | list | None = None,
             content_type: str | None = None) -> None:
        """Answer the next ``times`` matching requests with this canned response (not handled)."""
        status = int(status)
        if not 100 <= status <= 599:
            raise ValueError(f"fail(status): {status} is not an HTTP status code (100-599)")
        if isinstance(body, (dict, list)):
            import json
            body = json.dumps(body)
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode()
        self._add(Fault("fail", self._times(times), method, self._regex(path), status,
                        dict(headers or {}), body, content_type))

    def drop(self, *, times: int = 1, method: str | None = None, path: str | None = None,
             after_handling: bool = False) -> None:
        """Close the connection with no response (after handling the request if asked)."""
        self._add(Fault("drop", self._times(times), method, self._regex(path),
                        after_handling=bool(after_handling)))

    def sse_drop_after(self, events: int, *, times: int = 1) -> None:
        """The next ``times`` SSE follow streams close after ``events`` events, with no ``end``."""
        events = int(events)
        if events < 0:
            raise ValueError("sse_drop_after(events): events must be >= 0")
        with self._lock:
            self._sse.append([events, self._times(times)])

    def malformed(self, kind: str, *, times: int = 1, method: str | None = None,
                  path: str | None = None) -> None:
        """Handle the request, then corrupt the response: truncated | invalid-json | html."""
        if kind not in MALFORMED_KINDS:
            raise ValueError(f"malformed(kind): {kind!r} is not one of {', '.join(MALFORMED_KINDS)}")
        self._add(Fault("malformed", self._times(times), method, self._regex(path), malformed=kind))

    def clear(self) -> None:
        """Disarm everything."""
        with self._lock:
            self._rules.clear()
            self._sse.clear()
            self._latency = 0.0

    def configure(self, spec: dict[str, Any]) -> None:
        """Arm a fault from its JSON description (the HTTP control endpoint)."""
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError('a fault is a JSON object with a "kind": latency | fail | drop | '
                             'sse_drop_after | malformed')
        kwargs = dict(spec)
        kind = kwargs.pop("kind")
        methods = {"latency": self.latency, "fail": self.fail, "drop": self.drop,
                   "sse_drop_after": self.sse_drop_after, "malformed": self.malformed}
        if kind not in methods:
            raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(methods)}")
        try:
            methods[kind](**kwargs)
        except TypeError as exc:
            raise ValueError(f"bad arguments for fault {kind!r}: {exc}") from None

    # -- consuming -------------------------------------------------------------------------
    @property
    def delay(self) -> float:
        return self._latency

    def take(self, method: str, path: str) -> Fault | None:
        """The first armed rule matching this request (one use of it is consumed)."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(method, path):
                    rule.times -= 1
                    if rule.times <= 0:
                        self._rules.remove(rule)
                    return rule
        return None

    def take_sse_limit(self) -> int | None:
        """How many events the SSE stream being opened may send, or None for no limit."""
        with self._lock:
            if not self._sse:
                return None
            events, _ = entry = self._sse[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._sse.pop(0)
            return events

    def active(self) -> dict:
        with self._lock:
            return {"latency": self._latency, "rules": [r.describe() for r in self._rules],
                    "sse_drop_after": [{"events": e, "times": t} for e, t in self._sse]}

    # -- helpers ---------------------------------------------------------------------------
    def _add(self, fault: Fault) -> None:
        with self._lock:
            self._rules.append(fault)

    @staticmethod
    def _times(times: int) -> int:
        times = int(times)
        if times < 1:
            raise ValueError("times must be >= 1")
        return times

    @staticmethod
    def _regex(path: str | None) -> str | None:
        if path is None:
            return None
        try:
            re.compile(path)
        except re.error as exc:
            raise ValueError(f"path {path!r} is not a valid regular expression: {exc}") from None
        return path
