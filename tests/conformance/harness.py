"""Drive the sandbox engine without HTTP: a real Store and Engine, flows from YAML, executions
created as the create-execution route creates them, waited for through the store."""
from __future__ import annotations

import textwrap
import time

from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox.engine import Engine
from kestra_magic.sandbox.instants import format_instant as instant
from kestra_magic.sandbox.states import TERMINAL, new_state
from kestra_magic.sandbox.inputs import convert_inputs
from kestra_magic.sandbox.store import Store


class FlowInvalid(AssertionError):
    """The sandbox rejects the flow (the message lists every (path, message) problem)."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__("; ".join(f"{p}: {m}" for p, m in problems))
        self.problems = problems


class EngineHarness:
    """One Store + Engine of generation ``generation`` (1 or 2)."""

    def __init__(self, generation: int):
        self.generation = generation
        self.store = Store(generation)
        self.engine = Engine(self.store)

    def close(self) -> None:
        self.engine.shutdown()
        self.store.close()

    # -- flows ---------------------------------------------------------------------------
    def flow(self, source: str) -> dict:
        """Validate and save a flow (YAML); raises FlowInvalid with the sandbox's problems."""
        source = textwrap.dedent(source)
        flow = flowsmod.parse(source)
        problems = flowsmod.violations(flow, self.generation, self.engine.validate)
        if problems:
            raise FlowInvalid(problems)
        flow["source"] = source
        return self.store.save_flow(flow)

    # -- executions ------------------------------------------------------------------------
    def create(self, flow: dict | str, inputs: dict | None = None, labels: dict | None = None,
               taskrun_list: list | None = None) -> str:
        """Store a CREATED execution of ``flow`` (a saved flow or YAML) and start it; its id."""
        if isinstance(flow, str):
            flow = self.flow(flow)
        ex_id = self.store.new_id()
        flow_labels = flowsmod.labels_of(flow)   # the route puts the flow's labels on its executions
        all_labels = [{"key": k, "value": v} for k, v in flow_labels.items() if not k.startswith("system.")]
        all_labels += [{"key": str(k), "value": str(v)} for k, v in (labels or {}).items()]
        all_labels.append({"key": "system.correlationId", "value": ex_id})
        ex = {"id": ex_id, "namespace": flow["namespace"], "flowId": flow["id"], "flowRevision": flow["revision"],
              "tenantId": "main", "state": new_state("CREATED"),
              "inputs": convert_inputs(flow.get("inputs") or [], inputs or {}), "labels": all_labels,
              "originalId": ex_id, "deleted": False,
              "metadata": {"attemptNumber": 1, "originalCreatedDate": instant()}}
        if taskrun_list is not None:
            ex["taskRunList"] = taskrun_list
        self.store.save_execution(ex)
        self.engine.start(ex_id)
        return ex_id

    def wait(self, ex_id: str, until=None, timeout: float = 60) -> dict:
        """Block until ``until(execution)`` holds (default: terminal and the engine done with it)."""
        deadline = time.monotonic() + timeout
        with self.store.lock:
            while True:
                ex = self.store.executions.get(ex_id)
                if ex is not None and (until or wait_default)(ex):
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"execution {ex_id} still {ex and ex['state']['current']} after {timeout}s")
                self.store.changed.wait(0.2)
        run = self.engine.run_of(ex_id)
        if run is not None and run.thread is not None and ex["state"]["current"] in TERMINAL:
            run.thread.join(timeout)
        return self.store.get_execution(ex_id)

    def run(self, flow: dict | str, inputs: dict | None = None, labels: dict | None = None,
            timeout: float = 60) -> dict:
        """Create, start and wait for the end; the final execution."""
        return self.wait(self.create(flow, inputs, labels), timeout=timeout)

    def wait_until(self, test, timeout: float = 30) -> None:
        """Block until ``test()`` holds (checked on every store change)."""
        deadline = time.monotonic() + timeout
        while not test():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition still false after {timeout}s")
            with self.store.lock:
                self.store.changed.wait(0.2)

    def logs(self, ex_id: str) -> list[dict]:
        return self.store.logs_for(ex_id)

    def executions_of(self, flow_id: str) -> list[dict]:
        """Every execution of the flow ``flow_id``, oldest first."""
        with self.store.lock:
            ids = [e["id"] for e in self.store.executions.values() if e["flowId"] == flow_id]
        return sorted((self.store.get_execution(i) for i in ids), key=lambda e: e["state"]["histories"][0]["date"])

    def children(self, ex_id: str) -> list[dict]:
        with self.store.lock:
            ids = [e["id"] for e in self.store.executions.values() if e.get("parentId") == ex_id]
        return [self.store.get_execution(i) for i in ids]


def wait_default(ex: dict) -> bool:
    return ex["state"]["current"] in TERMINAL


# -- small readers of an execution --------------------------------------------------------

def task_runs(ex: dict, task_id: str | None = None) -> list[dict]:
    return [tr for tr in ex.get("taskRunList") or [] if task_id is None or tr["taskId"] == task_id]


def states(ex: dict, task_id: str) -> list[str]:
    return [tr["state"]["current"] for tr in task_runs(ex, task_id)]


def attempts(ex: dict, task_id: str) -> int:
    return sum(len(tr.get("attempts") or []) for tr in task_runs(ex, task_id))


def history(state: dict) -> list[str]:
    return [h["state"] for h in state.get("histories") or []]
