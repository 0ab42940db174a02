"""Runnable core tasks the sandbox gained for conformance (issue 16), run as flows over HTTP on both
generations: core.kv.*, core.state.* (1.x), core.storage.Concat, core.storage.LocalFiles (1.x),
core.debug.Echo (1.x), core.trigger.Toggle, secrets masked in logs, the missing-variable message.

Each test cites the Kestra test whose facts it checks; the flows are written here.
"""
from __future__ import annotations

import base64

import pytest

from tests.sandbox.test_engine import Api

pytestmark = pytest.mark.conformance("tasks")


@pytest.fixture
def api(sandbox, ns):
    return Api(sandbox, ns)


def logs_of(api: Api, ex: dict, task_id: str | None = None) -> list[dict]:
    return [entry for entry in api.logs(ex["id"]) if task_id is None or entry.get("taskId") == task_id]


def rejected(api: Api, source: str) -> str:
    """2.x rejects a flow using what Kestra 2.0 removed; the message names the replacement."""
    r = api.http.post(f"{api.base}/flows", data=source.replace("NS", api.ns).encode(),
                      headers={"Content-Type": "application/x-yaml"}, timeout=10)
    assert r.status_code == 422, r.text
    return r.text


# ---------------------------------------------------------------------------------------
# KV store (io.kestra.plugin.core.kv.*: SetTest, GetTest, DeleteTest, GetKeysTest)

KV_FLOW = """
id: kv
namespace: NS
inputs:
  - id: value
    type: JSON
    defaults: '{"date": "2024-01-02", "int": 1, "string": "string"}'
tasks:
  - id: set_typed
    type: io.kestra.plugin.core.kv.Set
    key: typed
    value: "{{ inputs.value }}"
  - id: set_number
    type: io.kestra.plugin.core.kv.Set
    key: number
    value: "123.45"
    kvType: NUMBER
  - id: set_json
    type: io.kestra.plugin.core.kv.Set
    key: json
    value: '[{"some":"value"},{"another":"value"}]'
    kvType: JSON
  - id: set_bool
    type: io.kestra.plugin.core.kv.Set
    key: bool
    value: "true"
    kvType: BOOLEAN
  - id: get_typed
    type: io.kestra.plugin.core.kv.Get
    key: typed
  - id: get_number
    type: io.kestra.plugin.core.kv.Get
    key: number
  - id: get_json
    type: io.kestra.plugin.core.kv.Get
    key: json
  - id: get_bool
    type: io.kestra.plugin.core.kv.Get
    key: bool
  - id: get_missing
    type: io.kestra.plugin.core.kv.Get
    key: nothing
  - id: keys
    type: io.kestra.plugin.core.kv.GetKeys
    prefix: "n"
  - id: delete
    type: io.kestra.plugin.core.kv.Delete
    key: number
  - id: delete_again
    type: io.kestra.plugin.core.kv.Delete
    key: number
"""


def test_kv_set_get_delete_keep_types(api):
    """SetTest#shouldSetKVGivenNoNamespace, #typeSpecified; GetTest#shouldGetGivenExistingKey,
    #shouldGetGivenNonExistingKey; DeleteTest#shouldOutputTrueGivenExistingKey, #shouldOutputFalseGivenNonExistingKey;
    GetKeysTest (prefix)."""
    api.deploy(KV_FLOW)
    ex = api.run("kv")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert api.outputs(ex, "get_typed")["value"] == {"date": "2024-01-02", "int": 1, "string": "string"}
    assert api.outputs(ex, "get_number")["value"] == 123.45
    assert api.outputs(ex, "get_json")["value"] == [{"some": "value"}, {"another": "value"}]
    assert api.outputs(ex, "get_bool")["value"] is True
    assert api.outputs(ex, "get_missing").get("value") is None
    assert api.outputs(ex, "keys")["keys"] == ["number"]
    assert api.outputs(ex, "delete")["deleted"] is True
    assert api.outputs(ex, "delete_again")["deleted"] is False


def test_kv_values_survive_into_later_executions_and_errors_are_kestras(api):
    """SetTest#shouldFailGivenExistingKeyAndOverwriteFalse, GetTest/DeleteTest errorOnMissing messages;
    a value set by one execution is read by the next (the store is the namespace's)."""
    api.deploy("""
id: kv_set
namespace: NS
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: shared
    value: "first"
""")
    assert api.run("kv_set")["state"]["current"] == "SUCCESS"
    api.deploy("""
id: kv_read
namespace: NS
tasks:
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: shared
  - id: keep
    type: io.kestra.plugin.core.kv.Set
    key: shared
    value: "second"
    overwrite: false
""")
    ex = api.run("kv_read")
    assert api.outputs(ex, "get")["value"] == "first"
    assert ex["state"]["current"] == "FAILED"
    messages = [e["message"] for e in logs_of(api, ex, "keep")]
    assert "Cannot set value for key 'shared'. Key already exists and `overwrite` is set to `false`." in messages
    api.deploy("""
id: kv_missing
namespace: NS
tasks:
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: nothing
    errorOnMissing: true
""")
    ex = api.run("kv_missing")
    assert ex["state"]["current"] == "FAILED"
    assert (f"No value found for key 'nothing' in namespace '{api.ns}' and `errorOnMissing` is set to true"
            in [e["message"] for e in logs_of(api, ex, "get")])


def test_kv_namespace_must_exist(api):
    """SetTest#shouldFailGivenNonExistingNamespace (KVStoreService.get): another namespace must hold a flow
    or keys; a parent namespace of the flow's is always reachable."""
    api.deploy("""
id: kv_elsewhere
namespace: NS
tasks:
  - id: parent
    type: io.kestra.plugin.core.kv.Set
    namespace: "{{ flow.namespace | split('\\\\.') | first }}"
    key: up
    value: "1"
  - id: nowhere
    type: io.kestra.plugin.core.kv.Set
    namespace: not-found-anywhere
    key: k
    value: "1"
""")
    ex = api.run("kv_elsewhere")
    assert [tr["state"]["current"] for tr in ex["taskRunList"]] == ["SUCCESS", "FAILED"]
    assert "Cannot access the KV store. The namespace 'not-found-anywhere' does not exist." in \
        [e["message"] for e in logs_of(api, ex, "nowhere")]


def test_kv_ttl_expires(api):
    """SetTest#shouldSetKVGivenTTL; an expired key reads as missing (KvFunctionTest#shouldThrowOrGetEmptyIfExpired...)."""
    api.deploy("""
id: kv_ttl
namespace: NS
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: short
    value: "gone soon"
    ttl: PT0.2S
  - id: wait
    type: io.kestra.plugin.core.flow.Sleep
    duration: PT0.4S
  - id: get
    type: io.kestra.plugin.core.kv.Get
    key: short
""")
    ex = api.run("kv_ttl")
    assert ex["state"]["current"] == "FAILED"
    assert any("The requested value has expired" in e["message"] for e in logs_of(api, ex, "get"))


# ---------------------------------------------------------------------------------------
# State (io.kestra.plugin.core.state.*, 1.x: StateTest#run, #getThrow, #deleteThrow)

STATE_FLOW = """
id: state_tasks
namespace: NS
tasks:
  - id: get0
    type: io.kestra.plugin.core.state.Get
    name: counter
  - id: set1
    type: io.kestra.plugin.core.state.Set
    name: counter
    data:
      test: "1"
  - id: get1
    type: io.kestra.plugin.core.state.Get
    name: counter
  - id: set2
    type: io.kestra.plugin.core.state.Set
    name: counter
    data:
      test: "2"
      test2: "3"
  - id: get2
    type: io.kestra.plugin.core.state.Get
    name: counter
  - id: delete
    type: io.kestra.plugin.core.state.Delete
    name: counter
  - id: get3
    type: io.kestra.plugin.core.state.Get
    name: counter
  - id: get_throw
    type: io.kestra.plugin.core.state.Get
    name: counter
    errorOnMissing: true
"""


def test_state_tasks_on_1x_and_removed_on_2x(api):
    if api.gen == 2:
        assert "use io.kestra.plugin.core.kv.Get" in rejected(api, STATE_FLOW)
        return
    api.deploy(STATE_FLOW)
    ex = api.run("state_tasks")
    assert api.outputs(ex, "get0")["count"] == 0
    assert api.outputs(ex, "set1")["count"] == 1
    assert api.outputs(ex, "get1") == {"count": 1, "data": {"test": "1"}}
    assert api.outputs(ex, "set2")["count"] == 2
    assert api.outputs(ex, "get2") == {"count": 2, "data": {"test": "2", "test2": "3"}}
    assert api.outputs(ex, "delete")["deleted"] is True
    assert api.outputs(ex, "get3")["count"] == 0
    assert ex["state"]["current"] == "FAILED"   # getThrow: errorOnMissing on a missing state
    assert any("Unable to find the state file 'counter'" in e["message"] for e in logs_of(api, ex, "get_throw"))


# ---------------------------------------------------------------------------------------
# Concat (io.kestra.plugin.core.storage.Concat: ConcatTest#list, #json)

def test_concat_list_and_json_string(api):
    api.deploy("""
id: concat
namespace: NS
tasks:
  - id: a
    type: io.kestra.plugin.core.storage.Write
    content: "first"
  - id: b
    type: io.kestra.plugin.core.storage.Write
    content: "second"
  - id: as_list
    type: io.kestra.plugin.core.storage.Concat
    files:
      - "{{ outputs.a.uri }}"
      - "{{ outputs.b.uri }}"
    separator: "\\n"
    extension: .yml
  - id: as_json
    type: io.kestra.plugin.core.storage.Concat
    files: "{{ [outputs.a.uri, outputs.b.uri] | toJson }}"
""")
    ex = api.run("concat")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    listed = api.outputs(ex, "as_list")["uri"]
    assert listed.endswith(".yml")
    assert api.file(ex["id"], listed) == b"first\nsecond\n"
    assert api.file(ex["id"], api.outputs(ex, "as_json")["uri"]) == b"firstsecond"


# ---------------------------------------------------------------------------------------
# LocalFiles (1.x; LocalFilesTest#run, #recursive) and Echo (1.x, deprecated)

LOCAL_FILES = """
id: local_files
namespace: NS
tasks:
  - id: wdir
    type: io.kestra.plugin.core.flow.WorkingDirectory
    tasks:
      - id: inputs
        type: io.kestra.plugin.core.storage.LocalFiles
        inputs:
          hello.txt: "Hello World"
          test/sub/execution.txt: "{{ execution.id }}"
      - id: sh
        type: io.kestra.plugin.scripts.shell.Commands
        commands:
          - cat hello.txt
      - id: outputs
        type: io.kestra.plugin.core.storage.LocalFiles
        outputs:
          - hello.txt
          - "test/**"
"""


def test_local_files_on_1x_and_removed_on_2x(api):
    if api.gen == 2:
        assert "inputFiles and outputFiles" in rejected(api, LOCAL_FILES)
        return
    api.deploy(LOCAL_FILES)
    ex = api.run("local_files")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert "Hello World" in [e["message"] for e in logs_of(api, ex, "sh")]
    uris = api.outputs(ex, "outputs")["uris"]
    assert sorted(uris) == ["hello.txt", "test/sub/execution.txt"]
    assert api.file(ex["id"], uris["test/sub/execution.txt"]).decode() == ex["id"]


ECHO = """
id: echo
namespace: NS
tasks:
  - id: echo
    type: io.kestra.plugin.core.debug.Echo
    level: WARN
    format: "{{ task.id }} > {{ flow.id }}"
"""


def test_echo_on_1x_and_removed_on_2x(api):
    """Echo's documented example: logs ``format`` at ``level``; 2.x names Log as the replacement."""
    if api.gen == 2:
        assert "io.kestra.plugin.core.log.Log" in rejected(api, ECHO)
        return
    api.deploy(ECHO)
    ex = api.run("echo")
    assert ex["state"]["current"] == "SUCCESS"
    assert [(e["level"], e["message"]) for e in logs_of(api, ex, "echo")] == [("WARN", "echo > echo")]


# ---------------------------------------------------------------------------------------
# Toggle (ToggleTest: the flow and the trigger must exist)

def test_toggle_checks_flow_and_trigger(api):
    api.deploy("""
id: toggled
namespace: NS
tasks:
  - id: hello
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: schedule
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 0 1 1 *"
""")
    api.deploy("""
id: toggle
namespace: NS
tasks:
  - id: off
    type: io.kestra.plugin.core.trigger.Toggle
    flowId: toggled
    trigger: schedule
    enabled: false
  - id: unknown
    type: io.kestra.plugin.core.trigger.Toggle
    flowId: toggled
    trigger: nope
""")
    ex = api.run("toggle")
    assert [tr["state"]["current"] for tr in ex["taskRunList"]] == ["SUCCESS", "FAILED"]
    assert any(f"Unable to find trigger nope for the flow {api.ns}.toggled" in e["message"]
               for e in logs_of(api, ex, "unknown"))


# ---------------------------------------------------------------------------------------
# Secrets (SecretFunction, OSS: SECRET_<KEY> base64; RunContextLoggerTest#secrets: masked in logs)

def test_secret_is_decoded_and_masked_in_logs(api, monkeypatch):
    monkeypatch.setenv("SECRET_CONFORMANCE_PW", base64.b64encode(b"pa55-w0rd!").decode())
    api.deploy("""
id: secrets
namespace: NS
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "password={{ secret('CONFORMANCE_PW') }}"
  - id: length
    type: io.kestra.plugin.core.debug.Return
    format: "{{ secret('CONFORMANCE_PW') | length }}"
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo "from the script {{ secret('CONFORMANCE_PW') }}"
""")
    ex = api.run("secrets")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    assert api.outputs(ex, "length")["value"] == "10"
    messages = [e["message"] for e in logs_of(api, ex)]
    assert "password=******" in messages and "from the script ******" in messages
    assert not any("pa55-w0rd!" in m for m in messages)


def test_missing_secret_names_the_key(api):
    api.deploy("""
id: no_secret
namespace: NS
tasks:
  - id: log
    type: io.kestra.plugin.core.log.Log
    message: "{{ secret('CONFORMANCE_NOT_SET') }}"
""")
    ex = api.run("no_secret")
    assert ex["state"]["current"] == "FAILED"
    assert any("Cannot find secret for key 'CONFORMANCE_NOT_SET'" in e["message"] for e in logs_of(api, ex, "log"))


# ---------------------------------------------------------------------------------------
# The missing variable, as Kestra words it (VariablesTest#invalidVars, flows/valids/variables-invalid.yaml)

def test_missing_variable_message(api):
    api.deploy("""
id: invalid_vars
namespace: NS
tasks:
  - id: date
    type: io.kestra.plugin.core.debug.Return
    format: "{{taskrun.startDate}}"
  - id: invalid
    type: io.kestra.plugin.core.debug.Return
    format: "{{inputs.invalid}}"
""")
    ex = api.run("invalid_vars")
    assert ex["state"]["current"] == "FAILED"
    assert [tr["state"]["current"] for tr in ex["taskRunList"]] == ["SUCCESS", "FAILED"]
    # a flow without inputs has no `inputs` variable, so Kestra's message names `inputs`
    assert any("Unable to find `inputs` used in the expression `{{inputs.invalid}}` at line 1" in e["message"]
               for e in logs_of(api, ex, "invalid")), logs_of(api, ex, "invalid")


# ---------------------------------------------------------------------------------------
# kv() in a running flow (KvFunctionTest: the flow's namespace, errorOnMissing, Kestra's messages)

def test_kv_function_in_a_flow(api):
    api.deploy("""
id: kv_function
namespace: NS
tasks:
  - id: set
    type: io.kestra.plugin.core.kv.Set
    key: greeting
    value: '{"who": "Ada"}'
    kvType: JSON
  - id: read
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('greeting').who }}|{{ kv('absent', errorOnMissing=false) }}|{{ kv('greeting', namespace=flow.namespace).who }}"
  - id: missing
    type: io.kestra.plugin.core.debug.Return
    format: "{{ kv('absent') }}"
""")
    ex = api.run("kv_function")
    assert [tr["state"]["current"] for tr in ex["taskRunList"]] == ["SUCCESS", "SUCCESS", "FAILED"], api.logs(ex["id"])
    assert api.outputs(ex, "read")["value"] == "Ada||Ada"
    assert any(f"The key 'absent' does not exist in the namespace '{api.ns}'." in e["message"]
               for e in logs_of(api, ex, "missing")), logs_of(api, ex, "missing")


# ---------------------------------------------------------------------------------------
# currentEachOutput() (CurrentEachOutputFunctionTest#parallel, flows/valids/current-output.yaml), 1.x ForEach

CURRENT_EACH = """
id: current_each
namespace: NS
tasks:
  - id: outer
    type: io.kestra.plugin.core.flow.ForEach
    values: '["a1", "a2"]'
    tasks:
      - id: middle
        type: io.kestra.plugin.core.flow.ForEach
        values: '["b1", "b2"]'
        tasks:
          - id: inner
            type: io.kestra.plugin.core.flow.ForEach
            values: '["c1", "c2"]'
            tasks:
              - id: make
                type: io.kestra.plugin.core.debug.Return
                format: "{{ parents[1].taskrun.value }}-{{ parents[0].taskrun.value }}-{{ taskrun.value }}"
              - id: use
                type: io.kestra.plugin.core.debug.Return
                format: "return-{{ currentEachOutput(outputs.make).value }}"
  - id: flat
    type: io.kestra.plugin.core.flow.ForEach
    values: '["d1", "d2"]'
    tasks:
      - id: make_flat
        type: io.kestra.plugin.core.debug.Return
        format: "{{ taskrun.value }}"
      - id: use_flat
        type: io.kestra.plugin.core.debug.Return
        format: "return-{{ currentEachOutput(outputs.make_flat).value }}"
"""


def test_current_each_output_in_nested_foreach(api):
    if api.gen == 2:
        return   # ForEach is 1.x only (2.x rejects it naming Loop: tests/conformance/test_examples.py)
    api.deploy(CURRENT_EACH)
    ex = api.run("current_each")
    assert ex["state"]["current"] == "SUCCESS", api.logs(ex["id"])
    used = sorted(tr["outputs"]["value"] for tr in ex["taskRunList"] if tr["taskId"] == "use")
    assert used == sorted(f"return-{a}-{b}-{c}" for a in ("a1", "a2") for b in ("b1", "b2") for c in ("c1", "c2"))
    assert sorted(tr["outputs"]["value"] for tr in ex["taskRunList"] if tr["taskId"] == "use_flat") == \
        ["return-d1", "return-d2"]


def test_state_shared_by_namespace(api):
    """StateNamespaceTest#run (1.x): ``namespace: true`` shares a state between the namespace's flows; the
    flow-scoped state of another flow stays empty."""
    if api.gen == 2:
        return   # state.* is 1.x only; 2.x's rejection is tested above
    api.deploy("""
id: state_writer
namespace: NS
tasks:
  - id: set
    type: io.kestra.plugin.core.state.Set
    namespace: true
    data:
      john: doe
""")
    api.deploy("""
id: state_reader
namespace: NS
tasks:
  - id: shared
    type: io.kestra.plugin.core.state.Get
    namespace: true
  - id: own
    type: io.kestra.plugin.core.state.Get
""")
    assert api.outputs(api.run("state_writer"), "set")["count"] == 1
    ex = api.run("state_reader")
    assert api.outputs(ex, "shared") == {"count": 1, "data": {"john": "doe"}}
    assert api.outputs(ex, "own")["count"] == 0
