"""Execution endpoints: create (typed multipart inputs, query params), get, search, follow,
actions on 1.x paths and 2.x /actions/ paths, delete (kestra-api.md §2, kestra-api-2.md §3-6)."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from tests.sandbox.conftest import error_text, flow_yaml
from tests.sandbox.openapi_check import check_schema

TYPED_INPUTS = """
inputs:
  - id: s
    type: STRING
  - id: i
    type: INT
  - id: f
    type: FLOAT
  - id: b
    type: BOOL
  - id: bb
    type: BOOL
  - id: dtm
    type: DATETIME
  - id: d
    type: DATE
  - id: t
    type: TIME
  - id: dur
    type: DURATION
  - id: j
    type: JSON
  - id: arr
    type: ARRAY
    itemType: INT
  - id: sel
    type: SELECT
    values: [red, green]
  - id: multi
    type: MULTISELECT
    values: [a, b, c]
  - id: email
    type: EMAIL
  - id: uri
    type: URI
  - id: y
    type: YAML
  - id: file
    type: FILE
  - id: opt
    type: STRING
    required: false
  - id: dflt
    type: INT
    defaults: 42
  - id: user.name
    type: STRING
    defaults: ada
"""

GOOD = {"s": "text", "i": "7", "f": "2.5", "b": "true", "bb": "false", "dtm": "2024-01-02T03:04:05+01:00",
        "d": "2024-01-02", "t": "10:30:00", "dur": "PT1H30M", "j": '{"k": [1, 2]}', "arr": "[1, 2, 3]",
        "sel": "green", "multi": '["a", "c"]', "email": "ada@example.com", "uri": "https://kestra.io/x",
        "y": "k: v\nn: 1\n"}


def _file():
    return [("file", ("data.csv", b"a,b\n1,2\n", "text/csv"))]


def test_create_converts_every_input_type(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "typed", inputs=TYPED_INPUTS))
    ex = kapi.run(ns, "typed", GOOD, files=_file())
    assert ex["state"]["current"] in ("CREATED", "RUNNING", "SUCCESS")
    assert ex["url"] == f"{kapi.base}/ui/main/executions/{ns}/typed/{ex['id']}"
    inputs = ex["inputs"]
    assert inputs["s"] == "text" and inputs["i"] == 7 and inputs["f"] == 2.5
    assert inputs["b"] is True and inputs["bb"] is False
    assert inputs["dtm"] == "2024-01-02T02:04:05Z"
    assert inputs["d"] == "2024-01-02" and inputs["t"] == "10:30:00" and inputs["dur"] == "PT1H30M"
    assert inputs["j"] == {"k": [1, 2]} and inputs["arr"] == [1, 2, 3]
    assert inputs["sel"] == "green" and inputs["multi"] == ["a", "c"]
    assert inputs["email"] == "ada@example.com" and inputs["uri"] == "https://kestra.io/x"
    assert inputs["y"] == {"k": "v", "n": 1}
    assert "opt" in inputs and inputs["opt"] is None
    assert inputs["dflt"] == 42 and inputs["user"] == {"name": "ada"}
    uri = inputs["file"]
    assert uri == f"kestra:///{ns.replace('.', '/')}/typed/executions/{ex['id']}/inputs/file/data.csv"
    got = kapi.get(f"/executions/{ex['id']}/file", params={"path": uri})
    assert got.status_code == 200 and got.content == b"a,b\n1,2\n"
    assert got.headers["Content-Disposition"] == 'attachment; filename="data.csv"'
    labels = {l["key"]: l["value"] for l in ex["labels"]}
    assert labels["system.correlationId"] == ex["id"] and labels["system.from"] == "api"
    rec = [r for r in kapi.sb.requests if r.path == f"/api/v1/main/executions/{ns}/typed"][-1]
    assert rec.form["i"] == "7" and rec.files["file"] == ("data.csv", 8)


@pytest.mark.parametrize("name,value,needle", [
    ("i", "seven", "Invalid input for `i`"),
    ("f", "x1", "Invalid input for `f`"),
    ("dtm", "2024-01-02T03:04:05", "Invalid input for `dtm`"),
    ("d", "02/01/2024", "Invalid input for `d`"),
    ("dur", "90 minutes", "Invalid input for `dur`"),
    ("j", "{not json", "Invalid input for `j`"),
    ("arr", "[1, \"x\"]", "Invalid input for `arr`"),
    ("sel", "blue", "Invalid input for `sel`"),
    ("multi", '["z"]', "Invalid input for `multi`"),
    ("email", "nobody", "Invalid input for `email`"),
    ("t", "25:99", "Invalid input for `t`"),
])
def test_bad_input_values_are_422(kapi, ns, name, value, needle):
    kapi.create_flow(flow_yaml(ns, "typed", inputs=TYPED_INPUTS))
    resp = kapi.post(f"/executions/{ns}/typed", files=[(k, (None, v)) for k, v in dict(GOOD, **{name: value}).items()]
                     + _file())
    assert resp.status_code == 422, resp.text
    assert needle in error_text(resp)
    if kapi.gen == 1:
        assert resp.json()["message"].startswith("Invalid entity: ")
    else:
        assert resp.json()["type"].endswith("/invalid-entity")
    assert not [e for e in kapi.sb.store.executions.values() if e["namespace"] == ns]   # nothing was created


def test_boolean_and_enum_inputs_are_1x_only(kapi, ns):
    src = flow_yaml(ns, "old", inputs="inputs:\n  - id: flag\n    type: BOOLEAN\n  - id: e\n    type: ENUM\n"
                                      "    values: [x, y]\n")
    resp = kapi.post("/flows", data=src, headers={"Content-Type": "application/x-yaml"})
    if kapi.gen == 2:
        assert resp.status_code == 422
        assert "removed in Kestra 2.0, use BOOL" in error_text(resp) and "use SELECT" in error_text(resp)
    else:
        assert resp.status_code == 200
        ex = kapi.run(ns, "old", {"flag": "TRUE", "e": "y"})
        assert ex["inputs"] == {"flag": True, "e": "y"}


def test_missing_required_input(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "req", inputs="inputs:\n  - id: name\n    type: STRING\n"))
    resp = kapi.post(f"/executions/{ns}/req")
    assert resp.status_code == 422
    assert "Missing required input:name" in error_text(resp)


def test_legacy_files_part_and_undeclared_inputs(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "legacy", inputs="inputs:\n  - id: up\n    type: FILE\n"))
    ex = kapi.run(ns, "legacy", {"extra": "ignored"}, files=[("files", ("up", b"xyz"))])
    assert ex["inputs"]["up"].endswith("/inputs/up/up") and "extra" not in ex["inputs"]
    assert any("extra" in l["message"] and l["level"] == "WARN" for l in kapi.get(f"/logs/{ex['id']}").json())


def test_unknown_flow_revision_and_disabled_flow(kapi, ns):
    resp = kapi.post(f"/executions/{ns}/nope")
    assert resp.status_code == 404 and "Requested Flow is not found." in error_text(resp)
    kapi.create_flow(flow_yaml(ns, "rev"))
    assert kapi.post(f"/executions/{ns}/rev", params={"revision": 9}).status_code == 404
    kapi.create_flow(flow_yaml(ns, "off") + "disabled: true\n")
    off = kapi.post(f"/executions/{ns}/off")
    assert off.status_code == 409 and "Requested Flow is disabled." in error_text(off)


def test_labels_param(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "lab") + "labels:\n  team: data\n")
    ex = kapi.run(ns, "lab", labels=["env:dev", "owner: ada"])
    assert ex["labels"][:3] == [{"key": "team", "value": "data"}, {"key": "env", "value": "dev"},
                                {"key": "owner", "value": "ada"}]
    bad = kapi.post(f"/executions/{ns}/lab", params={"labels": "novalue"})
    assert bad.status_code == 422
    system = kapi.post(f"/executions/{ns}/lab", params={"labels": "system.secret:x"})
    assert system.status_code == 422 and "System labels can only be set by Kestra itself" in error_text(system)
    dup = kapi.post(f"/executions/{ns}/lab", params=[("labels", "a:1"), ("labels", "a:2")])
    assert dup.status_code == 409


def test_create_answers_the_execution_as_created_and_runs_it_afterwards(kapi, ns):
    # Kestra's ExecutionController.createExecution returns the execution it emitted to the queue
    # (CREATED, one history entry) unless wait=true; the executor runs it afterwards.
    kapi.create_flow(flow_yaml(ns, "c"))
    ex = kapi.run(ns, "c")
    assert ex["state"]["current"] == "CREATED"
    assert [h["state"] for h in ex["state"]["histories"]] == ["CREATED"]
    assert "taskRunList" not in ex and "endDate" not in ex["state"]
    final = kapi.sse(f"/executions/{ex['id']}/follow")[-1][1]
    assert final["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in final["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]


def test_wait_returns_the_finished_execution_with_outputs_per_generation(kapi, ns):
    body = """
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "{{ inputs.who }}!"
      - id: log
        type: io.kestra.plugin.core.log.Log
        message: "got {{ outputs.ret.value }}"
    outputs:
      - id: final
        type: STRING
        value: "{{ outputs.ret.value }}"
    """
    kapi.create_flow(flow_yaml(ns, "w", body=body, inputs="inputs:\n  - id: who\n    type: STRING\n"))
    ex = kapi.run(ns, "w", {"who": "ada"}, wait="true")
    assert ex["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in ex["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
    assert ex["state"]["endDate"] and ex["state"]["duration"].startswith("PT")
    runs = ex["taskRunList"]
    assert [tr["taskId"] for tr in runs] == ["ret", "log"]
    got = kapi.get(f"/executions/{ex['id']}").json()
    if kapi.gen == 1:
        assert runs[0]["outputs"] == {"value": "ada!"} and got["outputs"] == {"final": "ada!"}
        assert got["taskRunList"][0]["executionId"] == ex["id"] and "deleted" in got
    else:
        assert "outputs" not in runs[0] and "outputs" not in got and "deleted" not in got
        assert "executionId" not in got["taskRunList"][0]
        assert kapi.get(f"/outputs/executions/{ex['id']}").json() == {"final": "ada!"}
        tasks = kapi.get(f"/outputs/tasks/{ex['id']}").json()
        assert [(t["taskId"], t["taskRunId"], t["inline"]) for t in tasks] == [("ret", runs[0]["id"], True)]
        assert kapi.get(f"/outputs/tasks/{ex['id']}/{runs[0]['id']}").json() == {"value": "ada!"}
        assert kapi.get(f"/outputs/{ex['id']}/{runs[0]['id']}").json() == {"value": "ada!"}   # pre-release form
        assert [t["taskId"] for t in kapi.get(f"/outputs/{ex['id']}").json()] == ["ret"]
        assert kapi.get(f"/outputs/tasks/{ex['id']}/nope").status_code == 404
        assert kapi.get("/outputs/executions/nope").status_code == 404
    logs = kapi.get(f"/logs/{ex['id']}").json()
    assert any(l["message"] == "got ada!" for l in logs)


def test_outputs_routes_are_2x_only(kapi1):
    assert kapi1.get("/outputs/executions/x").status_code == 404


def test_get_and_search_shapes(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "s1"))
    kapi.create_flow(flow_yaml(ns, "s2"))
    a = kapi.run(ns, "s1", wait="true")
    b = kapi.run(ns, "s2", wait="true", labels=["k:v"])
    assert kapi.get("/executions/doesnotexist").status_code == 404
    res = kapi.get("/executions/search", params={"filters[namespace][EQUALS]": ns, "sort": "state.startDate:asc"}).json()
    assert res["total"] == 2 and [r["id"] for r in res["results"]] == [a["id"], b["id"]]
    if kapi.gen == 2:
        assert "taskRunList" not in res["results"][0] and "deleted" not in res["results"][0]
    else:
        assert "taskRunList" in res["results"][0]
    by_flow = kapi.get("/executions/search", params={"filters[namespace][EQUALS]": ns,
                                                     "filters[flowId][EQUALS]": "s2"}).json()
    assert [r["id"] for r in by_flow["results"]] == [b["id"]]
    by_label = kapi.get("/executions/search", params={"filters[namespace][EQUALS]": ns,
                                                      "filters[labels][EQUALS][k]": "v"}).json()
    assert [r["id"] for r in by_label["results"]] == [b["id"]]
    by_state = kapi.get("/executions/search", params={"filters[namespace][EQUALS]": ns,
                                                      "filters[state][IN]": "FAILED,KILLED"}).json()
    assert by_state["total"] == 0
    listed = kapi.get("/executions", params={"namespace": ns, "flowId": "s1"}).json()
    assert [r["id"] for r in listed["results"]] == [a["id"]]
    assert kapi.get("/executions", params={"namespace": ns}).status_code == 400
    kapi.create_flow(flow_yaml(ns + "x", "elsewhere"))
    kapi.run(ns + "x", "elsewhere")
    if kapi.gen == 1:
        assert kapi.get("/executions/search", params={"namespace": ns}).json()["total"] == 2
    else:   # 2.x silently ignores the flat parameter (only filters[...] select)
        legacy = kapi.get("/executions/search", params={"namespace": ns, "filters[namespace][STARTS_WITH]": ns}).json()
        assert legacy["total"] == 3 and {r["namespace"] for r in legacy["results"]} == {ns, ns + "x"}
    assert kapi.get("/executions/search", params={"filters[bogus][EQUALS]": "x"}).status_code == 400


def _sse_execution_schema(gen):
    return "Execution"


def test_follow_emits_start_progress_end_and_closes(kapi, ns):
    """Driven through the store (the engine's seam), so every step is deterministic."""
    import threading
    sb = kapi.sb
    eid = sb.store.new_id()
    now = "2026-01-01T00:00:00Z"
    sb.store.save_execution({
        "id": eid, "namespace": ns, "flowId": "manual", "flowRevision": 1, "tenantId": "main",
        "state": {"current": "RUNNING", "histories": [{"state": "CREATED", "date": now},
                                                      {"state": "RUNNING", "date": now}]},
        "originalId": eid, "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
        "taskRunList": [{"id": "tr1", "taskId": "t", "executionId": eid, "namespace": ns, "flowId": "manual",
                         "state": {"current": "RUNNING", "histories": [{"state": "RUNNING", "date": now}]}}]})
    got = []
    reader = threading.Thread(target=lambda: got.extend(kapi.sse(f"/executions/{eid}/follow", timeout=20)))
    reader.start()

    def step(fn, expect_events):
        sb.store.update_execution(eid, fn)
        deadline = time.monotonic() + 10
        while len(got) < expect_events and reader.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)

    deadline = time.monotonic() + 10
    while not [r for r in sb.requests if r.path.endswith(f"/{eid}/follow")] and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)   # the stream has sent start + the first progress

    def finish_task(ex):
        ex["taskRunList"][0]["state"] = {"current": "SUCCESS", "histories": [{"state": "RUNNING", "date": now},
                                                                             {"state": "SUCCESS", "date": now}]}
    step(lambda ex: ex.__setitem__("labels", [{"key": "step", "value": "1"}]), 0)
    step(finish_task, 0)
    step(lambda ex: ex["state"].update(current="SUCCESS", histories=ex["state"]["histories"] +
                                       [{"state": "SUCCESS", "date": now}]), 0)
    reader.join(15)
    assert not reader.is_alive(), "the stream must close after `end`"
    markers = [m for m, _ in got]
    assert markers[0] == "start" and markers[-1] == "end" and set(markers[1:-1]) == {"progress"}
    assert len(markers) >= 3
    assert got[0][1]["id"] == eid
    assert got[-1][1]["state"]["current"] == "SUCCESS" and got[-1][1]["state"]["endDate"]
    for _, data in got[1:]:
        check_schema(data, "Execution", kapi.gen)
        assert ("outputs" in data.get("taskRunList", [{}])[0]) == (kapi.gen == 1)
    # already finished: start then end at once
    assert [m for m, _ in kapi.sse(f"/executions/{eid}/follow")] == ["start", "end"]


def test_follow_a_real_run_to_its_end(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "fol", body="""
    tasks:
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.3S
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: done
    """))
    ex = kapi.run(ns, "fol")
    events = kapi.sse(f"/executions/{ex['id']}/follow")
    assert events[0][0] == "start" and events[-1][0] == "end"
    assert events[-1][1]["state"]["current"] == "SUCCESS"
    assert [tr["taskId"] for tr in events[-1][1]["taskRunList"]] == ["nap", "hello"]
    for _, data in events[1:]:
        check_schema(data, "Execution", kapi.gen)


def test_follow_unknown_execution_closes_without_end(kapi):
    t0 = time.monotonic()
    events = kapi.sse("/executions/unknownexecution/follow")
    assert [m for m, _ in events] == ["start"]
    assert time.monotonic() - t0 < 5


def test_schedule_date_delays_start(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "later"))
    when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=2.0)).isoformat()
    ex = kapi.run(ns, "later", scheduleDate=when)
    assert ex["scheduleDate"].endswith("Z")
    time.sleep(0.3)
    assert kapi.get(f"/executions/{ex['id']}").json()["state"]["current"] == "CREATED"
    final = kapi.sse(f"/executions/{ex['id']}/follow")[-1][1]
    assert final["state"]["current"] == "SUCCESS"
    bad = kapi.post(f"/executions/{ns}/later", params={"scheduleDate": "tomorrow"})
    assert bad.status_code == 400


def test_kind_param(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "kind"))
    assert kapi.run(ns, "kind", kind="TEST")["kind"] == "TEST"
    assert kapi.post(f"/executions/{ns}/kind", params={"kind": "WEIRD"}).status_code == 400


def _sleepy(kapi, ns, flow_id="sleepy", seconds="PT30S"):
    body = f"""
    tasks:
      - id: first
        type: io.kestra.plugin.core.log.Log
        message: first
      - id: nap
        type: io.kestra.plugin.core.flow.Sleep
        duration: {seconds}
      - id: last
        type: io.kestra.plugin.core.log.Log
        message: last
    """
    kapi.create_flow(flow_yaml(ns, flow_id, body=body))


def _wait_state(kapi, execution_id, states, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ex = kapi.get(f"/executions/{execution_id}").json()
        if ex["state"]["current"] in states:
            return ex
        time.sleep(0.05)
    raise AssertionError(f"{execution_id} never reached {states}: {ex['state']['current']}")


def test_kill_per_generation(kapi, ns):
    _sleepy(kapi, ns)
    ex = kapi.run(ns, "sleepy")
    _wait_state(kapi, ex["id"], {"RUNNING"})
    resp = kapi.action(ex["id"], "kill", method="DELETE")
    if kapi.gen == 1:
        assert resp.status_code == 202 and resp.content == b""
    else:
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/json")
        assert resp.json()["state"]["current"] in ("KILLING", "KILLED")
    final = _wait_state(kapi, ex["id"], {"KILLED"})
    assert "KILLING" in [h["state"] for h in final["state"]["histories"]]
    again = kapi.action(ex["id"], "kill", method="DELETE", params={"isOnKillCascade": "false"})
    assert again.status_code == 409
    missing = kapi.action("nope", "kill", method="DELETE")
    assert missing.status_code == 404 and (missing.content == b"") == (kapi.gen == 1)


def test_old_action_paths_are_gone_on_2x(kapi2, ns):
    kapi2.create_flow(flow_yaml(ns, "f"))
    ex = kapi2.run(ns, "f", wait="true")
    resp = kapi2.post(f"/executions/{ex['id']}/restart")   # matched by create-execution: no such flow
    assert resp.status_code == 404


def test_restart_resume_pause_replay(kapi, ns):
    body = """
    tasks:
      - id: ok
        type: io.kestra.plugin.core.log.Log
        message: ok
      - id: boom
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: boom
    """
    kapi.create_flow(flow_yaml(ns, "fails", body=body))
    ex = kapi.run(ns, "fails", wait="true")
    assert ex["state"]["current"] == "FAILED"
    # resume/pause on a finished execution: 409
    assert kapi.action(ex["id"], "resume").status_code == 409
    assert kapi.action(ex["id"], "pause").status_code == 409
    restarted = kapi.action(ex["id"], "restart")
    assert restarted.status_code == 200 and restarted.json()["id"] == ex["id"]
    replay = kapi.action(ex["id"], "replay", params={"taskRunId": ex["taskRunList"][1]["id"]})
    assert replay.status_code == 200 and replay.json()["id"] != ex["id"]
    assert kapi.action(ex["id"], "replay", params={"taskRunId": "nope"}).status_code == 422
    assert kapi.action("nope", "restart").status_code == 404
    _sleepy(kapi, ns, "pausable")
    run = kapi.run(ns, "pausable")
    _wait_state(kapi, run["id"], {"RUNNING"})
    assert kapi.action(run["id"], "restart").status_code == 409
    paused = kapi.action(run["id"], "pause")
    if kapi.gen == 1:
        assert paused.status_code == 204
    else:
        assert paused.status_code == 200 and paused.json()["state"]["current"] == "PAUSED"
    _wait_state(kapi, run["id"], {"PAUSED"})
    resumed = kapi.action(run["id"], "resume", files={"_": (None, "")})
    assert resumed.status_code == (204 if kapi.gen == 1 else 200)
    kapi.action(run["id"], "kill", method="DELETE")
    _wait_state(kapi, run["id"], {"KILLED"})


def test_breakpoints_stop_in_breakpoint_and_resume(kapi, ns):
    body = """
    tasks:
      - id: a
        type: io.kestra.plugin.core.log.Log
        message: a
      - id: b
        type: io.kestra.plugin.core.log.Log
        message: b
    """
    kapi.create_flow(flow_yaml(ns, "bp", body=body))
    ex = kapi.run(ns, "bp", breakpoints="b")
    assert ex["breakpoints"] == [{"id": "b"}]
    stopped = _wait_state(kapi, ex["id"], {"BREAKPOINT"})
    assert [tr["taskId"] for tr in stopped["taskRunList"]][:1] == ["a"]
    name = "resume-from-breakpoint"
    resp = kapi.action(ex["id"], name)
    assert resp.status_code == (204 if kapi.gen == 1 else 200)
    assert _wait_state(kapi, ex["id"], {"SUCCESS"})["state"]["current"] == "SUCCESS"


def test_set_labels_and_delete(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "del"))
    ex = kapi.run(ns, "del", wait="true")
    lab = kapi.action(ex["id"], "labels", json=[{"key": "quality", "value": "good"}])
    assert lab.status_code == 200
    keys = [l["key"] for l in lab.json()["labels"]]
    assert keys[0] == "quality" and "system.correlationId" in keys and "system.from" in keys
    assert kapi.delete(f"/executions/{ex['id']}").status_code == 204
    assert kapi.get(f"/executions/{ex['id']}").status_code == 404
    gone = kapi.delete(f"/executions/{ex['id']}")
    assert gone.status_code == 404 and (gone.content == b"") == (kapi.gen == 1)


def test_instants_keep_four_digit_years(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "old", inputs="inputs:\n  - id: when\n    type: DATETIME\n"))
    ex = kapi.run(ns, "old", {"when": "0213-12-16T16:22:22.13Z"}, scheduleDate="0213-12-16T16:22:22.13Z")
    assert ex["inputs"]["when"] == "0213-12-16T16:22:22.13Z"
    assert ex["scheduleDate"] == "0213-12-16T16:22:22.13Z"
