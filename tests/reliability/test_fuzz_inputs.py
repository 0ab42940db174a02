"""Property-based tests over everything that parses user input: labels, schedule dates,
breakpoints and input values (kestra_magic.encoding), ``--input``/cell inputs
(kestra_magic.notebook.inputs) and every magic's argument line and cell body. Arbitrary
input ends in a result, a ``KestraError`` or a one-line ``UsageError``/``KestraMagicError`` —
never another exception, never a hang, never a request to anything but 127.0.0.1.
"""
from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_magic import encoding
from kestra_magic.errors import KestraError
from tests.reliability.helpers import free_port

# derandomized: CI runs the same examples every time (a red CI must mean a regression)
FUZZ = settings(max_examples=100, deadline=None, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))
FUZZ_MAGIC = settings(FUZZ, max_examples=40)   # each example runs a real magic in a real shell

scalar = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.datetimes()
          | st.dates() | st.datetimes(timezones=st.timezones()) | st.timedeltas() | st.times())
jsonish = st.recursive(scalar, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                                   max_size=3), max_leaves=6)


def result_or_kestra_error(fn, *args):
    try:
        return fn(*args)
    except KestraError as err:
        assert "\n" not in str(err) and str(err)
        return err


@FUZZ
@given(st.none() | st.text() | st.lists(st.text()) | st.dictionaries(st.text(), scalar)
       | st.lists(st.tuples(st.text(), scalar))
       | st.lists(st.fixed_dictionaries({"key": st.text(), "value": scalar})))
def test_labels(value):
    out = result_or_kestra_error(encoding.labels_param, value)
    if isinstance(out, list):
        assert all(isinstance(x, str) and ":" in x for x in out)


@FUZZ
@given(st.none() | st.text() | st.text(alphabet="0123456789-:T+Z. W[]/", max_size=40) | st.datetimes()
       | st.dates() | st.datetimes(timezones=st.timezones()))
def test_schedule_dates(value):
    out = result_or_kestra_error(encoding.schedule_date_param, value)
    if isinstance(out, str):   # always a zoned ISO date-time Kestra can parse
        parsed = dt.datetime.fromisoformat(out.replace("Z", "+00:00"))
        assert parsed.tzinfo is not None


@FUZZ
@given(st.none() | st.text() | st.lists(st.text()))
def test_breakpoints(value):
    out = result_or_kestra_error(encoding.breakpoints_param, value)
    if isinstance(out, str):
        assert all(p and p == p.strip() for p in out.split(","))


@FUZZ
@given(st.dictionaries(st.text(max_size=5), jsonish | st.binary(max_size=20), max_size=4))
def test_input_values(inputs):
    out = result_or_kestra_error(encoding.input_parts, inputs)
    if isinstance(out, list):
        assert all(isinstance(name, str) for name, _ in out)


@FUZZ
@given(st.lists(st.text(max_size=12) | st.sampled_from(["a=1", "a=$x", "a=$$x", "a=@@f", "a=@/nonexistent",
                                                         "=1", "a", "a=$missing", "df=$df"]), max_size=5),
       st.none() | st.sampled_from(["$x", "$d", "$missing", "$$d", "d"]) | st.text(max_size=6),
       st.none() | st.dictionaries(st.text(max_size=4), jsonish, max_size=3))
def test_notebook_input_options(pairs, inputs_ref, cell_inputs):
    from kestra_magic.notebook.errors import KestraMagicError
    from kestra_magic.notebook.inputs import resolve_inputs
    user_ns = {"x": 3, "d": {"a": 1, "b": b"bytes"}}
    try:
        inputs, files = resolve_inputs(user_ns, pairs, inputs_ref, cell_inputs)
        assert isinstance(inputs, dict) and isinstance(files, dict)
    except KestraMagicError as err:
        assert "\n" not in str(err)


@FUZZ
@given(st.text(max_size=200) | st.sampled_from(["a: [", "- 1", "a: 1\n b: 2", "{{ x }}: $y", "\t", "a: !!python/object:os.system x"]))
def test_cell_inputs_yaml(cell):
    from kestra_magic.notebook.errors import KestraMagicError
    from kestra_magic.notebook.inputs import parse_cell_inputs
    try:
        assert isinstance(parse_cell_inputs(cell), dict)
    except KestraMagicError as err:
        assert "\n" not in str(err)


# -- magic argument lines ------------------------------------------------------------------------------
OPTIONS = ["--input", "-i", "--inputs", "--label", "-l", "--revision", "--schedule-date", "--breakpoints",
           "--kind", "--no-wait", "--timeout", "--kill-on-interrupt", "--level", "--task", "--state",
           "--limit", "--validate-only", "--namespace", "--no-update", "--tenant", "--token-env",
           "--server-index", "--var", "--insecure", "--api", "--help-me", "-x", "--"]
WORDS = ["company.team.hello", "ns flow", "ex", "a=1", "k:v", "NORMAL", "TEST", "3", "-1", "nan", "1e309",
         "2026-01-01T00:00:00Z", "not-a-date", "a,b", ",", "$x", "@nofile", "'unterminated", '"q u"', "\\",
         "{{ x }}", "ERROR", "SUCCESS", "0", "é", "\x00", "MISSING_ENV_VAR"]
line_strategy = st.lists(st.sampled_from(OPTIONS) | st.sampled_from(WORDS) | st.text(max_size=8),
                         max_size=6).map(" ".join)
MAGICS = ["kestra_run", "kestra_logs", "kestra_executions", "kestra_flows", "kestra_kill", "kestra_resume",
          "kestra_restart", "kestra_config"]


@pytest.fixture
def refused_shell(ip, monkeypatch):
    """The shared client points at a closed port on 127.0.0.1: nothing fuzzed leaves the machine."""
    import kestra_magic
    from kestra_magic.config import Configuration
    monkeypatch.setenv("KESTRA_PASSWORD", "Fuzz-Password-1")
    kestra_magic.configure(Configuration(url=f"http://127.0.0.1:{free_port()}", retries=0, connect_timeout=1,
                                         api_generation=2))
    yield ip
    kestra_magic.configure(Configuration(url="http://127.0.0.1:9"))


def _run_magic(ip, kind: str, name: str, line: str, cell: str | None = None):
    from IPython.core.error import UsageError
    from kestra_magic.notebook.errors import KestraMagicError
    import kestra_magic
    before = kestra_magic.client().configuration.resolve_base_url()
    try:
        if kind == "line":
            ip.run_line_magic(name, line)
        else:
            ip.run_cell_magic(name, line, cell or "")
    except (UsageError, KestraMagicError) as err:
        assert "\n" not in str(err).strip() or isinstance(err, UsageError), str(err)
    except SystemExit:   # argparse --help inside a magic prints help and IPython turns it into UsageError
        pytest.fail("a magic raised SystemExit")
    after = kestra_magic.client().configuration.resolve_base_url()
    assert after == before, after   # the fuzzed lines never point the client anywhere else


@pytest.mark.parametrize("name", MAGICS)
def test_magic_argument_lines(refused_shell, name, capsys):
    @FUZZ_MAGIC
    @given(line_strategy)
    def run(line):
        # --sandbox would start a server and --url could point at the internet: not fuzzed here
        if name == "kestra_config" and any(t.startswith(("--s", "--u")) and "--server-index".startswith(t) is False
                                           for t in line.split()):
            return
        _run_magic(refused_shell, "line", name, line)
        capsys.readouterr()
    run()


@pytest.mark.parametrize("name", ["kestra_flow", "kestra_run"])
def test_cell_magic_bodies(refused_shell, name, capsys):
    @FUZZ_MAGIC
    @given(line_strategy, st.text(max_size=120) | st.sampled_from([
        "id: x\nnamespace: n\ntasks: []", "id: x\nnamespace: n\ntasks:\n - id: a\n   type: t\n   x: '{{ a }} $b'",
        "a: [1,", ":\n:", "- a\n- b", "id: {{ x }}", "---\n---\n", "a: 1\na: 2"]))
    def run(line, cell):
        _run_magic(refused_shell, "cell", name, line, cell)
        capsys.readouterr()
    run()
