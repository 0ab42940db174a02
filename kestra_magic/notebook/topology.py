"""A flow's topology as a static inline SVG (it stays in a saved notebook: no script, no widget).

Tasks run top to bottom; Parallel branches, If/Switch branches and a flowable's own ``errors`` /
``finally`` sit side by side in a dashed frame under the flowable's box; Loop/ForEach/Sequential/
WorkingDirectory bodies sit in a frame under theirs; Subflow boxes name the flow they start; the
flow's ``errors`` and ``finally`` blocks are columns to the right. With ``states`` (task id →
Kestra state) each box takes the state's colour, as Kestra's execution topology does.

Input: a Kestra ``FlowGraph`` (``{"nodes", "edges", "clusters"}``, as ``GET .../flows/{ns}/{id}/graph``
serves it: the top-level task nodes carry their full task, nested tasks included), or the flow
itself (YAML text, a parsed dict, or a ``Flow`` model) when the server has no graph.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, Callable, Mapping

BOX_W, BOX_H = 176, 42
GAP_Y, GAP_X, PAD = 22, 18, 10
LABEL_H = 16
FONT = "font-family=\"-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif\""

STATE_COLOURS = {
    "CREATED": "#9ca3af", "QUEUED": "#9ca3af", "SKIPPED": "#c4c9d0", "RUNNING": "#2f6fed",
    "RETRYING": "#f08c2e", "RESTARTED": "#2f6fed", "PAUSED": "#b7791f", "BREAKPOINT": "#b7791f",
    "KILLING": "#a855f7", "SUCCESS": "#1f9d62", "WARNING": "#d69e00", "FAILED": "#d93b42",
    "KILLED": "#7c3aed", "CANCELLED": "#6b7280", "RETRIED": "#6b7280",
}
_BRANCHED = {"Parallel", "If", "Switch", "Dag"}


def _short(type_: Any) -> str:
    return str(type_ or "").rsplit(".", 1)[-1]


def _tasks(value: Any) -> list[dict]:
    return [t for t in value or [] if isinstance(t, dict)] if isinstance(value, list) else []


# ------------------------------------------------------------------------------------------------
# input: graph or flow → a flow-shaped dict
# ------------------------------------------------------------------------------------------------
def flow_from_graph(graph: Mapping[str, Any]) -> dict:
    """``{"tasks", "errors", "finally", "afterExecution"}`` rebuilt from a FlowGraph's top level."""
    nodes = [n for n in graph.get("nodes") or [] if isinstance(n, dict)]
    clusters = {c["cluster"]["uid"]: c for c in graph.get("clusters") or []
                if isinstance(c, dict) and isinstance(c.get("cluster"), dict)}
    top = [n for n in nodes if isinstance(n.get("task"), dict) and str(n.get("uid", "")).count(".") == 1
           and str(n.get("uid", "")).startswith("root.")]
    entry, exit_ = {}, {}
    for n in top:
        c = clusters.get("cluster_" + n["uid"])
        entry[n["uid"]] = c["start"] if c else n["uid"]
        exit_[n["uid"]] = c["end"] if c else n["uid"]
    by_entry = {v: k for k, v in entry.items()}
    successors: dict[str, list[tuple[str, str]]] = {}
    for e in graph.get("edges") or []:
        rel = (e.get("relation") or {}).get("relationType") or ""
        successors.setdefault(e.get("source"), []).append((e.get("target"), rel))
    root_start = next((n["uid"] for n in nodes if str(n.get("type", "")).endswith("GraphClusterRoot")
                       and str(n.get("uid", "")).count(".") == 1 and n["uid"].startswith("root.")), None)

    def branch_of(n: dict) -> str:
        b = n.get("branchType") or (n.get("relationType") if n.get("relationType") in
                                    ("ERROR", "FINALLY", "AFTER_EXECUTION") else None)
        return b or ("ERROR" if n.get("error") else "MAIN")

    kinds = {n["uid"]: branch_of(n) for n in top}
    out: dict[str, list] = {"MAIN": [], "ERROR": [], "FINALLY": [], "AFTER_EXECUTION": []}
    seen: set[str] = set()
    for kind in out:
        current = root_start
        while current is not None:
            nxt = None
            for target, _rel in successors.get(current, []):
                uid = by_entry.get(target)
                if uid and uid not in seen and kinds[uid] == kind:
                    nxt = uid
                    break
            if nxt is None:
                break
            seen.add(nxt)
            out[kind].append(nxt)
            current = exit_[nxt]
    for n in top:                    # anything the walk missed keeps the graph's order
        if n["uid"] not in seen:
            out[kinds[n["uid"]]].append(n["uid"])
    task = {n["uid"]: n["task"] for n in top}
    triggers = [n["triggerDeclaration"] for n in nodes if str(n.get("type", "")).endswith("GraphTrigger")
                and isinstance(n.get("triggerDeclaration"), dict)]
    return {"triggers": triggers, "tasks": [task[u] for u in out["MAIN"]], "errors": [task[u] for u in out["ERROR"]],
            "finally": [task[u] for u in out["FINALLY"]],
            "afterExecution": [task[u] for u in out["AFTER_EXECUTION"]]}


def _as_flow(flow_or_graph: Any) -> dict:
    if isinstance(flow_or_graph, str):
        from kestra_magic import safe_yaml
        doc = safe_yaml.load(flow_or_graph)
        if not isinstance(doc, dict):
            raise ValueError("the flow YAML must be a mapping with tasks")
        return doc
    if isinstance(flow_or_graph, Mapping):
        if "nodes" in flow_or_graph and "edges" in flow_or_graph:
            return flow_from_graph(flow_or_graph)
        return dict(flow_or_graph)
    raw = getattr(flow_or_graph, "raw", None)
    if isinstance(raw, Mapping) and raw.get("tasks") is not None:
        return dict(raw)
    source = getattr(flow_or_graph, "source", None)
    if isinstance(source, str) and source.strip():
        return _as_flow(source)
    tasks = getattr(flow_or_graph, "tasks", None)
    if isinstance(tasks, list):
        return {"tasks": tasks}
    raise TypeError(f"topology_svg needs a FlowGraph dict, a flow dict, its YAML or a Flow, "
                    f"not {type(flow_or_graph).__name__}")


# ------------------------------------------------------------------------------------------------
# layout: every block knows its size and draws itself at (x, y)
# ------------------------------------------------------------------------------------------------
@dataclass
class Block:
    w: float
    h: float
    draw: Callable[[float, float], list[str]]


def _text(x: float, y: float, s: str, *, size: int = 12, weight: str = "normal", fill: str = "#1f2937",
          anchor: str = "start") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" font-weight="{weight}" fill="{fill}" '
            f'text-anchor="{anchor}">{html.escape(s)}</text>')


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


def _box(task: dict, states: Mapping[str, str]) -> Block:
    tid, type_ = str(task.get("id", "?")), str(task.get("type", ""))
    state = str(states.get(tid) or "").upper()
    colour = STATE_COLOURS.get(state)
    subflow = _short(type_) in ("Subflow", "Flow")
    sub = f"↳ {task.get('namespace', '?')}.{task.get('flowId', '?')}" if subflow else _short(type_)

    def draw(x: float, y: float) -> list[str]:
        stroke = colour or "#8b93a1"
        fill = colour or "#ffffff"
        opacity = "0.16" if colour else "1"
        tip = f"{tid} — {type_}" + (f" — {state}" if state else "")
        parts = [f'<g class="km-task" data-task-id="{html.escape(tid)}" data-state="{state or "NONE"}">',
                 f"<title>{html.escape(tip)}</title>",
                 f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{fill}" '
                 f'fill-opacity="{opacity}" stroke="{stroke}" stroke-width="{2 if colour else 1.2}"/>']
        if subflow:
            parts.append(f'<rect x="{x + 3:.1f}" y="{y + 3:.1f}" width="{BOX_W - 6}" height="{BOX_H - 6}" rx="4" '
                         f'fill="none" stroke="{stroke}" stroke-width="0.8"/>')
        if colour:
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="5" height="{BOX_H}" rx="2" fill="{colour}"/>')
        parts.append(_text(x + 12, y + 18, _clip(tid, 24), size=12, weight="600"))
        parts.append(_text(x + 12, y + 33, _clip(sub, 28), size=10, fill="#6b7280"))
        if state:
            parts.append(_text(x + BOX_W - 8, y + 33, state, size=9, weight="600", fill=colour or "#6b7280",
                               anchor="end"))
        parts.append("</g>")
        return parts
    return Block(BOX_W, BOX_H, draw)


def _arrow(x1: float, y1: float, x2: float, y2: float, colour: str = "#9aa3af", dashed: bool = False) -> str:
    dash = ' stroke-dasharray="4 3"' if dashed else ""
    if abs(x1 - x2) < 0.5:
        d = f"M{x1:.1f},{y1:.1f} V{y2:.1f}"
    else:
        mid = y1 + min(10.0, (y2 - y1) / 2)
        d = f"M{x1:.1f},{y1:.1f} V{mid:.1f} H{x2:.1f} V{y2:.1f}"
    return f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="1.3"{dash} marker-end="url(#km-arrow)"/>'


def _sequence(tasks: list[dict], states: Mapping[str, str]) -> Block:
    blocks = [_task(t, states) for t in tasks]
    if not blocks:
        return Block(BOX_W, 0, lambda x, y: [])
    w = max(b.w for b in blocks)
    h = sum(b.h for b in blocks) + GAP_Y * (len(blocks) - 1)

    def draw(x: float, y: float) -> list[str]:
        parts, cy, prev_bottom = [], y, None
        cx = x + w / 2
        for b in blocks:
            if prev_bottom is not None:
                parts.append(_arrow(cx, prev_bottom, cx, cy - 1))
            parts += b.draw(x + (w - b.w) / 2, cy)
            prev_bottom = cy + b.h
            cy += b.h + GAP_Y
        return parts
    return Block(w, h, draw)


def _column(label: str | None, tasks: list[dict], states: Mapping[str, str], colour: str = "#6b7280") -> Block:
    body = _sequence(tasks, states)
    top = LABEL_H if label else 0

    def draw(x: float, y: float) -> list[str]:
        parts = [_text(x + body.w / 2, y + 11, label, size=10, weight="600", fill=colour, anchor="middle")] \
            if label else []
        return parts + body.draw(x, y + top)
    return Block(body.w, body.h + top, draw)


def _columns(columns: list[tuple[Block, str, bool]], header: Block | None, frame_colour: str) -> Block:
    """A header box over columns side by side, in a dashed frame; arrows fan out from the header."""
    inner_w = sum(c.w for c, _, _ in columns) + GAP_X * (len(columns) - 1) if columns else 0
    head_w = header.w if header else 0
    w = max(inner_w, head_w) + 2 * PAD
    head_h = (header.h + GAP_Y) if header else 0
    h = head_h + max((c.h for c, _, _ in columns), default=0) + 2 * PAD

    def draw(x: float, y: float) -> list[str]:
        parts = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="8" fill="none" '
                 f'stroke="{frame_colour}" stroke-width="1" stroke-dasharray="5 4"/>']
        hx = x + (w - head_w) / 2
        if header:
            parts += header.draw(hx, y + PAD)
        cx = x + (w - inner_w) / 2
        top = y + PAD + head_h
        for block, colour, dashed in columns:
            if header and block.h:
                parts.append(_arrow(hx + head_w / 2, y + PAD + header.h, cx + block.w / 2, top - 1, colour, dashed))
            parts += block.draw(cx, top)
            cx += block.w + GAP_X
        return parts
    return Block(w, h, draw)


def _handlers(task: dict, states: Mapping[str, str]) -> list[tuple[Block, str, bool]]:
    out = []
    if _tasks(task.get("errors")):
        out.append((_column("errors", _tasks(task["errors"]), states, "#d93b42"), "#d93b42", True))
    if _tasks(task.get("finally")):
        out.append((_column("finally", _tasks(task["finally"]), states, "#6b7280"), "#6b7280", True))
    return out


def _task(task: dict, states: Mapping[str, str]) -> Block:
    name = _short(task.get("type"))
    header = _box(task, states)
    columns: list[tuple[Block, str, bool]] = []
    if name == "If":
        columns.append((_column("then", _tasks(task.get("then")), states), "#9aa3af", False))
        if _tasks(task.get("else")):
            columns.append((_column("else", _tasks(task.get("else")), states), "#9aa3af", False))
    elif name == "Switch":
        for case, tasks in (task.get("cases") or {}).items() if isinstance(task.get("cases"), dict) else []:
            columns.append((_column(str(case), _tasks(tasks), states), "#9aa3af", False))
        if _tasks(task.get("defaults")):
            columns.append((_column("defaults", _tasks(task["defaults"]), states), "#9aa3af", False))
    elif name in _BRANCHED:
        children = _tasks(task.get("tasks"))
        if name == "Dag":
            children = [t.get("task") for t in children if isinstance(t.get("task"), dict)]
        for child in children:
            columns.append((_task(child, states), "#9aa3af", False))
    elif _tasks(task.get("tasks")) and name not in ("Subflow", "Flow"):
        label = "each value" if name in ("ForEach", "Loop", "EachSequential", "EachParallel") else None
        columns.append((_column(label, _tasks(task["tasks"]), states), "#9aa3af", False))
    columns += _handlers(task, states)
    if not columns:
        return header
    return _columns(columns, header, "#c3c8d0")


def topology_svg(flow_or_graph: Any, states: Mapping[str, str] | None = None) -> str:
    """The topology as one ``<svg>`` element (inline, self-contained, no script)."""
    flow = _as_flow(flow_or_graph)
    states = {str(k): str(v) for k, v in (states or {}).items()}
    main = _sequence(_tasks(flow.get("tasks")), states)
    side = [_column("errors", _tasks(flow.get("errors")), states, "#d93b42")] if _tasks(flow.get("errors")) else []
    if _tasks(flow.get("finally")):
        side.append(_column("finally", _tasks(flow.get("finally")), states))
    if _tasks(flow.get("afterExecution")):
        side.append(_column("afterExecution", _tasks(flow.get("afterExecution")), states))
    triggers = [t for t in flow.get("triggers") or [] if isinstance(t, dict)]
    trig_h = 26 if triggers else 0
    cols = [main] + side
    width = sum(c.w for c in cols) + GAP_X * 2 * (len(cols) - 1) + 2 * PAD
    height = max(c.h for c in cols) + 2 * PAD + trig_h
    if not _tasks(flow.get("tasks")):
        width, height = max(width, 220), max(height, 40)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="km-topology" width="{width:.0f}" '
             f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" {FONT} role="img" '
             f'aria-label="flow topology">',
             '<defs><marker id="km-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
             'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#9aa3af"/></marker></defs>']
    x = PAD
    for t in triggers:
        label = f"⏱ {t.get('id', '?')} ({_short(t.get('type'))})"
        parts.append(_text(x, PAD + 10, _clip(label, 40), size=10, fill="#6b7280"))
        x += 8 + 6.2 * min(len(label), 40)
    x, y = PAD, PAD + trig_h
    if not _tasks(flow.get("tasks")):
        parts.append(_text(PAD, PAD + 18, "(no tasks)", size=12, fill="#6b7280"))
    for i, col in enumerate(cols):
        if i == 1:
            parts.append(f'<line x1="{x - GAP_X:.1f}" y1="{y:.1f}" x2="{x - GAP_X:.1f}" y2="{height - PAD:.1f}" '
                         f'stroke="#e5e7eb" stroke-width="1"/>')
        parts += col.draw(x, y)
        x += col.w + 2 * GAP_X
    parts.append("</svg>")
    return "".join(parts)


class Topology:
    """Displays as the topology SVG in a scrolling box (``display(Topology(flow, states))``)."""

    def __init__(self, flow_or_graph: Any, states: Mapping[str, str] | None = None, *, max_height: int = 480):
        self.svg = topology_svg(flow_or_graph, states)
        self.max_height = max_height

    def _repr_html_(self) -> str:
        return (f'<div class="km-topology-box" style="max-height:{self.max_height}px;overflow:auto;'
                f'padding:4px 0">{self.svg}</div>')

    def __repr__(self) -> str:
        return f"<Topology svg {len(self.svg)} chars>"


def flow_topology(client: Any, namespace: str, flow_id: str, *, source: str | None = None,
                  states: Mapping[str, str] | None = None) -> Topology:
    """The topology of a stored flow from the server's graph endpoint; from ``source`` (or the
    stored flow's YAML) when the server serves no graph (404/405: older servers, other backends)."""
    from kestra_magic import errors
    try:
        graph = client.plugins.flow_graph(namespace, flow_id)
        if graph.get("nodes"):
            return Topology(graph, states)
    except errors.KestraError as err:
        if getattr(err, "status", None) not in (404, 405, 501) and not isinstance(err, errors.KestraNotFound):
            raise
    if source is None:
        source = client.flows.get_flow(namespace, flow_id, source=True).source
    return Topology(source or {"tasks": []}, states)


# The state a box shows when a task has several task runs (loop iterations, retries, restarts):
# the one a user must see first.
_PRIORITY = ["FAILED", "KILLED", "KILLING", "RUNNING", "RETRYING", "RESTARTED", "PAUSED", "BREAKPOINT",
             "WARNING", "QUEUED", "CREATED", "SUCCESS", "CANCELLED", "RETRIED", "SKIPPED"]


def task_states(task_runs: Any) -> dict[str, str]:
    """``{taskId: state}`` from an execution's task runs (Kestra ``taskRunList`` dicts, or a frame
    with ``taskId`` and ``state`` columns); several runs of one task show the most urgent state."""
    if hasattr(task_runs, "to_dict") and hasattr(task_runs, "columns"):
        task_runs = task_runs[["taskId", "state"]].to_dict("records")
    rank = {s: i for i, s in enumerate(_PRIORITY)}
    out: dict[str, str] = {}
    for tr in task_runs or []:
        if not isinstance(tr, Mapping):
            continue
        state = tr.get("state")
        state = str((state.get("current") if isinstance(state, Mapping) else state) or "").upper()
        tid = str(tr.get("taskId") or "")
        if tid and state and (tid not in out or rank.get(state, 99) < rank.get(out[tid], 99)):
            out[tid] = state
    return out
