"""Secrets: passwords and tokens never appear in cell outputs, ``%config KestraMagic``,
``%kestra_config``, reprs, exception messages, logs, saved widget state or an executed
notebook file; credentials go only to the configured server (never to a redirect target
on another host or port); TLS verification is on unless explicitly disabled.
"""
from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from kestra_magic import errors
from tests.conftest import PASSWORD, TOKEN, USERNAME
from tests.reliability.conftest import make_client
from tests.reliability.helpers import Reply, ScriptedServer, create_flow, json_reply

BASIC = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
SECRETS = (PASSWORD, TOKEN, BASIC)


def clean(text: str, where: str) -> None:
    for s in SECRETS:
        assert s not in text, f"a secret leaked into {where}: ...{text[max(0, text.find(s) - 60):text.find(s)]}"


@pytest.fixture(scope="module")
def auth_v2():
    from kestra_magic.sandbox import Sandbox
    sb = Sandbox(api=2, username=USERNAME, password=PASSWORD, token=TOKEN)
    sb.start()
    sb.token = TOKEN   # for tests.reliability.helpers.create_flow
    yield sb
    sb.stop()


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_reprs_errors_and_debug_logs(auth_sandbox, ns, caplog, auth):
    creds = dict(username=USERNAME, password=PASSWORD) if auth == "basic" else dict(token=TOKEN)
    caplog.set_level(logging.DEBUG)
    c = make_client(auth_sandbox.url, **creds)
    texts = [repr(c), str(c), repr(c.configuration), str(c.configuration)]
    flow = c.flows.create_flow(f"id: hi\nnamespace: {ns}\ntasks:\n  - id: a\n"
                               f"    type: io.kestra.plugin.core.log.Log\n    message: hi\n")
    ex = c.executions.create_execution(ns, flow.id, wait=True)
    texts += [repr(flow), repr(ex), repr(ex.raw), repr(c.logs.list_logs(ex.id)),
              repr(list(c.executions.follow_execution(ex.id)))]
    for call in (lambda: c.flows.get_flow(ns, "missing"),
                 lambda: c.executions.get_execution("missing"),
                 lambda: make_client(auth_sandbox.url, username=USERNAME, password=PASSWORD + "x").flows.search_flows(),
                 lambda: make_client(auth_sandbox.url, token=TOKEN + "x").flows.search_flows(),
                 lambda: make_client("http://127.0.0.1:9", retries=0, **creds).flows.search_flows()):
        with pytest.raises(errors.KestraError) as e:
            call()
        texts += [str(e.value), repr(e.value), repr(e.value.body), repr(e.value.args)]
    texts.append(caplog.text)
    texts += [repr(r.getMessage()) + repr(r.args) for r in caplog.records]
    for i, t in enumerate(texts):
        clean(t, f"text #{i}")
    assert any(r.name.startswith("kestra_magic") for r in caplog.records), "the client logs nothing at DEBUG?"


def test_config_magics_and_cell_outputs(ip, capsys, auth_sandbox, ns, monkeypatch):
    import kestra_magic
    from kestra_magic.config import Configuration
    from IPython.utils.capture import capture_output
    monkeypatch.setenv("KESTRA_PASSWORD", PASSWORD)
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    cells = [f"%kestra_config --url {auth_sandbox.url} --username {USERNAME}",
             "%kestra_config", "%config KestraMagic",
             f"%%kestra_flow f\nid: hi\nnamespace: {ns}\ntasks:\n  - id: a\n"
             f"    type: io.kestra.plugin.core.log.Log\n    message: hi\n",
             "f", f"ex = %kestra_run {ns}.hi", "ex", "print(repr(ex)); print(ex._repr_html_())",
             "ex.logs()", f"%kestra_executions {ns}", "%kestra_flows", f"%kestra_run {ns}.missing",
             "import kestra_magic; kestra_magic.client()", "kestra_magic.client().configuration",
             "%kestra_config --token-env MY_TOKEN", "%kestra_config", "%config KestraMagic",
             f"%kestra_run {ns}.hi"]
    try:
        for code in cells:
            with capture_output() as cap:
                result = ip.run_cell(code, store_history=False)
            printed = capsys.readouterr()
            shown = cap.stdout + cap.stderr + printed.out + printed.err + "".join(
                json.dumps(o.data, default=str) + json.dumps(o.metadata, default=str) for o in cap.outputs)
            shown += repr(result.result)
            if result.result is not None and hasattr(result.result, "_repr_html_"):
                shown += str(result.result._repr_html_())
            clean(shown, f"the output of {code.splitlines()[0]!r}")
        # the cells did work (the test is not green because nothing ran)
        assert ip.user_ns["ex"].state == "SUCCESS"
    finally:
        kestra_magic.configure(Configuration(url="http://127.0.0.1:9"))


@pytest.mark.parametrize("target_host", ["127.0.0.2", "localhost"])
@pytest.mark.parametrize("auth", ["basic", "token"])
def test_credentials_not_sent_to_a_redirect_target(target_host, auth):
    """The configured server redirects to another host (or port): that one gets no credentials."""
    with ScriptedServer(lambda seen: json_reply({"results": [], "total": 0}), host="127.0.0.2"
                        if target_host == "127.0.0.2" else "127.0.0.1") as other:
        port = other.url.rsplit(":", 1)[1]

        def front(seen):
            if seen.path.startswith("/api/v1/configs/login"):
                return json_reply({"isBasicAuthInitialized": True})
            return Reply(307, {"Location": f"http://{target_host}:{port}{seen.path}", "Content-Length": "0"})
        with ScriptedServer(front) as srv:
            creds = dict(username=USERNAME, password=PASSWORD) if auth == "basic" else dict(token=TOKEN)
            c = make_client(srv.url, **creds)
            try:
                c.flows.search_flows()
            except errors.KestraError as err:   # refusing to follow is fine too
                clean(str(err), "the error")
            assert any("Authorization" in s.headers for s in srv.seen if "/flows/search" in s.path), \
                "the configured server itself must get the credentials"
            for seen in other.seen:
                assert not any(k.lower() in ("authorization", "cookie") for k in seen.headers), seen.headers
                clean(json.dumps(seen.headers) + seen.path, "a request to the redirect target")


def test_tls_verification_is_on_by_default():
    from kestra_magic.config import Configuration
    assert Configuration(url="https://kestra.example.com").verify_ssl is True
    assert make_client("https://127.0.0.1:9")._transport.verify is True


def test_insecure_is_visible_in_the_notebook(ip, capsys):
    import kestra_magic
    from kestra_magic.config import Configuration
    try:
        ip.run_cell("%kestra_config --url https://127.0.0.1:9 --insecure", store_history=False)
        shown = capsys.readouterr()
        assert "verification: off" in (shown.out + shown.err).lower() or "insecure" in (shown.out + shown.err).lower()
    finally:
        kestra_magic.configure(Configuration(url="http://127.0.0.1:9"))


def test_executed_notebook_file_holds_no_secret(auth_v2, tmp_path, monkeypatch, ns):
    """A notebook run headless (nbclient, real kernel) with credentials from the environment:
    the saved .ipynb (outputs, widget state, metadata) contains no secret."""
    import nbformat
    from nbclient import NotebookClient
    create_flow(auth_v2, ns, "hello")
    monkeypatch.setenv("KESTRA_URL", auth_v2.url)
    monkeypatch.setenv("KESTRA_USERNAME", USERNAME)
    monkeypatch.setenv("KESTRA_PASSWORD", PASSWORD)
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    code = ["%load_ext kestra_magic", "%kestra_config", "%config KestraMagic",
            f"ex = %kestra_run {ns}.hello\nex", "ex.logs()", f"%kestra_executions {ns}",
            f"%kestra_run {ns}.does-not-exist",
            "import kestra_magic\nkestra_magic.client(), kestra_magic.client().configuration",
            "import os; os.environ.get('KESTRA_URL')",
            "%kestra_config --token-env MY_TOKEN", f"ex2 = %kestra_run {ns}.hello\nex2.state"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True, store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = Path(tmp_path) / "executed.ipynb"
    nbformat.write(nb, path)
    text = path.read_text()
    clean(text, "the executed notebook file")
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert any("SUCCESS" in json.dumps(o) for o in outputs), "the runs did not happen"
    assert any(o.get("output_type") == "error" for o in outputs), "the failing cell did not fail"
    assert nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state"), \
        "no widget state was saved: the live widget part was not exercised"


def test_sandbox_credential_never_appears_in_an_executed_notebook(tmp_path, ns):
    """`%kestra_config --sandbox` starts a guarded sandbox (generated credential) and configures the
    notebook's client with it: runs work with no extra step, and the saved .ipynb holds no trace of
    the credential. Needs `%kestra_config --sandbox` to configure the client from
    ``sb.client_settings()`` (the magic/km.sandbox change of the run layer)."""
    import nbformat
    from nbclient import NotebookClient
    secret_file = tmp_path / "secret.txt"
    flow = f"id: hello\nnamespace: {ns}\ntasks:\n  - id: a\n    type: io.kestra.plugin.core.log.Log\n    message: hi"
    code = ["%load_ext kestra_magic", "%kestra_config --sandbox", "%kestra_config", "%config KestraMagic",
            f"%%kestra_flow\n{flow}", f"ex = %kestra_run {ns}.hello\nex", "ex.state", "ex.logs()",
            "import kestra_magic\nkestra_magic.client(), kestra_magic.client().configuration",
            # how the test learns the secret it greps for; this cell has no output
            "import kestra_magic as _km\n"
            f"_ = open({str(secret_file)!r}, 'w').write(_km._sandbox.password)"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in code])
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True, store_widget_state=True,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    path = Path(tmp_path) / "executed.ipynb"
    nbformat.write(nb, path)
    password = secret_file.read_text()
    assert len(password) >= 20, "the sandbox had no generated credential"
    text = path.read_text()
    basic = base64.b64encode(f"admin@kestra.io:{password}".encode()).decode()
    for secret in (password, basic):
        assert secret not in text, "the sandbox credential leaked into the executed notebook"
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"], \
        [o.get("evalue") for o in outputs if o.get("output_type") == "error"]
    assert any("SUCCESS" in json.dumps(o) for o in outputs), "the run did not happen"
