"""Flow semantics as Kestra's runner tests assert them: errors blocks, subflows (attempts,
outputs, labels), runIf, disabled tasks, finally, outputs of failed flows.

Each test cites the Kestra test and flow (kestra-io/kestra, core/src/test/...) it mirrors.
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import attempts, states, task_runs

pytestmark = pytest.mark.conformance("runner")


def test_errors_block_with_nested_parallels(engine):
    # JdbcRunnerTest.errors (errors.yaml): the failed task + the errors block's 6 task runs = 7
    ex = engine.run("""
        id: errors
        namespace: conf.semantics
        tasks:
          - id: failed
            type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: t2
            type: io.kestra.plugin.core.log.Log
            message: |
              {%- for log in errorLogs() -%}
              - task: {{ log.taskId }}, message: {{ log.message }}
              {%- endfor -%}
          - id: t3
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: t3-t1
                type: io.kestra.plugin.core.flow.Parallel
                tasks:
                  - id: t3-t1-t1
                    type: io.kestra.plugin.core.flow.Parallel
                    tasks:
                      - id: t3-t1-t1-t1
                        type: io.kestra.plugin.core.flow.Parallel
                        tasks:
                          - id: t3-t1-t1-t1-last
                            type: io.kestra.plugin.core.log.Log
                            message: "last: {{ task.id }}"
        """)
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 7
    # the errors handler lists the execution's error logs with errorLogs()
    assert "- task: failed, message: Task failure" in [e["message"] for e in engine.logs(ex["id"])]
    assert "last: t3-t1-t1-t1-last" in [e["message"] for e in engine.logs(ex["id"])]


def test_errors_of_a_flowable_then_the_flow_errors(engine):
    # WorkingDirectoryTest.failed / the errors of a flowable run before the flow's: error-t1 once
    ex = engine.run("""
        id: errors-nested
        namespace: conf.semantics
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
            errors:
              - id: error-t1
                type: io.kestra.plugin.core.debug.Return
                format: local
        errors:
          - id: global
            type: io.kestra.plugin.core.debug.Return
            format: global
        """)
    assert ex["state"]["current"] == "FAILED"
    assert [tr["taskId"] for tr in task_runs(ex)] == ["seq", "boom", "error-t1", "global"]


# -- subflows (FlowCaseTest over task-flow.yaml / task-flow-inherited-labels.yaml / switch.yaml) --

CHILD = """
id: child-switch
namespace: conf.semantics
labels:
  childFlowLabel: childFoo
inputs:
  - id: string
    type: STRING
  - id: def
    type: STRING
    defaults: amazing
tasks:
  - id: parent-seq
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.string }}"
    cases:
      FIRST:
        - id: t1
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }}"
      THIRD:
        - id: t3
          type: io.kestra.plugin.core.flow.Sequential
          tasks:
            - id: failed
              type: io.kestra.plugin.core.execution.Fail
          errors:
            - id: error-t1
              type: io.kestra.plugin.core.debug.Return
              format: "Error Trigger ! {{ task.id }}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ inputs.def }}"
"""

PARENT = """
id: {flow_id}
namespace: conf.semantics
{labels}
inputs:
  - id: string
    type: STRING
tasks:
  - id: launch
    type: io.kestra.plugin.core.flow.Subflow
    namespace: conf.semantics
    flowId: child-switch
    inputs:
      string: "{{{{ inputs.string }}}}"
    wait: true
    transmitFailed: true
    inheritLabels: true
    labels:
      launchTaskLabel: launchFoo
    outputs:
      extracted: "{{{{ outputs.default.value ?? outputs['error-t1'].value }}}}"
"""


def _subflow(engine, value: str, with_labels: bool = True):
    engine.flow(CHILD)
    flow_id = "parent-labels" if with_labels else "parent-plain"
    parent = engine.run(PARENT.format(flow_id=flow_id, labels="labels:\n  parentFlowLabel: flowFoo" if with_labels
                                      else ""),
                        inputs={"string": value}, labels={"parentExecutionLabel": "execFoo"} if with_labels else None)
    child = engine.children(parent["id"])[0]
    child = engine.wait(child["id"])
    return parent, child


@pytest.mark.parametrize("value, parent_state, child_state, child_runs, extracted", [
    ("OK", "SUCCESS", "SUCCESS", 2, "default > amazing"),                # FlowCaseTest.waitSuccess
    ("THIRD", "FAILED", "FAILED", 4, "Error Trigger ! error-t1"),       # FlowCaseTest.waitFailed
])
def test_subflow_attempt_state_and_outputs(engine, value, parent_state, child_state, child_runs, extracted):
    parent, child = _subflow(engine, value)
    launch = task_runs(parent, "launch")
    assert len(task_runs(parent)) == 1 and len(launch) == 1
    assert [a["state"]["current"] for a in launch[0]["attempts"]] == [parent_state]
    assert parent["state"]["current"] == parent_state
    outputs = launch[0]["outputs"]
    assert outputs["executionId"] == child["id"] and outputs["state"] == child_state
    assert extracted in outputs["outputs"]["extracted"]
    assert child["trigger"]["type"] == "io.kestra.plugin.core.flow.Subflow"
    assert child["trigger"]["variables"]["executionId"] == parent["id"]
    assert child["trigger"]["variables"]["flowId"] == parent["flowId"]
    assert child["trigger"]["variables"]["namespace"] == parent["namespace"]
    assert len(task_runs(child)) == child_runs and child["state"]["current"] == child_state


def test_subflow_outputs_that_do_not_render_fail_the_parent(engine):
    # FlowCaseTest.invalidOutputs: the child succeeds (2 task runs) but `extracted` cannot render:
    # the parent's Subflow task run FAILED
    parent, child = _subflow(engine, "FIRST")
    assert child["state"]["current"] == "SUCCESS" and len(task_runs(child)) == 2
    assert parent["state"]["current"] == "FAILED"
    assert [a["state"]["current"] for a in task_runs(parent, "launch")[0]["attempts"]] == ["FAILED"]


def test_subflow_inherits_labels(engine):
    # FlowCaseTest.waitSuccess (testInherited): 5 labels — the parent's correlation id, the parent
    # execution's label, the parent flow's label, the task's label, the child flow's label
    parent, child = _subflow(engine, "OK")
    labels = {(lb["key"], lb["value"]) for lb in child["labels"]}
    assert labels == {("system.correlationId", parent["id"]), ("parentExecutionLabel", "execFoo"),
                      ("parentFlowLabel", "flowFoo"), ("launchTaskLabel", "launchFoo"),
                      ("childFlowLabel", "childFoo")}


def test_subflow_without_parent_labels(engine):
    # FlowCaseTest.noLabels: 3 labels — correlation id, the task's, the child flow's
    parent, child = _subflow(engine, "OK", with_labels=False)
    labels = {(lb["key"], lb["value"]) for lb in child["labels"]}
    assert labels == {("system.correlationId", parent["id"]), ("launchTaskLabel", "launchFoo"),
                      ("childFlowLabel", "childFoo")}


def test_subflow_has_one_attempt_per_child(engine):
    # SubflowRunnerTest / FlowCaseTest: one attempt on the Subflow task run when it succeeds
    parent, _ = _subflow(engine, "OK")
    assert attempts(parent, "launch") == 1


# -- finally, runIf, disabled --------------------------------------------------------------------

def test_finally_runs_after_errors(engine):
    # FinallyTest.flowErrorFinally (finally-flow-error.yaml): errors then finally, FAILED
    ex = engine.run("""
        id: finally-error
        namespace: conf.semantics
        tasks:
          - id: ko
            type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: e1
            type: io.kestra.plugin.core.debug.Return
            format: e1
        finally:
          - id: f1
            type: io.kestra.plugin.core.debug.Return
            format: f1
        """)
    assert ex["state"]["current"] == "FAILED"
    assert [tr["taskId"] for tr in task_runs(ex)] == ["ko", "e1", "f1"]
    assert states(ex, "f1") == ["SUCCESS"]


def test_run_if_false_skips_the_task(engine):
    # TaskWithRunIfTest.runnableTask (task-runif.yml): the task with a false runIf is SKIPPED
    ex = engine.run("""
        id: runif
        namespace: conf.semantics
        tasks:
          - id: executed
            type: io.kestra.plugin.core.log.Log
            message: yes
            runIf: "{{ 1 == 1 }}"
          - id: notexecuted
            type: io.kestra.plugin.core.log.Log
            message: no
            runIf: "{{ 1 == 2 }}"
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert states(ex, "executed") == ["SUCCESS"] and states(ex, "notexecuted") == ["SKIPPED"]


def test_disabled_tasks_have_no_task_run(engine):
    # DisabledTest.simple (disable-simple.yaml): a disabled task makes no task run
    ex = engine.run("""
        id: disabled
        namespace: conf.semantics
        tasks:
          - id: off
            type: io.kestra.plugin.core.execution.Fail
            disabled: true
          - id: on
            type: io.kestra.plugin.core.debug.Return
            format: on
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert [tr["taskId"] for tr in task_runs(ex)] == ["on"]


# -- SLA (SLATestCase over sla-max-duration-*.yaml, sla-execution-condition.yaml) ------------------

@pytest.mark.parametrize("sleep, limit, end", [
    ("PT2S", "PT0.3S", "FAILED"),     # SLATestCase.maxDurationSLAShouldFail
    ("PT0.1S", "PT10S", "SUCCESS"),   # SLATestCase.maxDurationSLAShouldPass
])
def test_sla_max_duration(engine, sleep, limit, end):
    ex = engine.run(f"""
        id: sla-duration
        namespace: conf.semantics
        sla:
          - id: maxDuration
            type: MAX_DURATION
            behavior: FAIL
            duration: {limit}
        tasks:
          - id: sleep
            type: io.kestra.plugin.core.flow.Sleep
            duration: {sleep}
        """)
    assert ex["state"]["current"] == end
    if end == "FAILED":
        messages = [e["message"] for e in engine.logs(ex["id"])]
        assert any(m.startswith("Execution failed due to SLA 'maxDuration' violated: execution duration of")
                   for m in messages)


SLA_ASSERT = """
id: sla-assert
namespace: conf.semantics
inputs:
  - id: string
    type: SELECT
    values: [PASS, CANCEL, LABEL]
    defaults: PASS
sla:
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: CANCEL
    assert: "{{ inputs.string != 'CANCEL' }}"
  - id: condition
    type: EXECUTION_ASSERTION
    behavior: NONE
    assert: "{{ inputs.string != 'LABEL' }}"
    labels:
      sla: violated
tasks:
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "true"
"""


@pytest.mark.parametrize("value, end, labelled", [
    ("PASS", "SUCCESS", False),       # SLATestCase.executionConditionSLAShouldPass
    ("CANCEL", "CANCELLED", False),   # SLATestCase.executionConditionSLAShouldCancel
    ("LABEL", "SUCCESS", True),       # SLATestCase.executionConditionSLAShouldLabel
])
def test_sla_execution_assertion(engine, value, end, labelled):
    ex = engine.run(SLA_ASSERT, inputs={"string": value})
    assert ex["state"]["current"] == end
    assert ({"key": "sla", "value": "violated"} in ex["labels"]) is labelled


def test_current_each_output(engine1):
    # CurrentEachOutputFunctionTest.parallel (current-output.yaml): currentEachOutput(outputs.x) is
    # x's output of the current iteration, through three nested loops and one
    ex = engine1.run("""
        id: current-output
        namespace: conf.semantics
        tasks:
          - id: l1
            type: io.kestra.plugin.core.flow.ForEach
            values: '["v11", "v12"]'
            tasks:
              - id: l2
                type: io.kestra.plugin.core.flow.ForEach
                values: '["v21", "v22"]'
                tasks:
                  - id: l3
                    type: io.kestra.plugin.core.flow.ForEach
                    values: '["v31", "v32"]'
                    tasks:
                      - id: out3
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ parents[1].taskrun.value }}-{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
                      - id: ret3
                        type: io.kestra.plugin.core.debug.Return
                        format: "return-{{ currentEachOutput(outputs['out3']).value }}"
          - id: m1
            type: io.kestra.plugin.core.flow.ForEach
            values: '["v41", "v42"]'
            tasks:
              - id: out1
                type: io.kestra.plugin.core.debug.Return
                format: "{{ taskrun.value }}"
              - id: ret1
                type: io.kestra.plugin.core.debug.Return
                format: "return-{{ currentEachOutput(outputs['out1']).value }}"
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert sorted(tr["outputs"]["value"] for tr in task_runs(ex, "ret3")) == sorted(
        f"return-{a}-{b}-{c}" for a in ("v11", "v12") for b in ("v21", "v22") for c in ("v31", "v32"))
    assert {tr["value"]: tr["outputs"]["value"] for tr in task_runs(ex, "ret1")} == \
        {"v41": "return-v41", "v42": "return-v42"}


def test_log_to_file(engine):
    # LogToFileTest.task (log-to-file.yaml): 1 task run SUCCESS, 1 attempt whose logFile holds one
    # line with the level and the message (and no log entry)
    ex = engine.run("""
        id: log-to-file
        namespace: conf.semantics
        tasks:
          - id: hello
            type: io.kestra.plugin.core.log.Log
            message: Hello World!
            logToFile: true
        """)
    assert ex["state"]["current"] == "SUCCESS" and len(task_runs(ex)) == 1
    attempts_ = task_runs(ex)[0]["attempts"]
    assert len(attempts_) == 1
    lines = engine.store.file_path(attempts_[0]["logFile"]).read_text().splitlines()
    assert len(lines) == 1 and "INFO" in lines[0] and "Hello World!" in lines[0]
    assert "Hello World!" not in [e["message"] for e in engine.logs(ex["id"])]
