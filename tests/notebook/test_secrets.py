"""No password or token in any output: config display, settings listing, runs, reprs, errors."""
from __future__ import annotations

import base64

import kestra_magic as km

from tests.conftest import PASSWORD, TOKEN, USERNAME

from .conftest import LOG_TASK, NAME_INPUT, flow_yaml

SECRETS = (PASSWORD, TOKEN, base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode(), "wrong-Secret-9")


def _assert_clean(text):
    for secret in SECRETS:
        assert secret not in text


def test_no_secret_in_any_output(nb, auth_sandbox, ns, monkeypatch):
    try:
        monkeypatch.setenv("KESTRA_PASSWORD", PASSWORD)
        nb.run(f"%kestra_config --url {auth_sandbox.url} --username {USERNAME}")
        assert f"auth: basic (user {USERNAME}, password ****)" in nb.out
        assert f"API generation {auth_sandbox.generation}" in nb.out
        nb.run("%config KestraMagic")
        nb.run(f"%%kestra_flow\n{flow_yaml(ns, 'private', LOG_TASK, NAME_INPUT)}")
        for mode in ("off", "on"):
            nb.run(f"%config KestraMagic.widget = '{mode}'")
            ex = nb.run(f"%kestra_run {ns}.private")
            assert ex.state == "SUCCESS"
            _assert_clean(repr(ex) + ex._repr_html_() + repr(ex._monitor.widget and ex._monitor.widget.box))
        nb.run("%config KestraMagic.widget = 'off'")
        nb.run("km_client = __import__('kestra_magic.notebook.magics').notebook.magics.shared_client()")
        _assert_clean(repr(nb.ns["km_client"]) + repr(nb.ns["km_client"].configuration))
        # a wrong password fails in one line that does not echo it
        monkeypatch.setenv("KESTRA_PASSWORD", "wrong-Secret-9")
        nb.run(f"%kestra_config --username {USERNAME}")
        failed = nb.fails(f"%kestra_flows {ns}")
        assert "KestraAuthError" in failed.output and len(failed.output.strip().splitlines()) == 1
        # a token from an environment variable named in the magic (the token never in a cell)
        monkeypatch.setenv("MY_KESTRA_TOKEN", TOKEN)
        nb.run("%kestra_config --token-env MY_KESTRA_TOKEN")
        assert "auth: API token (****)" in nb.out
        nb.run(f"%kestra_flows {ns}")
        failed = nb.fails("%kestra_config --token-env NOT_SET_ANYWHERE_VAR")
        assert "NOT_SET_ANYWHERE_VAR is empty or not set" in str(failed.error)
        _assert_clean(nb.out)
    finally:
        monkeypatch.delenv("KESTRA_PASSWORD", raising=False)
        km.configure(reset=True)


def test_password_prompt_when_not_in_environment(nb, auth_sandbox, monkeypatch):
    import kestra_magic.notebook.magics as magics
    prompts = []
    monkeypatch.delenv("KESTRA_PASSWORD", raising=False)
    monkeypatch.setattr(magics.getpass, "getpass", lambda prompt: prompts.append(prompt) or PASSWORD)
    try:
        nb.run(f"%kestra_config --url {auth_sandbox.url} --username {USERNAME}")
        assert prompts == [f"Kestra password for {USERNAME}: "]
        assert "server: Kestra" in nb.out
        nb.run("%config KestraMagic.tenant = 'acme'")
        assert magics.shared_client().configuration.tenant == "acme"
        assert magics.shared_client().configuration.username == USERNAME  # other settings kept
        nb.run("%config KestraMagic.tenant = 'main'")
        _assert_clean(nb.out)
    finally:
        monkeypatch.delenv("KESTRA_PASSWORD", raising=False)
        km.configure(reset=True)
