"""Every difference between Kestra 1.x and 2.x, in one place.

Which generation a server speaks (detected once from cheap probes, or configured and then
checked once against the server), the path of each operation on it (paths are data on the
descriptors in ``kestra_magic.operations``; this module picks among them), error bodies
(JsonError vs problem+json), where outputs live, log filter parameters, action responses
(empty 202/204 vs the execution), duplicate-flow status, file formats, and the 2.x 404 window
after a create. Nothing else in the package branches on the generation.
"""
from __future__ import annotations

import dataclasses

import json
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Mapping
from urllib.parse import quote

from kestra_magic import errors
from kestra_magic.models import Execution
from kestra_magic.operations import Operation

if TYPE_CHECKING:  # pragma: no cover
    import requests

_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def parse_version(version: str | None) -> int | None:
    """The major version from Kestra's ``version`` string (``1.3.3``, ``2.1.0-SNAPSHOT``...)."""
    m = _VERSION.match(str(version or "").strip())
    return int(m.group(1)) if m else None


# -- which generation ------------------------------------------------------------------------------

#: ``probe(operation, authenticate)``: the server's answer to a GET of that operation, or None when
#: it gave none worth reading. Connection errors propagate (the server is down, not "1.x").
Probe = Callable[[str, bool], "requests.Response | None"]
_CONFIGS, _LOGIN = "MiscAPIService.GetConfiguration", "MiscAPIService.GetLoginConfiguration"


def _major(version: Any) -> int | None:
    major = parse_version(version)
    return None if major is None else (1 if major < 2 else 2)


def _from_configs(resp: "requests.Response | None") -> tuple[int | None, str | None]:
    """Definite evidence from ``/configs``: a parseable ``version``, or 2.x's problem+json 401."""
    if resp is None:
        return None, None
    if resp.status_code == 200:
        body = _json(resp)
        version = body.get("version") if isinstance(body, dict) else None
        if _major(version) is not None:
            return _major(version), version
    if resp.status_code == 401 and "problem+json" in resp.headers.get("Content-Type", ""):
        return 2, None
    return None, None


def _from_login(resp: "requests.Response | None") -> int | None:
    """2.x's open ``/configs/login`` answers exactly ``{"isBasicAuthInitialized": ...}``."""
    if resp is not None and resp.status_code == 200:
        body = _json(resp)
        if isinstance(body, dict) and "isBasicAuthInitialized" in body and "version" not in body:
            return 2
    return None


def _weak_signs(configs: "requests.Response | None", login: "requests.Response | None") -> int:
    """No definite answer: the weaker signs, else 2 (like Kestra's own MCP server: a 1.x request
    to 2.x fails silently, the reverse loudly)."""
    if configs is not None:
        if configs.status_code == 200 and isinstance(_json(configs), dict) and login is not None \
                and login.status_code != 200:
            # an unparseable version ("Snapshot" builds) on a /configs that answers without
            # credentials, and no open /configs/login: only 1.x serves /configs open
            return 1
        if configs.status_code == 401 and not configs.content:
            return 1   # 1.x's filter 401s have an empty body (2.x always sends a problem)
    return 2


def detect(probe: Probe, *, has_credentials: bool) -> tuple[int, str | None]:
    """(generation, version if learnt) from as few unauthenticated probes as possible.

    ``/api/v1/configs`` is open on 1.x (its ``version`` decides) and answers 401 problem+json on
    2.x; ``/api/v1/configs/login`` (open on 2.x only) settles most of the rest; with credentials and
    both closed (a gateway wanting credentials for everything) the authenticated ``/configs`` has
    the authoritative version (kestra-api-2.md §1).
    """
    configs = probe(_CONFIGS, False)
    generation, version = _from_configs(configs)
    if generation is not None:
        return generation, version
    login = probe(_LOGIN, False)
    if _from_login(login) is not None:
        return 2, None
    if has_credentials and configs is not None and configs.status_code == 401 and (
            login is None or login.status_code != 200):
        generation, version = _from_configs(probe(_CONFIGS, True))
        if generation is not None:
            return generation, version
    return _weak_signs(configs, login), None


def definite_generation(probe: Probe) -> int | None:
    """The server's generation only when it says so unambiguously (else None): a parseable version
    from the authenticated ``/configs``, 2.x's problem+json 401, or 2.x's open login route."""
    generation, _ = _from_configs(probe(_CONFIGS, True))
    return generation if generation is not None else _from_login(probe(_LOGIN, False))


class ServerGeneration:
    """Which Kestra API generation the server speaks, decided here and nowhere else.

    Detected once (cached) unless ``api_generation`` is configured; a configured one is checked
    once against the server when a wrong one would otherwise go unnoticed (a 404/405, or before a
    call whose meaning differs silently between generations): an override often exists because
    the probes are blocked, so only a definite answer can contradict it.
    """

    def __init__(self, configured: int | None, probe: Probe, *, has_credentials: bool,
                 where: Callable[[], str]):
        if configured not in (None, 1, 2):
            raise errors.KestraConfigError(f"unknown Kestra API generation {configured!r}; use 1 or 2")
        self.configured = configured
        self._probe = probe
        self._has_credentials = has_credentials
        self._where = where
        self._lock = threading.RLock()
        self._generation = configured
        self._version: str | None = None
        self._version_known = False
        self._checked = configured is None
        self._mismatch: str | None = None
        self._compat: Compat | None = None

    @property
    def generation(self) -> int:
        """1 or 2 (one detection per client)."""
        if self._generation is None:
            with self._lock:
                if self._generation is None:
                    generation, version = detect(self._probe, has_credentials=self._has_credentials)
                    if version is not None:
                        self._version, self._version_known = version, True
                    self._generation = generation
        return self._generation

    @property
    def version(self) -> str | None:
        """The server's version string, or None if it will not say (asked once)."""
        if not self._version_known:
            with self._lock:
                if not self._version_known:
                    resp = self._probe(_CONFIGS, True)
                    body = _json(resp) if resp is not None and resp.status_code == 200 else None
                    self._version = body.get("version") if isinstance(body, dict) else None
                    self._version_known = True
        return self._version

    @property
    def compat(self) -> "Compat":
        """The behaviour of this generation."""
        if self._compat is None:
            self._compat = Compat(self.generation, confirm=self.confirm)
        return self._compat

    def path(self, op: Operation, values: Mapping[str, Any], tenant: str, *, legacy: bool = False) -> str:
        """``/api/v1/{tenant}/...`` for this server, each value URL-quoted (no detection when the path
        is the same on both generations)."""
        generation = self.generation if op.varies else next(iter(op.paths))
        template = (op.legacy if legacy else op.paths).get(generation)
        if template is None:
            raise errors.KestraError(f"{op.name} does not exist on Kestra {generation}.x")
        rel = re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe=""), template)
        return rel if rel.startswith("/") else f"/api/v1/{quote(tenant, safe='')}/{rel}"

    def mismatch(self) -> str | None:
        """The one-line fix when a configured ``api_generation`` is definitely wrong (checked once)."""
        if self._checked:
            return self._mismatch
        with self._lock:
            if self._checked:
                return self._mismatch
            self._checked = True
            try:
                actual = definite_generation(self._probe)
            except errors.KestraError:
                return None     # the server will not say: the override stands
            if actual is not None and actual != self.configured:
                self._mismatch = (f"the server at {self._where()} speaks Kestra API {actual}.x but "
                                  f"api_generation={self.configured} is configured; remove api_generation "
                                  f"(it is detected) or set it to {actual}")
        return self._mismatch

    def confirm(self) -> None:
        """Raise ``KestraConfigError`` when a configured ``api_generation`` is definitely wrong."""
        message = self.mismatch()
        if message is not None:
            raise errors.KestraConfigError(message)


def response_json(resp: "requests.Response") -> Any:
    """The JSON body, decoded from its bytes: JSON is UTF-8 (RFC 8259) whatever the content type
    says. ``requests`` would decode Kestra's ``text/json`` (2.x kill) as ISO-8859-1. Raises ValueError."""
    return json.loads(resp.content)


def response_text(resp: "requests.Response") -> str:
    """A text body: its declared charset, else UTF-8 (``requests`` assumes ISO-8859-1 for ``text/*``)."""
    ctype = resp.headers.get("Content-Type", "")
    charset = re.search(r"charset=\"?([\w.:-]+)", ctype, re.I)
    try:
        return resp.content.decode(charset.group(1) if charset else "utf-8", errors="replace")
    except LookupError:
        return resp.content.decode("utf-8", errors="replace")


def _json(resp: "requests.Response") -> Any:
    try:
        return response_json(resp)
    except ValueError:
        return None


# -- errors ---------------------------------------------------------------------------------------

def parse_error_body(resp: "requests.Response") -> tuple[str, list[dict], Any]:
    """(Kestra's message, violations ``[{path, message}]``, parsed body) from either error shape."""
    text = response_text(resp) if resp.content else ""
    if not text.strip():
        return "", [], None
    ctype = resp.headers.get("Content-Type", "")
    try:
        body = json.loads(text)
    except ValueError:
        if "html" in ctype or text.lstrip().startswith("<"):
            title = re.search(r"<title>(.*?)</title>", text, re.S | re.I)
            return (f"an HTML page{': ' + title.group(1).strip() if title else ''} instead of JSON "
                    f"(is the URL a proxy or the UI?)"), [], text
        return text.strip()[:300], [], text
    if isinstance(body, str):
        return body, [], body
    if isinstance(body, list) and body and all(isinstance(i, dict) for i in body):
        # a bare list of violations: read like 1.x's `_embedded.errors`
        found = [{"path": str(i.get("path") or i.get("pointer") or ""),
                  "message": str(i.get("message") or i.get("detail") or "")} for i in body]
        return "; ".join(v["message"] for v in found if v["message"])[:300], found, body
    if not isinstance(body, dict):
        return str(body)[:300], [], body
    violations: list[dict] = []
    if "problem+json" in ctype or ("type" in body and "title" in body and "status" in body):   # 2.x
        message = body.get("detail") or body.get("title") or ""
        items = body.get("errors")
        for item in [items] if isinstance(items, dict) else items if isinstance(items, list) else []:
            if isinstance(item, dict):
                violations.append({"path": item.get("path") or item.get("pointer") or "",
                                   "message": item.get("detail") or item.get("message") or ""})
        if body.get("traceId"):
            message = f"{message} (traceId {body['traceId']})"
        return message, violations, body
    message = body.get("message") or ""          # 1.x Micronaut JsonError
    embedded = (body.get("_embedded") or {}).get("errors")
    if isinstance(embedded, dict):
        embedded = [embedded]
    for item in embedded or []:
        if isinstance(item, dict):
            violations.append({"path": item.get("path") or "", "message": item.get("message") or ""})
    violations.extend(_bulk_invalids(body.get("invalids")))
    return message, violations, body


def _bulk_invalids(invalids: Any) -> list[dict]:
    """The legacy bulk body's ``invalids`` (ManualConstraintViolation items, or plain values)."""
    if isinstance(invalids, dict):
        invalids = [{"path": k, "message": v} if not isinstance(v, dict) else {"path": k, **v}
                    for k, v in invalids.items()]
    out = []
    for item in invalids if isinstance(invalids, list) else []:
        if isinstance(item, dict):
            path = item.get("path") or item.get("propertyPath") or item.get("invalidValue") or ""
            out.append({"path": path if isinstance(path, str) else json.dumps(path),
                        "message": str(item.get("message") or "")})
        elif item is not None:
            out.append({"path": str(item), "message": ""})
    return out


def is_already_exists(status: int, message: str, body: Any) -> bool:
    """1.x says "Flow id already exists" with 422; 2.x uses 409 ``entity-already-exists``."""
    if status == 409 and isinstance(body, dict) and str(body.get("type", "")).endswith("entity-already-exists"):
        return True
    return status in (409, 422) and "already exists" in (message or "").lower()


# -- per-generation behaviour ---------------------------------------------------------------------


#: ``get(operation, path_values, legacy=False)``: a JSON GET through the transport.
Getter = Callable[..., Any]


@dataclasses.dataclass(frozen=True)
class FlowLanguage:
    """The parts of the flow language that differ by generation."""
    extra_flow_keys: tuple[str, ...]      # flow-level keys this generation has beyond the common ones
    input_types: tuple[str, ...]
    loop_variable: str | None             # ``item`` of 2.x Loop; None on 1.x (``taskrun.value``)


_INPUT_TYPES_2 = ("STRING", "SELECT", "INT", "FLOAT", "BOOL", "DATETIME", "DATE", "TIME", "DURATION", "FILE",
                  "JSON", "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML", "EMAIL")
# Kestra 2.0 removed pluginDefaults/workerGroup at flow level, the ENUM/BOOLEAN input aliases, and
# ForEach's taskrun.value for Loop's item (Kestra 2.0 migration notes; openapi-2.0.0.yml Type enum)
FLOW_LANGUAGE = {
    1: FlowLanguage(("pluginDefaults", "workerGroup"),
                    ("STRING", "ENUM", "SELECT", "INT", "FLOAT", "BOOLEAN", "BOOL", "DATETIME", "DATE", "TIME",
                     "DURATION", "FILE", "JSON", "URI", "SECRET", "ARRAY", "MULTISELECT", "YAML", "EMAIL"), None),
    2: FlowLanguage((), _INPUT_TYPES_2, "item"),
}


class Compat:
    """What differs by generation: built once the server's generation is known.

    ``confirm`` is called before anything that a wrong configured generation would answer wrongly
    without an error (log filters, outputs, file formats): it raises ``KestraConfigError`` then.
    """

    def __init__(self, generation: int, confirm: Callable[[], None] = lambda: None):
        if generation not in (1, 2):
            raise errors.KestraConfigError(f"unknown Kestra API generation {generation!r}; use 1 or 2")
        self.generation = generation
        self._confirm = confirm

    @staticmethod
    def action_result(resp: "requests.Response", read_back: Callable[[], Execution]) -> Execution:
        """The execution after kill/pause/resume, on both generations.

        2.x answers 200 with the execution (kill as ``text/json``); 1.x answers kill with 202 and
        pause/resume with 204, all empty (kestra-api.md §3): the execution is then read back once.
        """
        body = _json(resp) if resp.content.strip() else None
        if isinstance(body, dict) and body.get("id") and body.get("state"):
            return Execution.from_dict(body)
        return read_back()

    def log_params(self, *, min_level: str | None = None, task_id: str | None = None,
                   task_run_id: str | None = None, attempt: int | None = None) -> dict[str, Any]:
        """Per-execution log filters: flat on 1.x, ``filters[...]`` on 2.x (each ignores the other's,
        so a wrong configured generation is checked first)."""
        if min_level is not None:
            min_level = str(min_level).upper()
            if min_level not in ("ERROR", "WARN", "INFO", "DEBUG", "TRACE"):
                raise errors.KestraConfigError(f"min_level {min_level!r} is not a log level; "
                                               f"use one of TRACE, DEBUG, INFO, WARN, ERROR")
        if self.generation == 1:
            params = {"minLevel": min_level, "taskId": task_id, "taskRunId": task_run_id, "attempt": attempt}
        else:
            params = {"filters[level][GREATER_THAN_OR_EQUAL_TO]": min_level,
                      "filters[taskId][EQUALS]": task_id,
                      "filters[taskRunId][EQUALS]": task_run_id,
                      "filters[attemptNumber][EQUALS]": attempt}
        params = {k: v for k, v in params.items() if v is not None}
        if params:
            self._confirm()
        return params

    @property
    def converts_ion_to_jsonl(self) -> bool:
        """Whether the server's file download can convert ION to JSON Lines (``format=JSONL``, 2.x)."""
        return self.generation >= 2

    @property
    def flow_language(self) -> "FlowLanguage":
        """What a flow may say on this generation (for completion): Kestra 2.0 removed some
        flow keys and input types, and added ``{{ item }}`` (Loop)."""
        return FLOW_LANGUAGE[self.generation]

    def file_params(self, uri: str, fmt: str | None) -> dict[str, Any]:
        """Download params: ``format`` (RAW|JSONL) exists on 2.x only."""
        params: dict[str, Any] = {"path": uri}
        if fmt is not None:
            fmt = str(fmt).upper()
            if fmt not in ("RAW", "JSONL"):
                raise errors.KestraConfigError(f"format {fmt!r} is not supported; use 'RAW' or 'JSONL'")
            self._confirm()
            if self.generation >= 2:
                params["format"] = fmt
        return params

    def not_found_grace(self, configured: float) -> float:
        """2.x can 404 for a moment right after a flow or execution is created."""
        return configured if self.generation >= 2 else 0.0

    def flow_outputs(self, get: Getter, execution_id: str, fetch_execution: Callable[[], Execution]) -> dict:
        """Flow-level outputs: in the execution on 1.x, behind ``/outputs/executions/{id}`` on 2.x."""
        self._confirm()
        if self.generation == 1:
            return dict(fetch_execution().outputs)
        try:
            body = get("OutputsAPIService.GetExecutionOutputs", {"executionId": execution_id})
        except errors.KestraNotFound:
            return dict(fetch_execution().outputs)   # pre-release 2.0 had no flow-level route
        except errors.KestraAuthError as exc:
            # the outputs routes can be feature-gated (403) on EE: builds that still put them in the
            # execution are served from there, otherwise the clear 403 stands
            execution = fetch_execution() if exc.status == 403 else None
            if execution is None or "outputs" not in execution.raw:
                raise
            return dict(execution.outputs)
        return dict(body or {})

    @staticmethod
    def _outputs_in(execution: Execution) -> list[dict]:
        return [{"taskId": tr.task_id, "taskRunId": tr.id, "value": tr.value,
                 "iteration": tr.iteration, "outputs": tr.outputs}
                for tr in execution.task_runs if tr.outputs]

    def task_outputs(self, get: Getter, execution_id: str, fetch_execution: Callable[[], Execution]) -> list[dict]:
        """``[{taskId, taskRunId, value, iteration, outputs}]`` for task runs that have outputs:
        read from the execution's task runs on 1.x, from the outputs endpoints on 2.x."""
        self._confirm()
        if self.generation == 1:
            return self._outputs_in(fetch_execution())
        ids = {"executionId": execution_id}
        try:
            infos = get("OutputsAPIService.GetTaskOutputsInformation", ids)
            legacy = False
        except errors.KestraNotFound:
            fetch_execution()   # raises KestraNotFound if the execution itself is unknown
            infos = get("OutputsAPIService.GetTaskOutputsInformation", ids, legacy=True)
            legacy = True
        except errors.KestraAuthError as exc:   # feature-gated: see flow_outputs
            found = self._outputs_in(fetch_execution()) if exc.status == 403 else []
            if not found:
                raise
            return found
        out = []
        for info in infos if isinstance(infos, list) else []:
            tr_id = info.get("taskRunId") if isinstance(info, dict) else None
            if not tr_id:
                continue
            outputs = get("OutputsAPIService.GetTaskRunOutputs", {**ids, "taskRunId": tr_id}, legacy=legacy)
            out.append({"taskId": info.get("taskId"), "taskRunId": tr_id, "value": info.get("value"),
                        "iteration": info.get("iteration"), "outputs": outputs or {}})
        return out
