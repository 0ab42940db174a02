"""Each magic in a real IPython shell against the sandbox, checked on the sandbox's side."""
from __future__ import annotations

import _thread
import threading
import time

import pandas as pd
import pytest

from .conftest import (FAIL_TASK, LOG_TASK, NAME_INPUT, PAUSE_TASK, SLEEP_TASK, flow_yaml, wait_for)


def _posts(sb, suffix):
    return [r for r in sb.requests if r.method == "POST" and r.path.endswith(suffix)]


def test_flow_cell_is_sent_verbatim_then_updated_to_revision_2(kb, ns):
    body = flow_yaml(ns, "verbatim", LOG_TASK.replace("hello", "hello $USER {{ inputs.name | upper }} ${x}"),
                     NAME_INPUT)
    kb.run(f"%%kestra_flow f\n{body}")
    assert kb.sb.store.get_flow(ns, "verbatim")["source"] == body
    sent = [r.body for r in kb.sb.requests if r.path.endswith("/flows") and r.method == "POST"]
    assert body.encode() in sent  # the exact bytes, no IPython $-expansion or {{ }} rewriting
    assert f"flow {ns}.verbatim revision 1 (created), 1 task" in kb.out
    assert kb.ns["f"].revision == 1 and kb.ns["f"].id == "verbatim"
    kb.run(f"%%kestra_flow\n{body}")
    assert "revision 1 (unchanged)" in kb.out
    kb.run(f"%%kestra_flow f\n{body.replace('hello', 'bye')}")
    assert f"flow {ns}.verbatim revision 2 (new)" in kb.out and kb.ns["f"].revision == 2
    assert kb.sb.store.get_flow(ns, "verbatim")["revision"] == 2
    assert f"/ui/main/flows/edit/{ns}/verbatim" in kb.out


def test_flow_yaml_error_points_at_cell_line_and_sends_nothing(kb, ns):
    before = len(kb.sb.requests)
    failed = kb.fails(f"%%kestra_flow\nid: x\nnamespace: {ns}\ntasks:\n  - id: a\n   type: b\n")
    assert "YAML syntax error at cell line 6" in str(failed.error)
    assert failed.output.strip().splitlines() == [f"YAMLError: {failed.error}"]  # one line, no traceback
    assert len(kb.sb.requests) == before


def test_server_validation_error_is_one_line_and_nothing_saved(kb, ns):
    body = flow_yaml(ns, "invalid", "  - id: a\n    type: io.kestra.plugin.core.log.Nope\n    message: x\n")
    failed = kb.fails(f"%%kestra_flow\n{body}")
    assert "rejected the flow" in str(failed.error) and "io.kestra.plugin.core.log.Nope" in str(failed.error)
    assert len(failed.output.strip().splitlines()) == 1 and "Traceback" not in failed.output
    assert kb.sb.store.get_flow(ns, "invalid") is None


def test_validate_only_no_update_and_namespace(kb, ns):
    body = flow_yaml("placeholder", "v", LOG_TASK, NAME_INPUT)
    kb.run(f"%%kestra_flow --validate-only --namespace {ns}\n{body}")
    assert "(valid, not saved)" in kb.out and kb.sb.store.get_flow(ns, "v") is None
    kb.run(f"%%kestra_flow --no-update --namespace {ns}\n{body}")
    assert kb.sb.store.get_flow(ns, "v")["revision"] == 1
    failed = kb.fails(f"%%kestra_flow --no-update --namespace {ns}\n{body.replace('hello', 'x')}")
    assert "already exists and --no-update" in str(failed.error)
    assert kb.sb.store.get_flow(ns, "v")["revision"] == 1


def test_run_options_reach_the_server(kb, ns, tmp_path):
    body = flow_yaml(ns, "opts", LOG_TASK, NAME_INPUT + "  - id: n\n    type: INT\n    defaults: 1\n")
    kb.run(f"%%kestra_flow\n{body}")
    kb.run(f"%%kestra_flow\n{body.replace('hello', 'hi')}")  # revision 2
    kb.ns["who"] = "ada"
    kb.run(f"ex = %kestra_run {ns}.opts --input name=$who --input n=7 --label team:data --label a:b "
           f"--revision 1 --kind TEST")
    ex = kb.ns["ex"]
    req = _posts(kb.sb, f"/executions/{ns}/opts")[-1]
    assert req.query["labels"] == ["team:data", "a:b"] and req.query["revision"] == ["1"]
    assert req.query["kind"] == ["TEST"]
    assert req.form == {"name": "ada", "n": "7"}
    stored = kb.sb.store.executions[ex.id]
    assert stored["inputs"] == {"name": "ada", "n": 7} and stored["flowRevision"] == 1
    assert ex.state == "SUCCESS" and "SUCCESS" in kb.out


def test_run_schedule_date_and_breakpoints_reach_the_server(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'later', LOG_TASK, NAME_INPUT)}")
    kb.run(f"ex = %kestra_run {ns}.later --schedule-date 2030-01-01T00:00:00Z --breakpoints say --no-wait")
    req = _posts(kb.sb, f"/executions/{ns}/later")[-1]
    assert req.query["scheduleDate"][0].startswith("2030-01-01T00:00") and req.query["breakpoints"] == ["say"]
    stored = kb.sb.store.executions[kb.ns["ex"].id]
    assert stored["scheduleDate"].startswith("2030-01-01") and stored["breakpoints"][0]["id"] == "say"
    kb.run("%kestra_kill")
    assert "kill requested" in kb.out


def test_cell_inputs_and_inputs_dict(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'cellin', LOG_TASK, NAME_INPUT)}")
    kb.run(f"%%kestra_run ex {ns}.cellin\nname: from the cell\n")
    assert kb.sb.store.executions[kb.ns["ex"].id]["inputs"]["name"] == "from the cell"
    kb.ns["params"] = {"name": "from a dict"}
    kb.run(f"ex = %kestra_run {ns} cellin --inputs $params")
    assert kb.sb.store.executions[kb.ns["ex"].id]["inputs"]["name"] == "from a dict"


def test_failed_run_renders_then_fails_cell_with_handle_stored(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'bad', LOG_TASK + FAIL_TASK, NAME_INPUT)}")
    failed = kb.fails(f"ex = %kestra_run {ns}.bad")
    msg = str(failed.error)
    assert msg.startswith("execution ") and "ended FAILED at task boom" in msg and "the data is bad" in msg
    out = failed.output
    assert "FAILED" in out.split("ExecutionFailed:")[0]  # the summary was rendered before the error
    assert out.strip().splitlines()[-1] == f"ExecutionFailed: {msg}" and "Traceback" not in out
    assert "ex" not in kb.ns  # `ex = %kestra_run` cannot assign when the cell fails...
    kb.fails(f"%kestra_run ex {ns}.bad")
    assert kb.ns["ex"].state == "FAILED"  # ...but the VAR form stores the handle first


def test_show_traceback_setting(kb):
    kb.run("%config KestraMagic.show_traceback = True")
    failed = kb.fails("%kestra_kill NoSuchExecution0000001")
    assert type(failed.error).__name__ == "KestraNotFound" and "Traceback" in failed.output
    kb.run("%config KestraMagic.show_traceback = False")
    failed = kb.fails("%kestra_kill NoSuchExecution0000001")
    assert type(failed.error).__name__ == "KestraMagicError" and "Traceback" not in failed.output


def test_no_wait_returns_at_once(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'slow', SLEEP_TASK)}")
    t0 = time.monotonic()
    ex = kb.run(f"%kestra_run {ns}.slow --no-wait")
    assert time.monotonic() - t0 < 3
    assert ex.refresh().state in ("CREATED", "RUNNING") and "ex.wait()" in kb.out
    ex.kill()
    assert ex.wait(timeout=10).state == "KILLED"


@pytest.mark.parametrize("kill", [False, True], ids=["detach", "kill-on-interrupt"])
def test_interrupt_stops_waiting_within_a_second(kb, ns, kill):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'held', SLEEP_TASK)}")
    timer = threading.Timer(0.6, _thread.interrupt_main)
    t0 = time.monotonic()
    timer.start()
    try:
        failed = kb.fails(f"%kestra_run ex {ns}.held" + (" --kill-on-interrupt" if kill else ""))
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 0.6 + 1.0
    ex = kb.ns["ex"]
    if kill:
        assert "kill requested" in str(failed.error)
        assert ex.wait(timeout=10).state == "KILLED"
    else:
        assert f"detached from execution {ex.id}" in str(failed.error)
        assert f"ex.wait()" in str(failed.error) and f"%kestra_kill {ex.id}" in str(failed.error)
        assert kb.sb.store.executions[ex.id]["state"]["current"] == "RUNNING"
        kb.run(f"%kestra_kill {ex.id}")
        assert ex.wait(timeout=10).state == "KILLED"


def test_timeout_detaches(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'tmo', SLEEP_TASK)}")
    failed = kb.fails(f"%kestra_run ex {ns}.tmo --timeout 0.3")
    assert "still running after 0.3 s" in str(failed.error)
    kb.run("%kestra_kill")


def test_text_fallback_lines(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'txt', LOG_TASK, NAME_INPUT)}")
    ex = kb.run(f"%kestra_run {ns}.txt")
    lines = kb.out.splitlines()
    assert any(line.endswith(f"{ns}.txt {ex.id} SUCCESS (1/1 task runs, " + line.rsplit(", ", 1)[-1])
               for line in lines if " SUCCESS (" in line)
    assert any("  say SUCCESS" in line for line in lines)
    assert f"{ns}.txt  execution {ex.id}  SUCCESS" in kb.out and "task runs: 1/1 finished" in kb.out
    assert "VBox" not in kb.out and "<div" not in kb.out


def test_blocking_run_returns_when_paused(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'pauses', PAUSE_TASK + LOG_TASK, NAME_INPUT)}")
    ex = kb.run(f"%kestra_run {ns}.pauses")
    assert ex.state == "PAUSED"
    assert f"PAUSED at task approve: resume with the Resume button, ex.resume() or %kestra_resume {ex.id}" in kb.out
    kb.run("%kestra_resume --input reason=ok")
    assert ex.wait(timeout=10).state == "SUCCESS"


def test_returned_handle_is_not_shown_twice_but_displays_later(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'once', LOG_TASK, NAME_INPUT)}")
    kb.run(f"%kestra_run {ns}.once")
    assert "<Run " not in kb.out  # the summary was shown already (a kernel sends no Out[])
    kb.run("ex = _")
    kb.out = ""
    kb.run("ex")  # a later cell: the handle displays normally
    assert f"<Run {ns}.once " in kb.out


@pytest.mark.parametrize("options, message", [
    ("--timeout 0", "--timeout must be a positive number"),
    ("--schedule-date yesterday", "yesterday"),
    ("--revision two", "invalid int value: 'two'"),
    ("--kind FAST", "invalid choice: 'FAST'"),
])
def test_bad_run_options_fail_in_one_line_before_anything_runs(kb, ns, options, message):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'guarded', LOG_TASK, NAME_INPUT)}")
    failed = kb.fails(f"%kestra_run {ns}.guarded {options}")
    assert message in str(failed.error) and len(failed.output.strip().splitlines()) == 1
    assert not _posts(kb.sb, f"/executions/{ns}/guarded")


def test_plain_python_watch_prints_text_lines(sandbox_v2, ns):
    import subprocess
    import sys
    code = f"""
import kestra_magic as km
c = km.configure(url={sandbox_v2.url!r})
c.flows.create_flow({flow_yaml(ns, 'plain', LOG_TASK, NAME_INPUT)!r})
ex = km.watch(km.run({ns!r} + '.plain', wait=False), timeout=30)
print('final', ex.state)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout
    lines = out.splitlines()
    assert lines[-1] == "final SUCCESS"
    assert any("  say SUCCESS" in line for line in lines)
    assert any(f"{ns}.plain " in line and " SUCCESS (1/1 task runs, " in line for line in lines)
    assert f"{ns}.plain  execution " in out and "task runs: 1/1 finished" in out and "<div" not in out
