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
