"""Pure rendering of an execution (HTML and text): a Run's reprs, and the notebook's widget and summary.

Works from the execution's JSON dict (an ``Execution`` model's ``.raw`` or the dict itself), which
has the same keys on Kestra 1.x and 2.x, so nothing here depends on the client or the server.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from kestra_magic.models import TERMINAL_STATES

# Badge colours approximating Kestra's UI palette (ui/src/utils/state.js and the --ks-chart-* vars).
STATE_COLORS: dict[str, str] = {
    "CREATED": "#1761FD", "RESTARTED": "#1761FD", "SUBMITTED": "#1761FD", "QUEUED": "#9A8EAE",
    "RUNNING": "#8405FF", "KILLING": "#FCB37C", "PAUSED": "#918BA9", "BREAKPOINT": "#918BA9",
    "RETRYING": "#FCB37C", "SUCCESS": "#029E73", "WARNING": "#DD5F00", "FAILED": "#E0001C",
    "KILLED": "#FCB37C", "CANCELLED": "#918BA9", "RETRIED": "#918BA9", "SKIPPED": "#918BA9",
    "RESUBMITTED": "#918BA9", "DISCONNECTED": "#6b7280",
}
LEVEL_COLORS: dict[str, str] = {
    "ERROR": "#E0001C", "WARN": "#DD5F00", "INFO": "#1761FD", "DEBUG": "#8405FF", "TRACE": "#918BA9",
}
TERMINAL = TERMINAL_STATES   # the one outcome table: kestra_magic.models.OUTCOMES
MAX_LOG_LINE = 400   # characters of one log line in the tail (a huge line must not bloat the widget)


def raw_of(obj: Any) -> dict:
    """The JSON dict behind a model (``.raw``) or the dict itself."""
    if obj is None:
        return {}
    raw = getattr(obj, "raw", obj)
    return raw if isinstance(raw, dict) else {}


def parse_date(value: Any) -> datetime | None:
    """An ISO-8601 instant from Kestra (``...Z``) as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def fmt_duration(seconds: float | None) -> str:
    """How views show a duration, as people read them: ``120 ms``, ``2.0 s``, ``1 min 3 s``,
    ``2 h 3 min`` (the one place that formats durations for views; frames keep Timedeltas)."""
    if seconds is None:
        return ""
    try:
        seconds = float(seconds.total_seconds()) if hasattr(seconds, "total_seconds") else float(seconds)
    except (TypeError, ValueError):
        return ""
    if seconds != seconds:   # NaN / NaT
        return ""
    seconds = max(0.0, seconds)
    if seconds < 0.9995:
        return f"{round(seconds * 1000)} ms"
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m} min {s} s" if s else f"{m} min"
    h, m = divmod(m, 60)
    return f"{h} h {m} min" if m else f"{h} h"


@dataclass
class TaskRow:
    """One task run as the widget shows it."""
    id: str
    task_id: str
    value: str
    state: str
    start: datetime | None
    end: datetime | None
    attempts: int
    parent_id: str | None = None

    def duration(self, now: datetime | None = None) -> float | None:
        if self.start is None:
            return None
        end = self.end or (now if self.state not in TERMINAL else None)
        return (end - self.start).total_seconds() if end else None


@dataclass
class RunView:
    """What the widget and summaries show of one execution, built from its JSON."""
    id: str
    namespace: str
    flow_id: str
    state: str
    start: datetime | None
    end: datetime | None
    task_runs: list[TaskRow] = field(default_factory=list)
    url: str | None = None
    outputs: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)

    @classmethod
    def of(cls, execution: Any, url: str | None = None) -> "RunView":
        raw = raw_of(execution)
        st = raw.get("state") or {}
        rows = []
        for tr in raw.get("taskRunList") or []:
            ts = tr.get("state") or {}
            value = tr.get("value")
            rows.append(TaskRow(
                id=tr.get("id", ""), task_id=tr.get("taskId", ""),
                value="" if value is None else str(value), state=ts.get("current", ""),
                start=parse_date(ts.get("startDate")) or _first_history(ts),
                end=parse_date(ts.get("endDate")) if ts.get("current") in TERMINAL else None,
                attempts=len(tr.get("attempts") or []) or 1, parent_id=tr.get("parentTaskRunId")))
        labels = raw.get("labels") or {}
        if isinstance(labels, list):
            labels = {x.get("key"): x.get("value") for x in labels if isinstance(x, dict)}
        current = st.get("current", "") or "CREATED"
        return cls(id=raw.get("id", ""), namespace=raw.get("namespace", ""),
                   flow_id=raw.get("flowId", ""), state=current,
                   start=parse_date(st.get("startDate")) or _first_history(st),
                   end=parse_date(st.get("endDate")) if current in TERMINAL else None,
                   task_runs=rows, url=url or raw.get("url") or getattr(execution, "url", None),
                   outputs=raw.get("outputs") or {}, labels=labels)

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    def elapsed(self, now: datetime | None = None) -> float | None:
        if self.start is None:
            return None
        end = self.end or now or datetime.now(timezone.utc)
        return max(0.0, (end - self.start).total_seconds())

    def progress(self) -> tuple[int, int]:
        """(finished, total) task runs."""
        done = sum(1 for r in self.task_runs if r.state in TERMINAL)
        return done, len(self.task_runs)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.task_runs:
            out[r.state] = out.get(r.state, 0) + 1
        return out


def _first_history(state: dict) -> datetime | None:
    hist = state.get("histories") or []
    return parse_date(hist[0].get("date")) if hist else None


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(state: str) -> str:
    color = STATE_COLORS.get(state, "#918BA9")
    return (f'<span class="km-badge" style="background:{color};color:#fff;border-radius:4px;'
            f'padding:1px 7px;font-size:0.85em;font-weight:600">{esc(state)}</span>')


def link(url: str | None, text: str) -> str:
    if not url:
        return esc(text)
    return f'<a href="{esc(url)}" target="_blank" rel="noopener">{esc(text)}</a>'


def header_html(view: RunView, note: str = "", now: datetime | None = None, *, clock: bool = True) -> str:
    """Flow, execution id (linked), state badge and elapsed time (unless ``clock`` is off) on one line."""
    el = fmt_duration(view.elapsed(now)) if clock else ""
    parts = [f"<b>{esc(view.namespace)}.{esc(view.flow_id)}</b>", link(view.url, view.id),
             badge(view.state)]
    if el:
        parts.append(f'<span class="km-elapsed">{esc(el)}</span>')
    if note:
        parts.append(f'<span class="km-note" style="color:#666">{esc(note)}</span>')
    return '<div class="km-header">' + " &nbsp; ".join(parts) + "</div>"


# The task table: bounded whatever the number of task runs (a ForEach over 10,000 values draws a few
# dozen rows). Loop iterations (several runs of one task under one parent) fold into one group row
# with their counts; top-level rows, and failed or running rows (URGENT_SHOWN at most per group), are
# always shown; the table scrolls inside a fixed height.
GROUP_MIN = 4            # this many runs of one task under one parent fold into a group row
URGENT = frozenset({"FAILED", "KILLED", "KILLING", "RUNNING", "RETRYING", "PAUSED", "BREAKPOINT"})
URGENT_SHOWN = 20        # failed/running runs of a group listed under its row
GROUP_LISTED = 25        # runs listed inside an expanded group (the newest ones)
TABLE_HEIGHT = "22em"
_TD = '<td style="padding:1px 10px 1px 0;text-align:left;white-space:nowrap">'


def task_rows(view: RunView) -> list[tuple]:
    """The table's rows in tree order: ``("row", TaskRow, depth)`` and ``("group", task_id,
    [TaskRow], depth)``; bounded by the flow's size, not by the number of task runs."""
    ids = {r.id for r in view.task_runs}
    children: dict[str | None, list[TaskRow]] = {}
    for r in view.task_runs:
        parent = r.parent_id if r.parent_id in ids else None
        children.setdefault(parent, []).append(r)
    out: list[tuple] = []

    def subtree_urgent(members: list[TaskRow]) -> list[TaskRow]:
        found, stack = [], list(members)
        while stack and len(found) < URGENT_SHOWN:
            r = stack.pop(0)
            if r.state in URGENT:
                found.append(r)
            stack.extend(children.get(r.id, ()))
        return found

    def emit(parent: str | None, depth: int) -> None:
        groups: dict[str, list[TaskRow]] = {}
        for r in children.get(parent, ()):
            groups.setdefault(r.task_id, []).append(r)
        for task_id, members in groups.items():
            if len(members) < GROUP_MIN or depth > 8:
                for r in members:
                    out.append(("row", r, depth))
                    emit(r.id, depth + 1)
            else:
                out.append(("group", task_id, members, depth))
                for r in subtree_urgent(members):
                    out.append(("row", r, depth + 1))
    emit(None, 0)
    return out


def group_counts(members: list[TaskRow]) -> str:
    """``200/200 SUCCESS`` or ``180/200: 176 SUCCESS, 4 FAILED, 20 RUNNING``."""
    counts: dict[str, int] = {}
    for r in members:
        counts[r.state] = counts.get(r.state, 0) + 1
    done = sum(v for k, v in counts.items() if k in TERMINAL)
    if len(counts) == 1:
        return f"{done}/{len(members)} {next(iter(counts))}"
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return f"{done}/{len(members)}: " + ", ".join(f"{v} {k}" for k, v in order)


def _row_html(r: TaskRow, depth: int, now: datetime) -> str:
    indent = f'<td style="padding:1px 10px 1px {depth * 14}px;text-align:left;white-space:nowrap">'
    return (f'<tr data-task-id="{esc(r.task_id)}" data-state="{esc(r.state)}">{indent}{esc(r.task_id)}</td>'
            f"{_TD}{esc(_short(r.value, 40))}</td>{_TD}{badge(r.state)}</td>"
            f"{_TD}{esc(fmt_duration(r.duration(now)))}</td>{_TD}{r.attempts}</td></tr>")


def _group_html(task_id: str, members: list[TaskRow], depth: int, now: datetime) -> str:
    listed = members[-GROUP_LISTED:]
    inner = "".join(_row_html(r, 0, now) for r in listed)
    more = (f'<div style="color:#666">the newest {len(listed)} of {len(members)} shown; '
            f"every run: .task_runs</div>" if len(members) > len(listed) else "")
    starts = [r.start for r in members if r.start is not None]
    ends = [r.end or (now if r.state not in TERMINAL else r.start) for r in members if r.start is not None]
    total = (max(ends) - min(starts)).total_seconds() if starts else None
    worst = next((s for s in ("FAILED", "KILLED", "RUNNING", "WARNING") if any(r.state == s for r in members)),
                 members[-1].state)
    return (f'<tr class="km-group" data-task-id="{esc(task_id)}" data-state="{esc(worst)}" '
            f'data-count="{len(members)}"><td colspan="5" style="padding:1px 0 1px {depth * 14}px;text-align:left">'
            f'<details><summary style="cursor:pointer">{esc(task_id)} &mdash; '
            f'<span class="km-group-counts">{esc(group_counts(members))}</span> '
            f'<span style="color:#666">{esc(fmt_duration(total))}</span></summary>'
            f'<table style="border-collapse:collapse;margin-left:14px">{inner}</table>{more}'
            f"</details></td></tr>")


def task_table_html(view: RunView, now: datetime | None = None, *, height: str = TABLE_HEIGHT) -> str:
    """Task runs as a tree (task, value, state, duration, attempt) in a fixed-height scrolling box:
    loop iterations grouped under their parent, failed/running and top-level rows always shown."""
    if not view.task_runs:
        return '<div class="km-tasks" style="color:#666">no task runs yet</div>'
    now = now or datetime.now(timezone.utc)
    body = "".join(_row_html(item[1], item[2], now) if item[0] == "row"
                   else _group_html(item[1], item[2], item[3], now) for item in task_rows(view))
    head = "".join(f'<th style="padding:1px 10px 1px 0;text-align:left;position:sticky;top:0;'
                   f'background:var(--jp-layout-color0, #fff)">{h}</th>'
                   for h in ("task", "value", "state", "duration", "attempt"))
    return (f'<div class="km-tasks-box" style="max-height:{height};overflow-y:auto;line-height:1.35">'
            '<table class="km-tasks" style="border-collapse:collapse;font-size:0.9em">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def log_line_text(entry: Any) -> str:
    raw = raw_of(entry) or {}
    if not raw and entry is not None:  # a LogEntry model without .raw
        raw = {"timestamp": getattr(entry, "timestamp", ""), "level": getattr(entry, "level", ""),
               "message": getattr(entry, "message", ""), "taskId": getattr(entry, "task_id", "")}
    ts = str(raw.get("timestamp") or "")[11:23]
    task = raw.get("taskId") or ""
    return _short(f"{ts} {raw.get('level') or '':5} {task + ': ' if task else ''}{raw.get('message') or ''}",
                  MAX_LOG_LINE)


LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR")


def level_at_least(entry: Any, min_level: str | None) -> bool:
    """Whether a log entry is at ``min_level`` or above (everything when None/"ALL")."""
    if not min_level or min_level == "ALL":
        return True
    raw = raw_of(entry)
    level = str((raw.get("level") if raw else getattr(entry, "level", "")) or "")
    return level in LEVELS and LEVELS.index(level) >= LEVELS.index(min_level)


def logs_html(entries: Iterable[Any], *, min_level: str | None = None, height: str = "14em") -> str:
    """The log tail, level-coloured, monospace, in a box pinned to the newest line (a reversed
    flex column starts scrolled to its end: no script needed, also in a saved notebook)."""
    lines = []
    for e in entries:
        if not level_at_least(e, min_level):
            continue
        raw = raw_of(e)
        level = (raw.get("level") if raw else getattr(e, "level", "")) or ""
        color = LEVEL_COLORS.get(str(level), "#333")
        lines.append(f'<div class="km-log" data-level="{esc(level)}" style="color:{color}">'
                     f"{esc(log_line_text(e))}</div>")
    if not lines:
        return ""
    return ('<div class="km-logs" style="font-family:monospace;font-size:0.8em;white-space:pre-wrap;'
            f'max-height:{height};overflow-y:auto;border-top:1px solid #ddd;display:flex;line-height:1.35;'
            'flex-direction:column-reverse"><div>' + "".join(lines) + "</div></div>")


def summary_text(view: RunView) -> str:
    """A one-line-per-fact plain-text summary (what a terminal or a text export shows)."""
    done, total = view.progress()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(view.counts().items()))
    lines = [f"{view.namespace}.{view.flow_id}  execution {view.id}  {view.state}"
             f"  {fmt_duration(view.elapsed())}".rstrip(),
             f"task runs: {done}/{total} finished" + (f" ({counts})" if counts else "")]
    if view.outputs:
        lines.append("outputs: " + ", ".join(sorted(map(str, view.outputs))))
    if view.url:
        lines.append(f"UI: {view.url}")
    return "\n".join(lines)


def summary_html(view: RunView, log_tail: Iterable[Any] = (), note: str = "", topology: str = "") -> str:
    """The static summary that replaces the live widget when the run ends (the same bounded,
    grouped table as the live view; the flow's topology in its final colours beside it)."""
    done, total = view.progress()
    outputs = ""
    if view.outputs:
        items = "".join(f"<li><code>{esc(k)}</code>: {esc(_short(v))}</li>"
                        for k, v in sorted(view.outputs.items(), key=lambda kv: str(kv[0])))
        outputs = f'<div>outputs:<ul style="margin:0">{items}</ul></div>'
    tail = logs_html(log_tail) + (f'<div style="color:#666">{esc(note)}</div>' if note else "")
    table = task_table_html(view)
    if topology:
        table = side_by_side(table, topology)
    return (f'<div class="km-summary" data-state="{esc(view.state)}">{header_html(view)}'
            f'<div>task runs: {done}/{total} finished</div>{table}{outputs}{tail}</div>')


def side_by_side(table: str, topology: str, height: str = TABLE_HEIGHT) -> str:
    """The task table and the topology picture next to each other (the picture scales down to the
    room left beside the table, and wraps below it on narrow outputs)."""
    return ('<div class="km-run-body" style="display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start">'
            f'<div style="flex:0 1 auto;min-width:0">{table}</div>'
            f'<div class="km-topology-box" style="flex:1 1 280px;max-width:520px;max-height:{height};overflow:auto">'
            f"{scalable(topology)}</div></div>")


def scalable(svg: str) -> str:
    """An inline SVG that shrinks to its box's width (its viewBox keeps the proportions)."""
    if svg.startswith('<svg style="max-width:100%'):
        return svg
    return svg.replace("<svg ", '<svg style="max-width:100%;height:auto" ', 1)


def _short(value: Any, n: int = 120) -> str:
    s = str(value)
    return s if len(s) <= n else s[: n - 1] + "…"


class Summary:
    """A static display object (HTML + text): what a saved notebook keeps of a finished run."""

    def __init__(self, view: RunView, log_tail: Iterable[Any] = (), note: str = "", topology: str = ""):
        self.view = view
        self.log_tail = list(log_tail)
        self.note = note
        self.topology = topology

    def _repr_html_(self) -> str:
        return summary_html(self.view, self.log_tail, self.note, self.topology)

    def __repr__(self) -> str:
        return summary_text(self.view) + (f"\n{self.note}" if self.note else "")


# -- DataFrames: Timedelta columns shown as people read them, the frame unchanged -----------------
def _timedelta_columns(df: Any) -> list:
    import pandas as pd
    return [c for c in df.columns if pd.api.types.is_timedelta64_dtype(df[c].dtype)]


def _durations_shown(df: Any) -> Any:
    """A shallow copy of the rows pandas would display, Timedelta columns as ``fmt_duration`` text;
    None when there is nothing to change (or the frame is too long to copy cheaply)."""
    import pandas as pd
    from kestra_magic.frames.tables import DURATIONS_DISPLAY
    if not df.attrs.get(DURATIONS_DISPLAY):
        return None             # a user's own frame: pandas' display, untouched
    cols = _timedelta_columns(df)
    max_rows = pd.get_option("display.max_rows")
    if not cols or (max_rows is not None and len(df) > max_rows):
        return None
    shown = df.copy(deep=False)
    for c in cols:
        shown[c] = [fmt_duration(v) for v in df[c]]
    return shown


def frame_html(df: Any) -> str | None:
    """``text/html`` of a DataFrame with its durations as ``120 ms``, ``2.0 s``, ``1 min 3 s``: the
    column keeps its Timedelta dtype, only the display changes (an IPython formatter, see
    ``kestra_magic.notebook.display``)."""
    shown = _durations_shown(df)
    return (shown if shown is not None else df)._repr_html_()
