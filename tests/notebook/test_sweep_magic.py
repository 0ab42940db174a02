"""`%kestra_run ... --sweep $df`: one execution per row, a DataFrame back, shared inputs and labels."""
from __future__ import annotations

import pandas as pd

from .conftest import flow_yaml

SWEEP_FLOW_EXTRA = """inputs:
  - id: x
    type: INT
  - id: unit
    type: STRING
    defaults: m
outputs:
  - id: result
    type: STRING
    value: "{{ outputs.calc.value }}"
"""
CALC_TASK = """  - id: calc
    type: io.kestra.plugin.core.debug.Return
    format: "{{ inputs.x * 10 }}{{ inputs.unit }}"
"""


def test_sweep_runs_one_execution_per_row_with_shared_inputs(kb, ns):
    kb.run(f"%%kestra_flow\n{flow_yaml(ns, 'calc', CALC_TASK, SWEEP_FLOW_EXTRA)}")
    kb.ns["grid"] = pd.DataFrame({"x": [1, 2, 3]})
    before = len([r for r in kb.sb.requests if r.method == "POST" and f"/executions/{ns}/calc" in r.path])
    kb.run(f"res = %kestra_run {ns}.calc --sweep $grid --input unit=km --label team:ds --max-workers 2")
    res = kb.ns["res"]
    assert isinstance(res, pd.DataFrame)
    assert res["x"].tolist() == [1, 2, 3] and res["state"].tolist() == ["SUCCESS"] * 3
    assert res["result"].tolist() == ["10km", "20km", "30km"]      # the shared input reached every run
    posts = [r for r in kb.sb.requests if r.method == "POST" and f"/executions/{ns}/calc" in r.path]
    assert len(posts) - before == 3                                 # exactly one create per row
    ex = kb.sb.store.executions[res["executionId"][0]]
    assert {"key": "team", "value": "ds"} in ex["labels"]
    assert "sweep: 3/3 finished" in kb.out                          # the text progress view


def test_sweep_rejects_what_it_cannot_do_before_sending(kb, ns):
    kb.ns["grid"] = pd.DataFrame({"x": [1]})
    kb.ns["notrows"] = 42
    before = len(kb.sb.requests)
    failed = kb.fails(f"%kestra_run {ns}.calc --sweep $grid --no-wait")
    assert "--no-wait cannot be combined with --sweep" in str(failed.error)
    failed = kb.fails(f"%kestra_run {ns}.calc --sweep grid")
    assert "$name" in str(failed.error)
    failed = kb.fails(f"%kestra_run {ns}.calc --sweep $notrows")
    assert "int" in str(failed.error) and "DataFrame" in str(failed.error)
    failed = kb.fails(f"%kestra_run {ns}.calc --sweep $missing")
    assert "'missing' is not defined" in str(failed.error)
    assert len(kb.sb.requests) == before
    assert failed.output.strip().count("\n") == 0                     # one line, no traceback
