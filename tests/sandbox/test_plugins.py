"""Plugin endpoints (GET /api/v1/plugins, /plugins/{cls}, /plugins/schemas/{type}, /plugins/inputs):
Kestra's shapes on both generations, for the task types the sandbox runs."""
from __future__ import annotations

from kestra_magic.sandbox.tasks import base


def _task_classes(body, gen):
    plugins = body if gen == 1 else body["results"]
    return {t["cls"]: t for p in plugins for t in p["tasks"]}


def test_plugin_list_is_a_list_on_1x_and_paged_on_2x(kapi):
    resp = kapi.get("/api/v1/plugins")
    assert resp.status_code == 200
    body = resp.json()
    if kapi.gen == 1:
        assert isinstance(body, list)
    else:
        assert body["total"] == len(body["results"]) > 0
    tasks = _task_classes(body, kapi.gen)
    assert tasks["io.kestra.plugin.core.log.Log"]["title"] == "Log a message in the task logs."
    assert "io.kestra.plugin.scripts.python.Script" in tasks


def test_plugin_list_is_the_registry_of_the_generation(kapi):
    tasks = _task_classes(kapi.get("/api/v1/plugins").json(), kapi.gen)
    base._load_builtin_tasks()
    expected = {n for n, d in base.REGISTRY.items() if n == d.type and kapi.gen in d.generations}
    assert set(tasks) == expected
    assert ("io.kestra.plugin.core.flow.ForEach" in tasks) == (kapi.gen == 1)
    assert ("io.kestra.plugin.core.flow.Loop" in tasks) == (kapi.gen == 2)


def test_plugin_documentation_has_properties_required_flags_and_outputs(kapi):
    resp = kapi.get("/api/v1/plugins/io.kestra.plugin.core.debug.Return")
    assert resp.status_code == 200
    schema = resp.json()["schema"]
    props = schema["properties"]["properties"]
    assert props["format"] == {"type": "string"}
    assert props["id"]["$required"] is True
    assert schema["outputs"]["properties"] == {"value": {"type": "string"}}
    level = kapi.get("/api/v1/plugins/io.kestra.plugin.core.log.Log").json()["schema"]["properties"]
    assert level["properties"]["level"]["enum"] == ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    assert level["properties"]["message"]["$required"] is True


def test_plugin_documentation_resolves_aliases_and_404s_unknown_types(kapi):
    old = kapi.get("/api/v1/plugins/io.kestra.core.tasks.log.Log")
    assert old.status_code == 200
    assert "io.kestra.plugin.core.log.Log" in old.json()["markdown"]
    missing = kapi.get("/api/v1/plugins/io.kestra.plugin.core.log.Lgo")
    assert missing.status_code == 404
    assert "io.kestra.plugin.core.log.Lgo" in missing.text


def test_flow_schema_lists_flow_properties_and_task_types(kapi):
    resp = kapi.get("/api/v1/plugins/schemas/flow")
    assert resp.status_code == 200
    body = resp.json()
    assert {"tasks", "inputs", "errors", "finally", "triggers", "concurrency"} <= set(body["properties"])
    assert ("pluginDefaults" in body["properties"]) == (kapi.gen == 1)
    types = body["definitions"]["io.kestra.core.models.tasks.Task"]["properties"]["type"]["enum"]
    assert "io.kestra.plugin.core.log.Log" in types


def test_input_types_follow_the_generation(kapi):
    resp = kapi.get("/api/v1/plugins/inputs")
    assert resp.status_code == 200
    types = {t["type"] for t in resp.json()}
    assert {"STRING", "INT", "SELECT", "FILE"} <= types
    assert ("BOOLEAN" in types) == (kapi.gen == 1)


def test_plugin_endpoints_need_credentials_when_the_sandbox_has_them(auth_sandbox):
    import requests
    from tests.conftest import PASSWORD, USERNAME
    assert requests.get(auth_sandbox.url + "/api/v1/plugins", timeout=10).status_code == 401
    ok = requests.get(auth_sandbox.url + "/api/v1/plugins", auth=(USERNAME, PASSWORD), timeout=10)
    assert ok.status_code == 200
