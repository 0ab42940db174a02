"""Kestra's plugin endpoints and the flow graph, for the task types the sandbox runs.

Shapes from Kestra's specs (openapi-1.3.0.yml / openapi-2.0.0.yml): ``GET /api/v1/plugins`` is a
list of ``Plugin`` on 1.x and ``PagedResults_Plugin_`` on 2.x; ``GET /api/v1/plugins/{cls}`` is
``DocumentationWithSchema`` (``markdown`` + ``schema: {properties, outputs, definitions}``, each an
object); ``/api/v1/plugins/schemas/{type}`` a JSON schema object; ``/api/v1/plugins/inputs`` a list
of ``InputType``; ``GET /api/v1/{tenant}/flows/{namespace}/{id}/graph`` a ``FlowGraph``
(:mod:`kestra_magic.sandbox.graph`). Per-property JSON schemas carry ``$required`` as Kestra's
``JsonSchemaGenerator`` writes it.

The task list comes from the engine's registry (``sandbox/tasks/base.py``); titles, output names and
property types of the built-in types are in :data:`DOCS` (facts from ``ion-and-tasks.md`` and the
plugin pages it cites). :class:`PluginHandlers` answers them (a ``Handlers`` class, reading flows
through the backend); :data:`RULES` lists ``(rule, methods, endpoint)`` for the route table.
"""
from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox import graph as graphmod
from kestra_magic.sandbox.http import Handlers, json_response
from kestra_magic.sandbox.problems import ApiError, not_found

S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
O = {"type": "object"}
A = {"type": "array"}
LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
TASKS = {"type": "array", "items": {"$ref": "#/definitions/io.kestra.core.models.tasks.Task"}}

# type -> (title, description, {output: schema}, {property: schema})
DOCS: dict[str, tuple[str, str, dict, dict]] = {
    "io.kestra.plugin.core.log.Log": (
        "Log a message in the task logs.", "Writes `message` (a string or a list) at `level` (INFO by default).",
        {}, {"message": S, "level": {"type": "string", "enum": LEVELS, "default": "INFO"}}),
    "io.kestra.plugin.core.debug.Return": (
        "Return a value for debugging purposes.", "Renders `format` and returns it as the `value` output.",
        {"value": S}, {"format": S}),
    "io.kestra.plugin.core.flow.Sleep": (
        "Pause the execution for a duration.", "Waits `duration` (ISO-8601, e.g. PT5S).", {},
        {"duration": {"type": "string", "format": "duration"}}),
    "io.kestra.plugin.core.execution.Fail": (
        "Fail the execution.", "Fails when `condition` is truthy (always without one), with `errorMessage`.",
        {}, {"condition": S, "errorMessage": S}),
    "io.kestra.plugin.core.output.OutputValues": (
        "Output one or more values.", "Each key of `values` becomes `outputs.<task>.values.<key>`.",
        {"values": O}, {"values": O}),
    "io.kestra.plugin.core.storage.Write": (
        "Write content to a file in internal storage.", "Stores `content` and returns its `uri`.",
        {"uri": S}, {"content": S, "extension": S}),
    "io.kestra.plugin.core.execution.Labels": (
        "Add or update labels of the current execution.", "`labels` is a map of key to value.", {},
        {"labels": O}),
    "io.kestra.plugin.core.http.Download": (
        "Download a file from an HTTP server.", "Stores the response body and returns its `uri`.",
        {"uri": S, "code": I, "length": I, "headers": O},
        {"uri": S, "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
         "headers": O, "body": S, "contentType": S, "failOnEmptyResponse": B, "options": O}),
    "io.kestra.plugin.core.http.Request": (
        "Make an HTTP API request.", "Returns the response `code`, `body` and `headers`.",
        {"uri": S, "code": I, "body": S, "headers": O},
        {"uri": S, "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
         "headers": O, "body": S, "contentType": S, "options": O}),
    "io.kestra.plugin.scripts.python.Script": (
        "Execute a Python script.", "Runs `script`; `Kestra.outputs({...})` values appear as `vars`.",
        {"vars": O, "exitCode": I, "outputFiles": O},
        {"script": S, "beforeCommands": A, "containerImage": S, "taskRunner": O, "inputFiles": O,
         "outputFiles": A, "namespaceFiles": O, "warningOnStdErr": B, "env": O}),
    "io.kestra.plugin.scripts.python.Commands": (
        "Execute one or more Python scripts from a command line.", "Runs `commands` in a shell.",
        {"vars": O, "exitCode": I, "outputFiles": O},
        {"commands": A, "beforeCommands": A, "containerImage": S, "taskRunner": O, "inputFiles": O,
         "outputFiles": A, "namespaceFiles": O, "warningOnStdErr": B, "env": O}),
    "io.kestra.plugin.scripts.shell.Script": (
        "Execute a shell script.", "Runs `script` with sh.", {"vars": O, "exitCode": I, "outputFiles": O},
        {"script": S, "beforeCommands": A, "inputFiles": O, "outputFiles": A, "namespaceFiles": O, "env": O}),
    "io.kestra.plugin.scripts.shell.Commands": (
        "Execute one or more shell commands.", "Runs `commands` with sh.",
        {"vars": O, "exitCode": I, "outputFiles": O},
        {"commands": A, "beforeCommands": A, "inputFiles": O, "outputFiles": A, "namespaceFiles": O, "env": O}),
    "io.kestra.plugin.jdbc.duckdb.Query": (
        "Query a DuckDB database.", "Runs `sql`; `fetchType` chooses how rows come back.",
        {"row": O, "rows": A, "uri": S, "size": I},
        {"sql": S, "fetchType": {"type": "string", "enum": ["NONE", "FETCH_ONE", "FETCH", "STORE"],
                                 "default": "NONE"}, "inputFiles": O, "outputFiles": A, "url": S}),
    "io.kestra.plugin.serdes.csv.CsvToIon": (
        "Convert a CSV file into ION.", "Reads `from` (a kestra:// URI), writes an ION file.", {"uri": S},
        {"from": S, "fieldSeparator": S, "header": B, "charset": S}),
    "io.kestra.plugin.serdes.csv.IonToCsv": (
        "Convert an ION file into CSV.", "Reads `from`, writes a CSV file.", {"uri": S},
        {"from": S, "fieldSeparator": S, "header": B, "charset": S}),
    "io.kestra.plugin.serdes.json.JsonToIon": (
        "Convert a JSON file into ION.", "Reads JSON Lines (or one array with `newLine: false`).", {"uri": S},
        {"from": S, "newLine": B, "charset": S}),
    "io.kestra.plugin.serdes.json.IonToJson": (
        "Convert an ION file into JSON.", "Writes JSON Lines (or one array with `newLine: false`).", {"uri": S},
        {"from": S, "newLine": B, "charset": S}),
    "io.kestra.plugin.core.flow.Sequential": (
        "Run tasks sequentially.", "A group of `tasks` run one after the other.", {}, {"tasks": TASKS}),
    "io.kestra.plugin.core.flow.Parallel": (
        "Run tasks in parallel.", "Runs `tasks` at the same time (at most `concurrent`, 0 = no limit).", {},
        {"tasks": TASKS, "concurrent": I}),
    "io.kestra.plugin.core.flow.If": (
        "Process tasks conditionally.", "Runs `then` when `condition` is true, else `else`.", {},
        {"condition": S, "then": TASKS, "else": TASKS}),
    "io.kestra.plugin.core.flow.Switch": (
        "Run tasks conditionally based on a value.", "Runs the `cases` entry matching `value`, else `defaults`.",
        {"value": S}, {"value": S, "cases": O, "defaults": TASKS}),
    "io.kestra.plugin.core.flow.ForEach": (
        "Execute a group of tasks for each value.", "Runs `tasks` once per entry of `values` "
        "({{ taskrun.value }}).", {}, {"values": A, "tasks": TASKS, "concurrencyLimit": I}),
    "io.kestra.plugin.core.flow.Loop": (
        "Execute a group of tasks for each value.", "Runs `tasks` once per entry of `values` "
        "({{ item.value }}, {{ item.index }}).", {}, {"values": A, "tasks": TASKS, "concurrencyLimit": I}),
    "io.kestra.plugin.core.flow.Subflow": (
        "Create a subflow execution.", "Starts flow `namespace`.`flowId` with `inputs` and waits by default.",
        {"executionId": S, "state": S, "outputs": O},
        {"namespace": S, "flowId": S, "inputs": O, "wait": B, "transmitFailed": B, "revision": I, "labels": O}),
    "io.kestra.plugin.core.flow.Pause": (
        "Pause the current execution and wait for approval (or a duration).",
        "Resumes after `pauseDuration`, or when resumed with the `onResume` inputs.", {},
        {"pauseDuration": {"type": "string", "format": "duration"}, "onResume": A,
         "behavior": {"type": "string", "enum": ["RESUME", "WARN", "CANCEL", "FAIL"]}}),
    "io.kestra.plugin.core.flow.WorkingDirectory": (
        "Run tasks sequentially in the same working directory.", "Its `tasks` share one directory.", {},
        {"tasks": TASKS, "inputFiles": O, "outputFiles": A, "namespaceFiles": O}),
}

# Kestra's input types per generation (enum Type of each spec; 2.x dropped ENUM and BOOLEAN)
INPUT_TYPES = {
    1: ["STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE", "TIME", "DURATION",
        "FILE", "JSON", "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML", "EMAIL"],
    2: ["STRING", "SELECT", "INT", "FLOAT", "BOOL", "DATETIME", "DATE", "TIME", "DURATION", "FILE", "JSON",
        "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML", "EMAIL"],
}

# Flow-level properties (kestra-api.md §1; 2.x removed pluginDefaults and workerGroup, kestra-api-2.md)
FLOW_PROPERTIES = {
    "id": S, "namespace": S, "description": S, "labels": O, "inputs": A, "outputs": A, "variables": O,
    "tasks": TASKS, "errors": TASKS, "finally": TASKS, "afterExecution": TASKS, "triggers": A,
    "concurrency": O, "retry": O, "sla": A, "checks": A, "disabled": B, "pluginDefaults": A,
    "workerGroup": O,
}


def _registry(generation: int) -> dict[str, Any]:
    """Registered task types of this generation: ``{type: TaskDef}`` (aliases folded in)."""
    from kestra_magic.sandbox.tasks import base
    base._load_builtin_tasks()
    out = {}
    for name, tdef in base.REGISTRY.items():
        if name == tdef.type and generation in tdef.generations:
            out[name] = tdef
    return out


def _group(cls: str) -> str:
    parts = cls.split(".")
    if cls.startswith("io.kestra.plugin.core."):
        return "io.kestra.plugin.core"
    return ".".join(parts[:-1]) if len(parts) > 4 else ".".join(parts[:-1])


def _element(cls: str) -> dict:
    title, description = DOCS.get(cls, ("", "", {}, {}))[:2]
    return {"cls": cls, "title": title, "description": description, "deprecated": False}


def plugins(generation: int) -> list[dict]:
    """The sandbox's ``Plugin`` objects, one per plugin group."""
    groups: dict[str, list[str]] = {}
    aliases: dict[str, list[str]] = {}
    for cls, tdef in sorted(_registry(generation).items()):
        groups.setdefault(_group(cls), []).append(cls)
        aliases.setdefault(_group(cls), []).extend(a for a in tdef.aliases)
    out = []
    for group, classes in sorted(groups.items()):
        name = "core" if group == "io.kestra.plugin.core" else group.removeprefix("io.kestra.plugin.")
        plugin = {"name": name, "title": name, "group": group, "version": "sandbox",
                  "description": f"Sandbox implementation of {group}", "license": "Apache-2.0",
                  "categories": ["CORE"] if name == "core" else ["DATA"],
                  "tasks": [_element(c) for c in classes], "triggers": [], "taskRunners": [],
                  "aliases": sorted(aliases.get(group, [])), "guides": [], "storages": [], "secrets": [],
                  "apps": [], "appBlocks": [], "charts": [], "dataFilters": [], "dataFiltersKPI": [],
                  "logExporters": [], "additionalPlugins": [], "controllers": []}
        if generation == 1:
            plugin["conditions"] = []
        out.append(plugin)
    return out


def documentation(cls: str, generation: int) -> dict | None:
    """``DocumentationWithSchema`` of one type (alias names resolve to the type), or None."""
    from kestra_magic.sandbox.tasks import base
    tdef = base.lookup(cls)
    if tdef is None or generation not in tdef.generations:
        return None
    title, description, outputs, hints = DOCS.get(tdef.type, ("", "", {}, {}))
    props: dict[str, dict] = {"id": {"type": "string", "$required": True},
                              "type": {"type": "string", "const": tdef.type, "$required": True}}
    for name in sorted(tdef.required | tdef.optional):
        schema = dict(hints.get(name) or {})
        if name in tdef.required:
            schema["$required"] = True
        props[name] = schema
    markdown = f"# {tdef.type}\n\n{title}\n\n{description}\n"
    return {"markdown": markdown,
            "schema": {"properties": {"properties": props},
                       "outputs": {"properties": {k: dict(v) for k, v in outputs.items()}},
                       "definitions": {}}}


def flow_schema(generation: int) -> dict:
    props = dict(FLOW_PROPERTIES)
    if generation == 2:
        props.pop("pluginDefaults")
        props.pop("workerGroup")
    return {"properties": props,
            "definitions": {"io.kestra.core.models.tasks.Task": {"type": "object", "properties": {
                "id": S, "type": {"type": "string", "enum": sorted(_registry(generation))}}}}}


# -- handlers ------------------------------------------------------------------------------------
class PluginHandlers(Handlers):
    """``GET /api/v1/plugins[...]`` and the flow graph."""

    def h_plugins_list(self, request: Request) -> Response:
        items = plugins(self.gen)
        if self.gen == 1:
            return json_response(items)
        return json_response({"results": items, "total": len(items)})

    def h_plugin_doc(self, request: Request, cls: str) -> Response:
        doc = documentation(cls, self.gen)
        if doc is None:
            raise not_found(f"Unable to find plugin '{cls}'")
        return json_response(doc)

    def h_plugin_schema(self, request: Request, type: str) -> Response:
        kind = type.lower()
        if kind == "flow":
            return json_response(flow_schema(self.gen))
        if kind == "task":
            return json_response(flow_schema(self.gen)["definitions"]["io.kestra.core.models.tasks.Task"])
        raise ApiError(422, "invalid-plugin-type" if self.gen == 2 else "invalid",
                       f"Schema type '{type}' is not served by the sandbox: use flow or task", "Invalid")

    def h_plugin_inputs(self, request: Request) -> Response:
        return json_response([{"type": t, "cls": f"io.kestra.plugin.core.flow.inputs.{t.title()}Input"}
                              for t in INPUT_TYPES[self.gen]])

    def h_flow_graph(self, request: Request, tenant: str, namespace: str, flow_id: str) -> Response:
        # Kestra's FlowController.generateFlowGraph (webserver/.../controllers/api/FlowController.java):
        # flowRepository.findByIdWithSource(tenant, namespace, id, revision), which leaves deleted flows
        # out, else NoSuchElementException "Unable to find flow ..." (404): a deleted flow, or its deleted
        # revision, has no graph
        revision = request.args.get("revision")
        flow = self.backend.flow(namespace, flow_id, revision)
        if flow is None or flow.get("deleted"):
            raise not_found(f"Unable to find flow '{namespace}.{flow_id}'" +
                            (f" revision {revision}" if revision else ""))
        return json_response(graphmod.flow_graph(flow))


T = "/api/v1/<tenant>"
RULES: list[tuple[str, list[str], str]] = [
    ("/api/v1/plugins", ["GET"], "plugins_list"),
    ("/api/v1/plugins/inputs", ["GET"], "plugin_inputs"),
    ("/api/v1/plugins/schemas/<type>", ["GET"], "plugin_schema"),
    ("/api/v1/plugins/<cls>", ["GET"], "plugin_doc"),
    (f"{T}/flows/<namespace>/<flow_id>/graph", ["GET"], "flow_graph"),
]
