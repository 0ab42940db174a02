"""Configuration rules that need no server: templates, enums, indices, overrides, env, secrets."""
from __future__ import annotations

import logging

import pytest

import kestra_magic as km
from kestra_magic.config import Configuration, ServerConfiguration, ServerVariable
from kestra_magic.errors import KestraConfigError, KestraError

TEMPLATE = ServerConfiguration(
    url="{scheme}://{host}:{port}",
    description="templated",
    variables={"scheme": ServerVariable("http", enum=("http", "https")),
               "host": ServerVariable("127.0.0.1"),
               "port": ServerVariable("8080", description="API port")})


def test_url_shortcuts_are_normalised():
    assert Configuration(url="localhost:8080").resolve_base_url() == "http://localhost:8080"
    assert Configuration(url="http://h:1/api/v1/").resolve_base_url() == "http://h:1"
    assert Configuration(url="https://h/kestra/api/v1/main").resolve_base_url() == "https://h/kestra"
    with pytest.raises(KestraConfigError, match="not an http"):
        Configuration(url="ftp://h")


def test_template_defaults_and_variables():
    c = Configuration(servers=[TEMPLATE])
    assert c.resolve_base_url() == "http://127.0.0.1:8080"
    c = Configuration(servers=[TEMPLATE], server_variables={"port": "9000", "unused": "x"})
    assert c.resolve_base_url() == "http://127.0.0.1:9000"   # unused variables are ignored
    assert c.resolve_base_url(server_variables={"scheme": "https"}) == "https://127.0.0.1:9000"


def test_enum_rejection_names_allowed_values():
    c = Configuration(servers=[TEMPLATE])
    with pytest.raises(ValueError, match=r"'scheme' = 'gopher'.*allowed values: http, https"):
        c.resolve_base_url(server_variables={"scheme": "gopher"})
    with pytest.raises(ValueError, match="allowed values"):
        Configuration(servers=[TEMPLATE], server_variables={"scheme": "ws"}).resolve_base_url()
    with pytest.raises(KestraConfigError, match="default 'x' is not one of"):
        ServerVariable("x", enum=("a", "b"))


def test_undeclared_placeholder_is_a_clear_error():
    with pytest.raises(KestraConfigError, match=r"uses \{zone\}"):
        Configuration(servers=["http://{zone}.example"]).resolve_base_url()


def test_server_index_and_its_range():
    c = Configuration(servers=["http://a:1", {"url": "http://b:2"}], server_index=1)
    assert c.resolve_base_url() == "http://b:2"
    assert c.resolve_base_url(server_index=0) == "http://a:1"
    with pytest.raises(KestraConfigError, match=r"out of range.*2 server\(s\)"):
        c.resolve_base_url(server_index=2)
    with pytest.raises(KestraConfigError, match="out of range"):
        Configuration(servers=["http://a:1"], server_index=3)


def test_operation_servers_win_for_their_operation_only():
    op = "ExecutionsAPIService.CreateExecution"
    c = Configuration(servers=["http://main:1"],
                      operation_servers={op: ["http://exec-a:2", TEMPLATE]},
                      operation_server_index={op: 1},
                      operation_server_variables={op: {"host": "exec-b"}})
    assert c.resolve_base_url(op) == "http://exec-b:8080"
    assert c.resolve_base_url("FlowsAPIService.CreateFlow") == "http://main:1"
    assert c.resolve_base_url(op, server_index=0) == "http://exec-a:2"
    with pytest.raises(KestraConfigError, match="did you mean 'ExecutionsAPIService.CreateExecution'"):
        Configuration(operation_servers={"ExecutionsApiService.createexecution": ["http://x"]})


def test_servers_context_manager_nests_and_resets():
    op = "FlowsAPIService.CreateFlow"
    c = Configuration(servers=["http://a:1", TEMPLATE], operation_servers={op: ["http://o1:1", "http://o2:2"]})
    with km.servers(index=1, variables={"port": "81"}):
        assert c.resolve_base_url() == "http://127.0.0.1:81"
        assert c.resolve_base_url(op) == "http://o2:2"     # the block's index applies to operation lists too
        with km.servers(variables={"host": "inner"}, operation_indices={op: 0}):
            assert c.resolve_base_url() == "http://inner:81"
            assert c.resolve_base_url(op) == "http://o1:1"
        assert c.resolve_base_url() == "http://127.0.0.1:81"
        assert c.resolve_base_url(server_index=0) == "http://a:1"   # per call beats the block
    assert c.resolve_base_url() == "http://a:1"
    with pytest.raises(KestraConfigError, match="unknown operation"):
        with km.servers(operation_indices={"Nope.Nope": 1}):
            pass


def test_operation_variables_in_context():
    op = "ExecutionsAPIService.GetExecution"
    c = Configuration(servers=[TEMPLATE])
    with km.servers(variables={"port": "1"}, operation_variables={op: {"port": "2"}}):
        assert c.resolve_base_url(op).endswith(":2")
        assert c.resolve_base_url("ExecutionsAPIService.CreateExecution").endswith(":1")


def test_environment_and_aliases():
    env = {"KESTRA_HOSTNAME": "kestra.example:8080", "KESTRA_USER": "me@example.com",
           "KESTRA_PASSWORD": "S3cret-pw", "KESTRA_TENANT_ID": "acme", "KESTRA_READ_TIMEOUT": "7"}
    c = Configuration.from_env(env)
    assert (c.url, c.username, c.password, c.tenant, c.read_timeout) == (
        "http://kestra.example:8080", "me@example.com", "S3cret-pw", "acme", 7.0)
    env2 = {"KESTRA_URL": "http://a:1", "KESTRA_HOST": "b:2", "KESTRA_API_TOKEN": "tok",
            "KESTRA_TENANT": "t1", "KESTRA_TENANT_ID": "t2"}
    c2 = Configuration.from_env(env2)
    assert (c2.url, c2.token, c2.tenant, c2.auth_kind) == ("http://a:1", "tok", "t1", "bearer")
    assert Configuration.from_env(env2, url="http://c:3").url == "http://c:3"   # keywords win
    assert Configuration.from_env({}).url == "http://localhost:8080"
    with pytest.raises(KestraConfigError, match="KESTRA_CONNECT_TIMEOUT"):
        Configuration.from_env({"KESTRA_CONNECT_TIMEOUT": "soon"})


def test_auth_tenant_timeouts_validation():
    with pytest.raises(KestraConfigError, match="password is not"):
        Configuration(username="u")
    with pytest.raises(KestraConfigError, match="never|forever"):
        Configuration(read_timeout=0)
    with pytest.raises(KestraConfigError, match="forever"):
        Configuration(connect_timeout=None)
    with pytest.raises(KestraConfigError, match="tenant"):
        Configuration(tenant="a/b")
    with pytest.raises(KestraConfigError, match="either url= or servers="):
        Configuration(url="http://a", servers=["http://b"])
    c = Configuration()
    assert c.connect_timeout > 0 and c.read_timeout > 0 and c.verify_ssl is True and c.tenant == "main"


def test_secrets_never_shown(caplog):
    pw, tok = "Very-Secret-Pw1", "tok-abcdef-123"
    c = Configuration(url=f"http://user:{pw}@h:1", token=tok)
    assert c.username == "user" and c.password == pw and c.url == "http://h:1"
    for text in (repr(c), str(c), f"{c}", repr(c.replace(tenant="x"))):
        assert pw not in text and tok not in text and "***" in text
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("config %s", c)
    assert pw not in caplog.text and tok not in caplog.text
    with pytest.raises(KestraConfigError) as info:
        Configuration(url=f"ftp://user:{pw}@h")
    assert pw not in str(info.value)


def test_replace_keeps_other_settings_and_switches_auth():
    c = Configuration(url="http://a:1", username="u", password="p", tenant="t")
    d = c.replace(token="tok")
    assert (d.url, d.tenant, d.token, d.username) == ("http://a:1", "t", "tok", None)
    e = c.replace(url="http://b:2")
    assert (e.url, e.username, e.password) == ("http://b:2", "u", "p")
    f = c.replace(servers=["http://x:1", "http://y:2"], server_index=1)
    assert f.resolve_base_url() == "http://y:2"


def test_config_errors_are_value_and_kestra_errors():
    with pytest.raises(ValueError):
        Configuration(api_generation=3)
    assert issubclass(KestraConfigError, KestraError)


def test_userinfo_in_servers_and_proxy_is_masked():
    c = Configuration(servers=["http://bob:Pw-123@h:1"], proxy="http://px:Proxy-Pw9@proxy:3128")
    assert (c.username, c.password) == ("bob", "Pw-123") and c.resolve_base_url() == "http://h:1"
    text = repr(c)
    assert "Pw-123" not in text and "Proxy-Pw9" not in text and "px:***@proxy:3128" in text
    assert "Proxy-Pw9" in c.secrets()
    assert Configuration(url="http://[::1]:8080").resolve_base_url() == "http://[::1]:8080"
    assert Configuration(url="http://u:p@[::1]:8080").url == "http://[::1]:8080"


def test_operation_index_applies_to_the_global_list_without_operation_servers():
    op = "FlowsAPIService.GetFlow"
    c = Configuration(servers=["http://a:1", "http://b:2"])
    with km.servers(index=0, operation_indices={op: 1}):      # as the Go SDK: the operation's index wins
        assert c.resolve_base_url(op) == "http://b:2"
        assert c.resolve_base_url("FlowsAPIService.CreateFlow") == "http://a:1"
    assert Configuration(servers=["http://a:1", "http://b:2"],
                         operation_server_index={op: 1}).resolve_base_url(op) == "http://b:2"
