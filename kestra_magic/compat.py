"""Every difference between Kestra 1.x and 2.x, in one place.

Paths of execution actions, error bodies (JsonError vs problem+json), where
outputs live, log filter parameters, action responses (empty 202/204 vs the
execution), duplicate-flow status, file formats, and the 2.x 404 window after
a create. Nothing else in the package branches on the generation.
"""
from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any, Callable

from kestra_magic import errors
from kestra_magic.models import Execution

if TYPE_CHECKING:  # pragma: no cover
    import requests

PROBLEM_TYPES = "https://kestra.io/docs/api-reference/problems/"
MAX_MESSAGE = 400   # characters of Kestra's message kept in str(error); .server_message has it all
_VERSION = re.compile(r"v?(\d+)\.(\d+)")


def parse_version(version: str | None) -> int | None:
    """The major version from Kestra's ``version`` string (``1.3.3``, ``2.1.0-SNAPSHOT``...)."""
    m = _VERSION.match(str(version or "").strip())
    return int(m.group(1)) if m else None


def generation_from_probes(login: "requests.Response | None", configs: "requests.Response | None") -> int:
    """Decide 1 or 2 from the unauthenticated ``/configs/login`` and ``/configs`` probes."""
    if login is not None and login.status_code == 200:
        body = _json(login)
        if isinstance(body, dict) and "isBasicAuthInitialized" in body and "version" not in body:
            return 2
    if configs is not None:
        if configs.status_code == 200:
            body = _json(configs)
            major = parse_version(body.get("version") if isinstance(body, dict) else None)
            if major is not None:
                return 1 if major < 2 else 2
            if isinstance(body, dict) and login is not None and login.status_code != 200:
                # an unparseable version ("Snapshot" builds) on a /configs that answers without
                # credentials, and no open /configs/login: only 1.x serves /configs open
                return 1
        ctype = configs.headers.get("Content-Type", "")
        if configs.status_code == 401 and "problem+json" in ctype:
            return 2
        if configs.status_code == 401 and not configs.content:
            return 1   # 1.x's filter 401s have an empty body (2.x always sends a problem)
    return 2   # like Kestra's own MCP server: a 1.x request to 2.x fails silently, the reverse loudly


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


def error_for(resp: "requests.Response", *, what: str, method: str, path: str,
              has_credentials: bool, scrub: Callable[[str], str]) -> errors.KestraError:
    """The typed error for a failed response, with a one-line message naming the fix."""
    status = resp.status_code
    message, violations, body = parse_error_body(resp)
    message = scrub(message)
    violations = [{"path": scrub(v["path"]), "message": scrub(v["message"])} for v in violations]
    short = " ".join(message.split())
    if len(short) > MAX_MESSAGE:   # 1.x 500s can carry a whole stack trace: keep str() readable
        short = short[:MAX_MESSAGE - 1].rstrip() + "…"
    said = f": {short}" if short else ""
    where = f"{method} {path}"
    err = _classify(status, message, violations, body, what=what, said=said, where=where,
                    has_credentials=has_credentials)
    err.server_message = message or None
    return err


def _classify(status: int, message: str, violations: list[dict], body: Any, *, what: str, said: str,
              where: str, has_credentials: bool) -> errors.KestraError:
    if status == 401:
        fix = ("the credentials were rejected; check KESTRA_USERNAME/KESTRA_PASSWORD or KESTRA_API_TOKEN"
               if has_credentials else
               "this server requires credentials; set KESTRA_USERNAME and KESTRA_PASSWORD (or KESTRA_API_TOKEN)")
        return errors.KestraAuthError(f"Kestra said 401 Unauthorized on {where}: {fix}", status, (), body)
    if status == 403 and isinstance(body, dict) and str(body.get("type", "")).endswith(
            ("feature-disabled", "license-limit-exceeded", "policy-violation")):
        return errors.KestraAuthError(f"Kestra refused {where} (403{said}); this server's edition, licence or "
                                      f"policy does not allow it: ask its administrator", status, violations, body)
    if status == 403:
        return errors.KestraAuthError(f"Kestra said 403 Forbidden on {where}{said}; the user lacks the "
                                      f"permission (or a session cookie needs a CSRF token)", status, (), body)
    if status == 404:
        return errors.KestraNotFound(f"{what} not found (404{said}); check the namespace/id/tenant "
                                     f"and that it exists", status, violations, body)
    if is_already_exists(status, message, body):
        return errors.KestraConflict(f"{what} already exists ({status}{said}); update it instead "
                                     f"(flows.update_flow or flows.upsert_flow)", status, violations, body)
    if status == 409:
        return errors.KestraConflict(f"{what}: conflict (409{said}); check its current state first",
                                     status, violations, body)
    if status in (400, 422):
        detail = "; ".join(f"{v['path']}: {v['message']}" if v["path"] and v["message"] else
                           (v["message"] or v["path"]) for v in violations[:3])
        extra = f" [{detail}]" if detail and detail not in message else ""
        return errors.KestraValidationError(f"{what} rejected ({status}{said}){extra}; fix the request "
                                            f"and try again", status, violations, body)
    if status in (405, 415):
        # what a request shaped for the other generation gets (e.g. 1.x action paths on 2.x)
        return errors.KestraError(f"Kestra answered {status} on {where}{said}; if this server is another Kestra "
                                  f"generation than detected, set api_generation=1 or 2 in the configuration",
                                  status, violations, body)
    if status == 429:
        return errors.KestraError(f"Kestra said 429 Too Many Requests on {where}{said}; slow down, or retry "
                                  f"later (raise retries= to wait automatically)", status, violations, body)
    if status >= 500:
        return errors.KestraServerError(f"Kestra server error {status} on {where}{said}; retry later or "
                                        f"check the server logs", status, violations, body)
    return errors.KestraError(f"Kestra answered {status} on {where}{said}", status, violations, body)


# -- per-generation behaviour ---------------------------------------------------------------------

class Compat:
    """What differs by generation: built once the server's generation is known."""

    def __init__(self, generation: int):
        if generation not in (1, 2):
            raise errors.KestraConfigError(f"unknown Kestra API generation {generation!r}; use 1 or 2")
        self.generation = generation

    def action_path(self, execution_id: str, action: str) -> list[str]:
        """Path segments of a single-execution action (2.x moved them under ``actions/``)."""
        if self.generation >= 2:
            return ["executions", execution_id, "actions", action]
        return ["executions", execution_id, action]

    @staticmethod
    def action_result(resp: "requests.Response") -> Execution | None:
        """1.x answers kill with 202 and pause/resume with 204 (empty); 2.x returns the execution."""
        if resp.status_code in (202, 204) or not resp.content.strip():
            return None
        body = _json(resp)
        return Execution.from_dict(body) if isinstance(body, dict) else None

    def log_params(self, *, min_level: str | None = None, task_id: str | None = None,
                   task_run_id: str | None = None, attempt: int | None = None) -> dict[str, Any]:
        """Per-execution log filters: flat on 1.x, ``filters[...]`` on 2.x (which ignores the flat ones)."""
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
        return {k: v for k, v in params.items() if v is not None}

    @property
    def converts_ion_to_jsonl(self) -> bool:
        """Whether the server's file download can convert ION to JSON Lines (``format=JSONL``, 2.x)."""
        return self.generation >= 2

    def file_params(self, uri: str, fmt: str | None) -> dict[str, Any]:
        """Download params: ``format`` (RAW|JSONL) exists on 2.x only."""
        params: dict[str, Any] = {"path": uri}
        if fmt is not None:
            fmt = str(fmt).upper()
            if fmt not in ("RAW", "JSONL"):
                raise errors.KestraConfigError(f"format {fmt!r} is not supported; use 'RAW' or 'JSONL'")
            if self.generation >= 2:
                params["format"] = fmt
        return params

    def not_found_grace(self, configured: float) -> float:
        """2.x can 404 for a moment right after a flow or execution is created."""
        return configured if self.generation >= 2 else 0.0

    def flow_outputs(self, get: Callable[..., Any], execution_id: str, fetch_execution: Callable[[], Execution]) -> dict:
        """Flow-level outputs: in the execution on 1.x, behind ``/outputs/executions/{id}`` on 2.x."""
        if self.generation == 1:
            return dict(fetch_execution().outputs)
        try:
            body = get(["outputs", "executions", execution_id], operation="OutputsAPIService.GetExecutionOutputs")
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

    def task_outputs(self, get: Callable[..., Any], execution_id: str,
                     fetch_execution: Callable[[], Execution]) -> list[dict]:
        """``[{taskId, taskRunId, value, iteration, outputs}]`` for task runs that have outputs."""
        if self.generation == 1:
            return self._outputs_in(fetch_execution())
        try:
            infos = get(["outputs", "tasks", execution_id], operation="OutputsAPIService.GetTaskOutputsInformation")
            long_form = True
        except errors.KestraNotFound:
            fetch_execution()   # raises KestraNotFound if the execution itself is unknown
            infos = get(["outputs", execution_id], operation="OutputsAPIService.GetTaskOutputsInformation")
            long_form = False
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
            segs = ["outputs", "tasks", execution_id, tr_id] if long_form else ["outputs", execution_id, tr_id]
            outputs = get(segs, operation="OutputsAPIService.GetTaskRunOutputs")
            out.append({"taskId": info.get("taskId"), "taskRunId": tr_id, "value": info.get("value"),
                        "iteration": info.get("iteration"), "outputs": outputs or {}})
        return out
