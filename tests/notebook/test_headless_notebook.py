"""A notebook executed headless (nbclient, real kernel) against the sandbox keeps the widget state
and the static summary that replaced the live widget."""
from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from .conftest import LOG_TASK, NAME_INPUT, flow_yaml


def test_headless_run_saves_widget_state_and_static_summary(sandbox_v2, ns, tmp_path):
    cells = [
        "%load_ext kestra_magic",
        f"%kestra_config --url {sandbox_v2.url}",
        "%%kestra_flow\n" + flow_yaml(ns, "hello", LOG_TASK, NAME_INPUT),
        f"ex = %kestra_run {ns}.hello --input name=notebook",
        "print(ex.state, ex.id)",
        f"%kestra_run {ns}.hello",
        "ex",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = tmp_path / "run.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)

    state = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    models = {m["model_name"] for m in state.values()}
    assert {"HTMLModel", "ButtonModel", "VBoxModel", "DropdownModel"} <= models   # the bar is HTML in proportion
    assert any("SUCCESS" in str(m["state"].get("value", "")) for m in state.values())
    # the "cell waits, interrupt to detach" hint is shown only while the run goes on
    assert not any("the cell waits for the end" in str(m["state"].get("value", "")) for m in state.values())

    run_outputs = saved.cells[3].outputs
    html = [o["data"]["text/html"] for o in run_outputs if "text/html" in o.get("data", {})]
    text = [o["data"]["text/plain"] for o in run_outputs if "text/plain" in o.get("data", {})]
    assert any('class="km-summary" data-state="SUCCESS"' in h for h in html)
    assert any("task runs: 1/1 finished" in t for t in text)
    assert not any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in run_outputs)
    ex_id = saved.cells[4].outputs[0]["text"].split()[1]
    assert saved.cells[4].outputs[0]["text"].startswith("SUCCESS")
    assert sandbox_v2.store.executions[ex_id]["inputs"]["name"] == "notebook"
    assert "flow" in saved.cells[2].outputs[0]["data"]["text/plain"]
    # a returned handle is not shown twice (the summary is there); displayed later, it renders
    assert not [o for o in saved.cells[5].outputs if o["output_type"] == "execute_result"]
    assert any('class="km-summary"' in o.get("data", {}).get("text/html", "") for o in saved.cells[5].outputs)
    [result] = saved.cells[6].outputs  # shown through the handle's _ipython_display_
    assert 'data-state="SUCCESS"' in result["data"]["text/html"] and ex_id in result["data"]["text/plain"]
