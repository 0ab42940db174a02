"""Completion and inspection for the Kestra magics, through IPython's completer (matcher API v2).

A v2 matcher receives the whole cell and the cursor, so completion works wherever the kernel's
completion is used (JupyterLab, Notebook 7, VS Code, terminal IPython) with no front-end extension:

- ``%%kestra_flow`` cells: task ``type:`` values (the server's plugin list), the keys of the mapping
  the cursor is in (task properties from the type's JSON schema, flow-level keys, input keys...),
  enum values (input ``type:``, ``level:``, ``fetchType:``...), and inside ``{{ ... }}``:
  ``inputs.<id>``, ``outputs.<taskId>.<output>``, ``vars.<key>``, ``execution.``... and Pebble
  filters and functions;
- ``%kestra_run``: ``namespace.flow_id``, ``--input <id>=``, flag names; ``%kestra_executions``,
  ``%kestra_flows``, ``%kestra_logs``, ``%kestra_kill``...: namespaces, recent execution ids, flags.

Inspection (Shift+Tab in JupyterLab) of a ``%%kestra_flow`` cell shows the task type under the
cursor: title, description, properties and outputs. ipykernel hands ``object_inspect_mime`` only the
token at the cursor (``token_at_cursor``), not the cell, so the kernel's ``do_inspect`` is wrapped:
a Kestra cell is answered here, everything else goes to the original.

Server facts come from a per-server :class:`Catalog`, filled in a background thread and cached
(no request per keystroke); a cold cache is waited for at most :data:`COLD_WAIT` seconds; a
matcher never raises (a failure yields no completions). ``register(ip)`` / ``unregister(ip)``.
"""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kestra_magic.compat import FLOW_LANGUAGE, FlowLanguage

COLD_WAIT = 1.0          # seconds a completion waits for a cold catalog
TTL = 60.0               # seconds before server lists are refreshed (in the background)
RECENT_TTL = 10.0        # recent executions go stale faster
RETRY_AFTER = 15.0       # after a failed fetch, seconds before trying the server again

KESTRA_CELL = re.compile(r"^\s*%%kestra_(flow|file)\b")
FLOW_KEYS_COMMON = ["id", "namespace", "description", "labels", "inputs", "outputs", "variables", "tasks",
                    "errors", "finally", "afterExecution", "triggers", "concurrency", "retry", "sla",
                    "checks", "disabled"]
TASK_COMMON = ["id", "type", "description", "retry", "timeout", "disabled", "logLevel", "allowFailure",
               "allowWarning", "logToFile", "runIf", "workerGroup"]
TASK_LISTS = {"tasks", "errors", "finally", "then", "else", "defaults", "afterExecution"}
INPUT_KEYS = ["id", "type", "description", "displayName", "required", "defaults", "values", "allowCustomValue",
              "multiple", "itemType", "min", "max", "minLength", "maxLength", "validator", "dependsOn", "prefill"]
OUTPUT_KEYS = ["id", "type", "value", "description", "displayName", "required"]
TRIGGER_KEYS = ["id", "type", "description", "disabled", "cron", "timezone", "conditions", "inputs", "key",
                "labels", "stopAfter"]
OUTPUT_TYPES = ["STRING", "INT", "FLOAT", "BOOLEAN", "DATETIME", "DATE", "TIME", "DURATION", "FILE", "JSON",
                "URI", "ARRAY"]
SMALL_MAPS = {
    ("concurrency",): (["limit", "behavior"], {"behavior": ["QUEUE", "CANCEL", "FAIL"]}),
    ("retry",): (["type", "maxAttempts", "maxDuration", "interval", "behavior", "warningOnRetry"],
                 {"type": ["constant", "exponential", "random"], "behavior": ["RETRY_FAILED_TASK",
                                                                              "CREATE_NEW_EXECUTION"]}),
}
KNOWN_ENUMS = {"logLevel": ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"], "level": ["TRACE", "DEBUG", "INFO",
               "WARN", "ERROR"], "fetchType": ["NONE", "FETCH_ONE", "FETCH", "STORE"]}
STATES = ["CREATED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING", "FAILED", "KILLED",
          "CANCELLED", "QUEUED", "RETRYING", "RETRIED", "SKIPPED", "BREAKPOINT"]

# Pebble + Kestra expression language (kestra.io docs "Expressions": variables, filters, functions)
EXPR_ATTRS = {
    "execution": ["id", "namespace", "flowId", "startDate", "state", "originalId", "outputs"],
    "flow": ["id", "namespace", "revision", "tenantId"],
    "taskrun": ["id", "startDate", "attemptsCount", "parentId", "value", "iteration"],
    "parent": ["taskrun", "outputs"],
    "trigger": ["date", "next", "previous", "executionId", "body", "headers"],
    "item": ["value", "index", "key"],
    "task": ["id", "type"],
}
EXPR_ROOTS = ["inputs", "outputs", "vars", "execution", "flow", "taskrun", "parent", "parents", "labels",
              "trigger", "task", "envs", "globals", "workingDir"]
PEBBLE_FILTERS = ["abbreviate", "abs", "base64decode", "base64encode", "capitalize", "chunk", "className",
                  "date", "dateAdd", "default", "distinct", "endsWith", "escapeChar", "first", "flatten",
                  "format", "join", "jq", "json", "keys", "last", "length", "lower", "md5", "number",
                  "numberFormat", "replace", "reverse", "rsort", "sha1", "sha256", "sha512", "slice", "sort",
                  "split", "startsWith", "string", "substringAfter", "substringAfterLast", "substringBefore",
                  "substringBeforeLast", "timestamp", "timestampMicro", "timestampMilli", "timestampNano",
                  "title", "toIon", "toJson", "trim", "upper", "urldecode", "urlencode", "values", "yaml"]
PEBBLE_FUNCTIONS = ["block", "currentEachOutput", "decrypt", "encrypt", "errorLogs", "fileExists", "fileSize",
                    "fileURI", "fromIon", "fromJson", "http", "id", "isFileEmpty", "kv", "max", "min", "now",
                    "printContext", "randomInt", "randomPort", "range", "read", "render", "renderOnce",
                    "secret", "uuid", "yaml"]


# ------------------------------------------------------------------------------------------------
# the per-server catalog
# ------------------------------------------------------------------------------------------------
@dataclass
class Catalog:
    """What completion needs to know about one server, fetched in the background and cached."""
    language: FlowLanguage = FLOW_LANGUAGE[2]    # the server generation's flow keys, input types, item
    task_types: dict[str, dict] = field(default_factory=dict)        # cls -> {title, description}
    input_types: list[str] = field(default_factory=list)
    flows: dict[tuple[str, str], list[dict]] = field(default_factory=dict)  # (ns, id) -> inputs
    executions: list[dict] = field(default_factory=list)            # recent: {id, namespace, flowId, state}
    docs: dict[str, dict | None] = field(default_factory=dict)       # cls -> DocumentationWithSchema
    loaded: float = 0.0
    recent_loaded: float = 0.0
    failed: float = 0.0
    stale: bool = False
    waited: set = field(default_factory=set, repr=False)   # fetches a keystroke already waited for
    threads: dict[str, threading.Thread] = field(default_factory=dict, repr=False)

    @property
    def namespaces(self) -> list[str]:
        return sorted({ns for ns, _ in self.flows} | {e.get("namespace") or "" for e in self.executions} - {""})


class Catalogs:
    """Catalogs per server (URL + tenant); every fetch runs on a daemon thread."""

    def __init__(self, client_factory: Callable[[], Any]):
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._catalogs: dict[tuple, Catalog] = {}

    def _key(self, client) -> tuple:
        return (client.url, client.configuration.tenant)

    def _spawn(self, cat: Catalog, name: str, fn: Callable[[], None]) -> threading.Thread:
        """Run ``fn`` on a daemon thread unless the same fetch is already running for ``cat``."""
        with self._lock:
            running = cat.threads.get(name)
            if running is not None and running.is_alive():
                return running
            thread = threading.Thread(target=fn, name=f"kestra-completion-{name}", daemon=True)
            cat.threads[name] = thread
            thread.start()
            return thread

    def get(self, wait: float = COLD_WAIT) -> Catalog | None:
        """The current server's catalog; fetched (at most ``wait`` s) when cold, refreshed when stale."""
        try:
            client = self._client_factory()
            key = self._key(client)
        except Exception:
            return None
        with self._lock:
            cat = self._catalogs.setdefault(key, Catalog())
        now = time.monotonic()
        if cat.failed and now - cat.failed < RETRY_AFTER:
            return cat
        if not cat.loaded or cat.stale or now - cat.loaded > TTL:
            thread = self._spawn(cat, "main", lambda: self._load(client, cat))
            if not cat.loaded and "main" not in cat.waited:
                cat.waited.add("main")     # only the first keystroke waits; later ones answer at once
                thread.join(wait)
        if now - cat.recent_loaded > RECENT_TTL and cat.loaded:
            self._spawn(cat, "recent", lambda: self._load_recent(client, cat))
        return cat

    def doc(self, cat: Catalog, cls: str, wait: float = COLD_WAIT) -> dict | None:
        """One type's documentation (fetched once per server)."""
        if cls in cat.docs:
            return cat.docs[cls]
        try:
            client = self._client_factory()
        except Exception:
            return None

        def fetch():
            try:
                cat.docs[cls] = client.plugins.plugin_documentation(cls)
            except Exception:
                cat.docs[cls] = None
        thread = self._spawn(cat, "doc:" + cls, fetch)
        if "doc:" + cls not in cat.waited:
            cat.waited.add("doc:" + cls)
            thread.join(wait)
        return cat.docs.get(cls)

    def flow_inputs(self, cat: Catalog, namespace: str, flow_id: str) -> list[dict]:
        return cat.flows.get((namespace, flow_id)) or []

    def clear(self) -> None:
        with self._lock:
            self._catalogs.clear()

    def invalidate(self) -> None:
        """Mark every catalog stale (e.g. after ``%%kestra_flow`` saved a flow): the next completion
        refreshes it in the background and keeps answering from what it has meanwhile."""
        with self._lock:
            for cat in self._catalogs.values():
                cat.stale = True
                cat.recent_loaded = 0.0

    def refresh_if_older(self, cat: Catalog, seconds: float = 5.0) -> None:
        """A completion found nothing the server may know by now: refresh in the background."""
        if cat.loaded and time.monotonic() - cat.loaded > seconds:
            try:
                client = self._client_factory()
            except Exception:
                return
            self._spawn(cat, "main", lambda: self._load(client, cat))

    @staticmethod
    def _load(client, cat: Catalog) -> None:
        try:
            cat.language = client.flow_language
            plugins = client.plugins
            cat.task_types = plugins.task_types()
            try:
                cat.input_types = plugins.input_types()
            except Exception:
                cat.input_types = []
            flows: dict[tuple[str, str], list[dict]] = {}
            page = client.flows.search_flows(size=500)
            for f in page.results:
                flows[(f.namespace, f.id)] = [i for i in f.inputs if isinstance(i, dict)]
            cat.flows = flows
            cat.loaded = time.monotonic()
            cat.failed, cat.stale = 0.0, False
        except Exception:
            cat.failed = time.monotonic()
            return
        Catalogs._load_recent(client, cat)

    @staticmethod
    def _load_recent(client, cat: Catalog) -> None:
        try:
            page = client.executions.search_executions(size=25)
            cat.executions = [{"id": e.id, "namespace": getattr(e, "namespace", None),
                               "flowId": getattr(e, "flow_id", None), "state": str(getattr(e, "state", "") or "")}
                              for e in page.results]
            cat.recent_loaded = time.monotonic()
        except Exception:
            cat.recent_loaded = time.monotonic()


def _shared_client():
    import kestra_magic
    return kestra_magic.client()


CATALOGS = Catalogs(_shared_client)


def invalidate() -> None:
    """Server lists changed (a flow was saved, a run started): refresh them on the next completion."""
    CATALOGS.invalidate()


# ------------------------------------------------------------------------------------------------
# a light YAML outline: the path of every line, tolerant of half-typed cells
# ------------------------------------------------------------------------------------------------
_LINE = re.compile(r"^(?P<ind>\s*)(?P<dash>-\s+)?(?P<rest>.*)$")
_KEY = re.compile(r"^(?P<key>[A-Za-z_$][\w$.-]*)\s*:(?:\s+(?P<value>.*?))?\s*$")


@dataclass
class Line:
    row: int
    dash: int | None       # column of "- " or None
    col: int               # column of the content (key)
    key: str | None
    value: str | None
    path: tuple = ()       # ancestors: key names and item markers (("[]", row))
    scalar: bool = False   # a line of a block scalar (`script: |`): text, not YAML keys


def outline(lines: list[str]) -> list[Line | None]:
    """Per line: its indentation, key, value and YAML path (None for blank/comment lines)."""
    out: list[Line | None] = []
    stack: list[tuple[str, int, Any]] = []      # ("key", col, name) | ("item", content col, row)
    block_scalar: int | None = None             # indentation of a `key: |` block being skipped
    for row, text in enumerate(lines):
        m = _LINE.match(text)
        ind = len(m.group("ind"))
        rest = m.group("rest")
        if block_scalar is not None:
            if not text.strip() or ind > block_scalar:
                out.append(Line(row, None, ind, None, None, (), scalar=True) if text.strip() else None)
                continue
            block_scalar = None
        if not rest.strip() or rest.lstrip().startswith("#"):
            out.append(None)
            continue
        dash = ind if m.group("dash") else None
        col = ind + len(m.group("dash") or "")
        km = _KEY.match(rest)
        key, value = (km.group("key"), km.group("value")) if km else (None, None)
        c = dash if dash is not None else col
        while stack:
            kind, scol, _ = stack[-1]
            inside = (c > scol or (dash is not None and dash == scol)) if kind == "key" else c >= scol
            if inside:
                break
            stack.pop()
        if dash is not None:
            stack.append(("item", col, row))
        line = Line(row, dash, col, key, value, tuple(n if k == "key" else ("[]", n) for k, _, n in stack))
        out.append(line)
        if key is not None and (value is None or value == ""):
            stack.append(("key", col, key))
        elif key is not None and value is not None and value[:1] in ("|", ">"):
            block_scalar = col
    return out


def _mapping(lines: list[Line | None], path: tuple) -> dict[str, str | None]:
    """Keys and values of the mapping at ``path`` (the lines whose path is exactly ``path``)."""
    return {ln.key: ln.value for ln in lines if ln is not None and ln.key and not ln.scalar and ln.path == path}


def _kind(path: tuple) -> str:
    """What the mapping at ``path`` is: flow, task, input, output, trigger, or a small map key."""
    if not path:
        return "flow"
    last = path[-1]
    if isinstance(last, tuple):
        parent = path[-2] if len(path) >= 2 else None
        if len(path) >= 3 and path[-3] == "cases":
            return "task"
        if parent in TASK_LISTS:
            return "task"
        if len(path) == 2 and parent in ("inputs", "outputs", "triggers"):
            return parent[:-1]
        if parent == "onResume":
            return "input"
        return "item"
    return "map"


@dataclass
class CellModel:
    """A ``%%kestra_flow`` body as completion sees it: inputs, tasks (id -> type), variables, labels."""
    inputs: list[str]
    tasks: dict[str, str]
    variables: list[str]
    labels: list[str]
    uses_loop: bool


def cell_model(lines: list[Line | None]) -> CellModel:
    inputs, variables, labels, tasks = [], [], [], {}
    for ln in lines:
        if ln is None or not ln.key:
            continue
        kind = _kind(ln.path)
        if ln.key == "id" and kind == "input" and ln.value:
            inputs.append(_unquote(ln.value))
        elif ln.key == "id" and kind == "task" and ln.value:
            tasks[_unquote(ln.value)] = _mapping(lines, ln.path).get("type") or ""
        elif ln.path == ("variables",):
            variables.append(ln.key)
        elif ln.path == ("labels",):
            labels.append(ln.key)
    loop = any(t.endswith((".Loop", ".ForEach")) for t in tasks.values())
    return CellModel(inputs, {k: _unquote(v) for k, v in tasks.items()}, variables, labels, loop)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value.split(" #", 1)[0].strip()


# ------------------------------------------------------------------------------------------------
# what to complete
# ------------------------------------------------------------------------------------------------
@dataclass
class Result:
    fragment: str                  # the text before the cursor the completions replace
    items: list[tuple[str, str]]   # (text, type)


def _filter(prefix: str, names: Iterable[str], kind: str, *, ci: bool = False) -> list[tuple[str, str]]:
    seen, out = set(), []
    p = prefix.lower() if ci else prefix
    for name in names:
        n = name.lower() if ci else name
        if n.startswith(p) and name not in seen:
            seen.add(name)
            out.append((name, kind))
    return out


def complete_cell(cell: str, row: int, col: int, catalogs: Catalogs = CATALOGS) -> Result | None:
    """Completions at (row, col) of a cell starting with a Kestra magic; None when not ours."""
    lines = cell.split("\n")
    if row >= len(lines):
        return None
    before = lines[row][:col]
    first = lines[0]
    if KESTRA_CELL.match(first):
        if row == 0:
            return _magic_line(before, catalogs)
        if not first.lstrip().startswith("%%kestra_flow"):
            return None        # %%kestra_file bodies are the user's script: not ours
        return _flow_body(lines[1:], row - 1, before, catalogs)
    m = re.match(r"^(?:\s*[A-Za-z_]\w*\s*=\s*)?\s*%kestra_\w*", before)
    if m:
        return _magic_line(before, catalogs)
    return None


def _flow_body(body: list[str], row: int, before: str, catalogs: Catalogs) -> Result | None:
    open_at = before.rfind("{{")
    if open_at >= 0 and before.rfind("}}") < open_at:
        structure = outline(body)
        return _expression(before[open_at + 2:], cell_model(structure), catalogs)
    structure = outline(body[:row] + [before] + body[row + 1:])
    here = structure[row]
    cat = catalogs.get()
    lang = cat.language if cat else FLOW_LANGUAGE[2]
    if here is not None and here.scalar:
        return None            # inside a `script: |` block: the user's code, not YAML
    m = re.match(r"^\s*(?:-\s+)?(?P<key>[A-Za-z_$][\w$.-]*)\s*:\s*(?P<value>[^\s#]*)$", before)
    if m and here is not None:
        return _value(here.path, m.group("key"), m.group("value"), structure, cat, catalogs, lang)
    m = re.match(r"^\s*(?:-\s+)?(?P<key>[A-Za-z_$][\w$]*)?$", before)
    if m:
        path = here.path if here is not None else _blank_path(structure, row, len(before))
        if path is None:
            return None
        return _keys(path, m.group("key") or "", structure, cat, catalogs, lang)
    return None


def _blank_path(structure: list[Line | None], row: int, col: int) -> tuple | None:
    """The path of a blank line at ``col``: the deepest mapping above it that ``col`` belongs to
    (None inside a block scalar: the line above is its text, or its ``key: |`` line)."""
    above = [s for s in structure[:row] if s is not None]
    if above and col > 0 and ((above[-1].scalar and above[-1].col <= col) or
                              (above[-1].value or "")[:1] in ("|", ">") and above[-1].col < col):
        return None
    for ln in reversed([s for s in above if not s.scalar]):
        if ln.col == col:
            return ln.path
        if ln.col < col and ln.key and not ln.value:
            return ln.path + (ln.key,)
    return ()


def _keys(path: tuple, prefix: str, structure, cat, catalogs, lang) -> Result:
    kind = _kind(path)
    present = set(_mapping(structure, path)) - {prefix}
    if kind == "flow":
        names = FLOW_KEYS_COMMON + list(lang.extra_flow_keys)
    elif kind == "task":
        names = list(TASK_COMMON)
        type_ = _unquote(_mapping(structure, path).get("type") or "")
        props = _properties(cat, catalogs, type_)
        names = list(props) + [n for n in names if n not in props]
    elif kind == "input":
        names = INPUT_KEYS
    elif kind == "output":
        names = OUTPUT_KEYS
    elif kind == "trigger":
        names = TRIGGER_KEYS
    else:
        names = SMALL_MAPS.get(path, ([], {}))[0]
    return Result(prefix, _filter(prefix, [n for n in names if n not in present], "property"))


def _properties(cat, catalogs, type_: str) -> dict[str, dict]:
    if not type_ or cat is None:
        return {}
    doc = catalogs.doc(cat, type_)
    props = (((doc or {}).get("schema") or {}).get("properties") or {}).get("properties") or {}
    return {k: v for k, v in props.items() if isinstance(v, dict)}


def _value(path: tuple, key: str, prefix: str, structure, cat, catalogs, lang) -> Result:
    kind = _kind(path)
    if kind == "task" and key == "type":
        types = sorted((cat.task_types if cat else {}))
        full = _filter(prefix, types, "task type")
        short = [(t, "task type") for t in types
                 if prefix and t.rsplit(".", 1)[-1].lower().startswith(prefix.lower()) and (t, "task type") not in full]
        return Result(prefix, full + short)
    if kind == "input" and key == "type":
        return Result(prefix, _filter(prefix.upper(), (cat.input_types if cat and cat.input_types
                                                        else list(lang.input_types)), "input type", ci=True))
    if kind == "output" and key == "type":
        return Result(prefix, _filter(prefix, OUTPUT_TYPES, "output type", ci=True))
    enum: list[str] = []
    if kind == "task":
        type_ = _unquote(_mapping(structure, path).get("type") or "")
        schema = _properties(cat, catalogs, type_).get(key) or {}
        enum = [str(v) for v in schema.get("enum") or []]
        if not enum and schema.get("type") == "boolean":
            enum = ["true", "false"]
    if not enum and path in SMALL_MAPS:
        enum = SMALL_MAPS[path][1].get(key, [])
    if not enum:
        enum = KNOWN_ENUMS.get(key, [])
    if not enum and key in ("required", "disabled", "allowFailure", "allowWarning"):
        enum = ["true", "false"]
    return Result(prefix, _filter(prefix, enum, "value", ci=True))


def _expression(expr: str, model: CellModel, catalogs: Catalogs) -> Result | None:
    fm = re.search(r"\|\s*(?P<name>\w*)$", expr)
    if fm:
        return Result(fm.group("name"), _filter(fm.group("name"), PEBBLE_FILTERS, "filter"))
    m = re.search(r"(?P<path>[A-Za-z_][\w-]*(?:\.[\w-]*)*|)$", expr)
    path = m.group("path")
    parts = path.split(".")
    if len(parts) == 1:
        loop_variable = _language(catalogs).loop_variable
        roots = EXPR_ROOTS + (["item"] if model.uses_loop or loop_variable == "item" else [])
        return Result(path, _filter(path, roots, "variable") +
                      _filter(path, [f + "()" for f in PEBBLE_FUNCTIONS], "function"))
    head, stem, last = parts[0], ".".join(parts[:-1]), parts[-1]
    names: list[str] = []
    if head == "inputs" and len(parts) == 2:
        names = model.inputs
    elif head == "vars" and len(parts) == 2:
        names = model.variables
    elif head == "labels" and len(parts) == 2:
        names = model.labels
    elif head == "outputs" and len(parts) == 2:
        names = list(model.tasks)
    elif head == "outputs" and len(parts) == 3:
        type_ = model.tasks.get(parts[1]) or ""
        cat = catalogs.get()
        doc = catalogs.doc(cat, type_) if cat is not None and type_ else None
        names = list((((doc or {}).get("schema") or {}).get("outputs") or {}).get("properties") or {})
    elif len(parts) == 2 and head in EXPR_ATTRS:
        names = EXPR_ATTRS[head]
    if not names:
        return Result(path, [])
    return Result(path, [(f"{stem}.{n}", "variable") for n in names if n.startswith(last)])


def _language(catalogs: Catalogs) -> FlowLanguage:
    cat = catalogs.get(wait=0)
    return cat.language if cat else FLOW_LANGUAGE[2]


# -- line magics ---------------------------------------------------------------------------------
_EXECUTION_MAGICS = {"kestra_logs", "kestra_kill", "kestra_resume", "kestra_restart"}
_NAMESPACE_MAGICS = {"kestra_executions", "kestra_flows", "kestra_file"}


def _flags(magic: str) -> list[str]:
    """The magic's option strings, read from its argparse parser (``@magic_arguments``)."""
    try:
        from IPython import get_ipython
        ip = get_ipython()
        kind = "cell" if magic in ("kestra_flow", "kestra_file") else "line"
        fn = ip.magics_manager.magics[kind].get(magic) or ip.magics_manager.magics["line"].get(magic)
        parser = getattr(getattr(fn, "__func__", fn), "parser", None)
        return sorted(o for o in parser._option_string_actions if o.startswith("--")) if parser else []
    except Exception:
        return []


def _magic_line(before: str, catalogs: Catalogs) -> Result | None:
    m = re.match(r"^(?:\s*[A-Za-z_]\w*\s*=\s*)?\s*%{1,2}(?P<magic>kestra_\w*)(?P<args>.*)$", before)
    if not m or not m.group("args").startswith(" "):
        return None
    magic, args = m.group("magic"), m.group("args")
    words = args.split()
    current = "" if args.endswith(" ") else words.pop()
    previous = words[-1] if words else ""
    if current.startswith("-") and "=" not in current:
        return Result(current, _filter(current, _flags(magic), "flag"))
    cat = catalogs.get()
    if cat is None:
        return Result(current, [])
    if magic == "kestra_run":
        target = next((w for w in words if "." in w and not w.startswith("-") and "=" not in w), None)
        if previous in ("--input", "-i") or (current.startswith(("--input=", "-i="))):
            cur = current.split("=", 1)[1] if current.startswith("-") else current
            if target is None or "=" in cur:
                return Result(current, [])
            ns, _, fid = target.rpartition(".")
            ids = [str(i.get("id")) for i in catalogs.flow_inputs(cat, ns, fid) if i.get("id")]
            return Result(cur, [(f"{i}=", "input") for i in ids if i.startswith(cur)])
        if previous in ("--state",):
            return Result(current, _filter(current.upper(), STATES, "state"))
        if target is None:
            flows = _filter(current, [f"{ns}.{fid}" for ns, fid in sorted(cat.flows)], "flow")
            if not flows:
                catalogs.refresh_if_older(cat)
            return Result(current, flows)
        return Result(current, [])
    if magic in _EXECUTION_MAGICS and not words:
        ids = [(e["id"], "execution") for e in cat.executions if e["id"].startswith(current)]
        if not ids:
            catalogs.refresh_if_older(cat)
        return Result(current, ids)
    if magic in _NAMESPACE_MAGICS and not words:
        names = cat.namespaces + ([f"{ns}.{fid}" for ns, fid in sorted(cat.flows)]
                                  if magic == "kestra_executions" else [])
        return Result(current, _filter(current, names, "namespace"))
    if previous == "--namespace":
        return Result(current, _filter(current, cat.namespaces, "namespace"))
    if magic == "kestra_executions" and previous == "--state":
        return Result(current, _filter(current.upper(), STATES, "state"))
    return Result(current, [])


# ------------------------------------------------------------------------------------------------
# inspection
# ------------------------------------------------------------------------------------------------
def task_type_at(cell: str, offset: int) -> str | None:
    """The task type of the mapping the cursor is in (or the type written under it)."""
    lines = cell.split("\n")
    if not lines or not lines[0].lstrip().startswith("%%kestra_flow"):
        return None
    row = cell[:offset].count("\n")
    if row == 0:
        return None
    structure = outline(lines[1:])
    here = structure[row - 1]
    if here is None:
        return None
    if here.key == "type" and _kind(here.path) == "task":
        return _unquote(here.value or "") or None
    path = here.path
    while path:
        if _kind(path) == "task":
            value = _mapping(structure, path).get("type")
            return _unquote(value) if value else None
        path = path[:-1]
    return None


def describe_type(cls: str, doc: dict | None, meta: dict | None) -> dict[str, str]:
    """A mime bundle: the type's title, description, properties (required first) and outputs."""
    schema = (doc or {}).get("schema") or {}
    props = (schema.get("properties") or {}).get("properties") or {}
    title = (schema.get("properties") or {}).get("title") or (meta or {}).get("title") or ""
    description = (schema.get("properties") or {}).get("description") or (meta or {}).get("description") or ""
    outputs = (schema.get("outputs") or {}).get("properties") or {}
    rows = sorted(props.items(), key=lambda kv: (not (isinstance(kv[1], dict) and kv[1].get("$required")), kv[0]))

    def kind(s: Any) -> str:
        if not isinstance(s, dict):
            return ""
        text = s.get("type") or ("ref" if "$ref" in s else "")
        if s.get("enum"):
            text += " (" + ", ".join(map(str, s["enum"])) + ")"
        return text + (", required" if s.get("$required") else "")

    plain = [cls, ""] + ([title] if title else []) + ([description, ""] if description else [""])
    plain += ["Properties:"] + [f"  {k}: {kind(v)}" for k, v in rows]
    if outputs:
        plain += ["", "Outputs:"] + [f"  {k}: {kind(v)}" for k, v in sorted(outputs.items())]
    md = [f"**{cls}**", ""] + ([f"*{title}*", ""] if title else []) + ([description, ""] if description else [])
    md += ["| property | type |", "|---|---|"] + [f"| `{k}` | {kind(v)} |" for k, v in rows]
    if outputs:
        md += ["", "Outputs: " + ", ".join(f"`{k}`" for k in sorted(outputs))]
    return {"text/plain": "\n".join(plain), "text/markdown": "\n".join(md)}


def inspect_cell(cell: str, offset: int, catalogs: Catalogs = CATALOGS) -> dict[str, str] | None:
    """The inspection bundle for a ``%%kestra_flow`` cell at ``offset``, or None (not ours / unknown)."""
    try:
        cls = task_type_at(cell, offset)
        if not cls:
            return None
        cat = catalogs.get()
        if cat is None:
            return None
        doc = catalogs.doc(cat, cls)
        meta = cat.task_types.get(cls)
        if doc is None and meta is None:
            return None
        return describe_type(cls, doc, meta)
    except Exception:
        return None


# ------------------------------------------------------------------------------------------------
# IPython registration
# ------------------------------------------------------------------------------------------------
def _matcher(context) -> dict:
    """Matcher API v2: Kestra completions for Kestra magics, nothing otherwise (never raises)."""
    from IPython.core.completer import SimpleCompletion
    try:
        result = complete_cell(context.full_text, context.cursor_line, context.cursor_position)
    except Exception:
        result = None
    if result is None or not context.text_until_cursor.endswith(result.fragment):
        return {"completions": [], "suppress": False}
    return {"completions": [SimpleCompletion(text, type=kind) for text, kind in result.items],
            "matched_fragment": result.fragment, "suppress": True, "ordered": True}


def _make_matcher():
    from IPython.core.completer import context_matcher
    return context_matcher(identifier="kestra_magic")(_matcher)


_MATCHER = None


def register(ipython) -> None:
    """Add the matcher to the shell's completer and the inspector to its kernel (if any)."""
    global _MATCHER
    if _MATCHER is None:
        _MATCHER = _make_matcher()
    completer = ipython.Completer
    if _MATCHER not in completer.custom_matchers:
        completer.custom_matchers.insert(0, _MATCHER)
    kernel = getattr(ipython, "kernel", None)
    if kernel is not None and not getattr(kernel.do_inspect, "_kestra", False):
        original = kernel.do_inspect

        def do_inspect(code, cursor_pos, detail_level=0, omit_sections=()):
            bundle = inspect_cell(code, cursor_pos) if KESTRA_CELL.match(code or "") else None
            if bundle is None:
                return original(code, cursor_pos, detail_level, omit_sections)
            return {"status": "ok", "data": bundle, "metadata": {}, "found": True}
        do_inspect._kestra = True          # type: ignore[attr-defined]
        do_inspect._original = original    # type: ignore[attr-defined]
        kernel.do_inspect = do_inspect


def unregister(ipython) -> None:
    """Undo :func:`register`."""
    completer = ipython.Completer
    if _MATCHER is not None and _MATCHER in completer.custom_matchers:
        completer.custom_matchers.remove(_MATCHER)
    kernel = getattr(ipython, "kernel", None)
    if kernel is not None and getattr(kernel.do_inspect, "_kestra", False):
        kernel.do_inspect = kernel.do_inspect._original


def suggest_task_type(name: str, catalogs: Catalogs = CATALOGS) -> str | None:
    """The server's task type closest to a mistyped one (``io.kestra.plugin.core.log.Lgo`` ->
    ``io.kestra.plugin.core.log.Log``), for a "did you mean" hint; None when nothing is close."""
    import difflib
    cat = catalogs.get()
    types = list(cat.task_types) if cat is not None else []
    if not name or name in types:
        return None
    close = difflib.get_close_matches(name, types, n=1, cutoff=0.8)
    if close:
        return close[0]
    short = name.rsplit(".", 1)[-1].lower()
    same = [t for t in types if t.rsplit(".", 1)[-1].lower() == short]
    return same[0] if len(same) == 1 else None
