"""Namespace files seen by script tasks, as a notebook user meets them: a Python module uploaded over
the ``/namespaces/{ns}/files`` API, then a flow whose python task runs or imports it
(``namespaceFiles: enabled: true``), on both generations; a later upload is what the next run sees."""
from __future__ import annotations

import pytest

from tests.sandbox.test_engine import Api


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def upload(api: Api, path: str, text: str) -> None:
    r = api.http.post(f"{api.base}/namespaces/{api.ns}/files", params={"path": path},
                      files={"fileContent": (path.rsplit("/", 1)[-1], text.encode())}, timeout=10)
    assert r.status_code == 200, r.text


def info(api: Api, ex: dict, task_id: str) -> list[str]:
    """The task's INFO lines, without the "Loaded N namespace files" line."""
    return [e["message"] for e in api.logs(ex["id"]) if e.get("taskId") == task_id and e["level"] == "INFO"
            and not e["message"].startswith("Loaded ")]


CLEAN_V1 = '''
import sys

rows = [line.strip() for line in sys.stdin if line.strip()]
print("clean v1:", ",".join(r.upper() + "!" for r in rows))
'''

CLEAN_V2 = CLEAN_V1.replace("clean v1", "clean v2")

FLOW = """
id: clean
namespace: NS
tasks:
  - id: commands
    type: io.kestra.plugin.scripts.python.Commands
    namespaceFiles:
      enabled: true
    commands:
      - printf 'a\\nb\\n' | python scripts/clean.py
      - python -c "from helpers.text import shout; print(shout('commands'))"
  - id: script
    type: io.kestra.plugin.scripts.python.Script
    namespaceFiles:
      enabled: true
      include:
        - helpers/**
    script: |
      import os
      from helpers.text import shout
      from kestra import Kestra
      print(shout("imported"))
      Kestra.outputs({"seen": sorted(os.listdir("."))})
"""


def test_python_runs_and_imports_an_uploaded_namespace_file_and_sees_the_next_upload(api):
    upload(api, "/scripts/clean.py", CLEAN_V1)
    upload(api, "/helpers/__init__.py", "")
    upload(api, "/helpers/text.py", "def shout(s):\n    return s.upper() + '!'\n")
    api.deploy(FLOW)
    ex = api.run("clean")
    assert ex["state"]["current"] == "SUCCESS", [e["message"] for e in api.logs(ex["id"])]
    assert info(api, ex, "commands") == ["clean v1: A!,B!", "COMMANDS!"]
    assert info(api, ex, "script") == ["IMPORTED!"]
    # include: only helpers/** reached the Script's working directory (the sandbox's own
    # hidden folders aside)
    seen = [name for name in api.outputs(ex, "script")["vars"]["seen"] if not name.startswith(".kestra-")]
    assert seen == ["helpers"]

    upload(api, "/scripts/clean.py", CLEAN_V2)    # a new revision: the next run sees it
    ex = api.run("clean")
    assert ex["state"]["current"] == "SUCCESS"
    assert info(api, ex, "commands") == ["clean v2: A!,B!", "COMMANDS!"]


def test_without_namespace_files_the_script_does_not_see_them(api):
    """No ``namespaceFiles`` (or ``enabled: false``): the working directory starts empty."""
    upload(api, "/data.txt", "x")
    api.deploy("""
id: no_ns_files
namespace: NS
tasks:
  - id: absent
    type: io.kestra.plugin.scripts.shell.Commands
    commands: ["test ! -e data.txt && echo absent"]
  - id: disabled
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: false
    commands: ["test ! -e data.txt && echo disabled"]
""")
    ex = api.run("no_ns_files")
    assert ex["state"]["current"] == "SUCCESS"
    assert info(api, ex, "absent") == ["absent"] and info(api, ex, "disabled") == ["disabled"]
    assert not [e for e in api.logs(ex["id"]) if e["message"].startswith("Loaded ")]


def test_input_files_win_over_namespace_files_and_if_exists(api):
    """Namespace files are copied first, ``inputFiles`` over them (CommandsWrapper.run); in a
    WorkingDirectory a later task's ``namespaceFiles`` meets the files already there: ``ifExists``
    IGNORE keeps them, WARN keeps them with a warning, FAIL fails the task."""
    upload(api, "/conf.txt", "from namespace\n")
    api.deploy("""
id: precedence
namespace: NS
tasks:
  - id: inputs_win
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enabled: true
    inputFiles:
      conf.txt: from inputFiles
    commands: [cat conf.txt]
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    inputFiles:
      conf.txt: local
    tasks:
      - id: ignore
        type: io.kestra.plugin.scripts.shell.Commands
        namespaceFiles:
          ifExists: IGNORE
        commands: [cat conf.txt]
      - id: warn
        type: io.kestra.plugin.scripts.shell.Commands
        namespaceFiles:
          ifExists: WARN
        commands: [cat conf.txt]
      - id: fail
        type: io.kestra.plugin.scripts.shell.Commands
        namespaceFiles:
          ifExists: FAIL
        commands: [cat conf.txt]
""")
    ex = api.run("precedence")
    assert ex["state"]["current"] == "FAILED"
    logs = api.logs(ex["id"])
    assert info(api, ex, "inputs_win") == ["from inputFiles"]
    assert info(api, ex, "ignore") == ["local"] and info(api, ex, "warn") == ["local"]
    assert any(e["taskId"] == "warn" and e["level"] == "WARN" and "conf.txt" in e["message"] for e in logs)
    (fail,) = api.task_runs(ex, "fail")
    assert fail["state"]["current"] == "FAILED"
    assert any(e["taskId"] == "fail" and e["level"] == "ERROR" and "already exists" in e["message"] for e in logs)


def test_bad_namespace_files_property_fails_with_a_clear_message(api):
    api.deploy("""
id: bad_ns_files
namespace: NS
tasks:
  - id: typo
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      enable: true
    commands: [echo never]
""")
    ex = api.run("bad_ns_files")
    assert ex["state"]["current"] == "FAILED"
    errors = [e["message"] for e in api.logs(ex["id"]) if e["level"] == "ERROR"]
    assert any("Unknown `namespaceFiles` property enable" in m for m in errors), errors


def test_files_uploaded_by_a_task_survive_a_restart_of_a_durable_sandbox(tmp_path):
    """UploadFiles writes through the store, so a data-dir sandbox keeps the file (and its
    revisions) across a restart, and the next run's script sees it."""
    from kestra_magic.sandbox import Sandbox
    flow = """
id: keep
namespace: durable.nsfiles
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "kept across restarts"
  - id: upload
    type: io.kestra.plugin.core.namespace.UploadFiles
    namespace: "{{ flow.namespace }}"
    filesMap:
      /notes/kept.txt: "{{ outputs.write.uri }}"
"""
    with Sandbox(api=2, auth=False, data_dir=tmp_path) as sb:
        api = Api(sb, "durable.nsfiles")
        api.deploy(flow)
        assert api.run("keep")["state"]["current"] == "SUCCESS"
    with Sandbox(api=2, auth=False, data_dir=tmp_path) as sb:
        api = Api(sb, "durable.nsfiles")
        r = api.http.get(f"{api.base}/namespaces/durable.nsfiles/files", params={"path": "/notes/kept.txt"}, timeout=10)
        assert r.status_code == 200 and r.content == b"kept across restarts"
        api.deploy("""
id: read
namespace: durable.nsfiles
tasks:
  - id: cat
    type: io.kestra.plugin.scripts.shell.Commands
    namespaceFiles:
      include: [notes/**]
    commands: [cat notes/kept.txt]
""")
        ex = api.run("read")
        assert ex["state"]["current"] == "SUCCESS"
        assert info(api, ex, "cat") == ["kept across restarts"]
