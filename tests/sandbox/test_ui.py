"""The sandbox's read-only pages ("Open in UI" never leads to a 404) and their signed links: a page
of a sandbox with a credential opens only through a per-page, expiring HMAC link minted over the
authenticated API; the link carries no credential."""
from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from kestra_magic.sandbox import ui
from tests.conftest import PASSWORD, TOKEN, USERNAME
from tests.sandbox.conftest import YAML, flow_yaml

BODY = """
tasks:
  - id: greet
    type: io.kestra.plugin.core.log.Log
    message: "hello <b>{{ inputs.who }}</b>"
  - id: ret
    type: io.kestra.plugin.core.debug.Return
    format: "42"
"""


@pytest.fixture(scope="module")
def locked():
    from kestra_magic.sandbox import Sandbox
    with Sandbox(api=2, username=USERNAME, password=PASSWORD) as sb:
        yield sb


def _setup(sb, ns, auth=None):
    http = requests.Session()
    http.auth = auth
    src = flow_yaml(ns, "page", BODY, inputs="inputs:\n  - id: who\n    type: STRING\n    defaults: ada\n")
    assert http.post(f"{sb.url}/api/v1/main/flows", data=src, headers=YAML).status_code == 200
    ex = http.post(f"{sb.url}/api/v1/main/executions/{ns}/page", params={"wait": "true"}).json()
    deadline = time.monotonic() + 20
    while http.get(f"{sb.url}/api/v1/main/executions/{ex['id']}").json()["state"]["current"] != "SUCCESS":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return http, ex["id"]


def _mint(http, sb, path):
    resp = http.post(f"{sb.url}/api/v1/main/sandbox/ui-links", json={"path": path})
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_a_signed_link_opens_the_execution_page_without_credentials(locked, ns):
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    link = _mint(http, locked, f"executions/{ns}/page/{ex_id}")
    assert link["url"].startswith(f"{locked.url}/ui/main/executions/{ns}/page/{ex_id}?")
    page = requests.get(link["url"], timeout=10)                 # a browser: no auth header
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert ex_id in text and "SUCCESS" in text and "greet" in text and "ret" in text
    assert "hello &lt;b&gt;ada&lt;/b&gt;" in text                 # the log line, escaped
    assert "&#34;value&#34;: &#34;42&#34;" in text or "&quot;value&quot;: &quot;42&quot;" in text
    assert "<script" not in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_the_link_holds_no_credential(locked, ns):
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    url = _mint(http, locked, f"executions/{ns}/page/{ex_id}")["url"]
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, basic, USERNAME):
        assert secret not in url
    assert set(parse_qs(urlsplit(url).query)) == {"exp", "sig"}


def test_pages_refuse_missing_forged_foreign_and_expired_signatures(locked, ns):
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    page = f"/ui/main/executions/{ns}/page/{ex_id}"
    bare = requests.get(locked.url + page, timeout=10)
    assert bare.status_code == 403 and "needs a signed link" in bare.text
    good = _mint(http, locked, f"executions/{ns}/page/{ex_id}")["url"]
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    assert requests.get(forged, timeout=10).status_code == 403
    flow_link = _mint(http, locked, f"flows/edit/{ns}/page")["url"]
    foreign = locked.url + page + "?" + urlsplit(flow_link).query      # another page's signature
    assert requests.get(foreign, timeout=10).status_code == 403
    app = locked._server.app
    expired, _ = ui.signed_url(app, page, ttl=-5)
    resp = requests.get(expired, timeout=10)
    assert resp.status_code == 403 and "expired" in resp.text


def test_minting_needs_the_credential_and_a_known_page(locked):
    assert requests.post(f"{locked.url}/api/v1/main/sandbox/ui-links", json={"path": "executions/a/b/c"},
                         timeout=10).status_code == 401
    bad = requests.post(f"{locked.url}/api/v1/main/sandbox/ui-links", json={"path": "../api/v1/flows"},
                        auth=(USERNAME, PASSWORD), timeout=10)
    assert bad.status_code == 422 and "is not a sandbox page" in bad.text   # Kestra's IllegalArgument


def test_the_flow_page_shows_source_tree_and_signed_execution_links(locked, ns):
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    page = requests.get(_mint(http, locked, f"flows/edit/{ns}/page")["url"], timeout=10)
    assert page.status_code == 200
    assert "type: io.kestra.plugin.core.debug.Return" in page.text and "<b>greet</b>" in page.text
    link = page.text.split(f">{ex_id}</a>")[0].rsplit("href='", 1)[1]
    follow = requests.get(link.rstrip("'").replace("&amp;", "&"), timeout=10)
    assert follow.status_code == 200 and ex_id in follow.text


def test_links_a_page_shows_expire_with_the_link_that_opened_it(locked, ns):
    """Following links never extends access: a run's page links its flow with the run link's own
    expiry, and the flow page's run links carry it on."""
    from urllib.parse import parse_qs, urlsplit
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    minted = _mint(http, locked, f"executions/{ns}/page/{ex_id}")["url"]
    exp = parse_qs(urlsplit(minted).query)["exp"]
    run_page = requests.get(minted, timeout=10).text
    flow_link = run_page.split(f">{ns}.page</a>")[0].rsplit("href='", 1)[1].rstrip("'").replace("&amp;", "&")
    assert parse_qs(urlsplit(flow_link).query)["exp"] == exp
    flow_page = requests.get(flow_link, timeout=10).text
    back = flow_page.split(f">{ex_id}</a>")[0].rsplit("href='", 1)[1].rstrip("'").replace("&amp;", "&")
    assert parse_qs(urlsplit(back).query)["exp"] == exp


def test_an_open_sandbox_serves_pages_without_signature_and_404s_unknown_ones(sandbox, ns):
    _, ex_id = _setup(sandbox, ns)
    ok = requests.get(f"{sandbox.url}/ui/main/executions/{ns}/page/{ex_id}/logs", timeout=10)
    assert ok.status_code == 200 and ex_id in ok.text
    missing = requests.get(f"{sandbox.url}/ui/main/executions/{ns}/page/nope", timeout=10)
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_the_client_gets_a_signed_link_from_the_sandbox_and_kestras_link_elsewhere(locked, sandbox, ns):
    from kestra_magic.config import Configuration
    from kestra_magic.runs import KestraClient
    http, ex_id = _setup(locked, ns, (USERNAME, PASSWORD))
    with KestraClient(Configuration(url=locked.url, username=USERNAME, password=PASSWORD)) as c:
        url = c.ui_link(f"executions/{ns}/page/{ex_id}")
        assert PASSWORD not in url and requests.get(url, timeout=10).status_code == 200
    with KestraClient(Configuration(url=sandbox.url)) as c:
        sandbox.faults.fail(404, path=r"/sandbox/ui-links$", times=1)     # what Kestra answers
        try:
            assert c.ui_link("executions/a/b/c") == c.ui_url("executions/a/b/c")
            assert c.ui_link("flows/edit/a/b") == c.ui_url("flows/edit/a/b")   # remembered: no 2nd call
        finally:
            sandbox.faults.clear()
        assert sum(r.path.endswith("/sandbox/ui-links") for r in sandbox.requests) >= 1
