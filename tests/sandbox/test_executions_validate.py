"""POST /executions/{namespace}/{id}/validate: typed inputs checked without creating anything,
both generations."""
from __future__ import annotations

from tests.sandbox.conftest import flow_yaml

INPUTS = """
inputs:
  - id: n
    type: INT
    defaults: 2
  - id: who
    type: STRING
  - id: opt
    type: STRING
    required: false
"""


def test_validate_reports_values_defaults_and_errors(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "v", inputs=INPUTS))
    resp = kapi.post(f"/executions/{ns}/v/validate", files=[("who", (None, "ada"))])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == "v" and body["namespace"] == ns and body["checks"] == []
    by_id = {i["input"]["id"]: i for i in body["inputs"]}
    assert by_id["n"]["value"] == 2 and by_id["n"]["isDefault"] is True and by_id["n"]["errors"] == []
    assert by_id["who"]["value"] == "ada" and by_id["who"]["isDefault"] is False
    assert "value" not in by_id["opt"] and by_id["opt"]["errors"] == []
    bad = kapi.post(f"/executions/{ns}/v/validate", files=[("n", (None, "x"))]).json()
    by_id = {i["input"]["id"]: i for i in bad["inputs"]}
    assert by_id["n"]["errors"][0]["message"].startswith("Invalid input for `n`")
    assert by_id["who"]["errors"] == [{"message": "Missing required input:who"}]
    assert kapi.get("/executions/search", params={"filters[namespace][EQUALS]": ns}).json()["total"] == 0


def test_validate_unknown_flow_and_bad_labels(kapi, ns):
    assert kapi.post(f"/executions/{ns}/missing/validate", files=[("x", (None, "1"))]).status_code == 404
    kapi.create_flow(flow_yaml(ns, "v", inputs=INPUTS))
    resp = kapi.post(f"/executions/{ns}/v/validate", params={"labels": "nocolon"}, files=[("who", (None, "a"))])
    assert resp.status_code == 422
