"""The flow topology as a static SVG: from the flow's YAML and from the server's graph (both
generations), with state colours; self-contained markup that survives a saved notebook."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
import yaml

from kestra_magic.notebook.topology import STATE_COLOURS, Topology, flow_topology, topology_svg

SVG = "{http://www.w3.org/2000/svg}"

FLOW = """
id: topo
namespace: NS
triggers:
  - id: daily
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "0 9 * * *"
tasks:
  - id: extract
    type: io.kestra.plugin.core.http.Download
    uri: http://example.invalid/data.csv
  - id: par
    type: io.kestra.plugin.core.flow.Parallel
    tasks:
      - id: left
        type: io.kestra.plugin.core.debug.Return
        format: l
      - id: right
        type: io.kestra.plugin.core.debug.Return
        format: r
  - id: check
    type: io.kestra.plugin.core.flow.If
    condition: "{{ true }}"
    then:
      - id: when_true
        type: io.kestra.plugin.core.log.Log
        message: y
    else:
      - id: when_false
        type: io.kestra.plugin.core.log.Log
        message: n
  - id: child
    type: io.kestra.plugin.core.flow.Subflow
    namespace: other
    flowId: "a&b"
errors:
  - id: alert
    type: io.kestra.plugin.core.log.Log
    message: failed
finally:
  - id: cleanup
    type: io.kestra.plugin.core.log.Log
    message: bye
"""


def boxes(svg: str) -> dict[str, tuple[float, float, str]]:
    """task id -> (x, y, state) of each task box."""
    root = ET.fromstring(svg)
    out = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "km-task":
            rect = g.find(SVG + "rect")
            out[g.get("data-task-id")] = (float(rect.get("x")), float(rect.get("y")), g.get("data-state"))
    return out


def test_tasks_run_top_to_bottom_and_branches_sit_side_by_side():
    b = boxes(topology_svg(FLOW))
    assert b["extract"][1] < b["par"][1] < b["left"][1] < b["check"][1] < b["when_true"][1] < b["child"][1]
    assert b["left"][1] == b["right"][1] and b["left"][0] < b["right"][0]          # Parallel
    assert b["when_true"][1] == b["when_false"][1] and b["when_true"][0] < b["when_false"][0]  # If
    svg = topology_svg(FLOW)
    assert ">then</text>" in svg and ">else</text>" in svg


def test_error_and_finally_blocks_are_columns_right_of_the_main_flow():
    b = boxes(topology_svg(FLOW))
    main_right = max(x for tid, (x, _, _) in b.items() if tid not in ("alert", "cleanup"))
    assert b["alert"][0] > main_right and b["cleanup"][0] > b["alert"][0]
    svg = topology_svg(FLOW)
    assert ">errors</text>" in svg and ">finally</text>" in svg


def test_loops_subflows_and_triggers_are_drawn():
    loop = ("id: l\nnamespace: n\ntasks:\n  - id: each\n    type: io.kestra.plugin.core.flow.Loop\n"
            "    values: [1, 2]\n    tasks:\n      - id: step\n        type: io.kestra.plugin.core.log.Log\n"
            "        message: x\n    errors:\n      - id: on_fail\n        type: io.kestra.plugin.core.log.Log\n"
            "        message: x\n")
    b = boxes(topology_svg(loop))
    assert b["step"][1] > b["each"][1] and b["on_fail"][1] == b["step"][1]       # body and its handler
    svg = topology_svg(FLOW)
    assert "↳ other.a&amp;b" in svg                                             # escaped subflow target
    assert "daily (Schedule)" in svg


def test_state_colours_mark_each_task():
    svg = topology_svg(FLOW, {"extract": "SUCCESS", "right": "FAILED", "par": "RUNNING"})
    b = boxes(svg)
    assert b["extract"][2] == "SUCCESS" and b["right"][2] == "FAILED" and b["left"][2] == "NONE"
    failed = re.search(r'data-task-id="right".*?</g>', svg).group(0)
    assert STATE_COLOURS["FAILED"] in failed and ">FAILED</text>" in failed


def test_markup_is_static_and_well_formed():
    svg = topology_svg(FLOW)
    root = ET.fromstring(svg)                 # well-formed XML
    assert root.tag == SVG + "svg" and float(root.get("width")) > 0 and float(root.get("height")) > 0
    assert "<script" not in svg and "on" + "click" not in svg
    html = Topology(FLOW)._repr_html_()
    assert html.startswith('<div class="km-topology-box"') and "overflow:auto" in html
    assert "(no tasks)" in topology_svg("id: e\nnamespace: n\ntasks: []\n")


def test_bad_input_is_a_clear_error():
    with pytest.raises(TypeError, match="needs a FlowGraph dict, a flow dict, its YAML or a Flow"):
        topology_svg(42)


def test_the_servers_graph_draws_the_same_picture_as_the_yaml(client, ns):
    source = FLOW.replace("NS", ns)
    client.flows.create_flow(source)
    from kestra_magic.api.plugins import PluginsApi
    graph = PluginsApi(client._transport).flow_graph(ns, "topo")
    assert graph["nodes"] and graph["edges"] and graph["clusters"]
    states = {"extract": "SUCCESS", "left": "RUNNING"}
    assert topology_svg(graph, states) == topology_svg(yaml.safe_load(source), states)
    shown = flow_topology(client, ns, "topo", states=states)
    assert shown.svg == topology_svg(source, states)


def test_without_a_graph_endpoint_the_picture_comes_from_the_flow(client, sandbox, ns):
    source = FLOW.replace("NS", ns)
    client.flows.create_flow(source)
    sandbox.faults.fail(404, path=r"/graph$", times=1)
    try:
        shown = flow_topology(client, ns, "topo")
    finally:
        sandbox.faults.clear()
    assert shown.svg == topology_svg(source)
    assert any(r.path.endswith("/graph") for r in sandbox.requests)


def test_task_states_show_the_most_urgent_state_of_a_tasks_runs():
    from kestra_magic.notebook.topology import task_states
    runs = [{"taskId": "each", "state": {"current": "RUNNING"}},
            *[{"taskId": "step", "value": str(i), "state": {"current": "SUCCESS"}} for i in range(5)],
            {"taskId": "step", "value": "5", "state": {"current": "FAILED"}},
            {"taskId": "log", "state": {"current": "SUCCESS"}}]
    assert task_states(runs) == {"each": "RUNNING", "step": "FAILED", "log": "SUCCESS"}
    import pandas as pd
    frame = pd.DataFrame([{"taskId": "a", "state": "SUCCESS"}, {"taskId": "a", "state": "RUNNING"}])
    assert task_states(frame) == {"a": "RUNNING"}


def test_a_finished_execution_colours_its_topology(client, ns):
    from kestra_magic.notebook.topology import task_states
    source = ("id: done\nnamespace: NS\ntasks:\n  - id: ok\n    type: io.kestra.plugin.core.debug.Return\n"
              "    format: x\n  - id: boom\n    type: io.kestra.plugin.core.execution.Fail\n").replace("NS", ns)
    client.flows.create_flow(source)
    ex = client.executions.create_execution(ns, "done", wait=True)
    import time
    deadline = time.monotonic() + 20
    while ex.state.current not in ("FAILED", "SUCCESS"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
        ex = client.executions.get_execution(ex.id)
    b = boxes(flow_topology(client, ns, "done", states=task_states(ex.raw.get("taskRunList"))).svg)
    assert b["ok"][2] == "SUCCESS" and b["boom"][2] == "FAILED"
