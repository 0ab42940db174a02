"""client.flows against the sandbox of both generations, over real HTTP."""
from __future__ import annotations

import pytest

from kestra_magic.errors import KestraConflict, KestraNotFound, KestraValidationError
from tests.client.conftest import INPUTS_FLOW, SLEEP_FLOW, flow_source


def test_create_get_update_revisions_delete(client, ns, sandbox):
    source = flow_source(INPUTS_FLOW, ns)
    created = client.flows.create_flow(source)
    assert (created.namespace, created.id, created.revision, created.source) == (ns, "f", 1, source)
    post = [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/v1/main/flows"][-1]
    assert post.headers.get("Content-Type", "").startswith("application/x-yaml")

    got = client.flows.get_flow(ns, "f")
    assert got.source == source and [t["id"] for t in got.tasks] == ["hello", "warn", "ret"]
    assert got.labels == {"owner": "tests"} and {i["id"] for i in got.inputs} >= {"name", "n", "data"}
    assert client.flows.flow(ns, "f", source=False).source is None

    updated = client.flows.update_flow(ns, "f", source.replace("hello {{", "hi {{"))
    assert updated.revision == 2
    assert client.flows.get_flow(ns, "f", revision=1).source == source
    revisions = client.flows.flow_revisions(ns, "f")
    assert [r.revision for r in revisions] == [1, 2]

    client.flows.delete_flow(ns, "f")
    with pytest.raises(KestraNotFound, match=f"flow {ns}.f not found"):
        client.flows.get_flow(ns, "f")
    with pytest.raises(KestraNotFound):
        client.flows.delete_flow(ns, "f")


def test_duplicate_create_is_a_conflict_on_both_generations(client, ns):
    source = flow_source(INPUTS_FLOW, ns)
    client.flows.create_flow(source)
    with pytest.raises(KestraConflict) as info:
        client.flows.create_flow(source)
    assert info.value.status == {1: 422, 2: 409}[client.generation]
    assert "already exists" in str(info.value) and "upsert_flow" in str(info.value)


def test_upsert_created_unchanged_updated(client, ns):
    source = flow_source(SLEEP_FLOW, ns, seconds=0)
    flow, status = client.flows.upsert_flow(source)
    assert (status, flow.revision) == ("created", 1)
    flow, status = client.flows.upsert_flow(source)
    assert (status, flow.revision) == ("unchanged", 1)
    flow, status = client.flows.upsert_flow(source.replace("woke up", "awake"))
    assert (status, flow.revision) == ("updated", 2)
    assert client.flows.get_flow(ns, "f").source.endswith("message: awake\n")


def test_update_of_missing_flow_and_invalid_flow(client, ns):
    with pytest.raises(KestraNotFound):
        client.flows.update_flow(ns, "nope", flow_source(SLEEP_FLOW, ns, id="nope", seconds=0))
    bad = f"id: bad\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.nothing.Here\n"
    with pytest.raises(KestraValidationError) as info:
        client.flows.create_flow(bad)
    assert info.value.status == 422 and "tasks[0].type" in str(info.value) + str(info.value.violations)


def test_search_list_and_validate(client, ns):
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, id="a", seconds=0))
    client.flows.create_flow(flow_source(SLEEP_FLOW, ns, id="b", seconds=0))
    client.flows.create_flow(flow_source(INPUTS_FLOW, ns, id="c"))
    page = client.flows.search_flows(namespace=ns, size=2, sort="id:asc")
    assert page.total == 3 and [f.id for f in page] == ["a", "b"]
    assert [f.id for f in client.flows.search_flows(namespace=ns, page=2, size=2, sort="id:asc")] == ["c"]
    assert [f.id for f in client.flows.search_flows(namespace=ns, labels={"owner": "tests"})] == ["c"]
    assert [f.id for f in client.flows.search_flows(namespace=ns, sort=["id:desc"])] == ["c", "b", "a"]
    assert {f.id for f in client.flows.search_flows(q=ns, size=100)} >= {"a", "b", "c"}
    assert sorted(f.id for f in client.flows.list_flows_by_namespace(ns)) == ["a", "b", "c"]

    docs = flow_source(SLEEP_FLOW, ns, id="ok", seconds=0) + "---\n" + \
        f"id: ko\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
    results = client.flows.validate_flows(docs)
    assert [r["index"] for r in results] == [0, 1]
    assert not results[0].get("constraints") and "message" in results[1]["constraints"]
