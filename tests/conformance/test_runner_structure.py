"""Task-run trees as Kestra's runner tests count them: sequential and parallel nesting, nested
loops (values, outputs by value path, ``parents``), disabled tasks, runIf.

Kestra: jdbc/src/test/java/io/kestra/jdbc/runner/JdbcRunnerTest.java (sequential, parallel,
parallelNested, eachSequentialNested, eachParallelWithSubflowMissing), core/src/test/java/io/kestra/
plugin/core/flow/EachSequentialTest.java (eachSwitch), core/src/test/java/io/kestra/core/runners/
DisabledTest.java and TaskWithRunIfTest.java; flows under core/src/test/resources/flows/valids/.
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import states, task_runs

pytestmark = pytest.mark.conformance("runner")


def _returns(*ids: str, indent: int = 0) -> str:
    pad = " " * indent
    return "".join(f"\n{pad}- id: {i}\n{pad}  type: io.kestra.plugin.core.debug.Return\n{pad}  format: \"{{{{ task.id }}}}\""
                   for i in ids)


def test_nested_sequentials(engine):
    # JdbcRunnerTest.sequential (sequential.yaml): 11 task runs
    ex = engine.run(f"""
id: sequential
namespace: conf.structure
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:{_returns("a", "b", indent=6)}
      - id: inner
        type: io.kestra.plugin.core.flow.Sequential
        tasks:{_returns("c", indent=10)}
          - id: innermost
            type: io.kestra.plugin.core.flow.Sequential
            tasks:{_returns("d", "e", indent=14)}{_returns("f", indent=10)}{_returns("g", indent=6)}{_returns("end", indent=2)}
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 11
    order = [tr["taskId"] for tr in task_runs(ex)]
    assert order == ["seq", "a", "b", "inner", "c", "innermost", "d", "e", "f", "g", "end"]


def test_parallel_then_next(engine):
    # JdbcRunnerTest.parallel (parallel.yaml): 6 branches + the Parallel + the next task = 8
    ex = engine.run(f"""
id: parallel
namespace: conf.structure
tasks:
  - id: parent
    type: io.kestra.plugin.core.flow.Parallel
    tasks:{_returns("t1", "t2", "t3", "t4", "t5", "t6", indent=6)}{_returns("last", indent=2)}
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 8
    last = task_runs(ex, "last")[0]
    assert all(last["state"]["startDate"] >= tr["state"]["endDate"] for tr in task_runs(ex) if tr["taskId"] != "last")


def test_nested_parallels(engine):
    # JdbcRunnerTest.parallelNested (parallel-nested.yaml): 11 task runs
    ex = engine.run(f"""
id: parallel-nested
namespace: conf.structure
tasks:
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:{_returns("a", "b", indent=6)}
      - id: inner
        type: io.kestra.plugin.core.flow.Parallel
        tasks:{_returns("c", indent=10)}
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:{_returns("d", "e", indent=14)}{_returns("f", indent=10)}{_returns("g", indent=6)}{_returns("end", indent=2)}
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 11


def test_nested_each_values_and_outputs(engine1):
    # JdbcRunnerTest.eachSequentialNested / EachSequentialTest.sequentialNested
    # (each-sequential-nested.yaml): 23 task runs; outputs of an inner loop's task are read by
    # value path (outputs['x'].s1['a a']), and every task run in an iteration carries its value
    ex = engine1.run("""
id: each-nested
namespace: conf.structure
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.EachSequential
    value: ["s1", "s2", "s3"]
    tasks:
      - id: first
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.value }}"
      - id: inner
        type: io.kestra.plugin.core.flow.EachSequential
        value: '["a a", "b b"]'
        tasks:
          - id: deep
            type: io.kestra.plugin.core.debug.Return
            format: "{{ task.id }} > {{ taskrun.value }}"
          - id: lookup
            type: io.kestra.plugin.core.debug.Return
            format: "get {{ outputs['deep'].s1[taskrun.value].value }}"
      - id: third
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs['first'][taskrun.value].value }}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs['deep'].s1['a a'].value }}"
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 23
    assert task_runs(ex, "last")[0]["outputs"]["value"] == "deep > a a"
    by_value = {tr["value"]: tr for tr in task_runs(ex, "third")}
    assert by_value["s2"]["outputs"]["value"] == "first > s2"
    lookups = {tr["value"]: tr["outputs"]["value"] for tr in task_runs(ex, "lookup")}
    assert lookups["a a"] == "get deep > a a" and lookups["b b"] == "get deep > b b"
    assert {tr["value"] for tr in task_runs(ex, "inner")} == {"s1", "s2", "s3"}


def test_switch_in_nested_each_reads_parents(engine1):
    # EachSequentialTest.eachSwitch (each-switch.yaml): 12 task runs; in the "b" iteration then the
    # "2" iteration, parents[0].taskrun.value is "2" and parents[1].taskrun.value is "b"
    ex = engine1.run("""
id: each-switch
namespace: conf.structure
tasks:
  - id: t1
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }}"
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a", "b"]'
    tasks:
      - id: switch
        type: io.kestra.plugin.core.flow.Switch
        value: "{{ taskrun.value }}"
        cases:
          a:
            - id: letter-a
              type: io.kestra.plugin.core.debug.Return
              format: "{{ task.id }}"
          b:
            - id: letter-b
              type: io.kestra.plugin.core.debug.Return
              format: "{{ task.id }}"
            - id: inner-each
              type: io.kestra.plugin.core.flow.ForEach
              values: '["1", "2"]'
              tasks:
                - id: inner-switch
                  type: io.kestra.plugin.core.flow.Switch
                  value: "{{ taskrun.value }}"
                  cases:
                    "1":
                      - id: number-1
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ parents[0].taskrun.value }}"
                    "2":
                      - id: number-2
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ parents[0].taskrun.value }} {{ parents[1].taskrun.value }}"
  - id: end
    type: io.kestra.plugin.core.debug.Return
    format: end
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 12
    assert task_runs(ex, "number-1")[0]["outputs"]["value"] == "1"
    assert task_runs(ex, "number-2")[0]["outputs"]["value"] == "2 b"


def test_each_parallel_with_missing_subflows_fails(engine1):
    # JdbcRunnerTest.eachParallelWithSubflowMissing (each-parallel-subflow-notfound.yml): FAILED,
    # at least the EachParallel and one Subflow task run FAILED (Kestra: "should be 3")
    ex = engine1.run("""
id: each-missing
namespace: conf.structure
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachParallel
    value: [value-1, value-2]
    tasks:
      - id: subflow-not-exist
        type: io.kestra.plugin.core.flow.Subflow
        flowId: "{{ taskrun.value }}"
        namespace: dev
        wait: true
""")
    assert ex["state"]["current"] == "FAILED"
    assert sum(1 for tr in task_runs(ex) if tr["state"]["current"] == "FAILED") == 3


def test_disabled_tasks_in_flowables(engine1):
    # DisabledTest.flowable (disable-flowable.yaml): 10 task runs; DisabledTest.error: 3
    ex = engine1.run("""
id: disable-flowable
namespace: conf.structure
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.ForEach
    values: '["v1", "v2", "v3"]'
    tasks:
      - id: on
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
      - id: off
        type: io.kestra.plugin.core.debug.Return
        format: off
        disabled: true
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: seq-on
        type: io.kestra.plugin.core.debug.Return
        format: on
      - id: seq-off
        type: io.kestra.plugin.core.debug.Return
        format: off
        disabled: true
  - id: seq2
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: seq2-on
        type: io.kestra.plugin.core.debug.Return
        format: on
      - id: seq2-off
        type: io.kestra.plugin.core.debug.Return
        format: off
        disabled: true
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: FIRST
    cases:
      FIRST:
        - id: case-on
          type: io.kestra.plugin.core.debug.Return
          format: on
        - id: case-off
          type: io.kestra.plugin.core.debug.Return
          format: off
          disabled: true
""")
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 10


def test_disabled_task_in_errors(engine):
    # DisabledTest.error (disable-error.yaml): the failed task + 2 enabled error tasks = 3
    ex = engine.run("""
id: disable-error
namespace: conf.structure
tasks:
  - id: failed
    type: io.kestra.plugin.core.execution.Fail
errors:
  - id: t2
    type: io.kestra.plugin.core.log.Log
    message: second
  - id: t3
    type: io.kestra.plugin.core.log.Log
    message: third
    disabled: true
  - id: t4
    type: io.kestra.plugin.core.log.Log
    message: fourth
""")
    assert ex["state"]["current"] == "FAILED"
    assert [tr["taskId"] for tr in task_runs(ex)] == ["failed", "t2", "t4"]


def test_run_if_with_an_unrenderable_condition_fails(engine):
    # TaskWithRunIfTest.runnableTask (task-runif.yml): 4 task runs, executed SUCCESS, notexecuted
    # SKIPPED, willfailedtheflow FAILED (its runIf reads a missing output), the execution FAILED
    ex = engine.run("""
id: task-runif
namespace: conf.structure
tasks:
  - id: output
    type: io.kestra.plugin.core.output.OutputValues
    values:
      taskrun_data: 1
  - id: executed
    type: io.kestra.plugin.core.log.Log
    runIf: "{{ outputs.output['values']['taskrun_data'] == 1 }}"
    message: success
  - id: notexecuted
    type: io.kestra.plugin.core.log.Log
    runIf: "{{ outputs.output['values']['taskrun_data'] == 2 }}"
    message: should not be printed
  - id: willfailedtheflow
    type: io.kestra.plugin.core.log.Log
    runIf: "{{ outputs.notexists == 2 }}"
    message: should fail
""")
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 4
    assert states(ex, "executed") == ["SUCCESS"] and states(ex, "notexecuted") == ["SKIPPED"]
    assert states(ex, "willfailedtheflow") == ["FAILED"]


def test_allow_failure_on_a_flowable_task(engine):
    # TaskWithAllowFailureTest.flowableTask (task-allow-failure-flowable.yml): WARNING, 3 task runs
    ex = engine.run("""
id: allow-failure-flowable
namespace: conf.structure
tasks:
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - id: fail
        type: io.kestra.plugin.core.execution.Fail
      - id: not-run
        type: io.kestra.plugin.core.log.Log
        message: not allowed
  - id: allowed
    type: io.kestra.plugin.core.log.Log
    message: allowed
""")
    assert ex["state"]["current"] == "WARNING"
    assert len(task_runs(ex)) == 3
