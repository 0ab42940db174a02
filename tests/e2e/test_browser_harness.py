"""The browser harness works on its own: JupyterLab starts its kernel by itself,
runs cells, and the ipywidgets front end renders a widget in Debian's chromium."""
from __future__ import annotations

import nbformat

from tests.e2e.lab import lab_command, open_notebook, wait_idle


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
    lab_command(page, "notebook:run-all-cells")
    wait_idle(page)

    outputs = page.locator(".jp-OutputArea-output")
    assert "42" in outputs.nth(0).inner_text()
    slider = page.locator(".jupyter-widgets.widget-slider")
    slider.wait_for(timeout=30_000)
    assert "harness-slider" in slider.inner_text()
    assert page.locator(".widget-readout").first.inner_text().strip() == "7"
