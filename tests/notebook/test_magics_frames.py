"""Magics that return or send DataFrames (logs, listings, DataFrame FILE inputs) against the sandbox."""
from __future__ import annotations

import pandas as pd

from .conftest import LOG_TASK, NAME_INPUT, PAUSE_TASK, flow_yaml, wait_for
from .test_magics_sandbox import _posts


def test_file_input_from_path_and_dataframe(kb, ns, tmp_path):
    extra = "inputs:\n  - id: data\n    type: FILE\n"
    tasks = "  - id: show\n    type: io.kestra.plugin.core.log.Log\n    message: \"{{ read(inputs.data) }}\"\n"
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'files', tasks, extra)}")
    path = tmp_path / "people.csv"
    path.write_text("name,age\nada,36\n")
    kb.run(f"ex = %kestra_run {ns}.files --input data=@{path}")
    req = _posts(kb.sb, f"/executions/{ns}/files")[-1]
    assert req.files["data"] == ("people.csv", path.stat().st_size)
    ex = kb.ns["ex"]
    assert ex.state == "SUCCESS" and kb.sb.store.executions[ex.id]["inputs"]["data"].endswith("/people.csv")
    assert "ada,36" in " ".join(e["message"] for e in kb.sb.store.logs_for(ex.id))
    kb.ns["df"] = pd.DataFrame({"city": ["Lyon", "Oslo"], "pop": [1, 2]})
    kb.run(f"ex2 = %kestra_run {ns}.files --input data=$df")
    req = _posts(kb.sb, f"/executions/{ns}/files")[-1]
    name, size = req.files["data"]
    assert size > 0 and name
    logs = " ".join(e["message"] for e in kb.sb.store.logs_for(kb.ns["ex2"].id))
    assert "Lyon" in logs and "Oslo" in logs




def test_resume_restart_logs_and_listings(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'gate', PAUSE_TASK + LOG_TASK, NAME_INPUT)}")
    kb.run(f"ex = %kestra_run {ns}.gate --no-wait")
    ex = kb.ns["ex"]
    assert wait_for(lambda: ex.refresh().state == "PAUSED")
    assert [i["id"] for i in ex.pause_inputs()] == ["reason"]
    kb.run("%kestra_resume --input reason=ok")
    assert ex.wait(timeout=10).state == "SUCCESS"
    pause = next(t for t in kb.sb.store.executions[ex.id]["taskRunList"] if t["taskId"] == "approve")
    assert pause["outputs"]["onResume"] == {"reason": "ok"}
    logs = kb.run(f"%kestra_logs {ex.id} --level INFO --task say")
    assert list(logs["message"]) == ["hello world"]
    assert _get_params(kb.sb, f"/logs/{ex.id}") == {"filters[level][GREATER_THAN_OR_EQUAL_TO]": ["INFO"],
                                                    "filters[taskId][EQUALS]": ["say"]}  # 2.x sandbox
    executions = kb.run(f"%kestra_executions {ns}.gate --state SUCCESS --limit 5")
    assert ex.id in set(executions["id"])
    flows = kb.run(f"%kestra_flows {ns}")
    assert list(flows["id"]) == ["gate"]
    kb.run(f"%kestra_restart {ex.id}")
    assert "restarted execution" in kb.out




def _get_params(sb, suffix):
    reqs = [r for r in sb.requests if r.method == "GET" and r.path.endswith(suffix)]
    return reqs[-1].query if reqs else None




def test_handle_frames_outputs_and_timeline(kb, ns):
    tasks = LOG_TASK + "  - id: ret\n    type: io.kestra.plugin.core.debug.Return\n    format: \"{{ inputs.name }}!\"\n"
    extra = NAME_INPUT + ""
    body = flow_yaml(ns, "frames", tasks, extra) + ("outputs:\n  - id: shout\n    type: STRING\n"
                                                    "    value: \"{{ outputs.ret.value }}\"\n")
    kb.run(f"%%kestra_flow\n{body}")
    ex = kb.run(f"%kestra_run {ns}.frames --input name=ada")
    assert ex.outputs == {"shout": "ada!"}
    runs = ex.task_runs
    assert list(runs["taskId"]) == ["say", "ret"] and set(runs["state"]) == {"SUCCESS"}
    logs = ex.logs()
    assert "hello ada" in set(logs["message"])
    pic = ex.timeline(engine="svg")._repr_svg_()
    assert pic.count('class="km-bar"') == 2
    assert ex._repr_html_().count("<tr data-task-id") == 2 and repr(ex) == f"<Run {ns}.frames {ex.id} SUCCESS>"


def test_handle_read_output_file(kb, ns):
    tasks = ("  - id: csv\n    type: io.kestra.plugin.core.storage.Write\n    extension: .csv\n"
             "    content: \"city,pop\\nLyon,5\\nOslo,7\\n\"\n")
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'writes', tasks)}")
    ex = kb.run(f"%kestra_run {ns}.writes")
    df = ex.read("outputs.csv.uri")
    assert list(df.columns) == ["city", "pop"] and list(df["pop"]) == [5, 7]
