"""The ONE place listing where Kestra's own OpenAPI specs differ from what released Kestra sends.

Everything not listed here fails the suite loudly. Sources: /work/shared/kestra/README.md
("Validating responses against the specs"), kestra-api.md §0 and kestra-api-2.md (UNCERTAIN
notes). Each entry patches the loaded spec dict, with the reason beside it.
"""
from __future__ import annotations

import re

# Java regex classes the specs use, which Python's `re` (used by the validator) lacks. This is
# a dialect translation, not a defect: same meaning for the ASCII label keys Kestra accepts.
JAVA_REGEX_CLASSES = {r"[\p{Ll}]": "[a-z]", r"\p{L}": "a-zA-Z", r"\p{Alpha}": "[A-Za-z]",
                      r"\p{Alnum}": "[A-Za-z0-9]"}


def _translate(pattern: str) -> str:
    for java, py in JAVA_REGEX_CLASSES.items():
        pattern = pattern.replace(java, py)
    return pattern


def _walk(node, fn):
    if isinstance(node, dict):
        fn(node)
        for v in node.values():
            _walk(v, fn)
    elif isinstance(node, list):
        for v in node:
            _walk(v, fn)


def patch(spec: dict, generation: int) -> None:
    """Apply the known defects of the spec of ``generation`` (1 or 2) in place."""
    schemas = spec["components"]["schemas"]

    def fix_patterns(node):
        if isinstance(node.get("pattern"), str) and "\\p" in node["pattern"]:
            node["pattern"] = _translate(node["pattern"])
    _walk(spec, fix_patterns)

    # Both: flow/input `defaults` (and other Property<T> fields) are declared as a
    # {expression, value} wrapper object, but Kestra's Property serializer writes the raw
    # value (`defaults: 3`, `defaults: "x"`), as the YAML has it.
    def loosen_property(node):
        for key, prop in list((node.get("properties") or {}).items()):
            if key == "defaults" and isinstance(prop, dict):
                node["properties"][key] = {}
    _walk(schemas, loosen_property)

    # Both: Java `Map<String, Object>` values generated as `additionalProperties: {type: object}`
    # (e.g. ApiExecution.inputs in 2.0.0); Kestra writes any JSON value there (`{"who": "ada"}`).
    def any_map_value(node):
        if node.get("additionalProperties") == {"type": "object"}:
            node["additionalProperties"] = {}
    _walk(schemas, any_map_value)

    # Both: bulk `by-ids` validation answers 400 BulkErrorResponse (kestra-api.md §2.6: "spec says
    # 422"), and its `invalids` is the serialized Set of constraint violations, a JSON array
    # (declared `type: object`).
    if "BulkErrorResponse" in schemas:
        schemas["BulkErrorResponse"]["properties"]["invalids"] = {}
    for path, ops in spec["paths"].items():
        if re.search(r"/executions/([a-z-]+/)?by-ids$", path):
            for op in ops.values():
                if isinstance(op, dict) and "responses" in op and "400" not in op["responses"]:
                    op["responses"]["400"] = {"description": "invalid bulk", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/BulkErrorResponse"}}}}
        # 2.x by-query: the 400 declared as BulkErrorResponse is in fact the `invalid-query-filters`
        # problem document (legacy flat params or bad filters, kestra-api-2.md §10); let it be
        # checked as an error body.
        if generation == 2 and re.search(r"/executions/([a-z-]+/)?by-query$", path):
            for op in ops.values():
                if isinstance(op, dict) and "responses" in op:
                    op["responses"].pop("400", None)

    # validateNewExecutionInputs / validateResumeExecutionInputs (2.0.0 spec; the first is
    # stripped from 1.3.0, see MISSING_OPERATIONS) are
    # declared as an array of ApiValidateExecutionInputsResponse; the controller returns one
    # object `{id, namespace, inputs, checks}` (kestra-api.md §2.5, kestra-api-2.md §5).
    for path, ops in spec["paths"].items():
        if path.endswith(("/executions/{namespace}/{id}/validate", "/resume/validate")) and "post" in ops:
            content = ops["post"]["responses"]["200"]["content"]
            for media in content.values():
                if media["schema"].get("type") == "array":
                    media["schema"] = media["schema"]["items"]
    # ...and its `value` is a Java Object (any JSON value: 2, "ada"), generated as `type: object`.
    for name, schema in schemas.items():
        if name.endswith("ApiValidateExecutionInputsResponse.ApiInputAndValue"):
            schema["properties"]["value"] = {}

    # Both: raw downloads (e.g. namespace files export, a zip) are declared `format: byte`
    # (base64 text in OpenAPI) under application/octet-stream; Kestra sends the raw bytes.
    for ops in spec["paths"].values():
        for op in ops.values():
            for resp in (op.get("responses") or {}).values() if isinstance(op, dict) else []:
                media = ((resp or {}).get("content") or {}).get("application/octet-stream")
                if media and media.get("schema", {}).get("format") == "byte":
                    media["schema"] = {"type": "string", "format": "binary"}

    if generation == 2:
        # 2.0.0-SNAPSHOT spec: AbstractTrigger lists the optional `when` condition as required;
        # flows return their triggers as written (a Webhook trigger has no `when`).
        if "AbstractTrigger" in schemas:
            schemas["AbstractTrigger"]["required"] = [r for r in schemas["AbstractTrigger"].get("required", [])
                                                      if r != "when"]
        # 2.0.0-SNAPSHOT spec: State lists Java getters (getDuration/getStartDate/getEndDate) as
        # required properties; released 2.0.x sends startDate/endDate/duration, the latter two
        # only once terminated (README "Validating responses against the specs").
        state = schemas["State"]
        state["required"] = [r for r in state.get("required", []) if not r.startswith("get")]
        for getter in ("getDuration", "getStartDate", "getEndDate"):
            state.get("properties", {}).pop(getter, None)
        # Flow labels: described as "a list of Label or a map" but the oneOf only lists the map
        # (AbstractFlow, Flow, FlowWithSource); Kestra serializes them as a list of {key, value}
        # (kestra-api.md §1).
        def labels_list_or_map(node):
            labels = (node.get("properties") or {}).get("labels")
            if isinstance(labels, dict) and labels.get("oneOf") == [{"$ref": "#/components/schemas/Map_Object.Object_"}]:
                labels["oneOf"] = [{"type": "array", "items": {"$ref": "#/components/schemas/Label"}},
                                   {"$ref": "#/components/schemas/Map_Object.Object_"}]
        _walk(schemas, labels_list_or_map)
        # Flow/AbstractFlow/FlowWithSource `variables` declared as a closed empty object
        # (additionalProperties: false); flows keep their variables map in 2.x (the same spec's
        # FlowInterface declares it as a map), and Kestra returns it as written.
        def open_variables(node):
            props = node.get("properties") or {}
            if props.get("variables") == {"type": "object", "additionalProperties": False}:
                props["variables"] = {"type": "object"}
        _walk(schemas, open_variables)
        # Execution.metadata marked required; released Kestra sends it only when set.
        for name in ("Execution", "ApiExecution"):
            schemas[name]["required"] = [r for r in schemas[name].get("required", []) if r != "metadata"]


# Operations the server has but the spec lacks (kestra-api.md §0: the 1.3.0 spec was stripped
# for SDK generation; kestra-api-2.md §4.3: released 2.0.x outputs routes are newer than the
# 2.0.0-SNAPSHOT spec). Responses of these are checked by the tests' own assertions instead.
MISSING_OPERATIONS: dict[int, list[tuple[str, str]]] = {
    1: [
        ("GET", r"^/api/v1/[^/]+/executions/[^/]+/file/preview$"),
        ("GET", r"^/api/v1/[^/]+/logs/[^/]+/follow$"),
        ("POST", r"^/api/v1/[^/]+/executions/[^/]+/resume-from-breakpoint$"),
        ("POST", r"^/api/v1/[^/]+/executions/trigger/[^/]+/[^/]+$"),
        ("POST", r"^/api/v1/[^/]+/executions/[^/]+/[^/]+/validate$"),
        ("POST", r"^/api/v1/[^/]+/executions/[^/]+/eval/[^/]+$"),
        ("POST", r"^/api/v1/[^/]+/executions/webhook/[^/]+/[^/]+/[^/]+$"),
        ("PUT", r"^/api/v1/[^/]+/executions/webhook/[^/]+/[^/]+/[^/]+$"),
    ],
    2: [
        ("GET", r"^/api/v1/[^/]+/outputs/executions/[^/]+$"),
        ("GET", r"^/api/v1/[^/]+/outputs/tasks/[^/]+(/[^/]+)?$"),
        ("POST", r"^/api/v1/login$"),
    ],
}


def missing_operation(generation: int, method: str, path: str) -> bool:
    return any(m == method and re.match(rx, path) for m, rx in MISSING_OPERATIONS[generation])
