"""The live execution view: an ipywidgets panel (or text lines without a widget front end).

``Monitor`` ties an ``ExecutionFollower`` (background SSE/polling + log tail) to a view, draws at a
bounded front-end message rate, handles Ctrl-C, and replaces the widget by a static summary at the end.
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from kestra_magic.errors import KestraError
from kestra_magic.follow import ExecutionFollower
from kestra_magic.render import (
    TERMINAL, RunView, Summary, fmt_duration, header_html, logs_html, scalable, summary_text,
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


def deliver_clicks_mid_cell(widget: Any) -> bool:
    """Let the front end's messages to ``widget`` (a click, a changed value) be handled while a cell
    blocks: keep them on the kernel subshell the front end sent them on. ipykernel 7 otherwise routes
    them to the subshell of the comm's last published message, i.e. the busy main shell
    (``ipykernel/kernelbase.py`` ``shell_channel_thread_main`` asks ``comm._reply_subshell_for``, which
    answers the subshell that last published on that comm: measured on ipykernel 7.4). False where
    the kernel has no such hook (ipykernel < 7, no kernel): messages then wait for the cell, and the
    view says so."""
    comm = getattr(widget, "comm", None)
    if comm is None or not callable(getattr(comm, "_reply_subshell_for", None)):
        return False
    comm._reply_subshell_for = lambda data, default: default
    return True


def progress_bar_html(counts: dict[str, int], total: int, *, width: str = "60%") -> str:
    """A bar in proportion: one coloured part per finished state (green successes, red failures...),
    the rest grey; ``data-state`` on each part so a test reads it without pixels."""
    from kestra_magic.render import STATE_COLORS, TERMINAL, esc
    order = ["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"]
    total = max(total, 1)
    parts = []
    for state in sorted((s for s in counts if s in TERMINAL), key=lambda s: order.index(s) if s in order else 99):
        pct = 100.0 * counts[state] / total
        parts.append(f'<div class="km-progress-part" data-state="{esc(state)}" data-count="{counts[state]}" '
                     f'title="{counts[state]} {esc(state)}" style="width:{pct:.3f}%;'
                     f'background:{STATE_COLORS.get(state, "#918BA9")}"></div>')
    return (f'<div class="km-progress" style="display:flex;width:{width};height:10px;background:#e5e7eb;'
            f'border-radius:3px;overflow:hidden;margin:4px 0">{"".join(parts)}</div>')


class ExecutionWidget:
    """The ipywidgets panel: header (flow, linked id, state badge, elapsed), a bar in proportion,
    the grouped task table beside the flow's topology in state colours, the log tail (level filter,
    all logs), and Kill / Resume / Open-in-UI. ``render`` only sends changed values.

    Button callbacks may run on a kernel subshell thread while the cell blocks
    (``deliver_clicks_mid_cell``): they only send the HTTP request and leave a message for the next
    draw; every widget value is set by ``render``."""

    def __init__(self, handle: Any):
        import ipywidgets as w
        self.handle = handle
        self.header = w.HTML()
        self.progress = w.HTML()
        self.tasks = w.HTML(layout=w.Layout(flex="0 1 auto", min_width="0"))
        self.topology = w.HTML(layout=w.Layout(flex="1 1 280px", max_width="520px", max_height="22em",
                                               overflow="auto"))
        self.body = w.HBox([self.tasks, self.topology],
                           layout=w.Layout(flex_flow="row wrap", align_items="flex-start", grid_gap="16px"))
        self.level = w.Dropdown(options=["ALL", "DEBUG", "INFO", "WARN", "ERROR"], value="ALL",
                                description="logs", layout=w.Layout(width="160px"))
        self.all_logs = w.ToggleButton(value=False, description="all logs", icon="list",
                                       tooltip="every log line of this run (run.logs() reads them as a frame)")
        self.log_bar = w.HBox([self.level, self.all_logs])
        self.logs = w.HTML()
        self.message = w.HTML()
        self.kill_button = w.Button(description="Kill", button_style="danger", icon="stop")
        self.resume_button = w.Button(description="Resume", button_style="success", icon="play")
        self.resume_inputs = w.VBox()
        self.resume_box = w.VBox([self.resume_inputs, self.resume_button],
                                 layout=w.Layout(display="none"))
        self.open_link = w.HTML()
        self.controls = w.HBox([self.kill_button, self.resume_box, self.open_link])
        self.box = w.VBox([self.header, self.progress, self.body, self.log_bar, self.logs, self.controls,
                           self.message])
        self.kill_button.on_click(lambda _b: self.on_kill())
        self.resume_button.on_click(lambda _b: self.on_resume())
        # clicks and filter changes act while the cell blocks, where the kernel allows it
        self.live_clicks = all([deliver_clicks_mid_cell(x) for x in
                                (self.kill_button, self.resume_button, self.level, self.all_logs)])
        self._pause_key: str | None = None
        self._pending: list[str] = []        # messages from callbacks, drawn by the next render
        self.note = ""
        self.note_while = ""   # keep ``note`` only while the execution is in this state
        self.note_until_end = False   # keep ``note`` only until the run ends (a "detached" hint)
        self.blocking = False  # the cell waits: see ``busy_note``
        self.connection = ""   # "" (fine), "retrying (n)", or "lost"
        self.log_entries: list | None = None   # every line ("all logs"), read by the monitor
        self.flow_source: Any = None            # the flow (for the topology), read by the monitor
        self._topology_key: Any = None
        self.changed = None    # set by the Monitor: a callback to wake its render loop

    # -- user actions (any thread) -------------------------------------------------------------
    def _say(self, text: str) -> None:
        self._pending.append(text)
        if self.changed is not None:
            self.changed()

    def on_kill(self) -> None:
        try:
            self.handle.kill()
            self._say("kill requested")
        except Exception as err:  # show, don't raise into the comm handler
            self._say(f'<span style="color:#E0001C">{_esc(err)}</span>')

    def on_resume(self) -> None:
        values = {}
        for child in self.resume_inputs.children:
            key = getattr(child, "input_id", None)
            if key and str(child.value) != "":
                values[key] = child.value
        try:
            self.handle.resume(values or None)
            self._say("resume requested")
        except Exception as err:
            self._say(f'<span style="color:#E0001C">{_esc(err)}</span>')

    # -- drawing -----------------------------------------------------------------------------
    def busy_note(self, state: str = "") -> str:
        if self.live_clicks and state in ("PAUSED", "BREAKPOINT"):
            return ("paused: the cell waits for the end — Resume below (JupyterLab ≥ 4.4; where the button "
                    "does not respond, ■ stops waiting and the click then applies)")
        if self.live_clicks:
            return ("the cell waits for the end; Kill acts now in JupyterLab ≥ 4.4 — where it does not, "
                    "■ stops waiting and the click then applies")
        return ("the cell waits for the end: press ■ (interrupt) to stop waiting, the run goes on "
                "(--kill-on-interrupt kills it); the buttons work once the cell is idle")

    def render(self, view: RunView, log_tail: list, now: datetime | None = None) -> int:
        """Bring every child up to date; returns how many front-end messages that cost."""
        sent = 0
        if self.note_while and view.state != self.note_while:  # e.g. the "paused" hint after resume
            self.note = self.note_while = ""
        if self.note_until_end and view.is_terminal:           # no "detached" next to KILLED
            self.note, self.note_until_end = "", False
        lost = self.connection == "lost"
        shown = view
        if lost and not view.is_terminal:
            shown = dataclasses.replace(view, state="DISCONNECTED", end=None)
            self._lost_at = getattr(self, "_lost_at", None) or datetime.now(timezone.utc)
            now = self._lost_at           # durations stop where the last answer left them
        if self.connection and not lost:
            note = f"connection lost — {self.connection}"
        elif lost:
            note = self.note or "lost contact with the server"
        else:
            note = self.note or (self.busy_note(view.state) if self.blocking and not view.is_terminal else "")
        sent += _set(self.header, "value", header_html(shown, note, now, clock=not lost))
        done, total = view.progress()
        sent += _set(self.progress, "value", progress_bar_html(view.counts(), total))
        sent += _set(self.tasks, "value", task_table_html(view, now))
        sent += self._draw_topology(view)
        entries = self.log_entries if self.all_logs.value and self.log_entries is not None else log_tail
        sent += _set(self.logs, "value", logs_html(entries, min_level=self.level.value,
                                                   height="28em" if self.all_logs.value else "14em"))
        if view.url and not self.open_link.value:
            sent += _set(self.open_link, "value", f'<a href="{_esc(view.url)}" target="_blank" rel="noopener" '
                                                  f'class="jupyter-button" style="padding:4px 10px">Open in UI</a>')
        sent += _set(self.kill_button.layout, "display", "none" if view.is_terminal or lost else "")
        dead = self.blocking and not self.live_clicks and not view.is_terminal
        sent += _set(self.kill_button, "disabled", dead)
        sent += _set(self.kill_button, "description", "Kill (after ■)" if dead else "Kill")
        paused = view.state in ("PAUSED", "BREAKPOINT") and not lost
        if paused and self._pause_key != view.state:
            self._pause_key = view.state
            sent += self._build_resume_inputs()
        if not paused:
            self._pause_key = None
        sent += _set(self.resume_box.layout, "display", "" if paused else "none")
        sent += _set(self.resume_button, "disabled", dead)
        while self._pending:
            sent += _set(self.message, "value", self._pending.pop(0))
        return sent

    def _draw_topology(self, view: RunView) -> int:
        """The flow's picture with each task's state colour (redrawn only when a state changes)."""
        if self.flow_source is None:
            return 0
        from kestra_magic.notebook.topology import task_states, topology_svg
        states = task_states([{"taskId": r.task_id, "state": r.state} for r in view.task_runs])
        key = tuple(sorted(states.items()))
        if key == self._topology_key:
            return 0
        self._topology_key = key
        try:
            svg = scalable(topology_svg(self.flow_source, states))
        except Exception as err:   # a picture never breaks the live view
            svg = f'<span style="color:#666">no topology: {_esc(err)}</span>'
        return _set(self.topology, "value", svg)

    def topology_svg(self, view: RunView) -> str:
        """The final picture for the static summary ("" without a flow)."""
        self._topology_key = None
        self._draw_topology(view)
        return self.topology.value if self.flow_source is not None else ""

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
            deliver_clicks_mid_cell(text)
            fields.append(text)
        self.resume_inputs.children = fields
        return 1 + len(fields)


def _set(obj: Any, name: str, value: Any) -> int:
    if getattr(obj, name) == value:
        return 0
    setattr(obj, name, value)
    return 1


def _esc(value: Any) -> str:
    import html
    return html.escape(str(value))


class TextView:
    """Status as plain text lines (terminal IPython, plain python, or ``widget=off``): one line per
    task-run transition, except loop iterations (grouped as in the table): those print a count line
    as the group moves by a tenth or ends, and a line for each failed iteration."""

    def __init__(self, out: Callable[[str], None] = print):
        self.out = out
        self._last_state = ""
        self._task_states: dict[str, str] = {}
        self._groups: dict[tuple, int] = {}

    def render(self, view: RunView) -> int:
        from kestra_magic.render import task_rows
        lines = 0
        if view.state != self._last_state:
            self._last_state = view.state
            done, total = view.progress()
            self.out(f"{_clock()} {view.namespace}.{view.flow_id} {view.id} {view.state}"
                     f" ({done}/{total} task runs, {fmt_duration(view.elapsed())})")
            lines += 1
        group_depth = None      # rows deeper than this follow a group row: they are its members
        for item in task_rows(view):
            depth = item[-1]
            if group_depth is not None and depth <= group_depth:
                group_depth = None
            if item[0] == "group":
                group_depth = depth
                lines += self._group_line(item[1], item[2])
                continue
            r = item[1]
            wanted = TERMINAL | {"RUNNING", "PAUSED"} if group_depth is None else {"FAILED", "KILLED"}
            if self._task_states.get(r.id) != r.state and r.state in wanted:
                self._task_states[r.id] = r.state
                value = f"[{r.value}]" if r.value else ""
                self.out(f"{_clock()}   {r.task_id}{value} {r.state} {fmt_duration(r.duration())}".rstrip())
                lines += 1
        return lines

    def _group_line(self, task_id: str, members: list) -> int:
        from kestra_magic.render import group_counts
        key = (task_id, members[0].parent_id)
        done = sum(1 for r in members if r.state in TERMINAL)
        step = max(1, len(members) // 10)
        last = self._groups.get(key)
        if last is not None and done // step == last // step and not (done == len(members) and last != done):
            return 0
        self._groups[key] = done
        self.out(f"{_clock()}   {task_id} — {group_counts(members)}")
        return 1


def _ipython_display(obj: Any) -> Any:
    """Show ``obj`` and return the handle that later replaces it with the summary."""
    from IPython.display import display
    return display(obj, display_id=True)


def _clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


GIVE_UP_AFTER = 60.0   # seconds without an answer before a view says DISCONNECTED (the run may go on)
SUMMARY_LOG_LINES = 10  # the static summary's log tail
ALL_LOGS_LINES = 2000   # "all logs" shows at most this many (the newest); run.logs() has every one


class Monitor:
    """Follows one execution and shows it live; ``block()`` waits for the end (Ctrl-C detaches)."""

    def __init__(self, handle: Any, *, widget: bool | None = None, max_messages_per_second: float = 10.0,
                 poll_interval: float = 1.0, log_lines: int = 30, out: Callable[[str], None] = print,
                 display: Callable[..., Any] | None = None, give_up_after: float | None = None):
        self.handle = handle
        self.use_widget = has_widget_frontend() if widget is None else widget
        self.max_rate = max(0.5, float(max_messages_per_second))
        self.out = out
        self.follower = ExecutionFollower(handle.client, handle.execution, poll_interval=poll_interval,
                                          log_lines=log_lines, logs=self.use_widget)
        self.follower.give_up_after = GIVE_UP_AFTER if give_up_after is None else float(give_up_after)
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
        self._logs_read = 0.0
        self._said_failing = 0

    # -- start / stop ------------------------------------------------------------------------
    def start(self) -> "Monitor":
        view = self._view()
        if self.use_widget:
            self.widget = ExecutionWidget(self.handle)
            self.widget.changed = self.follower._notify
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
        """The view of the newest execution seen (built once per update: a clock tick reuses it)."""
        latest = self.follower.latest if hasattr(self, "follower") else self.handle.execution
        cached = getattr(self, "_view_cache", None)
        if cached is None or cached[0] is not latest:
            cached = self._view_cache = (latest, RunView.of(latest, self.handle.url))
        return cached[1]

    def _load_flow(self) -> None:
        """The flow of this execution's revision, for the topology picture (a run of a flow the
        client cannot read still shows its table), and the run's link (``Run.url``, asked once)."""
        self.handle.url                  # asks the server once; views read the cached link
        try:
            ex = self.handle.execution
            self.widget.flow_source = self.handle.client.flows.get_flow(
                self.handle.namespace, self.handle.flow_id, revision=getattr(ex, "flow_revision", None))
        except KestraError:
            self.widget.flow_source = None

    def _render_loop(self) -> None:
        """Draw when something changed (or each second for the clock), keeping every one-second
        window at or under ``max_rate`` front-end messages whatever the event rate."""
        self._load_flow()
        seen: tuple = ()
        last_second = -1
        while True:
            with self.follower.changed:
                self.follower.changed.wait(timeout=0.25)
            self._wait_for_budget()
            if self.follower.done.is_set():
                break
            w = self.widget
            key = (self.follower.updates, self.follower.log_count, self.follower.failures,
                   w.level.value, w.all_logs.value, len(w._pending), w.blocking, w.note)
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

    def _connection(self) -> str:
        f = self.follower
        if f.lost:
            return "lost"
        return f"retrying ({f.failures})" if f.failing else ""

    def _read_all_logs(self, force: bool = False) -> None:
        """With "all logs" on, re-read the run's logs (at most every 2 s while it runs)."""
        w = self.widget
        if not w.all_logs.value or (not force and time.monotonic() - self._logs_read < 2.0):
            return
        self._logs_read = time.monotonic()
        try:
            w.log_entries = list(self.handle.client.logs.list_logs(self.handle.id))[-ALL_LOGS_LINES:]
        except KestraError as err:
            w._pending.append(f'<span style="color:#E0001C">logs unavailable: {_esc(err)}</span>')

    def _render_once(self) -> int:
        self.handle.execution = self.follower.latest
        self._read_all_logs()            # HTTP: never while holding the render lock
        with self._render_lock:
            self.widget.connection = self._connection()
            sent = self.widget.render(self._view(), list(self.follower.logs))
            self.messages += sent
            self.renders += 1
            if sent:
                self._sent.append((time.monotonic(), sent))
        return sent

    def _finish(self) -> None:
        """Final draw, then (however the run ended) swap the widget for a static HTML+text summary."""
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
            self._read_all_logs(force=True)
            with self._render_lock:
                self.widget.connection = self._connection()
                sent = self.widget.render(view, logs)
                self.messages += sent
                self._sent.append((time.monotonic(), sent))
            if view.is_terminal and self.display_handle is not None:
                try:
                    note = ("log tail incomplete: the log stream lagged behind this chatty run; "
                            ".logs() on the handle reads every line") if self.follower.tail_incomplete else ""
                    if not note and max(self.follower.log_count, len(logs)) > SUMMARY_LOG_LINES:
                        note = (f"the last {SUMMARY_LOG_LINES} of {max(self.follower.log_count, len(logs))} "
                                f"log lines; .logs() on the run reads every line as a frame")
                    self.display_handle.update(Summary(view, logs[-SUMMARY_LOG_LINES:], note,
                                                       topology=self.widget.topology_svg(view)))
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
        "paused". A PAUSED run waits for a person: where the widget's buttons act mid-cell (a kernel
        with subshell routing, ``ExecutionWidget.live_clicks``) the cell keeps waiting through the
        pause, as ``Run.wait`` does, and the Resume button carries the run on (■ stops waiting); where
        they cannot, the cell returns "paused" so that Resume works, and the live view stays."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = -1
        if self.widget is not None and has_widget_frontend():
            self.widget.blocking = True   # only a real kernel is deaf while busy (tests click directly)
            self.follower._notify()
        try:
            while not self.follower.done.wait(0.1):
                self.handle.execution = self.follower.latest
                if self.text is not None:
                    if self.follower.updates != seen:
                        seen = self.follower.updates
                        self.text.render(self._view())
                    self._say_connection()
                if self.handle.is_paused and not (self.widget is not None and self.widget.blocking
                                                  and self.widget.live_clicks):
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

    def _say_connection(self) -> None:
        """Text mode: one line when the connection starts failing, one when it comes back."""
        f = self.follower
        if f.failing and not self._said_failing:
            self._said_failing = 1
            self.out(f"{_clock()} connection lost — retrying (the run goes on on the server)")
        elif not f.failing and self._said_failing:
            self._said_failing = 0
            self.out(f"{_clock()} connection back")

    def detach(self, note: str, *, while_state: str = "") -> None:
        """Stop waiting: the widget keeps following in the background (showing ``note`` until the
        run ends, or only while the execution stays in ``while_state`` if given); text output stops."""
        self.detached = True
        if self.widget is not None:
            self.widget.note = note
            self.widget.note_while = while_state
            self.widget.note_until_end = not while_state
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
