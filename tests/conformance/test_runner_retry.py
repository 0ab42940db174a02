"""Retry semantics as Kestra's RetryCaseTest and TaskWithAllowWarningTest assert them.

Kestra: core/src/test/java/io/kestra/plugin/core/flow/RetryCaseTest.java over the flows
core/src/test/resources/flows/valids/retry-*.yaml; intervals are shorter here, the counts and
states are Kestra's. ``maxAttempt`` counts all attempts; with ``maxDuration`` a next attempt is
made only if it would start before the first attempt's start + maxDuration.
"""
from __future__ import annotations

import pytest

from tests.conformance.harness import attempts, states, task_runs

pytestmark = pytest.mark.conformance("runner")


def _fail_with_retry(retry: str, errors: str = "", flow_retry: str = "", task: str = "") -> str:
    return f"""
        id: retry-flow
        namespace: conf.retry
        {flow_retry}
        tasks:
          - id: failing
            type: io.kestra.plugin.core.execution.Fail
            {retry}
          {task}
        {errors}
        """


def test_retry_until_success_ends_in_warning(engine):
    # RetryCaseTest.retrySuccess (retry-success.yaml): WARNING (warningOnRetry), 1 task run, 4 attempts
    ex = engine.run("""
        id: retry-success
        namespace: conf.retry
        tasks:
          - id: flaky
            type: io.kestra.plugin.core.log.Log
            message: "{{ taskrun.attemptsCount == 3 ? 'ok' : undefinedVariable }}"
            retry:
              type: constant
              interval: PT0.02S
              maxAttempt: 4
              maxDuration: PT15S
              warningOnRetry: true
        errors:
          - id: never
            type: io.kestra.plugin.core.log.Log
            message: never
        """)
    assert ex["state"]["current"] == "WARNING"
    assert len(task_runs(ex)) == 1 and attempts(ex, "flaky") == 4


def test_retry_not_needed_is_one_attempt(engine):
    # RetryCaseTest.retrySuccessAtFirstAttempt (retry-success-first-attempt.yaml)
    ex = engine.run("""
        id: retry-first
        namespace: conf.retry
        tasks:
          - id: fine
            type: io.kestra.plugin.core.log.Log
            message: foo
            retry:
              type: constant
              interval: PT0.02S
              maxAttempt: 5
              warningOnRetry: true
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 1 and attempts(ex, "fine") == 1


@pytest.mark.parametrize("retry, count", [
    # RetryCaseTest.retryFailed (retry-failed.yaml): 5 attempts, the errors task: 2 task runs
    ("{type: constant, interval: PT0.02S, maxAttempt: 5, maxDuration: PT15S}", 5),
    # RetryCaseTest.retryRandom (retry-random.yaml): 3 attempts
    ("{type: random, maxAttempt: 3, maxDuration: PT15S, minInterval: PT0.01S, maxInterval: PT0.03S}", 3),
    # RetryCaseTest.retryExpo (retry-expo.yaml): 3 attempts
    ("{type: exponential, maxAttempt: 3, maxDuration: PT15S, interval: PT0.01S, maxInterval: PT0.1S}", 3),
])
def test_retry_attempt_counts(engine, retry, count):
    ex = engine.run(_fail_with_retry(f"retry: {retry}", errors="""errors:
          - id: handler
            type: io.kestra.plugin.core.log.Log
            message: once"""))
    assert ex["state"]["current"] == "FAILED"
    assert attempts(ex, "failing") == count
    assert len(task_runs(ex)) == 2 and states(ex, "handler") == ["SUCCESS"]


def test_retry_stops_the_flow(engine):
    # RetryCaseTest.retryFail (retry-fail.yaml): 3 attempts, the next task never runs, errors once: 2 task runs
    ex = engine.run(_fail_with_retry("retry: {type: constant, interval: PT0.02S, maxAttempt: 3}", errors="""errors:
          - id: handler
            type: io.kestra.plugin.core.log.Log
            message: once""", task="""- id: not-run
            type: io.kestra.plugin.core.log.Log
            message: never"""))
    assert ex["state"]["current"] == "FAILED"
    assert attempts(ex, "failing") == 3 and states(ex, "not-run") == []
    assert len(task_runs(ex)) == 2


@pytest.mark.parametrize("where", ["task", "flow"])
def test_retry_failed_task_max_attempts(engine, where):
    # RetryCaseTest.retryFailedTaskAttempts / retryFailedFlowAttempts (retry-failed-*-attempts.yml):
    # behavior RETRY_FAILED_TASK, maxAttempt 4: 4 attempts, FAILED
    retry = "retry: {behavior: RETRY_FAILED_TASK, type: constant, maxAttempt: 4, interval: PT0.02S}"
    ex = engine.run(_fail_with_retry(retry if where == "task" else "", flow_retry=retry if where == "flow" else ""))
    assert ex["state"]["current"] == "FAILED"
    assert attempts(ex, "failing") == 4


@pytest.mark.parametrize("where", ["task", "flow"])
def test_retry_failed_task_max_duration(engine, where):
    # RetryCaseTest.retryFailedTaskDuration / retryFailedFlowDuration: maxDuration PT6S with interval
    # PT2S gives 3 attempts (the 4th would start at 6 s, not before); here PT1.5S and PT0.5S
    retry = "retry: {behavior: RETRY_FAILED_TASK, type: constant, maxDuration: PT1.5S, interval: PT0.5S}"
    ex = engine.run(_fail_with_retry(retry if where == "task" else "", flow_retry=retry if where == "flow" else ""))
    assert ex["state"]["current"] == "FAILED"
    assert attempts(ex, "failing") == 3


def test_retry_of_a_flowable_retries_its_children(engine):
    # RetryCaseTest.retryFlowable (retry-flowable.yaml): the Sequential's retry applies to its
    # failing child: 3 attempts on the child, FAILED
    ex = engine.run("""
        id: retry-flowable
        namespace: conf.retry
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            retry: {type: constant, interval: PT0.02S, maxAttempt: 3}
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
        """)
    assert ex["state"]["current"] == "FAILED"
    assert task_runs(ex)[1]["taskId"] == "child" and len(task_runs(ex)[1]["attempts"]) == 3


def test_retry_of_a_nested_child(engine):
    # RetryCaseTest.retryFlowableNestedChild (retry-flowable-nested-child.yaml): the child's own retry
    ex = engine.run("""
        id: retry-nested
        namespace: conf.retry
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.Sequential
            tasks:
              - id: flowable2
                type: io.kestra.plugin.core.flow.Sequential
                tasks:
                  - id: child
                    type: io.kestra.plugin.core.execution.Fail
                    retry: {type: constant, interval: PT0.02S, maxAttempt: 3}
        """)
    assert ex["state"]["current"] == "FAILED"
    assert task_runs(ex)[2]["taskId"] == "child" and len(task_runs(ex)[2]["attempts"]) == 3


def test_retry_of_a_parallel_loop(engine):
    # RetryCaseTest.retryFlowableParallel (retry-flowable-parallel.yaml): ForEach (Loop on 2.x)
    # with a retry and concurrencyLimit 0: each failing child gets at least 2 attempts
    loop = "ForEach" if engine.generation == 1 else "Loop"
    ex = engine.run(f"""
        id: retry-parallel
        namespace: conf.retry
        tasks:
          - id: flowable
            type: io.kestra.plugin.core.flow.{loop}
            concurrencyLimit: 0
            values: [0, 1]
            retry: {{type: constant, interval: PT0.02S, maxAttempt: 3}}
            tasks:
              - id: child
                type: io.kestra.plugin.core.execution.Fail
        """)
    assert ex["state"]["current"] == "FAILED"
    children = task_runs(ex, "child")
    assert children and all(len(tr["attempts"]) >= 2 for tr in children)


def test_retry_of_a_subflow_makes_one_child_per_attempt(engine):
    # RetryCaseTest.retrySubflow (retry-subflow.yaml, flow-level retry maxAttempt 3): the Subflow
    # task run has 3 attempts, FAILED
    engine.flow("""
        id: always-fails
        namespace: conf.retry
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
        """)
    ex = engine.run("""
        id: retry-subflow
        namespace: conf.retry
        retry: {type: constant, interval: PT0.02S, maxAttempt: 3}
        tasks:
          - id: subflow
            type: io.kestra.plugin.core.flow.Subflow
            namespace: conf.retry
            flowId: always-fails
        """)
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)[0]["attempts"]) == 3
    assert [a["state"]["current"] for a in task_runs(ex)[0]["attempts"]] == ["FAILED"] * 3
    assert len(engine.children(ex["id"])) == 3


@pytest.mark.parametrize("where, limit", [
    ("task", "maxAttempt: 3"),     # RetryCaseTest.retryNewExecutionTaskAttempts
    ("flow", "maxAttempt: 3"),     # RetryCaseTest.retryNewExecutionFlowAttempts
    ("task", "maxDuration: PT1.2S"),   # RetryCaseTest.retryNewExecutionTaskDuration (PT6S / PT2S there)
    ("flow", "maxDuration: PT1.2S"),   # RetryCaseTest.retryNewExecutionFlowDuration
])
def test_retry_as_new_execution(engine, where, limit):
    # retry-new-execution-*.yml: behavior CREATE_NEW_EXECUTION — the failed execution ends RETRIED
    # and a new one runs: RETRIED, RETRIED, FAILED
    retry = f"retry: {{behavior: CREATE_NEW_EXECUTION, type: constant, interval: PT0.4S, {limit}}}"
    first = engine.run(_fail_with_retry(retry if where == "task" else "", flow_retry=retry if where == "flow" else ""))
    assert first["state"]["current"] == "RETRIED"
    assert states(first, "failing") == ["RETRIED"]
    engine.wait_until(lambda: [e["state"]["current"] for e in engine.executions_of("retry-flow")]
                      == ["RETRIED", "RETRIED", "FAILED"], timeout=30)
    runs = engine.executions_of("retry-flow")
    assert [e["metadata"]["attemptNumber"] for e in runs] == [1, 2, 3]
    assert {e["originalId"] for e in runs} == {first["id"]}


# -- allowWarning ----------------------------------------------------------------------------------

def test_allow_warning_on_a_runnable_task(engine):
    # TaskWithAllowWarningTest.runnableTask (task-allow-warning-runnable.yml): SUCCESS, 2 task runs,
    # 3 attempts on the failing task
    ex = engine.run("""
        id: allow-warning
        namespace: conf.retry
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            allowFailure: true
            allowWarning: true
            retry: {type: constant, interval: PT0.02S, maxAttempt: 3}
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: allowed
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 2 and attempts(ex, "fail") == 3


def test_allow_warning_on_a_flowable_task(engine):
    # TaskWithAllowWarningTest.flowableTask (task-allow-warning-flowable.yml): SUCCESS, 3 task runs
    ex = engine.run("""
        id: allow-warning-flowable
        namespace: conf.retry
        tasks:
          - id: seq
            type: io.kestra.plugin.core.flow.Sequential
            allowFailure: true
            allowWarning: true
            tasks:
              - id: fail
                type: io.kestra.plugin.core.execution.Fail
              - id: not-allowed
                type: io.kestra.plugin.core.log.Log
                message: never
          - id: allowed
            type: io.kestra.plugin.core.log.Log
            message: allowed
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 3 and states(ex, "seq") == ["SUCCESS"]


def test_allow_warning_on_a_subflow(engine):
    # TaskWithAllowWarningTest.executableTask_Flow (task-allow-warning-executable-flow.yml): SUCCESS, 2 task runs
    engine.flow("""
        id: fails-with-input
        namespace: conf.retry
        inputs:
          - id: items
            type: STRING
        tasks:
          - id: per-item
            type: io.kestra.plugin.core.execution.Fail
        """)
    ex = engine.run("""
        id: allow-warning-subflow
        namespace: conf.retry
        tasks:
          - id: fail
            type: io.kestra.plugin.core.flow.Subflow
            allowFailure: true
            allowWarning: true
            namespace: conf.retry
            flowId: fails-with-input
            inputs:
              items: You will fail
            transmitFailed: true
            wait: true
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: allowed
        """)
    assert ex["state"]["current"] == "SUCCESS"
    assert len(task_runs(ex)) == 2


def test_allow_failure_with_retry(engine):
    # TaskWithAllowFailureTest.runnableTask (task-allow-failure-runnable.yml): WARNING, 2 task runs,
    # 3 attempts on the failing task
    ex = engine.run("""
        id: allow-failure-retry
        namespace: conf.retry
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
            allowFailure: true
            retry: {type: constant, interval: PT0.02S, maxAttempt: 3}
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: allowed
        """)
    assert ex["state"]["current"] == "WARNING"
    assert len(task_runs(ex)) == 2 and attempts(ex, "fail") == 3


def test_allow_failure_on_a_subflow(engine):
    # TaskWithAllowFailureTest.executableTask_Flow (task-allow-failure-executable-flow.yml): WARNING, 2 task runs
    engine.flow("""
        id: fails
        namespace: conf.retry
        tasks:
          - id: fail
            type: io.kestra.plugin.core.execution.Fail
        """)
    ex = engine.run("""
        id: allow-failure-subflow
        namespace: conf.retry
        tasks:
          - id: call
            type: io.kestra.plugin.core.flow.Subflow
            allowFailure: true
            namespace: conf.retry
            flowId: fails
          - id: log
            type: io.kestra.plugin.core.log.Log
            message: allowed
        """)
    assert ex["state"]["current"] == "WARNING"
    assert len(task_runs(ex)) == 2 and states(ex, "call") == ["WARNING"]
