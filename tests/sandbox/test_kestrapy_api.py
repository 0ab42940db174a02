"""Kestra's official Python client (kestrapy 2.0.x), unchanged, against the 2.x sandbox with basic
auth: every flows/executions/logs/outputs call a notebook user makes (beyond test_kestrapy.py)."""
from __future__ import annotations

import time

import pytest

from kestrapy.exceptions import ApiException
from kestrapy.models.query_filter import QueryFilter

from tests.sandbox.kestrapy_support import SLOW, state

T = "main"

FLOW = """id: calc
namespace: {ns}
inputs:
  - id: n
    type: INT
    defaults: 2
  - id: who
    type: STRING
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "n={{{{ inputs.n }}}} who={{{{ inputs.who }}}}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.n * 2 }}}}"
"""

FAILS = """id: boom
namespace: {ns}
tasks:
  - id: ok
    type: io.kestra.plugin.core.log.Log
    message: fine
  - id: bad
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: broken
"""

def wait_state(kc, execution_id, *states, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        ex = kc.executions.execution(execution_id=execution_id, tenant=T)
        if state(ex) in states:
            return ex
        assert time.monotonic() < deadline, f"{execution_id} stuck in {state(ex)}"
        time.sleep(0.05)


def test_flows_update_get_list_search_revisions_validate_delete(kc, ns):
    created = kc.flows.create_flow(tenant=T, body=FLOW.format(ns=ns))
    assert created.revision == 1
    updated = kc.flows.update_flow(namespace=ns, id="calc", tenant=T,
                                   body=FLOW.format(ns=ns).replace("defaults: 2", "defaults: 3"))
    assert updated.revision == 2
    got = kc.flows.flow(namespace=ns, id="calc", tenant=T, source=True)
    assert "defaults: 3" in got.source
    assert [f.id for f in kc.flows.list_flows_by_namespace(namespace=ns, tenant=T)] == ["calc"]
    found = kc.flows.search_flows(tenant=T, filters=[QueryFilter(field="namespace", operation="EQUALS", value=ns)])
    assert found.total == 1 and found.results[0].id == "calc"
    assert [r.revision for r in kc.flows.list_flow_revisions(namespace=ns, id="calc", tenant=T)] == [1, 2]
    problems = kc.flows.validate_flows(tenant=T, body=f"id: x\nnamespace: {ns}\ntasks:\n  - id: a\n    type: nope.Nope\n")
    assert len(problems) == 1 and "nope.Nope" in problems[0].constraints
    kc.flows.delete_flow(namespace=ns, id="calc", tenant=T)
    with pytest.raises(ApiException) as err:
        kc.flows.flow(namespace=ns, id="calc", tenant=T)
    assert err.value.status == 404


def test_flows_namespace_sync_bulk_and_validate_task(kc, ns):
    two = (f"id: a\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: a\n"
           f"---\nid: b\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: b\n")
    synced = kc.flows.update_flows_in_namespace(namespace=ns, tenant=T, body=two)
    assert sorted(f.id for f in synced) == ["a", "b"]
    only_a = two.split("---\n")[0]
    kc.flows.update_flows_in_namespace(namespace=ns, tenant=T, body=only_a, delete=True)
    assert [f.id for f in kc.flows.list_flows_by_namespace(namespace=ns, tenant=T)] == ["a"]
    bulk = kc.flows.bulk_update_flows(tenant=T, body=two, delete=False)
    assert sorted(f.id for f in bulk) == ["a", "b"]
    assert kc.flows.flow(namespace=ns, id="a", tenant=T).revision == 1   # identical source keeps it
    ok = kc.flows.validate_task(tenant=T, section="TASKS",
                                body={"id": "t", "type": "io.kestra.plugin.core.log.Log", "message": "x"})
    assert not ok.constraints
    bad = kc.flows.validate_task(tenant=T, section="TASKS", body={"id": "t", "type": "io.kestra.nope.Nope"})
    assert "io.kestra.nope.Nope" in bad.constraints
    with pytest.raises(ApiException) as err:
        kc.flows.update_flows_in_namespace(namespace=ns, tenant=T, body=only_a.replace(ns, ns + ".other"))
    assert err.value.status == 422


def test_execution_search_latest_outputs_files(kc, ns):
    kc.flows.create_flow(tenant=T, body=FLOW.format(ns=ns))
    first = kc.executions.create_execution(tenant=T, namespace=ns, id="calc", wait=True, inputs={"who": "ada"})
    second = kc.executions.create_execution(tenant=T, namespace=ns, id="calc", wait=True,
                                            inputs={"who": "bob", "n": 5}, labels=["k:v"])
    assert state(second) == "SUCCESS" and second.inputs == {"who": "bob", "n": 5}
    page = kc.executions.search_executions(tenant=T, filters=[
        QueryFilter(field="namespace", operation="EQUALS", value=ns)])
    assert page["total"] == 2
    by_flow = kc.executions.search_executions_by_flow_id(tenant=T, namespace=ns, flow_id="calc", size=1)
    assert by_flow["total"] == 2 and len(by_flow["results"]) == 1
    latest = kc.executions.latest_executions(tenant=T, filters=[{"namespace": ns, "id": "calc"}])
    assert [(l.id, str(getattr(l.status, "value", l.status))) for l in latest] == [(second.id, "SUCCESS")]
    assert kc.outputs.execution_outputs(execution_id=second.id, tenant=T) == {}
    infos = kc.outputs.task_outputs_information(execution_id=second.id, tenant=T)
    ret = [i for i in infos if i.task_id == "ret"][0]
    assert kc.outputs.task_run_outputs(execution_id=second.id, task_run_id=ret.task_run_id, tenant=T) == {"value": "10"}
    assert first.id != second.id


def test_validate_new_execution_inputs(kc, ns):
    kc.flows.create_flow(tenant=T, body=FLOW.format(ns=ns))
    ok = kc.executions.validate_new_execution_inputs(namespace=ns, id="calc", tenant=T, inputs={"who": "ada"})
    assert ok["id"] == "calc" and ok["namespace"] == ns and ok["checks"] == []
    by_id = {i["input"]["id"]: i for i in ok["inputs"]}
    assert by_id["n"]["value"] == 2 and by_id["n"]["isDefault"] is True and by_id["n"]["errors"] == []
    assert by_id["who"]["value"] == "ada" and by_id["who"]["isDefault"] is False
    bad = kc.executions.validate_new_execution_inputs(namespace=ns, id="calc", tenant=T, inputs={"n": "x"})
    by_id = {i["input"]["id"]: i for i in bad["inputs"]}
    assert "Invalid input for `n`" in by_id["n"]["errors"][0]["message"]
    assert by_id["who"]["errors"][0]["message"] == "Missing required input:who"
    page = kc.executions.search_executions(tenant=T, filters=[
        QueryFilter(field="namespace", operation="EQUALS", value=ns)])
    assert page["total"] == 0     # validating creates nothing


def test_logs_search_and_delete(kc, ns):
    kc.flows.create_flow(tenant=T, body=FLOW.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="calc", wait=True, inputs={"who": "cy"})
    found = kc.logs.search_logs(tenant=T, filters=[QueryFilter(field="namespace", operation="EQUALS", value=ns)])
    assert found.total == 1 and [l.message for l in found.results] == ["n=2 who=cy"]
    assert str(getattr(found.type, "value", found.type)) == "OFFSET"
    none = kc.logs.search_logs(tenant=T, filters=[QueryFilter(field="namespace", operation="EQUALS", value=ns),
                                                  QueryFilter(field="level", operation="EQUALS", value="ERROR")])
    assert none.total == 0 and none.results == []
    kc.logs.delete_logs_from_execution(execution_id=ex.id, tenant=T)
    assert kc.logs.list_logs_from_execution(execution_id=ex.id, tenant=T) == []


def test_restart_replay_with_inputs_labels_change_status_state(kc, ns):
    kc.flows.create_flow(tenant=T, body=FAILS.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="boom", wait=True)
    assert state(ex) == "FAILED"
    restarted = kc.executions.restart_execution(execution_id=ex.id, tenant=T)
    assert restarted.id == ex.id
    assert state(wait_state(kc, ex.id, "FAILED")) == "FAILED"
    labelled = kc.executions.set_labels_on_terminated_execution(execution_id=ex.id, tenant=T,
                                                               labels=[{"key": "team", "value": "a"}])
    assert {"team": "a"}.items() <= {l.key: l.value for l in labelled.labels}.items()
    changed = kc.executions.update_execution_status(execution_id=ex.id, tenant=T, status="WARNING")
    assert state(changed) == "WARNING"
    bad_run = [tr for tr in changed.task_run_list if tr.task_id == "bad"][0]
    marked = kc.executions.update_task_run_state(execution_id=ex.id, tenant=T,
                                                 request={"taskRunId": bad_run.id, "state": "SUCCESS"})
    assert {l.key: l.value for l in marked.labels}.get("system.restarted") == "true"
    final = wait_state(kc, ex.id, "SUCCESS", "FAILED", "WARNING")
    assert [str(getattr(tr.state.current, "value", tr.state.current)) for tr in final.task_run_list
            if tr.task_id == "bad"] == ["SUCCESS"]

    kc.flows.create_flow(tenant=T, body=FLOW.format(ns=ns))
    calc = kc.executions.create_execution(tenant=T, namespace=ns, id="calc", wait=True, inputs={"who": "x"})
    replay = kc.executions.replay_execution_with_inputs(execution_id=calc.id, tenant=T, inputs={"who": "y", "n": 7})
    assert replay.id != calc.id
    done = wait_state(kc, replay.id, "SUCCESS", "FAILED")
    assert done.inputs == {"who": "y", "n": 7} and state(done) == "SUCCESS"
    again = kc.executions.replay_execution(execution_id=calc.id, tenant=T)
    assert wait_state(kc, again.id, "SUCCESS").inputs == {"who": "x", "n": 2}


def test_pause_resume_kill_force_run_and_bulk(kc, ns):
    kc.flows.create_flow(tenant=T, body=SLOW.format(ns=ns))
    ids = [kc.executions.create_execution(tenant=T, namespace=ns, id="slow").id for _ in range(3)]
    for i in ids:
        wait_state(kc, i, "RUNNING")
    forced = kc.executions.force_run_execution(execution_id=ids[0], tenant=T)
    assert state(forced) == "RUNNING"
    answer = kc.executions.kill_executions_by_ids(tenant=T, ids=ids[:2])
    assert answer["totalItems"] == 2 and answer["operationId"]
    for i in ids[:2]:
        assert state(wait_state(kc, i, "KILLED")) == "KILLED"
    with pytest.raises(ApiException) as err:
        kc.executions.kill_executions_by_ids(tenant=T, ids=[ids[2], "nope"])
    assert err.value.status == 400
    answer = kc.executions.kill_executions_by_query(tenant=T, filters=[
        QueryFilter(field="namespace", operation="EQUALS", value=ns)])
    assert answer["totalItems"] == 1
    wait_state(kc, ids[2], "KILLED")
    labelled = kc.executions.set_labels_on_terminated_executions_by_ids(
        tenant=T, request={"executionsId": ids, "executionLabels": [{"key": "bulk", "value": "yes"}]})
    assert labelled["totalItems"] == 3
    assert {l.key: l.value for l in kc.executions.execution(execution_id=ids[1], tenant=T).labels}["bulk"] == "yes"
    deleted = kc.executions.delete_executions_by_ids(tenant=T, ids=ids)
    assert deleted.count == 3
    with pytest.raises(ApiException) as err:
        kc.executions.execution(execution_id=ids[0], tenant=T)
    assert err.value.status == 404
