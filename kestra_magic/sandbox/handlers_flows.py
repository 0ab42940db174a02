"""Flow routes: create/update/get/delete/list/search/revisions/validate (kestra-api.md §1)."""
from __future__ import annotations

import json

from werkzeug.wrappers import Request

from kestra_magic.sandbox import flows as flowsmod
from kestra_magic.sandbox import inputs as inputsmod
from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.http import empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, illegal_argument, invalid_entity, not_found
from kestra_magic.sandbox.query import Filter, bool_param, int_param, matches, parse_filters, sort_and_page

FLOW_FIELDS = {"q", "scope", "namespace", "flowId", "labels", "id", "updated"}


class FlowHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for /flows."""

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
            try:
                data = json.loads(source)
            except json.JSONDecodeError as exc:
                raise ApiError(422, "invalid-json", f"Can not parse the JSON body: {exc.msg} (send the "
                               f"flow YAML with Content-Type: application/x-yaml)", "Invalid JSON") from None
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

    def _validate(self, flow: dict) -> list[tuple[str, str]]:
        return flowsmod.violations(flow, self.gen, self.engine.validate if self.engine else None)

    def _flow_json(self, stored: dict, with_source: bool = True) -> dict:
        return shapes.flow(stored, self.gen, with_source)

    def h_flow_create(self, request, tenant):
        flow, source = self._read_flow_body(request)
        problems = self._validate(flow)
        if problems:
            raise invalid_entity("", problems)
        with self.store.lock:
            if self.store.get_flow(flow["namespace"], flow["id"]) is not None:
                if self.gen == 1:
                    raise invalid_entity("", [("flow.id", "Flow id already exists")])
                raise ApiError(409, "entity-already-exists",
                               f"A flow with id '{flow['id']}' already exists in namespace '{flow['namespace']}'.",
                               "Conflict")
            stored = self.store.save_flow(dict(flow, source=source, updated=shapes.now_iso()))
        return _json(self._flow_json(stored))

    def h_flow_update(self, request, tenant, namespace, flow_id):
        if self.store.get_flow(namespace, flow_id) is None:
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        flow, source = self._read_flow_body(request)
        problems = flowsmod.update_violations(flow, namespace, flow_id) + self._validate(flow)
        if problems:
            raise invalid_entity("", problems)
        stored = self.store.save_flow(dict(flow, source=source, updated=shapes.now_iso()))
        return _json(self._flow_json(stored))

    def h_flow_get(self, request, tenant, namespace, flow_id):
        revision = request.args.get("revision")
        if revision is not None:
            revision = int_param(request.args, "revision", 0)
        allow_deleted = bool_param(request.args, "allowDeleted", False)
        stored = self.store.get_flow(namespace, flow_id, revision, allow_deleted=allow_deleted)
        if stored is None or (stored.get("deleted") and not allow_deleted):
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json(self._flow_json(stored, bool_param(request.args, "source", False)))

    def h_flow_delete(self, request, tenant, namespace, flow_id):
        if not self.store.delete_flow(namespace, flow_id):
            raise not_found(f"Flow {namespace}.{flow_id} not found", empty_v1=True)
        return _empty(204)

    def h_flow_list(self, request, tenant, namespace):
        flows = sorted((f for f in self.store.all_flows() if f["namespace"] == namespace), key=lambda f: f["id"])
        return _json([self._flow_json(f, False) for f in flows])

    def h_flow_revisions(self, request, tenant, namespace, flow_id):
        revisions = self.store.flow_revisions(namespace, flow_id)
        if not revisions:
            raise not_found(f"Unable to find flow {namespace}.{flow_id}" if self.gen == 2 else "")
        return _json([self._flow_json(f) for f in revisions])

    _flow_fields = {"id": lambda f: f["id"], "flowId": lambda f: f["id"], "namespace": lambda f: f["namespace"],
                    "labels": lambda f: flowsmod.labels_of(f), "updated": lambda f: f.get("updated"),
                    "q": lambda f: f"{f['namespace']}.{f['id']} {f.get('description') or ''}",
                    "revision": lambda f: f.get("revision")}

    def h_flow_search(self, request, tenant):
        args = request.args
        filters = parse_filters(args, FLOW_FIELDS)
        if not filters and self.gen == 1:
            filters = self._legacy_filters(args, {"q": "CONTAINS", "namespace": "PREFIX", "scope": "EQUALS"})
        flows = [f for f in self.store.all_flows() if matches(f, filters, self._flow_fields)]
        flows.sort(key=lambda f: (f["namespace"], f["id"]))
        page, total = sort_and_page(flows, args, self._flow_fields)
        return _json({"results": [self._flow_json(f, False) for f in page], "total": total})

    def _legacy_filters(self, args, ops: dict[str, str]):
        out = []
        for name, op in ops.items():
            for value in args.getlist(name):
                out.append(Filter(name, op, value))
        for value in args.getlist("labels"):
            k, sep, v = value.partition(":")
            if not sep:
                raise ApiError(422, "invalid-query-parameter", f"Invalid queryString parameter: labels={value} "
                               f"(use key:value)", "Invalid entity")
            out.append(Filter("labels", "EQUALS", v.strip(), k.strip()))
        if "state" in ops:
            states = args.getlist("state")
            if states:
                out = [f for f in out if f.field != "state"] + [Filter("state", "IN", ",".join(states))]
        return out

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
                    problems = self._validate(flow)
                    if problems:
                        entry["constraints"] = "\n".join(f"{p}: {m}" if p else m for p, m in problems)
                    revision = flow.get("revision")
                    if revision is not None and entry.get("flow") and entry.get("namespace"):
                        current = self.store.get_flow(entry["namespace"], entry["flow"], allow_deleted=True)
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
        parsed: list[tuple[dict, str]] = []
        problems: list[tuple[str, str]] = []
        for index, doc in enumerate(d for d in flowsmod.split_documents(text) if d.strip()):
            try:
                flow = flowsmod.parse(doc)
            except flowsmod.YamlError as exc:
                problems.append((f"flows[{index}]", str(exc)))
                continue
            problems += [(f"flows[{index}].{p}" if p else f"flows[{index}]", m) for p, m in self._validate(flow)]
            ns = flow.get("namespace")
            if namespace is not None and isinstance(ns, str) and not (
                    ns == namespace or (allow_child and ns.startswith(namespace + "."))):
                problems.append((f"flows[{index}].namespace",
                                 f"Flow namespace '{ns}' is not the namespace '{namespace}' of the request"))
            parsed.append((flow, doc))
        if problems:
            raise invalid_entity("", problems)
        saved = []
        with self.store.lock:
            for flow, doc in parsed:
                saved.append(self.store.save_flow(dict(flow, source=doc, updated=shapes.now_iso())))
            if namespace is not None and bool_param(request.args, "delete", True):
                keep = {(f["namespace"], f["id"]) for f, _ in parsed}
                for other in self.store.all_flows():
                    if other["namespace"] == namespace and (other["namespace"], other["id"]) not in keep:
                        self.store.delete_flow(other["namespace"], other["id"])
        return [self._flow_json(f) for f in saved]

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
        raw = request.get_data().decode("utf-8", errors="replace")
        try:
            body = json.loads(raw) if request.mimetype == "application/json" else flowsmod.parse(raw)
        except (ValueError, flowsmod.YamlError) as exc:
            raise ApiError(422, "invalid-json", f"Can not parse the task: {exc}", "Invalid JSON") from None
        if not isinstance(body, dict):
            raise invalid_entity("", [("task", "must be an object with `id` and `type`")])
        entry: dict = {"index": 0, "outdated": False, "deprecationPaths": [], "warnings": [], "infos": []}
        if section == "TASKS":
            probe = {"id": "validate", "namespace": "validate", "tasks": [body]}
            problems = self._validate(probe)
        else:
            problems = [] if isinstance(body.get("type"), str) and body.get("id") else \
                [("", "a trigger needs an `id` and a `type`")]
        if problems:
            entry["constraints"] = "\n".join(f"{p}: {m}" if p else m for p, m in problems)
        return _json(entry)

    # -- flows by ids / by query (delete, disable, enable), distinct namespaces -------------
    def _flow_keys_from_body(self, request) -> list[tuple[str, str]]:
        try:
            body = json.loads(request.get_data() or b"null")
            return [(str(item["namespace"]), str(item["id"])) for item in body]
        except (ValueError, TypeError, KeyError):
            raise ApiError(422, "invalid-json", "Expected a JSON array of {\"namespace\", \"id\"} flows",
                           "Invalid JSON") from None

    def _apply_flow_action(self, action: str, keys: list[tuple[str, str]]) -> int:
        count = 0
        with self.store.lock:
            for namespace, flow_id in keys:
                current = self.store.get_flow(namespace, flow_id)
                if current is None or current.get("deleted"):
                    continue
                if action == "delete":
                    count += bool(self.store.delete_flow(namespace, flow_id))
                    continue
                disabled = action == "disable"
                if bool(current.get("disabled")) == disabled:
                    count += 1
                    continue
                source = flowsmod.set_top_level(current.get("source") or "", "disabled", disabled)
                updated = {k: v for k, v in current.items() if k not in ("revision", "deleted")}
                self.store.save_flow(dict(updated, disabled=disabled, source=source, updated=shapes.now_iso()))
                count += 1
        return count

    def h_flow_bulk_by_ids(self, request, tenant, action):
        return _json({"count": self._apply_flow_action(action, self._flow_keys_from_body(request))})

    def h_flow_bulk_by_query(self, request, tenant, action):
        filters = parse_filters(request.args, FLOW_FIELDS)
        if not filters and self.gen == 1:
            filters = self._legacy_filters(request.args, {"q": "CONTAINS", "namespace": "PREFIX"})
        keys = [(f["namespace"], f["id"]) for f in self.store.all_flows() if matches(f, filters, self._flow_fields)]
        return _json({"count": self._apply_flow_action(action, keys)})

    def h_flow_distinct_namespaces(self, request, tenant):
        q = (request.args.get("q") or "").lower()
        names = sorted({f["namespace"] for f in self.store.all_flows() if q in f["namespace"].lower()})
        return _json(names)

    # -- the flow of an execution -----------------------------------------------------------
    def h_execution_flow_by_id(self, request, tenant, execution_id):
        ex = self._execution(execution_id)
        stored = self.store.get_flow(ex["namespace"], ex["flowId"], ex.get("flowRevision"), allow_deleted=True)
        if stored is None:
            raise not_found(f"Unable to find flow {ex['namespace']}.{ex['flowId']}")
        return _json(self._flow_json(stored, False))

    def h_execution_flow(self, request, tenant, namespace, flow_id):
        revision = int_param(request.args, "revision", 0) if request.args.get("revision") else None
        stored = self.store.get_flow(namespace, flow_id, revision, allow_deleted=True)
        if stored is None:
            raise not_found(f"Unable to find flow {namespace}.{flow_id}")
        return _json(self._flow_json(stored, False))
