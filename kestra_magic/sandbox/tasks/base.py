"""The contract between the sandbox engine and the task types it runs.

A *runnable* task is a function ``run(props, ctx) -> outputs`` registered with
:func:`task`. The engine validates a flow's task properties against the
registered :class:`TaskDef` (unknown / missing properties), then, when a task
run starts, calls ``run`` with the task's raw properties (a dict, the YAML as
written) and a :class:`RunContext`. Tasks render what they need with
``ctx.render(...)`` (Kestra renders dynamic properties, not all of them), log
with ``ctx.log``, store files with ``ctx.put_file`` and return their outputs as
a plain JSON-able dict (file outputs are ``kestra:///...`` URI strings).

*Flowable* tasks (Parallel, If, ForEach, Loop, Subflow, Pause, ...) register a
``drive(walk, run, task, taskrun, scope)`` function with :func:`flowable` (see
``tasks/flow.py``): it runs the children through the engine's walker (``walk.block``,
``walk.run_task``, ``walk.concurrently``, ...) and returns the task run's final state,
or ``(state, outputs)``.

Raise :class:`TaskFailure` to fail the task run with a message (logged at
ERROR, as Kestra does); any other exception also fails the task run. A failure may
carry ``outputs`` (``failure.outputs = {...}``, e.g. a script's ``exitCode``); ``run``
may return a :class:`TaskResult` instead of a dict to end in WARNING.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

# Properties every Kestra task accepts, whatever its type.
COMMON_PROPERTIES = frozenset({
    "id", "type", "description", "retry", "timeout", "disabled", "logLevel",
    "allowFailure", "allowWarning", "logToFile", "runIf", "workerGroup", "workerSelector",
    "version",
})


class TaskFailure(Exception):
    """Fails the current task run; the message is logged at ERROR level."""

    outputs: dict | None = None   # outputs the failed task run still shows (e.g. exitCode)


@dataclass
class TaskDef:
    type: str
    run: Callable[[dict, "RunContext"], dict | None] | None
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    aliases: tuple[str, ...] = ()
    flowable: bool = False
    # Kestra generations the type exists on (ForEach: {1}; Loop: {2})
    generations: frozenset[int] = frozenset({1, 2})
    removed_message: str | None = None  # message when used on a generation it is not on
    # flowable tasks: drive(walk, run, task, taskrun, scope) -> state | (state, outputs)
    drive: Callable[..., Any] | None = None
    # executable flowables (Subflow): drive runs in the attempt loop, returns outputs or raises TaskFailure
    executable: bool = False

    @property
    def allowed(self) -> frozenset[str]:
        return self.required | self.optional | COMMON_PROPERTIES


REGISTRY: dict[str, TaskDef] = {}


def task(type_: str, *, required=(), optional=(), aliases=(), flowable=False,
         generations=(1, 2), removed_message=None):
    """Register a runnable task type. Use as a decorator on ``run(props, ctx)``."""
    def register(fn):
        tdef = TaskDef(type_, None if flowable else fn, frozenset(required), frozenset(optional),
                       tuple(aliases), flowable, frozenset(generations), removed_message)
        for name in (type_, *aliases):
            existing = REGISTRY.get(name)
            if flowable and existing is not None and existing.drive is not None:
                continue   # a property-only declaration never replaces the drive function of tasks/flow.py
            REGISTRY[name] = tdef
        return fn
    return register


def flowable(type_: str, *, required=(), optional=(), aliases=(), generations=(1, 2), removed_message=None,
             executable: bool = False):
    """Register a flowable task type. Use as a decorator on ``drive(walk, run, task, taskrun, scope)``.

    ``executable``: the task runs in attempts like a runnable one (Kestra's ExecutableTask:
    Subflow); ``drive`` then returns outputs (or a TaskResult) or raises TaskFailure."""
    def register(fn):
        tdef = TaskDef(type_, None, frozenset(required), frozenset(optional), tuple(aliases), True,
                       frozenset(generations), removed_message, drive=fn, executable=executable)
        for name in (type_, *aliases):
            REGISTRY[name] = tdef
        return fn
    return register


def lookup(type_: str) -> TaskDef | None:
    _load_builtin_tasks()
    return REGISTRY.get(type_)


_loaded = False
_load_lock = threading.Lock()


def _load_builtin_tasks() -> None:
    """Import the modules that register task types (once)."""
    global _loaded
    if _loaded:
        return
    with _load_lock:
        if _loaded:
            return
        import importlib
        import pkgutil
        from kestra_magic.sandbox import tasks as pkg
        for mod in pkgutil.iter_modules(pkg.__path__):
            if mod.name != "base":
                importlib.import_module(f"{pkg.__name__}.{mod.name}")
        _loaded = True


class RunContext(Protocol):
    """What the engine gives a running task."""

    generation: int            # 1 or 2: the Kestra generation the sandbox emulates
    execution_id: str
    namespace: str
    flow_id: str
    task_id: str
    task_run_id: str
    value: Any                 # ForEach/Loop iteration value, or None
    cancelled: threading.Event  # set when the execution is killed
    store: Any                 # the sandbox store (sandbox/store.py): KV, namespace files, internal storage

    def render(self, value: Any) -> Any:
        """Render Pebble expressions in a string, or recursively in lists/dicts."""

    def log(self, level: str, message: str) -> None:
        """Append a log entry (TRACE|DEBUG|INFO|WARN|ERROR) to this task run."""

    def workdir(self) -> Path:
        """A fresh working directory for this task run (removed afterwards)."""

    def put_file(self, name: str, data: bytes | Path) -> str:
        """Store a file in internal storage under this task run; returns its kestra:/// URI."""

    def local_path(self, uri: str) -> Path:
        """The local file behind a kestra:/// URI (raises TaskFailure if unknown)."""

    def sleep(self, seconds: float) -> None:
        """Sleep, returning early (raising TaskFailure) if the execution is killed."""

    # also provided by the engine (sandbox/engine_walk.py TaskContext):
    #   attempt: int (0-based attempt number), task: dict (the task's YAML),
    #   render(value, **extra) with extra variables (e.g. workingDir), variables(**extra) -> dict,
    #   read_text(uri) -> str, set_labels(dict) (execution labels),
    #   storage_prefix() -> "kestra:///<ns>/<flow>/executions/<id>/tasks/<task>/<run>"


@dataclass
class TaskResult:
    """What a runnable task produced (the engine builds it from run()'s return)."""
    outputs: dict = field(default_factory=dict)
    state: str = "SUCCESS"     # SUCCESS or WARNING (a task may end in WARNING)
