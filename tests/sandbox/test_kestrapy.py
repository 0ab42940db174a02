"""Kestra's official Python client (kestrapy 2.0.x), unchanged, against the 2.x sandbox:
create a flow, run it with inputs and wait, follow it, read logs, kill an execution."""
from __future__ import annotations

import threading
import time

from tests.sandbox.kestrapy_support import SLOW

from kestrapy import KestraClient

FLOW = """id: greet
namespace: {ns}
inputs:
  - id: who
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "hello {{{{ inputs.who }}}} x{{{{ inputs.times }}}}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ inputs.who }}}}"
"""

def test_kestrapy_create_run_wait_follow_logs(authed, ns):
    kc = KestraClient(host=authed.url, username=authed.username, password=authed.password, timeout=30)
    flow = kc.flows.create_flow(tenant="main", body=FLOW.format(ns=ns))
    assert flow.id == "greet" and flow.namespace == ns and flow.revision == 1
    ex = kc.executions.create_execution(tenant="main", namespace=ns, id="greet", wait=True,
                                        inputs={"who": "ada", "times": 3}, labels=["team:data"])
    assert ex.id and str(getattr(ex.state.current, "value", ex.state.current)) == "SUCCESS"
    assert ex.inputs == {"who": "ada", "times": 3}
    got = kc.executions.execution(execution_id=ex.id, tenant="main")
    assert [tr.task_id for tr in got.task_run_list] == ["say", "ret"]
    events = list(kc.executions.follow_execution(execution_id=ex.id, tenant="main"))
    assert events and str(getattr(events[-1].state.current, "value", events[-1].state.current)) == "SUCCESS"
    logs = kc.logs.list_logs_from_execution(execution_id=ex.id, tenant="main")
    assert [l.message for l in logs] == ["hello ada x3"]
    text = kc.logs.download_logs_from_execution(execution_id=ex.id, tenant="main")
    assert text.endswith("INFO hello ada x3")
    streamed = []
    stream = kc.logs.follow_logs_from_execution(execution_id=ex.id, tenant="main")

    def read():
        for entry in stream:
            if entry.message:
                streamed.append(entry.message)
                break
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(10)
    assert streamed == ["hello ada x3"]


def test_kestrapy_kill(authed, ns):
    kc = KestraClient(host=authed.url, username=authed.username, password=authed.password, timeout=30)
    kc.flows.create_flow(tenant="main", body=SLOW.format(ns=ns))
    ex = kc.executions.create_execution(tenant="main", namespace=ns, id="slow")
    deadline = time.monotonic() + 10
    while kc.executions.execution(execution_id=ex.id, tenant="main").state.current.value != "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    killed = kc.executions.kill_execution(execution_id=ex.id, tenant="main")
    assert killed.id == ex.id and killed.state.current.value in ("KILLING", "KILLED")
    final = list(kc.executions.follow_execution(execution_id=ex.id, tenant="main"))[-1]
    assert final.state.current.value == "KILLED"
