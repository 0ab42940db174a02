"""YAML highlighting of ``%%kestra_flow`` cells (and by file extension for ``%%kestra_file``) in a real
JupyterLab: the prebuilt extension shipped in the wheel (kestra_magic/labextension) is found as an
installed labextension, no build step, and each cell's CodeMirror editor gets the right language."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.lab import JupyterLab, open_notebook, remove, temp_base
from tests.e2e.notebooks import ROOT

PREBUILT = ROOT / "kestra_magic" / "labextension"
SCREENSHOT = ROOT / "docs" / "screenshots" / "highlight.png"

CELLS = [
    "%%kestra_flow\nid: hello\nnamespace: demo\ndescription: extract and load\ntasks:\n"
    "  - id: say\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ inputs.name }}\"\n",
    "%%kestra_file demo scripts/clean.py\nimport pandas as pd\nprint('clean and tidy')\n",
    "%%kestra_file demo conf/settings.yml\nkey: value\n",
    "for x in range(3):\n    print(x and 1)\n",
]


@pytest.fixture(scope="module")
def lab_with_extension():
    base = temp_base("kestra-magic-hl-")
    # exactly where pip puts the wheel's data files: <data dir>/labextensions/<name>
    target = base / "jupyter-data" / "labextensions" / json.loads((PREBUILT / "package.json").read_text())["name"]
    target.parent.mkdir(parents=True)
    target.symlink_to(PREBUILT, target_is_directory=True)
    lab = JupyterLab(base).start()
    yield lab
    lab.stop()
    remove(base)


def _notebook(path: Path) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                     "source": src} for i, src in enumerate(CELLS)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb))


def _languages(page) -> list[str]:
    return page.evaluate("""() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'))
        .map(c => (c.querySelector('.cm-content') || {}).dataset?.language || '')""")


def test_the_prebuilt_extension_is_listed_by_the_server(lab_with_extension):
    import requests
    lab = lab_with_extension
    page = requests.get(f"{lab.url}/lab?token={lab.token}", timeout=30).text
    assert "kestra-magic-highlight" in page       # in the page config's federated extensions


def test_kestra_cells_are_highlighted_by_magic(lab_with_extension, browser):
    lab = lab_with_extension
    _notebook(lab.root / "highlight.ipynb")
    page = browser.new_page()
    try:
        open_notebook(page, lab, "highlight.ipynb")
        page.wait_for_function("""() => { const l = Array.from(document.querySelectorAll('.jp-CodeCell .cm-content'))
            .map(c => c.dataset.language); return l.length === 4 && l[0] === 'yaml'; }""", timeout=60000)
        assert _languages(page) == ["yaml", "python", "yaml", "python"]
        # typing the magic into a Python cell switches it to YAML; removing it switches back
        page.evaluate("""() => { const c = window.jupyterapp.shell.currentWidget.content.widgets[3];
            c.model.sharedModel.setSource('%%kestra_flow\\nid: x\\n'); }""")
        page.wait_for_function("() => document.querySelectorAll('.jp-CodeCell .cm-content')[3].dataset.language === 'yaml'",
                               timeout=10000)
        page.evaluate("""() => { const c = window.jupyterapp.shell.currentWidget.content.widgets[3];
            c.model.sharedModel.setSource('print(1)\\n'); }""")
        page.wait_for_function("() => document.querySelectorAll('.jp-CodeCell .cm-content')[3].dataset.language === 'python'",
                               timeout=10000)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.locator(".jp-Notebook .jp-CodeCell").first.screenshot(path=str(SCREENSHOT))
    finally:
        page.close()
        lab.shutdown_kernels()
