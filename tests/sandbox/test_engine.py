"""The sandbox engine over real HTTP, on both generations: states, task runs, attempts,
outputs and logs of Kestra's core tasks and flow semantics (issue 2 "first engine", issue 3)."""
from __future__ import annotations

import time

import pytest
import requests

from tests.sandbox.openapi_check import check_response

TERMINAL = {"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED"}


class _CheckedSession(requests.Session):
    def __init__(self, generation: int):
        super().__init__()
        self.generation = generation

    def request(self, method, url, *args, **kwargs):
        response = super().request(method, url, *args, **kwargs)
        # what the engine produces: executions, task runs, logs and outputs (flow bodies and raw
        # file bytes are the protocol tests' business)
        if "/file" not in url and "/flows" not in url:
            check_response(response, self.generation)
        return response


class Api:
    """Plain-requests helper for one sandbox (both generations' paths); every JSON response is
    validated against Kestra's OpenAPI spec of the sandbox's generation."""

    def __init__(self, sb, ns):
        self.sb, self.ns, self.gen = sb, ns, sb.generation
        self.base = f"{sb.url}/api/v1/main"
        self.http = _CheckedSession(self.gen)

    def deploy(self, source: str) -> dict:
        r = self.http.post(f"{self.base}/flows", data=source.replace("NS", self.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def start(self, flow_id: str, inputs: dict | None = None, files: dict | None = None, **params) -> dict:
        parts = {k: (None, v) for k, v in (inputs or {}).items()}
        parts.update(files or {})
        r = self.http.post(f"{self.base}/executions/{self.ns}/{flow_id}", files=parts or None,
                          params=params, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def run(self, flow_id: str, inputs: dict | None = None, **kw) -> dict:
        return self.start(flow_id, inputs, wait="true", **kw)

    def get(self, execution_id: str) -> dict:
        r = self.http.get(f"{self.base}/executions/{execution_id}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def wait(self, execution_id: str, states=TERMINAL, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            ex = self.get(execution_id)
            if ex["state"]["current"] in states:
                return ex
            assert time.monotonic() < deadline, f"still {ex['state']['current']}"
            time.sleep(0.02)

    def action(self, method: str, execution_id: str, name: str, **kw) -> requests.Response:
        path = f"{self.base}/executions/{execution_id}/" + (f"actions/{name}" if self.gen == 2 else name)
        return self.http.request(method, path, timeout=30, **kw)

    def task_runs(self, ex: dict, task_id: str) -> list[dict]:
        return [tr for tr in ex.get("taskRunList") or [] if tr["taskId"] == task_id]

    def outputs(self, ex: dict, task_id: str, value=None) -> dict:
        """A task run's outputs as the wire gives them (in the task run on 1.x, endpoint on 2.x)."""
        trs = [tr for tr in self.task_runs(ex, task_id) if value is None or tr.get("value") == value]
        assert len(trs) == 1, trs
        if self.gen == 1:
            return trs[0]["outputs"] or {}
        r = self.http.get(f"{self.base}/outputs/tasks/{ex['id']}/{trs[0]['id']}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def flow_outputs(self, ex: dict) -> dict:
        if self.gen == 1:
            return self.get(ex["id"]).get("outputs") or {}
        r = self.http.get(f"{self.base}/outputs/executions/{ex['id']}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def logs(self, execution_id: str) -> list[dict]:
        r = self.http.get(f"{self.base}/logs/{execution_id}", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def file(self, execution_id: str, uri: str) -> bytes:
        r = self.http.get(f"{self.base}/executions/{execution_id}/file", params={"path": uri}, timeout=10)
        assert r.status_code == 200, r.text
        return r.content

    def validate(self, source: str) -> list[dict]:
        r = self.http.post(f"{self.base}/flows/validate", data=source.replace("NS", self.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def states(tr: dict) -> list[str]:
    return [h["state"] for h in tr["state"]["histories"]]


# ---------------------------------------------------------------------------------------
# First engine: Log, Return, Sleep, Fail with expressions

FIRST = """
id: first
namespace: NS
inputs:
  - id: name
    type: STRING
  - id: n
    type: INT
    defaults: 2
outputs:
  - id: shout
    type: STRING
    value: "{{ outputs.ret.value }}"
  - id: count
    type: INT
    value: "{{ inputs.n * 2 }}"
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "Hello {{ inputs.name }} from {{ execution.id }}"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.name | upper }}-{{ inputs.n }}"
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.05S
  - id: warn
    type: io.kestra.plugin.core.log.Log
    level: WARN
    message: ["one {{ outputs.ret.value }}", "two"]
"""


def test_log_return_sleep_and_flow_outputs(api):
    api.deploy(FIRST)
    ex = api.run("first", {"name": "ada"})
    assert ex["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in ex["state"]["histories"]] == ["CREATED", "RUNNING", "SUCCESS"]
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["hello", "ret", "nap", "warn"]
    for tr in ex["taskRunList"]:
        assert states(tr) == ["CREATED", "RUNNING", "SUCCESS"]
        assert len(tr["attempts"]) == 1 and tr["attempts"][0]["state"]["current"] == "SUCCESS"
        assert tr["attempts"][0]["state"]["startDate"] and tr["state"]["endDate"]
    nap = api.task_runs(ex, "nap")[0]
    assert nap["state"]["duration"].startswith("PT0.")
    assert api.outputs(ex, "ret") == {"value": "ADA-2"}
    assert api.flow_outputs(ex) == {"shout": "ADA-2", "count": 4}
    logs = api.logs(ex["id"])
    messages = [(l["level"], l["taskId"], l["message"]) for l in logs]
    assert ("INFO", "hello", f"Hello ada from {ex['id']}") in messages
    assert ("WARN", "warn", "one ADA-2") in messages and ("WARN", "warn", "two") in messages
    hello_tr = api.task_runs(ex, "hello")[0]
    for entry in logs:
        if entry.get("taskId") == "hello":
            assert entry["taskRunId"] == hello_tr["id"] and entry["attemptNumber"] == 0
            assert entry["timestamp"].endswith("Z") and entry["thread"]


FAILING = """
id: failing
namespace: NS
tasks:
  - id: before
    type: io.kestra.plugin.core.debug.Return
    format: ok
  - id: boom
    type: io.kestra.plugin.core.execution.Fail
    errorMessage: "bad {{ outputs.before.value }}"
  - id: never
    type: io.kestra.plugin.core.log.Log
    message: not reached
errors:
  - id: on_error
    type: io.kestra.plugin.core.log.Log
    message: "handled"
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: "cleanup"
"""


def test_fail_runs_errors_and_finally(api):
    api.deploy(FAILING)
    ex = api.run("failing")
    assert ex["state"]["current"] == "FAILED"
    ids = [tr["taskId"] for tr in ex["taskRunList"]]
    assert ids == ["before", "boom", "on_error", "cleanup"]
    boom = api.task_runs(ex, "boom")[0]
    assert boom["state"]["current"] == "FAILED" and boom["attempts"][0]["state"]["current"] == "FAILED"
    errors = [l for l in api.logs(ex["id"]) if l["level"] == "ERROR"]
    assert any(l["message"] == "bad ok" and l.get("taskId") == "boom" for l in errors)


def test_fail_condition_false_succeeds(api):
    api.deploy("""
id: cond
namespace: NS
inputs:
  - id: x
    type: INT
tasks:
  - id: check
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ inputs.x > 5 }}"
""")
    assert api.run("cond", {"x": "1"})["state"]["current"] == "SUCCESS"
    assert api.run("cond", {"x": "9"})["state"]["current"] == "FAILED"


def test_unrenderable_expression_fails_the_task_with_its_name(api):
    api.deploy("""
id: badexpr
namespace: NS
tasks:
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.nope }}"
""")
    ex = api.run("badexpr")
    assert ex["state"]["current"] == "FAILED"
    errors = [l["message"] for l in api.logs(ex["id"]) if l["level"] == "ERROR"]
    # no inputs: no `inputs` variable, so the message names `inputs`, as Kestra's (VariablesTest#invalidVars)
    assert any("Unable to find `inputs`" in m and "{{ inputs.nope }}" in m for m in errors), errors


# ---------------------------------------------------------------------------------------
# Flowable tasks

def test_parallel_runs_children_concurrently(api):
    api.deploy("""
id: par
namespace: NS
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: a
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.5S
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.5S
      - id: c
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.5S
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    tasks:
      - id: s1
        type: io.kestra.plugin.core.debug.Return
        format: one
      - id: s2
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.s1.value }}-two"
""")
    started = time.monotonic()
    ex = api.run("par")
    assert ex["state"]["current"] == "SUCCESS"
    assert time.monotonic() - started < 1.4       # three 0.5 s sleeps side by side (1.5 s in a row)
    sleeps = [api.task_runs(ex, t)[0]["state"] for t in "abc"]
    assert max(s["startDate"] for s in sleeps) < min(s["endDate"] for s in sleeps)   # they overlapped
    parent = api.task_runs(ex, "p")[0]
    children = [tr for tr in ex["taskRunList"] if tr.get("parentTaskRunId") == parent["id"]]
    assert sorted(tr["taskId"] for tr in children) == ["a", "b", "c"]
    assert "attempts" not in parent or not parent["attempts"]
    seq = api.task_runs(ex, "seq")[0]
    assert api.task_runs(ex, "s2")[0]["parentTaskRunId"] == seq["id"]
    assert api.outputs(ex, "s2") == {"value": "one-two"}


def test_parallel_concurrent_limit(api):
    api.deploy("""
id: parlim
namespace: NS
tasks:
  - id: p
    type: io.kestra.plugin.core.flow.Parallel
    concurrent: 1
    tasks:
      - id: a
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.2S
      - id: b
        type: io.kestra.plugin.core.flow.Sleep
        duration: PT0.2S
""")
    ex = api.run("parlim")
    a, b = api.task_runs(ex, "a")[0], api.task_runs(ex, "b")[0]
    assert a["state"]["endDate"] <= b["state"]["startDate"]


def test_if_then_else(api):
    api.deploy("""
id: iff
namespace: NS
inputs:
  - id: go
    type: BOOL
tasks:
  - id: branch
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.go }}"
    then:
      - id: yes_branch
        type: io.kestra.plugin.core.debug.Return
        format: "yes"
    else:
      - id: no_branch
        type: io.kestra.plugin.core.debug.Return
        format: "no"
""")
    ex = api.run("iff", {"go": "true"})
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["branch", "yes_branch"]
    ex = api.run("iff", {"go": "false"})
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["branch", "no_branch"]
    assert api.outputs(ex, "no_branch") == {"value": "no"}


def test_foreach_on_1x_loop_on_2x(api):
    if api.gen == 1:
        api.deploy("""
id: each
namespace: NS
tasks:
  - id: fe
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b", "c"]
    concurrencyLimit: 0
    tasks:
      - id: up
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value | upper }}{{ taskrun.iteration }}"
  - id: pick
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.up['b'].value }}"
""")
        ex = api.run("each")
        assert ex["state"]["current"] == "SUCCESS"
        ups = api.task_runs(ex, "up")
        assert sorted(tr["value"] for tr in ups) == ["a", "b", "c"]
        assert api.outputs(ex, "up", "c") == {"value": "C2"}
        assert api.outputs(ex, "pick") == {"value": "B1"}
    else:
        api.deploy("""
id: each
namespace: NS
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: ["a", "b", "c"]
    concurrencyLimit: 0
    tasks:
      - id: up
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.value | upper }}{{ item.index }}"
      - id: again
        type: io.kestra.plugin.core.debug.Return
        format: "{{ outputs.up.value }}!"
""")
        ex = api.run("each")
        assert ex["state"]["current"] == "SUCCESS"
        assert sorted(tr["value"] for tr in api.task_runs(ex, "again")) == ["a", "b", "c"]
        assert api.outputs(ex, "again", "b") == {"value": "B1!"}


def test_foreach_rejected_on_2x_and_loop_on_1x(api):
    wrong = "ForEach" if api.gen == 2 else "Loop"
    source = f"""
id: wrong
namespace: NS
tasks:
  - id: it
    type: io.kestra.plugin.core.flow.{wrong}
    values: [1]
    tasks:
      - id: x
        type: io.kestra.plugin.core.log.Log
        message: hi
"""
    [report] = api.validate(source)
    assert f"Invalid type: io.kestra.plugin.core.flow.{wrong}" in report["constraints"]
    r = requests.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                      headers={"Content-Type": "application/x-yaml"}, timeout=10)
    assert r.status_code == 422
    assert f"io.kestra.plugin.core.flow.{wrong}" in r.text


def test_validation_of_task_properties(api):
    [report] = api.validate("""
id: v
namespace: NS
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    mesage: typo
  - id: a
    type: io.kestra.plugin.core.debug.Return
  - id: c
    type: io.kestra.plugin.core.nothing.Here
""")
    text = report["constraints"]
    assert "tasks[0].mesage" in text and "Unrecognized field" in text
    assert "tasks[0].message: must not be null" in text
    assert "Duplicate task id with name [a]" in text
    assert "tasks[2].type: Invalid type: io.kestra.plugin.core.nothing.Here" in text


def test_retry_attempt_counts_are_validated_under_both_names(api):
    [report] = api.validate("""
id: v
namespace: NS
tasks:
  - id: a
    type: io.kestra.plugin.core.log.Log
    message: hi
    retry:
      type: constant
      interval: PT0.1S
      maxAttempts: 0
  - id: b
    type: io.kestra.plugin.core.log.Log
    message: hi
    retry:
      type: constant
      interval: PT0.1S
      maxAttempt: 0
""")
    text = report["constraints"]
    assert "tasks[0].retry.maxAttempts: must be greater than or equal to 1" in text
    assert "tasks[1].retry.maxAttempt: must be greater than or equal to 1" in text


def test_subflow_waits_and_returns_child_outputs(api):
    api.deploy("""
id: child
namespace: NS
inputs:
  - id: x
    type: INT
outputs:
  - id: doubled
    type: INT
    value: "{{ inputs.x * 2 }}"
tasks:
  - id: t
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.x }}"
""")
    api.deploy("""
id: parent
namespace: NS
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: NS
    flowId: child
    inputs:
      x: 21
  - id: use
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.sub.outputs.doubled }}"
""")
    ex = api.run("parent")
    assert ex["state"]["current"] == "SUCCESS"
    out = api.outputs(ex, "sub")
    child = api.get(out["executionId"])
    assert child["parentId"] == ex["id"] and child["state"]["current"] == "SUCCESS"
    assert out["state"] == "SUCCESS" and out["outputs"] == {"doubled": 42}
    assert api.outputs(ex, "use") == {"value": "42"}


def test_subflow_transmit_failed(api):
    api.deploy("""
id: badchild
namespace: NS
tasks:
  - id: f
    type: io.kestra.plugin.core.execution.Fail
""")
    api.deploy("""
id: p2
namespace: NS
inputs:
  - id: transmit
    type: BOOL
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: NS
    flowId: badchild
    transmitFailed: "{{ inputs.transmit }}"
""")
    assert api.run("p2", {"transmit": "true"})["state"]["current"] == "FAILED"
    assert api.run("p2", {"transmit": "false"})["state"]["current"] == "SUCCESS"


def test_pause_resume_with_on_resume_inputs(api):
    api.deploy("""
id: pz
namespace: NS
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    onResume:
      - id: approved
        type: BOOL
      - id: reason
        type: STRING
        defaults: none given
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.wait.onResume.approved }} / {{ outputs.wait.onResume.reason }}"
""")
    ex = api.start("pz")
    paused = api.wait(ex["id"], {"PAUSED"})
    assert api.task_runs(paused, "wait")[0]["state"]["current"] == "PAUSED"
    r = api.action("POST", ex["id"], "resume", files={"approved": (None, "true")})
    assert r.status_code == (204 if api.gen == 1 else 200), r.text
    done = api.wait(ex["id"])
    assert done["state"]["current"] == "SUCCESS"
    assert [h["state"] for h in done["state"]["histories"]] == ["CREATED", "RUNNING", "PAUSED", "RUNNING",
                                                                   "SUCCESS"]
    assert api.outputs(done, "after") == {"value": "true / none given"}
    assert api.outputs(done, "wait") == {"onResume": {"approved": True, "reason": "none given"}}
    r = api.action("POST", ex["id"], "resume")
    assert r.status_code == 409


def test_pause_duration_auto_resumes(api):
    api.deploy("""
id: pd
namespace: NS
tasks:
  - id: wait
    type: io.kestra.plugin.core.flow.Pause
    pauseDuration: PT0.2S
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: resumed
""")
    ex = api.run("pd")
    assert ex["state"]["current"] == "SUCCESS"
    assert "PAUSED" in [h["state"] for h in ex["state"]["histories"]]


# ---------------------------------------------------------------------------------------
# Flow semantics

def test_retry_records_attempts(api):
    api.deploy("""
id: retry
namespace: NS
tasks:
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ taskrun.attemptsCount < 2 }}"
    retry:
      type: constant
      interval: PT0.01S
      maxAttempt: 5
  - id: always
    type: io.kestra.plugin.core.execution.Fail
    retry:
      type: exponential
      interval: PT0.01S
      maxInterval: PT0.02S
      maxAttempt: 3
""")
    ex = api.run("retry")
    flaky = api.task_runs(ex, "flaky")[0]
    assert [a["state"]["current"] for a in flaky["attempts"]] == ["FAILED", "FAILED", "SUCCESS"]
    assert flaky["state"]["current"] == "SUCCESS" and "RETRYING" in states(flaky)
    always = api.task_runs(ex, "always")[0]
    assert [a["state"]["current"] for a in always["attempts"]] == ["FAILED"] * 3
    assert ex["state"]["current"] == "FAILED"
    numbers = sorted({l["attemptNumber"] for l in api.logs(ex["id"]) if l.get("taskId") == "always"})
    assert numbers == [0, 1, 2]


def test_allow_failure_disabled_and_run_if(api):
    api.deploy("""
id: sem
namespace: NS
tasks:
  - id: soft
    type: io.kestra.plugin.core.execution.Fail
    allowFailure: true
  - id: turned_off
    type: io.kestra.plugin.core.log.Log
    message: never
    disabled: true
  - id: skipped
    type: io.kestra.plugin.core.log.Log
    message: never
    runIf: "{{ 1 > 2 }}"
  - id: last
    type: io.kestra.plugin.core.log.Log
    message: reached
""")
    ex = api.run("sem")
    assert ex["state"]["current"] == "WARNING"
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["soft", "skipped", "last"]
    assert api.task_runs(ex, "soft")[0]["state"]["current"] == "WARNING"
    assert api.task_runs(ex, "skipped")[0]["state"]["current"] == "SKIPPED"


def test_timeout_fails_the_task(api):
    api.deploy("""
id: tmo
namespace: NS
tasks:
  - id: slow
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT5S
    timeout: PT0.2S
""")
    started = time.monotonic()
    ex = api.run("tmo")
    assert time.monotonic() - started < 3
    assert ex["state"]["current"] == "FAILED"
    assert any("Timeout after PT0.2S" in l["message"] for l in api.logs(ex["id"]))


def test_variables_labels_and_context(api):
    api.deploy("""
id: ctx
namespace: NS
labels:
  team: data
variables:
  who: world
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ vars.who }}|{{ labels.team }}|{{ flow.id }}|{{ flow.namespace }}|{{ task.id }}|{{ execution.flowId }}"
  - id: started
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.startDate | date('yyyy') }}"
""")
    ex = api.run("ctx")
    assert api.outputs(ex, "r") == {"value": f"world|data|ctx|{api.ns}|r|ctx"}
    assert api.outputs(ex, "started")["value"] == ex["state"]["startDate"][:4]


def test_breakpoint_then_resume(api):
    api.deploy("""
id: bp
namespace: NS
tasks:
  - id: one
    type: io.kestra.plugin.core.log.Log
    message: one
  - id: two
    type: io.kestra.plugin.core.log.Log
    message: two
""")
    ex = api.start("bp", breakpoints="two")
    stopped = api.wait(ex["id"], {"BREAKPOINT"})
    assert [tr["taskId"] for tr in stopped["taskRunList"]] == ["one", "two"]
    assert api.task_runs(stopped, "two")[0]["state"]["current"] == "BREAKPOINT"
    name = "resume" if api.gen == 1 else "resume-from-breakpoint"
    r = api.action("POST", ex["id"], name)
    assert r.status_code in (200, 204), r.text
    assert api.wait(ex["id"])["state"]["current"] == "SUCCESS"


def test_kill_is_prompt_and_cascades_to_subflows(api):
    api.deploy("""
id: slowchild
namespace: NS
tasks:
  - id: zz
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT30S
""")
    api.deploy("""
id: killme
namespace: NS
tasks:
  - id: sub
    type: io.kestra.plugin.core.flow.Subflow
    namespace: NS
    flowId: slowchild
""")
    ex = api.start("killme")
    running = api.wait(ex["id"], {"RUNNING"})
    deadline = time.monotonic() + 5
    while not (api.task_runs(running, "sub") and api.get(ex["id"]).get("taskRunList")):
        running = api.get(ex["id"])
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.1)
    started = time.monotonic()
    r = api.action("DELETE", ex["id"], "kill")
    assert r.status_code == (202 if api.gen == 1 else 200), r.text
    killed = api.wait(ex["id"], timeout=5)
    assert time.monotonic() - started < 2
    assert killed["state"]["current"] == "KILLED"
    assert "KILLING" in [h["state"] for h in killed["state"]["histories"]]
    search = requests.get(f"{api.base}/executions/search", params={"filters[namespace][EQUALS]": api.ns,
                                                                     "filters[flowId][EQUALS]": "slowchild"},
                          timeout=10).json()
    [child] = search["results"]
    assert api.wait(child["id"], timeout=5)["state"]["current"] == "KILLED"


def test_restart_reruns_failed_tasks_with_same_id(api, sandbox):
    api.deploy("""
id: rs
namespace: NS
inputs:
  - id: n
    type: INT
tasks:
  - id: ok
    type: io.kestra.plugin.core.debug.Return
    format: first
  - id: flaky
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ execution.id not in read('kestra:///' ~ flow.namespace | replace({'.': '/'}) ~ '/marker.txt') }}"
""")
    marker = "kestra:///" + api.ns.replace(".", "/") + "/marker.txt"
    sandbox.store.put_file(marker, b"none")
    ex = api.run("rs", {"n": "1"})
    assert ex["state"]["current"] == "FAILED"
    ok_id = api.task_runs(ex, "ok")[0]["id"]
    sandbox.store.put_file(marker, ex["id"].encode())
    r = api.action("POST", ex["id"], "restart")
    assert r.status_code == 200, r.text
    assert r.json()["id"] == ex["id"]
    done = api.wait(ex["id"])
    assert done["state"]["current"] == "SUCCESS"
    assert "RESTARTED" in [h["state"] for h in done["state"]["histories"]]
    assert api.task_runs(done, "ok")[0]["id"] == ok_id          # reused, not re-run
    flaky = api.task_runs(done, "flaky")[0]
    assert [a["state"]["current"] for a in flaky["attempts"]] == ["FAILED", "SUCCESS"]
    assert done["metadata"]["attemptNumber"] == 2


def test_replay_from_a_task_run_makes_a_new_execution(api):
    api.deploy("""
id: rp
namespace: NS
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "{{ execution.id }}"
  - id: b
    type: io.kestra.plugin.core.debug.Return
    format: "{{ outputs.a.value }}@{{ execution.id }}"
""")
    ex = api.run("rp")
    b_run = api.task_runs(ex, "b")[0]
    r = api.action("POST", ex["id"], "replay", params={"taskRunId": b_run["id"]})
    assert r.status_code == 200, r.text
    new_id = r.json()["id"]
    assert new_id != ex["id"]
    replayed = api.wait(new_id)
    assert replayed["state"]["current"] == "SUCCESS"
    assert api.outputs(replayed, "a") == {"value": ex["id"]}          # copied from the original
    assert api.outputs(replayed, "b") == {"value": f"{ex['id']}@{new_id}"}   # re-run in the new one


def test_fifty_executions_at_once(api):
    api.deploy("""
id: many
namespace: NS
inputs:
  - id: i
    type: INT
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.2S
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "run {{ inputs.i }}"
""")
    ids = [api.start("many", {"i": str(i)})["id"] for i in range(50)]
    for i, execution_id in enumerate(ids):
        ex = api.wait(execution_id, timeout=30)
        assert ex["state"]["current"] == "SUCCESS"
        assert [l["message"] for l in api.logs(execution_id) if l.get("taskId") == "log"] == [f"run {i}"]


def test_schedule_date_delays_the_start(api):
    import datetime as dt
    api.deploy("""
id: later
namespace: NS
tasks:
  - id: t
    type: io.kestra.plugin.core.log.Log
    message: hi
""")
    when = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=1.5)).isoformat()
    ex = api.start("later", scheduleDate=when)
    time.sleep(0.1)
    assert api.get(ex["id"])["state"]["current"] == "CREATED"
    done = api.wait(ex["id"])
    assert done["state"]["current"] == "SUCCESS"
    assert done["state"]["histories"][1]["date"] >= when[:19]


def test_inputs_depends_on_disables_inputs(api):
    api.deploy("""
id: deps
namespace: NS
inputs:
  - id: detailed
    type: BOOL
  - id: detail
    type: STRING
    dependsOn:
      inputs: [detailed]
      condition: "{{ inputs.detailed }}"
tasks:
  - id: r
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.detail | default('none') }}"
""")
    ex = api.run("deps", {"detailed": "false"})
    assert ex["state"]["current"] == "SUCCESS" and "detail" not in ex["inputs"]
    assert api.outputs(ex, "r") == {"value": "none"}
    ex = api.run("deps", {"detailed": "true", "detail": "x"})
    assert api.outputs(ex, "r") == {"value": "x"}
    r = requests.post(f"{api.base}/executions/{api.ns}/deps", files={"detailed": (None, "true")}, timeout=10)
    assert r.status_code == 422 and "Missing required input:detail" in r.text
    [report] = api.validate("""
id: deps2
namespace: NS
inputs:
  - id: a
    type: STRING
    dependsOn:
      inputs: [ghost]
      condition: "{{ true }}"
tasks:
  - id: r
    type: io.kestra.plugin.core.log.Log
    message: x
""")
    assert "depends on unknown input 'ghost'" in report["constraints"]


def test_nested_foreach_parent_value_on_1x_and_loop_map_on_2x(api):
    if api.gen == 1:
        api.deploy("""
id: nested
namespace: NS
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: ["a", "b"]
    tasks:
      - id: inner
        type: io.kestra.plugin.core.flow.ForEach
        values: [1, 2]
        tasks:
          - id: pair
            type: io.kestra.plugin.core.debug.Return
            format: "{{ parent.taskrun.value }}{{ taskrun.value }}"
""")
        ex = api.run("nested")
        assert ex["state"]["current"] == "SUCCESS"
        pairs = api.task_runs(ex, "pair")
        assert sorted(tr["outputs"]["value"] for tr in pairs) == ["a1", "a2", "b1", "b2"]
        assert sorted(tr["value"] for tr in pairs) == ["1", "1", "2", "2"]
    else:
        api.deploy("""
id: nested
namespace: NS
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values:
      x: 1
      y: 2
    outputs:
      - id: label
        type: STRING
        value: "{{ outputs.r.value }}"
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ item.key }}={{ item.value }}@{{ item.index }}"
""")
        ex = api.run("nested")
        assert ex["state"]["current"] == "SUCCESS"
        assert api.outputs(ex, "loop") == {"iterations": 2, "outputs": [{"label": "x=1@0"}, {"label": "y=2@1"}]}
        taskrun_value = api.deploy("""
id: oldstyle
namespace: NS
tasks:
  - id: loop
    type: io.kestra.plugin.core.flow.Loop
    values: [1]
    tasks:
      - id: r
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
""")
        assert taskrun_value["id"] == "oldstyle"
        ex = api.run("oldstyle")
        assert ex["state"]["current"] == "FAILED"       # taskrun.value does not exist on 2.0 (use item.value)


def test_restart_on_another_revision_and_replay_with_breakpoints(api):
    source = """
id: revs
namespace: NS
tasks:
  - id: a
    type: io.kestra.plugin.core.debug.Return
    format: "rev {{ flow.revision }}"
  - id: b
    type: io.kestra.plugin.core.execution.Fail
    condition: "{{ flow.revision == 1 }}"
"""
    api.deploy(source)
    ex = api.run("revs")
    assert ex["state"]["current"] == "FAILED"
    r = requests.put(f"{api.base}/flows/{api.ns}/revs", data=(source + "# v2\n").replace("NS", api.ns).encode(),
                     headers={"Content-Type": "application/x-yaml"}, timeout=10)
    assert r.status_code == 200 and r.json()["revision"] == 2
    r = api.action("POST", ex["id"], "restart", params={"revision": 2})
    assert r.status_code == 200, r.text
    new = api.wait(r.json()["id"])
    assert new["id"] != ex["id"] and new["parentId"] == ex["id"] and new["flowRevision"] == 2
    assert new["state"]["current"] == "SUCCESS"
    r = api.action("POST", new["id"], "replay", params={"breakpoints": "b"})
    assert r.status_code == 200, r.text
    stopped = api.wait(r.json()["id"], {"BREAKPOINT"})
    assert api.task_runs(stopped, "b")[0]["state"]["current"] == "BREAKPOINT"
    api.action("DELETE", stopped["id"], "kill")
    assert api.wait(stopped["id"])["state"]["current"] == "KILLED"


def test_flowable_errors_block_and_subflow_without_wait(api):
    api.deploy("""
id: slowish
namespace: NS
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.3S
""")
    api.deploy("""
id: blocks
namespace: NS
tasks:
  - id: fire
    type: io.kestra.plugin.core.flow.Subflow
    namespace: NS
    flowId: slowish
    wait: false
  - id: seq
    type: io.kestra.plugin.core.flow.Sequential
    allowFailure: true
    tasks:
      - id: inner_fail
        type: io.kestra.plugin.core.execution.Fail
        errorMessage: inner
    errors:
      - id: local_handler
        type: io.kestra.plugin.core.debug.Return
        format: "handled {{ outputs.fire.executionId }}"
""")
    ex = api.run("blocks")
    assert ex["state"]["current"] == "WARNING"
    child_id = api.outputs(ex, "fire")["executionId"]
    assert api.get(child_id)["state"]["current"] in ("CREATED", "RUNNING")   # not waited for
    seq = api.task_runs(ex, "seq")[0]
    handler = api.task_runs(ex, "local_handler")[0]
    assert handler["parentTaskRunId"] == seq["id"] and seq["state"]["current"] == "WARNING"
    assert api.outputs(ex, "local_handler") == {"value": f"handled {child_id}"}
    assert api.wait(child_id)["state"]["current"] == "SUCCESS"


def test_kill_paused_and_scheduled_executions(api):
    import datetime as dt
    api.deploy("""
id: waits
namespace: NS
tasks:
  - id: hold
    type: io.kestra.plugin.core.flow.Pause
""")
    paused = api.start("waits")
    api.wait(paused["id"], {"PAUSED"})
    later = api.start("waits", scheduleDate=(dt.datetime.now(dt.timezone.utc)
                                             + dt.timedelta(hours=1)).isoformat())
    for execution_id in (paused["id"], later["id"]):
        api.action("DELETE", execution_id, "kill")
        killed = api.wait(execution_id, timeout=5)
        assert killed["state"]["current"] == "KILLED"
        assert all(tr["state"]["current"] == "KILLED" for tr in killed.get("taskRunList") or [])


def test_task_log_level_filters_its_logs(api):
    api.deploy("""
id: quiet
namespace: NS
tasks:
  - id: muted
    type: io.kestra.plugin.core.log.Log
    logLevel: WARN
    message: ["info line", "{{ 'x' }}"]
  - id: loud
    type: io.kestra.plugin.core.log.Log
    logLevel: WARN
    level: ERROR
    message: error line
""")
    ex = api.run("quiet")
    messages = [(l.get("taskId"), l["message"]) for l in api.logs(ex["id"])]
    assert ("loud", "error line") in messages
    assert not [m for m in messages if m[0] == "muted"]


def test_switch_runs_the_matching_case_or_defaults(api):
    api.deploy("""
id: sw
namespace: NS
inputs:
  - id: kind
    type: STRING
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.kind }}"
    cases:
      csv:
        - id: as_csv
          type: io.kestra.plugin.core.debug.Return
          format: comma
      json:
        - id: as_json
          type: io.kestra.plugin.core.debug.Return
          format: braces
    defaults:
      - id: other
        type: io.kestra.plugin.core.debug.Return
        format: "unknown {{ inputs.kind }}"
""")
    ex = api.run("sw", {"kind": "json"})
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["pick", "as_json"]
    assert api.outputs(ex, "pick") == {"value": "json", "defaults": False}
    ex = api.run("sw", {"kind": "xml"})
    assert [tr["taskId"] for tr in ex["taskRunList"]] == ["pick", "other"]
    assert api.outputs(ex, "other") == {"value": "unknown xml"}
    [report] = api.validate("""
id: sw2
namespace: NS
tasks:
  - id: pick
    type: io.kestra.plugin.core.flow.Switch
    value: x
    cases:
      a:
        - id: bad
          type: io.kestra.plugin.core.log.Log
""")
    assert "tasks[0].cases.a[0].message: must not be null" in report["constraints"]


def test_loop_values_from_a_json_string_or_a_storage_file(api):
    loop, value = ("ForEach", "taskrun.value") if api.gen == 1 else ("Loop", "item.value")
    api.deploy(f"""
id: vals
namespace: NS
tasks:
  - id: lines
    type: io.kestra.plugin.core.storage.Write
    content: "x\\ny\\n"
    extension: .txt
  - id: from_json
    type: io.kestra.plugin.core.flow.{loop}
    values: '[{{"k": 1}}, "plain"]'
    tasks:
      - id: j
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ {value} }}}}"
""" + ("" if api.gen == 1 else """
  - id: from_file
    type: io.kestra.plugin.core.flow.Loop
    values: "{{ outputs.lines.uri }}"
    tasks:
      - id: f
        type: io.kestra.plugin.core.debug.Return
        format: "line {{ item.value }}"
"""))
    ex = api.run("vals")
    assert ex["state"]["current"] == "SUCCESS", [l["message"] for l in api.logs(ex["id"])]
    assert sorted(tr["value"] for tr in api.task_runs(ex, "j")) == ['plain', '{"k":1}']
    assert api.outputs(ex, "j", '{"k":1}') == {"value": '{"k":1}'}
    if api.gen == 2:
        assert sorted(api.outputs(ex, "f", v)["value"] for v in ("x", "y")) == ["line x", "line y"]


def test_labels_task_sets_execution_labels(api):
    api.deploy("""
id: lab
namespace: NS
tasks:
  - id: tag
    type: io.kestra.plugin.core.execution.Labels
    labels:
      stage: "{{ flow.id }}-done"
  - id: after
    type: io.kestra.plugin.core.debug.Return
    format: "{{ labels.stage }}"
  - id: bad
    type: io.kestra.plugin.core.execution.Labels
    labels:
      system.nope: x
""")
    ex = api.run("lab")
    assert ex["state"]["current"] == "FAILED"
    labels = {lb["key"]: lb["value"] for lb in api.get(ex["id"])["labels"]}
    assert labels["stage"] == "lab-done" and "system.nope" not in labels
    assert api.outputs(ex, "after") == {"value": "lab-done"}
    assert any("System labels can only be set by Kestra itself" in l["message"] for l in api.logs(ex["id"]))


@pytest.mark.parametrize("behavior, second", [("QUEUE", "SUCCESS"), ("CANCEL", "CANCELLED"), ("FAIL", "FAILED")])
def test_flow_concurrency_limit(api, behavior, second):
    api.deploy(f"""
id: one_at_a_time
namespace: NS
concurrency:
  limit: 1
  behavior: {behavior}
tasks:
  - id: nap
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.4S
""")
    first = api.start("one_at_a_time")
    api.wait(first["id"], {"RUNNING"})
    later = api.start("one_at_a_time")
    done_first = api.wait(first["id"])
    done_second = api.wait(later["id"])
    assert done_first["state"]["current"] == "SUCCESS"
    assert done_second["state"]["current"] == second
    if behavior == "QUEUE":
        assert "QUEUED" in [h["state"] for h in done_second["state"]["histories"]]
        import datetime as dt

        def at(text):
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        running = next(h["date"] for h in done_second["state"]["histories"] if h["state"] == "RUNNING")
        assert at(running) >= at(done_first["state"]["endDate"])
    else:
        assert not done_second.get("taskRunList")


def test_two_pauses_in_parallel_resume_together(api):
    api.deploy("""
id: twopause
namespace: NS
tasks:
  - id: both
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.flow.Pause
      - id: right
        type: io.kestra.plugin.core.flow.Pause
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: both resumed
""")
    ex = api.start("twopause")
    deadline = time.monotonic() + 10
    while True:
        current = api.get(ex["id"])
        paused = [tr for tr in current.get("taskRunList") or [] if tr["state"]["current"] == "PAUSED"]
        if len(paused) == 2 and current["state"]["current"] == "PAUSED":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = api.action("POST", ex["id"], "resume")
    assert r.status_code in (200, 204), r.text
    done = api.wait(ex["id"])
    assert done["state"]["current"] == "SUCCESS"
    assert [tr["state"]["current"] for tr in done["taskRunList"]] == ["SUCCESS"] * 4
