"""Fixtures for the sandbox protocol tests: an HTTP helper that checks every response against
Kestra's OpenAPI spec of the sandbox's generation, and flow helpers."""
from __future__ import annotations

import json
import textwrap

import pytest
import requests

from tests.sandbox.openapi_check import check_response, openapi

YAML = {"Content-Type": "application/x-yaml"}


class Kapi:
    """Plain ``requests`` against one sandbox; each response is validated against the spec."""

    def __init__(self, sandbox, auth=None):
        self.sb = sandbox
        self.gen = sandbox.generation
        self.base = sandbox.url
        self.http = requests.Session()
        if auth is None and sandbox.username:     # the sandbox's own credential; auth=False: none
            auth = (sandbox.username, sandbox.password)
        if auth:
            self.http.auth = auth

    def url(self, path: str) -> str:
        return self.base + (path if path.startswith("/api/") or path.startswith("/_") or path.startswith("/ping")
                            else "/api/v1/main" + path)

    def call(self, method: str, path: str, *, check: bool = True, **kw) -> requests.Response:
        kw.setdefault("timeout", 30)
        resp = self.http.request(method, self.url(path), **kw)
        if check:
            check_response(resp, self.gen)
        return resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # -- helpers -----------------------------------------------------------------------------
    def create_flow(self, source: str) -> dict:
        resp = self.post("/flows", data=source.encode(), headers=YAML)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def run(self, ns: str, flow_id: str, inputs: dict | None = None, files=None, **params) -> dict:
        parts = [(k, (None, v)) for k, v in (inputs or {}).items()] + list(files or [])
        resp = self.post(f"/executions/{ns}/{flow_id}", params=params, files=parts or None)
        assert resp.status_code == 200, resp.text
        return resp.json()

    def action(self, execution_id: str, name: str, method: str = "POST", **kw) -> requests.Response:
        seg = f"actions/{name}" if self.gen == 2 else name
        return self.call(method, f"/executions/{execution_id}/{seg}", **kw)

    def sse(self, path: str, *, max_events: int = 1000, timeout: float = 30, params=None):
        """Read SSE events ``(id, data)`` until the server closes or ``max_events``."""
        resp = self.http.get(self.url(path), stream=True, timeout=timeout, params=params,
                             headers={"Accept": "text/event-stream"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        events, marker, data = [], None, []
        try:
            for line in resp.iter_lines(decode_unicode=True):
                if line.startswith(":"):
                    continue
                if line == "":
                    if data:
                        events.append((marker, json.loads("\n".join(data))))
                        marker, data = None, []
                        if len(events) >= max_events:
                            break
                    continue
                key, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if key == "id":
                    marker = value
                elif key == "data":
                    data.append(value)
        finally:
            resp.close()
        return events


def flow_yaml(ns: str, flow_id: str = "f", body: str | None = None, inputs: str = "") -> str:
    tasks = body or """
    tasks:
      - id: hello
        type: io.kestra.plugin.core.log.Log
        message: "hello {{ execution.id }}"
    """
    return f"id: {flow_id}\nnamespace: {ns}\n" + textwrap.dedent(inputs) + textwrap.dedent(tasks)


@pytest.fixture(scope="session", autouse=True)
def _specs():
    """Load both specs once per session (about a second each)."""
    openapi(1), openapi(2)


@pytest.fixture
def kapi(guarded_sandbox):
    """The protocol suite's HTTP helper on each generation's guarded sandbox, with its credential."""
    k = Kapi(guarded_sandbox)
    yield k
    k.http.close()


@pytest.fixture
def kapi1(guarded_v1):
    return Kapi(guarded_v1)


@pytest.fixture
def kapi2(guarded_v2):
    return Kapi(guarded_v2)


def error_text(resp) -> str:
    """The human text of a Kestra error body (1.x message + violations, 2.x detail + errors)."""
    if not resp.content:
        return ""
    body = resp.json()
    if "message" in body:
        parts = [body["message"]] + [f"{e.get('path', '')}: {e['message']}"
                                     for e in (body.get("_embedded") or {}).get("errors", [])]
    else:
        parts = [body["detail"]] + [f"{e.get('path', '')}: {e['detail']}" for e in body.get("errors", [])]
    return "\n".join(parts)


@pytest.fixture(scope="session")
def authed():
    """A 2.x sandbox with its default generated basic-auth credential, for Kestra's official client
    (kestrapy): ``authed.username`` / ``authed.password``."""
    from kestra_magic.sandbox import Sandbox
    with Sandbox(api=2) as sb:
        assert sb.auth and sb.username and sb.password
        yield sb


@pytest.fixture
def kc(authed):
    """kestrapy's KestraClient, unchanged, pointed at the ``authed`` sandbox with its credential."""
    from kestrapy import KestraClient
    return KestraClient(host=authed.url, username=authed.username, password=authed.password, timeout=30)
