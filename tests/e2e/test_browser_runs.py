"""Watching runs as people really use them, in a real JupyterLab + Chromium (issue 17 and the live
parts of issue 14): a 200-iteration loop, Kill on a *blocking* run, Resume, a --no-wait run killed and
reloaded after a kernel restart, a sweep with one failure in twenty, a server that stops mid-run.
Screenshots go to docs/screenshots/. One JupyterLab and one browser for the whole session."""
from __future__ import annotations

import json
import time

from tests.e2e.lab import cell_index, lab_command, open_notebook, run_cell, wait_idle, write_notebook
from tests.e2e.notebooks import ROOT

SHOTS = ROOT / "docs" / "screenshots"
SETUP = "%load_ext kestra_magic\n%kestra_config --sandbox"

BIG = """%%kestra_flow
id: big
namespace: e2e.views
tasks:
  - id: parallel
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.log.Log
        message: left
      - id: right
        type: io.kestra.plugin.core.log.Log
        message: right
  - id: each
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ range(1, 200) }}"
    tasks:
      - id: work
        type: io.kestra.plugin.core.log.Log
        message: "item {{ item.value }}"
  - id: linger
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: the data is bad
errors:
  - id: handler_fails
    type: io.kestra.plugin.core.log.Log
    level: ERROR
    message: the error handler itself failed
"""
SQ = """%%kestra_flow
id: sq
namespace: e2e.views
inputs:
  - id: x
    type: INT
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.x == 13 }}"
    errorMessage: unlucky
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.5S
"""
NAP = """%%kestra_flow
id: nap
namespace: e2e.views
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT120S
"""
GATE = """%%kestra_flow
id: gate
namespace: e2e.views
tasks:
  - id: approve
    type: io.kestra.plugin.core.flow.Pause
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: resumed and done
"""

# Every state a header badge showed per execution id, with the page time it first showed; and the
# time a header first said "connection lost".
RECORDER = """
window.__km = {states: {}, lost: null};
const kmScan = () => {
  document.querySelectorAll('.km-header').forEach(h => {
    const link = h.querySelector('a'), badge = h.querySelector('.km-badge');
    if (!link || !badge) return;
    const id = link.textContent.trim();
    const tag = (h.closest('.km-summary') ? 'static:' : 'live:') + badge.textContent.trim();
    const seen = (window.__km.states[id] = window.__km.states[id] || []);
    if (!seen.length || seen[seen.length - 1][0] !== tag) seen.push([tag, Date.now() / 1000]);
    if (window.__km.lost === null && h.textContent.includes('connection lost')) window.__km.lost = Date.now() / 1000;
  });
};
new MutationObserver(kmScan).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _cell(page, needle):
    return page.locator(".jp-Notebook .jp-Cell").nth(cell_index(page, needle))


def _run_and_wait(page, needle, timeout=120):
    run_cell(page, cell_index(page, needle))
    wait_idle(page, timeout=timeout)


def _visible_inside(page, inner, outer) -> bool:
    """Whether ``inner``'s box lies within ``outer``'s visible (scrolled) box."""
    a, b = inner.bounding_box(), outer.bounding_box()
    return a is not None and b is not None and a["y"] >= b["y"] - 1 and a["y"] + a["height"] <= b["y"] + b["height"] + 1


def test_big_loop_and_sweep_views(jupyterlab, page):
    name = write_notebook(jupyterlab.root, "runs_big.ipynb", [
        SETUP, BIG, "%kestra_run e2e.views.big", SQ,
        "import pandas as pd\nrows = pd.DataFrame({'x': range(20)})",
        "res = %kestra_run e2e.views.sq --sweep $rows --max-workers 5"])
    page.add_init_script(RECORDER)
    open_notebook(page, jupyterlab, name)
    for needle in ("%load_ext", "id: big"):
        _run_and_wait(page, needle)

    # -- the live widget of a 200-iteration loop: grouped, bounded, parents and failures shown --
    run_cell(page, cell_index(page, "%kestra_run e2e.views.big"))
    cell = _cell(page, "%kestra_run e2e.views.big")
    live = cell.locator(".widget-vbox .km-tasks-box")
    group = cell.locator(".widget-vbox tr.km-group[data-task-id='work']:has-text('200/200 SUCCESS')")
    try:
        group.wait_for(timeout=60_000)
    except Exception:
        raise AssertionError(page.locator(".jp-Notebook").inner_text()[:3000]) from None
    assert live.bounding_box()["height"] <= 420                      # fixed height, scrolls
    for task in ("parallel", "left", "right", "each", "linger"):
        assert cell.locator(f".widget-vbox tr[data-task-id='{task}']").count() == 1, task
    assert cell.locator(".widget-vbox tr[data-task-id='work']:not(.km-group) >> visible=true").count() == 0
    assert cell.locator(".widget-vbox svg.km-topology g[data-task-id='each'][data-state='SUCCESS']").count() == 1
    live_logs = cell.locator(".widget-vbox .km-logs")
    cell.locator(".widget-vbox .km-log:has-text('item 200')").wait_for(timeout=10_000)
    assert "item 200" in live_logs.locator(".km-log").last.inner_text()
    assert _visible_inside(page, live_logs.locator(".km-log").last, live_logs)   # the live tail too
    SHOTS.mkdir(parents=True, exist_ok=True)
    cell.screenshot(path=str(SHOTS / "widget-loop.png"))
    wait_idle(page, timeout=60)

    # -- the static summary: same grouping, bounded height, the failure and the newest log line ----
    summary = cell.locator(".km-summary")
    summary.wait_for(timeout=10_000)
    assert summary.get_attribute("data-state") == "FAILED"
    assert summary.bounding_box()["height"] < 1100
    assert summary.locator(".km-tasks-box").bounding_box()["height"] <= 420
    for task, state in (("parallel", "SUCCESS"), ("each", "SUCCESS"), ("boom", "FAILED"),
                        ("handler_fails", "SUCCESS")):
        assert summary.locator(f"tr[data-task-id='{task}'][data-state='{state}']").count() == 1, task
    assert "200/200 SUCCESS" in summary.locator("tr.km-group").inner_text()
    assert summary.locator("svg.km-topology g[data-task-id='boom'][data-state='FAILED']").count() == 1
    logs = summary.locator(".km-logs")
    newest = logs.locator(".km-log").last
    assert "the error handler itself failed" in newest.inner_text()
    assert _visible_inside(page, newest, logs)                        # pinned to the newest line
    assert "1 FAILED" not in summary.locator("tr.km-group").inner_text()
    cell.screenshot(path=str(SHOTS / "summary-loop.png"))

    # -- a sweep of 20 with one failure: the bar in proportion, the failure named with a link -------
    _run_and_wait(page, "id: sq")
    _run_and_wait(page, "rows = pd.DataFrame")
    _run_and_wait(page, "--sweep $rows", timeout=120)
    sweep = _cell(page, "--sweep $rows")
    ok = sweep.locator(".km-progress-part[data-state='SUCCESS']")
    bad = sweep.locator(".km-progress-part[data-state='FAILED']")
    assert ok.get_attribute("data-count") == "19" and bad.get_attribute("data-count") == "1"
    ratio = ok.bounding_box()["width"] / bad.bounding_box()["width"]
    assert 17 < ratio < 21, ratio                                     # 19 : 1, not a red bar
    failure = sweep.locator(".km-sweep-failure")
    assert "row 13" in failure.inner_text() and "FAILED at task check: unlucky" in failure.inner_text()
    assert failure.locator("a").get_attribute("href")
    sweep.screenshot(path=str(SHOTS / "sweep.png"))


def test_buttons_act_on_blocking_runs_and_a_killed_no_wait_run_survives_a_restart(jupyterlab, page):
    name = write_notebook(jupyterlab.root, "runs_buttons.ipynb", [
        SETUP, NAP, GATE, "%kestra_run e2e.views.nap", "%kestra_run e2e.views.gate",
        "slow = %kestra_run e2e.views.nap --no-wait"])
    page.add_init_script(RECORDER)
    open_notebook(page, jupyterlab, name)
    for needle in ("%load_ext", "id: nap", "id: gate"):
        _run_and_wait(page, needle)

    # -- Kill while the cell blocks: the click acts mid-cell, the cell ends KILLED in seconds -------
    run_cell(page, cell_index(page, "%kestra_run e2e.views.nap"))
    cell = _cell(page, "%kestra_run e2e.views.nap")
    cell.locator(".km-header .km-badge:text-is('RUNNING')").wait_for(timeout=30_000)
    assert "*" in cell.locator(".jp-InputArea-prompt").inner_text()      # the cell is still running
    kill = cell.locator("button.jupyter-button:has-text('Kill')")
    assert kill.is_enabled()
    clicked = time.time()
    kill.click()
    summary = cell.locator(".km-summary")
    summary.wait_for(timeout=20_000)
    assert summary.get_attribute("data-state") == "KILLED"
    wait_idle(page, timeout=20)
    assert time.time() - clicked < 15
    assert "ended KILLED" in cell.locator(".jp-OutputArea-output").last.inner_text()
    assert "detached" not in cell.inner_text()

    # -- Resume on a blocking paused run: the cell waits through the pause, the click carries it on --
    run_cell(page, cell_index(page, "%kestra_run e2e.views.gate"))
    gate = _cell(page, "%kestra_run e2e.views.gate")
    gate.locator(".km-header .km-badge:text-is('PAUSED')").wait_for(timeout=20_000)
    time.sleep(1.5)                                                     # it stays blocked while paused
    assert "*" in gate.locator(".jp-InputArea-prompt").inner_text()
    assert "Resume below" in gate.locator(".km-header").inner_text()
    gate.locator("button.jupyter-button:has-text('Resume')").click()
    done = gate.locator(".km-summary")
    done.wait_for(timeout=20_000)
    wait_idle(page, timeout=20)
    assert done.get_attribute("data-state") == "SUCCESS"
    assert "resumed and done" in done.locator(".km-logs").inner_text()
    assert gate.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0

    # -- a --no-wait run killed by the button, saved, kernel restarted, page reloaded --------------
    _run_and_wait(page, "slow = %kestra_run")
    slow = _cell(page, "slow = %kestra_run")
    slow.locator(".km-header .km-badge:text-is('RUNNING')").wait_for(timeout=30_000)
    slow.locator("button.jupyter-button:has-text('Kill')").click()
    slow.locator(".km-summary[data-state='KILLED']").wait_for(timeout=20_000)
    lab_command(page, "docmanager:save")
    page.wait_for_function("!window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=20_000)
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    page.reload()
    open_notebook(page, jupyterlab, name)
    slow = _cell(page, "slow = %kestra_run")
    assert slow.locator(".km-summary").get_attribute("data-state") == "KILLED"
    assert "Error displaying widget" not in slow.inner_text()
    saved = json.loads((jupyterlab.root / name).read_text())
    outputs = [o for c in saved["cells"] if "slow = %kestra_run" in "".join(c["source"]) for o in c["outputs"]]
    assert any('data-state="KILLED"' in "".join(o.get("data", {}).get("text/html", "")) for o in outputs)


def test_a_server_stopped_mid_run(jupyterlab, page):
    name = write_notebook(jupyterlab.root, "runs_fault.ipynb", [
        SETUP + "\nimport threading, time\n"
        "import kestra_magic as km, kestra_magic.notebook.widget as kw\n"
        "sb = km.start_sandbox()\n"
        "kw.GIVE_UP_AFTER = 8",
        NAP,
        "stopped = []\n"
        "threading.Timer(4, lambda: (sb.stop(), stopped.append(time.time()))).start()\n"
        "%kestra_run e2e.views.nap",
        "print(stopped[0])"])
    page.add_init_script(RECORDER)
    open_notebook(page, jupyterlab, name)
    for needle in ("%load_ext", "id: nap", "threading.Timer"):
        _run_and_wait(page, needle, timeout=90)
    cell = _cell(page, "threading.Timer")
    assert "KestraConnectionError" in cell.locator(".jp-OutputArea-output").last.inner_text()
    badge = cell.locator(".km-header .km-badge")
    assert badge.inner_text() == "DISCONNECTED"
    assert cell.locator("button.jupyter-button:has-text('Kill')").is_hidden()
    cell.screenshot(path=str(SHOTS / "widget-disconnected.png"))
    _run_and_wait(page, "print(stopped[0])")
    stopped = float(_cell(page, "print(stopped[0])").locator(".jp-OutputArea-output").last.inner_text())
    lost = page.evaluate("window.__km.lost")
    assert lost is not None and lost - stopped < 5, (lost, stopped)
