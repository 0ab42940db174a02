"""Flows by ids / by query (delete, disable, enable), distinct namespaces, the flow of an
execution and resume/validate, on both generations, checked against the spec."""
from __future__ import annotations

import json
import time

from tests.sandbox.conftest import flow_yaml

JSON = {"Content-Type": "application/json"}


def test_disable_enable_delete_by_ids_and_query(kapi, ns):
    for flow_id in ("a", "b"):
        kapi.create_flow(flow_yaml(ns, flow_id))
    body = json.dumps([{"namespace": ns, "id": "a"}, {"namespace": ns, "id": "gone"}])
    resp = kapi.post("/flows/disable/by-ids", data=body, headers=JSON)
    assert resp.status_code == 200 and resp.json() == {"count": 1}
    got = kapi.get(f"/flows/{ns}/a", params={"source": "true"}).json()
    assert got["disabled"] is True and got["revision"] == 2 and "disabled: true" in got["source"]
    assert kapi.post(f"/executions/{ns}/a").status_code == 409
    resp = kapi.post("/flows/enable/by-query", params={"filters[namespace][EQUALS]": ns})
    assert resp.json() == {"count": 2}
    assert kapi.get(f"/flows/{ns}/a").json()["disabled"] is False
    assert kapi.get("/flows/distinct-namespaces", params={"q": ns}).json() == [ns]
    resp = kapi.delete("/flows/delete/by-query", params={"filters[namespace][EQUALS]": ns})
    assert resp.json() == {"count": 2} and kapi.get(f"/flows/{ns}").json() == []
    assert kapi.delete("/flows/delete/by-ids", data="nope", headers=JSON).status_code == 422


def test_flow_of_an_execution(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "f"))
    ex = kapi.run(ns, "f", wait="true")
    kapi.put(f"/flows/{ns}/f", data=flow_yaml(ns, "f").replace("hello", "bye").encode(),
             headers={"Content-Type": "application/x-yaml"})
    by_id = kapi.get(f"/executions/{ex['id']}/flow").json()
    assert by_id["id"] == "f" and by_id["revision"] == 1 and "source" not in by_id
    assert kapi.get(f"/executions/flows/{ns}/f", params={"revision": 2}).json()["revision"] == 2
    assert kapi.get(f"/executions/flows/{ns}/none").status_code == 404
    assert kapi.get("/executions/nope/flow").status_code == 404


PAUSE = """
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: n
        type: INT
"""


def test_resume_validate(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "p", PAUSE))
    ex = kapi.run(ns, "p")
    deadline = time.monotonic() + 10
    while kapi.get(f"/executions/{ex['id']}").json()["state"]["current"] != "PAUSED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    seg = "actions/resume/validate" if kapi.gen == 2 else "resume/validate"
    bad = kapi.post(f"/executions/{ex['id']}/{seg}", files=[("n", (None, "x"))])
    assert bad.status_code == 200
    assert bad.json()["inputs"][0]["errors"][0]["message"].startswith("Invalid input for `n`")
    good = kapi.post(f"/executions/{ex['id']}/{seg}", files=[("n", (None, "4"))]).json()
    assert good["inputs"][0]["value"] == 4 and good["inputs"][0]["errors"] == []
    assert kapi.get(f"/executions/{ex['id']}").json()["state"]["current"] == "PAUSED"   # nothing resumed
    kapi.action(ex["id"], "kill", "DELETE")


def test_eval_expression_against_an_execution(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "e", """
    tasks:
      - id: ret
        type: io.kestra.plugin.core.debug.Return
        format: "forty-two"
      - id: two
        type: io.kestra.plugin.core.debug.Return
        format: "second"
    """, inputs="""
    inputs:
      - id: who
        type: STRING
    """))
    ex = kapi.run(ns, "e", {"who": "ada"}, wait="true")
    first_run = ex["taskRunList"][0]["id"] if kapi.gen == 1 else \
        kapi.get(f"/executions/{ex['id']}").json()["taskRunList"][0]["id"]
    text = {"Content-Type": "text/plain"}
    path = f"/executions/{ex['id']}/actions/eval" if kapi.gen == 2 else f"/executions/{ex['id']}/eval"
    if kapi.gen == 2:
        got = kapi.post(path, data="{{ inputs.who }}-{{ outputs.two.value }}", headers=text).json()
        assert got == {"result": "ada-second"}
        broken = kapi.post(path, data="{{ nope.x.y }}", headers=text).json()
        assert broken["error"] and "result" not in broken
    got = kapi.post(f"{path}/{first_run}", data="{{ outputs.ret.value }} {{ execution.id }}", headers=text).json()
    assert got == {"result": f"forty-two {ex['id']}"}
    assert kapi.post(f"{path}/nope", data="x", headers=text).status_code == 404
