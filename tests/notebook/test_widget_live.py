"""The live widget through its objects: children values, Kill/Resume buttons, final summary."""
from __future__ import annotations

from kestra_magic.render import STATE_COLORS

from .conftest import LOG_TASK, NAME_INPUT, PAUSE_TASK, SLEEP_TASK, flow_yaml, wait_for


def _widget_run(kb, cell):
    kb.run("%config KestraMagic.widget = 'on'")
    ex = kb.run(cell)
    return ex, ex._monitor, ex._monitor.widget


def test_kill_button_kills_on_the_server(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'nap', SLEEP_TASK)}")
    ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.nap --no-wait")
    assert wait_for(lambda: "RUNNING" in w.header.value)
    assert STATE_COLORS["RUNNING"] in w.header.value and ex.id in w.header.value
    assert f"/executions/{ns}/nap/{ex.id}" in w.open_link.value and "Open in UI" in w.open_link.value
    assert w.kill_button.layout.display == "" and w.resume_box.layout.display == "none"
    assert wait_for(lambda: "nap" in w.tasks.value)
    w.kill_button.click()
    assert wait_for(lambda: w.message.value == "kill requested")  # drawn by the render thread
    assert wait_for(lambda: kb.sb.store.executions[ex.id]["state"]["current"] == "KILLED")
    assert mon.finished.wait(10)
    assert ">KILLED<" in w.header.value and w.kill_button.layout.display == "none"
    assert 'data-state="KILLED"' in w.progress.value and 'data-state="SUCCESS"' not in w.progress.value


def test_resume_button_sends_on_resume_inputs(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'gate', PAUSE_TASK + LOG_TASK, NAME_INPUT)}")
    ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.gate --no-wait")
    assert wait_for(lambda: w.resume_box.layout.display == "")
    assert ">PAUSED<" in w.header.value
    [field] = w.resume_inputs.children
    assert field.description == "reason" and field.value == "fine"
    field.value = "looks good"
    w.resume_button.click()
    assert mon.finished.wait(10)
    pause = next(t for t in kb.sb.store.executions[ex.id]["taskRunList"] if t["taskId"] == "approve")
    assert pause["outputs"]["onResume"] == {"reason": "looks good"}
    assert ">SUCCESS<" in w.header.value
    assert 'data-state="SUCCESS" data-count="2"' in w.progress.value and "width:100.000%" in w.progress.value
    assert "hello world" in w.logs.value  # the log tail came through the log follow stream


def test_blocking_widget_run_is_replaced_by_static_summary(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'quick', LOG_TASK, NAME_INPUT)}")
    shown = []
    kb.magic._display = lambda obj: _Recorder(obj, shown)
    ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.quick")
    assert ex.state == "SUCCESS" and mon.finished.is_set()
    assert shown[0] is w.box  # the live widget first ...
    summary = shown[-1]      # ... then, in its place, the static summary (HTML + text)
    assert 'data-state="SUCCESS"' in summary._repr_html_() and "task runs: 1/1 finished" in repr(summary)
    assert mon.messages <= mon.renders * 8 + 20


class _Recorder:
    """Stands in for IPython's DisplayHandle: records what is shown and what replaces it."""

    def __init__(self, obj, shown):
        self.shown = shown
        shown.append(obj)

    def update(self, obj):
        self.shown.append(obj)


def test_blocking_widget_run_returns_on_pause_and_resume_button_works(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'hold', PAUSE_TASK + LOG_TASK, NAME_INPUT)}")
    ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.hold")  # blocking: returns once PAUSED
    assert ex.state == "PAUSED" and "resume with the Resume button" in w.header.value
    assert wait_for(lambda: w.resume_box.layout.display == "")
    w.resume_button.click()
    assert mon.finished.wait(10) and ">SUCCESS<" in w.header.value
    assert "resume with" not in w.header.value  # the hint went away with the PAUSED state
    pause = next(t for t in kb.sb.store.executions[ex.id]["taskRunList"] if t["taskId"] == "approve")
    assert pause["outputs"]["onResume"] == {"reason": "fine"}  # the default shown in the field


def test_interrupt_leaves_a_detached_live_widget(kb, ns):
    import _thread
    import threading
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'long', SLEEP_TASK)}")
    kb.run("%config KestraMagic.widget = 'on'")
    timer = threading.Timer(0.8, _thread.interrupt_main)
    timer.start()
    try:
        failed = kb.fails(f"%kestra_run ex {ns}.long")
    finally:
        timer.cancel()
    ex = kb.ns["ex"]
    w = ex._monitor.widget
    assert "detached from execution" in str(failed.error) and "detached from execution" in w.header.value
    assert w.kill_button.layout.display == ""  # still live: the Kill button works now the cell is idle
    w.kill_button.click()
    assert ex._monitor.finished.wait(10) and ">KILLED<" in w.header.value
    assert "detached" not in w.header.value   # no "detached … kill it" next to the KILLED badge


def test_a_subshell_click_runs_while_the_cell_blocks():
    """Kernel level, as JupyterLab sends it (../shared/jupyter-subshells.md): a click arriving on a
    kernel subshell runs its callback during a blocking cell once the widget routes its comm with
    ``deliver_clicks_mid_cell``, on the subshell's thread. Fails the day ipykernel changes the hook."""
    import time
    from jupyter_client.manager import start_new_kernel
    km, kc = start_new_kernel(kernel_name="python3")
    try:
        kc.execute_interactive(
            "import ipywidgets as w, threading, time\n"
            "from kestra_magic.notebook.widget import deliver_clicks_mid_cell\n"
            "clicks = []\n"
            "b = w.Button()\n"
            "b.on_click(lambda _: clicks.append((threading.current_thread().name, time.monotonic())))\n"
            "routed = deliver_clicks_mid_cell(b)\n", timeout=30)
        out = []
        kc.execute_interactive("print(b.comm.comm_id, routed)", timeout=10,
                               output_hook=lambda m: out.append(m["content"].get("text", "")))
        comm_id, routed = "".join(out).split()
        assert routed == "True"
        kc.control_channel.send(kc.session.msg("create_subshell_request", {}))
        sub = kc.control_channel.get_msg(timeout=10)["content"]["subshell_id"]
        busy = kc.execute("t0 = time.monotonic(); time.sleep(4); t1 = time.monotonic()")
        time.sleep(1.0)
        click = kc.session.msg("comm_msg", {"comm_id": comm_id,
                                            "data": {"method": "custom", "content": {"event": "click"}}})
        click["header"]["subshell_id"] = sub
        kc.shell_channel.send(click)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:   # the busy cell's reply
            msg = kc.get_shell_msg(timeout=20)
            if msg["parent_header"].get("msg_id") == busy:
                break
        out.clear()
        kc.execute_interactive("print(len(clicks), clicks and clicks[0][0] != 'MainThread', "
                               "clicks and t0 < clicks[0][1] < t1)", timeout=10,
                               output_hook=lambda m: out.append(m["content"].get("text", "")))
        assert "".join(out).split() == ["1", "True", "True"], out
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_a_stopped_server_shows_retrying_then_disconnected(ns):
    """The server goes away mid-run: within seconds the view says "connection lost — retrying (n)";
    when the monitor gives up the badge is DISCONNECTED (not RUNNING) and the Kill button goes."""
    import time
    from kestra_magic.config import Configuration
    from kestra_magic.notebook.widget import Monitor
    from kestra_magic.runs import KestraClient
    from kestra_magic.sandbox import Sandbox
    sb = Sandbox(api=2)
    sb.start()
    c = KestraClient(Configuration(**sb.client_settings()))
    stopped = False
    try:
        c.flows.create_flow(flow_yaml(ns, "nap", SLEEP_TASK))
        run = c.run(f"{ns}.nap", wait=False)
        mon = Monitor(run, widget=True, display=lambda obj: None, give_up_after=4, poll_interval=0.5).start()
        w = mon.widget
        assert wait_for(lambda: ">RUNNING<" in w.header.value and "nap" in w.tasks.value)
        sb.stop()
        stopped = True
        t0 = time.monotonic()
        assert wait_for(lambda: "connection lost — retrying (" in w.header.value, timeout=10)
        assert time.monotonic() - t0 < 5
        assert w.kill_button.layout.display == ""     # still trying: the run may be fine
        assert mon.finished.wait(20)
        assert ">DISCONNECTED<" in w.header.value and ">RUNNING<" not in w.header.value
        assert "lost contact with the server" in w.header.value and "may still run" in w.header.value
        assert w.kill_button.layout.display == "none" and w.resume_box.layout.display == "none"
        table = w.tasks.value
        mon._render_once()
        time.sleep(1.1)
        mon._render_once()
        assert w.tasks.value == table          # no clock ticking on a run we cannot see any more
    finally:
        c.close()
        if not stopped:
            sb.stop()


def test_without_mid_cell_clicks_a_blocking_view_says_how_to_stop_instead_of_a_dead_button():
    """A kernel whose comms cannot take clicks mid-cell (no subshell hook, as here outside a kernel):
    while the cell blocks, Kill is disabled and the note says ■ stops waiting (--kill-on-interrupt)."""
    from kestra_magic.notebook.widget import ExecutionWidget
    from kestra_magic.render import RunView
    from .conftest import make_execution
    w = ExecutionWidget(handle=None)
    assert w.live_clicks is False
    w.blocking = True
    w.render(RunView.of(make_execution("RUNNING")), [])
    assert w.kill_button.disabled and w.kill_button.description == "Kill (after ■)"
    assert "press ■ (interrupt) to stop waiting" in w.header.value and "--kill-on-interrupt" in w.header.value
    w.blocking = False
    w.render(RunView.of(make_execution("RUNNING")), [])
    assert not w.kill_button.disabled and "■" not in w.header.value


def test_log_level_filter_and_all_logs_while_live(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'chatty', LOG_TASK + SLEEP_TASK, NAME_INPUT)}")
    ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.chatty --no-wait")
    try:
        assert wait_for(lambda: "hello world" in w.logs.value)
        assert "flex-direction:column-reverse" in w.logs.value      # pinned to the newest line
        w.level.value = "ERROR"
        assert wait_for(lambda: "hello world" not in w.logs.value)
        w.level.value = "ALL"
        calls = len([r for r in kb.sb.requests if r.method == "GET" and f"/logs/{ex.id}" in r.path])
        w.all_logs.value = True                                      # every line, read from the server
        assert wait_for(lambda: len([r for r in kb.sb.requests if r.method == "GET"
                                     and f"/logs/{ex.id}" in r.path]) > calls)
        assert wait_for(lambda: "hello world" in w.logs.value and "28em" in w.logs.value)
    finally:
        ex.kill()
        assert mon.finished.wait(10)


def test_the_view_carries_on_when_the_connection_comes_back(kb, ns):
    """Reads fail for a while (the event stream is refused, polls are dropped): the view says
    "connection lost — retrying (n)", then, once the server answers again, follows the run to its end."""
    import time
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'blip', SLEEP_TASK.replace('PT30S', 'PT4S'))}")
    kb.run("%config KestraMagic.poll_interval = 0.2")
    kb.sb.faults.fail(503, times=1000, method="GET", path=r"/executions/[^/]+/follow$")
    try:
        ex, mon, w = _widget_run(kb, f"%kestra_run {ns}.blip --no-wait")
        assert wait_for(lambda: ">RUNNING<" in w.header.value)
        kb.sb.faults.drop(times=1000, method="GET", path=rf"/executions/{ex.id}$")
        assert wait_for(lambda: "connection lost — retrying (" in w.header.value, timeout=8)
        time.sleep(0.5)
        kb.sb.faults.clear()
        assert mon.finished.wait(20)
        assert ">SUCCESS<" in w.header.value and "connection lost" not in w.header.value
    finally:
        kb.sb.faults.clear()
