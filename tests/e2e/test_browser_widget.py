"""The live execution widget in a real browser: JupyterLab + Debian's headless Chromium run the
quickstart notebook; the DOM must show the widget going RUNNING -> SUCCESS with its task table
and log tail, and the Kill button must kill a long run. Saves the README's screenshot."""
from __future__ import annotations

import shutil

from tests.e2e.lab import lab_command, open_notebook, select_cell, wait_idle
from tests.e2e.notebooks import NOTEBOOKS, ROOT

SCREENSHOT = ROOT / "docs" / "screenshots" / "widget.png"

# Records, per execution id, every state its header badge showed (live widget or static
# summary), plus what each live widget showed: task-table rows and log-tail text.
RECORDER = """
window.__km = {states: {}, rows: {}, logs: {}};
const kmScan = () => {
  document.querySelectorAll('.km-header').forEach(h => {
    const link = h.querySelector('a'), badge = h.querySelector('.km-badge');
    if (!link || !badge) return;
    const id = link.textContent.trim();
    const live = !h.closest('.km-summary');
    const tag = (live ? 'live:' : 'static:') + badge.textContent.trim();
    const seen = (window.__km.states[id] = window.__km.states[id] || []);
    if (seen[seen.length - 1] !== tag) seen.push(tag);
    const box = h.closest('.widget-vbox');
    if (!live || !box) return;
    box.querySelectorAll('table.km-tasks tbody tr').forEach(tr => {
      const rows = (window.__km.rows[id] = window.__km.rows[id] || {});
      rows[tr.cells[0].textContent.trim()] = tr.cells[2].textContent.trim();
    });
    const logs = box.querySelector('.km-logs');
    if (logs && logs.textContent.trim()) window.__km.logs[id] = logs.textContent;
  });
};
new MutationObserver(kmScan).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _cell_index(page, needle: str) -> int:
    return page.evaluate(
        """needle => window.jupyterapp.shell.currentWidget.content.widgets
             .findIndex(c => c.model.type === 'code' && c.model.sharedModel.getSource().includes(needle))""",
        needle)


def test_widget_runs_live_in_jupyterlab_and_kill_button_kills(jupyterlab, page):
    shutil.copy(NOTEBOOKS / "quickstart.ipynb", jupyterlab.root / "quickstart.ipynb")
    page.add_init_script(RECORDER)
    open_notebook(page, jupyterlab, "quickstart.ipynb")

    # Run everything above `%kestra_kill`: the last run is the ten-minute nap, started --no-wait.
    kill_cell = _cell_index(page, "%kestra_kill")
    assert kill_cell > 0
    select_cell(page, kill_cell)
    lab_command(page, "notebook:run-all-above")
    wait_idle(page, timeout=150)

    cells = page.locator(".jp-Notebook .jp-Cell")
    hello = cells.nth(_cell_index(page, "ex = %kestra_run tutorial.quickstart.hello"))
    summary = hello.locator(".km-summary")
    summary.wait_for(timeout=10_000)
    assert summary.get_attribute("data-state") == "SUCCESS"
    hello_id = summary.locator(".km-header a").first.text_content().strip()

    record = page.evaluate("window.__km")
    states = record["states"][hello_id]
    # the live widget showed RUNNING, then the run ended in SUCCESS and became a static summary
    assert "live:RUNNING" in states, states
    assert states[-1] == "static:SUCCESS", states
    assert states.index("live:RUNNING") < states.index("static:SUCCESS")
    # its task table listed the tasks as they ran, and its log tail showed the greeting
    assert {"greet", "think"} <= set(record["rows"][hello_id]), record["rows"][hello_id]
    assert "Hello, Ada!" in record["logs"][hello_id]

    # the failing run rendered before its cell failed (tagged raises-exception)
    broken = cells.nth(_cell_index(page, "%kestra_run broken"))
    assert broken.locator(".km-summary").get_attribute("data-state") == "FAILED"
    assert "tutorial.quickstart.broken" in broken.locator(".jp-OutputArea-output").last.inner_text()

    # the long run: live widget, RUNNING, with a Kill button
    slow = cells.nth(_cell_index(page, "slow = %kestra_run"))
    badge = slow.locator(".km-header .km-badge")
    slow.locator(".km-header .km-badge:text-is('RUNNING')").wait_for(timeout=20_000)
    slow.locator(".km-logs:has-text('ten-minute nap')").wait_for(timeout=20_000)
    slow.locator("table.km-tasks td:text-is('nap')").wait_for(timeout=20_000)
    kill = slow.locator("button.jupyter-button:has-text('Kill')")
    assert kill.is_visible()

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    slow.scroll_into_view_if_needed()
    slow.screenshot(path=str(SCREENSHOT))

    kill.click()
    summary = slow.locator(".km-summary")
    summary.wait_for(timeout=30_000)
    assert summary.get_attribute("data-state") == "KILLED"
    slow_id = summary.locator(".km-header a").first.text_content().strip()
    assert page.evaluate("window.__km")["states"][slow_id][-1] == "static:KILLED"
    assert badge.count() >= 1 and badge.first.inner_text() == "KILLED"
    # the kernel agrees (the handle in `slow` sees the server's state)
    assert _kernel_eval(page, "slow.refresh().state") == "'KILLED'"


def _kernel_eval(page, expression: str) -> str:
    """Append a cell running ``expression`` to the open notebook, run it, return its output text."""
    page.evaluate("""() => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        nb.activeCellIndex = nb.widgets.length - 1;
    }""")
    lab_command(page, "notebook:insert-cell-below")
    page.evaluate("src => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel.setSource(src)",
                  expression)
    lab_command(page, "notebook:run-cell")
    wait_idle(page, timeout=30)
    return page.locator(".jp-Notebook .jp-Cell").last.locator(".jp-OutputArea-output").last.inner_text().strip()
