"""Hostile YAML (issue 20): Kestra's limits in kestra_magic.safe_yaml, a 4xx from every flow
endpoint of the sandbox in bounded time (and the server still answering), a one-line error from
the ``%%kestra_flow`` check. Time bounds are generous guards against the minutes an unbounded
parser takes (the issue's alias bomb took 24 s at 8 levels, x9 per level), not benchmarks.
"""
from __future__ import annotations

import time

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_magic import safe_yaml
from tests.reliability.hostile import FLOW_HEAD, alias_bomb, deep_nesting, encode, hostile_yaml, json_values

BOUND = 15.0   # seconds: far above any bounded answer, far below an unbounded one
FUZZ = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


def refused(text: str) -> safe_yaml.YamlLimitError:
    with pytest.raises(safe_yaml.YamlLimitError) as err:
        safe_yaml.load(text)
    return err.value


# -- the limits ----------------------------------------------------------------------------------
def test_fifty_aliases_to_collections_load_the_fifty_first_is_refused():
    doc = "a: &a [1]\nb: [" + ", ".join(["*a"] * 50) + "]\n"
    assert safe_yaml.load(doc)["b"] == [[1]] * 50
    err = refused(doc[:-2] + ", *a]\n")
    assert err.limit == "aliases" and "more than 50 aliases" in err.problem and "pluginDefaults" in err.problem
    assert err.problem_mark.line == 1


def test_aliases_to_scalars_are_not_counted_as_in_snakeyaml():
    doc = "a: &a x\nb: [" + ", ".join(["*a"] * 500) + "]\n"
    assert safe_yaml.load(doc)["b"] == ["x"] * 500


def test_the_issue_alias_bomb_is_refused_at_once():
    started = time.monotonic()
    err = refused(FLOW_HEAD.format(ns="a.b") + alias_bomb(8, 9))
    assert time.monotonic() - started < BOUND
    assert err.limit in ("aliases", "alias-expansion")


def test_aliases_that_multiply_within_fifty_are_refused_by_their_expansion():
    # 2 aliases per level, 24 levels: 48 aliases, 2**24 copies of the base list
    doc = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 25))
    err = refused(doc)
    assert err.limit == "alias-expansion" and str(safe_yaml.MAX_ALIAS_EXPANSION) in err.problem


@pytest.mark.parametrize("shape", ["flow-seq", "flow-map", "block-seq", "block-map"])
def test_nesting_depth_is_fifty_like_snakeyaml(shape):
    # the flow mapping + `variables` + `x` hold the nested part: 2-3 enclosing nodes already
    deepest_ok = next(d for d in range(60, 0, -1) if _loads(deep_nesting(d, shape)))
    assert 45 <= deepest_ok <= 50
    err = refused(deep_nesting(deepest_ok + 1, shape))
    assert err.limit == "depth" and "deeper than 50" in err.problem


def test_twenty_thousand_brackets_are_refused_not_a_recursion_error():
    assert refused("[" * 20_000 + "]" * 20_000).limit == "depth"
    assert refused("[" * 20_000).limit == "depth"     # unclosed too: refused before the syntax error


def test_nesting_through_an_alias_counts_the_expanded_depth():
    doc = "a: &a " + "[" * 40 + "]" * 40 + "\nb: " + "[" * 20 + "*a" + "]" * 20 + "\n"
    err = refused(doc)
    assert err.limit == "depth" and "*a" in err.problem


def test_recursive_alias_is_refused():
    err = refused("a: &a [1, *a]\n")
    assert err.limit == "recursion" and "*a" in err.problem


def test_document_size_is_kestras_three_megabytes():
    assert safe_yaml.MAX_CODE_POINTS == 3 * 1024 * 1024
    ok = "a: " + "é" * (safe_yaml.MAX_CODE_POINTS - 3)   # code points, not bytes
    assert len(safe_yaml.load(ok)["a"]) == safe_yaml.MAX_CODE_POINTS - 3
    err = refused(ok + "é")
    assert err.limit == "size" and "namespace files" in err.problem


def test_limit_errors_are_yaml_errors_with_a_line():
    err = refused("a: &a [1]\nb: [" + ", ".join(["*a"] * 51) + "]\n")
    assert isinstance(err, yaml.YAMLError)
    assert "line 2" in str(err)


def test_legitimate_anchors_and_merge_keys_keep_working():
    doc = ("defaults: &retry {type: constant, maxAttempts: 3}\n"
           "tasks:\n"
           "  - {id: a, retry: *retry}\n"
           "  - {id: b, retry: *retry}\n"
           "  - id: c\n    <<: *retry\n    maxAttempts: 5\n")
    data = safe_yaml.load(doc)
    assert data == yaml.safe_load(doc)
    assert data["tasks"][2] == {"id": "c", "type": "constant", "maxAttempts": 5}


def test_a_custom_resolver_types_scalars():
    from kestra_magic.sandbox.flows import load_yaml
    assert load_yaml("a: off\nb: true\n") == {"a": "off", "b": True}   # the sandbox: YAML 1.2 booleans
    assert safe_yaml.load("a: off\n") == {"a": False}                  # the default: yaml.safe_load's


@FUZZ
@given(data=json_values, flow_style=st.sampled_from([False, True, None]))
def test_plain_documents_load_as_yaml_safe_load_does(data, flow_style):
    text = yaml.safe_dump({"v": data}, default_flow_style=flow_style, allow_unicode=True)
    assert safe_yaml.load(text) == yaml.safe_load(text)


def _loads(text: str) -> bool:
    try:
        safe_yaml.load(text)
        return True
    except safe_yaml.YamlLimitError:
        return False


# -- the sandbox: every flow endpoint answers 4xx, in bounded time, and keeps answering -----------
def _post(sb, method: str, path: str, body: bytes, content_type: str = "application/x-yaml"):
    started = time.monotonic()
    r = requests.request(method, f"{sb.url}/api/v1/main{path}", data=body,
                         headers={"Content-Type": content_type}, timeout=BOUND * 2)
    elapsed = time.monotonic() - started
    assert r.status_code < 500, f"{method} {path}: {r.status_code} {r.text[:300]}"
    assert elapsed < BOUND, f"{method} {path} took {elapsed:.1f} s"
    if r.status_code >= 400 and r.content:
        assert r.headers["Content-Type"] == ("application/json" if sb.generation == 1
                                             else "application/problem+json")
        r.json()
    return r


def _still_answers(sb) -> None:
    assert requests.get(f"{sb.url}/api/v1/configs", timeout=10).status_code == 200


@pytest.mark.parametrize("body", [alias_bomb(8, 9), deep_nesting(20_000, "flow-seq")], ids=["bomb", "deep"])
def test_the_issue_inputs_answer_422_on_every_flow_endpoint(sandbox, ns, body):
    text = (FLOW_HEAD.format(ns=ns) + body).encode()
    assert _post(sandbox, "POST", "/flows", text).status_code == 422
    r = _post(sandbox, "POST", "/flows", text)
    detail = r.text
    assert "aliases" in detail or "deeper than 50" in detail
    assert _post(sandbox, "PUT", f"/flows/{ns}/hostile", text).status_code in (404, 422)
    assert _post(sandbox, "POST", "/flows/validate", text).status_code in (200, 422)
    assert _post(sandbox, "POST", f"/flows/{ns}", text).status_code == 422
    _still_answers(sandbox)


@FUZZ
@given(case=hostile_yaml(), encoding=st.sampled_from(["utf-8", "utf-8", "utf-8-bom", "utf-16", "latin-1"]),
       endpoint=st.sampled_from(["create", "update", "validate", "sync"]))
def test_hostile_yaml_never_gets_a_5xx(sandbox, case, encoding, endpoint):
    kind, part = case
    ns = "hostile.fuzz"
    body = encode(FLOW_HEAD.format(ns=ns) + part, encoding)
    method, path = {"create": ("POST", "/flows"), "update": ("PUT", f"/flows/{ns}/hostile"),
                    "validate": ("POST", "/flows/validate"), "sync": ("POST", f"/flows/{ns}")}[endpoint]
    r = _post(sandbox, method, path, body)
    if kind in ("bomb", "deep") and endpoint in ("create", "sync"):
        assert r.status_code == 422
    _still_answers(sandbox)


# -- the %%kestra_flow check: a one-line error, before anything is sent --------------------------
@FUZZ
@given(case=hostile_yaml())
def test_cell_check_gives_one_line_in_bounded_time(case):
    from kestra_magic.notebook.errors import KestraMagicError
    from kestra_magic.notebook.flowcell import check_yaml
    kind, part = case
    started = time.monotonic()
    try:
        check_yaml(FLOW_HEAD.format(ns="a.b") + part)
        assert kind in ("anchors", "odd", "huge", "value")
    except KestraMagicError as err:
        assert "\n" not in str(err) and len(str(err)) < 600
        assert "nothing was sent" in str(err) or err.kind == "UsageError"
    assert time.monotonic() - started < BOUND


@pytest.mark.parametrize("value", ["2020-13-45", "!!int x", "!!bool maybe", "!!timestamp x", "9" * 5000,
                                   "0x" + "f" * 9000])
def test_unreadable_values_are_yaml_errors_at_their_line(value):
    with pytest.raises(yaml.constructor.ConstructorError) as err:
        safe_yaml.load(f"a: 1\nb: [1, {{c: {value}}}]\n")
    assert err.value.problem_mark.line == 1 and "cannot read the value" in err.value.problem


def test_sets_and_binary_read_as_kestra_shows_them_in_json():
    assert safe_yaml.load("a: !!set {x, y}\nb: !!binary aGVsbG8=\n") == {"a": ["x", "y"], "b": "aGVsbG8="}


def test_client_reads_a_flow_key_within_the_limits():
    from kestra_magic.api.flows import _flow_key
    from kestra_magic.errors import KestraError
    with pytest.raises(KestraError, match="YAML"):
        _flow_key("id: a\nnamespace: b\nx: " + "[" * 20_000)
