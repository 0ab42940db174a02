"""Restart as Kestra's RestartCaseTest asserts it (kestra-io/kestra,
core/src/test/java/io/kestra/core/runners/RestartCaseTest.java over
flows/valids/restart_last_failed.yaml and restart_always_failed.yaml): same execution id, no
parent, the failed task run gets a second attempt, handlers re-run."""
from __future__ import annotations

import pytest

from tests.conformance.harness import history, task_runs

pytestmark = pytest.mark.conformance("runner")


def test_restart_failed_then_success(engine):
    # RestartCaseTest.restartFailedThenSuccess: 3 task runs FAILED; after the restart the same
    # execution ends SUCCESS with 4 task runs, the third with 2 attempts, every task run SUCCESS
    ex = engine.run("""
        id: restart-last-failed
        namespace: conf.restart
        tasks:
          - id: a
            type: io.kestra.plugin.core.log.Log
            message: "{{ task.id }}"
          - id: b
            type: io.kestra.plugin.core.log.Log
            message: "{{ task.id }}"
          - id: c
            type: io.kestra.plugin.core.log.Log
            message: "{{ taskrun.attemptsCount == 1 ? 'ok' : undefinedVariable }}"
          - id: d
            type: io.kestra.plugin.core.log.Log
            message: "{{ task.id }}"
        """)
    assert ex["state"]["current"] == "FAILED"
    assert len(task_runs(ex)) == 3 and task_runs(ex)[2]["state"]["current"] == "FAILED"
    assert engine.engine.restart(ex["id"]) == ex["id"]
    again = engine.wait(ex["id"])
    assert again["state"]["current"] == "SUCCESS" and again.get("parentId") is None
    assert "RESTARTED" in history(again["state"])
    assert len(task_runs(again)) == 4
    assert len(task_runs(again)[2]["attempts"]) == 2
    assert {tr["state"]["current"] for tr in task_runs(again)} == {"SUCCESS"}


def test_restart_failed_then_failure_with_global_errors(engine):
    # RestartCaseTest.restartFailedThenFailureWithGlobalErrors: 2 task runs (the failure and the
    # errors handler); after the restart: FAILED again, 2 task runs, the first with 2 attempts
    ex = engine.run("""
        id: restart-always-failed
        namespace: conf.restart
        tasks:
          - id: failStep
            type: io.kestra.plugin.core.execution.Fail
        errors:
          - id: errorHandler
            type: io.kestra.plugin.core.log.Log
            message: "I'm failing {{ task.id }}"
        """)
    assert ex["state"]["current"] == "FAILED" and len(task_runs(ex)) == 2
    engine.engine.restart(ex["id"])
    again = engine.wait(ex["id"])
    assert again["state"]["current"] == "FAILED" and again.get("parentId") is None
    assert [tr["taskId"] for tr in task_runs(again)] == ["failStep", "errorHandler"]
    assert len(task_runs(again)[0]["attempts"]) == 2
