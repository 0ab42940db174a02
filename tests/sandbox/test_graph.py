"""GET /api/v1/{tenant}/flows/{ns}/{id}/graph: Kestra's FlowGraph (nodes, edges, clusters) as
GraphUtils builds it (kestra-io/kestra core/.../utils/GraphUtils.java fillGraph, FlowGraph.of)."""
from __future__ import annotations

from tests.sandbox.conftest import flow_yaml

PKG = "io.kestra.core.models.hierarchies."

BODY = """
tasks:
  - id: first
    type: io.kestra.plugin.core.log.Log
    message: hi
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.debug.Return
        format: l
      - id: right
        type: io.kestra.plugin.core.debug.Return
        format: r
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: yes
        type: io.kestra.plugin.core.log.Log
        message: y
    else:
      - id: no
        type: io.kestra.plugin.core.log.Log
        message: n
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: other
    flowId: sub
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
"""


def _graph(kapi, ns):
    kapi.create_flow(flow_yaml(ns, "g", BODY))
    resp = kapi.get(f"/flows/{ns}/g/graph")
    assert resp.status_code == 200
    return resp.json()


def test_graph_nodes_are_typed_by_kestra_class_with_dotted_uids(kapi, ns):
    g = _graph(kapi, ns)
    by_uid = {n["uid"]: n for n in g["nodes"]}
    assert by_uid["root.first"]["type"] == PKG + "GraphTask"
    assert by_uid["root.first"]["task"]["message"] == "hi"
    assert by_uid["root.par.left"]["relationType"] == "PARALLEL"
    assert by_uid["root.child"]["type"] == PKG + "SubflowGraphTask"
    assert by_uid["root.alert"]["error"] is True
    roots = [n for n in g["nodes"] if n["type"] == PKG + "GraphClusterRoot"]
    assert len(roots) == 3       # the flow, par, check


def test_graph_edges_chain_tasks_and_fan_out_branches(kapi, ns):
    g = _graph(kapi, ns)
    rel = {(e["source"], e["target"]): e["relation"] for e in g["edges"]}
    assert rel[("root.par", "root.par.left")] == {"relationType": "PARALLEL"}
    assert rel[("root.par", "root.par.right")] == {"relationType": "PARALLEL"}
    assert rel[("root.check", "root.check.yes")] == {"relationType": "CHOICE", "value": "then"}
    assert rel[("root.check", "root.check.no")] == {"relationType": "CHOICE", "value": "else"}
    clusters = {c["cluster"]["uid"]: c for c in g["clusters"]}
    # the Parallel cluster's end leads into the If cluster's root, which leads to the If task node
    assert rel[(clusters["cluster_root.par"]["end"], clusters["cluster_root.check"]["start"])]["relationType"] \
        == "SEQUENTIAL"
    assert rel[(clusters["cluster_root.check"]["start"], "root.check")] == {}
    errors = [e for e in g["edges"] if e["target"] == "root.alert"]
    assert errors[0]["relation"] == {"relationType": "ERROR"}


def test_graph_clusters_list_members_parents_start_and_end(kapi, ns):
    g = _graph(kapi, ns)
    clusters = {c["cluster"]["uid"]: c for c in g["clusters"]}
    par = clusters["cluster_root.par"]
    assert {"root.par", "root.par.left", "root.par.right", par["start"], par["end"]} == set(par["nodes"])
    assert par["parents"] == [] and par["cluster"]["relationType"] == "PARALLEL"
    assert par["cluster"]["taskNode"]["uid"] == "root.par"


def test_nested_clusters_name_their_parents(kapi, ns):
    body = """
    tasks:
      - id: outer
        type: io.kestra.plugin.core.flow.Sequential
        tasks:
          - id: inner
            type: io.kestra.plugin.core.flow.Parallel
            tasks:
              - id: leaf
                type: io.kestra.plugin.core.log.Log
                message: x
    """
    kapi.create_flow(flow_yaml(ns, "nest", body))
    g = kapi.get(f"/flows/{ns}/nest/graph").json()
    clusters = {c["cluster"]["uid"]: c for c in g["clusters"]}
    assert clusters["cluster_root.outer.inner"]["parents"] == ["cluster_root.outer"]
    assert "cluster_root.outer.inner" in clusters["cluster_root.outer"]["nodes"]
    assert any(n["uid"] == "root.outer.inner.leaf" for n in g["nodes"])


def test_graph_of_a_missing_flow_is_404_and_of_a_revision_is_that_revision(kapi, ns):
    assert kapi.get(f"/flows/{ns}/nope/graph").status_code == 404
    kapi.create_flow(flow_yaml(ns, "rev"))
    kapi.put(f"/flows/{ns}/rev", data=flow_yaml(ns, "rev", BODY).encode(), headers={"Content-Type": "application/x-yaml"})
    one = kapi.get(f"/flows/{ns}/rev/graph", params={"revision": 1}).json()
    assert [n["uid"] for n in one["nodes"] if n["type"] == PKG + "GraphTask"] == ["root.hello"]
    two = kapi.get(f"/flows/{ns}/rev/graph").json()
    assert any(n["uid"] == "root.par" for n in two["nodes"])
