"""The demo notebooks run top to bottom with a real kernel against the sandbox, and show
what they say they show (checked in their saved outputs). The repo copies carry no outputs."""
from __future__ import annotations

import json
import subprocess

import nbformat
import pytest

from tests.e2e.notebooks import NOTEBOOKS, ROOT, cell, errors, mimes, plain, run_notebook, text

NAMES = ["quickstart", "data-science", "teaching"]


def committed(path) -> str:
    """The notebook as git holds it for the next commit (the index), not the working copy a user's
    JupyterLab may have autosaved with outputs; the file itself outside a git checkout."""
    rel = path.relative_to(ROOT).as_posix()
    try:
        done = subprocess.run(["git", "-C", str(ROOT), "show", f":{rel}"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return path.read_text()
    if done.returncode != 0:
        if (ROOT / ".git").exists():
            raise AssertionError(f"git cannot show {rel}: {done.stderr.decode().strip()}")
        return path.read_text()
    return done.stdout.decode()


@pytest.mark.parametrize("name", NAMES)
def test_repo_notebooks_are_stored_without_outputs(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    nb = nbformat.reads(committed(path), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    fix = f"run `python scripts/strip_notebooks.py notebooks/{name}.ipynb && git add notebooks/{name}.ipynb`"
    assert code and not dirty, f"notebooks/{name}.ipynb is staged with outputs in cells {dirty}; {fix}"
    assert "widgets" not in nb.metadata, f"notebooks/{name}.ipynb is staged with widget state; {fix}"


def test_using_the_demos_does_not_fail_the_suite(tmp_path):
    """A notebook autosaved with outputs in the working copy is not what git holds; the strip script
    makes it clean again."""
    import shutil
    import sys
    dirty = tmp_path / "teaching.ipynb"
    shutil.copy(NOTEBOOKS / "teaching.ipynb", dirty)
    nb = nbformat.read(dirty, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    first.execution_count = 1
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nbformat.write(nb, dirty)
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "strip_notebooks.py"), str(dirty)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("stripped "), done.stderr
    clean = nbformat.read(dirty, as_version=4)
    assert all(not c.outputs and c.execution_count is None for c in clean.cells if c.cell_type == "code")
    assert "widgets" not in clean.metadata


@pytest.mark.parametrize("name", NAMES)
def test_notebook_flows_use_kestra_2_syntax_only(name):
    """No task or expression Kestra 2.0 removed: ForEach(Item), taskrun.value, the json filter."""
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    flows = [c.source for c in nb.cells if c.cell_type == "code" and c.source.startswith("%%kestra_flow")]
    assert flows
    for src in flows:
        assert "core.flow.ForEach" not in src and "taskrun.value" not in src
        assert "| json" not in src and "json(" not in src.replace("toJson(", "").replace("fromJson(", "")


def test_data_science_notebook(sandbox_v2):
    nb = run_notebook("data-science")
    assert errors(nb) == []
    run = cell(nb, "--input data=$sales")
    assert "SUCCESS" in text(run)
    # the DataFrame went up as a FILE input and the script's outputs came back
    assert "'big_rows'" in plain(run)
    summary = plain(cell(nb, 'run.read("summary.csv")'))
    for region in ("north", "south", "east", "west"):
        assert region in summary
    assert plain(cell(nb, "expected = sales.groupby")) == "(True, True)"
    ion = plain(cell(nb, 'run.read("outputs.to_ion.uri")'))
    assert "north" in ion and "amount" in ion
    sweep = plain(cell(nb, "results[["))
    assert sweep.count("SUCCESS") == 4
    assert "image/png" in mimes(cell(nb, "results.plot("))
    assert mimes(cell(nb, "run.timeline()")) & {"image/png", "image/svg+xml", "text/html"}


def test_teaching_notebook_against_a_server_given_by_kestra_url(sandbox_v2):
    """KESTRA_URL set: the notebook uses that server, not an embedded sandbox."""
    nb = run_notebook("teaching", env={"KESTRA_URL": sandbox_v2.url})
    # only the cell tagged raises-exception failed, with the one-line error naming the run
    [failure] = errors(nb)
    assert "tutorial.teaching.retries" in failure and "FAILED" in failure
    assert sandbox_v2.url in text(cell(nb, "%kestra_config"))
    assert "SUCCESS" in text(cell(nb, "first = %kestra_run"))
    outputs = plain(cell(nb, "graded.outputs"))
    assert "'percent': 85" in outputs and "'passed': True" in outputs
    assert "SUCCESS" in plain(cell(nb, "looped.state"))
    assert plain(cell(nb, "paused.state")) == "'PAUSED'"
    assert plain(cell(nb, "paused.resume(")) == "('SUCCESS', 'approved = true')"
    failing = plain(cell(nb, "failing.state"))
    assert "FAILED" in failing and "flaky" in failing and "alert" in failing
    assert "'answer': 144" in plain(cell(nb, "parent.outputs"))
    found = plain(cell(nb, "runs = %kestra_executions tutorial.teaching --label"))
    assert found.count("inputs_outputs") >= 3 and found.count("kestra101") >= 3
    # the Parallel flow's picture: a static SVG under the cell, branches side by side
    picture = text(cell(nb, "id: parallel"))
    assert "<svg" in picture and "<script" not in picture
    assert all(f">{task}<" in picture for task in ("together", "wash", "dry", "fold", "done"))
    # a namespace file written from a cell, read back through the API
    assert "namespace file tutorial.teaching:/scripts/grade.py saved" in text(cell(nb, "%%kestra_file"))
    assert plain(cell(nb, "files = km.client().namespaces")) == \
        "(['grade.py'], 'print(\"passed\" if score >= 10 else \"failed\")')"
    # the sandbox behind KESTRA_URL holds what the notebook posted
    ids = {(f["namespace"], f["id"]) for f in _flows(sandbox_v2)}
    assert {("tutorial.teaching", "first_flow"), ("tutorial.teaching", "parent")} <= ids


def _flows(sb):
    import requests
    r = requests.get(f"{sb.url}/api/v1/main/flows/search", params={"filters[namespace][EQUALS]": "tutorial.teaching",
                                                                 "size": 100}, timeout=10)
    r.raise_for_status()
    return r.json()["results"]
