"""Configuration rules over real HTTP: server index, templates, enum rejection, operation
servers, servers() blocks, per-call overrides, env vars, proxies reaching requests, and the
shared client (kestra_magic.client / configure)."""
from __future__ import annotations

import socket

import pytest

import kestra_magic as km
from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration, ServerConfiguration, ServerVariable
from kestra_magic.errors import KestraConfigError, KestraConnectionError
from tests.client.conftest import SLEEP_FLOW, flow_source, requests_to


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dead_url():
    return f"http://127.0.0.1:{_dead_port()}"


def _client(**kw) -> KestraClient:
    kw.setdefault("retries", 0)
    return KestraClient(Configuration(**kw))


def test_server_index_per_call_and_block(sandbox, dead_url, ns):
    c = _client(servers=[dead_url, sandbox.url], server_index=1, api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    assert c.flows.get_flow(ns, "f").id == "f"
    with pytest.raises(KestraConnectionError, match=dead_url):
        c.flows.get_flow(ns, "f", server_index=0)
    with km.servers(index=0):
        assert c.url == dead_url
        with pytest.raises(KestraConnectionError):
            c.flows.get_flow(ns, "f")
        assert c.flows.get_flow(ns, "f", server_index=1).id == "f"   # per call beats the block
    assert c.flows.get_flow(ns, "f").id == "f"                     # the block is over


def test_template_variables_and_enum_rejection(sandbox, ns):
    port = sandbox.url.rsplit(":", 1)[1]
    dead = str(_dead_port())
    template = ServerConfiguration("http://{host}:{port}", variables={
        "host": ServerVariable("127.0.0.1"),
        "port": ServerVariable(dead, enum=(dead, port), description="API port")})
    c = _client(servers=[template], server_variables={"port": port, "unused": "ignored"},
                api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    assert c.url == sandbox.url and c.flows.get_flow(ns, "f").id == "f"
    with pytest.raises(KestraConnectionError):
        c.flows.get_flow(ns, "f", server_variables={"port": dead})
    with pytest.raises(ValueError, match=f"allowed values: {dead}, {port}"):
        c.flows.get_flow(ns, "f", server_variables={"port": "1"})
    with km.servers(variables={"port": "2"}):
        with pytest.raises(KestraConfigError, match="'port' = '2' is not allowed"):
            c.flows.get_flow(ns, "f")


def test_operation_servers_and_operation_overrides(sandbox, dead_url, ns):
    create = "ExecutionsAPIService.CreateExecution"
    port = sandbox.url.rsplit(":", 1)[1]
    exec_servers = [dead_url, {"url": "http://{host}:" + port, "variables": {"host": {"default": "127.0.0.1",
                                                                                        "enum": ["127.0.0.1", "localhost"]}}}]
    c = _client(servers=[sandbox.url], operation_servers={create: exec_servers},
                operation_server_index={create: 1}, api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    since = len(sandbox.requests)
    e = c.executions.create_execution(ns, "f")            # operation server 1 → the sandbox
    assert e.id and requests_to(sandbox, "POST", f"/executions/{ns}/f", since)
    with km.servers(operation_indices={create: 0}):       # the block picks the dead one for this op only
        with pytest.raises(KestraConnectionError, match=dead_url):
            c.executions.create_execution(ns, "f")
        assert c.executions.get_execution(e.id).id == e.id
    with km.servers(operation_variables={create: {"host": "localhost"}}):
        assert c.executions.create_execution(ns, "f").id
    with km.servers(operation_variables={create: {"host": "example.com"}}):
        with pytest.raises(ValueError, match="allowed values: 127.0.0.1, localhost"):
            c.executions.create_execution(ns, "f")


def test_environment_variables_and_aliases(auth_sandbox, monkeypatch, ns):
    from tests.conftest import PASSWORD, USERNAME
    monkeypatch.setenv("KESTRA_HOST", auth_sandbox.url)
    monkeypatch.setenv("KESTRA_USER", USERNAME)
    monkeypatch.setenv("KESTRA_PASSWORD", PASSWORD)
    monkeypatch.setenv("KESTRA_TENANT_ID", "main")
    c = KestraClient()
    assert c.url == auth_sandbox.url and c.configuration.username == USERNAME
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    monkeypatch.setenv("KESTRA_URL", "http://127.0.0.1:1")     # the primary name wins over aliases
    monkeypatch.setenv("KESTRA_TENANT", "acme")
    c2 = KestraClient(retries=0)
    assert c2.url == "http://127.0.0.1:1" and c2.configuration.tenant == "acme"
    monkeypatch.delenv("KESTRA_USER")
    monkeypatch.delenv("KESTRA_PASSWORD")
    monkeypatch.setenv("KESTRA_URL", auth_sandbox.url)
    monkeypatch.setenv("KESTRA_TENANT", "main")
    from tests.conftest import TOKEN
    monkeypatch.setenv("KESTRA_API_TOKEN", TOKEN)
    assert KestraClient().flows.get_flow(ns, "f").id == "f"


def test_tenant_is_in_every_path(sandbox):
    c = _client(url=sandbox.url, tenant="acme", api_generation=sandbox.generation)
    since = len(sandbox.requests)
    c.flows.search_flows(size=1)
    assert sandbox.requests[since].path == "/api/v1/acme/flows/search"


@pytest.fixture
def no_proxy_env(monkeypatch):
    for var in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy",
                "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def test_http_proxy_from_environment(sandbox, proxy, no_proxy_env, ns):
    no_proxy_env.setenv("HTTP_PROXY", proxy.url)
    c = _client(url=sandbox.url, api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    assert c.flows.get_flow(ns, "f").id == "f"
    relayed = [url for _, url, _ in proxy.seen]
    assert f"{sandbox.url}/api/v1/main/flows/{ns}/f?source=true" in relayed
    no_proxy_env.setenv("NO_PROXY", "127.0.0.1")                 # bypass
    before = len(proxy.seen)
    assert _client(url=sandbox.url, api_generation=sandbox.generation).flows.get_flow(ns, "f").id == "f"
    assert len(proxy.seen) == before


def test_explicit_proxy_wins_over_environment(sandbox, proxy, no_proxy_env, dead_url, ns):
    no_proxy_env.setenv("HTTP_PROXY", dead_url)                  # would fail if used
    c = _client(url=sandbox.url, proxy=proxy.url, api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    assert c.flows.get_flow(ns, "f").id == "f"
    assert any(url.startswith(sandbox.url) for _, url, _ in proxy.seen)
    before = len(proxy.seen)
    c2 = _client(url=sandbox.url, proxy=proxy.url, no_proxy="127.0.0.1", api_generation=sandbox.generation)
    assert c2.flows.get_flow(ns, "f").id == "f" and len(proxy.seen) == before
    with pytest.raises(KestraConnectionError):                 # and the env proxy is used when set alone
        _client(url=sandbox.url, api_generation=sandbox.generation).flows.get_flow(ns, "f")


def test_tls_settings_reach_requests(sandbox):
    c = _client(url=sandbox.url, ca_bundle="/tmp/my-ca.pem")
    assert c._transport.verify == "/tmp/my-ca.pem"
    assert _client(url=sandbox.url, verify_ssl=False)._transport.verify is False
    assert _client(url=sandbox.url)._transport.verify is True


@pytest.fixture
def shared(monkeypatch):
    """Isolate the package's shared client for one test."""
    saved = km._shared
    km._shared = None
    yield
    if km._shared is not None:
        km._shared.close()
    km._shared = saved


def test_shared_client_and_configure(shared, sandbox, monkeypatch, ns):
    monkeypatch.setenv("KESTRA_URL", sandbox.url)
    c = km.client()
    assert c is km.client() and c.url == sandbox.url and c.generation == sandbox.generation
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    c2 = km.configure(read_timeout=12)
    assert km.client() is c2 is not c
    assert c2.url == sandbox.url and c2.configuration.read_timeout == 12   # other settings kept
    assert c2.flows.get_flow(ns, "f").id == "f"
    c3 = km.configure(url="http://127.0.0.1:9")
    assert c3.url == "http://127.0.0.1:9" and c3.configuration.read_timeout == 12
    c4 = km.configure(reset=True)
    assert c4.url == sandbox.url and c4.configuration.read_timeout == 60
    c5 = km.configure(Configuration(url=sandbox.url, tenant="main"))
    assert c5.configuration.tenant == "main" and km.client() is c5
    with pytest.raises(ValueError, match="out of range"):
        km.configure(server_index=5)


def test_lazy_package_attributes():
    assert km.KestraClient is KestraClient and km.Configuration is Configuration
    assert issubclass(km.KestraNotFound, km.KestraError)
    with pytest.raises(AttributeError):
        km.NoSuchThing  # noqa: B018


def test_ui_url_and_execution_url(client, inputs_flow, ns):
    e = client.executions.create_execution(ns, "f")
    assert client.ui_url(f"executions/{ns}/f/{e.id}") == f"{client.url}/ui/main/executions/{ns}/f/{e.id}"
    assert e.url and e.url.endswith(f"/ui/main/executions/{ns}/f/{e.id}")


def test_configured_operation_index_on_the_global_list(sandbox, dead_url, ns):
    get = "FlowsAPIService.GetFlow"
    c = _client(servers=[sandbox.url, dead_url], operation_server_index={get: 1},
                api_generation=sandbox.generation)
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    with pytest.raises(KestraConnectionError, match=dead_url):
        c.flows.get_flow(ns, "f")
    assert c.flows.get_flow(ns, "f", server_index=0).id == "f"


def _resolved_proxies(c: KestraClient) -> dict:
    """The proxies requests will really use for the client's server (environment merged in)."""
    t = c._transport
    base = t.base_url()
    proxies = dict(t._proxies_for(base) or {})   # as Session.request does before merging
    return t.session.merge_environment_settings(base, proxies, False, t.verify, None)["proxies"]


def test_https_proxy_and_no_proxy_resolution(no_proxy_env):
    no_proxy_env.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    no_proxy_env.setenv("HTTP_PROXY", "http://10.0.0.2:3128")
    assert _resolved_proxies(_client(url="https://kestra.example"))["https"] == "http://10.0.0.1:3128"
    assert _resolved_proxies(_client(url="http://kestra.example"))["http"] == "http://10.0.0.2:3128"
    explicit = _client(url="https://kestra.example", proxy="proxy.corp:8080")
    assert _resolved_proxies(explicit)["https"] == "http://proxy.corp:8080"
    assert not _resolved_proxies(_client(url="https://kestra.example", no_proxy="example,.corp")).get("https")
    no_proxy_env.setenv("NO_PROXY", "kestra.example")
    assert not _resolved_proxies(_client(url="https://kestra.example")).get("https")
