"""Writing flows in a notebook, magic by magic in a real IPython shell against the sandbox: completion
comes with %load_ext, the topology picture and a working link under a %%kestra_flow cell, a did-you-mean
for an unknown task type, unknown inputs named before any request, namespace files from a cell, short
%kestra_executions columns, the failure line that says where the run is."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import requests

from kestra_magic.notebook import completion

from .conftest import FAIL_TASK, LOG_TASK, NAME_INPUT, flow_yaml

PARALLEL = """  - id: fan
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.log.Log
        message: l
      - id: right
        type: io.kestra.plugin.core.log.Log
        message: r
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: done
"""


@pytest.fixture
def shown(kb):
    """What the magics display (the objects, in order)."""
    seen: list = []
    kb.magic._display = lambda obj: seen.append(obj)
    return seen


def test_load_ext_registers_completion_and_unload_removes_it(ip):
    matchers = ip.Completer.custom_matchers
    assert completion._MATCHER in matchers          # the ip fixture ran %load_ext kestra_magic
    ip.run_line_magic("unload_ext", "kestra_magic")
    assert completion._MATCHER not in ip.Completer.custom_matchers
    ip.run_line_magic("load_ext", "kestra_magic")
    assert sum(m is completion._MATCHER for m in ip.Completer.custom_matchers) == 1


def test_a_saved_flow_completes_at_once(kb, ns):
    from IPython.core.completer import provisionalcompleter
    completion.CATALOGS.clear()
    line = f"%kestra_run {ns}.fres"

    def texts():
        with provisionalcompleter():
            return [c.text for c in kb.ip.Completer.completions(line, len(line))]
    assert texts() == []                            # the catalog is now warm, without the flow
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'fresh', LOG_TASK)}")
    import time
    deadline = time.monotonic() + 10
    while texts() != [f"{ns}.fresh"]:               # %%kestra_flow invalidated the catalog
        assert time.monotonic() < deadline, "the saved flow never appeared in completion"
        time.sleep(0.05)


def test_flow_cell_shows_the_topology_and_a_link_that_works(kb, ns, shown):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'topo', PARALLEL)}")
    html = shown[-1]._repr_html_()
    svg = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    root = ET.fromstring(svg)                       # well-formed, self-contained markup
    labels = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"left", "right", "after", "fan"} <= labels
    assert "<script" not in html                    # static: it stays in a saved notebook
    link = re.search(r'href="([^"]+)"', html).group(1).replace("&amp;", "&")
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "topo" in page.text
    kb.run(f"%%kestra_flow --no-topology\n{flow_yaml(ns, 'plain', LOG_TASK)}")
    assert "<svg" not in shown[-1]._repr_html_()
    kb.run(f"%%kestra_flow --validate-only\n{flow_yaml(ns, 'draft', PARALLEL)}")
    assert "<svg" in shown[-1]._repr_html_() and kb.sb.store.get_flow(ns, "draft") is None


def test_unknown_task_type_gets_a_did_you_mean(kb, ns):
    body = flow_yaml(ns, "typo", "  - id: a\n    type: io.kestra.plugin.core.log.Lgo\n    message: x\n")
    failed = kb.fails(f"%%kestra_flow\n{body}")
    assert str(failed.error).endswith("(did you mean io.kestra.plugin.core.log.Log?)")
    assert len(failed.output.strip().splitlines()) == 1
    far = body.replace("core.log.Lgo", "zzz.Nothing")
    assert "did you mean" not in str(kb.fails(f"%%kestra_flow\n{far}").error)


def test_unknown_input_is_named_before_any_request(kb, ns):
    body = flow_yaml(ns, "hi", LOG_TASK, "inputs:\n  - id: name\n    type: STRING\n")
    kb.run(f"%%kestra_flow\n{body}")
    before = len(kb.sb.requests)
    failed = kb.fails(f"%kestra_run {ns}.hi --input nme=Ada")
    assert str(failed.error) == (f"unknown input 'nme' (did you mean 'name'?) for flow {ns}.hi; "
                                 f"this flow's inputs: name (STRING, required)")
    assert len(kb.sb.requests) == before            # nothing was sent


def test_kestra_file_uploads_the_cell_body(kb, ns):
    import kestra_magic as km
    body = "import sys\nprint('hello from', sys.argv[1:])  # {{ not pebble }} $HOME\n"
    kb.run(f"%%kestra_file {ns} scripts/hello.py\n{body}")
    assert f"namespace file {ns}:/scripts/hello.py saved" in kb.out
    c = km.client()
    assert c.namespaces.get_file(ns, "scripts/hello.py").decode() == body
    assert [e["fileName"] for e in c.namespaces.list_directory(ns, "scripts")] == ["hello.py"]
    kb.run(f"%%kestra_file {ns} /scripts/hello.py\nprint(2)\n")       # a new revision
    assert c.namespaces.get_file(ns, "/scripts/hello.py") == b"print(2)\n"
    assert c.namespaces.get_file(ns, "scripts/hello.py", revision=1).decode() == body
    assert c.namespaces.file_stats(ns, "scripts/hello.py")["size"] == len(b"print(2)\n")
    before = len(kb.sb.requests)
    assert "cell is empty" in str(kb.fails(f"%%kestra_file {ns} a.py\n\n").error)
    assert "'..'" in str(kb.fails(f"%%kestra_file {ns} ../a.py\nx\n").error)
    assert "names no file" in str(kb.fails(f"%%kestra_file {ns} /\nx\n").error)
    assert len(kb.sb.requests) == before
    c.namespaces.delete_file(ns, "scripts")
    assert c.namespaces.list_directory(ns) == []


def test_a_script_written_in_a_kestra_file_cell_runs_in_a_flow_with_namespace_files(kb, ns):
    """The issue's loop: write and try a script in a notebook cell, run it from a flow whose task has
    ``namespaceFiles: enabled: true`` (the sandbox copies the namespace's files into the working
    directory, as Kestra's NamespaceFilesUtils does); editing the cell changes the next run."""
    kb.run(f"%%kestra_file {ns} scripts/clean.py\nimport sys\nprint('rows kept:', int(sys.argv[1]) - 1)\n")
    flow = (f"id: nsrun\nnamespace: {ns}\ntasks:\n  - id: clean\n"
            f"    type: io.kestra.plugin.scripts.python.Commands\n    namespaceFiles:\n      enabled: true\n"
            f"    commands:\n      - python scripts/clean.py 10\n")
    kb.run(f"%%kestra_flow\n{flow}")
    kb.run(f"ex = %kestra_run {ns}.nsrun --timeout 60")
    assert kb.ns["ex"].state == "SUCCESS"
    assert "rows kept: 9" in " ".join(kb.ns["ex"].logs()["message"])
    kb.run(f"%%kestra_file {ns} scripts/clean.py\nimport sys\nprint('rows kept:', int(sys.argv[1]) - 2)\n")
    kb.run(f"again = %kestra_run {ns}.nsrun --timeout 60")
    assert "rows kept: 8" in " ".join(kb.ns["again"].logs()["message"])


def test_executions_default_columns_are_short_and_all_is_one_option_away(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'cols', LOG_TASK, NAME_INPUT)}")
    kb.run(f"%kestra_run {ns}.cols --label team:data --timeout 30")
    short = kb.run(f"%kestra_executions {ns}.cols")
    assert list(short.columns) == ["id", "namespace", "flowId", "state", "startDate", "duration", "labels.team"]
    full = kb.run(f"%kestra_executions {ns}.cols --all")
    assert set(short.columns) < set(full.columns)
    assert {"flowRevision", "endDate", "parentId"} <= set(full.columns)
    assert len(short) == len(full) == 1


def test_a_failed_run_says_where_the_run_is(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'bad', FAIL_TASK)}")
    failed = kb.fails(f"%kestra_run {ns}.bad --timeout 30")
    assert str(failed.error).endswith("(get the run with `import kestra_magic as km; ex = km.last_run()`)")
    kb.run("import kestra_magic as km; ex = km.last_run()")     # ...and that line works
    assert kb.ns["ex"].state == "FAILED" and not kb.ns["ex"].logs().empty
    failed = kb.fails(f"%kestra_run run2 {ns}.bad --timeout 30")
    assert str(failed.error).endswith("(`run2` holds the run)") and kb.ns["run2"].state == "FAILED"
    page = requests.get(kb.ns["run2"].url, timeout=10)          # "Open in UI" of a run: a real page
    assert page.status_code == 200 and kb.ns["run2"].id in page.text


def test_sandbox_dir_keeps_flows_across_sandbox_restarts(nb, ns, tmp_path):
    import kestra_magic as km
    try:
        nb.run(f"%kestra_config --sandbox-dir {tmp_path}")
        first = km._sandbox
        nb.run(f"%%kestra_flow\n{flow_yaml(ns, 'kept', LOG_TASK)}")
        nb.run(f"%kestra_config --sandbox-dir {tmp_path}")          # the same settings: the same sandbox
        assert km._sandbox is first
        nb.run("%kestra_config --sandbox")                             # another sandbox (in memory)
        assert km._sandbox is not first and km.client().flows.list_flows_by_namespace(ns) == []
        nb.run(f"%kestra_config --sandbox-dir {tmp_path}")          # the durable one again
        assert [f.id for f in km.client().flows.list_flows_by_namespace(ns)] == ["kept"]
        assert "(embedded sandbox)" in nb.out
        assert "--url both choose" in str(nb.fails(f"%kestra_config --sandbox-dir {tmp_path} --url http://x").error)
    finally:
        if km._sandbox is not None:
            km._sandbox.stop()
        km._sandbox, km._sandbox_settings = None, {}
        km.configure(reset=True)
