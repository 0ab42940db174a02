"""Plugin documentation and the flow graph (``client.plugins``), named as in Kestra's generated SDKs.

Plugin routes are instance-wide (no tenant segment) on both generations; ``GET /api/v1/plugins``
answers a bare list on 1.x and ``PagedResults`` on 2.x (openapi-1.3.0.yml / openapi-2.0.0.yml
``listPlugins``), so :meth:`PluginsApi.list_plugins` always returns a list.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport import Transport

# The schema types Kestra serves under /api/v1/plugins/schemas/{type} (enum SchemaType, both specs)
SCHEMA_TYPES = ("flow", "task", "trigger")



class PluginsApi:
    """Kestra's plugin catalogue (task types, their JSON schemas) and a flow's graph."""

    def __init__(self, transport: "Transport"):
        self._t = transport

    def list_plugins(self, **options: Any) -> list[dict]:
        """Every plugin (``Plugin`` objects: ``tasks``, ``triggers``... lists of ``{cls, title, ...}``)."""
        body = self._t.json("PluginsAPIService.ListPlugins", what="plugin list", options=options)
        if isinstance(body, dict):          # 2.x PagedResults_Plugin_
            body = body.get("results")
        return [p for p in (body or []) if isinstance(p, dict)]

    def task_types(self, **options: Any) -> dict[str, dict]:
        """``{cls: {"title", "description", "deprecated", "plugin"}}`` for every task type of every plugin."""
        out: dict[str, dict] = {}
        for plugin in self.list_plugins(**options):
            for element in plugin.get("tasks") or []:
                cls = element.get("cls") if isinstance(element, dict) else element
                if isinstance(cls, str) and cls:
                    meta = element if isinstance(element, dict) else {}
                    out[cls] = {"title": meta.get("title") or "", "description": meta.get("description") or "",
                                "deprecated": bool(meta.get("deprecated")), "plugin": plugin.get("name") or ""}
        return out

    def plugin_documentation(self, cls: str, *, all: bool = False, **options: Any) -> dict:
        """One type's ``DocumentationWithSchema``: ``{"markdown", "schema": {"properties", "outputs", "definitions"}}``."""
        return self._t.json("PluginsAPIService.GetPluginDocumentation", {"cls": cls},
                            params={"all": "true" if all else "false"}, what=f"plugin {cls}", options=options) or {}

    def schema(self, type: str = "flow", *, array_of: bool = False, **options: Any) -> dict:
        """The JSON schema (draft 7) of a flow, task or trigger (``/api/v1/plugins/schemas/{type}``)."""
        if type not in SCHEMA_TYPES:
            raise ValueError(f"schema type {type!r} is not one of {list(SCHEMA_TYPES)}")
        return self._t.json("PluginsAPIService.GetSchemasFromType", {"type": type},
                            params={"arrayOf": "true" if array_of else "false"}, what=f"{type} schema",
                            options=options) or {}

    def input_types(self, **options: Any) -> list[str]:
        """The input types the server knows (``STRING``, ``INT``, ...; ``/api/v1/plugins/inputs``)."""
        body = self._t.json("PluginsAPIService.GetAllInputTypes", what="input types", options=options) or []
        return [str(t.get("type")) for t in body if isinstance(t, dict) and t.get("type")]

    def flow_graph(self, namespace: str, id: str, *, revision: int | None = None, **options: Any) -> dict:
        """Kestra's ``FlowGraph`` of a stored flow: ``{"nodes", "edges", "clusters"}``."""
        params = {"revision": int(revision)} if revision is not None else None
        return self._t.json("FlowsAPIService.GenerateFlowGraph", {"namespace": namespace, "id": id},
                            params=params, what=f"flow {namespace}.{id} graph", options=options) or {}
