"""Progress of a parameter sweep: a bar with per-state counts (ipywidgets) or text lines.

Pass an instance as ``on_progress`` to ``client.sweep`` / ``km.sweep``;
it draws at a bounded rate (the final state is always drawn), so a sweep of thousands of runs does
not flood the front end.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from kestra_magic.render import STATE_COLORS, esc, fmt_duration


def progress_line(p: Any) -> str:
    """``sweep: 12/40 finished, 2 failed (RUNNING 8, SUCCESS 10, ...) 3.2 s``."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(p.states.items()))
    failed = f", {p.failed} failed" if p.failed else ""
    return f"sweep: {p.finished}/{p.total} finished{failed} ({counts}) {fmt_duration(p.elapsed)}"


FAILURES_LISTED = 10


def progress_html(p: Any) -> str:
    """Counts per state, the clock, and the failed rows with their reason and a link (the first few)."""
    chips = " ".join(
        f'<span class="km-badge" style="background:{STATE_COLORS.get(k, "#918BA9")};color:#fff;'
        f'border-radius:4px;padding:1px 6px">{esc(k)} {v}</span>' for k, v in sorted(p.states.items()))
    failures = ""
    listed = list(getattr(p, "failures", None) or [])[:FAILURES_LISTED]
    if listed:
        items = "".join(
            f'<li class="km-sweep-failure">row {f["row"]}: '
            + (f'<a href="{esc(f["url"])}" target="_blank" rel="noopener">{esc(f["id"])}</a> ' if f.get("url")
               else (f'{esc(f["id"])} ' if f.get("id") else ""))
            + f'{esc(f.get("error") or "")}</li>' for f in listed)
        more = (f'<li style="color:#666">… {p.failed - len(listed)} more: the frame\'s error column has all</li>'
                if p.failed > len(listed) else "")
        failures = f'<ul style="margin:2px 0;font-size:0.9em">{items}{more}</ul>'
    return (f'<div class="km-sweep">sweep: <b>{p.finished}/{p.total}</b> finished'
            f'{f", {p.failed} failed" if p.failed else ""} &nbsp; {chips} &nbsp; '
            f'<span class="km-elapsed">{esc(fmt_duration(p.elapsed))}</span>{failures}</div>')


class SweepView:
    """``on_progress`` callback showing a sweep's progress (widget in a kernel, else text lines):
    a bar in proportion (green successes, red failures, grey still to come), the counts, a clock
    that ticks while runs go on, and the failed rows with links."""

    def __init__(self, *, widget: bool | None = None, updates_per_second: float = 4.0,
                 out: Callable[[str], None] = print, display: Callable[[Any], Any] | None = None):
        from kestra_magic.notebook.widget import has_widget_frontend
        self.use_widget = has_widget_frontend() if widget is None else widget
        self.interval = 1.0 / max(0.1, updates_per_second)
        self.text_interval = 2.0
        self.out = out
        self._display = display
        self._last = 0.0
        self._drawn: tuple | None = None
        self._lock = threading.Lock()
        self.last_progress: Any = None
        self.draws = 0
        self.bar = self.label = self.box = None

    def _show(self) -> None:
        import ipywidgets as w
        self.bar = w.HTML()
        self.label = w.HTML()
        self.box = w.VBox([self.bar, self.label])
        if self._display is not None:
            self._display(self.box)
        else:
            from IPython.display import display
            display(self.box)

    def __call__(self, progress: Any) -> None:
        from kestra_magic.notebook.widget import progress_bar_html
        with self._lock:
            self.last_progress = progress
            now = time.monotonic()
            wait = self.interval if self.use_widget else self.text_interval
            # final: every run launched and ended (runs not launched yet are not "finished")
            final = progress.done and not progress.states.get("PENDING")
            key = (progress.finished, progress.failed, tuple(sorted(progress.states.items())),
                   tuple((f["id"], f["error"], f["url"]) for f in (progress.failures or [])[:FAILURES_LISTED]))
            clock = int(progress.elapsed) if self.use_widget else None   # the widget's clock ticks
            if (key, clock) == self._drawn or (not final and now - self._last < wait):
                return
            self._drawn = (key, clock)
            self._last = now
            self.draws += 1
            if not self.use_widget:
                self.out(progress_line(progress))
                if final:
                    for f in (progress.failures or [])[:FAILURES_LISTED]:
                        self.out(f"  row {f['row']}: {f['id'] or ''} {f['error'] or ''}".rstrip()
                                 + (f" {f['url']}" if f.get("url") else ""))
                return
            if self.box is None:
                self._show()
            states = {k: v for k, v in progress.states.items() if k != "LAUNCH_ERROR"}
            if progress.states.get("LAUNCH_ERROR"):
                states["FAILED"] = states.get("FAILED", 0) + progress.states["LAUNCH_ERROR"]
            self.bar.value = progress_bar_html(states, progress.total)
            self.label.value = progress_html(progress)
