"""The engine driven without HTTP (a Store and an Engine directly): its cost per task run, the
narrow seam between the walker and the engine, restart and replay copying."""
from __future__ import annotations

import pytest

from tests.conformance.harness import EngineHarness, states, task_runs


class CountingList(list):
    """A taskRunList that counts the task runs any iteration visits (scans, copies, reversed)."""

    visits = 0

    def __iter__(self):
        for item in super().__iter__():
            CountingList.visits += 1
            yield item

    def __reversed__(self):
        for item in super().__reversed__():
            CountingList.visits += 1
            yield item


LOOP = """
id: loop{n}
namespace: test.scale
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.{loop}
    values: "{{{{ range(1, {n}) }}}}"
    tasks:
      - id: step
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ {value} }}}}"
"""


@pytest.fixture(params=[1, 2], ids=["1.x", "2.x"])
def harness(request):
    h = EngineHarness(request.param)
    yield h
    h.close()


def _visits(h: EngineHarness, n: int) -> int:
    loop, value = ("ForEach", "taskrun.value") if h.generation == 1 else ("Loop", "item.value")
    flow = h.flow(LOOP.format(n=n, loop=loop, value=value))
    CountingList.visits = 0
    ex_id = h.create(flow, taskrun_list=CountingList())
    ex = h.wait(ex_id, timeout=120)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(states(ex, "step")) == n
    return CountingList.visits - (n + 1)   # minus the final copy the harness makes


def test_no_per_task_run_scan_of_the_task_runs(harness):
    """Issue 19: each task-run step must not visit the execution's other task runs (a scan, a
    deep copy of the execution, a reversed search). Counted, not timed: a per-step scan makes the
    visits grow with n^2 (~4x for 2x the task runs); a linear engine stays near 2x, and here
    visits the task runs a few times in all (copies at start and end), never once per step."""
    small, large = _visits(harness, 400), _visits(harness, 800)
    assert large <= 2.5 * max(small, 1), (small, large)
    assert large <= 3 * 800, f"{large} task-run visits for 800 task runs: a per-task-run scan came back"


def test_subflow_wait_does_not_copy_the_child_per_change(harness, monkeypatch):
    """The parent waiting for a subflow looks at its state, it does not copy the child
    execution on every store change (that made big subflows quadratic)."""
    loop, value = ("ForEach", "taskrun.value") if harness.generation == 1 else ("Loop", "item.value")
    harness.flow(LOOP.format(n=300, loop=loop, value=value))
    parent = harness.flow("""
        id: parent
        namespace: test.scale
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            namespace: test.scale
            flowId: loop300
        """)
    copies: list[str] = []
    real = harness.store.get_execution

    def counting(ex_id):
        copies.append(ex_id)
        return real(ex_id)
    monkeypatch.setattr(harness.store, "get_execution", counting)
    ex = harness.run(parent)
    assert ex["state"]["current"] == "SUCCESS"
    child = harness.children(ex["id"])[0]
    assert len(task_runs(child)) == 301 and child["state"]["current"] == "SUCCESS"
    assert ex["taskRunList"][0]["outputs"]["state"] == "SUCCESS"
    assert copies.count(child["id"]) <= 5, f"the child was copied {copies.count(child['id'])} times"


RESTARTABLE = """
id: restartable
namespace: test.direct
inputs:
  - id: fail
    type: STRING
    defaults: "yes"
tasks:
  - id: first
    type: io.kestra.plugin.core.debug.Return
    format: one
  - id: second
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.fail == 'yes' }}"
errors:
  - id: handler
    type: io.kestra.plugin.core.debug.Return
    format: handled
"""


def test_restart_keeps_the_successful_task_runs(harness):
    ex = harness.run(RESTARTABLE)
    assert ex["state"]["current"] == "FAILED" and states(ex, "handler") == ["SUCCESS"]
    first_id = task_runs(ex, "first")[0]["id"]
    second_id = task_runs(ex, "second")[0]["id"]
    assert harness.engine.restart(ex["id"]) == ex["id"]
    again = harness.wait(ex["id"])
    assert again["metadata"]["attemptNumber"] == 2
    assert [tr["id"] for tr in task_runs(again, "first")] == [first_id]          # kept, not re-run
    assert [tr["id"] for tr in task_runs(again, "second")] == [second_id]        # same task run...
    assert len(task_runs(again, "second")[0]["attempts"]) == 2                    # ...one more attempt
    assert "RESTARTED" in [h["state"] for h in again["state"]["histories"]]
    assert len(task_runs(again, "handler")) == 1                                  # handlers re-run once


def test_replay_from_a_task_run_copies_what_came_before(harness):
    ex = harness.run(RESTARTABLE)
    second = task_runs(ex, "second")[0]
    new_id = harness.engine.replay(ex["id"], second["id"])
    replayed = harness.wait(new_id)
    assert replayed["id"] != ex["id"] and replayed["originalId"] == ex["id"]
    assert {tr["executionId"] for tr in task_runs(replayed)} == {new_id}
    kept = task_runs(replayed, "first")[0]
    assert kept["id"] != task_runs(ex, "first")[0]["id"] and kept["outputs"] == {"value": "one"}
    assert len(task_runs(replayed, "second")[0]["attempts"]) == 1
    original = harness.store.get_execution(ex["id"])
    assert {"key": "system.replayed", "value": "true"} in original["labels"]


def test_restart_on_another_revision_is_a_new_execution(harness):
    ex = harness.run(RESTARTABLE)
    harness.flow(RESTARTABLE.replace('defaults: "yes"', 'defaults: "no"'))
    new_id = harness.engine.restart(ex["id"], revision=2)
    fresh = harness.wait(new_id)
    assert new_id != ex["id"] and fresh["parentId"] == ex["id"] and fresh["flowRevision"] == 2
    assert {tr["executionId"] for tr in task_runs(fresh)} == {new_id}
