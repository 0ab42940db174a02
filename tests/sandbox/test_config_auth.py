"""Configs probe and authentication, per generation (kestra-api.md §5, §7; kestra-api-2.md §1, §9)."""
from __future__ import annotations

import base64

import requests

from tests.conftest import PASSWORD, TOKEN, USERNAME
from tests.sandbox.conftest import Kapi
from tests.sandbox.openapi_check import check_response


def test_configs_probe_reports_the_generation_version(kapi):
    resp = kapi.get("/api/v1/configs")
    assert resp.status_code == 200
    body = resp.json()
    assert body["version"] == {1: "1.3.3", 2: "2.0.3"}[kapi.gen]
    assert body["edition"] == "OSS"
    assert body["isBasicAuthInitialized"] is True
    assert body["url"].startswith(kapi.base)


def test_configs_login_is_2x_only(kapi):
    resp = kapi.get("/api/v1/configs/login")
    if kapi.gen == 2:
        assert resp.status_code == 200 and resp.json() == {"isBasicAuthInitialized": True}
    else:
        assert resp.status_code == 404


def test_version_override():
    from kestra_magic.sandbox import Sandbox
    with Sandbox(api=1, version="1.1.7") as sb:
        assert requests.get(sb.url + "/api/v1/configs", timeout=10).json()["version"] == "1.1.7"
        assert repr(sb).startswith("<Sandbox api=1 version=1.1.7")


def test_unauthenticated_requests_get_kestras_401(auth_sandbox):
    k = Kapi(auth_sandbox, auth=False)
    resp = k.get("/flows/search")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"] == "Basic"
    if k.gen == 1:
        assert resp.content == b""
    else:
        assert resp.headers["Content-Type"].startswith("application/problem+json")
        body = resp.json()
        assert body["type"].endswith("/unauthenticated") and body["title"] == "Authentication required"
    # the UI's login page gets no WWW-Authenticate (no browser popup)
    resp = k.get("/flows/search", headers={"Referer": "http://x/ui/login"})
    assert resp.status_code == 401 and "WWW-Authenticate" not in resp.headers


def test_open_probe_per_generation(auth_sandbox):
    k = Kapi(auth_sandbox, auth=False)
    configs = k.get("/api/v1/configs")
    login = k.get("/api/v1/configs/login")
    if k.gen == 1:
        assert configs.status_code == 200 and configs.json()["version"] == "1.3.3"
        assert login.status_code == 401
    else:
        assert configs.status_code == 401
        assert configs.headers["Content-Type"].startswith("application/problem+json")
        assert login.status_code == 200 and login.json() == {"isBasicAuthInitialized": True}


def test_basic_auth_bearer_and_wrong_credentials(auth_sandbox):
    good = Kapi(auth_sandbox, auth=(USERNAME, PASSWORD))
    assert good.get("/flows/search").status_code == 200
    assert good.get("/api/v1/configs").status_code == 200
    bearer = Kapi(auth_sandbox, auth=False)
    assert bearer.get("/flows/search", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert bearer.get("/flows/search", headers={"Authorization": "Bearer nope"}).status_code == 401
    wrong = Kapi(auth_sandbox, auth=(USERNAME, "Wrong-Password1"))
    assert wrong.get("/flows/search").status_code == 401
    garbage = Kapi(auth_sandbox, auth=False)
    assert garbage.get("/flows/search", headers={"Authorization": "Basic !!!notbase64"}).status_code == 401
    cookie = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert garbage.get("/flows/search", cookies={"BASIC_AUTH": cookie}).status_code == 200


def test_recorded_requests_mask_secrets(auth_sandbox):
    k = Kapi(auth_sandbox, auth=(USERNAME, PASSWORD))
    k.get("/flows/search", params={"size": 1}, headers={"X-Probe": "recorded"})
    Kapi(auth_sandbox, auth=False).get("/flows/search", headers={"Authorization": f"Bearer {TOKEN}", "X-Probe": "bearer"})
    recs = [r for r in auth_sandbox.requests if r.headers.get("X-Probe") in ("recorded", "bearer")]
    assert len(recs) == 2
    assert recs[0].method == "GET" and recs[0].path == "/api/v1/main/flows/search" and recs[0].query == {"size": ["1"]}
    assert recs[0].headers["Authorization"] == "Basic ***"
    assert recs[1].headers["Authorization"] == "Bearer ***"
    dump = repr(auth_sandbox.requests) + repr(auth_sandbox.settings) + repr(auth_sandbox)
    for secret in (PASSWORD, TOKEN, base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()):
        assert secret not in dump


def test_login_sets_the_basic_auth_cookie_on_2x(sandbox_v2):
    from kestra_magic.sandbox import Sandbox
    with Sandbox(api=2, username=USERNAME, password=PASSWORD) as sb:
        resp = requests.post(sb.url + "/api/v1/login", json={"username": USERNAME, "password": PASSWORD}, timeout=10)
        assert resp.status_code == 204
        assert "BASIC_AUTH" in resp.cookies
        bad = requests.post(sb.url + "/api/v1/login", json={"username": USERNAME, "password": "x"}, timeout=10)
        assert bad.status_code == 401
        check_response(bad, 2)
        logins = [r for r in sb.requests if r.path == "/api/v1/login"]
        assert len(logins) == 2 and PASSWORD not in repr(logins) and logins[0].body == b"***"


def test_ping_on_2x(kapi2, kapi1):
    assert kapi2.get("/ping", check=False).text == "pong"
    assert kapi1.get("/ping").status_code == 404


def test_cookie_sessions_need_a_csrf_token_on_2x(auth_sandbox, ns):
    """2.x: a POST carrying the BASIC_AUTH cookie and no X-CSRF-TOKEN is 403 (even with an
    Authorization header); GETs and header-only auth are not affected. 1.x has no CSRF check."""
    cookie = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    body = f"id: c\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: x\n"
    url = auth_sandbox.url + "/api/v1/main/flows"
    yaml_header = {"Content-Type": "application/x-yaml"}
    with_cookie = requests.post(url, data=body, headers=yaml_header, cookies={"BASIC_AUTH": cookie},
                                auth=(USERNAME, PASSWORD), timeout=10)
    if auth_sandbox.generation == 1:
        assert with_cookie.status_code == 200
        return
    assert with_cookie.status_code == 403
    check_response(with_cookie, 2)
    assert "X-CSRF-TOKEN" in with_cookie.json()["detail"]
    assert requests.get(url + "/search", cookies={"BASIC_AUTH": cookie}, timeout=10).status_code == 200
    ok = requests.post(url, data=body, headers=dict(yaml_header, **{"X-CSRF-TOKEN": "t0k"}),
                       cookies={"BASIC_AUTH": cookie}, timeout=10)
    assert ok.status_code == 200
    header_only = requests.post(url + "/validate", data=body, headers=yaml_header, auth=(USERNAME, PASSWORD),
                                timeout=10)
    assert header_only.status_code == 200
