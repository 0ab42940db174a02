"""Local parsing: flow YAML checks (cell line/column), --namespace, input resolution."""
from __future__ import annotations

import pandas as pd
import pytest

from kestra_magic.notebook.errors import KestraMagicError
from kestra_magic.notebook.flowcell import FlowSummary, check_yaml, set_namespace
from kestra_magic.notebook.inputs import parse_cell_inputs, resolve_inputs

FLOW = """id: hello
namespace: company.team
tasks:
  - id: say
    type: io.kestra.plugin.core.log.Log
    message: "{{ inputs.name }} costs $5"
"""


def test_yaml_syntax_error_names_cell_line_and_column():
    bad = "id: hello\nnamespace: x\ntasks:\n  - id: a\n    type: t\n   message: [unclosed\n"
    with pytest.raises(KestraMagicError) as err:
        check_yaml(bad)
    msg = str(err.value)
    assert "cell line 7" in msg and "column" in msg and "nothing was sent" in msg
    assert err.value._render_traceback_() == [f"YAMLError: {msg}"]


def test_yaml_must_be_a_flow_mapping():
    with pytest.raises(KestraMagicError, match="YAML mapping"):
        check_yaml("- a\n- b\n")
    with pytest.raises(KestraMagicError, match="no `namespace:`"):
        check_yaml("id: x\ntasks: []\n")


def test_set_namespace_changes_only_that_line():
    out = set_namespace(FLOW, "other.ns")
    assert out == FLOW.replace("namespace: company.team", "namespace: other.ns")
    assert set_namespace("id: a\ntasks: []\n", "n1") == "id: a\nnamespace: n1\ntasks: []\n"


def test_flow_summary_text():
    s = FlowSummary("ns", "f", 2, "updated", 3, "http://k/ui/main/flows/edit/ns/f", ["w1"])
    assert repr(s) == "flow ns.f revision 2 (new), 3 tasks\nUI: http://k/ui/main/flows/edit/ns/f\nwarning: w1"
    assert "revision <b>2</b>" in s._repr_html_()


def test_resolve_inputs_text_vars_files_and_escapes(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    df = pd.DataFrame({"x": [1, 2]})
    user_ns = {"n": 5, "df": df, "params": {"p": "q", "frame": df}}
    inputs, files = resolve_inputs(user_ns, ["a=hello world", "n=$n", "table=$df", f"f=@{path}",
                                             "lit=$$dollar", "at=@@home"], "$params", {"c": 1, "a": "x"})
    assert inputs == {"a": "hello world", "n": 5, "lit": "$dollar", "at": "@home", "p": "q", "c": 1}
    assert files["f"] == path and files["table"] is df and files["frame"] is df
    assert set(files) == {"f", "table", "frame"}


@pytest.mark.parametrize("pairs, ref, message", [
    (["x=$missing"], None, "'missing' is not defined"),
    (["x=@/no/such/file.csv"], None, "not found"),
    (["novalue"], None, "not KEY=VALUE"),
    ([], "params", "as \\$name"),
    ([], "$n", "not a dict"),
])
def test_resolve_inputs_errors(pairs, ref, message):
    with pytest.raises(KestraMagicError, match=message):
        resolve_inputs({"n": 1}, pairs, ref, None)


def test_cell_inputs_yaml():
    assert parse_cell_inputs("a: 1\nb: [1, 2]\n") == {"a": 1, "b": [1, 2]}
    assert parse_cell_inputs("  \n") == {}
    with pytest.raises(KestraMagicError, match="cell line 3, column 5"):
        parse_cell_inputs("a: 1\nb: c: d\n")
