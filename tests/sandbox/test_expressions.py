"""Pebble expressions rendered with Kestra's semantics (kestra_magic.sandbox.expressions)."""
from __future__ import annotations

import datetime as dt

import pytest

from kestra_magic.sandbox.expressions import ExpressionError, render, render_value

CTX = {
    "inputs": {"name": "Ada", "n": 3, "obj": {"a": 1, "b": [1, 2]}, "csv": "a,b,c", "flag": True},
    "outputs": {"t": {"value": "v"}, "each": {"x": {"value": "X!"}, "y": {"value": "Y!"}},
                "my-task": {"value": 7}},
    "execution": {"id": "E1", "startDate": "2024-01-02T03:04:05.123Z", "namespace": "ns", "flowId": "f"},
    "taskrun": {"value": "x", "iteration": 0},
    "vars": {"greeting": "hello"},
}


@pytest.mark.parametrize("template, expected", [
    ("{{ inputs.name | upper }}", "ADA"),
    ("{{ inputs.name | lower }}", "ada"),
    ("{{ '  pad ' | trim }}", "pad"),
    ("{{ inputs.obj }}", '{"a":1,"b":[1,2]}'),
    ("{{ inputs.obj | toJson }}", '{"a":1,"b":[1,2]}'),
    ("{{ inputs.flag }}", "true"),
    ("{{ inputs.name ~ '-' ~ execution.id }}", "Ada-E1"),
    ("{{ execution.startDate | date('yyyy-MM-dd') }}", "2024-01-02"),
    ("{{ execution.startDate | date(\"dd/MM/yyyy HH:mm:ss.SSS\") }}", "02/01/2024 03:04:05.123"),
    ("{{ execution.startDate | date(\"yyyyMMdd'T'HH\") }}", "20240102T03"),
    ("{{ inputs.missing | default('z') }}", "z"),
    ("{{ inputs.missing.deeper | default('q') }}", "q"),
    ("{{ '' | default('empty') }}", "empty"),
    ("{% for i in [1, 2, 3] %}{{ i }}{% endfor %}", "123"),
    ("{% if inputs.n > 2 %}big{% else %}small{% endif %}", "big"),
    ("{{ inputs.csv | split(',') | join('+') }}", "a+b+c"),
    ("{{ inputs.csv | split(',') | length }}", "3"),
    ("{{ inputs.name | base64encode }}", "QWRh"),
    ("{{ 'QWRh' | base64decode }}", "Ada"),
    ('{{ fromJson(\'{"k": 2}\').k }}', "2"),
    ('{{ (\'{"k": [5]}\' | fromJson).k[0] }}', "5"),
    ("{{ '5' | number + 1 }}", "6"),
    ("{{ '2.5' | number * 2 }}", "5.0"),
    ("{{ null }}", ""),
    ("{{ inputs.name equals 'Ada' }}", "true"),
    ("{{ inputs.obj | length }}", "2"),
    ("{{ 'a-b-a' | replace('a', 'x') }}", "x-b-x"),
    ("{{ 'I like %this%' | replace({'%this%': 'tea'}) }}", "I like tea"),
    ("{{ outputs.t.value }}", "v"),
    ("{{ outputs.each[taskrun.value].value }}", "X!"),
    ("{{ outputs['my-task'].value }}", "7"),
    ("{{ vars.greeting }} {{ execution.namespace }}.{{ execution.flowId }}", "hello ns.f"),
    ("no expression here", "no expression here"),
    ("{{ inputs.missing is defined }}", "false"),
    ("{{ inputs.missing ?? 'fallback' }}", "fallback"),
    ("{{ inputs.missing.deep ?? inputs.name }}", "Ada"),
    ("{{ inputs.name ?? 'unused' }}", "Ada"),
    ("{{ inputs.n > 2 ? 'big' : 'small' }}", "big"),
    ("{{ inputs.n > 5 ? 'big' : inputs.n > 2 ? 'mid' : 'small' }}", "mid"),
    ("{{ 'a ? b : c' }}", "a ? b : c"),
    ("{% if inputs.n > 5 %}a{% elseif inputs.n > 2 %}b{% else %}c{% endif %}", "b"),
    ("{{ inputs.n is not null }}", "true"),
])
def test_render(template, expected):
    assert render(template, CTX) == expected


def test_now_is_current_utc():
    year = render("{{ now() | date('yyyy') }}", {})
    assert year == str(dt.datetime.now(dt.timezone.utc).year)
    iso = render("{{ now() }}", {})
    assert abs(dt.datetime.fromisoformat(iso.replace("Z", "+00:00")) - dt.datetime.now(dt.timezone.utc)) \
        < dt.timedelta(seconds=5)


def test_read_function_uses_the_given_reader():
    seen = []
    out = render("{{ read(outputs.t.value) | upper }}", CTX, read=lambda uri: seen.append(uri) or "content")
    assert out == "CONTENT" and seen == ["v"]


def test_json_filter_exists_on_1x_only():
    assert render("{{ inputs.obj | json }}", CTX, generation=1) == '{"a":1,"b":[1,2]}'
    with pytest.raises(ExpressionError, match="json"):
        render("{{ inputs.obj | json }}", CTX, generation=2)


@pytest.mark.parametrize("template, fragment", [
    ("{{ inputs.missing }}", "Unable to find `missing`"),
    ("{{ nothing }}", "Unable to find `nothing`"),
    ("{{ outputs.unknown_task.value }}", "Unable to find `unknown_task`"),
    ("{{ inputs.name | nofilter }}", "nofilter"),
    ("{{ inputs.name ", "Syntax error"),
    ("{{ 'abc' | number }}", "'abc' is not a number"),
    ("{{ 'not a date' | date('yyyy') }}", "is not a date"),
])
def test_errors_name_the_expression(template, fragment):
    with pytest.raises(ExpressionError) as info:
        render(template, CTX)
    message = str(info.value)
    assert fragment in message
    assert template.strip() in message
    assert "\n" not in message


def test_render_value_recurses_and_leaves_non_strings():
    value = {"a": "{{ inputs.name }}", "b": [1, "{{ inputs.n }}", {"c": True}], "{{ inputs.name }}": None}
    assert render_value(value, CTX) == {"a": "Ada", "b": [1, "3", {"c": True}], "Ada": None}


def test_sandboxed_no_python_internals():
    with pytest.raises(ExpressionError):
        render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_render_typed_keeps_the_value_of_a_single_expression():
    """Kestra's renderTyped (used by kv.Set's value): one `{{ expr }}` gives the value itself."""
    from kestra_magic.sandbox.expressions import render_typed
    assert render_typed("{{ inputs.obj }}", CTX) == {"a": 1, "b": [1, 2]}
    assert render_typed(" {{ inputs.n + 1 }} ", CTX) == 4
    assert render_typed("n={{ inputs.n }}", CTX) == "n=3"
    with pytest.raises(ExpressionError, match="Unable to find `missing`"):
        render_typed("{{ inputs.missing }}", CTX)


def test_functions_and_variables_live_apart():
    """Pebble keeps functions apart from variables: a variable named like a function does not hide it."""
    assert render("{{ yaml(yaml).a }} {{ now }}", {"yaml": "a: 1", "now": "var"}) == "1 var"
    assert render("{% raw %}{{ yaml(x) }}{% endraw %}", {}) == "{{ yaml(x) }}"


@pytest.mark.parametrize("template, expected", [
    # Pebble's for tag (pebbletemplates.io, tags/for): a map gives entries, loop.index counts from 0
    ("{% for e in inputs.obj %}{{ e.key }}={{ e.value }};{% endfor %}", "a=1;b=[1,2];"),
    ("{% for i in [7, 8] %}{{ loop.index }}/{{ loop.revindex }}{% if loop.last %}!{% endif %} {% endfor %}",
     "0/1 1/0! "),
    ('{% set x = inputs.missing ?? "dflt" %}{{ x }}', "dflt"),
    ("{{ 'loop.index' }}", "loop.index"),
])
def test_pebble_tags(template, expected):
    assert render(template, CTX) == expected


@pytest.mark.parametrize("template, expected", [
    # Pebble's OperatorUtils: integer operands stay integers (Java long arithmetic)
    ("{{ 5 / 2 }}", "2"), ("{{ -5 / 2 }}", "-2"), ("{{ -5 % 2 }}", "-1"), ("{{ 5.0 / 2 }}", "2.5"),
    ("{{ inputs.n / 2 }}", "1"),
])
def test_integer_division_is_javas(template, expected):
    assert render(template, CTX) == expected


@pytest.mark.parametrize("template, expected", [
    # Pebble's `contains` operator (lists, map keys, substrings), looser than comparisons
    ("{{ inputs.obj.b contains 2 }}", "true"), ("{{ inputs.obj contains 'a' }}", "true"),
    ("{{ inputs.name contains 'd' and inputs.n > 2 }}", "true"), ("{{ inputs.csv contains 'z' ? 1 : 0 }}", "0"),
    ("a {%- if inputs.obj.b contains 1 -%} T {%- endif -%} b", "aTb"),
])
def test_contains_operator(template, expected):
    assert render(template, CTX) == expected
