"""The sandbox runs code as the user, so it is guarded like a Jupyter server (issue 18): a credential
by default, a Host allow-list against DNS rebinding, an Origin check on state changes; tried as an
attacker on the same machine or behind a web page would."""
from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys

import pytest
import requests

from kestra_magic.sandbox import Sandbox
from tests.sandbox.conftest import YAML, Kapi, flow_yaml

SHELL = """
tasks:
  - id: sh
    type: io.kestra.plugin.scripts.shell.Commands
    commands:
      - echo pwned > {marker}
"""


def _url(sb, path: str) -> str:
    return sb.url + "/api/v1/main" + path


def test_a_default_sandbox_has_a_generated_credential_the_own_client_uses(guarded_sandbox, ns, tmp_path):
    sb = guarded_sandbox
    assert sb.auth and sb.username and len(sb.password) >= 20
    settings = sb.client_settings()
    assert settings == {"url": sb.url, "username": sb.username, "password": sb.password}
    assert sb.password not in repr(sb) and sb.password not in repr(sb.settings) and "basic auth" in repr(sb)
    # an attacker without the credential cannot post a shell flow nor run one
    marker = tmp_path / "pwned"
    source = flow_yaml(ns, "sh", body=SHELL.format(marker=marker))
    assert requests.post(_url(sb, "/flows"), data=source, headers=YAML, timeout=10).status_code == 401
    assert requests.post(_url(sb, f"/executions/{ns}/sh"), timeout=10).status_code == 401
    # the client configured from client_settings() works with no extra step
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    with KestraClient(Configuration(**settings)) as c:
        c.flows.create_flow(flow_yaml(ns, "hi"))
        assert c.executions.create_execution(ns, "hi", wait=True).state.current == "SUCCESS"
    assert not marker.exists()


def test_two_sandboxes_get_different_credentials():
    a, b = Sandbox(), Sandbox()
    assert a.password != b.password and a.username == b.username


def test_the_credential_is_kept_in_the_data_dir_for_a_restart(tmp_path, ns):
    with Sandbox(api=2, data_dir=tmp_path) as first:
        password = first.password
        Kapi(first).create_flow(flow_yaml(ns))
    kept = tmp_path / "sandbox-credential.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    with Sandbox(api=2, data_dir=tmp_path) as again:
        assert again.password == password
        assert requests.get(_url(again, "/flows/search"), auth=(again.username, password),
                            timeout=10).status_code == 200
    with Sandbox(api=2, data_dir=tmp_path, username="teacher@school.io", password="Class-Pw-2026") as given:
        assert given.password == "Class-Pw-2026"
    assert Sandbox(api=2, data_dir=tmp_path).password == "Class-Pw-2026"   # the given one is kept


def test_open_only_through_the_explicit_switch_and_only_on_loopback():
    assert Sandbox(auth=False).client_settings  # fine on 127.0.0.1
    with pytest.raises(ValueError, match="requires a credential"):
        Sandbox(host="0.0.0.0", auth=False)
    with pytest.raises(ValueError, match="runs open"):
        Sandbox(auth=False, username="a@b.io", password="Pw-123456")
    token_only = Sandbox(token="T0k")
    assert token_only.username is None and token_only.auth


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8080", "127.0.0.1.nip.io"])
def test_a_foreign_host_is_refused(sandbox, host):
    """DNS rebinding: a page of attacker.example re-resolved to 127.0.0.1 sends its own name."""
    resp = requests.get(_url(sandbox, "/flows/search"), headers={"Host": host}, timeout=10)
    assert resp.status_code == 403
    text = resp.text
    if sandbox.generation == 2:
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        text = resp.json()["detail"]
    assert "is not allowed" in text and "--allow-host" in text
    # control calls and webhooks too
    assert requests.get(sandbox.url + "/_sandbox/faults", headers={"Host": host}, timeout=10).status_code == 403


def test_loopback_names_addresses_and_allowed_names_are_served():
    with Sandbox(api=2, auth=False, allow_hosts=["kestra.lan"]) as sb:
        port = sb.url.rsplit(":", 1)[1]
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}",
                     f"10.0.0.5:{port}", f"kestra.lan:{port}", "app.localhost"):
            assert requests.get(_url(sb, "/flows/search"), headers={"Host": host}, timeout=10).status_code == 200, host
        assert requests.get(_url(sb, "/flows/search"), headers={"Host": "other.lan"}, timeout=10).status_code == 403


def test_a_cross_origin_form_post_cannot_start_a_run(ns, tmp_path):
    """A plain HTML form on any page posts multipart without a preflight: refused even on an open
    sandbox, as is any request a browser marks cross-site."""
    marker = tmp_path / "pwned"
    with Sandbox(api=2, auth=False) as sb:
        Kapi(sb).create_flow(flow_yaml(ns, "sh", body=SHELL.format(marker=marker)))
        create = _url(sb, f"/executions/{ns}/sh")
        form = {"x": (None, "1")}
        evil = requests.post(create, files=form, headers={"Origin": "http://evil.example"}, timeout=10)
        assert evil.status_code == 403 and "Cross-origin request from 'http://evil.example'" in evil.json()["detail"]
        null = requests.post(create, files=form, headers={"Origin": "null"}, timeout=10)
        other_port = requests.post(create, files=form, headers={"Origin": "http://127.0.0.1:1"}, timeout=10)
        site = requests.post(create, files=form, headers={"Sec-Fetch-Site": "cross-site"}, timeout=10)
        assert null.status_code == other_port.status_code == site.status_code == 403
        flow_post = requests.post(_url(sb, "/flows"), data=flow_yaml(ns, "x"),
                                  headers=dict(YAML, Origin="http://evil.example"), timeout=10)
        assert flow_post.status_code == 403
        assert not [e for e in sb.store.executions.values() if e["namespace"] == ns]
        assert not marker.exists()
        # reads stay possible (the browser's same-origin policy keeps their answers from the page)
        assert requests.get(_url(sb, "/flows/search"), headers={"Origin": "http://evil.example"},
                            timeout=10).status_code == 200
        # the sandbox's own origin, and a same-site fetch, are fine
        same = requests.post(_url(sb, "/flows/validate"), data=flow_yaml(ns, "v"),
                             headers=dict(YAML, Origin=sb.url, **{"Sec-Fetch-Site": "same-origin"}), timeout=10)
        assert same.status_code == 200


def test_allowed_origins_may_change_the_sandbox(ns):
    with Sandbox(api=2, auth=False, allow_origins=["http://localhost:3000"]) as sb:
        ok = requests.post(_url(sb, "/flows"), data=flow_yaml(ns),
                           headers=dict(YAML, Origin="http://localhost:3000"), timeout=10)
        assert ok.status_code == 200
        assert requests.post(_url(sb, "/flows"), data=flow_yaml(ns, "g"),
                             headers=dict(YAML, Origin="http://localhost:3001"), timeout=10).status_code == 403


def test_webhooks_stay_open_without_the_credential(guarded_sandbox, ns):
    sb = guarded_sandbox
    body = """
    tasks:
      - id: t
        type: io.kestra.plugin.core.log.Log
        message: "{{ trigger.body }}"
    triggers:
      - id: hook
        type: io.kestra.plugin.core.trigger.Webhook
        key: k3y
    """
    Kapi(sb).create_flow(flow_yaml(ns, "wh", body=body))
    resp = requests.post(_url(sb, f"/executions/webhook/{ns}/wh/k3y"), json={"a": 1}, timeout=10)
    assert resp.status_code == 200 and resp.json()["flowId"] == "wh"


def test_only_webhook_routes_are_open_not_paths_that_look_like_them(guarded_sandbox):
    """A flow in a namespace called ``webhook`` is not a webhook: its executions need the credential
    (openness is decided by the route matched, not by a path substring)."""
    sb = guarded_sandbox
    Kapi(sb).create_flow(flow_yaml("webhook", "x", body="""
    tasks:
      - id: t
        type: io.kestra.plugin.core.log.Log
        message: hi
    """))
    before = len(sb.store.executions)
    for method, path in (("POST", "/executions/webhook/x"), ("POST", "/executions/webhook/x/validate")):
        resp = requests.request(method, _url(sb, path), timeout=10)
        assert resp.status_code == 401, (method, path, resp.status_code)
    assert len(sb.store.executions) == before          # nothing ran
    assert requests.get(_url(sb, "/no/such/route"), timeout=10).status_code == 401   # credentials first


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "kestra_magic.sandbox", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    return out, err


def test_cli_generates_a_credential_and_prints_a_line_to_copy(tmp_path):
    proc = _cli("--data-dir", str(tmp_path))
    try:
        first = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)
        assert "basic auth on" in first
        assert "generated credential" in proc.stdout.readline()
        line = proc.stdout.readline()
        found = dict(re.findall(r"(KESTRA_\w+)=(\S+)", line))
        assert found["KESTRA_URL"] == url
        user, password = found["KESTRA_USERNAME"], found["KESTRA_PASSWORD"]
        assert requests.get(url + "/api/v1/main/flows/search", timeout=10).status_code == 401
        assert requests.get(url + "/api/v1/main/flows/search", auth=(user, password), timeout=10).status_code == 200
    finally:
        _stop(proc)
    assert (tmp_path / "sandbox-credential.json").is_file()


def test_cli_no_auth_works_and_warns():
    proc = _cli("--no-auth")
    try:
        first = proc.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)", first).group(1)
        assert "open, no auth" in first
        assert requests.get(url + "/api/v1/main/flows/search", timeout=10).status_code == 200
    finally:
        out, err = _stop(proc)
    assert "WARNING: --no-auth" in err and "run code as you" in err


def test_cli_refuses_to_serve_the_network_open():
    refused = subprocess.run([sys.executable, "-m", "kestra_magic.sandbox", "--host", "0.0.0.0", "--no-auth"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "requires a credential" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_cli_given_credential_is_never_printed():
    proc = _cli("--username", "teacher@school.io", "--password", "Never-Printed-9")
    try:
        first = proc.stdout.readline()
        assert "basic auth on" in first
    finally:
        out, err = _stop(proc)
    assert "Never-Printed-9" not in first + out + err
    assert not os.environ.get("KESTRA_PASSWORD")


def test_fault_control_needs_the_credential(guarded_sandbox):
    sb = guarded_sandbox
    assert requests.post(sb.url + "/_sandbox/faults", json={"kind": "latency", "seconds": 5},
                         timeout=10).status_code == 401
    ok = requests.get(sb.url + "/_sandbox/faults", auth=(sb.username, sb.password), timeout=10)
    assert ok.status_code == 200 and ok.json() is not None
