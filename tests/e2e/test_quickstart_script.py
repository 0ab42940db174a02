"""The README's first command: `bash scripts/quickstart.sh` runs the quickstart notebook with a
real kernel against the embedded sandbox and saves the executed copy (install step skipped:
the suite's setup already installed the package with its extras)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from tests.e2e.notebooks import ROOT, cell, errors, plain, text


def test_quickstart_script_runs_the_notebook_against_the_embedded_sandbox(tmp_path):
    out = tmp_path / "build" / "quickstart.ipynb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KESTRA_")}
    env.update(QUICKSTART_SKIP_INSTALL="1", QUICKSTART_OUTPUT=str(out))
    python3 = shutil.which("python3")
    if not python3 or Path(python3).resolve() != Path(sys.executable).resolve():
        env["PYTHON"] = sys.executable   # the interpreter the suite installed the package into
    r = subprocess.run(["bash", "scripts/quickstart.sh"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert "against the embedded sandbox" in r.stdout
    assert f"the executed notebook is {out}" in r.stdout
    assert "jupyter lab" in r.stdout and "notebooks/quickstart.ipynb" in r.stdout

    nb = nbformat.read(out, as_version=4)
    # only the cell tagged raises-exception failed, with a one-line error naming the run
    [failure] = errors(nb)
    assert "tutorial.quickstart.broken" in failure and "FAILED" in failure
    assert "embedded sandbox" in text(cell(nb, "%kestra_config --sandbox"))

    run = cell(nb, "ex = %kestra_run tutorial.quickstart.hello")
    assert 'data-state="SUCCESS"' in text(run)           # the static summary replaced the widget
    assert plain(cell(nb, "ex.state, ex.outputs")) == "('SUCCESS', {'shout': 'ADA x 3'})"
    task_outputs = plain(cell(nb, "frames.task_outputs_frame("))
    assert "answer" in task_outputs and "ADA x 3" in task_outputs
    task_runs = plain(cell(nb, "ex.task_runs["))
    assert all(t in task_runs for t in ("greet", "think", "answer"))
    assert "Hello, Ada!" in plain(cell(nb, "ex.logs()["))
    assert plain(cell(nb, "hello.namespace, hello.id, hello.revision")) == "('tutorial.quickstart', 'hello', 1)"
    assert plain(cell(nb, "hello.revision", exact=True)) == "2"
    assert plain(cell(nb, "ex2 = %kestra_run")) == "{'shout': 'Grace has 5 letters'}"
    assert plain(cell(nb, "ex3 = %kestra_run")) == "'Linus has 5 letters'"
    broken = plain(cell(nb, "broken.state"))
    assert "FAILED" in broken and "The input file is empty" in broken
    assert plain(cell(nb, "slow.wait(")) == "'KILLED'"
    listing = plain(cell(nb, "%kestra_executions tutorial.quickstart"))
    assert listing.count("hello") >= 3 and "broken" in listing and "slow" in listing
    # the live widgets' state is saved with the notebook
    assert nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]


def test_the_highlighting_extension_is_found_after_an_editable_install(tmp_path):
    """``pip install -e`` installs no data files: both setup scripts link the prebuilt extension,
    and JupyterLab then lists it (checked in a separate data dir, with JupyterLab's own listing)."""
    for script in ("quickstart.sh", "setup-tests.sh"):
        text_ = (ROOT / "scripts" / script).read_text()
        assert text_.index("scripts/link_labextension.py") > text_.index("pip install"), script
    data = tmp_path / "jupyter-data"
    link = [sys.executable, str(ROOT / "scripts" / "link_labextension.py"), "--data-dir", str(data)]
    first = subprocess.run(link, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0 and first.stdout.startswith("linked "), first.stderr
    again = subprocess.run(link, capture_output=True, text=True, timeout=60)
    assert "already links to" in again.stdout                  # idempotent
    target = data / "labextensions" / "kestra-magic-highlight"
    assert target.resolve() == (ROOT / "kestra_magic" / "labextension").resolve()
    env = {**os.environ, "JUPYTER_PATH": str(data)}
    listing = subprocess.run([sys.executable, "-m", "jupyterlab.labextensions", "list"], capture_output=True,
                             text=True, timeout=120, env=env)
    out = listing.stdout + listing.stderr
    assert "kestra-magic-highlight" in out and "enabled" in out and "OK" in out, out
