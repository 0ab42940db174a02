"""Execution operations (``client.executions``), named as in Kestra's generated SDKs."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Iterator

from kestra_magic import errors
from kestra_magic.api._filters import filter_params
from kestra_magic.encoding import (breakpoints_param, empty_multipart, input_parts, labels_param,
                                   schedule_date_param)
from kestra_magic.models import Execution, Page
from kestra_magic.sse import iter_events

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport import Transport

KINDS = ("NORMAL", "TEST", "PLAYGROUND", "LOOP")


class ExecutionsApi:
    """Create, watch, control and read the files of executions."""

    def __init__(self, transport: "Transport"):
        self._t = transport

    # -- create / read ----------------------------------------------------------------------------
    def create_execution(self, namespace: str, id: str, *, inputs: dict | None = None,
                         files: dict | None = None, wait: bool = False, labels: Any = None,
                         revision: int | None = None, schedule_date: Any = None, breakpoints: Any = None,
                         kind: str | None = None, **options: Any) -> Execution:
        """Start a flow. Never re-sent once it may have reached the server (KestraAmbiguousError)."""
        params: list[tuple[str, Any]] = [("labels", label) for label in labels_param(labels)]
        if wait:
            params.append(("wait", "true"))
        if revision is not None:
            params.append(("revision", int(revision)))
        date = schedule_date_param(schedule_date)
        if date:
            params.append(("scheduleDate", date))
        bps = breakpoints_param(breakpoints)
        if bps:
            params.append(("breakpoints", bps))
        if kind is not None:
            if str(kind).upper() not in KINDS:
                raise errors.KestraConfigError(f"kind {kind!r} is not an execution kind; use one of "
                                               f"{', '.join(KINDS)}")
            params.append(("kind", str(kind).upper()))
        parts = input_parts(inputs, files)
        body = self._t.json(
            "ExecutionsAPIService.CreateExecution", {"namespace": namespace, "id": id}, params=params,
            files=parts or None, what=f"flow {namespace}.{id}",
            read_timeout=self._t.config.wait_timeout if wait else None, grace=("flow", namespace, id),
            options=options)
        execution = Execution.from_dict(body)
        if execution.id:
            self._t.mark_recent(("execution", execution.id))
        return execution

    def get_execution(self, id: str, **options: Any) -> Execution:
        """One execution (on 2.x without task-run outputs: see ``task_outputs``)."""
        body = self._t.json("ExecutionsAPIService.GetExecution", {"executionId": id}, what=f"execution {id}",
                            grace=("execution", id), options=options)
        return Execution.from_dict(body)

    execution = get_execution

    def search_executions(self, *, namespace: str | None = None, flow_id: str | None = None,
                          state: Any = None, labels: Any = None, page: int = 1, size: int = 25,
                          sort: Any = None, **options: Any) -> Page[Execution]:
        """Search executions with ``filters[...]`` (states: one or a list)."""
        if isinstance(state, str):
            state = [s.strip().upper() for s in state.split(",") if s.strip()]
        elif state is not None:
            state = [str(s).upper() for s in state]
        params = filter_params(page=page, size=size, sort=sort, labels=labels,
                               fields={"namespace": namespace, "flowId": flow_id, "state": state})
        body = self._t.json("ExecutionsAPIService.SearchExecutions", params=params, what="execution search",
                            options=options) or {}
        return Page.from_body(body, Execution.from_dict)

    def follow_execution(self, id: str, **options: Any) -> "ExecutionStream":
        """Yield the execution at each update (SSE) until Kestra sends ``end``.

        If the stream closes without ``end`` the execution is re-read: a terminal one is yielded
        and the iteration ends; otherwise the stream is reopened (at most ``retries`` times).
        The iterator owns its HTTP stream: ``close()`` it from any thread to stop following.
        """
        stream = ExecutionStream()
        stream._events = self._follow(id, stream, options)
        return stream

    def _follow(self, id: str, stream: "ExecutionStream", options: dict) -> Iterator[Execution]:
        last = self.get_execution(id, **options)   # fails fast on an unknown id (the stream waits ~10 s)
        reconnects = 0
        while not stream.closed:
            resp = self._t.send("ExecutionsAPIService.FollowExecution", {"executionId": id}, stream=True,
                                headers={"Accept": "text/event-stream"},
                                read_timeout=self._t.config.stream_timeout, what=f"execution {id}",
                                options=options)
            stream._resp = resp
            if stream.closed:   # closed while the stream was opening
                resp.close()
                return
            ended = False
            try:
                for event in iter_events(self._t.stream_chunks(resp, f"following execution {id}")):
                    if event.id == "start":
                        continue
                    execution = self._parse_event(event.data, id)
                    if execution is None:
                        continue
                    last = execution
                    yield execution
                    if event.id == "end":
                        # an `end` carrying a still-running execution (seen on some builds, kestra#6913)
                        # is checked with a GET below, like a stream closed without `end`
                        ended = execution.state.is_terminal
                        break
            except errors.KestraTimeout:
                raise
            except errors.KestraConnectionError:
                if stream.closed:
                    return   # closed on purpose (Ctrl-C, stop()) from another thread
                # a stream cut mid-way (server restart, proxy): handled as one closed without `end`
            finally:
                resp.close()
            if ended or stream.closed:
                return
            last = self.get_execution(id, **options)
            if last.state.is_terminal:
                yield last
                return
            reconnects += 1
            if reconnects > self._t.config.retries:
                raise errors.KestraConnectionError(
                    f"the follow stream of execution {id} closed {reconnects} times without an end "
                    f"(state {last.state.current}); poll get_execution instead")

    @staticmethod
    def _parse_event(data: str, id: str) -> Execution | None:
        """The execution an event carries, or None (the ``start`` stub, keep-alives, non-JSON text)."""
        try:
            body = json.loads(data)
        except ValueError:
            return None   # lenient: one odd event must not end the follow (a real stream carries JSON)
        if not isinstance(body, dict) or not body.get("state"):
            return None
        return Execution.from_dict(body)

    # -- actions ----------------------------------------------------------------------------------
    def kill_execution(self, id: str, *, is_on_kill_cascade: bool = True, **options: Any) -> Execution:
        """Ask the server to kill it; returns the execution right after (asynchronous: KILLING or
        still RUNNING, then KILLED), on both generations."""
        resp = self._t.send("ExecutionsAPIService.KillExecution", {"executionId": id},
                            params={"isOnKillCascade": "true" if is_on_kill_cascade else "false"},
                            what=f"execution {id}", options=options)
        return self._t.compat.action_result(resp, lambda: self.get_execution(id, **options))

    def restart_execution(self, id: str, *, revision: int | None = None, **options: Any) -> Execution:
        """Restart a terminated or paused execution (same id, or a new one with ``revision``)."""
        params = {"revision": int(revision)} if revision is not None else None
        body = self._t.json("ExecutionsAPIService.RestartExecution", {"executionId": id}, params=params,
                            what=f"execution {id}", options=options)
        execution = Execution.from_dict(body)
        if execution.id and execution.id != id:   # a restart with a revision runs as a new execution
            self._t.mark_recent(("execution", execution.id))
        return execution

    def resume_execution(self, id: str, inputs: dict | None = None, **options: Any) -> Execution:
        """Resume a paused execution, with the Pause task's ``onResume`` inputs if any; returns the
        execution right after, on both generations."""
        parts = input_parts(inputs)
        if parts:
            kw: dict[str, Any] = {"files": parts}
        else:
            data, ctype = empty_multipart()
            kw = {"data": data, "headers": {"Content-Type": ctype}}
        resp = self._t.send("ExecutionsAPIService.ResumeExecution", {"executionId": id}, what=f"execution {id}",
                            options=options, **kw)
        return self._t.compat.action_result(resp, lambda: self.get_execution(id, **options))

    def replay_execution(self, id: str, *, task_run_id: str | None = None, revision: int | None = None,
                         breakpoints: Any = None, **options: Any) -> Execution:
        """Run it again as a new execution, optionally from a task run."""
        params: dict[str, Any] = {}
        if task_run_id:
            params["taskRunId"] = task_run_id
        if revision is not None:
            params["revision"] = int(revision)
        bps = breakpoints_param(breakpoints)
        if bps:
            params["breakpoints"] = bps
        body = self._t.json("ExecutionsAPIService.ReplayExecution", {"executionId": id}, params=params or None,
                            what=f"execution {id}", options=options)
        execution = Execution.from_dict(body)
        if execution.id:
            self._t.mark_recent(("execution", execution.id))
        return execution

    def pause_execution(self, id: str, **options: Any) -> Execution:
        """Pause a running execution; returns the execution right after, on both generations."""
        resp = self._t.send("ExecutionsAPIService.PauseExecution", {"executionId": id}, what=f"execution {id}",
                            options=options)
        return self._t.compat.action_result(resp, lambda: self.get_execution(id, **options))

    def delete_execution(self, id: str, *, delete_logs: bool = True, delete_metrics: bool = True,
                         delete_storage: bool = True, **options: Any) -> None:
        """Delete an execution with its logs, metrics and files."""
        self._t.send("ExecutionsAPIService.DeleteExecution", {"executionId": id},
                     params={"deleteLogs": str(delete_logs).lower(), "deleteMetrics": str(delete_metrics).lower(),
                             "deleteStorage": str(delete_storage).lower()},
                     what=f"execution {id}", options=options)
        self._t.forget_recent(("execution", id))   # a 404 for it now means what it says

    # -- files and outputs ------------------------------------------------------------------------
    def download_file(self, execution_id: str, uri: str, *, format: str | None = None, **options: Any) -> bytes:
        """The bytes of a ``kestra://`` file (``format="JSONL"`` converts ION rows on 2.x)."""
        resp = self._t.send("ExecutionsAPIService.DownloadFileFromExecution", {"executionId": execution_id},
                            params=self._t.compat.file_params(uri, format), what=f"file {uri}", options=options,
                            whole_body=True)
        return resp.content

    def file_metadata(self, execution_id: str, uri: str, **options: Any) -> dict:
        """``{"size": bytes}`` of a ``kestra://`` file."""
        return self._t.json("ExecutionsAPIService.GetFileMetadatasFromExecution", {"executionId": execution_id},
                            params={"path": uri}, what=f"file {uri}", options=options) or {}

    def preview_file(self, execution_id: str, uri: str, *, max_rows: int = 100, encoding: str = "UTF-8",
                     **options: Any) -> dict:
        """Kestra's preview: ``{extension, type, content, maxLine, truncated}``."""
        return self._t.json("ExecutionsAPIService.PreviewFileFromExecution", {"executionId": execution_id},
                            params={"path": uri, "maxRows": int(max_rows), "encoding": encoding},
                            what=f"file {uri}", options=options) or {}

    def flow_outputs(self, execution_id: str, **options: Any) -> dict:
        """The flow-level ``outputs`` of an execution, on either generation."""
        return self._t.compat.flow_outputs(self._getter(execution_id, options), execution_id,
                                           lambda: self.get_execution(execution_id, **options))

    def task_outputs(self, execution_id: str, **options: Any) -> list[dict]:
        """``[{taskId, taskRunId, value, iteration, outputs}]`` for task runs with outputs: the one way
        to reach task outputs on both generations (2.x executions carry none in their task runs)."""
        return self._t.compat.task_outputs(self._getter(execution_id, options), execution_id,
                                           lambda: self.get_execution(execution_id, **options))

    def _getter(self, execution_id: str, options: dict):
        def get(operation: str, path: dict, *, legacy: bool = False) -> Any:
            return self._t.json(operation, path, legacy=legacy, what=f"outputs of execution {execution_id}",
                                options=options)
        return get


class ExecutionStream:
    """What ``follow_execution`` returns: an iterator of executions that owns its HTTP stream.

    ``close()`` works from any thread: shutting the socket down wakes a reader blocked on a silent
    stream (a Ctrl-C'd wait must not leave a thread behind until the next server event).
    """

    def __init__(self) -> None:
        self._events: Iterator[Execution] = iter(())
        self._resp: Any = None
        self.closed = False

    def __iter__(self) -> "ExecutionStream":
        return self

    def __next__(self) -> Execution:
        return next(self._events)

    def close(self) -> None:
        self.closed = True
        resp = self._resp
        if resp is not None:
            try:
                shutdown = getattr(resp.raw, "shutdown", None)   # urllib3 >= 2.3
                if shutdown is not None:
                    shutdown()
                resp.close()
            except Exception:
                pass
        try:
            self._events.close()  # type: ignore[attr-defined]
        except (ValueError, AttributeError):
            pass   # being iterated in another thread: the shutdown above ends that iteration

    def __enter__(self) -> "ExecutionStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
