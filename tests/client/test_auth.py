"""Auth on and off (basic and bearer) against sandboxes that require it, on both generations;
secrets never appear in errors, reprs or logs; credentials never follow a redirect to another host."""
from __future__ import annotations

import logging

import pytest

from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration
from kestra_magic.errors import KestraAuthError
from tests.client.conftest import SLEEP_FLOW, flow_source
from tests.conftest import PASSWORD, TOKEN, USERNAME


def _everything_said(err: BaseException, client: KestraClient) -> str:
    return " ".join([str(err), repr(err), repr(client), str(client.configuration), repr(err.args)])


def test_no_credentials(auth_sandbox, ns):
    c = KestraClient(Configuration(url=auth_sandbox.url))
    since = len(auth_sandbox.requests)
    assert c.generation == auth_sandbox.generation          # detection needs no credentials...
    assert [r.path for r in auth_sandbox.requests[since:]] == ["/api/v1/configs"]   # ...and one probe
    with pytest.raises(KestraAuthError, match="requires credentials; set KESTRA_USERNAME") as info:
        c.flows.search_flows()
    assert info.value.status == 401 and "\n" not in str(info.value)


@pytest.mark.parametrize("how", ["basic", "token"])
def test_basic_and_bearer_work(auth_sandbox, ns, how, caplog):
    kw = {"username": USERNAME, "password": PASSWORD} if how == "basic" else {"token": TOKEN}
    c = KestraClient(Configuration(url=auth_sandbox.url, **kw))
    with caplog.at_level(logging.DEBUG):
        flow = c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
        e = c.executions.create_execution(ns, flow.id, wait=True)
        assert e.state.current == "SUCCESS"
        assert c.server_version == auth_sandbox.version
        assert [x.state.current for x in c.executions.follow_execution(e.id)][-1] == "SUCCESS"
    sent = [r for r in auth_sandbox.requests if r.path.startswith(f"/api/v1/main/executions/{ns}")]
    assert sent and all("Authorization" in r.headers for r in sent)
    assert PASSWORD not in caplog.text and TOKEN not in caplog.text
    assert PASSWORD not in repr(c) and TOKEN not in repr(c)


@pytest.mark.parametrize("how", ["basic", "token"])
def test_wrong_credentials_never_leak(auth_sandbox, how):
    wrong = "Wrong-" + (PASSWORD if how == "basic" else TOKEN)
    kw = {"username": USERNAME, "password": wrong} if how == "basic" else {"token": wrong}
    c = KestraClient(Configuration(url=auth_sandbox.url, **kw))
    with pytest.raises(KestraAuthError, match="credentials were rejected") as info:
        c.flows.search_flows()
    said = _everything_said(info.value, c)
    assert wrong not in said and PASSWORD not in said and TOKEN not in said


def test_credentials_in_url_are_moved_out(auth_sandbox, ns):
    host = auth_sandbox.url.split("://", 1)[1]
    c = KestraClient(Configuration(url=f"http://{USERNAME.replace('@', '%40')}:{PASSWORD}@{host}"))
    assert c.configuration.username == USERNAME and PASSWORD not in repr(c) + str(c.configuration)
    assert c.flows.search_flows(size=1).total >= 0


def test_credentials_not_sent_to_a_redirect_on_another_host(auth_sandbox, recorder, ns):
    c = KestraClient(Configuration(url=auth_sandbox.url, username=USERNAME, password=PASSWORD))
    c.flows.create_flow(flow_source(SLEEP_FLOW, ns, seconds=0))
    auth_sandbox.faults.fail(302, method="GET", path=f"/flows/{ns}/f$",
                             headers={"Location": f"{recorder.url}/api/v1/main/flows/{ns}/f"})
    try:
        c.flows.get_flow(ns, "f")
    finally:
        auth_sandbox.faults.clear()
    assert recorder.seen, "the redirect was not followed"
    method, path, headers = recorder.seen[-1]
    assert path.startswith(f"/api/v1/main/flows/{ns}/f")
    assert "Authorization" not in headers and all(PASSWORD not in v for v in headers.values())
