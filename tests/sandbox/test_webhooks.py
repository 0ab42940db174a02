"""Webhook triggers: GET/POST/PUT …/executions/webhook/{ns}/{flowId}/{key} start an execution
whose `trigger` variables carry the request; open without credentials; both generations."""
from __future__ import annotations

import json
import time

import requests

from tests.conftest import PASSWORD, USERNAME
from tests.sandbox.conftest import Kapi, flow_yaml
from tests.sandbox.openapi_check import check_response

HOOK = """
triggers:
  - id: hook
    type: io.kestra.plugin.core.trigger.Webhook
    key: s3cr3tKey
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "got {{ trigger.body.name }} via {{ trigger.parameters.src[0] }}"
"""


def test_webhook_post_runs_the_flow_with_trigger_variables(auth_sandbox, ns):
    kapi = Kapi(auth_sandbox, auth=(USERNAME, PASSWORD))
    kapi.create_flow(flow_yaml(ns, "w", HOOK))
    url = f"{auth_sandbox.url}/api/v1/main/executions/webhook/{ns}/w/s3cr3tKey"
    resp = requests.post(url, params={"src": "ci"}, data=json.dumps({"name": "ada"}),
                         headers={"Content-Type": "application/json"}, timeout=10)   # no credentials
    assert resp.status_code == 200, resp.text
    check_response(resp, auth_sandbox.generation)
    body = resp.json()
    assert body["namespace"] == ns and body["flowId"] == "w" and body["trigger"]["id"] == "hook"
    assert body["url"].endswith(f"/executions/{ns}/w/{body['id']}")
    deadline = time.monotonic() + 10
    while kapi.get(f"/executions/{body['id']}").json()["state"]["current"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [l["message"] for l in kapi.get(f"/logs/{body['id']}").json()] == ["got ada via ci"]
    got = kapi.get(f"/executions/{body['id']}").json()
    assert got["trigger"]["variables"]["body"] == {"name": "ada"}


def test_webhook_get_put_with_path_and_unknown_key(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "w", HOOK))
    for method in ("GET", "PUT"):
        resp = kapi.call(method, f"/executions/webhook/{ns}/w/s3cr3tKey/extra", params={"src": "x"})
        assert resp.status_code == 200 and resp.json()["flowId"] == "w"
    assert kapi.post(f"/executions/webhook/{ns}/w/wrong").status_code == 404
    assert kapi.post(f"/executions/webhook/{ns}/missing/s3cr3tKey").status_code == 404
