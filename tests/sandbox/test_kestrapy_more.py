"""kestrapy 2.0.x unchanged against the 2.x sandbox with basic auth: pause/resume (with onResume
inputs and their validation), breakpoints, files, queued executions (unqueue/force-run),
webhooks, flows by ids and the flow of an execution."""
from __future__ import annotations

import time

import pytest

from kestrapy.exceptions import ApiException
from kestrapy.models.query_filter import QueryFilter

from tests.sandbox.kestrapy_support import state

T = "main"


def wait_state(kc, execution_id, *states, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        ex = kc.executions.execution(execution_id=execution_id, tenant=T)
        if state(ex) in states:
            return ex
        assert time.monotonic() < deadline, f"{execution_id} stuck in {state(ex)}"
        time.sleep(0.05)


PAUSE = """id: approve
namespace: {ns}
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: ok
        type: BOOL
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: "approved={{{{ outputs.wait.onResume.ok }}}}"
"""


def test_pause_task_resume_with_validated_inputs(kc, ns):
    kc.flows.create_flow(tenant=T, body=PAUSE.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="approve")
    wait_state(kc, ex.id, "PAUSED")
    checked = kc.executions.validate_resume_execution_inputs(execution_id=ex.id, tenant=T, inputs={"ok": True})
    assert checked["id"] == ex.id and [i["input"]["id"] for i in checked["inputs"]] == ["ok"]
    assert checked["inputs"][0]["value"] is True and checked["inputs"][0]["errors"] == []
    resumed = kc.executions.resume_execution(execution_id=ex.id, tenant=T, inputs={"ok": True})
    assert resumed.id == ex.id
    wait_state(kc, ex.id, "SUCCESS")
    assert [l.message for l in kc.logs.list_logs_from_execution(execution_id=ex.id, tenant=T)
            if l.task_id == "after"] == ["approved=true"]
    with pytest.raises(ApiException) as err:
        kc.executions.validate_resume_execution_inputs(execution_id=ex.id, tenant=T, inputs={"ok": True})
    assert err.value.status == 409


SLOW = """id: slow
namespace: {ns}
tasks:
  - id: one
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: two
"""


def test_api_pause_resume_and_breakpoints(kc, ns):
    kc.flows.create_flow(tenant=T, body=SLOW.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="slow")
    wait_state(kc, ex.id, "RUNNING")
    paused = kc.executions.pause_execution(execution_id=ex.id, tenant=T)
    assert paused.id == ex.id
    wait_state(kc, ex.id, "PAUSED")
    kc.executions.resume_execution(execution_id=ex.id, tenant=T)
    wait_state(kc, ex.id, "SUCCESS")
    bp = kc.executions.create_execution(tenant=T, namespace=ns, id="slow", breakpoints="two")
    wait_state(kc, bp.id, "BREAKPOINT")
    kc.executions.resume_execution_from_breakpoint(execution_id=bp.id, tenant=T)
    assert [tr.task_id for tr in wait_state(kc, bp.id, "SUCCESS").task_run_list] == ["one", "two"]


FILES = """id: files
namespace: {ns}
inputs:
  - id: data
    type: FILE
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ read(inputs.data) }}}}"
"""


def test_files_download_metas_preview(kc, ns):
    kc.flows.create_flow(tenant=T, body=FILES.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="files", wait=True,
                                        inputs={"data": ("data.txt", b"line one\nline two\n", "text/plain")})
    uri = ex.inputs["data"]
    assert uri.startswith("kestra:///") and uri.endswith("/data.txt")
    assert kc.executions.download_file_from_execution(execution_id=ex.id, path_uri=uri, tenant=T) == \
        b"line one\nline two\n"
    metas = kc.executions.file_metadatas_from_execution(execution_id=ex.id, path_uri=uri, tenant=T)
    assert metas.size == 18
    preview = kc.executions.preview_file_from_execution(execution_id=ex.id, path_uri=uri, tenant=T)
    assert "line one" in str(preview["content"])


QUEUED = """id: q
namespace: {ns}
concurrency:
  limit: 1
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
"""


def test_queued_executions_force_run_and_unqueue(kc, ns):
    kc.flows.create_flow(tenant=T, body=QUEUED.format(ns=ns))
    first = kc.executions.create_execution(tenant=T, namespace=ns, id="q")
    wait_state(kc, first.id, "RUNNING")
    second = kc.executions.create_execution(tenant=T, namespace=ns, id="q")
    third = kc.executions.create_execution(tenant=T, namespace=ns, id="q")
    wait_state(kc, second.id, "QUEUED")
    wait_state(kc, third.id, "QUEUED")
    forced = kc.executions.force_run_execution(execution_id=second.id, tenant=T)
    assert state(forced) == "RUNNING"
    cancelled = kc.executions.unqueue_execution(execution_id=third.id, tenant=T, state="CANCELLED")
    assert state(cancelled) == "CANCELLED"
    with pytest.raises(ApiException) as err:
        kc.executions.unqueue_execution(execution_id=first.id, tenant=T, state="RUNNING")
    assert err.value.status == 409
    kc.executions.kill_executions_by_query(tenant=T, filters=[QueryFilter(field="namespace", operation="EQUALS",
                                                                          value=ns)])
    wait_state(kc, first.id, "KILLED")
    wait_state(kc, second.id, "KILLED")


HOOK = """id: hook
namespace: {ns}
triggers:
  - id: web
    type: io.kestra.plugin.core.trigger.Webhook
    key: k3y
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ trigger.parameters }}}}"
"""


def test_webhook_flows_by_ids_and_flow_of_execution(kc, ns):
    kc.flows.create_flow(tenant=T, body=HOOK.format(ns=ns))
    hooked = kc.executions.trigger_execution_by_get_webhook(namespace=ns, id="hook", key="k3y", tenant=T)
    assert hooked.flow_id == "hook" and hooked.namespace == ns
    wait_state(kc, hooked.id, "SUCCESS")
    flow = kc.executions.flow_from_execution_by_id(execution_id=hooked.id, tenant=T)
    assert flow.id == "hook" and [t.id for t in flow.tasks] == ["say"]
    assert kc.executions.flow_from_execution(tenant=T, namespace=ns, flow_id="hook", revision=1).revision == 1
    assert ns in kc.flows.list_distinct_namespaces(tenant=T, q=ns)
    ids = [{"namespace": ns, "id": "hook"}]
    assert kc.flows.disable_flows_by_ids(tenant=T, ids=ids).count == 1
    assert kc.flows.flow(namespace=ns, id="hook", tenant=T).disabled is True
    with pytest.raises(ApiException) as err:
        kc.executions.create_execution(tenant=T, namespace=ns, id="hook")
    assert err.value.status == 409
    assert kc.flows.enable_flows_by_ids(tenant=T, ids=ids).count == 1
    assert kc.flows.flow(namespace=ns, id="hook", tenant=T).disabled is False
    assert kc.flows.delete_flows_by_ids(tenant=T, ids=ids).count == 1
    assert kc.flows.list_flows_by_namespace(namespace=ns, tenant=T) == []


def test_eval_and_configuration(kc, ns):
    kc.flows.create_flow(tenant=T, body=SLOW.format(ns=ns))
    ex = kc.executions.create_execution(tenant=T, namespace=ns, id="slow", wait=True)
    assert kc.executions.eval_expression(execution_id=ex.id, tenant=T,
                                         expression="{{ flow.id }}/{{ execution.state }}") == {"result": "slow/SUCCESS"}
    run_id = ex.task_run_list[0].id
    evaluated = kc.executions.eval_task_run_expression(execution_id=ex.id, task_run_id=run_id, tenant=T,
                                                       expression="{{ 6 * 7 }}")
    assert evaluated.result == "42"
    assert kc.misc.configuration().version == "2.0.3"
    assert kc.misc.login_configuration().is_basic_auth_initialized is True
