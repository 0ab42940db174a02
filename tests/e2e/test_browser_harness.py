"""The browser harness works on its own: JupyterLab starts its kernel by itself,
runs cells, and the ipywidgets front end renders a widget in Debian's chromium; and it
stops every process it started."""
from __future__ import annotations

import json
import os
import time

import nbformat
import requests

from tests.e2e.lab import (LAB_SETTINGS, Browser, JupyterLab, alive, cmdline, descendants, lab_command,
                          open_notebook, wait_idle)


def test_lab_runs_cells_and_renders_a_plain_widget(jupyterlab, page):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("print(6 * 7)"),
        nbformat.v4.new_code_cell(
            "import ipywidgets\nipywidgets.IntSlider(value=7, description='harness-slider')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, jupyterlab.root / "harness.ipynb")

    open_notebook(page, jupyterlab, "harness.ipynb")   # no kernel dialog: autoStartDefaultKernel
    raw = page.evaluate("async () => (await window.jupyterapp.serviceManager.settings"
                        ".fetch('@jupyterlab/notebook-extension:tracker')).raw")
    assert json.loads(raw) == LAB_SETTINGS["@jupyterlab/notebook-extension/tracker.jupyterlab-settings"]
    lab_command(page, "notebook:run-all-cells")
    wait_idle(page)

    outputs = page.locator(".jp-OutputArea-output")
    assert "42" in outputs.nth(0).inner_text()
    slider = page.locator(".jupyter-widgets.widget-slider")
    slider.wait_for(timeout=30_000)
    assert "harness-slider" in slider.inner_text()
    assert page.locator(".widget-readout").first.inner_text().strip() == "7"


def test_harness_stops_every_process_it_started(tmp_path):
    # Playwright's sync API allows one instance per thread, and the session's browser may be
    # running in this one: drive this second browser from a thread of its own.
    from concurrent.futures import ThreadPoolExecutor
    pool = ThreadPoolExecutor(1)
    before = descendants(os.getpid())
    lab = JupyterLab(tmp_path).start()
    browser = pool.submit(lambda: Browser(tmp_path).start()).result()
    started: set[int] = set()
    try:
        r = requests.post(f"{lab.url}/api/kernels", json={"name": "python3"}, timeout=30,
                          headers={"Authorization": f"token {lab.token}"})
        assert r.status_code == 201
        deadline = time.monotonic() + 60
        while not any("ipykernel" in cmdline(p) for p in descendants(lab.proc.pid)):
            assert time.monotonic() < deadline, "the kernel process never appeared"
            time.sleep(0.2)
        started = descendants(os.getpid()) - before
        kinds = {k for p in started for k in ("jupyterlab", "ipykernel", "chrom", "node") if k in cmdline(p)}
        assert kinds == {"jupyterlab", "ipykernel", "chrom", "node"}, kinds
    finally:
        pool.submit(browser.stop).result()
        pool.shutdown()
        lab.stop()
    assert not alive(started), {p: cmdline(p) for p in alive(started)}
