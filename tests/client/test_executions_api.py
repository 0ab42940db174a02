"""client.executions against the sandbox of both generations, over real HTTP."""
from __future__ import annotations

import datetime as dt
import io

import pytest

from kestra_magic.errors import KestraConflict, KestraNotFound, KestraValidationError
from kestra_magic.models import Execution
from tests.client.conftest import (FAIL_FLOW, PAUSE_FLOW, SLEEP_FLOW, flow_source, requests_to,
                                   wait_terminal)


def test_create_with_inputs_files_labels_and_wait(client, sandbox, inputs_flow, ns, tmp_path):
    csv = tmp_path / "people.csv"
    csv.write_bytes(b"name,age\nann,31\n")
    since = len(sandbox.requests)
    e = client.executions.create_execution(
        ns, "f", inputs={"name": "bob", "n": 3, "flag": True, "cfg": {"a": [1, 2]}},
        files={"data": str(csv)}, labels={"team": "data", "run": 7}, wait=True)
    assert isinstance(e, Execution) and e.state.current == "SUCCESS"
    assert e.inputs["name"] == "bob" and e.inputs["n"] == 3 and e.inputs["flag"] is True
    assert e.inputs["cfg"] == {"a": [1, 2]}
    assert e.inputs["data"].startswith("kestra:///") and e.inputs["data"].endswith("/people.csv")
    assert e.labels["team"] == "data" and e.labels["run"] == "7" and e.labels["owner"] == "tests"
    sent = requests_to(sandbox, "POST", f"/executions/{ns}/f", since)[-1]
    assert sent.form["flag"] == "true" and sent.form["n"] == "3" and sent.form["cfg"] == '{"a": [1, 2]}'
    assert sent.files["data"] == ("people.csv", 16)
    assert sorted(sent.query["labels"]) == ["run:7", "team:data"] and sent.query["wait"] == ["true"]

    # files of the execution: download, metadata, preview (the uploaded input is one)
    uri = e.inputs["data"]
    assert client.executions.download_file(e.id, uri) == b"name,age\nann,31\n"
    assert client.executions.file_metadata(e.id, uri) == {"size": 16}
    preview = client.executions.preview_file(e.id, uri, max_rows=1)
    assert preview["extension"] == "csv" and "name,age" in preview["content"]

    # outputs, on either generation (2.x serves them from /outputs/...)
    assert client.executions.flow_outputs(e.id) == {"result": "n=3"}
    outs = client.executions.task_outputs(e.id)
    assert [(o["taskId"], o["outputs"]) for o in outs] == [("ret", {"value": "n=3"})]
    assert outs[0]["taskRunId"] == next(t.id for t in e.task_runs if t.task_id == "ret")


def test_file_inputs_from_bytes_and_file_objects(client, inputs_flow, ns):
    fobj = io.BytesIO(b"hello")
    fobj.name = "greeting.txt"
    e = client.executions.create_execution(ns, "f", inputs={"data": fobj}, wait=True)
    assert e.inputs["data"].endswith("/greeting.txt")
    assert client.executions.download_file(e.id, e.inputs["data"]) == b"hello"
    e2 = client.executions.create_execution(ns, "f", files={"data": b"raw-bytes"}, wait=True)
    assert client.executions.download_file(e2.id, e2.inputs["data"]) == b"raw-bytes"


def test_file_input_from_a_dataframe(client, inputs_flow, ns):
    import pandas as pd
    df = pd.DataFrame({"name": ["ann", "bob"], "age": [31, 42]})
    e = client.executions.create_execution(ns, "f", inputs={"data": df}, wait=True)
    assert e.inputs["data"].endswith("/data.csv")
    assert client.executions.download_file(e.id, e.inputs["data"]) == b"name,age\nann,31\nbob,42\n"


def test_download_format_only_sent_to_2x(client, sandbox, inputs_flow, ns):
    e = client.executions.create_execution(ns, "f", files={"data": b"x"}, wait=True)
    since = len(sandbox.requests)
    client.executions.download_file(e.id, e.inputs["data"], format="jsonl")
    sent = requests_to(sandbox, "GET", "/file", since)[-1]
    assert sent.query.get("format") == (["JSONL"] if client.generation == 2 else None)


def test_create_options_reach_the_server(client, sandbox, inputs_flow, ns):
    when = dt.datetime.now() + dt.timedelta(hours=1)   # naive = local time
    since = len(sandbox.requests)
    e = client.executions.create_execution(ns, "f", labels=["a:b"], revision=1, schedule_date=when,
                                           breakpoints=["hello", "warn"], kind="test")
    assert e.id and e.state.current == "CREATED" and e.flow_revision == 1
    sent = requests_to(sandbox, "POST", f"/executions/{ns}/f", since)[-1]
    assert sent.query["revision"] == ["1"] and sent.query["kind"] == ["TEST"]
    assert sent.query["breakpoints"] == ["hello,warn"]
    sched = dt.datetime.fromisoformat(sent.query["scheduleDate"][0])
    assert sched.tzinfo is not None and abs((sched - when.astimezone()).total_seconds()) < 1e-3
    assert e.raw.get("scheduleDate") and e.raw.get("kind") == "TEST"
    client.executions.kill_execution(e.id)


def test_create_errors(client, ns, inputs_flow):
    with pytest.raises(KestraNotFound, match=f"flow {ns}.missing not found"):
        client.executions.create_execution(ns, "missing")
    with pytest.raises(KestraValidationError):
        client.executions.create_execution(ns, "f", inputs={"n": "not-a-number"})
    with pytest.raises(ValueError, match="kind"):
        client.executions.create_execution(ns, "f", kind="WEIRD")


def test_get_search_follow_delete(client, inputs_flow, ns):
    e1 = client.executions.create_execution(ns, "f", labels={"batch": "x"}, wait=True)
    e2 = client.executions.create_execution(ns, "f", inputs={"n": 2})
    seen = list(client.executions.follow_execution(e2.id))
    assert seen and seen[-1].state.current == "SUCCESS" and seen[-1].id == e2.id
    assert all(isinstance(s, Execution) and s.state.current for s in seen)

    got = client.executions.execution(e1.id)
    assert got.id == e1.id and got.state.is_terminal and {t.task_id for t in got.task_runs} == {"hello", "warn", "ret"}
    page = client.executions.search_executions(namespace=ns, flow_id="f")
    assert page.total == 2 and {x.id for x in page} == {e1.id, e2.id}
    assert [x.id for x in client.executions.search_executions(namespace=ns, labels={"batch": "x"})] == [e1.id]
    assert client.executions.search_executions(namespace=ns, state=["FAILED", "KILLED"]).total == 0
    assert client.executions.search_executions(namespace=ns, state="SUCCESS", size=1).total == 2

    client.executions.delete_execution(e1.id)
    with pytest.raises(KestraNotFound, match=f"execution {e1.id} not found"):
        client.executions.get_execution(e1.id)
    with pytest.raises(KestraNotFound):
        list(client.executions.follow_execution("doesNotExist123"))


def test_kill(client, ns):
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=30))
    e = client.executions.create_execution(ns, "f")
    wait_terminal(client, e.id, states={"RUNNING"})
    result = client.executions.kill_execution(e.id)   # same shape on both (1.x answers an empty 202)
    assert isinstance(result, Execution) and result.id == e.id
    assert result.state.current in ("RUNNING", "KILLING", "KILLED")
    assert wait_terminal(client, e.id).state.current == "KILLED"
    with pytest.raises(KestraNotFound):
        client.executions.kill_execution("doesNotExist123")


def test_pause_and_resume(client, ns):
    client.flows.create_flow(flow_source(PAUSE_FLOW, ns))
    e = client.executions.create_execution(ns, "f")
    wait_terminal(client, e.id, states={"PAUSED"})
    resumed = client.executions.resume_execution(e.id)   # same shape on both (1.x answers an empty 204)
    assert isinstance(resumed, Execution) and resumed.id == e.id
    assert wait_terminal(client, e.id).state.current == "SUCCESS"
    with pytest.raises(KestraConflict):
        client.executions.resume_execution(e.id)

    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, id="s", seconds=30))
    s = client.executions.create_execution(ns, "s")
    wait_terminal(client, s.id, states={"RUNNING"})
    paused = client.executions.pause_execution(s.id)
    assert isinstance(paused, Execution) and paused.id == s.id
    assert wait_terminal(client, s.id, states={"PAUSED"}).state.current == "PAUSED"
    client.executions.kill_execution(s.id)


def test_restart_and_replay(client, sandbox, ns):
    client.flows.create_flow(flow_source(FAIL_FLOW, ns))
    e = client.executions.create_execution(ns, "f", wait=True)
    assert e.state.current == "FAILED" and e.state.is_failed
    restarted = client.executions.restart_execution(e.id)
    assert restarted.id == e.id
    assert wait_terminal(client, e.id).state.current == "FAILED"
    replayed = client.executions.replay_execution(e.id)
    assert replayed.id != e.id
    assert wait_terminal(client, replayed.id).state.current == "FAILED"
    from_task = client.executions.replay_execution(e.id, task_run_id=e.task_runs[0].id, revision=1)
    assert from_task.id not in (e.id, replayed.id)
    again = client.executions.restart_execution(replayed.id, revision=1)
    assert again.id and (again.id == replayed.id or again.parent_id == replayed.id)
    assert wait_terminal(client, again.id).state.current == "FAILED"
    sent = [r for r in sandbox.requests
            if r.method == "POST" and r.path.endswith((f"{e.id}/replay", f"{e.id}/actions/replay"))][-1]
    assert sent.query == {"taskRunId": [e.task_runs[0].id], "revision": ["1"]}
    with pytest.raises(KestraNotFound):
        client.executions.replay_execution("doesNotExist123")


def test_restart_running_is_a_conflict(client, ns):
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=30))
    e = client.executions.create_execution(ns, "f")
    wait_terminal(client, e.id, states={"RUNNING"})
    with pytest.raises(KestraConflict, match="conflict"):
        client.executions.restart_execution(e.id)
    client.executions.kill_execution(e.id)


def test_follow_survives_a_dropped_stream(client, sandbox, ns):
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0.5))
    e = client.executions.create_execution(ns, "f")
    sandbox.faults.sse_drop_after(1)
    try:
        seen = list(client.executions.follow_execution(e.id))
    finally:
        sandbox.faults.clear()
    assert seen[-1].state.current == "SUCCESS"


def test_executions_api_has_no_sweep_and_no_client_back_reference(client):
    """The sweep belongs to the run layer; the API group knows only its transport."""
    assert not hasattr(client.executions, "sweep")
    assert [k for k, v in vars(client.executions).items() if v is client] == []


def test_resume_with_on_resume_inputs(client, sandbox, ns):
    client.flows.create_flow(
        f"id: p\nnamespace: {ns}\ntasks:\n  - id: wait\n    type: io.kestra.plugin.core.flow.Pause\n"
        "    onResume:\n      - id: approved\n        type: BOOL\n      - id: note\n        type: STRING\n"
        "  - id: done\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: \"{{ outputs.wait.onResume.approved }} {{ outputs.wait.onResume.note }}\"\n")
    e = client.executions.create_execution(ns, "p")
    wait_terminal(client, e.id, states={"PAUSED"})
    client.executions.resume_execution(e.id, inputs={"approved": True, "note": "ok then"})
    assert wait_terminal(client, e.id).state.current == "SUCCESS"
    assert [entry.message for entry in client.logs.list_logs(e.id)] == ["true ok then"]
    sent = requests_to(sandbox, "POST", f"{e.id}/")[-1]
    assert sent.path.endswith("resume") and sent.form == {"approved": "true", "note": "ok then"}
