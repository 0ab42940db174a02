"""Models parse either generation's JSON leniently and keep the raw dict."""
from __future__ import annotations

from kestra_magic.models import Execution, Flow, LogEntry, Page, State

V1_EXECUTION = {
    "id": "abc", "namespace": "ns", "flowId": "f", "flowRevision": 2, "tenantId": "main",
    "labels": [{"key": "team", "value": "data"}], "inputs": {"n": 1}, "outputs": {"o": 1},
    "state": {"current": "SUCCESS", "histories": [{"state": "CREATED", "date": "2024-01-01T00:00:00Z"},
                                                   {"state": "SUCCESS", "date": "2024-01-01T00:00:01Z"}],
              "endDate": "2024-01-01T00:00:01Z", "duration": "PT1S"},
    "taskRunList": [{"id": "tr1", "taskId": "t", "value": "v", "iteration": 0, "parentTaskRunId": "p",
                     "state": {"current": "SUCCESS"}, "attempts": [{"state": {"current": "SUCCESS"}}],
                     "outputs": {"x": 1}}],
    "url": "http://h/ui/main/executions/ns/f/abc", "parentId": None, "deleted": False,
}
V2_EXECUTION = {"id": "def", "namespace": "ns", "flowId": "f", "state": {"current": "RUNNING"},
                "taskRunList": [{"id": "tr2", "taskId": "t", "state": {"current": "RUNNING"}}],
                "labels": [{"key": "system.from", "value": "api"}]}


def test_execution_v1():
    e = Execution.from_dict(V1_EXECUTION)
    assert (e.id, e.namespace, e.flow_id, e.flow_revision) == ("abc", "ns", "f", 2)
    assert e.labels == {"team": "data"} and e.outputs == {"o": 1} and e.inputs == {"n": 1}
    assert e.state.is_terminal and not e.state.is_failed
    assert e.state.start_date == "2024-01-01T00:00:00Z" and e.state.duration == "PT1S"
    tr = e.task_runs[0]
    assert (tr.id, tr.task_id, tr.value, tr.iteration, tr.parent_task_run_id) == ("tr1", "t", "v", 0, "p")
    assert tr.outputs == {"x": 1} and tr.state.current == "SUCCESS" and tr.attempts
    assert e.raw is V1_EXECUTION and "raw" not in repr(e)


def test_execution_v2_and_garbage():
    e = Execution.from_dict(V2_EXECUTION)
    assert e.outputs == {} and e.task_runs[0].outputs is None and not e.state.is_terminal
    assert e.labels == {"system.from": "api"}
    empty = Execution.from_dict(None)
    assert empty.id is None and empty.state.current is None and empty.task_runs == []
    assert Execution.from_dict({"id": "x", "labels": {"a": "b"}}).labels == {"a": "b"}


def test_states():
    for s in ("FAILED", "KILLED", "CANCELLED"):
        assert State.from_dict({"current": s}).is_failed
    for s in ("PAUSED", "BREAKPOINT", "RUNNING", "CREATED", "KILLING"):
        assert not State.from_dict({"current": s}).is_terminal
    assert State.from_dict({"current": "WARNING"}).is_terminal


def test_flow_log_page():
    f = Flow.from_dict({"id": "f", "namespace": "ns", "revision": 3, "source": "id: f",
                        "tasks": [{"id": "t"}], "labels": [{"key": "k", "value": "v"}]})
    assert (f.id, f.revision, f.source, f.labels, f.deleted) == ("f", 3, "id: f", {"k": "v"}, False)
    log = LogEntry.from_dict({"timestamp": "2024-01-01T00:00:00Z", "level": "INFO", "message": "hi",
                              "taskId": "t", "taskRunId": "tr", "attemptNumber": 0, "executionId": "e"})
    assert (log.level, log.message, log.task_id, log.attempt_number, log.execution_id) == (
        "INFO", "hi", "t", 0, "e")
    page = Page([1, 2], 5)
    assert list(page) == [1, 2] and len(page) == 2 and page[1] == 2 and page.total == 5
