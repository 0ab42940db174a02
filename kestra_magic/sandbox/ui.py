"""A small read-only web page per flow and per execution, so "Open in UI" never leads to a 404.

Pages live where Kestra's UI has them (``/ui/{tenant}/flows/edit/{ns}/{id}``,
``/ui/{tenant}/executions/{ns}/{flowId}/{id}``, any trailing tab segment accepted): source, a task
tree, task runs, logs, inputs and outputs; static HTML, no script, a CSP that forbids everything
but inline styles.

Access: when the sandbox has a credential, a page opens only with a per-page signed, expiring
link (``?exp=<unix seconds>&sig=<HMAC-SHA256 of path and expiry>`` under a per-sandbox secret), so
a browser needs no password and a saved notebook holds no credential. A client mints the link over
the authenticated API: ``POST /api/v1/{tenant}/sandbox/ui-links`` with ``{"path": "executions/ns/f/id"}``
answers ``{"url", "expires"}`` (Kestra itself answers 404 there: the client then uses the plain
link to Kestra's real UI). An open sandbox serves pages without a signature.

:class:`UiHandlers` answers them (a ``Handlers`` class reading through the backend's public
methods); :data:`RULES` lists ``(rule, methods, endpoint)``. The link helpers take a ``holder``:
anything with ``settings`` and ``backend`` (the handlers, the routes' Context, the Application); the
signing secret belongs to its backend, so it is one per sandbox.
"""
from __future__ import annotations

import hashlib
import hmac
import html
import json
import secrets
import time
import weakref
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlencode

from werkzeug.wrappers import Request, Response

from kestra_magic.sandbox.http import Handlers, json_response, read_json
from kestra_magic.sandbox.problems import illegal_argument

LINK_TTL = 24 * 3600          # seconds a signed link stays valid
MAX_LOG_LINES = 500
_SECRETS: "weakref.WeakKeyDictionary[Any, bytes]" = weakref.WeakKeyDictionary()
STATE_COLOURS = {"SUCCESS": "#1f9d62", "FAILED": "#d93b42", "RUNNING": "#2f6fed", "WARNING": "#d69e00",
                 "KILLED": "#7c3aed", "PAUSED": "#b7791f", "CREATED": "#9ca3af", "QUEUED": "#9ca3af"}
HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
           "X-Frame-Options": "SAMEORIGIN"}


def secret_for(holder: Any) -> bytes:
    """The per-sandbox signing secret (random, in memory, never leaves the process), kept per backend."""
    key = _SECRETS.get(holder.backend)
    if key is None:
        key = _SECRETS[holder.backend] = secrets.token_bytes(32)
    return key


def signature(holder: Any, path: str, expires: int) -> str:
    return hmac.new(secret_for(holder), f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(holder: Any, path: str, *, ttl: int = LINK_TTL, now: float | None = None,
               expires: int | None = None) -> tuple[str, int]:
    """``(url, expires)`` for an absolute page path such as ``/ui/main/executions/ns/f/id``; with
    ``expires``, a link that ends then (links a page shows end with the link that opened it, so
    following links never extends access)."""
    if expires is None:
        expires = int((now if now is not None else time.time()) + ttl)
    query = urlencode({"exp": expires, "sig": signature(holder, path, expires)})
    return f"{holder.settings.base_url}{path}?{query}", expires


def _derived(holder: Any, request: Request, page: str) -> str:
    """The link a page shows to a related page (a run's flow, a flow's runs: the same flow), expiring
    with the link the viewer came with; plain when the sandbox is open."""
    if not holder.settings.auth_required:
        return holder.settings.base_url + page
    return signed_url(holder, page, expires=int(request.args["exp"]))[0]


def _allowed(holder: Any, request: Request) -> str | None:
    """None when the page may be shown, else why not (one line, shown on the 403 page)."""
    if not holder.settings.auth_required:
        return None
    exp, sig = request.args.get("exp", ""), request.args.get("sig", "")
    if not exp or not sig:
        return "this sandbox page needs a signed link: open it from the notebook (the run's or flow's link)"
    try:
        expires = int(exp)
    except ValueError:
        return "the link's expiry is not a number: open the page again from the notebook"
    if not hmac.compare_digest(signature(holder, request.path, expires), sig):
        return "the link's signature does not match this page (or this sandbox was restarted): open it again from the notebook"
    if expires < time.time():
        return "the link has expired: open it again from the notebook (links are valid for a day)"
    return None


# -- minting -------------------------------------------------------------------------------------
def ui_link(holder: Any, request: Request, tenant: str) -> Response:
    body = read_json(request, '{"path": "executions/NS/FLOW/ID" or "flows/edit/NS/ID"}', empty={})
    try:
        path = str(body["path"]).strip("/")
    except (KeyError, TypeError):
        raise illegal_argument('Send a JSON body {"path": "executions/NS/FLOW/ID" or "flows/edit/NS/ID"}') from None
    parts = path.split("/")
    if not (parts[:1] == ["executions"] and len(parts) >= 4) and not (parts[:2] == ["flows", "edit"] and len(parts) >= 4):
        raise illegal_argument(f"'{path}' is not a sandbox page: use executions/NS/FLOW/ID or flows/edit/NS/ID")
    page = f"/ui/{quote(tenant, safe='')}/" + "/".join(quote(p, safe="") for p in parts)
    url, expires = signed_url(holder, page)
    return json_response({"url": url, "expires": datetime.fromtimestamp(expires, timezone.utc)
                          .isoformat().replace("+00:00", "Z")})


# -- pages ---------------------------------------------------------------------------------------
def _page(title: str, body: str, status: int = 200) -> Response:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           "<style>body{font:14px -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#1f2937}"
           "h1{font-size:20px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse}"
           "td,th{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:left;vertical-align:top}"
           "pre{background:#f6f8fa;padding:12px;overflow:auto;max-height:480px}"
           ".badge{color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;font-weight:600}"
           ".muted{color:#6b7280}ul.tree{list-style:none;padding-left:18px}"
           ".note{background:#fff7e6;border:1px solid #f0c36d;padding:8px 12px}</style></head><body>"
           f"<p class='muted'>Kestra sandbox · read-only view</p>{body}</body></html>")
    resp = Response(doc, status=status, content_type="text/html; charset=utf-8")
    for k, v in HEADERS.items():
        resp.headers[k] = v
    return resp


def _badge(state: str) -> str:
    return f"<span class='badge' style='background:{STATE_COLOURS.get(state, '#6b7280')}'>{html.escape(state)}</span>"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _json_cell(value: Any) -> str:
    return f"<code>{html.escape(json.dumps(value, default=str, ensure_ascii=False))}</code>"


def _tree(tasks: Any, states: dict[str, str]) -> str:
    """The flow's structure as nested lists: flowables' branches under them, handlers marked."""
    items = []
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        tid = str(task.get("id", "?"))
        kind = str(task.get("type", "")).rsplit(".", 1)[-1]
        state = states.get(tid)
        label = f"<b>{html.escape(tid)}</b> <span class='muted'>{html.escape(kind)}</span>"
        if kind in ("Subflow", "Flow"):
            label += f" <span class='muted'>↳ {html.escape(str(task.get('namespace')))}.{html.escape(str(task.get('flowId')))}</span>"
        if state:
            label += " " + _badge(state)
        children = ""
        for key in ("tasks", "then", "else", "defaults", "errors", "finally"):
            if isinstance(task.get(key), list) and task[key]:
                children += f"<li class='muted'>{key}:{_tree(task[key], states)}</li>"
        if isinstance(task.get("cases"), dict):
            for case, sub in task["cases"].items():
                children += f"<li class='muted'>case {html.escape(str(case))}:{_tree(sub, states)}</li>"
        items.append(f"<li>{label}{'<ul class=tree>' + children + '</ul>' if children else ''}</li>")
    return "<ul class='tree'>" + "".join(items) + "</ul>"


def _flow_tree(flow: dict, states: dict[str, str]) -> str:
    out = _tree(flow.get("tasks"), states)
    for key in ("errors", "finally", "afterExecution"):
        if flow.get(key):
            out += f"<p class='muted'>{key}:</p>" + _tree(flow[key], states)
    return out


def _denied(reason: str) -> Response:
    return _page("Sandbox page", f"<h1>Link not valid</h1><p class='note'>{html.escape(reason)}</p>", 403)


def _missing(what: str) -> Response:
    return _page("Not found", f"<h1>Not found</h1><p>{html.escape(what)} does not exist in this sandbox.</p>", 404)


def flow_page(holder: Any, request: Request, tenant: str, namespace: str, flow_id: str) -> Response:
    reason = _allowed(holder, request)
    if reason:
        return _denied(reason)
    flow = holder.backend.flow(namespace, flow_id)
    if flow is None:
        return _missing(f"Flow {namespace}.{flow_id}")
    runs = holder.backend.select_executions(
        lambda e: e.get("namespace") == namespace and e.get("flowId") == flow_id,
        lambda items: sorted(items, key=lambda e: (e.get("state") or {}).get("startDate") or "", reverse=True)[:20])
    rows = []
    for ex in runs:
        page = f"/ui/{quote(tenant, safe='')}/executions/{quote(namespace, safe='')}/{quote(flow_id, safe='')}/{quote(ex['id'], safe='')}"
        href = _derived(holder, request, page)
        state = (ex.get("state") or {}).get("current") or ""
        rows.append([f"<a href='{html.escape(href)}'>{html.escape(ex['id'])}</a>", _badge(state),
                     html.escape((ex.get("state") or {}).get("startDate") or "")])
    body = (f"<h1>Flow {html.escape(namespace)}.{html.escape(flow_id)}</h1>"
            f"<p>revision {html.escape(str(flow.get('revision')))}</p>"
            f"<h2>Topology</h2>{_flow_tree(flow, {})}"
            f"<h2>Source</h2><pre>{html.escape(flow.get('source') or '')}</pre>"
            f"<h2>Recent executions</h2>{_table(['execution', 'state', 'started'], rows) if rows else '<p>none</p>'}")
    return _page(f"{namespace}.{flow_id}", body)


def execution_page(holder: Any, request: Request, tenant: str, namespace: str, flow_id: str,
                   execution_id: str) -> Response:
    reason = _allowed(holder, request)
    if reason:
        return _denied(reason)
    ex = holder.backend.find_execution(execution_id)
    if ex is None or ex.get("namespace") != namespace or ex.get("flowId") != flow_id:
        return _missing(f"Execution {execution_id} of {namespace}.{flow_id}")
    flow = holder.backend.flow(namespace, flow_id, ex.get("flowRevision"), allow_deleted=True) or {}
    state = ex.get("state") or {}
    task_runs = ex.get("taskRunList") or []
    states: dict[str, str] = {}
    rows = []
    for tr in task_runs:
        st = (tr.get("state") or {})
        states[str(tr.get("taskId"))] = st.get("current") or ""
        rows.append([html.escape(str(tr.get("taskId"))), html.escape(str(tr.get("value") or "")),
                     _badge(st.get("current") or ""), html.escape(st.get("startDate") or ""),
                     html.escape(st.get("endDate") or ""), str(len(tr.get("attempts") or [])),
                     _json_cell(tr.get("outputs")) if tr.get("outputs") else ""])
    logs = holder.backend.logs(execution_id)
    hidden = max(0, len(logs) - MAX_LOG_LINES)
    log_text = "\n".join(f"{e.get('timestamp', '')} {e.get('level', ''):5} {e.get('taskId') or '':12} "
                         f"{e.get('message', '')}" for e in logs[-MAX_LOG_LINES:])
    flow_path = f"/ui/{quote(tenant, safe='')}/flows/edit/{quote(namespace, safe='')}/{quote(flow_id, safe='')}"
    flow_href = _derived(holder, request, flow_path)
    body = (f"<h1>Execution {html.escape(execution_id)} {_badge(state.get('current') or '')}</h1>"
            f"<p>flow <a href='{html.escape(flow_href)}'>{html.escape(namespace)}.{html.escape(flow_id)}</a>"
            f" revision {html.escape(str(ex.get('flowRevision')))} · started {html.escape(state.get('startDate') or '')}"
            f" · ended {html.escape(state.get('endDate') or '—')}</p>"
            f"<h2>Inputs</h2>{_json_cell(ex.get('inputs') or {})}"
            f"<h2>Outputs</h2>{_json_cell(ex.get('outputs') or {})}"
            f"<h2>Topology</h2>{_flow_tree(flow, states)}"
            f"<h2>Task runs</h2>"
            + _table(["task", "value", "state", "start", "end", "attempts", "outputs"], rows)
            + "<h2>Logs</h2>" + (f"<p class='muted'>{hidden} earlier lines not shown</p>" if hidden else "")
            + f"<pre>{html.escape(log_text) or '(no logs)'}</pre>")
    return _page(f"Execution {execution_id}", body)


T = "/api/v1/<tenant>"
RULES: list[tuple[str, list[str], str]] = [
    (f"{T}/sandbox/ui-links", ["POST"], "ui_link"),
    ("/ui/<tenant>/flows/edit/<namespace>/<flow_id>", ["GET"], "ui_flow"),
    ("/ui/<tenant>/flows/edit/<namespace>/<flow_id>/<path:rest>", ["GET"], "ui_flow"),
    ("/ui/<tenant>/executions/<namespace>/<flow_id>/<execution_id>", ["GET"], "ui_execution"),
    ("/ui/<tenant>/executions/<namespace>/<flow_id>/<execution_id>/<path:rest>", ["GET"], "ui_execution"),
]


class UiHandlers(Handlers):
    """The link minting endpoint and the read-only pages."""

    def h_ui_link(self, request: Request, tenant: str) -> Response:
        return ui_link(self, request, tenant)

    def h_ui_flow(self, request: Request, tenant: str, namespace: str, flow_id: str, rest: str = "") -> Response:
        return flow_page(self, request, tenant, namespace, flow_id)

    def h_ui_execution(self, request: Request, tenant: str, namespace: str, flow_id: str, execution_id: str,
                       rest: str = "") -> Response:
        return execution_page(self, request, tenant, namespace, flow_id, execution_id)
