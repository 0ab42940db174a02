"""Flow routes: create/update/get/delete/list/search/revisions/validate (kestra-api.md §1)."""
from __future__ import annotations


from werkzeug.wrappers import Request

from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.http import Handlers, empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, illegal_argument, invalid_entity, not_found
from kestra_magic.sandbox.query import (FLOW_FIELDS, FLOW_FILTERS, bool_param, int_param, legacy_filters, matches,
                                        parse_filters, sort_and_page)


class FlowHandlers(Handlers):
    """/flows: CRUD, search, revisions, validation, namespace sync, bulk by ids/query."""

    # -- flows ------------------------------------------------------------------------------
    def _read_flow_body(self, request: Request) -> tuple[dict, str]:
        """The parsed flow and its source text, per the generation's content-type rules."""
        raw = request.get_data(cache=True)
        try:
            source = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise illegal_argument("The flow source is not valid UTF-8 text") from None
        mimetype = request.mimetype
        if mimetype != "application/x-yaml":
            if self.gen == 2:
                raise ApiError(415, "unsupported-media-type",
                               f"Content-Type '{request.content_type or '(none)'}' is not supported: "
                               f"send the flow YAML with Content-Type: application/x-yaml",
                               "Unsupported Media Type")
            # 1.x: the deprecated JSON variant catches every other content type
            data = self.json_body(request, "a flow as a JSON object (or send the flow YAML with Content-Type: "
                                           "application/x-yaml)")
            if not isinstance(data, dict):
                raise invalid_entity("", [("flow", "must be a JSON object")])
            import yaml
            return inputsmod.to_jsonable(data), yaml.safe_dump(data, sort_keys=False)
        if not source.strip():
            raise illegal_argument("Flow source cannot be empty: send the flow YAML as the request body")
        try:
            return flowsmod.parse(source), source
        except flowsmod.YamlError as exc:
            raise invalid_entity("", [("flow", str(exc))], slug="invalid-entity") from None

    def h_flow_create(self, request, tenant):
        flow, source = self._read_flow_body(request)
        return _json(shapes.flow(self.backend.create_flow(flow, source), self.gen, True))

    def h_flow_update(self, request, tenant, namespace, flow_id):
        if self.backend.flow(namespace, flow_id) is None:
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        flow, source = self._read_flow_body(request)
        return _json(shapes.flow(self.backend.update_flow(namespace, flow_id, flow, source), self.gen, True))

    def h_flow_get(self, request, tenant, namespace, flow_id):
        revision = request.args.get("revision")
        if revision is not None:
            revision = int_param(request.args, "revision", 0)
        allow_deleted = bool_param(request.args, "allowDeleted", False)
        stored = self.backend.flow(namespace, flow_id, revision, allow_deleted=allow_deleted)
        if stored is None or (stored.get("deleted") and not allow_deleted):
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json(shapes.flow(stored, self.gen, bool_param(request.args, "source", False)))

    def h_flow_delete(self, request, tenant, namespace, flow_id):
        if self.backend.flow(namespace, flow_id) is None:
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        self.backend.delete_flow(namespace, flow_id)
        return _empty(204)

    def h_flow_list(self, request, tenant, namespace):
        flows = sorted((f for f in self.backend.flows() if f["namespace"] == namespace), key=lambda f: f["id"])
        return _json([shapes.flow(f, self.gen, False) for f in flows])

    def h_flow_revisions(self, request, tenant, namespace, flow_id):
        revisions = self.backend.flow_revisions(namespace, flow_id)
        if not revisions:
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json([shapes.flow(f, self.gen, True) for f in revisions])

    def _matching(self, args, legacy: dict[str, str]) -> list[dict]:
        filters = parse_filters(args, FLOW_FILTERS)
        if not filters and self.gen == 1:
            filters = legacy_filters(args, legacy)
        return [f for f in self.backend.flows() if matches(f, filters, FLOW_FIELDS)]

    def h_flow_search(self, request, tenant):
        flows = self._matching(request.args, {"q": "CONTAINS", "namespace": "PREFIX", "scope": "EQUALS"})
        flows.sort(key=lambda f: (f["namespace"], f["id"]))
        page, total = sort_and_page(flows, request.args, FLOW_FIELDS)
        return _json({"results": [shapes.flow(f, self.gen, False) for f in page], "total": total})

    def h_flow_validate(self, request, tenant):
        if request.mimetype == "multipart/form-data":
            docs = [(f.filename, f.read().decode("utf-8", errors="replace"))
                    for f in request.files.getlist("flows")]
        else:
            docs = [(None, d) for d in flowsmod.split_documents(request.get_data().decode("utf-8", errors="replace"))]
        results = []
        index = 0
        for filename, text in docs:
            for doc in flowsmod.split_documents(text) if filename else [text]:
                entry: dict = {"index": index, "outdated": False, "deprecationPaths": [], "warnings": [], "infos": []}
                if filename:
                    entry["filename"] = filename
                try:
                    flow = flowsmod.parse(doc)
                except flowsmod.YamlError as exc:
                    entry["constraints"] = str(exc)
                else:
                    if isinstance(flow.get("id"), str):
                        entry["flow"] = flow["id"]
                    if isinstance(flow.get("namespace"), str):
                        entry["namespace"] = flow["namespace"]
                    problems = self.backend.flow_problems(flow)
                    if problems:
                        entry["constraints"] = "\n".join(f"{p}: {m}" if p else m for p, m in problems)
                    revision = flow.get("revision")
                    if revision is not None and entry.get("flow") and entry.get("namespace"):
                        current = self.backend.flow(entry["namespace"], entry["flow"], allow_deleted=True)
                        last = current["revision"] if current else 0
                        entry["outdated"] = revision != last + 1
                results.append(entry)
                index += 1
        return _json(results)

    # -- namespace sync / bulk / validate task ----------------------------------------------
    def _sync_flows(self, request, namespace: str | None, allow_child: bool) -> list[dict]:
        """Create/update every flow of a multi-document YAML body; with ``delete`` (default true)
        and a namespace, delete that namespace's other flows. All documents are checked first."""
        if request.mimetype != "application/x-yaml":
            raise ApiError(415, "unsupported-media-type",
                           f"Content-Type '{request.content_type or '(none)'}' is not supported: send the flows "
                           f"as YAML documents separated by '---' with Content-Type: application/x-yaml",
                           "Unsupported Media Type")
        text = request.get_data().decode("utf-8", errors="replace")
        documents: list[tuple[int, dict, str]] = []
        problems: list[tuple[str, str]] = []
        for index, doc in enumerate(d for d in flowsmod.split_documents(text) if d.strip()):
            try:
                documents.append((index, flowsmod.parse(doc), doc))
            except flowsmod.YamlError as exc:
                problems.append((f"flows[{index}]", str(exc)))
        saved = self.backend.sync_flows(documents, problems, namespace, allow_child,
                                        bool_param(request.args, "delete", True))
        return [shapes.flow(f, self.gen, True) for f in saved]

    def h_flow_sync_namespace(self, request, tenant, namespace):
        return _json(self._sync_flows(request, namespace, False))

    def h_flow_bulk(self, request, tenant):
        namespace = request.args.get("namespace") or None
        return _json(self._sync_flows(request, namespace, bool_param(request.args, "allowNamespaceChild", False)))

    def h_flow_validate_task(self, request, tenant):
        section = (request.args.get("section") or "").upper()
        if section not in ("TASKS", "TRIGGERS"):
            raise ApiError(400, "invalid-query-parameter", f"Failed to convert argument [section] for value "
                           f"[{request.args.get('section') or ''}]: use TASKS or TRIGGERS", "Bad Request")
        if request.mimetype == "application/json":
            body = self.json_body(request, "a task as a JSON object")
        else:
            try:
                body = flowsmod.parse(request.get_data().decode("utf-8", errors="replace"))
            except flowsmod.YamlError as exc:
                raise ApiError(422, "invalid-json", f"Can not parse the task: {exc}", "Invalid JSON") from None
        if not isinstance(body, dict):
            raise invalid_entity("", [("task", "must be an object with `id` and `type`")])
        entry: dict = {"index": 0, "outdated": False, "deprecationPaths": [], "warnings": [], "infos": []}
        if section == "TASKS":
            probe = {"id": "validate", "namespace": "validate", "tasks": [body]}
            problems = self.backend.flow_problems(probe)
        else:
            problems = [] if isinstance(body.get("type"), str) and body.get("id") else \
                [("", "a trigger needs an `id` and a `type`")]
        if problems:
            entry["constraints"] = "\n".join(f"{p}: {m}" if p else m for p, m in problems)
        return _json(entry)

    # -- flows by ids / by query (delete, disable, enable), distinct namespaces -------------
    def _flow_keys_from_body(self, request) -> list[tuple[str, str]]:
        body = self.json_body(request, "a JSON array of {\"namespace\", \"id\"} flows")
        try:
            return [(str(item["namespace"]), str(item["id"])) for item in body]
        except (TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"namespace\", \"id\"} flows",
                           "Invalid JSON") from None

    def h_flow_bulk_by_ids(self, request, tenant, action):
        return _json({"count": self.backend.set_flows(action, self._flow_keys_from_body(request))})

    def h_flow_bulk_by_query(self, request, tenant, action):
        keys = [(f["namespace"], f["id"]) for f in self._matching(request.args, {"q": "CONTAINS", "namespace": "PREFIX"})]
        return _json({"count": self.backend.set_flows(action, keys)})

    def h_flow_distinct_namespaces(self, request, tenant):
        q = (request.args.get("q") or "").lower()
        return _json(sorted({f["namespace"] for f in self.backend.flows() if q in f["namespace"].lower()}))
