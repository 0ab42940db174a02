"""Light dataclasses over Kestra's JSON, parsed leniently from either generation.

Every model keeps the original dict in ``.raw`` so nothing the server sent is lost;
missing keys become ``None``/empty instead of errors (2.x drops fields 1.x had).
Dates and durations stay the ISO-8601 strings Kestra sent.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")

# The outcome policy, decided once for scripts, magics and sweeps: what a state means for whoever
# started the run. It follows Kestra's own classification (kestra-io/kestra
# core/src/main/java/io/kestra/core/models/flows/State.java, ``State.Type.isTerminated()`` and
# ``isTerminatedNoFail()``): a terminated state outside "terminated without failure" is a failure.
# So CANCELLED fails: Kestra sets it when an execution ends without running its tasks (a flow
# ``concurrency: {behavior: CANCEL}`` over its limit; docs workflow-components/concurrency), which
# is never the result a caller asked for. RETRIED and RESUBMITTED ended without failure here (their
# work goes on in another execution), SKIPPED too. PAUSED and BREAKPOINT wait for a person.
SUCCESS, FAILURE, PAUSED, RUNNING = "success", "failure", "paused", "running"
OUTCOMES: dict[str, str] = {
    "SUCCESS": SUCCESS, "WARNING": SUCCESS, "SKIPPED": SUCCESS, "RETRIED": SUCCESS, "RESUBMITTED": SUCCESS,
    "FAILED": FAILURE, "KILLED": FAILURE, "CANCELLED": FAILURE,
    "PAUSED": PAUSED, "BREAKPOINT": PAUSED,
    "CREATED": RUNNING, "SUBMITTED": RUNNING, "QUEUED": RUNNING, "RUNNING": RUNNING, "RESTARTED": RUNNING,
    "KILLING": RUNNING, "RETRYING": RUNNING,
}
TERMINAL_STATES = frozenset(s for s, o in OUTCOMES.items() if o in (SUCCESS, FAILURE))
FAILED_STATES = frozenset(s for s, o in OUTCOMES.items() if o == FAILURE)
PAUSED_STATES = frozenset(s for s, o in OUTCOMES.items() if o == PAUSED)


def outcome(state: str | None) -> str:
    """``"success"``, ``"failure"``, ``"paused"`` or ``"running"`` for a state name (see ``OUTCOMES``).

    A state this table does not know (a newer server) counts as still running: waiting goes on.
    """
    return OUTCOMES.get(state or "", RUNNING)


def labels_to_dict(labels: Any) -> dict[str, str]:
    """Kestra sends labels as ``[{key, value}]`` (sometimes as a map); return a dict."""
    if isinstance(labels, dict):
        return {str(k): v for k, v in labels.items()}
    out: dict[str, str] = {}
    for item in _list(labels):
        if isinstance(item, dict) and "key" in item:
            out[str(item["key"])] = item.get("value")
    return out


def _dict(d: Any) -> dict:
    return d if isinstance(d, dict) else {}


def _list(v: Any) -> list:
    """A JSON array as a list; anything else (null, a future object shape) as []."""
    return list(v) if isinstance(v, list) else []


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) else None


@dataclass
class State:
    """An execution's or task run's state with its history."""
    current: str | None
    histories: list[dict] = field(default_factory=list)
    start_date: str | None = None
    end_date: str | None = None
    duration: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.current in TERMINAL_STATES

    @property
    def is_failed(self) -> bool:
        return self.current in FAILED_STATES

    @property
    def is_paused(self) -> bool:
        return self.current in PAUSED_STATES

    @property
    def outcome(self) -> str:
        """What the state means for the caller: ``"success"``, ``"failure"``, ``"paused"``, ``"running"``."""
        return outcome(self.current)

    @classmethod
    def from_dict(cls, d: Any) -> "State":
        d = _dict(d)
        histories = _list(d.get("histories"))
        first = histories[0] if histories and isinstance(histories[0], dict) else {}
        last = histories[-1] if histories and isinstance(histories[-1], dict) else {}
        start = d.get("startDate") or first.get("date")
        # ``current`` is always sent today; the last history entry says the same if it is not
        return cls(current=_str(d.get("current")) or _str(last.get("state")), histories=histories, start_date=start,
                   end_date=d.get("endDate"), duration=d.get("duration"), raw=d)


@dataclass
class TaskRun:
    """One run of one task (one per iteration value for flowable tasks)."""
    id: str | None
    task_id: str | None
    value: Any = None
    iteration: int | None = None
    parent_task_run_id: str | None = None
    state: State = field(default_factory=lambda: State(None))
    attempts: list[dict] = field(default_factory=list)
    outputs: dict | None = None          # None on 2.x: outputs live behind their own endpoint
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> "TaskRun":
        d = _dict(d)
        outputs = d.get("outputs")
        return cls(id=d.get("id"), task_id=d.get("taskId"), value=d.get("value"),
                   iteration=d.get("iteration"), parent_task_run_id=d.get("parentTaskRunId"),
                   state=State.from_dict(d.get("state")), attempts=_list(d.get("attempts")),
                   outputs=outputs if isinstance(outputs, dict) else None, raw=d)


@dataclass
class Execution:
    """One execution of a flow."""
    id: str | None
    namespace: str | None = None
    flow_id: str | None = None
    flow_revision: int | None = None
    state: State = field(default_factory=lambda: State(None))
    task_runs: list[TaskRun] = field(default_factory=list)
    inputs: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    url: str | None = None
    parent_id: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> "Execution":
        d = _dict(d)
        return cls(id=d.get("id"), namespace=d.get("namespace"), flow_id=d.get("flowId"),
                   flow_revision=d.get("flowRevision"), state=State.from_dict(d.get("state")),
                   task_runs=[TaskRun.from_dict(t) for t in _list(d.get("taskRunList"))],
                   inputs=_dict(d.get("inputs")), outputs=_dict(d.get("outputs")),
                   labels=labels_to_dict(d.get("labels")), url=d.get("url"),
                   parent_id=d.get("parentId"), raw=d)


@dataclass
class Flow:
    """A flow definition (with its YAML ``source`` when asked for)."""
    id: str | None
    namespace: str | None = None
    revision: int | None = None
    source: str | None = None
    tasks: list[dict] = field(default_factory=list)
    inputs: list[dict] = field(default_factory=list)
    labels: dict = field(default_factory=dict)
    deleted: bool = False
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> "Flow":
        d = _dict(d)
        return cls(id=d.get("id"), namespace=d.get("namespace"), revision=d.get("revision"),
                   source=d.get("source"), tasks=_list(d.get("tasks")),
                   inputs=_list(d.get("inputs")), labels=labels_to_dict(d.get("labels")),
                   deleted=bool(d.get("deleted", False)), raw=d)


@dataclass
class LogEntry:
    """One log line of an execution."""
    timestamp: str | None
    level: str | None = None
    message: str | None = None
    task_id: str | None = None
    task_run_id: str | None = None
    attempt_number: int | None = None
    execution_id: str | None = None
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_dict(cls, d: Any) -> "LogEntry":
        d = _dict(d)
        return cls(timestamp=d.get("timestamp"), level=d.get("level"), message=d.get("message"),
                   task_id=d.get("taskId"), task_run_id=d.get("taskRunId"),
                   attempt_number=d.get("attemptNumber"), execution_id=d.get("executionId"), raw=d)


@dataclass
class Page(Generic[T]):
    """One page of a search: ``results`` plus the server's ``total`` count."""
    results: list[T] = field(default_factory=list)
    total: int = 0

    def __iter__(self) -> Iterator[T]:
        return iter(self.results)

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i):
        return self.results[i]

    @classmethod
    def from_body(cls, body: Any, item: Callable[[Any], T]) -> "Page[T]":
        """Kestra's ``PagedResults`` ``{results, total}`` (``total`` missing or odd: the results' count)."""
        body = _dict(body)
        results = [item(r) for r in _list(body.get("results"))]
        total = body.get("total")
        try:
            total = int(total) if total is not None and not isinstance(total, bool) else len(results)
        except (TypeError, ValueError):
            total = len(results)
        return cls(results, total)

