"""Magics without a server: help, unknown flags, target parsing, one-line errors, settings."""
from __future__ import annotations

import pytest

MAGICS = ["kestra_config", "kestra_flow", "kestra_file", "kestra_run", "kestra_logs", "kestra_executions",
          "kestra_flows", "kestra_kill", "kestra_resume", "kestra_restart"]


@pytest.mark.parametrize("name, option", [
    ("kestra_config", "--token-env"), ("kestra_flow", "--validate-only"), ("kestra_run", "--kill-on-interrupt"),
    ("kestra_logs", "--level"), ("kestra_executions", "--limit"), ("kestra_flows", "namespace"),
    ("kestra_kill", "execution_id"), ("kestra_resume", "--input"), ("kestra_restart", "--revision"),
    ("kestra_file", "namespaceFiles"), ("kestra_executions", "--all"), ("kestra_config", "--sandbox-dir"),
])
def test_every_magic_has_full_help(nb, name, option):
    prefix = "%%" if name in ("kestra_flow", "kestra_file") else "%"
    nb.run(f"{prefix}{name}?")
    assert option in nb.out and f"%{name}" in nb.out


@pytest.mark.parametrize("name", MAGICS)
def test_unknown_flags_are_rejected(nb, name):
    prefix = "%%" if name in ("kestra_flow", "kestra_file") else "%"
    args = "company.team a.py --no-such-flag" if name == "kestra_file" else "--no-such-flag"
    failed = nb.fails(f"{prefix}{name} {args}\nid: x\n" if prefix == "%%" else f"%{name} {args}")
    assert type(failed.error).__name__ == "UsageError" and "--no-such-flag" in str(failed.error)


@pytest.mark.parametrize("tokens, expected", [
    (["company.team.hello"], (None, "company.team", "hello")),
    (["company", "hello"], (None, "company", "hello")),
    (["ex", "company.team.hello"], ("ex", "company.team", "hello")),
    (["ex", "company", "hello"], ("ex", "company", "hello")),
])
def test_run_target_forms(nb, tokens, expected):
    assert nb.magic._run_target(tokens) == expected


def test_run_without_flow_is_one_line_error_and_fails_cell(nb, capsys):
    failed = nb.fails("%kestra_run ex")
    assert failed.error._render_traceback_() == [
        "UsageError: no flow given and no %%kestra_flow cell has run yet; use %kestra_run NAMESPACE.FLOW_ID"]
    assert "Traceback" not in failed.output
    assert "ex" not in nb.ns


def test_bad_variable_name_and_bad_label(nb):
    assert "not a valid Python variable name" in str(nb.fails("%kestra_run 1x a.b c").error)
    assert "is not KEY:VALUE" in str(nb.fails("%kestra_run a.b --label nocolon").error)


def test_line_is_not_variable_expanded(nb):
    # IPython would expand $name and {expr} before the magic sees the line; the magics must not.
    nb.ns["missing_var_ok"] = 1
    failed = nb.fails("%kestra_run a.b --input x=$undefined_thing")
    assert "'undefined_thing' is not defined" in str(failed.error)


def test_settings_are_traitlets_listed_by_config(nb):
    nb.run("%config KestraMagic")
    for name in ("url", "tenant", "username", "token_env", "show_traceback", "widget", "poll_interval"):
        assert f"KestraMagic.{name}=" in nb.out
    assert "password" not in nb.out.replace("the password comes from", "")
    nb.run("%config KestraMagic.widget = 'off'")
    assert nb.magic.widget == "off"
    try:
        nb.run("%config KestraMagic.widget = 'sometimes'")
    except Exception as err:  # IPython versions differ: an error, or a printed trait error
        assert "sometimes" in str(err)
    assert nb.magic.widget == "off"


def test_load_ext_imports_nothing_heavy():
    import subprocess
    import sys
    code = ("from IPython.core.interactiveshell import InteractiveShell\n"
            "ip = InteractiveShell.instance()\n"
            "ip.run_line_magic('load_ext', 'kestra_magic')\n"
            "import sys\n"
            "print(sorted(m for m in ('pandas', 'ipywidgets', 'pyarrow', 'amazon.ion', 'matplotlib', "
            "'requests', 'yaml') if m in sys.modules))\n"
            "print(sorted(ip.magics_manager.magics['line']).count('kestra_run'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:2] == ["[]", "1"]
