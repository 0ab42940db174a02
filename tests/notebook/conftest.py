"""Notebook fixtures: a shell that raises on cell errors, the KestraMagic instance, execution data."""
from __future__ import annotations

import pytest


class CellFailed(AssertionError):
    """A cell failed; ``.error`` is what the cell raised, ``.output`` what it printed."""

    def __init__(self, error, output):
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.output = output


class Runner:
    """Runs cells in a real InteractiveShell; ``run`` raises ``CellFailed`` on any cell error
    (like jupysql's testing shell) and returns the cell's value; ``out`` collects printed text."""

    def __init__(self, ip, capsys):
        self.ip = ip
        self.capsys = capsys
        self.out = ""

    @property
    def magic(self):
        return self.ip.magics_manager.registry["KestraMagic"]

    def run(self, cell: str):
        result = self.ip.run_cell(cell, store_history=True)
        captured = self.capsys.readouterr()
        self.out += captured.out + captured.err
        error = result.error_before_exec or result.error_in_exec
        if error is not None:
            raise CellFailed(error, captured.out + captured.err)
        return result.result

    def fails(self, cell: str) -> CellFailed:
        """Run a cell that must fail; return the failure (its printed output included)."""
        try:
            self.run(cell)
        except CellFailed as failed:
            return failed
        raise AssertionError(f"cell did not fail: {cell!r}")

    @property
    def ns(self):
        return self.ip.user_ns


@pytest.fixture
def ip(ip):
    """The shared ``ip`` shell, made cheap to reset: no on-disk history database (every process of
    the suite would contend for ~/.ipython's sqlite file), and objects that existed before the test
    frozen out of the garbage collector so the ``gc.collect()`` in the shell's reset scans only what
    the test created (garbage of earlier tests was collected by their own resets)."""
    import gc
    ip.history_manager.enabled = False
    gc.freeze()
    return ip


@pytest.fixture(scope="session", autouse=True)
def _unfreeze_gc_at_the_end():
    yield
    import gc
    gc.unfreeze()


@pytest.fixture
def nb(ip, capsys):
    """A Runner over the shared ``ip`` shell (extension loaded); ``%config KestraMagic`` settings
    are dropped afterwards (the shell is a singleton whose config outlives the test)."""
    yield Runner(ip, capsys)
    ip.config.pop("KestraMagic", None)


def make_execution(state="RUNNING", tasks=(("extract", "SUCCESS", None), ("transform", "RUNNING", None)),
                   id="5Gh7kLmN0pQrStUvWxYz12", namespace="company.team", flow_id="etl"):
    """A Kestra 1.x-shaped execution dict (what the server sends), for pure rendering tests."""
    start = "2026-01-01T10:00:00Z"
    task_runs = []
    for i, (task_id, tstate, value) in enumerate(tasks):
        tr_state = {"current": tstate,
                    "histories": [{"state": "CREATED", "date": f"2026-01-01T10:00:0{i}Z"},
                                  {"state": tstate, "date": f"2026-01-01T10:00:0{i + 1}.500Z"}],
                    "startDate": f"2026-01-01T10:00:0{i}Z"}
        if tstate in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
            tr_state["endDate"] = f"2026-01-01T10:00:0{i + 1}.500Z"
        task_runs.append({"id": f"tr{i}", "taskId": task_id, "value": value, "state": tr_state,
                          "attempts": [{"state": {"current": tstate}}], "outputs": None})
    st = {"current": state, "histories": [{"state": "CREATED", "date": start}], "startDate": start}
    if state in ("SUCCESS", "FAILED", "WARNING", "KILLED"):
        st["endDate"] = "2026-01-01T10:00:05Z"
    return {"id": id, "namespace": namespace, "flowId": flow_id, "flowRevision": 1, "state": st,
            "taskRunList": task_runs, "labels": [{"key": "team", "value": "data"}],
            "outputs": {"rows": 42} if state == "SUCCESS" else {}}


@pytest.fixture
def kb(nb, sandbox_v2):
    """``nb`` pointed at the (2.x) sandbox, text output; the shared client is reset afterwards."""
    import kestra_magic as km
    nb.sb = sandbox_v2
    nb.run(f"%kestra_config --url {sandbox_v2.url}")
    nb.run("%config KestraMagic.widget = 'off'")
    nb.out = ""
    yield nb
    km.configure(reset=True)


def flow_yaml(ns: str, flow_id: str, tasks: str, extra: str = "") -> str:
    return f"id: {flow_id}\nnamespace: {ns}\n{extra}tasks:\n{tasks}"


LOG_TASK = """  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{ inputs.name }}"
"""
PAUSE_TASK = """  - id: approve
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: reason
        type: STRING
        defaults: fine
"""
SLEEP_TASK = """  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""
FAIL_TASK = """  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "the data is bad"
"""
NAME_INPUT = "inputs:\n  - id: name\n    type: STRING\n    defaults: world\n"


def wait_for(predicate, timeout=10.0, step=0.05):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False

