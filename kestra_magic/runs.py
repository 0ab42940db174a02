"""The run layer: one execution as a user holds it (:class:`Run`), shared by scripts and magics.

:class:`KestraClient` is the public client: the API groups of :class:`~kestra_magic.api.client.ApiClient`
plus ``client.run(...)``, ``client.attach(id)`` and ``client.sweep(...)``. ``%kestra_run`` returns the
same :class:`Run` that ``client.run`` does; which states fail a run is decided once, in
``kestra_magic.models.OUTCOMES``.
"""
from __future__ import annotations

import threading
import time
from typing import Any

from kestra_magic.api.client import ApiClient
from kestra_magic.errors import KestraConnectionError, KestraError, KestraTimeout, KestraValidationError
from kestra_magic.models import FAILED_STATES, FAILURE, PAUSED_STATES, SUCCESS, Execution, outcome

_last_run: "Run | None" = None
_last_lock = threading.Lock()


def last_run() -> "Run | None":
    """The most recent Run started in this process (by ``run``, ``%kestra_run``, restart or replay)."""
    return _last_run


def _started(run: "Run") -> "Run":
    global _last_run
    with _last_lock:
        _last_run = run
    return run


def split_flow(flow: str) -> tuple[str, str]:
    """``"company.team.hello"`` -> ``("company.team", "hello")``; a clear ValueError otherwise."""
    if not isinstance(flow, str):
        raise TypeError(f"flow must be 'NAMESPACE.FLOW_ID' (a string), not {type(flow).__name__}")
    ns, dot, flow_id = flow.strip().rpartition(".")
    if not dot or not ns or not flow_id:
        raise ValueError(f"flow {flow!r} is not NAMESPACE.FLOW_ID; write e.g. 'company.team.hello'")
    return ns, flow_id


class ExecutionFailed(KestraError):
    """A run ended in a failure state (FAILED, KILLED, CANCELLED); ``.run`` is the :class:`Run`,
    ``.reason`` the state and the failing task's last error line."""

    def __init__(self, run: "Run", reason: str, reach: str = "km.last_run() returns the run"):
        super().__init__(f"execution {run.id} of {run.namespace}.{run.flow_id} ended {reason} ({reach})")
        self.run = run
        self.reason = reason


def failure_reason(client: Any, execution: Execution, limit: int = 300) -> str:
    """``FAILED at task t: its last error line`` for an execution that ended in failure: the state,
    the last failed task and its last ERROR log line (the state and task alone when the logs cannot
    be read: the reason is a detail of a failure already known, not a new error)."""
    failed = [t for t in execution.task_runs if t.state.current in FAILED_STATES]
    text = execution.state.current or "FAILED"
    if not failed:
        return text
    task = failed[-1].task_id
    text += f" at task {task}"
    try:
        errs = [e for e in client.logs.list_logs(execution.id, min_level="ERROR")
                if e.task_id in (task, None) and e.message]
    except KestraError:
        return text
    if errs:
        text += ": " + " ".join(str(errs[-1].message).split())[:limit]
    return text


class UnknownInput(KestraValidationError, ValueError):
    """An input name the flow does not declare (found before the execution was requested)."""


def describe_inputs(declared: list[dict]) -> str:
    """``name (STRING, required), count (INT)``: a flow's declared inputs as a user reads them."""
    parts = []
    for spec in declared:
        if not isinstance(spec, dict) or not spec.get("id"):
            continue
        needed = spec.get("required", True) is not False and spec.get("defaults") is None
        parts.append(f"{spec['id']} ({spec.get('type') or '?'}{', required' if needed else ''})")
    return ", ".join(parts)


def unknown_inputs_message(flow: str, given: list[str], declared: list[dict]) -> str | None:
    """The one-line error for input names ``flow`` does not declare, or None when all are known."""
    names = {str(spec.get("id")) for spec in declared if isinstance(spec, dict)}
    unknown = [name for name in given if name not in names]
    if not unknown:
        return None
    import difflib
    quoted = ", ".join(repr(n) for n in unknown)
    hint = ""
    if len(unknown) == 1:
        close = difflib.get_close_matches(unknown[0], sorted(names), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
    described = describe_inputs(declared)
    return (f"unknown input{'s' if len(unknown) > 1 else ''} {quoted}{hint} for flow {flow}; "
            + (f"this flow's inputs: {described}" if described else "this flow declares no inputs"))


class KestraClient(ApiClient):
    """A configured Kestra client: ``client.flows``, ``client.executions``, ``client.logs``,
    ``client.namespaces`` (namespace files), and ``client.run(...)`` / ``client.attach(id)`` /
    ``client.sweep(...)`` returning :class:`Run` s."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # (namespace, flow id) -> declared inputs of the latest revision this client saved or read
        self._flow_inputs: dict[tuple[str, str], list[dict]] = {}

    def know_flow(self, flow: Any) -> None:
        """Remember the declared inputs of a flow this notebook or script just saved
        (``%%kestra_flow`` calls this), so :meth:`run` names an unknown input before any request."""
        if getattr(flow, "namespace", None) and getattr(flow, "id", None):
            self._flow_inputs[(flow.namespace, flow.id)] = list(flow.inputs or [])

    def check_inputs(self, flow: str, names: Any, *, fetch: bool = False, revision: int | None = None) -> None:
        """Raise :class:`UnknownInput` if ``names`` holds an input ``flow`` does not declare.

        Checked against the inputs remembered by :meth:`know_flow` (no request: the definition this
        client saved last), or with ``fetch`` against the server's definition (one GET, not
        remembered: it may change). Nothing known and no ``fetch``: nothing to check."""
        ns, flow_id = split_flow(flow)
        names = [str(n) for n in names or ()]
        if not names:
            return
        declared = None if revision is not None or fetch else self._flow_inputs.get((ns, flow_id))
        if declared is None:
            if not fetch:
                return
            try:
                declared = list(self.flows.get_flow(ns, flow_id, source=False, revision=revision).inputs or [])
            except KestraError:
                return                 # no definition to check against: the server's answer stands
        message = unknown_inputs_message(f"{ns}.{flow_id}", names, declared)
        if message:
            raise UnknownInput(message)

    def run(self, flow: str, *, inputs: dict | None = None, files: dict | None = None,
            labels: Any = None, revision: int | None = None, schedule_date: Any = None,
            breakpoints: Any = None, kind: str | None = None, wait: bool = True,
            timeout: float | None = None, kill_on_interrupt: bool = False,
            raise_on_failure: bool = True) -> "Run":
        """Start ``"namespace.flow_id"`` and return its :class:`Run`.

        ``wait=True`` follows it to the end (SSE, polling fallback; Ctrl-C stops waiting within a
        second and kills the run with ``kill_on_interrupt``); ``timeout`` seconds raise
        ``KestraTimeout`` (the run goes on). With ``raise_on_failure`` a run that ends in a failure
        state raises :class:`ExecutionFailed` (``km.last_run()`` still returns it).
        """
        ns, flow_id = split_flow(flow)
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        given = [*(inputs or {}), *(files or {})]
        self.check_inputs(flow, given, revision=revision)          # no request unless a name is unknown
        try:
            execution = self.executions.create_execution(
                ns, flow_id, inputs=inputs or None, files=files or None, labels=labels, revision=revision,
                schedule_date=schedule_date, breakpoints=breakpoints, kind=kind)
        except KestraValidationError:
            # e.g. "Missing required input:name" for --input nme=...: say which name was wrong
            self.check_inputs(flow, given, fetch=True, revision=revision)
            raise
        run = _started(Run(self, execution))
        if wait:
            run.wait(timeout, kill_on_interrupt=kill_on_interrupt)
            if raise_on_failure:
                run.raise_for_outcome()
        return run

    def attach(self, execution_id: str) -> "Run":
        """The :class:`Run` of an existing execution (re-read from the server)."""
        return Run(self, self.executions.get_execution(execution_id))

    def sweep(self, flow: str, rows: Any, **kw: Any):
        """Run ``"namespace.flow_id"`` once per row of inputs; a DataFrame (``kestra_magic.sweep.sweep``)."""
        from kestra_magic.sweep import sweep
        ns, flow_id = split_flow(flow)
        return sweep(self, ns, flow_id, rows, **kw)


class Run:
    """One execution as a user holds it: the typed ``execution`` (last seen; ``refresh()`` re-reads),
    waiting, actions, results and reprs. Every method that talks to the server raises the typed
    ``KestraError`` when it fails."""

    def __init__(self, client: Any, execution: Execution | dict):
        self.client = client
        self.execution = execution if isinstance(execution, Execution) else Execution.from_dict(execution)
        self._outputs: dict | None = None

    # -- identity and state ------------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.execution.id or ""

    @property
    def namespace(self) -> str:
        return self.execution.namespace or ""

    @property
    def flow_id(self) -> str:
        return self.execution.flow_id or ""

    @property
    def state(self) -> str:
        """The state name as last seen, e.g. ``"RUNNING"`` (``execution.state`` has the history)."""
        return self.execution.state.current or ""

    @property
    def outcome(self) -> str:
        """``"success"``, ``"failure"``, ``"paused"`` or ``"running"`` (``kestra_magic.models.OUTCOMES``)."""
        return outcome(self.state)

    @property
    def is_terminal(self) -> bool:
        return self.outcome in (SUCCESS, FAILURE)

    @property
    def is_failed(self) -> bool:
        return self.state in FAILED_STATES

    @property
    def is_paused(self) -> bool:
        return self.state in PAUSED_STATES

    _url: str | None = None

    @property
    def url(self) -> str:
        """Link to the execution's page: Kestra's UI, or the sandbox's read-only page
        (``client.ui_link``; asked once per run, never a link that answers 404). Empty while the
        server cannot be asked (views then show no link rather than a guess)."""
        if self._url is None:
            try:
                self._url = self.client.ui_link(f"executions/{self.namespace}/{self.flow_id}/{self.id}")
            except KestraConnectionError:
                return ""               # asked again once the server answers
            except KestraError:
                self._url = ""          # the server will not give one: do not ask at every view
        return self._url

    def refresh(self) -> "Run":
        """Re-read the execution from the server."""
        self.execution = self.client.executions.get_execution(self.id)
        return self

    def raise_for_outcome(self, reach: str = "km.last_run() returns the run") -> "Run":
        """Raise :class:`ExecutionFailed` if the run ended in a failure state; else return it.
        ``reach``: how the user gets the run back, ended the message with."""
        if self.outcome == FAILURE:
            raise ExecutionFailed(self, failure_reason(self.client, self.execution, limit=200), reach)
        return self

    # -- waiting -----------------------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, poll_interval: float = 1.0,
             kill_on_interrupt: bool = False) -> "Run":
        """Block until the execution ends (SSE follow, polling if the stream fails).

        ``KestraTimeout`` after ``timeout`` seconds; ``KestraConnectionError`` when the server stops
        answering. Ctrl-C stops waiting within ~0.1 s (the run goes on; ``kill_on_interrupt`` kills it).
        """
        from kestra_magic.follow import ExecutionFollower
        follower = ExecutionFollower(self.client, self.execution, poll_interval=poll_interval,
                                     logs=False).start()
        try:
            finished = _wait_interruptibly(follower.done, timeout)
        except KeyboardInterrupt:
            follower.stop()
            self.execution = follower.latest
            if kill_on_interrupt:
                self.kill()
            raise
        finally:
            if not follower.done.is_set():
                follower.stop()
        self.execution = follower.latest
        if follower.lost or (not finished and follower.failing):
            raise KestraConnectionError(f"lost contact with the server while waiting for execution {self.id} "
                                        f"({follower.error}); check the server, then .wait() again")
        if not finished:
            raise KestraTimeout(f"execution {self.id} is still {self.state} after {timeout:g} s; "
                                f"call .wait() again or .kill() it")
        return self

    # -- actions -----------------------------------------------------------------------------
    def _take(self, execution: Any) -> None:
        if isinstance(execution, Execution) and execution.state.current:
            self.execution = execution

    def kill(self) -> "Run":
        """Ask the server to kill the execution (asynchronous: KILLING, then KILLED)."""
        self._take(self.client.executions.kill_execution(self.id))
        return self

    def pause(self) -> "Run":
        """Ask the server to pause a running execution."""
        self._take(self.client.executions.pause_execution(self.id))
        return self

    def resume(self, inputs: dict | None = None) -> "Run":
        """Resume a PAUSED execution, with the Pause task's ``onResume`` inputs if it has any."""
        self._take(self.client.executions.resume_execution(self.id, inputs=inputs or None))
        return self

    def restart(self, revision: int | None = None) -> "Run":
        """Restart a finished execution; returns the Run of the execution that runs."""
        ex = self.client.executions.restart_execution(self.id, revision=revision)
        if ex.id and ex.id != self.id:
            return _started(Run(self.client, ex))
        self._take(ex)
        self._outputs = None
        return _started(self)

    def replay(self, *, task_run_id: str | None = None, revision: int | None = None,
               breakpoints: Any = None) -> "Run":
        """Run it again as a new execution (optionally from a task run); the new Run."""
        ex = self.client.executions.replay_execution(self.id, task_run_id=task_run_id, revision=revision,
                                                     breakpoints=breakpoints)
        return _started(Run(self.client, ex))

    def pause_inputs(self) -> list[dict]:
        """The ``onResume`` inputs declared by the Pause task this execution is paused on."""
        paused = [t for t in self.execution.task_runs if t.state.current in PAUSED_STATES]
        if not paused:
            return []
        flow = self.client.flows.get_flow(self.namespace, self.flow_id, revision=self.execution.flow_revision)
        task = _find_task(flow.raw, paused[-1].task_id)
        return list((task or {}).get("onResume") or [])

    # -- results -----------------------------------------------------------------------------
    @property
    def outputs(self) -> dict:
        """The flow's outputs (``outputs:`` of the flow); ``{}`` while it runs (re-read each time)."""
        if not self.is_terminal:
            self.refresh()
            if not self.is_terminal:
                return dict(self.execution.outputs)
        if self._outputs is None:
            self._outputs = dict(self.client.executions.flow_outputs(self.id) or {})
        return dict(self._outputs)

    @property
    def task_runs(self):
        """The task runs as a DataFrame (task, value, state, dates, duration, attempts, ...)."""
        from kestra_magic import frames
        if not self.is_terminal:
            self.refresh()
        return frames.task_runs_frame(self.execution)

    @property
    def task_outputs(self):
        """Every task output as a DataFrame (one row per task, value and key), on both generations."""
        from kestra_magic import frames
        return frames.task_outputs_frame(self.client.executions.task_outputs(self.id))

    def logs(self, level: str | None = None, task: str | None = None):
        """The execution's logs as a DataFrame, optionally from a minimum level / for one task."""
        from kestra_magic import frames
        return frames.logs_frame(self.client.logs.list_logs(self.id, min_level=level, task_id=task))

    def read(self, what: str, **opts: Any):
        """Read an output file by output name, file name or ``kestra://`` URI (a DataFrame when
        tabular); see ``kestra_magic.reading.read_output`` for ``nrows``, ``via``..."""
        from kestra_magic.reading import read_output
        return read_output(self.client, self.execution, what, **opts)

    def timeline(self, *, engine: str = "auto"):
        """A Gantt picture of the task runs (matplotlib if installed, else inline SVG)."""
        from kestra_magic.timeline import Timeline
        if not self.is_terminal:
            self.refresh()
        return Timeline(self.execution, engine=engine)

    # -- display -----------------------------------------------------------------------------
    # %kestra_run sets this to the cell's execution count: its live view already shows the run,
    # so the Out[] copy of the returned run is skipped in that cell (and only there).
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
        from kestra_magic.render import RunView, summary_html
        return summary_html(RunView.of(self.execution, self.url))

    def __repr__(self) -> str:
        return f"<Run {self.namespace}.{self.flow_id} {self.id} {self.state}>"


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


def _wait_interruptibly(event: threading.Event, timeout: float | None, step: float = 0.1) -> bool:
    """Wait for ``event`` in short slices so Ctrl-C (KeyboardInterrupt) lands within ``step``."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while not event.is_set():
        left = step if deadline is None else min(step, deadline - time.monotonic())
        if left <= 0:
            return False
        event.wait(left)
    return True
