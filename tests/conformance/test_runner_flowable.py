"""Flowable task types as Kestra's runner tests assert them (state, task-run count, outputs, logs).

Each test cites the Kestra test (kestra-io/kestra, core/src/test/java/...) and the flow
(core/src/test/resources/flows/valids/...) whose behaviour it mirrors; the flows are written
here. The engine runs without HTTP (tests/conformance/harness.py).
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import FlowInvalid, attempts, history, states, task_runs

pytestmark = pytest.mark.conformance("runner")


def each_type(gen: int) -> tuple[str, str]:
    """The per-value loop of the generation and how its children read the value."""
    return ("ForEach", "taskrun.value") if gen == 1 else ("Loop", "item.value")


# -- EachSequential / EachParallel (1.x; removed in 2.0) --------------------------------------

EACH_SEQUENTIAL = """
id: each-seq
namespace: conf.flowable
tasks:
  - id: each
    type: io.kestra.plugin.core.flow.EachSequential
    value: '["a", "b", "c"]'
    tasks:
      - id: echo
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
      - id: tolerate
        type: io.kestra.plugin.core.flow.AllowFailure
        tasks:
          - id: only-a
            type: io.kestra.plugin.core.log.Log
            message: "{{ parent.taskrun.value == 'a' ? 'fine' : undefinedVariable }}"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: done
"""


def test_each_sequential_with_allow_failure(engine1):
    # EachSequentialTest.sequential (each-sequential.yaml): 11 task runs, WARNING
    ex = engine1.run(EACH_SEQUENTIAL)
    assert ex["state"]["current"] == "WARNING"
    assert len(task_runs(ex)) == 11
    assert states(ex, "only-a").count("FAILED") == 2 and states(ex, "tolerate").count("WARNING") == 2
    assert states(ex, "after") == ["SUCCESS"]
    assert sorted(tr["value"] for tr in task_runs(ex, "echo")) == ["a", "b", "c"]


def test_each_parallel(engine1):
    # EachParallelTest.parallel (each-parallel.yaml): 3 values x 2 tasks + each + end = 8, SUCCESS
    ex = engine1.run("""
        id: each-par
        namespace: conf.flowable
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.EachParallel
            value: ["x", "y", "z"]
            tasks:
              - id: first
                type: io.kestra.plugin.core.log.Log
                message: "{{ task.id }} {{ taskrun.value }}"
              - id: second
                type: io.kestra.plugin.core.log.Log
                message: "{{ task.id }}"
          - id: end
            type: io.kestra.plugin.core.debug.Return
            format: end
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 8
    logs = {e["message"] for e in engine1.logs(ex["id"])}
    assert {"first x", "first y", "first z"} <= logs


@pytest.mark.parametrize("kind", ["EachSequential", "EachParallel"])
def test_each_tasks_are_rejected_on_2x_naming_loop(engine2, kind):
    # Kestra 2.0 removed the deprecated Each* tasks; the sandbox names the replacement
    with pytest.raises(FlowInvalid) as err:
        engine2.flow(f"""
            id: each-2x
            namespace: conf.flowable
            tasks:
              - id: each
                type: io.kestra.plugin.core.flow.{kind}
                value: [1]
                tasks:
                  - id: t
                    type: io.kestra.plugin.core.debug.Return
                    format: x
            """)
    assert f"{kind} was removed in Kestra 2.0" in str(err.value) and "flow.Loop" in str(err.value)


def test_each_over_null_values_fails(engine):
    # EachSequentialTest.eachNull (each-null.yaml): 1 task run, FAILED, Kestra's message.
    # On 2.x the same check is applied to Loop (Kestra 2.0's renamed ForEach).
    loop, value = each_type(engine.generation)
    ex = engine.run(f"""
        id: each-null
        namespace: conf.flowable
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.{loop}
            values: '[1, null, {{"key": "my-key", "value": "my-value"}}]'
            tasks:
              - id: inner
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ {value} }}}}"
          - id: end
            type: io.kestra.plugin.core.debug.Return
            format: end
        """)
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 1
    messages = [e["message"] for e in engine.logs(ex["id"])]
    assert "Found '1' null values on Each, with values=[1, null, {key=my-key, value=my-value}]" in messages


def test_each_over_an_empty_list(engine):
    # EachSequentialTest.eachEmpty (each-empty.yaml): the loop and the next task, SUCCESS
    loop, value = each_type(engine.generation)
    ex = engine.run(f"""
        id: each-empty
        namespace: conf.flowable
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.{loop}
            values: []
            tasks:
              - id: inner
                type: io.kestra.plugin.core.debug.Return
                format: "{{{{ {value} }}}}"
          - id: end
            type: io.kestra.plugin.core.debug.Return
            format: end
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 2


# -- AllowFailure --------------------------------------------------------------------------------

ALLOW_FAILURE = """
id: allow-fail
namespace: conf.flowable
inputs:
  - id: crash
    type: STRING
    required: false
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: tolerant
        type: io.kestra.plugin.core.flow.AllowFailure
        tasks:
          - id: inner-seq
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: before
                type: io.kestra.plugin.core.debug.Return
                format: before
              - id: boom
                type: io.kestra.plugin.core.execution.Fail
              - id: never
                type: io.kestra.plugin.core.debug.Return
                format: never
        errors:
          - id: local-handler
            type: io.kestra.plugin.core.debug.Return
            format: handled
      - id: goes-on
        type: io.kestra.plugin.core.debug.Return
        format: goes on
  - id: choose
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.crash is defined and inputs.crash is not null }}"
    cases:
      "true":
        - id: crash
          type: io.kestra.plugin.core.execution.Fail
    defaults:
      - id: last
        type: io.kestra.plugin.core.debug.Return
        format: last
errors:
  - id: global-handler
    type: io.kestra.plugin.core.debug.Return
    format: global
"""


def _allow_failure_control(ex: dict) -> None:
    # AllowFailureTest.control
    assert states(ex, "outer") == ["WARNING"]
    assert states(ex, "tolerant") == ["WARNING"]
    assert states(ex, "inner-seq") == ["FAILED"]
    assert states(ex, "before") == ["SUCCESS"]
    assert states(ex, "boom") == ["FAILED"]
    assert states(ex, "local-handler") == ["SUCCESS"]
    assert states(ex, "goes-on") == ["SUCCESS"]
    assert states(ex, "never") == []


def test_allow_failure_goes_on_in_warning(engine):
    # AllowFailureTest.success (allow-failure.yaml): 9 task runs, WARNING, no global error handler
    ex = engine.run(ALLOW_FAILURE)
    _allow_failure_control(ex)
    assert len(task_runs(ex)) == 9
    assert states(ex, "global-handler") == [] and states(ex, "last") == ["SUCCESS"]
    assert ex["state"]["current"] == "WARNING"


def test_allow_failure_then_a_real_failure(engine):
    # AllowFailureTest.failed (allow-failure.yaml, crash input): 10 task runs, FAILED
    ex = engine.run(ALLOW_FAILURE, inputs={"crash": "1"})
    _allow_failure_control(ex)
    assert len(task_runs(ex)) == 10
    assert states(ex, "global-handler") == ["SUCCESS"]
    assert states(ex, "choose") == ["FAILED"] and states(ex, "crash") == ["FAILED"]
    assert ex["state"]["current"] == "FAILED"


# -- Switch --------------------------------------------------------------------------------------

def test_switch_without_match_nor_defaults_fails(engine):
    # FailTest.failOnSwitch (fail-on-switch.yaml): 1 task run, the Switch FAILED, the execution FAILED
    ex = engine.run("""
        id: switch-nomatch
        namespace: conf.flowable
        inputs:
          - id: param
            type: STRING
        tasks:
          - id: switch
            type: io.kestra.plugin.core.flow.Switch
            value: "{{ inputs.param }}"
            cases:
              one:
                - id: one
                  type: io.kestra.plugin.core.debug.Return
                  format: one
              two:
                - id: two
                  type: io.kestra.plugin.core.debug.Return
                  format: two
        """, inputs={"param": "three"})
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 1 and states(ex, "switch") == ["FAILED"]


def test_switch_case_with_errors_block(engine):
    # FlowCaseTest.waitFailed via switch.yaml THIRD: the case's Sequential fails, its errors run:
    # 4 task runs (switch, t3, failed, error-t1), FAILED
    ex = engine.run("""
        id: switch-third
        namespace: conf.flowable
        tasks:
          - id: switch
            type: io.kestra.plugin.core.flow.Switch
            value: THIRD
            cases:
              FIRST:
                - id: t1
                  type: io.kestra.plugin.core.debug.Return
                  format: first
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
                format: default
        """)
    assert ex["state"]["current"] == "FAILED"
    assert [tr["taskId"] for tr in task_runs(ex)] == ["switch", "t3", "failed", "error-t1"]
    assert task_runs(ex, "error-t1")[0]["outputs"]["value"] == "Error Trigger ! error-t1"


# -- Dag -----------------------------------------------------------------------------------------

DAG = """
id: dag
namespace: conf.flowable
tasks:
  - id: dag
    type: io.kestra.plugin.core.flow.Dag
    tasks:
      - task:
          id: a
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
      - task:
          id: b
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn: [a]
      - task:
          id: c
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn: [a]
      - task:
          id: d
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn: [b]
      - task:
          id: e
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn: [d, c]
      - task:
          id: f
          type: io.kestra.plugin.core.log.Log
          message: "{{ task.id }}"
        dependsOn: [b, c]
"""


def test_dag_runs_every_task_after_its_dependencies(engine):
    # DagTest.dag (dag.yaml): 7 task runs, SUCCESS
    ex = engine.run(DAG)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 7
    runs = {tr["taskId"]: tr for tr in task_runs(ex)}
    dag_id = runs["dag"]["id"]
    assert all(runs[t]["parentTaskRunId"] == dag_id for t in "abcdef")

    def started(t):
        return runs[t]["state"]["startDate"]

    def ended(t):
        return runs[t]["state"]["endDate"]
    for task, deps in {"b": "a", "c": "a", "d": "b", "e": "dc", "f": "bc"}.items():
        assert all(started(task) >= ended(dep) for dep in deps), (task, deps)


def test_dag_failure_starts_nothing_new(engine):
    ex = engine.run("""
        id: dag-fail
        namespace: conf.flowable
        tasks:
          - id: dag
            type: io.kestra.plugin.core.flow.Dag
            tasks:
              - task:
                  id: a
                  type: io.kestra.plugin.core.execution.Fail
              - task:
                  id: b
                  type: io.kestra.plugin.core.log.Log
                  message: never
                dependsOn: [a]
        """)
    assert ex["state"]["current"] == "FAILED"
    assert states(ex, "dag") == ["FAILED"] and states(ex, "b") == []


@pytest.mark.parametrize("deps, message", [
    ({"a": ["b"], "b": ["a"]}, "dag: Cyclic dependency detected: a, b"),
    ({"a": [], "b": ["x"]}, "dag: Not existing task id in dependency: x"),
])
def test_dag_validation(engine, deps, message):
    # DagTest.dagCyclicDependencies / dagNotExistTask (flows/invalids/dag-*.yaml)
    nodes = ", ".join(f"{{task: {{id: {t}, type: io.kestra.plugin.core.log.Log, message: x}}, dependsOn: {d}}}"
                      for t, d in deps.items())
    with pytest.raises(FlowInvalid) as err:
        engine.flow(f"""
            id: dag-bad
            namespace: conf.flowable
            tasks:
              - id: dag
                type: io.kestra.plugin.core.flow.Dag
                tasks: [{nodes}]
            """)
    assert message in str(err.value)


# -- WaitFor -------------------------------------------------------------------------------------

def _wait_for(condition: str, frequency: str = "", extra: str = "", fail_on_max: bool = False) -> str:
    return f"""
        id: waitfor
        namespace: conf.flowable
        tasks:
          - id: waitfor
            type: io.kestra.plugin.core.flow.WaitFor
            condition: "{condition}"
            {"failOnMaxReached: true" if fail_on_max else ""}
            checkFrequency:
              interval: PT0.05S
              {frequency}
            tasks:
              - id: output_values
                type: io.kestra.plugin.core.output.OutputValues
                values:
                  count: "{{{{ outputs.waitfor.iterationCount + 1 }}}}"
              {extra}
        """


def test_wait_for_loops_until_the_condition_holds(engine):
    # WaitForCaseTest.waitforMultipleTasks (waitfor-multiple-tasks.yaml): SUCCESS, the last task
    # run's values.count is "4"; the children of earlier iterations are gone
    ex = engine.run(_wait_for("{{ outputs.output_values.values.count == '4' }}"))
    assert ex["state"]["current"] == "SUCCESS"
    assert ex["taskRunList"][-1]["outputs"]["values"]["count"] == "4"
    assert len(task_runs(ex)) == 2
    assert task_runs(ex, "waitfor")[0]["outputs"] == {"iterationCount": 3}


def test_wait_for_stops_at_once_when_the_condition_holds(engine):
    # WaitForCaseTest.waitfor (waitfor.yaml): SUCCESS with outputs
    ex = engine.run(_wait_for("{{ outputs.output_values.values.count != '4' }}"))
    assert ex["state"]["current"] == "SUCCESS"
    assert task_runs(ex, "waitfor")[0]["outputs"] == {"iterationCount": 1}


def test_wait_for_max_iterations(engine):
    # WaitForCaseTest.waitforMaxIterations (failOnMaxReached: FAILED) / waitforNoSuccess (SUCCESS)
    failing = engine.run(_wait_for("{{ outputs.output_values.values.count == '10' }}", "maxIterations: 3",
                                   fail_on_max=True))
    assert failing["state"]["current"] == "FAILED"
    assert "Max iterations reached" in [e["message"] for e in engine.logs(failing["id"])]
    quiet = engine.run(_wait_for("{{ outputs.output_values.values.count == '10' }}", "maxIterations: 3"))
    assert quiet["state"]["current"] == "SUCCESS"


def test_wait_for_max_duration(engine):
    # WaitForCaseTest.waitforMaxDuration (waitfor-max-duration.yaml): FAILED
    ex = engine.run(_wait_for("{{ outputs.output_values.values.count == '-5' }}", "maxDuration: PT0.3S",
                              fail_on_max=True))
    assert ex["state"]["current"] == "FAILED"


def test_wait_for_failing_child(engine):
    # WaitForCaseTest.waitforMultipleTasksFailed: FAILED, the failed task run has 1 attempt
    ex = engine.run(_wait_for("{{ outputs.output_values.values.count == '6' }}", "maxIterations: 5",
                              extra="""- id: fail
                type: io.kestra.plugin.core.execution.Fail"""))
    assert ex["state"]["current"] == "FAILED"
    assert ex["taskRunList"][-1]["taskId"] == "fail" and len(ex["taskRunList"][-1]["attempts"]) == 1


# -- Pause ---------------------------------------------------------------------------------------

def test_pause_timeout_fails_from_paused(engine):
    # PauseTest.runTimeout (pause-timeout.yaml): PAUSED then FAILED; the pause task run's history
    # has one RUNNING, one PAUSED, one FAILED; its children and the next task never run
    ex = engine.run("""
        id: pause-timeout
        namespace: conf.flowable
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            timeout: PT0.2S
            tasks:
              - id: inside
                type: io.kestra.plugin.core.log.Log
                message: never
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: last
        """)
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 1
    steps = history(task_runs(ex, "pause")[0]["state"])
    assert (steps.count("RUNNING"), steps.count("PAUSED"), steps.count("FAILED")) == (1, 1, 1)


def test_pause_delay_resumes_and_runs_its_tasks(engine):
    # PauseTest.runDelay (pause-delay.yaml): SUCCESS, 3 task runs, two RUNNING in the pause's history
    ex = engine.run("""
        id: pause-delay
        namespace: conf.flowable
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            pauseDuration: PT0.2S
            tasks:
              - id: inside
                type: io.kestra.plugin.core.log.Log
                message: after the pause
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: last
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 3
    assert history(task_runs(ex, "pause")[0]["state"]).count("RUNNING") == 2


# -- WorkingDirectory inputFiles -------------------------------------------------------------------

def test_working_directory_input_files(engine):
    # WorkingDirectoryTest.inputFiles (working-directory-inputs.yml): the inline file is in the
    # shared directory, 2 task runs, SUCCESS (read here by a shell task instead of LocalFiles)
    ex = engine.run("""
        id: wd-inputs
        namespace: conf.flowable
        tasks:
          - id: wd
            type: io.kestra.plugin.core.flow.WorkingDirectory
            inputFiles:
              input.txt: Hello World
            outputFiles:
              - input.txt
            tasks:
              - id: read
                type: io.kestra.plugin.scripts.shell.Commands
                commands:
                  - cat input.txt
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 2
    assert "Hello World" in [e["message"] for e in engine.logs(ex["id"])]
    uri = task_runs(ex, "wd")[0]["outputs"]["outputFiles"]["input.txt"]
    assert engine.store.file_path(uri).read_text() == "Hello World"
    assert attempts(ex, "read") == 1


# -- ForEachItem -----------------------------------------------------------------------------------

def test_for_each_item_one_subflow_per_batch(engine1):
    engine = engine1
    # ForEachItemCaseTest.forEachItem (for-each-item.yaml + for-each-item-subflow.yaml): 102 lines in
    # batches of 4 -> 26 subflow executions; 4 task runs (each, each_split, each_items, each_merge);
    # each_items has 1 SUCCESS attempt, numberOfBatches 26, iterations CREATED 0 / RUNNING 0 / SUCCESS 26;
    # the subflows' `items` input is the batch file, their correlation id the parent's id
    engine.flow("""
        id: per-batch
        namespace: conf.flowable
        inputs:
          - id: items
            type: STRING
        tasks:
          - id: per-item
            type: io.kestra.plugin.core.log.Log
            message: "{{ inputs.items }}"
        """)
    lines = "\\n".join(f"line {n}" for n in range(102))
    ex = engine.run(f"""
        id: for-each-item
        namespace: conf.flowable
        tasks:
          - id: write
            type: io.kestra.plugin.core.storage.Write
            content: "{lines}"
            extension: .txt
          - id: each
            type: io.kestra.plugin.core.flow.ForEachItem
            items: "{{{{ outputs.write.uri }}}}"
            batch:
              rows: 4
            namespace: conf.flowable
            flowId: per-batch
            wait: true
            transmitFailed: true
            inputs:
              items: "{{{{ taskrun.items }}}}"
        """, timeout=120)
    assert ex["state"]["current"] == "SUCCESS"
    trs = task_runs(ex)[1:]
    assert [tr["taskId"] for tr in trs] == ["each", "each_split", "each_items", "each_merge"]
    items = trs[2]
    assert [a["state"]["current"] for a in items["attempts"]] == ["SUCCESS"]
    assert items["outputs"]["numberOfBatches"] == 26
    assert {k: items["outputs"]["iterations"][k] for k in ("CREATED", "RUNNING", "SUCCESS")} == \
        {"CREATED": 0, "RUNNING": 0, "SUCCESS": 26}
    children = engine.children(ex["id"])
    assert len(children) == 26 and {c["state"]["current"] for c in children} == {"SUCCESS"}
    first = min(children, key=lambda c: c["state"]["histories"][0]["date"])
    assert first["inputs"]["items"].startswith(f"kestra:///conf/flowable/for-each-item/executions/{ex['id']}/tasks/each_split/")
    assert engine.store.file_path(first["inputs"]["items"]).read_text() == "line 0\nline 1\nline 2\nline 3\n"
    assert {lb["value"] for c in children for lb in c["labels"] if lb["key"] == "system.correlationId"} == {ex["id"]}


def test_for_each_item_failed_batch_fails_the_task(engine1):
    engine = engine1
    # TaskWithAllowWarningTest.executableTask_ForEachItem's counterpart: a failing subflow fails
    # `<id>_items` (transmitFailed) and the execution
    engine.flow("""
        id: batch-fails
        namespace: conf.flowable
        inputs:
          - id: items
            type: STRING
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
        """)
    ex = engine.run("""
        id: for-each-item-fail
        namespace: conf.flowable
        tasks:
          - id: write
            type: io.kestra.plugin.core.storage.Write
            content: "a\\nb\\nc"
          - id: each
            type: io.kestra.plugin.core.flow.ForEachItem
            items: "{{ outputs.write.uri }}"
            batch:
              partitions: 2
            namespace: conf.flowable
            flowId: batch-fails
            inputs:
              items: "{{ taskrun.items }}"
        """)
    assert ex["state"]["current"] == "FAILED"
    assert states(ex, "each_items") == ["FAILED"] and states(ex, "each_merge") == []
    assert task_runs(ex, "each_items")[0]["outputs"]["iterations"]["FAILED"] == 2


# -- execution.Resume ------------------------------------------------------------------------------

def test_resume_task_resumes_a_paused_execution(engine):
    # ResumeTest.resume (pause.yaml + resume-execution.yaml): the resuming execution SUCCESS,
    # the paused one then ends
    paused_id = engine.create("""
        id: waits
        namespace: conf.flowable
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
          - id: after
            type: io.kestra.plugin.core.debug.Return
            format: after
        """)
    engine.wait(paused_id, until=lambda ex: ex["state"]["current"] == "PAUSED")
    resumer = engine.run("""
        id: resumer
        namespace: conf.flowable
        inputs:
          - id: executionId
            type: STRING
        tasks:
          - id: resume
            type: io.kestra.plugin.core.execution.Resume
            executionId: "{{ inputs.executionId }}"
        """, inputs={"executionId": paused_id})
    assert resumer["state"]["current"] == "SUCCESS"
    paused = engine.wait(paused_id)
    assert paused["state"]["current"] == "SUCCESS" and states(paused, "after") == ["SUCCESS"]


def test_resume_task_on_a_running_execution_fails(engine):
    ex = engine.run("""
        id: resume-self
        namespace: conf.flowable
        tasks:
          - id: resume
            type: io.kestra.plugin.core.execution.Resume
        """)
    assert ex["state"]["current"] == "FAILED"
    assert any("is not paused" in e["message"] for e in engine.logs(ex["id"]))


@pytest.mark.differs("ForEachItem's merged subflow outputs are JSON lines (Kestra writes ION)")
def test_for_each_item_merges_subflow_outputs_as_json_lines(engine1):
    engine = engine1
    # ForEachItem$ForEachItemMergeOutputs: Kestra concatenates the subflows' outputs.ion files;
    # the sandbox writes one JSON line per subflow execution's outputs (docs/sandbox.md)
    engine.flow("""
        id: batch-out
        namespace: conf.flowable
        inputs:
          - id: items
            type: STRING
        tasks:
          - id: count
            type: io.kestra.plugin.core.debug.Return
            format: "{{ read(inputs.items) | trim }}"
        outputs:
          - id: seen
            type: STRING
            value: "{{ outputs.count.value }}"
        """)
    ex = engine.run("""
        id: for-each-item-out
        namespace: conf.flowable
        tasks:
          - id: write
            type: io.kestra.plugin.core.storage.Write
            content: "x\\ny"
          - id: each
            type: io.kestra.plugin.core.flow.ForEachItem
            items: "{{ outputs.write.uri }}"
            namespace: conf.flowable
            flowId: batch-out
            inputs:
              items: "{{ taskrun.items }}"
        """)
    assert ex["state"]["current"] == "SUCCESS"
    uri = task_runs(ex, "each_merge")[0]["outputs"]["subflowOutputs"]
    import json
    lines = [json.loads(line) for line in engine.store.file_path(uri).read_text().splitlines()]
    assert sorted(line["seen"] for line in lines) == ["x", "y"]


def test_for_each_item_is_rejected_on_2x_naming_loop(engine2):
    # Kestra 2.0 removed ForEachItem (kestra-api-2.md: "ForEach/ForEachItem removed (use Loop)")
    with pytest.raises(FlowInvalid) as err:
        engine2.flow("""
            id: fei-2x
            namespace: conf.flowable
            tasks:
              - id: each
                type: io.kestra.plugin.core.flow.ForEachItem
                items: "kestra:///x.txt"
                namespace: conf.flowable
                flowId: child
            """)
    assert "ForEachItem was removed in Kestra 2.0" in str(err.value) and "flow.Loop" in str(err.value)


def test_pauses_in_each_parallel_resume_on_their_own(engine1):
    # PauseTest.runParallelDelay (each-parallel-pause.yml): 3 Pause tasks with a delay in an
    # EachParallel, each with a child: 7 task runs, SUCCESS
    ex = engine1.run("""
        id: each-parallel-pause
        namespace: conf.flowable
        tasks:
          - id: each
            type: io.kestra.plugin.core.flow.EachParallel
            value: ["toto", "tata", "titi"]
            tasks:
              - id: pause
                type: io.kestra.plugin.core.flow.Pause
                delay: PT0.2S
                tasks:
                  - id: log
                    type: io.kestra.plugin.core.log.Log
                    message: Hello World
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 7


def test_pause_then_resume_runs_its_tasks(engine):
    # PauseTest.run (pause.yaml): PAUSED with 1 task run; resumed, SUCCESS
    ex_id = engine.create("""
        id: pause-resume
        namespace: conf.flowable
        tasks:
          - id: pause
            type: io.kestra.plugin.core.flow.Pause
            tasks:
              - id: subtask
                type: io.kestra.plugin.core.log.Log
                message: after the resume
          - id: last
            type: io.kestra.plugin.core.debug.Return
            format: last
        """)
    paused = engine.wait(ex_id, until=lambda ex: ex["state"]["current"] == "PAUSED")
    assert len(task_runs(paused)) == 1 and task_runs(paused)[0]["state"]["current"] == "PAUSED"
    engine.engine.resume(ex_id, {})
    done = engine.wait(ex_id)
    assert done["state"]["current"] == "SUCCESS"
    assert [tr["taskId"] for tr in task_runs(done)] == ["pause", "subtask", "last"]


def test_working_directory_taskrun_value(engine1):
    # WorkingDirectoryTest.taskRun (working-directory-taskrun.yml): 3 task runs, the child sees
    # the loop's taskrun.value
    ex = engine1.run("""
        id: wd-taskrun
        namespace: conf.flowable
        tasks:
          - id: parallel
            type: io.kestra.plugin.core.flow.ForEach
            concurrencyLimit: 0
            values: ["1"]
            tasks:
              - id: wd
                type: io.kestra.plugin.core.flow.WorkingDirectory
                tasks:
                  - id: log-taskrun
                    type: io.kestra.plugin.core.debug.Return
                    format: "{{ taskrun.value }}"
        """)
    assert ex["state"]["current"] == "SUCCESS" and len(task_runs(ex)) == 3
    assert task_runs(ex, "log-taskrun")[0]["outputs"]["value"] == "1"


def test_working_directory_worker_taskrun_and_parents(engine1):
    # WorkingDirectoryTest.taskRunNested (working-directory-taskrun-nested.yml): 6 task runs;
    # `parent` renders {"taskrun":{"value":"1"}}; `workerTaskrun` is the task's own taskrun
    ex = engine1.run("""
        id: wd-nested
        namespace: conf.flowable
        tasks:
          - id: parallel
            type: io.kestra.plugin.core.flow.ForEach
            concurrencyLimit: 0
            values: ["1"]
            tasks:
              - id: seq
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: wd
                    type: io.kestra.plugin.core.flow.WorkingDirectory
                    tasks:
                      - id: log-taskrun
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ workerTaskrun.id }}"
                      - id: log-workerparents
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ parents }}"
                      - id: log-workerparent
                        type: io.kestra.plugin.core.debug.Return
                        format: "{{ parent }}"
        """)
    assert ex["state"]["current"] == "SUCCESS" and len(task_runs(ex)) == 6
    assert '{"taskrun":{"value":"1"}}' in task_runs(ex, "log-workerparent")[0]["outputs"]["value"].replace(" ", "")
    own = task_runs(ex, "log-taskrun")[0]
    assert own["outputs"]["value"] == own["id"]
