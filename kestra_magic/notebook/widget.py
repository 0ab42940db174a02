"""The live execution view: an ipywidgets panel (or text lines without a widget front end).

``Monitor`` ties an ``ExecutionFollower`` (background SSE/polling + log tail) to a view, draws at a
bounded front-end message rate, handles Ctrl-C, and replaces the widget by a static summary at the end.
"""
from __future__ import annotations

import collections
import threading
import time
from datetime import datetime
from typing import Any, Callable

from kestra_magic.follow import ExecutionFollower
from kestra_magic.render import (
    TERMINAL, RunView, Summary, fmt_duration, header_html, logs_html, summary_text,
    task_table_html,
)


def has_widget_frontend() -> bool:
    """True inside a Jupyter kernel (a front end that can show widgets); False in terminal/python."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class ExecutionWidget:
    """The ipywidgets panel: header (flow, linked id, state badge, elapsed), progress bar, task-run
    table, log tail, and Kill / Resume / Open-in-UI controls. ``render`` only sends changed values."""

    def __init__(self, handle: Any):
        import ipywidgets as w
        self.handle = handle
        self.header = w.HTML()
        self.progress = w.IntProgress(min=0, max=1, value=0, description="tasks",
                                      layout=w.Layout(width="60%"))
        self.tasks = w.HTML()
        self.logs = w.HTML()
        self.message = w.HTML()
        self.kill_button = w.Button(description="Kill", button_style="danger", icon="stop")
        self.resume_button = w.Button(description="Resume", button_style="success", icon="play")
        self.resume_inputs = w.VBox()
        self.resume_box = w.VBox([self.resume_inputs, self.resume_button],
                                 layout=w.Layout(display="none"))
        self.open_link = w.HTML()
        self.controls = w.HBox([self.kill_button, self.resume_box, self.open_link])
        self.box = w.VBox([self.header, self.progress, self.tasks, self.logs, self.controls,
                           self.message])
        self.kill_button.on_click(lambda _b: self.on_kill())
        self.resume_button.on_click(lambda _b: self.on_resume())
        self._pause_key: str | None = None
        self.note = ""
        self.note_while = ""   # keep ``note`` only while the execution is in this state
        self.blocking = False  # the cell waits: a busy kernel delivers no button clicks meanwhile

    # -- user actions ------------------------------------------------------------------------
    def on_kill(self) -> None:
        try:
            self.handle.kill()
            self.message.value = "kill requested"
        except Exception as err:  # show, don't raise into the comm handler
            self.message.value = f'<span style="color:#E0001C">{_esc(err)}</span>'

    def on_resume(self) -> None:
        values = {}
        for child in self.resume_inputs.children:
            key = getattr(child, "input_id", None)
            if key and str(child.value) != "":
                values[key] = child.value
        try:
            self.handle.resume(values or None)
            self.message.value = "resume requested"
            self.resume_box.layout.display = "none"
        except Exception as err:
            self.message.value = f'<span style="color:#E0001C">{_esc(err)}</span>'

    # -- drawing -----------------------------------------------------------------------------
    def render(self, view: RunView, log_tail: list, now: datetime | None = None) -> int:
        """Bring every child up to date; returns how many front-end messages that cost."""
        sent = 0
        if self.note_while and view.state != self.note_while:  # e.g. the "paused" hint after resume
            self.note = self.note_while = ""
        note = self.note or (BUSY_NOTE if self.blocking and not view.is_terminal else "")
        sent += _set(self.header, "value", header_html(view, note, now))
        done, total = view.progress()
        style = {"SUCCESS": "success", "WARNING": "warning", "FAILED": "danger",
                 "KILLED": "danger"}.get(view.state, "info")
        if (self.progress.max, self.progress.value, self.progress.bar_style) != (max(total, 1), done, style):
            with self.progress.hold_sync():  # several traits, one message
                self.progress.max = max(total, 1)
                self.progress.value = done
                self.progress.bar_style = style
            sent += 1
        sent += _set(self.tasks, "value", task_table_html(view, now))
        sent += _set(self.logs, "value", logs_html(log_tail))
        if view.url and not self.open_link.value:
            sent += _set(self.open_link, "value", f'<a href="{_esc(view.url)}" target="_blank" rel="noopener" '
                                                  f'class="jupyter-button" style="padding:4px 10px">Open in UI</a>')
        sent += _set(self.kill_button.layout, "display", "none" if view.is_terminal else "")
        paused = view.state in ("PAUSED", "BREAKPOINT")
        if paused and self._pause_key != view.state:
            self._pause_key = view.state
            sent += self._build_resume_inputs()
        if not paused:
            self._pause_key = None
        sent += _set(self.resume_box.layout, "display", "" if paused else "none")
        return sent

    def _build_resume_inputs(self) -> int:
        import ipywidgets as w
        fields = []
        try:
            specs = self.handle.pause_inputs()
        except Exception as err:   # show, don't kill the render thread: Resume still works without inputs
            self.message.value = f'<span style="color:#E0001C">resume inputs unavailable: {_esc(err)}</span>'
            specs = []
        for spec in specs:
            default = spec.get("defaults")
            text = w.Text(value="" if default is None else str(default),
                          description=str(spec.get("id")), placeholder=str(spec.get("type", "")))
            text.input_id = spec.get("id")
            fields.append(text)
        self.resume_inputs.children = fields
        return 1 + len(fields)


BUSY_NOTE = "the cell waits for the end: interrupt the kernel (■) to stop waiting; the buttons work once it is idle"


def _set(obj: Any, name: str, value: Any) -> int:
    if getattr(obj, name) == value:
        return 0
    setattr(obj, name, value)
    return 1


def _esc(value: Any) -> str:
    import html
    return html.escape(str(value))


class TextView:
    """Status as plain text lines (terminal IPython, plain python, or ``widget=off``)."""

    def __init__(self, out: Callable[[str], None] = print):
        self.out = out
        self._last_state = ""
        self._task_states: dict[str, str] = {}

    def render(self, view: RunView) -> int:
        lines = 0
        if view.state != self._last_state:
            self._last_state = view.state
            done, total = view.progress()
            self.out(f"{_clock()} {view.namespace}.{view.flow_id} {view.id} {view.state}"
                     f" ({done}/{total} task runs, {fmt_duration(view.elapsed())})")
            lines += 1
        for r in view.task_runs:
            if self._task_states.get(r.id) != r.state and r.state in TERMINAL | {"RUNNING", "PAUSED"}:
                self._task_states[r.id] = r.state
                value = f"[{r.value}]" if r.value else ""
                self.out(f"{_clock()}   {r.task_id}{value} {r.state} {fmt_duration(r.duration())}".rstrip())
                lines += 1
        return lines


def _ipython_display(obj: Any) -> Any:
    """Show ``obj`` and return the handle that later replaces it with the summary."""
    from IPython.display import display
    return display(obj, display_id=True)


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


class Monitor:
    """Follows one execution and shows it live; ``block()`` waits for the end (Ctrl-C detaches)."""

    def __init__(self, handle: Any, *, widget: bool | None = None, max_messages_per_second: float = 10.0,
                 poll_interval: float = 1.0, log_lines: int = 30, out: Callable[[str], None] = print,
                 display: Callable[..., Any] | None = None):
        self.handle = handle
        self.use_widget = has_widget_frontend() if widget is None else widget
        self.max_rate = max(0.5, float(max_messages_per_second))
        self.out = out
        self.follower = ExecutionFollower(handle.client, handle.execution, poll_interval=poll_interval,
                                          log_lines=log_lines, logs=self.use_widget)
        self.widget: ExecutionWidget | None = None
        self.text: TextView | None = None
        self.display_handle: Any = None
        self.messages = 0          # front-end messages sent by renders (widget mode)
        self.renders = 0
        self.finished = threading.Event()   # the final view (summary) is in place
        self.detached = False
        self._display = display
        self._render_thread: threading.Thread | None = None
        self._render_lock = threading.Lock()
        self._sent: collections.deque = collections.deque()   # (time, messages) of recent draws

    # -- start / stop ------------------------------------------------------------------------
    def start(self) -> "Monitor":
        view = self._view()
        if self.use_widget:
            self.widget = ExecutionWidget(self.handle)
            with self._render_lock:
                sent = self.widget.render(view, [])
                self.messages += sent
                self._sent.append((time.monotonic(), sent))
            show = self._display or _ipython_display
            self.display_handle = show(self.widget.box)
        else:
            self.text = TextView(self.out)
            self.text.render(view)
        self.follower.start()
        if self.use_widget:
            self._render_thread = threading.Thread(target=self._render_loop, daemon=True,
                                                   name=f"kestra-widget-{self.handle.id}")
            self._render_thread.start()
        return self

    def _view(self) -> RunView:
        return RunView.of(self.follower.latest if hasattr(self, "follower") else self.handle.execution,
                          self.handle.url)

    def _render_loop(self) -> None:
        """Draw when something changed (or each second for the clock), keeping every one-second
        window at or under ``max_rate`` front-end messages whatever the event rate."""
        seen = (-1, -1)
        last_second = -1
        while True:
            with self.follower.changed:
                self.follower.changed.wait(timeout=0.25)
            self._wait_for_budget()
            if self.follower.done.is_set():
                break
            key = (self.follower.updates, self.follower.log_count)
            second = int(time.monotonic())
            if key == seen and second == last_second:
                continue
            seen, last_second = key, second
            self._render_once()
        self._wait_for_budget()
        self._finish()

    def _wait_for_budget(self) -> None:
        """Sleep until a draw as large as the largest recent one fits in the trailing second."""
        history = self._sent
        expected = max([k for _, k in history] or [4])
        while True:
            now = time.monotonic()
            while history and history[0][0] <= now - 1.0:
                history.popleft()
            used = sum(k for _, k in history)
            if used + expected <= self.max_rate or not history:
                return
            time.sleep(max(0.01, history[0][0] + 1.0 - now))

    def _render_once(self) -> int:
        self.handle.execution = self.follower.latest
        with self._render_lock:
            sent = self.widget.render(self._view(), list(self.follower.logs))
            self.messages += sent
            self.renders += 1
            if sent:
                self._sent.append((time.monotonic(), sent))
        return sent

    def _finish(self) -> None:
        """Final draw, then (if the run ended) swap the widget for a static HTML+text summary."""
        self.handle.execution = self.follower.latest
        view = self._view()
        if self.follower.lost:
            from kestra_magic.notebook.errors import one_line
            note = f"lost contact with the server ({one_line(self.follower.error)}); {self.handle.id} may still run"
            if self.widget is not None:
                self.widget.note = note
            elif not self.detached:
                self.out(note)
        if self.widget is not None:
            logs = self.follower.final_logs() if view.is_terminal else list(self.follower.logs)
            with self._render_lock:
                sent = self.widget.render(view, logs)
                self.messages += sent
                self._sent.append((time.monotonic(), sent))
            if view.is_terminal and self.display_handle is not None:
                try:
                    note = ("log tail incomplete: the log stream lagged behind this chatty run; "
                            ".logs() on the handle reads every line") if self.follower.tail_incomplete else ""
                    self.display_handle.update(Summary(view, logs[-10:], note))
                except Exception:
                    pass
        elif self.text is not None and not self.detached:
            self.text.render(view)
            if view.is_terminal:
                self.out(summary_text(view))
        self.finished.set()

    def stop(self) -> None:
        self.follower.stop()

    # -- waiting -----------------------------------------------------------------------------
    def block(self, timeout: float | None = None) -> str:
        """Wait for the end. Returns "done", "timeout", "interrupted" (Ctrl-C, within ~0.1 s) or
        "paused": a PAUSED run waits for a person, and a busy kernel cannot receive the Resume
        button's click, so the cell returns and the live view stays."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = -1
        if self.widget is not None and has_widget_frontend():
            self.widget.blocking = True   # only a real kernel is deaf while busy (tests click directly)
        try:
            while not self.follower.done.wait(0.1):
                self.handle.execution = self.follower.latest
                if self.text is not None and self.follower.updates != seen:
                    seen = self.follower.updates
                    self.text.render(self._view())
                if self.handle.is_paused:
                    return "paused"
                if deadline is not None and time.monotonic() >= deadline:
                    return "timeout"
            if self.text is not None:
                self._finish()
            self.finished.wait(5)
            return "done"
        except KeyboardInterrupt:
            return "interrupted"
        finally:
            if self.widget is not None:
                self.widget.blocking = False

    def detach(self, note: str, *, while_state: str = "") -> None:
        """Stop waiting: the widget keeps following in the background (showing ``note``, only
        while the execution stays in ``while_state`` if given); text output stops."""
        self.detached = True
        if self.widget is not None:
            self.widget.note = note
            self.widget.note_while = while_state
            self._render_once()
        else:
            self.follower.stop()
            self.out(note)


def watch(run: Any, timeout: float | None = None, *, wait: bool = True) -> Any:
    """Show ``run`` live (the widget in Jupyter, text lines in a terminal or plain ``python``) and,
    unless ``wait=False``, block until it ends, pauses or ``timeout`` passes; returns the run."""
    mon = Monitor(run)
    run._monitor = mon
    mon.start()
    if wait:
        outcome = mon.block(timeout)
        run.execution = mon.follower.latest
        if outcome != "done":
            mon.detach(f"stopped watching execution {run.id} ({outcome}, {run.state}); "
                       f"km.watch(run) or run.wait() again to re-attach")
    return run
