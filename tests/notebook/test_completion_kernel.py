"""Completion and Shift+Tab inspection through a real ipykernel (what JupyterLab, Notebook 7 and
VS Code send: ``complete_request`` / ``inspect_request`` with the whole cell and the cursor)."""
from __future__ import annotations

import os

import pytest

CELL = ("%%kestra_flow\nid: f\nnamespace: n\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n"
        "    message: hi\n    lev")


@pytest.fixture(scope="module")
def kernel(sandbox_v2):
    from jupyter_client.manager import start_new_kernel
    env = dict(os.environ, PYTHONPATH=os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", ""))
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    setup = ("%load_ext kestra_magic\n"
             "from kestra_magic.notebook import completion\n"
             "completion.register(get_ipython())\n"
             f"%kestra_config --url {sandbox_v2.url}\n")
    reply = kc.execute_interactive(setup, timeout=60, output_hook=lambda msg: None)
    assert reply["content"]["status"] == "ok", reply["content"]
    yield kc
    kc.stop_channels()
    km.shutdown_kernel(now=True)


def test_complete_request_in_a_flow_cell(kernel):
    msg_id = kernel.complete(CELL, len(CELL))
    reply = kernel.get_shell_msg(timeout=30)
    assert reply["parent_header"]["msg_id"] == msg_id
    content = reply["content"]
    assert content["status"] == "ok"
    assert content["matches"] == ["level"]
    assert CELL[content["cursor_start"]:content["cursor_end"]] == "lev"


def test_complete_request_for_a_task_type(kernel):
    cell = CELL.replace("io.kestra.plugin.core.log.Log\n    message: hi\n    lev", "io.kestra.plugin.core.debug.Re")
    kernel.complete(cell, len(cell))
    content = kernel.get_shell_msg(timeout=30)["content"]
    assert content["matches"] == ["io.kestra.plugin.core.debug.Return"]
    assert cell[content["cursor_start"]:content["cursor_end"]] == "io.kestra.plugin.core.debug.Re"


def test_inspect_request_shows_the_task_type_under_the_cursor(kernel):
    kernel.inspect(CELL, CELL.index("message"), detail_level=0)
    content = kernel.get_shell_msg(timeout=30)["content"]
    assert content["status"] == "ok" and content["found"] is True
    assert "Log a message in the task logs." in content["data"]["text/plain"]
    assert "| `message` | string, required |" in content["data"]["text/markdown"]


def test_inspect_request_in_python_cells_is_ipythons_own(kernel):
    kernel.inspect("len", 2, detail_level=0)
    content = kernel.get_shell_msg(timeout=30)["content"]
    assert content["found"] is True and "Return the number of items" in content["data"]["text/plain"]
