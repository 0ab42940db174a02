"""The demo notebooks run top to bottom with a real kernel against the sandbox, and show
what they say they show (checked in their saved outputs). The repo copies carry no outputs."""
from __future__ import annotations

import json

import nbformat
import pytest

from tests.e2e.notebooks import NOTEBOOKS, cell, errors, mimes, plain, run_notebook, text

NAMES = ["quickstart", "data-science", "teaching"]


@pytest.mark.parametrize("name", NAMES)
def test_repo_notebooks_are_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert "widgets" not in nb.metadata


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
    # the sandbox behind KESTRA_URL holds what the notebook posted
    ids = {(f["namespace"], f["id"]) for f in _flows(sandbox_v2)}
    assert {("tutorial.teaching", "first_flow"), ("tutorial.teaching", "parent")} <= ids


def _flows(sb):
    import requests
    r = requests.get(f"{sb.url}/api/v1/main/flows/search", params={"filters[namespace][EQUALS]": "tutorial.teaching",
                                                                 "size": 100}, timeout=10)
    r.raise_for_status()
    return r.json()["results"]
