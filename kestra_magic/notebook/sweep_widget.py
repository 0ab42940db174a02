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
    """``sweep: 12/40 finished, 2 failed (RUNNING 8, SUCCESS 10, ...) 3.2s``."""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(p.states.items()))
    failed = f", {p.failed} failed" if p.failed else ""
    return f"sweep: {p.finished}/{p.total} finished{failed} ({counts}) {fmt_duration(p.elapsed)}"


def progress_html(p: Any) -> str:
    chips = " ".join(
        f'<span class="km-badge" style="background:{STATE_COLORS.get(k, "#918BA9")};color:#fff;'
        f'border-radius:4px;padding:1px 6px">{esc(k)} {v}</span>' for k, v in sorted(p.states.items()))
    return (f'<div class="km-sweep">sweep: <b>{p.finished}/{p.total}</b> finished'
            f'{f", {p.failed} failed" if p.failed else ""} &nbsp; {chips} &nbsp; {esc(fmt_duration(p.elapsed))}</div>')


class SweepView:
    """``on_progress`` callback showing a sweep's progress (widget in a kernel, else text lines)."""

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
        self.bar = w.IntProgress(min=0, max=1, value=0, description="sweep")
        self.label = w.HTML()
        self.box = w.VBox([self.bar, self.label])
        if self._display is not None:
            self._display(self.box)
        else:
            from IPython.display import display
            display(self.box)

    def __call__(self, progress: Any) -> None:
        with self._lock:
            self.last_progress = progress
            now = time.monotonic()
            wait = self.interval if self.use_widget else self.text_interval
            # final: every run launched and ended (runs not launched yet are not "finished")
            final = progress.done and not progress.states.get("PENDING")
            key = (progress.finished, progress.failed, tuple(sorted(progress.states.items())))
            if key == self._drawn or (not final and now - self._last < wait):
                return
            self._drawn = key
            self._last = now
            self.draws += 1
            if not self.use_widget:
                self.out(progress_line(progress))
                return
            if self.box is None:
                self._show()
            with self.bar.hold_sync():
                self.bar.max = max(progress.total, 1)
                self.bar.value = progress.finished - progress.states.get("PENDING", 0)
                self.bar.bar_style = ("danger" if progress.failed else "success") if final else "info"
            self.label.value = progress_html(progress)
