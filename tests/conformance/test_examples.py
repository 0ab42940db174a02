"""Documented examples: the ``@Example(full = true)`` flows of Kestra's core task classes
(core/src/main/java/io/kestra/plugin/core/**, what Kestra's documentation shows), for the task types the
sandbox runs, restated here (namespace and messages ours) and checked as the documentation describes them.

Examples that need services the sandbox does not emulate (git.Clone, MongoDB, Slack, HTTP calls to the
internet, Docker images, node) are not restated; docs/sandbox.md lists them.
"""
from __future__ import annotations

import pytest

from tests.sandbox.test_engine import Api

pytestmark = pytest.mark.conformance("examples")


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def run(api: Api, source: str, flow_id: str, inputs: dict | None = None) -> dict:
    api.deploy(source)
    return api.run(flow_id, inputs)


def task_states(ex: dict) -> dict:
    return {tr["taskId"]: tr["state"]["current"] for tr in ex.get("taskRunList") or []}


def messages(api: Api, ex: dict, task_id: str) -> list[str]:
    return [e["message"] for e in api.logs(ex["id"]) if e.get("taskId") == task_id]


def test_log_list_of_messages(api):
    """log.Log example (hello_world): ``message`` as a list logs each item."""
    ex = run(api, """
id: hello_world
namespace: NS
tasks:
  - id: greeting
    type: io.kestra.plugin.core.log.Log
    message:
      - Good morning 👋
      - Ask us on Slack if you need help
""", "hello_world")
    assert ex["state"]["current"] == "SUCCESS"
    assert messages(api, ex, "greeting") == ["Good morning 👋", "Ask us on Slack if you need help"]


def test_output_values(api):
    """output.OutputValues example (outputs_flow): templated, numeric, array and nested values."""
    ex = run(api, """
id: outputs_flow
namespace: NS
tasks:
  - id: output_values
    type: io.kestra.plugin.core.output.OutputValues
    values:
      taskrun_data: "{{ task.id }} > {{ taskrun.startDate }}"
      execution_data: "{{ flow.id }} > {{ execution.startDate }}"
      number_value: 42
      array_value: ["{{ task.id }}", "{{ flow.id }}", "static value"]
      nested_object:
        key1: "value1"
        key2: "{{ execution.id }}"
  - id: log_values
    type: io.kestra.plugin.core.log.Log
    message: |
      From the previous task:
      {{ outputs.output_values.values.taskrun_data }}
      {{ outputs.output_values.values.execution_data }}
""", "outputs_flow")
    assert ex["state"]["current"] == "SUCCESS"
    values = api.outputs(ex, "output_values")["values"]
    assert values["taskrun_data"].startswith("output_values > ")
    assert values["number_value"] == 42
    assert values["array_value"] == ["output_values", "outputs_flow", "static value"]
    assert values["nested_object"] == {"key1": "value1", "key2": ex["id"]}
    logged = messages(api, ex, "log_values")[0]
    assert logged.startswith("From the previous task:\noutput_values > ") and "outputs_flow > " in logged


@pytest.mark.parametrize("param, final, after", [("go", "SUCCESS", "SUCCESS"), ("fail", "FAILED", None)])
def test_fail_on_condition(api, param, final, after):
    """execution.Fail example (fail_on_condition): fails only when the condition is true; the task after
    it does not run then."""
    source = """
id: fail_on_condition
namespace: NS
inputs:
  - id: param
    type: STRING
    required: true
tasks:
  - id: before
    type: io.kestra.plugin.core.log.Log
    message: before the conditional failure
  - id: fail
    type: io.kestra.plugin.core.execution.Fail
    condition: '{{ inputs.param == "fail" }}'
  - id: after
    type: io.kestra.plugin.core.log.Log
    message: after the conditional failure
"""
    ex = run(api, source, "fail_on_condition", {"param": param})
    assert ex["state"]["current"] == final
    assert task_states(ex).get("after") == after


def test_fail_on_switch(api):
    """execution.Fail example (fail_on_switch): a Switch case holding a Fail task."""
    source = """
id: fail_on_switch
namespace: NS
inputs:
  - id: param
    type: STRING
    required: true
tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.param }}"
    cases:
      case1:
        - id: case1
          type: io.kestra.plugin.core.log.Log
          message: Case 1
      notexist:
        - id: fail
          type: io.kestra.plugin.core.execution.Fail
    defaults:
      - id: default
        type: io.kestra.plugin.core.log.Log
        message: default
"""
    api.deploy(source)
    assert api.run("fail_on_switch", {"param": "case1"})["state"]["current"] == "SUCCESS"
    assert api.run("fail_on_switch", {"param": "notexist"})["state"]["current"] == "FAILED"
    ex = api.run("fail_on_switch", {"param": "other"})
    assert ex["state"]["current"] == "SUCCESS" and "default" in task_states(ex)


def test_labels_map_and_list(api):
    """execution.Labels example (webhook_based_labels), with inputs in place of the webhook body."""
    ex = run(api, """
id: labels_example
namespace: NS
inputs:
  - id: customer
    type: STRING
    defaults: c-42
tasks:
  - id: update_labels_with_map
    type: io.kestra.plugin.core.execution.Labels
    labels:
      customerId: "{{ inputs.customer }}"
  - id: by_list
    type: io.kestra.plugin.core.execution.Labels
    labels:
      - key: order_id
        value: "o-7"
      - key: order_type
        value: "express"
""", "labels_example")
    assert ex["state"]["current"] == "SUCCESS"
    labels = {lb["key"]: lb["value"] for lb in api.get(ex["id"])["labels"]}
    assert {"customerId": "c-42", "order_id": "o-7", "order_type": "express"}.items() <= labels.items()


@pytest.mark.parametrize("kind", ["Sequential", "Parallel"])
def test_sequential_and_parallel(api, kind):
    """flow.Sequential / flow.Parallel examples: two Return tasks in the group, then a last one."""
    ex = run(api, f"""
id: group
namespace: NS
tasks:
  - id: group
    type: io.kestra.plugin.core.flow.{kind}
    tasks:
      - id: first_task
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}} > {{{{ taskrun.startDate }}}}"
      - id: second_task
        type: io.kestra.plugin.core.debug.Return
        format: "{{{{ task.id }}}} > {{{{ taskrun.id }}}}"
  - id: last
    type: io.kestra.plugin.core.debug.Return
    format: "{{{{ task.id }}}} > {{{{ taskrun.startDate }}}}"
""", "group")
    assert ex["state"]["current"] == "SUCCESS"
    assert task_states(ex) == {"group": "SUCCESS", "first_task": "SUCCESS", "second_task": "SUCCESS",
                               "last": "SUCCESS"}
    second = [tr for tr in ex["taskRunList"] if tr["taskId"] == "second_task"][0]
    assert api.outputs(ex, "second_task")["value"] == f"second_task > {second['id']}"


@pytest.mark.parametrize("value, ran", [("Condition", "when_true"), ("other", "when_false")])
def test_if_then_else(api, value, ran):
    """flow.If example: ``then`` when the condition is true, ``else`` otherwise."""
    ex = run(api, """
id: if_example
namespace: NS
inputs:
  - id: string
    type: STRING
    required: true
tasks:
  - id: if
    type: io.kestra.plugin.core.flow.If
    condition: "{{ inputs.string == 'Condition' }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.log.Log
        message: "Condition was true"
    else:
      - id: when_false
        type: io.kestra.plugin.core.log.Log
        message: "Condition was false"
""", "if_example", {"string": value})
    assert ex["state"]["current"] == "SUCCESS"
    assert set(task_states(ex)) == {"if", ran}


@pytest.mark.parametrize("value, ran", [("FIRST", "first"), ("THIRD", "third"), ("nothing", "default")])
def test_switch_cases_and_defaults(api, value, ran):
    """flow.Switch example (its documented ``type`` reads ``core.flows.Switch``, a typo Kestra itself
    rejects; restated with ``core.flow.Switch``)."""
    ex = run(api, """
id: switch
namespace: NS
inputs:
  - id: string
    type: STRING
    required: true
tasks:
  - id: switch
    type: io.kestra.plugin.core.flow.Switch
    value: "{{ inputs.string }}"
    cases:
      FIRST:
        - id: first
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
      THIRD:
        - id: third
          type: io.kestra.plugin.core.debug.Return
          format: "{{ task.id }} > {{ taskrun.startDate }}"
    defaults:
      - id: default
        type: io.kestra.plugin.core.debug.Return
        format: "{{ task.id }} > {{ taskrun.startDate }}"
""", "switch", {"string": value})
    assert ex["state"]["current"] == "SUCCESS"
    assert set(task_states(ex)) == {"switch", ran}


def test_foreach_with_parent_value(api):
    """flow.ForEach example (for_loop_example, 1.x): ``parent.taskrun.value`` inside a nested If;
    on 2.x ForEach is rejected naming Loop."""
    source = """
id: for_loop_example
namespace: NS
tasks:
  - id: for_each
    type: io.kestra.plugin.core.flow.ForEach
    values: ["value 1", "value 2", "value 3"]
    tasks:
      - id: before_if
        type: io.kestra.plugin.core.debug.Return
        format: "Before if {{ taskrun.value }}"
      - id: if
        type: io.kestra.plugin.core.flow.If
        condition: '{{ taskrun.value == "value 2" }}'
        then:
          - id: after_if
            type: io.kestra.plugin.core.debug.Return
            format: "After if {{ parent.taskrun.value }}"
"""
    if api.gen == 2:
        r = api.http.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 422 and "io.kestra.plugin.core.flow.Loop" in r.text
        return
    ex = run(api, source, "for_loop_example")
    assert ex["state"]["current"] == "SUCCESS"
    after = [tr for tr in ex["taskRunList"] if tr["taskId"] == "after_if"]
    assert len(after) == 1 and after[0]["outputs"]["value"] == "After if value 2"
    assert sorted(tr["outputs"]["value"] for tr in ex["taskRunList"] if tr["taskId"] == "before_if") == \
        ["Before if value 1", "Before if value 2", "Before if value 3"]


def test_subflow_wait_and_transmit_failed(api):
    """flow.Subflow example (parent_flow): inputs passed, ``wait: true``, ``transmitFailed: true``."""
    api.deploy("""
id: subflow
namespace: NS
inputs:
  - id: user
    type: STRING
  - id: favorite_song
    type: STRING
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.user }} likes {{ inputs.favorite_song }}"
""")
    ex = run(api, """
id: parent_flow
namespace: NS
tasks:
  - id: call_subflow
    type: io.kestra.plugin.core.flow.Subflow
    namespace: NS
    flowId: subflow
    inputs:
      user: Ada Lovelace
      favorite_song: Analytical Engine Blues
    wait: true
    transmitFailed: true
""".replace("namespace: NS\n    flowId", f"namespace: {api.ns}\n    flowId"), "parent_flow")
    assert ex["state"]["current"] == "SUCCESS"
    child_id = api.outputs(ex, "call_subflow")["executionId"]
    child = api.get(child_id)
    assert child["state"]["current"] == "SUCCESS"
    assert messages(api, child, "hello") == ["Ada Lovelace likes Analytical Engine Blues"]


def test_kv_examples(api):
    """kv.Set / kv.Get / kv.Delete / kv.GetKeys examples (the Set example's HTTP download replaced by
    a Write)."""
    ex = run(api, """
id: kv_store
namespace: NS
tasks:
  - id: write
    type: io.kestra.plugin.core.storage.Write
    content: "order,amount"
    extension: .csv
  - id: kv_set
    type: io.kestra.plugin.core.kv.Set
    key: orders_file
    value: "{{ outputs.write.uri }}"
    kvType: STRING
  - id: kv_get
    type: io.kestra.plugin.core.kv.Get
    key: orders_file
    errorOnMissing: true
  - id: kv_getkeys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: orders
  - id: kv_delete
    type: io.kestra.plugin.core.kv.Delete
    key: orders_file
""", "kv_store")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert api.outputs(ex, "kv_get")["value"] == api.outputs(ex, "write")["uri"]
    assert api.outputs(ex, "kv_getkeys")["keys"] == ["orders_file"]
    assert api.outputs(ex, "kv_delete")["deleted"] is True


def test_state_examples(api):
    """state.Set / state.Get / state.Delete examples (1.x), default and named states."""
    source = """
id: state_examples
namespace: NS
inputs:
  - id: store
    type: STRING
    defaults: shop-1
tasks:
  - id: set_state
    type: io.kestra.plugin.core.state.Set
    data:
      '{{ inputs.store }}': 'abc123'
  - id: set_named
    type: io.kestra.plugin.core.state.Set
    name: myState
    data:
      '{{ inputs.store }}': 'def456'
  - id: get_state
    type: io.kestra.plugin.core.state.Get
  - id: get_named
    type: io.kestra.plugin.core.state.Get
    name: myState
  - id: delete_state
    type: io.kestra.plugin.core.state.Delete
  - id: delete_named
    type: io.kestra.plugin.core.state.Delete
    name: myState
"""
    if api.gen == 2:
        r = api.http.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 422 and "io.kestra.plugin.core.kv." in r.text
        return
    ex = run(api, source, "state_examples")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert api.outputs(ex, "get_state")["data"] == {"shop-1": "abc123"}
    assert api.outputs(ex, "get_named")["data"] == {"shop-1": "def456"}
    assert api.outputs(ex, "delete_state")["deleted"] is True and api.outputs(ex, "delete_named")["deleted"] is True


def test_concat_of_script_output_files_with_jq(api):
    """storage.Concat example: the files of a shell task's ``outputDirs``... restated with ``outputFiles``
    (what current Kestra documents) and ``files: "{{ outputs.echo.outputFiles | jq('.[]') }}"``."""
    ex = run(api, """
id: concat_example
namespace: NS
tasks:
  - id: echo
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "Hello John" > 1.txt
      - echo "Hello Jane" > 2.txt
      - echo "Hello Doe" > 3.txt
    outputFiles:
      - "*.txt"
  - id: concat
    type: io.kestra.plugin.core.storage.Concat
    files: "{{ outputs.echo.outputFiles | jq('.[]') }}"
""", "concat_example")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    content = api.file(ex["id"], api.outputs(ex, "concat")["uri"]).decode()
    assert sorted(content.splitlines()) == ["Hello Doe", "Hello Jane", "Hello John"]


def test_local_files_inputs_then_shell(api):
    """storage.LocalFiles example (local_files, 1.x): inputs written in a WorkingDirectory, read by a shell
    task; then outputs captured recursively (``sub/**``)."""
    source = """
id: local_files
namespace: NS
tasks:
  - id: working_dir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: input_files
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: "Hello World\\n"
      - id: bash
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat hello.txt
          - mkdir -p sub/dir
          - echo "Hello from Bash" >> sub/dir/bash1.txt
          - echo "Hello from Bash" >> sub/dir/bash2.txt
      - id: output_files
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - sub/**
"""
    if api.gen == 2:
        r = api.http.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 422 and "outputFiles" in r.text
        return
    ex = run(api, source, "local_files")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert "Hello World" in messages(api, ex, "bash")
    assert sorted(api.outputs(ex, "output_files")["uris"]) == ["sub/dir/bash1.txt", "sub/dir/bash2.txt"]


def test_working_directory_shares_files(api):
    """flow.WorkingDirectory example (working_directory): a file written by the first task is read by the
    second, which sends it as an output through the ``::{"outputs":...}::`` protocol."""
    ex = run(api, """
id: working_directory
namespace: NS
tasks:
  - id: working_directory
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: first
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
        - 'echo "{{ taskrun.id }}" > {{ workingDir }}/stay.txt'
      - id: second
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
        - |
          echo '::{"outputs": {"stay":"'$(cat {{ workingDir }}/stay.txt)'"}}::'
""", "working_directory")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    first = [tr for tr in ex["taskRunList"] if tr["taskId"] == "first"][0]
    assert api.outputs(ex, "second")["vars"]["stay"] == first["id"]


def test_echo_example(api):
    """debug.Echo example (echo_flow, 1.x, deprecated)."""
    source = """
id: echo_flow
namespace: NS
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    level: WARN
    format: "{{ task.id }} > {{ taskrun.startDate }}"
"""
    if api.gen == 2:
        r = api.http.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                          headers={"Content-Type": "application/x-yaml"}, timeout=10)
        assert r.status_code == 422 and "core.log.Log" in r.text
        return
    ex = run(api, source, "echo_flow")
    assert ex["state"]["current"] == "SUCCESS"
    logs = [e for e in api.logs(ex["id"]) if e.get("taskId") == "echo"]
    assert len(logs) == 1 and logs[0]["level"] == "WARN" and logs[0]["message"].startswith("echo > ")


def test_write_example(api):
    """storage.Write example (write): content to a .txt file in internal storage; without ``extension``
    Kestra's temp file is ``.tmp`` (WorkingDir.createTempFile)."""
    ex = run(api, """
id: write
namespace: NS
tasks:
- id: write
  type: io.kestra.plugin.core.storage.Write
  content: Hello World
  extension: .txt
- id: plain
  type: io.kestra.plugin.core.storage.Write
  content: no extension
""", "write")
    assert ex["state"]["current"] == "SUCCESS"
    uri = api.outputs(ex, "write")["uri"]
    assert uri.endswith(".txt") and api.file(ex["id"], uri) == b"Hello World"
    assert api.outputs(ex, "plain")["uri"].endswith(".tmp")


def test_pause_human_in_the_loop(api):
    """flow.Pause example (human_in_the_loop): the execution pauses after the first task and runs the
    rest once resumed (the example's ``runner: PROCESS`` is the sandbox's only runner)."""
    api.deploy("""
id: human_in_the_loop
namespace: NS
tasks:
  - id: before_approval
    type: io.kestra.plugin.core.debug.Return
    format: Output data that needs to be validated by a human
  - id: pause
    type: io.kestra.plugin.core.flow.Pause
  - id: run_post_approval
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "Manual approval received! Continuing the execution..."
  - id: post_resume
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} started on {{ taskrun.startDate }} after the Pause"
""")
    ex = api.wait(api.start("human_in_the_loop")["id"], states={"PAUSED"})
    assert task_states(ex) == {"before_approval": "SUCCESS", "pause": "PAUSED"}
    r = api.action("POST", ex["id"], "resume")
    assert r.status_code in (200, 204), r.text
    ex = api.wait(ex["id"])
    assert ex["state"]["current"] == "SUCCESS"
    assert "Manual approval received! Continuing the execution..." in messages(api, ex, "run_post_approval")
    assert api.outputs(ex, "post_resume")["value"].startswith("post_resume started on ")


@pytest.mark.parametrize("inputs, expected", [
    ({"token": "t0k"}, "Bearer t0k"),
    ({"username": "ada", "password": "pw"}, "Basic YWRhOnB3"),
])
def test_return_examples(api, inputs, expected):
    """debug.Return examples: ``debug_value`` (full) and the ``compute_header`` task (``{%- elseif %}``,
    ``is not empty``, string ``+`` and ``base64encode`` in a folded scalar)."""
    ex = run(api, """
id: debug_value
namespace: NS
inputs:
  - id: token
    type: STRING
    required: false
  - id: username
    type: STRING
    required: false
  - id: password
    type: STRING
    required: false
tasks:
  - id: return
    type: io.kestra.plugin.core.debug.Return
    format: "{{ task.id }} > {{ taskrun.startDate }}"
  - id: compute_header
    type: io.kestra.plugin.core.debug.Return
    format: >-
      {%- if inputs.token is not empty -%}
      Bearer {{ inputs.token }}
      {%- elseif inputs.username is not empty and inputs.password is not empty -%}
      Basic {{ (inputs.username + ':' + inputs.password) | base64encode }}
      {%- endif -%}
""", "debug_value", inputs)
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert api.outputs(ex, "return")["value"].startswith("return > ")
    assert api.outputs(ex, "compute_header")["value"] == expected


def test_sleep_example(api):
    """flow.Sleep example (sleep; its PT5S shortened): the task run lasts the duration."""
    ex = run(api, """
id: sleep
namespace: NS
tasks:
  - id: sleep
    type: io.kestra.plugin.core.flow.Sleep
    duration: "PT0.5S"
""", "sleep")
    assert ex["state"]["current"] == "SUCCESS"
    import datetime as dt
    tr = ex["taskRunList"][0]
    start, end = (dt.datetime.fromisoformat(tr["state"][k].replace("Z", "+00:00")) for k in ("startDate", "endDate"))
    assert end - start >= dt.timedelta(seconds=0.5)
