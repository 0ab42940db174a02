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


def test_yaml_error_names_where_an_unclosed_bracket_or_quote_starts():
    # cell line 1 is %%kestra_flow: the `[` opens on cell line 6, the parser gives up on line 7
    bad = "id: hello\nnamespace: x\ntasks:\n  - id: a\n    items: [1, 2\n    type: t\n  - id: b\n"
    with pytest.raises(KestraMagicError) as err:
        check_yaml(bad)
    msg = str(err.value)
    assert "flow sequence that starts at cell line 6, column 12 (`items: [1, 2`)" in msg
    assert msg.startswith("YAML syntax error at cell line 7, column 9 (`type: t`)") and "\n" not in msg
    with pytest.raises(KestraMagicError) as err:
        check_yaml('id: hello\nnamespace: x\ndescription: "never closed\ntasks: []\n')
    assert "quoted scalar that starts at cell line 4, column 14 (`description: \"never closed`)" in str(err.value)


def test_yaml_error_on_the_construct_line_names_it_once():
    with pytest.raises(KestraMagicError) as err:
        check_yaml("id: hello\nnamespace: x\ntasks: [a, b: c: d]\n")
    assert "starts at" not in str(err.value) and "cell line 4" in str(err.value)


@pytest.mark.parametrize("body, limit", [
    ("variables:\n  l0: &l0 [lol]\n" + "".join(
        f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)), "aliases"),
    ("variables:\n  x: " + "[" * 20_000 + "]" * 20_000 + "\n", "deeper than 50 levels"),
    ("variables:\n  x: " + "x" * (3 * 1024 * 1024) + "\n", "3 MB"),
], ids=["bomb", "deep", "huge"])
def test_hostile_yaml_fails_the_cell_in_one_line_before_any_request(kb, ns, body, limit):
    import time
    before = len(kb.sb.requests)
    started = time.monotonic()
    failed = kb.fails(f"%%kestra_flow\nid: bomb\nnamespace: {ns}\ntasks: []\n{body}")
    assert time.monotonic() - started < 15     # a guard against minutes, not a benchmark
    msg = str(failed.error)
    assert msg.startswith("YAML refused") and limit in msg and "nothing was sent" in msg
    assert failed.output.strip().splitlines() == [f"YAMLError: {msg}"]
    assert len(kb.sb.requests) == before


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


@pytest.mark.parametrize("cell", ["x: " + "[" * 20_000, "l0: &l0 [lol]\n" + "".join(
    f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 7))], ids=["deep", "bomb"])
def test_hostile_inputs_cell_is_a_one_line_error(cell):
    with pytest.raises(KestraMagicError) as err:
        parse_cell_inputs(cell)
    assert "\n" not in str(err.value)
