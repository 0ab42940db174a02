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
    "RESUBMITTED": "#918BA9",
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
    """``0.4s``, ``12.3s``, ``4m 05s``, ``2h 03m``."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m {s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h {m:02d}m"


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


def header_html(view: RunView, note: str = "", now: datetime | None = None) -> str:
    """Flow, execution id (linked), state badge and elapsed time on one line."""
    el = fmt_duration(view.elapsed(now))
    parts = [f"<b>{esc(view.namespace)}.{esc(view.flow_id)}</b>", link(view.url, view.id),
             badge(view.state)]
    if el:
        parts.append(f'<span class="km-elapsed">{esc(el)}</span>')
    if note:
        parts.append(f'<span class="km-note" style="color:#666">{esc(note)}</span>')
    return '<div class="km-header">' + " &nbsp; ".join(parts) + "</div>"


def task_table_html(view: RunView, now: datetime | None = None, limit: int = 200) -> str:
    """Task runs (task, value, state, duration, attempt), newest last, at most ``limit`` rows."""
    if not view.task_runs:
        return '<div class="km-tasks" style="color:#666">no task runs yet</div>'
    now = now or datetime.now(timezone.utc)
    rows = view.task_runs[-limit:]
    td = '<td style="padding:1px 10px 1px 0;text-align:left">'
    body = "".join(
        f"<tr>{td}{esc(r.task_id)}</td>{td}{esc(r.value)}</td>{td}{badge(r.state)}</td>"
        f"{td}{esc(fmt_duration(r.duration(now)))}</td>{td}{r.attempts}</td></tr>" for r in rows)
    more = (f'<div style="color:#666">… {len(view.task_runs) - limit} earlier task runs not shown</div>'
            if len(view.task_runs) > limit else "")
    head = "".join(f'<th style="padding:1px 10px 1px 0;text-align:left">{h}</th>'
                   for h in ("task", "value", "state", "duration", "attempt"))
    return ('<table class="km-tasks" style="border-collapse:collapse;font-size:0.9em">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}")


def log_line_text(entry: Any) -> str:
    raw = raw_of(entry) or {}
    if not raw and entry is not None:  # a LogEntry model without .raw
        raw = {"timestamp": getattr(entry, "timestamp", ""), "level": getattr(entry, "level", ""),
               "message": getattr(entry, "message", ""), "taskId": getattr(entry, "task_id", "")}
    ts = str(raw.get("timestamp") or "")[11:23]
    task = raw.get("taskId") or ""
    return _short(f"{ts} {raw.get('level') or '':5} {task + ': ' if task else ''}{raw.get('message') or ''}",
                  MAX_LOG_LINE)


def logs_html(entries: Iterable[Any]) -> str:
    """The log tail, level-coloured, monospace."""
    lines = []
    for e in entries:
        raw = raw_of(e)
        level = (raw.get("level") if raw else getattr(e, "level", "")) or ""
        color = LEVEL_COLORS.get(str(level), "#333")
        lines.append(f'<div style="color:{color}">{esc(log_line_text(e))}</div>')
    if not lines:
        return ""
    return ('<div class="km-logs" style="font-family:monospace;font-size:0.8em;white-space:pre-wrap;'
            'max-height:14em;overflow-y:auto;border-top:1px solid #ddd">' + "".join(lines) + "</div>")


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


def summary_html(view: RunView, log_tail: Iterable[Any] = (), note: str = "") -> str:
    """The static summary that replaces the live widget when the run ends."""
    done, total = view.progress()
    outputs = ""
    if view.outputs:
        items = "".join(f"<li><code>{esc(k)}</code>: {esc(_short(v))}</li>"
                        for k, v in sorted(view.outputs.items(), key=lambda kv: str(kv[0])))
        outputs = f'<div>outputs:<ul style="margin:0">{items}</ul></div>'
    tail = logs_html(log_tail) + (f'<div style="color:#666">{esc(note)}</div>' if note else "")
    return (f'<div class="km-summary" data-state="{esc(view.state)}">{header_html(view)}'
            f'<div>task runs: {done}/{total} finished</div>{task_table_html(view)}{outputs}{tail}</div>')


def _short(value: Any, n: int = 120) -> str:
    s = str(value)
    return s if len(s) <= n else s[: n - 1] + "…"


class Summary:
    """A static display object (HTML + text): what a saved notebook keeps of a finished run."""

    def __init__(self, view: RunView, log_tail: Iterable[Any] = (), note: str = ""):
        self.view = view
        self.log_tail = list(log_tail)
        self.note = note

    def _repr_html_(self) -> str:
        return summary_html(self.view, self.log_tail, self.note)

    def __repr__(self) -> str:
        return summary_text(self.view) + (f"\n{self.note}" if self.note else "")
