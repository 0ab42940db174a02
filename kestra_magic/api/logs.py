"""Log operations (``client.logs``), named as in Kestra's generated SDKs."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator

from kestra_magic.compat import response_text
from kestra_magic.models import LogEntry
from kestra_magic.sse import iter_events

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport import Transport


class LogsApi:
    """Read, download and follow an execution's logs."""

    def __init__(self, transport: "Transport"):
        self._t = transport

    def list_logs(self, execution_id: str, *, min_level: str | None = None, task_id: str | None = None,
                  task_run_id: str | None = None, attempt: int | None = None, **options: Any) -> list[LogEntry]:
        """All log entries of an execution, oldest first, optionally filtered."""
        params = self._t.compat.log_params(min_level=min_level, task_id=task_id, task_run_id=task_run_id,
                                           attempt=attempt)
        body = self._t.json("LogsAPIService.ListLogsFromExecution", {"executionId": execution_id}, params=params,
                            what=f"logs of execution {execution_id}", options=options) or []
        return [LogEntry.from_dict(e) for e in body]

    def download_logs(self, execution_id: str, *, min_level: str | None = None, task_id: str | None = None,
                      task_run_id: str | None = None, attempt: int | None = None, **options: Any) -> str:
        """The logs as text, one ``<timestamp> <LEVEL> <message>`` line per entry."""
        params = self._t.compat.log_params(min_level=min_level, task_id=task_id, task_run_id=task_run_id,
                                           attempt=attempt)
        resp = self._t.send("LogsAPIService.DownloadLogsFromExecution", {"executionId": execution_id},
                            params=params, what=f"logs of execution {execution_id}", options=options)
        return response_text(resp)

    def follow_logs(self, execution_id: str, *, min_level: str | None = None,
                    **options: Any) -> Iterator[LogEntry]:
        """Live log entries (SSE). Kestra never ends this stream: ``close()`` the iterator when done."""
        params = self._t.compat.log_params(min_level=min_level)
        resp = self._t.send("LogsAPIService.FollowLogsFromExecution", {"executionId": execution_id},
                            params=params, stream=True, headers={"Accept": "text/event-stream"},
                            read_timeout=self._t.config.stream_timeout,
                            what=f"logs of execution {execution_id}", options=options)
        return LogStream(resp, self._iterate(resp, execution_id))

    def _iterate(self, resp, execution_id: str) -> Iterator[LogEntry]:
        for event in iter_events(self._t.stream_chunks(resp, f"following logs of {execution_id}")):
            if event.id == "start":
                continue
            try:
                body = json.loads(event.data)
            except ValueError:
                continue
            if isinstance(body, dict) and (body.get("message") is not None or body.get("level")):
                yield LogEntry.from_dict(body)


class LogStream:
    """An iterator of live log entries that owns its HTTP stream: ``close()`` it (or use ``with``)."""

    def __init__(self, resp, entries: Iterator[LogEntry]):
        self._resp = resp
        self._entries = entries

    def __iter__(self) -> "LogStream":
        return self

    def __next__(self) -> LogEntry:
        return next(self._entries)

    def close(self) -> None:
        """Stop the stream; safe from any thread. A reader blocked in another thread is only woken
        by shutting the socket down (urllib3 >= 2.3 ``HTTPResponse.shutdown``); closing the
        generator while it runs there raises "already executing", so that case is left to it."""
        shutdown = getattr(getattr(self._resp, "raw", None), "shutdown", None)
        if shutdown is not None:
            try:
                shutdown()
            except (OSError, ValueError):
                pass     # already closed / connection released
        try:
            self._entries.close()  # type: ignore[attr-defined]
        except ValueError:
            pass     # generator running in another thread: the shutdown above ends it
        self._resp.close()

    def __enter__(self) -> "LogStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
