"""Flow operations (``client.flows``), named as in Kestra's generated SDKs."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kestra_magic import errors
from kestra_magic.api._filters import filter_params
from kestra_magic.models import Flow, Page

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport import Transport

YAML = {"Content-Type": "application/x-yaml"}


def _flow_key(source: str) -> tuple[str, str]:
    """(namespace, id) read from a flow's YAML, with a clear error when it has none."""
    import yaml  # lazy: only the upsert helper needs to read YAML

    from kestra_magic import safe_yaml
    try:
        doc = safe_yaml.load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = f" ({exc.problem})" if getattr(exc, "problem", None) else ""
        raise errors.KestraConfigError(f"flow source is not valid YAML{where}{problem}; fix the YAML") from None
    if not isinstance(doc, dict) or not doc.get("id") or not doc.get("namespace"):
        raise errors.KestraConfigError("flow source needs top-level 'id:' and 'namespace:' keys")
    return str(doc["namespace"]), str(doc["id"])


def _source(source: Any) -> bytes:
    if not isinstance(source, str) or not source.strip():
        raise errors.KestraConfigError("flow source must be a non-empty YAML string")
    return source.encode("utf-8")


class FlowsApi:
    """Create, read, update, delete, search and validate flows."""

    def __init__(self, transport: "Transport"):
        self._t = transport

    def create_flow(self, source: str, **options: Any) -> Flow:
        """Create a flow from YAML (Kestra answers 422 on 1.x / 409 on 2.x if it exists)."""
        body = self._t.json("FlowsAPIService.CreateFlow", data=_source(source), headers=YAML, what="flow",
                            options=options)
        flow = Flow.from_dict(body)
        self._t.mark_recent(("flow", flow.namespace, flow.id))
        return flow

    def update_flow(self, namespace: str, id: str, source: str, **options: Any) -> Flow:
        """Replace a flow's YAML (a new revision unless the source is unchanged)."""
        body = self._t.json("FlowsAPIService.UpdateFlow", {"namespace": namespace, "id": id},
                            data=_source(source), headers=YAML, what=f"flow {namespace}.{id}", options=options)
        self._t.mark_recent(("flow", namespace, id))
        return Flow.from_dict(body)

    def upsert_flow(self, source: str, **options: Any) -> tuple[Flow, str]:
        """Create the flow, or update it if it exists: returns (flow, "created"|"updated"|"unchanged")."""
        namespace, id = _flow_key(source)
        try:
            current = self.get_flow(namespace, id, source=True, **options)
        except errors.KestraNotFound:
            try:
                return self.create_flow(source, **options), "created"
            except errors.KestraConflict:
                pass   # created meanwhile by someone else: update it below
            current = None
        if current is not None and current.source == source:
            return current, "unchanged"
        flow = self.update_flow(namespace, id, source, **options)
        if current is not None and flow.revision == current.revision:
            return flow, "unchanged"
        return flow, "updated"

    def get_flow(self, namespace: str, id: str, *, source: bool = True, revision: int | None = None,
                 **options: Any) -> Flow:
        """One flow (with its YAML source by default), optionally at a given revision."""
        params: dict[str, Any] = {"source": "true" if source else "false"}
        if revision is not None:
            params["revision"] = int(revision)
        body = self._t.json("FlowsAPIService.GetFlow", {"namespace": namespace, "id": id}, params=params,
                            what=f"flow {namespace}.{id}" + (f" revision {revision}" if revision else ""),
                            options=options)
        return Flow.from_dict(body)

    flow = get_flow

    def delete_flow(self, namespace: str, id: str, **options: Any) -> None:
        """Delete a flow (Kestra keeps its revisions as deleted)."""
        self._t.send("FlowsAPIService.DeleteFlow", {"namespace": namespace, "id": id},
                     what=f"flow {namespace}.{id}", options=options)
        self._t.forget_recent(("flow", namespace, id))

    def search_flows(self, *, namespace: str | None = None, q: str | None = None, labels: Any = None,
                     page: int = 1, size: int = 25, sort: Any = None, **options: Any) -> Page[Flow]:
        """Search flows with ``filters[...]`` (the only filter form 2.x reads; 1.x reads it too)."""
        params = filter_params(page=page, size=size, sort=sort, labels=labels,
                               fields={"namespace": namespace, "q": q})
        body = self._t.json("FlowsAPIService.SearchFlows", params=params, what="flow search", options=options) or {}
        return Page.from_body(body, Flow.from_dict)

    def list_flows_by_namespace(self, namespace: str, **options: Any) -> list[Flow]:
        """Every flow of one namespace (not paged)."""
        body = self._t.json("FlowsAPIService.ListFlowsByNamespace", {"namespace": namespace},
                            what=f"namespace {namespace}", options=options) or []
        return [Flow.from_dict(f) for f in body]

    def validate_flows(self, source: str, **options: Any) -> list[dict]:
        """Validate one or more YAML documents; one result dict per document (``constraints`` = errors)."""
        body = self._t.json("FlowsAPIService.ValidateFlows", data=_source(source), headers=YAML,
                            what="flow validation", options=options)
        return list(body or [])

    def flow_revisions(self, namespace: str, id: str, **options: Any) -> list[Flow]:
        """All revisions of a flow, oldest first."""
        body = self._t.json("FlowsAPIService.ListFlowRevisions", {"namespace": namespace, "id": id},
                            what=f"flow {namespace}.{id}", options=options) or []
        return [Flow.from_dict(f) for f in body]
