"""``errors`` and ``finally`` blocks of flowable tasks as Kestra's FinallyTest asserts them:
the task-run counts with and without a failure (kestra-io/kestra,
core/src/test/java/io/kestra/plugin/core/flow/FinallyTest.java over flows/valids/finally-*.yaml).
"""
from __future__ import annotations

import textwrap

import pytest

from tests.conformance.harness import states, task_runs

pytestmark = pytest.mark.conformance("runner")

BRANCH = """
- id: if
  type: io.kestra.plugin.core.flow.If
  condition: "{{ inputs.failed == 'no' }}"
  then:
    - id: ok
      type: io.kestra.plugin.core.debug.Return
      format: "{{ task.id }}"
  else:
    - id: ko
      type: io.kestra.plugin.core.execution.Fail
"""

PARALLEL_CHILDREN = "".join(f"""
- id: {p}
  type: io.kestra.plugin.core.debug.Return
  format: "{{{{ task.id }}}}"
""" for p in ("p1", "p2", "p3")) + BRANCH

HANDLERS = """
errors:
  - id: e1
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }}"
  - id: e2
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }}"
finally:
  - id: a1
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }}"
  - id: a2
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }}"
"""


def _flow(head: str, children: str) -> str:
    outer = "id: outer\n" + head + "\ntasks:\n" + textwrap.indent(children.strip("\n"), "  ") + HANDLERS
    return ("id: finally-case\nnamespace: conf.finally\ninputs:\n  - id: failed\n    type: STRING\n"
            "    defaults: \"no\"\ntasks:\n" + textwrap.indent("- " + textwrap.indent(outer, "  ")[2:], "  "))


def _loop(gen: int) -> str:
    kind = "ForEach" if gen == 1 else "Loop"
    return f"type: io.kestra.plugin.core.flow.{kind}\nvalues: '[\"1\", \"2\", \"3\"]'\nconcurrencyLimit: 0"


CASES = {
    # FinallyTest.sequentialErrorBlockWithoutErrors / WithErrors: 5 / 7 task runs
    "sequential": (lambda gen: "type: io.kestra.plugin.core.flow.Sequential", BRANCH, 5, 7, "FAILED"),
    # FinallyTest.allowFailureWithoutErrors / WithErrors: 5 / 7, WARNING when it fails
    "allowfailure": (lambda gen: "type: io.kestra.plugin.core.flow.AllowFailure", BRANCH, 5, 7, "WARNING"),
    # FinallyTest.parallelWithoutErrors / WithErrors: 8 / 10 (every branch runs)
    "parallel": (lambda gen: "type: io.kestra.plugin.core.flow.Parallel", PARALLEL_CHILDREN, 8, 10, "FAILED"),
    # FinallyTest.forEachWithoutErrors / WithErrors (concurrencyLimit 0): 9 / 11
    "foreach": (_loop, BRANCH, 9, 11, "FAILED"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("failed", [False, True], ids=["ok", "failed"])
def test_flowable_errors_and_finally(engine, case, failed):
    head, children, ok_count, failed_count, failed_state = CASES[case]
    ex = engine.run(_flow(head(engine.generation), children),
                    inputs={"failed": "yes" if failed else "no"})
    assert len(task_runs(ex)) == (failed_count if failed else ok_count), [tr["taskId"] for tr in task_runs(ex)]
    assert ex["state"]["current"] == (failed_state if failed else "SUCCESS")
    assert set(states(ex, "a1")) == {"SUCCESS"} and set(states(ex, "a2")) == {"SUCCESS"}
    if failed:
        assert set(states(ex, "ko")) == {"FAILED"}
        assert states(ex, "e1") == ["SUCCESS"] and states(ex, "e2") == ["SUCCESS"]
    else:
        assert set(states(ex, "ok")) == {"SUCCESS"} and states(ex, "e1") == []


@pytest.mark.parametrize("failed", [False, True], ids=["ok", "failed"])
def test_dag_errors_and_finally(engine, failed):
    # FinallyTest.dagWithoutErrors / dagWithErrors (finally-dag.yaml): 7 / 9 task runs
    ex = engine.run("""
        id: finally-dag
        namespace: conf.finally
        inputs:
          - id: failed
            type: STRING
            defaults: "no"
        tasks:
          - id: dag
            type: io.kestra.plugin.core.flow.Dag
            tasks:
              - task:
                  id: t1
                  type: io.kestra.plugin.core.log.Log
                  message: "{{ task.id }}"
              - task:
                  id: t2
                  type: io.kestra.plugin.core.log.Log
                  message: "{{ task.id }}"
                dependsOn: [t1]
              - task:
                  id: t3
                  type: io.kestra.plugin.core.flow.If
                  condition: "{{ inputs.failed == 'no' }}"
                  then:
                    - id: ok
                      type: io.kestra.plugin.core.debug.Return
                      format: "{{ task.id }}"
                  else:
                    - id: ko
                      type: io.kestra.plugin.core.execution.Fail
                dependsOn: [t2]
            errors:
              - id: e1
                type: io.kestra.plugin.core.debug.Return
                format: e1
              - id: e2
                type: io.kestra.plugin.core.debug.Return
                format: e2
            finally:
              - id: a1
                type: io.kestra.plugin.core.debug.Return
                format: a1
              - id: a2
                type: io.kestra.plugin.core.debug.Return
                format: a2
        """, inputs={"failed": "yes" if failed else "no"})
    assert len(task_runs(ex)) == (9 if failed else 7)
    assert ex["state"]["current"] == ("FAILED" if failed else "SUCCESS")
    assert states(ex, "a1") == ["SUCCESS"] and states(ex, "a2") == ["SUCCESS"]
