"""An input name the flow does not declare is named, with the flow's inputs, before any request when
the client knows the flow (``know_flow``, as ``%%kestra_flow`` does), and after the server's refusal
otherwise - for scripts (``km.run``) as for ``%kestra_run``."""
from __future__ import annotations

import pytest

from kestra_magic.runs import UnknownInput, describe_inputs, unknown_inputs_message

FLOW = """id: greet
namespace: {ns}
inputs:
  - id: name
    type: STRING
  - id: times
    type: INT
    defaults: 1
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{{{ inputs.name }}}}"
"""


def _armed(sandbox, ns):
    """A fault on every request about ``ns``: it is consumed only if a request is sent."""
    sandbox.faults.fail(503, times=1, path=ns.replace(".", r"\."))
    return lambda: any(ns.replace(".", r"\.") in (r.get("path") or "") for r in sandbox.faults.active()["rules"])


def test_the_message_names_the_input_and_the_flows_inputs():
    declared = [{"id": "name", "type": "STRING"}, {"id": "times", "type": "INT", "defaults": 1},
                {"id": "note", "type": "STRING", "required": False}]
    assert describe_inputs(declared) == "name (STRING, required), times (INT), note (STRING)"
    assert unknown_inputs_message("a.f", ["nme"], declared) == (
        "unknown input 'nme' (did you mean 'name'?) for flow a.f; this flow's inputs: "
        "name (STRING, required), times (INT), note (STRING)")
    assert unknown_inputs_message("a.f", ["zzz", "yyy"], []) == (
        "unknown inputs 'zzz', 'yyy' for flow a.f; this flow declares no inputs")
    assert unknown_inputs_message("a.f", ["name", "times"], declared) is None


def test_a_known_flow_is_checked_before_any_request(client, sandbox, ns):
    flow = client.flows.create_flow(FLOW.format(ns=ns))
    client.know_flow(flow)
    untouched = _armed(sandbox, ns)
    try:
        with pytest.raises(UnknownInput) as err:
            client.run(f"{ns}.greet", inputs={"nme": "Ada"})
        assert untouched(), "a request was sent before the unknown input was reported"
    finally:
        sandbox.faults.clear()
    assert str(err.value) == (f"unknown input 'nme' (did you mean 'name'?) for flow {ns}.greet; "
                              f"this flow's inputs: name (STRING, required), times (INT)")
    assert isinstance(err.value, ValueError)          # a magic reports it as one line
    assert client.executions.search_executions(namespace=ns).total == 0


def test_an_unknown_flow_definition_is_read_when_the_server_refuses(client, ns):
    client.flows.create_flow(FLOW.format(ns=ns))      # this client never remembers it
    with pytest.raises(UnknownInput, match=r"unknown input 'nme'.*name \(STRING, required\)"):
        client.run(f"{ns}.greet", inputs={"nme": "Ada"})


def test_the_definition_saved_last_is_the_one_checked(client, ns):
    client.know_flow(client.flows.create_flow(FLOW.format(ns=ns)))
    flow, _ = client.flows.upsert_flow(FLOW.format(ns=ns).replace(
        "tasks:", "  - id: extra\n    type: STRING\n    required: false\ntasks:"))
    client.know_flow(flow)
    run = client.run(f"{ns}.greet", inputs={"name": "Ada", "extra": "x"}, timeout=30)
    assert run.state == "SUCCESS"


def test_km_run_in_a_script_names_the_unknown_input(sandbox_v2, ns):
    import kestra_magic as km
    km.configure(url=sandbox_v2.url)
    try:
        km.client().flows.create_flow(FLOW.format(ns=ns))
        with pytest.raises(km.KestraError, match="unknown input 'nme'"):
            km.run(f"{ns}.greet", inputs={"nme": "Ada"})
    finally:
        km.configure(reset=True)
