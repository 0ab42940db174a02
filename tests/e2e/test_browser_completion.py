"""Completion popup and the topology picture in a real JupyterLab (headless Chromium): a
``%%kestra_flow`` cell draws its flow as an inline SVG under the cell; Tab in a ``%%kestra_flow``
cell lists the sandbox's task types through the kernel's completer, registered by ``%load_ext``
alone. Saves the README's screenshots."""
from __future__ import annotations

import json

from tests.e2e.lab import lab_command, open_notebook, select_cell, wait_idle
from tests.e2e.notebooks import ROOT

SHOTS = ROOT / "docs" / "screenshots"

FLOW = """id: etl
namespace: demo.topology
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: https://example.invalid/orders.csv
  - id: transform
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: clean
        type: io.kestra.plugin.scripts.python.Script
        script: print('clean')
      - id: stats
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.extract.uri }}"
  - id: notify
    type: io.kestra.plugin.core.log.Log
    message: done
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
"""

CELLS = [
    "%load_ext kestra_magic\n%kestra_config --sandbox",
    "%%kestra_flow\n" + FLOW,
    "%%kestra_flow\nid: hello\nnamespace: demo\ntasks:\n  - id: say\n    type: io.kestra.plugin.core.lo",
]


def test_completion_popup_and_topology_in_jupyterlab(jupyterlab, page):
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                     "source": src} for i, src in enumerate(CELLS)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (jupyterlab.root / "authoring.ipynb").write_text(json.dumps(nb))
    open_notebook(page, jupyterlab, "authoring.ipynb")
    for i in (0, 1):
        select_cell(page, i)
        lab_command(page, "notebook:run-cell")
        wait_idle(page)
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    svg = cells.nth(1).locator(".jp-OutputArea-output svg.km-topology")
    svg.wait_for(timeout=30000)
    ids = svg.locator("g.km-task").evaluate_all("gs => gs.map(g => g.dataset.taskId)")
    assert ids[:2] == ["extract", "transform"] and {"clean", "stats", "notify", "alert"} <= set(ids)
    assert "demo.topology.etl" in cells.nth(1).locator(".jp-OutputArea-output").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    cells.nth(1).locator(".jp-OutputArea-output").screenshot(path=str(SHOTS / "topology.png"))

    # Tab at the end of `type: io.kestra.plugin.core.lo` in the flow cell
    select_cell(page, 2)
    editor = cells.nth(2).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Tab")
    popup = page.locator(".jp-Completer")
    popup.wait_for(state="visible", timeout=30000)
    items = popup.locator(".jp-Completer-item").all_inner_texts()
    assert any("io.kestra.plugin.core.log.Log" in text for text in items), items
    page.screenshot(path=str(SHOTS / "completion.png"), clip=_clip(page, cells.nth(2), popup))
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.content.activeCell.model.sharedModel"
                           ".getSource().endsWith('type: io.kestra.plugin.core.log.Log')", timeout=10000)


def _clip(page, cell, popup) -> dict:
    a, b = cell.bounding_box(), popup.bounding_box()
    x, y = min(a["x"], b["x"]), min(a["y"], b["y"])
    return {"x": x, "y": y, "width": max(a["x"] + a["width"], b["x"] + b["width"]) - x,
            "height": max(a["y"] + a["height"], b["y"] + b["height"]) - y + 8}
