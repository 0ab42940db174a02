"""ExecutionHandle: one execution as a notebook user holds it (state, wait, kill, outputs, frames).

What ``%kestra_run`` returns, and a plain Python object too: ``ExecutionHandle(client, execution)``.
"""
from __future__ import annotations

from typing import Any

from kestra_magic.notebook.render import FAILED_STATES, TERMINAL, RunView, raw_of, summary_html


class ExecutionHandle:
    """A live reference to one execution on the server; ``refresh()`` re-reads it."""

    def __init__(self, client: Any, execution: Any):
        self.client = client
        self.execution = execution

    # -- identity and state ------------------------------------------------------------------
    @property
    def id(self) -> str:
        return raw_of(self.execution).get("id") or getattr(self.execution, "id", "")

    @property
    def namespace(self) -> str:
        return raw_of(self.execution).get("namespace", "")

    @property
    def flow_id(self) -> str:
        return raw_of(self.execution).get("flowId", "")

    @property
    def state(self) -> str:
        """The current state name as last seen (``refresh()`` to re-read), e.g. ``"RUNNING"``."""
        return (raw_of(self.execution).get("state") or {}).get("current", "") or ""

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def is_failed(self) -> bool:
        return self.state in FAILED_STATES

    @property
    def url(self) -> str | None:
        """Link to the execution in the Kestra UI."""
        try:
            return self.client.ui_url(f"executions/{self.namespace}/{self.flow_id}/{self.id}")
        except Exception:
            return raw_of(self.execution).get("url")

    def refresh(self) -> "ExecutionHandle":
        """Re-read the execution from the server."""
        self.execution = self.client.executions.get_execution(self.id)
        return self

    def wait(self, timeout: float | None = None, *, poll_interval: float = 1.0) -> "ExecutionHandle":
        """Block until the execution ends (SSE follow, polling if the stream fails).

        Raises ``KestraTimeout`` after ``timeout`` seconds; Ctrl-C stops waiting (the run goes on).
        """
        from kestra_magic.errors import KestraTimeout
        from kestra_magic.notebook.follow import ExecutionFollower
        follower = ExecutionFollower(self.client, self.execution, poll_interval=poll_interval,
                                     logs=False).start()
        try:
            finished = _wait_interruptibly(follower.done, timeout)
        finally:
            if not follower.done.is_set():
                follower.stop()
        self.execution = follower.latest
        if follower.lost:
            from kestra_magic.errors import KestraConnectionError
            raise KestraConnectionError(f"lost contact with the server while waiting for execution {self.id} "
                                        f"({follower.error}); check the server, then .wait() again")
        if not finished:
            raise KestraTimeout(f"execution {self.id} is still {self.state} after {timeout:g} s; "
                                f"call .wait() again or .kill() it")
        return self

    def watch(self, timeout: float | None = None, *, wait: bool = True) -> "ExecutionHandle":
        """Show the run live (the widget in Jupyter, text lines in a terminal or plain ``python``)
        and, unless ``wait=False``, block until it ends, pauses or ``timeout`` passes."""
        from kestra_magic.notebook.widget import Monitor
        mon = Monitor(self)
        self._monitor = mon
        mon.start()
        if wait:
            outcome = mon.block(timeout)
            self.execution = mon.follower.latest
            if outcome != "done":
                mon.detach(f"stopped watching execution {self.id} ({outcome}, {self.state}); "
                           f".watch() or .wait() again to re-attach")
        return self

    # -- actions -----------------------------------------------------------------------------
    def kill(self) -> "ExecutionHandle":
        """Ask the server to kill the execution (asynchronous: KILLING, then KILLED)."""
        ex = self.client.executions.kill_execution(self.id)
        if ex is not None and raw_of(ex).get("state"):
            self.execution = ex
        return self

    def resume(self, inputs: dict | None = None) -> "ExecutionHandle":
        """Resume a PAUSED execution, with the Pause task's ``onResume`` inputs if it has any."""
        ex = self.client.executions.resume_execution(self.id, inputs=inputs or None)
        if ex is not None and raw_of(ex).get("state"):
            self.execution = ex
        return self

    def restart(self, revision: int | None = None) -> "ExecutionHandle":
        """Restart a finished execution; returns the handle of the execution that runs."""
        ex = self.client.executions.restart_execution(self.id, revision=revision)
        if raw_of(ex).get("id") and raw_of(ex).get("id") != self.id:
            return ExecutionHandle(self.client, ex)
        self.execution = ex
        return self

    def pause_inputs(self) -> list[dict]:
        """The ``onResume`` inputs declared by the Pause task this execution is paused on."""
        raw = raw_of(self.execution)
        paused = [t for t in raw.get("taskRunList") or []
                  if (t.get("state") or {}).get("current") in ("PAUSED", "BREAKPOINT")]
        if not paused:
            return []
        task_id = paused[-1].get("taskId")
        try:
            flow = self.client.flows.get_flow(self.namespace, self.flow_id,
                                              revision=raw.get("flowRevision"))
        except Exception:
            return []
        task = _find_task(raw_of(flow), task_id)
        return list((task or {}).get("onResume") or [])

    # -- results -----------------------------------------------------------------------------
    @property
    def outputs(self) -> dict:
        """The flow's outputs (``outputs:`` of the flow) once the execution has ended."""
        raw = raw_of(self.execution)
        if raw.get("outputs"):
            return dict(raw["outputs"])
        if self.is_terminal:
            try:
                return dict(self.client.executions.flow_outputs(self.id) or {})
            except Exception:
                return {}
        return {}

    @property
    def task_runs(self):
        """The task runs as a DataFrame (task, value, state, dates, duration, attempts, ...)."""
        from kestra_magic import frames
        if not self.is_terminal:
            self.refresh()
        return frames.task_runs_frame(self.execution)

    def logs(self, level: str | None = None, task: str | None = None):
        """The execution's logs as a DataFrame, optionally from a minimum level / for one task."""
        from kestra_magic import frames
        entries = self.client.logs.list_logs(self.id, min_level=level, task_id=task)
        return frames.logs_frame(entries)

    def read(self, what: str, **opts: Any):
        """Read an output file by output name, file name or ``kestra://`` URI (a DataFrame when tabular)."""
        from kestra_magic.reading import read_output
        return read_output(self.client, self.execution, what, **opts)

    def timeline(self, *, engine: str = "auto"):
        """A Gantt picture of the task runs (matplotlib if installed, else inline SVG)."""
        from kestra_magic.notebook.timeline import Timeline
        if not self.is_terminal:
            self.refresh()
        return Timeline(self.execution, engine=engine)

    # -- display -----------------------------------------------------------------------------
    # %kestra_run sets this to the cell's execution count: its live view already shows the run,
    # so the Out[] copy of the returned handle is skipped in that cell (and only there).
    _shown_in: int | None = None

    def _ipython_display_(self) -> None:
        if self._shown_in is not None:
            from IPython import get_ipython
            shell = get_ipython()
            if shell is not None and shell.execution_count == self._shown_in:
                return
            self._shown_in = None
        from IPython.display import display
        display({"text/html": self._repr_html_(), "text/plain": repr(self)}, raw=True)

    def _repr_html_(self) -> str:
        return summary_html(RunView.of(self.execution, self.url))

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.namespace}.{self.flow_id} {self.id} {self.state}>"


def _find_task(node: Any, task_id: str | None) -> dict | None:
    """The task dict with ``id == task_id`` anywhere in a flow (tasks, then/else, errors, ...)."""
    if isinstance(node, dict):
        if node.get("id") == task_id and "type" in node:
            return node
        for value in node.values():
            found = _find_task(value, task_id)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find_task(value, task_id)
            if found is not None:
                return found
    return None


def _wait_interruptibly(event, timeout: float | None, step: float = 0.1) -> bool:
    """Wait for ``event`` in short slices so Ctrl-C (KeyboardInterrupt) lands within ``step``."""
    import time
    deadline = None if timeout is None else time.monotonic() + timeout
    while not event.is_set():
        left = step if deadline is None else min(step, deadline - time.monotonic())
        if left <= 0:
            return False
        event.wait(left)
    return True
