"""Follow one execution in background threads: SSE updates with a polling fallback, plus a log tail.

The follower only collects (latest execution, bounded log tail, counters) and signals a condition;
views decide when to draw, so the event rate never drives the front-end message rate.
"""
from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable

from kestra_magic.models import TERMINAL_STATES as TERMINAL
from kestra_magic.render import raw_of


def state_of(execution: Any) -> str:
    """The current state name of an Execution model or dict ('' if unknown)."""
    return (raw_of(execution).get("state") or {}).get("current", "") or ""


def _close(iterator: Any) -> None:
    """Close a streaming iterator (a ``LogStream`` closes safely from any thread)."""
    try:
        iterator.close()
    except Exception:
        pass


class ExecutionFollower:
    """Keeps ``latest`` (the newest Execution seen) and ``logs`` (a bounded tail) up to date.

    ``changed`` is notified on every update; ``done`` is set once the execution is terminal and the
    log tail has drained (or the follower is stopped). ``source``: where the last update came from,
    "sse" or "poll".
    """

    def __init__(self, client: Any, execution: Any, *, poll_interval: float = 1.0,
                 log_lines: int = 30, logs: bool = True, min_level: str | None = None,
                 on_update: Callable[[Any], None] | None = None, use_sse: bool = True):
        self.client = client
        self.latest = execution
        self.id: str = raw_of(execution).get("id") or getattr(execution, "id", "")
        self.poll_interval = poll_interval
        self.logs: collections.deque = collections.deque(maxlen=max(1, log_lines))
        self.log_count = 0
        self.updates = 0
        self.source = ""
        self.error: BaseException | None = None
        self.lost = False            # gave up: polling failed for ``give_up_after`` seconds
        self.failing = False         # the last read of the execution failed (the server may be down)
        self.failures = 0            # reads failed in a row (0 once one succeeds again)
        self.give_up_after = 60.0
        self.changed = threading.Condition()
        self.done = threading.Event()
        self._stop = threading.Event()
        self._want_logs = logs
        self._min_level = min_level
        self._on_update = on_update
        self._use_sse = use_sse
        self._log_stream: Any = None
        self._exec_stream: Any = None   # closed by stop() so a silent SSE read cannot outlive it
        self._last_log = 0.0
        self.logs_closed = threading.Event()   # the log stream is closed (drained or stopped)
        self.lagging = False                   # it was still busy when the run ended
        self.tail_incomplete = False           # so the final tail may miss the last lines
        self.drain_idle = 0.3
        self.drain_max = 1.5
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> "ExecutionFollower":
        t = threading.Thread(target=self._run_updates, name=f"kestra-follow-{self.id}", daemon=True)
        self._threads.append(t)
        t.start()
        if self._want_logs:
            lt = threading.Thread(target=self._run_logs, name=f"kestra-logs-{self.id}", daemon=True)
            self._threads.append(lt)
            lt.start()
        return self

    def stop(self) -> None:
        """Stop following (the execution keeps running on the server)."""
        self._stop.set()
        self.done.set()
        self.logs_closed.set()
        self._close_logs()
        if self._exec_stream is not None:   # wake the update thread blocked on a silent stream
            _close(self._exec_stream)
        self._notify()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # -- internals -------------------------------------------------------------------------
    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def _set(self, execution: Any, source: str) -> None:
        self.latest = execution
        self.updates += 1
        self.source = source
        if self._on_update is not None:
            try:
                self._on_update(execution)
            except Exception:
                pass
        self._notify()

    def _run_updates(self) -> None:
        try:
            if self._use_sse:
                try:
                    self._exec_stream = self.client.executions.follow_execution(self.id)
                    if self._stop.is_set():
                        return
                    for ex in self._exec_stream:
                        if self._stop.is_set():
                            return
                        if raw_of(ex).get("state"):  # the `start` event carries a stub
                            self._set(ex, "sse")
                except Exception as err:  # stream failed: fall back to polling below
                    self.error = err
            # After `end` re-fetch once to be safe; if the stream dropped early, poll until terminal.
            failing_since = None
            while not self._stop.is_set():
                try:
                    ex = self.client.executions.get_execution(self.id)
                    failing_since = None
                    self.failing = False
                    self.failures = 0
                    self._set(ex, "poll")
                    if state_of(ex) in TERMINAL:
                        break
                except Exception as err:
                    self.error = err
                    self.failing = True
                    self.failures += 1
                    self._notify()     # views say "connection lost — retrying (n)" at once
                    failing_since = failing_since or time.monotonic()
                    if time.monotonic() - failing_since > self.give_up_after:
                        self.lost = True   # the server is gone (or the client closed): stop trying
                        break
                self._stop.wait(self.poll_interval)
        finally:
            self._drain_logs()   # the live view keeps drawing the tail meanwhile
            self.done.set()
            self._notify()

    def _run_logs(self) -> None:
        try:
            stream = self.client.logs.follow_logs(self.id, min_level=self._min_level)
            self._log_stream = stream
            if self.logs_closed.is_set():  # closed while the stream was opening
                return
            for entry in stream:
                if self._stop.is_set() or self.logs_closed.is_set():
                    break
                self._last_log = time.monotonic()
                if not (raw_of(entry).get("message") or getattr(entry, "message", None)):
                    continue  # the `start` marker is an empty entry
                self.logs.append(entry)
                self.log_count += 1
                self._notify()
        except Exception:
            pass  # the log tail is best effort; the final summary re-reads logs
        finally:
            _close(self._log_stream)

    def _drain_logs(self) -> None:
        """The execution ended: let the log stream deliver what is still in flight (until it has been
        quiet for ``drain_idle`` s, at most ``drain_max`` s), then close it. A stream still busy at
        the end lags behind the run: ``lagging`` asks for one re-read of the tail."""
        if self._want_logs and not self._stop.is_set():
            started = time.monotonic()
            while time.monotonic() - started < self.drain_max and not self._stop.is_set():
                now = time.monotonic()
                if self._log_stream is None and now - started >= self.drain_idle:
                    self.lagging = True    # the stream never opened: re-read the tail instead
                    break
                if self._log_stream is not None and now - self._last_log >= self.drain_idle:
                    break
                time.sleep(0.05)
            else:
                self.lagging = True
        self.logs_closed.set()
        self._close_logs()

    def final_logs(self, refetch: bool = False) -> list:
        """The log tail. Re-read with one GET only when the stream caught nothing (a run too short
        for it) or ``refetch``: that GET holds every line for a moment, which a chatty run's live tail
        never does. A stream that lagged leaves ``tail_incomplete`` set instead."""
        if self.lagging and self.logs and not refetch:
            self.tail_incomplete = True
            return list(self.logs)
        if (refetch or not self.logs) and self._want_logs:
            try:
                entries = self.client.logs.list_logs(self.id, min_level=self._min_level)
                if entries:
                    self.logs.clear()
                    self.logs.extend(entries[-(self.logs.maxlen or 30):])
            except Exception:
                pass
        return list(self.logs)

    def _close_logs(self) -> None:
        stream = self._log_stream
        if stream is not None:
            _close(stream)
