"""A flow's graph in Kestra's ``FlowGraph`` shape: ``{"nodes", "edges", "clusters"}``.

Built the way Kestra builds it (kestra-io/kestra ``core/.../utils/GraphUtils.java`` ``of``/``fillGraph``,
``models/hierarchies/GraphCluster.java``, ``FlowGraph.of``; the flowables' ``tasksTree``: Parallel →
PARALLEL, If/Switch → CHOICE with the branch name as the relation value, ForEach/Loop → DYNAMIC,
Sequential/WorkingDirectory → SEQUENTIAL, Subflow → ``SubflowGraphTask``):

- every node has ``uid`` (dotted path from ``root``) and ``type`` (the Java class name);
  task nodes carry the task (``task``) and the ``relationType`` of their branch;
- a flowable task becomes a cluster (``cluster_<uid>``) with a root and an end node and its task
  node; the cluster itself is listed under ``clusters`` (with its direct node uids, its parent
  clusters, ``start`` and ``end``), its nodes under ``nodes``;
- edges carry a ``relation`` (``{}`` for structural edges, else ``{relationType, value}``);
- ``errors`` branches start from the cluster's root with ERROR relations (nodes ``error: true``);
  ``finally`` and ``afterExecution`` follow as FINALLY / AFTER_EXECUTION branches (``branchType``).

Kestra's root/end ids are random (``IdUtils.create``); here they are derived from the uid so a
graph is the same on every request.
"""
from __future__ import annotations

import hashlib
from typing import Any

PKG = "io.kestra.core.models.hierarchies."
FLOWABLE_RELATION = {
    "Parallel": "PARALLEL", "If": "CHOICE", "Switch": "CHOICE", "ForEach": "DYNAMIC", "Loop": "DYNAMIC",
    "EachSequential": "DYNAMIC", "EachParallel": "DYNAMIC", "ForEachItem": "DYNAMIC",
    "Sequential": "SEQUENTIAL", "WorkingDirectory": "SEQUENTIAL", "AllowFailure": "SEQUENTIAL",
    "Pause": "SEQUENTIAL", "Dag": "PARALLEL",
}
_CHILD_KEYS = ("tasks", "then", "else", "cases", "defaults", "errors", "finally")


def short_type(type_: Any) -> str:
    return str(type_ or "").rsplit(".", 1)[-1]


def is_subflow(task: dict) -> bool:
    return short_type(task.get("type")) in ("Subflow", "Flow")


def is_flowable(task: dict) -> bool:
    """Kestra's FlowableTask: a known flowable type, or any task carrying child task lists."""
    name = short_type(task.get("type"))
    if is_subflow(task):
        return False
    if name in FLOWABLE_RELATION:
        return name != "Pause" or bool(task.get("tasks"))
    return any(isinstance(task.get(k), (list, dict)) and k != "errors" and k != "finally"
               for k in ("tasks", "then", "cases"))


def _rid(uid: str, what: str) -> str:
    return hashlib.sha1(f"{uid}/{what}".encode()).hexdigest()[:22]


class _Cluster:
    def __init__(self, builder: "_Builder", uid: str, relation: str | None, task_node: dict | None,
                 parents: list[str]):
        self.b = builder
        self.uid = uid                      # e.g. "root" or "root.par"
        self.relation = relation
        self.task_node = task_node
        self.parents = parents
        self.root = {"uid": f"{uid}.{_rid(uid, 'root')}", "type": PKG + "GraphClusterRoot", "error": False}
        self.end = {"uid": f"{uid}.{_rid(uid, 'end')}", "type": PKG + "GraphClusterEnd", "error": False}
        self.members: list[str] = [self.root["uid"], self.end["uid"]]
        builder.nodes += [self.root, self.end]
        if task_node is not None:
            self.members.append(task_node["uid"])
            builder.nodes.append(task_node)
            builder.edge(self.root["uid"], task_node["uid"], {})

    @property
    def cluster_uid(self) -> str:
        return "cluster_" + self.uid


class _Builder:
    def __init__(self):
        self.nodes: list[dict] = []
        self.edges: list[dict] = []
        self.clusters: list[dict] = []

    def edge(self, source: str, target: str, relation: dict) -> None:
        self.edges.append({"source": source, "target": target, "relation": relation})

    # one child: a task node, a subflow node or a nested cluster; returns (entry uid, exit uid)
    def child(self, parent: _Cluster, task: dict, relation: str, branch: str | None) -> tuple[str, str]:
        uid = f"{parent.uid}.{task.get('id')}"
        error = branch == "ERROR"
        if is_flowable(task):
            kind = FLOWABLE_RELATION.get(short_type(task.get("type")), "SEQUENTIAL")
            node = self.task_node(uid, task, kind, error, branch)
            sub = _Cluster(self, uid, kind, node, parent.parents + [parent.cluster_uid]
                           if parent.uid != "root" else [])
            parent.members.append(sub.cluster_uid)
            self.fill_flowable(sub, task)
            cluster_json = {"uid": sub.cluster_uid, "type": PKG + "GraphCluster", "error": error,
                            "relationType": kind, "taskNode": node}
            if branch:
                cluster_json["branchType"] = branch
            self.clusters.append({"cluster": cluster_json, "nodes": sub.members, "parents": sub.parents,
                                  "start": sub.root["uid"], "end": sub.end["uid"]})
            return sub.root["uid"], sub.end["uid"]
        node = self.task_node(uid, task, relation, error, branch,
                              cls="SubflowGraphTask" if is_subflow(task) else "GraphTask")
        self.nodes.append(node)
        parent.members.append(uid)
        return uid, uid

    @staticmethod
    def task_node(uid: str, task: dict, relation: str, error: bool, branch: str | None,
                  cls: str = "GraphTask") -> dict:
        node = {"uid": uid, "type": PKG + cls, "error": error, "task": task, "relationType": relation}
        if branch:
            node["branchType"] = branch
        return node

    def fill(self, cluster: _Cluster, tasks: list, relation: str, value: str | None = None,
             branch: str | None = None) -> None:
        """GraphUtils.fillGraph: chain ``tasks`` from the cluster's task node (or root) to its end."""
        tasks = [t for t in tasks or [] if isinstance(t, dict)]
        previous = cluster.task_node["uid"] if cluster.task_node is not None else cluster.root["uid"]
        if branch:
            previous = cluster.root["uid"]
        link_all = relation in ("PARALLEL", "CHOICE")
        for i, task in enumerate(tasks):
            if branch:
                kind = branch
            elif i > 0 and relation != "PARALLEL" and cluster.relation != "DYNAMIC":
                kind = relation
            else:
                kind = cluster.relation or relation
            entry, exit_ = self.child(cluster, task, relation if not branch else branch, branch)
            rel = {"relationType": kind}
            if value is not None:
                rel["value"] = value
            self.edge(previous, entry, rel)
            if relation != "PARALLEL":
                previous = exit_
            if link_all or i == len(tasks) - 1:
                self.edge(exit_, cluster.end["uid"], {})

    def fill_flowable(self, cluster: _Cluster, task: dict) -> None:
        name = short_type(task.get("type"))
        if name == "If":
            self.fill(cluster, task.get("then") or [], "SEQUENTIAL", "then")
            if task.get("else"):
                self.fill(cluster, task.get("else") or [], "SEQUENTIAL", "else")
        elif name == "Switch":
            if task.get("defaults"):
                self.fill(cluster, task["defaults"], "SEQUENTIAL", "defaults")
            for case, tasks in (task.get("cases") or {}).items():
                self.fill(cluster, tasks, "SEQUENTIAL", str(case))
        elif cluster.relation == "PARALLEL":
            self.fill(cluster, task.get("tasks") or [], "PARALLEL")
        else:
            self.fill(cluster, task.get("tasks") or [], "SEQUENTIAL")
        self.handlers(cluster, task)

    def handlers(self, cluster: _Cluster, owner: dict) -> None:
        if owner.get("errors"):
            self.fill(cluster, owner["errors"], "SEQUENTIAL", branch="ERROR")
        if owner.get("finally"):
            self.fill(cluster, owner["finally"], "SEQUENTIAL", branch="FINALLY")
        if owner.get("afterExecution"):
            self.fill(cluster, owner["afterExecution"], "SEQUENTIAL", branch="AFTER_EXECUTION")


def flow_graph(flow: dict) -> dict:
    """The ``FlowGraph`` of a parsed flow (dict of its YAML)."""
    b = _Builder()
    root = _Cluster(b, "root", None, None, [])
    triggers = [t for t in flow.get("triggers") or [] if isinstance(t, dict)]
    if triggers:
        tc = _Cluster(b, "root.Triggers", None, None, [])
        for trig in triggers:
            uid = f"root.Triggers.{trig.get('id')}"
            # AbstractGraphTrigger: the declaration is `triggerDeclaration`, `trigger` is its runtime state
            b.nodes.append({"uid": uid, "type": PKG + "GraphTrigger", "error": False, "triggerDeclaration": trig})
            tc.members.append(uid)
            b.edge(tc.root["uid"], uid, {})
            b.edge(uid, tc.end["uid"], {})
        b.clusters.append({"cluster": {"uid": tc.cluster_uid, "type": PKG + "GraphCluster", "error": False},
                           "nodes": tc.members, "parents": [], "start": tc.root["uid"], "end": tc.end["uid"]})
        b.edge(tc.end["uid"], root.root["uid"], {})
    b.fill(root, flow.get("tasks") or [], "SEQUENTIAL")
    b.handlers(root, flow)
    # clusters are listed parents first, as GraphUtils.clusters walks them (pre-order)
    b.clusters.sort(key=lambda c: len(c["parents"]))
    return {"nodes": b.nodes, "edges": b.edges, "clusters": b.clusters}
