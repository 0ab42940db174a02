"""TLS: verification on by default, a CA bundle to trust a private CA, and the opt-out —
against a real HTTPS server on 127.0.0.1 (a throwaway self-signed certificate in ./tls)."""
from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from kestra_magic.runs import KestraClient
from kestra_magic.config import Configuration
from kestra_magic.errors import KestraConnectionError
from tests.client.servers import Recorder

TLS = Path(__file__).parent / "tls"


@pytest.fixture
def https_server():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(TLS / "cert.pem", TLS / "key.pem")
    with Recorder(ssl_context=ctx) as server:
        yield server


def _get(url: str, **kw):
    c = KestraClient(Configuration(url=url, api_generation=2, retries=0, **kw))
    return c.flows.get_flow("ns", "f").raw


def test_verification_is_on_by_default(https_server, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with pytest.raises(KestraConnectionError, match="TLS check failed.*ca_bundle=.*verify_ssl=False") as info:
        _get(https_server.url)
    assert "\n" not in str(info.value)
    assert https_server.seen == []          # nothing was sent over the untrusted connection


def test_ca_bundle_and_opt_out(https_server, monkeypatch):
    assert _get(https_server.url, ca_bundle=str(TLS / "cert.pem")) == {"recorded": True}
    assert _get(https_server.url, verify_ssl=False) == {"recorded": True}
    monkeypatch.setenv("KESTRA_CA_BUNDLE", str(TLS / "cert.pem"))
    monkeypatch.setenv("KESTRA_URL", https_server.url)
    assert KestraClient(api_generation=2).flows.get_flow("ns", "f").raw == {"recorded": True}
    assert len(https_server.seen) == 3
