"""The transport session: the one place in kestra-magic that does HTTP.

Split the way ``requests`` splits Session / adapter / ``Retry``: a call names an operation
descriptor (``kestra_magic.operations``: method, path per generation, creates or not); the session
resolves its server, path (``compat.ServerGeneration``), auth, timeouts, proxies and TLS and sends
it through one pooled ``requests.Session``; a :class:`~kestra_magic.transport.retry.RetryPolicy`
decides what is sent again; response hooks (:mod:`kestra_magic.transport.hooks`: the 2.x 404
window, a wrong configured generation) look at answers; one
:class:`~kestra_magic.transport.error_map.ErrorMapper` turns every failure into a ``KestraError``
whose message never contains a secret.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator, Mapping

import requests
from requests.adapters import HTTPAdapter

from kestra_magic import compat as _compat
from kestra_magic import errors
from kestra_magic import operations as _operations
from kestra_magic.config import MASK, Configuration, current_overrides
from kestra_magic.transport.call import Call
from kestra_magic.transport.error_map import ErrorMapper, reason_of
from kestra_magic.transport.hooks import GenerationCheck, Hook, NotFoundGrace
from kestra_magic.transport.retry import NO_ANSWER, RetryPolicy, was_sent

log = logging.getLogger("kestra_magic.transport")

_CALL_OPTIONS = frozenset({"server_index", "server_variables", "timeout"})


def check_call_options(options: Mapping[str, Any]) -> None:
    """Per-call keyword overrides are ``server_index``, ``server_variables`` and ``timeout`` only."""
    unknown = set(options) - _CALL_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}; per-call options are "
                        f"{sorted(_CALL_OPTIONS)}")


class Transport:
    """Sends operations for the API classes: servers, auth, timeouts, retries, hooks, errors."""

    def __init__(self, configuration: Configuration):
        self.config = configuration
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = configuration.user_agent
        self._auth_header: dict[str, str] = {}
        if configuration.auth_kind == "bearer":
            self._auth_header = {"Authorization": f"Bearer {configuration.token}"}
        elif configuration.auth_kind == "basic":
            self._auth_header = {"Authorization": requests.auth._basic_auth_str(  # type: ignore[attr-defined]
                configuration.username, configuration.password)}
        self._secrets = sorted(configuration.secrets(), key=len, reverse=True)
        # explicit proxy settings are passed per request: requests lets HTTP(S)_PROXY from the
        # environment override Session.proxies, and applies ``no_proxy`` to environment proxies only
        self.proxies: dict[str, str | None] | None = None
        if configuration.proxy:
            self.proxies = {"http": configuration.proxy, "https": configuration.proxy}
        self._proxies_by_base: dict[str, dict | None] = {}
        self.verify: bool | str = configuration.ca_bundle or configuration.verify_ssl
        self._special_operations = (set(configuration.operation_servers) | set(configuration.operation_server_index)
                                    | set(configuration.operation_server_variables))
        # fast path: the base URL when nothing overrides the configured default
        self._default_base = configuration.resolve_base_url() if not configuration.server_variables \
            and not any("{" in s.url for s in configuration.servers) else None
        self.retry = RetryPolicy(configuration.retries, configuration.backoff, configuration.max_backoff)
        self.errors = ErrorMapper(self.scrub, has_credentials=bool(self._auth_header))
        self.server = _compat.ServerGeneration(configuration.api_generation, self.probe,
                                               has_credentials=bool(self._auth_header), where=self.base_url)
        self.grace = NotFoundGrace(lambda: self.compat.not_found_grace(self.config.not_found_grace))
        self.hooks: list[Hook] = [self.grace, GenerationCheck(self.server)]

    # -- secrets ----------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        """Replace every secret (and its Basic-auth encoding) with ``***``."""
        text = str(text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    # -- servers ----------------------------------------------------------------------------------
    def base_url(self, operation: str | None = None, server_index: int | None = None,
                 server_variables: Mapping[str, Any] | None = None) -> str:
        if (self._default_base and server_index is None and not server_variables
                and (operation is None or operation not in self._special_operations)):
            ctx = current_overrides()
            if ctx.index is None and not ctx.variables and not ctx.operation_indices \
                    and not ctx.operation_variables:
                return self._default_base
        return self.config.resolve_base_url(operation, server_index=server_index,
                                            server_variables=server_variables)

    # -- generation (decided in compat) ------------------------------------------------------------
    @property
    def generation(self) -> int:
        return self.server.generation

    @property
    def compat(self) -> _compat.Compat:
        return self.server.compat

    @property
    def server_version(self) -> str | None:
        return self.server.version

    def mark_recent(self, key: tuple) -> None:
        """Remember a flow/execution this client just created (the 2.x 404 window applies to it)."""
        self.grace.mark(key)

    def forget_recent(self, key: tuple) -> None:
        """Forget a creation (deleted since): a 404 for it is final."""
        self.grace.forget(key)

    # -- sending ----------------------------------------------------------------------------------
    def send(self, operation: str, path: Mapping[str, Any] | None = None, *, what: str = "resource",
             read_timeout: float | None = None, grace: tuple | None = None, legacy: bool = False,
             options: Mapping[str, Any] | None = None, whole_body: bool = False,
             **request: Any) -> requests.Response:
        """Send one operation (``path``: its path parameters) and return the answer, or raise a
        ``KestraError``. ``request``: ``params``, ``data``, ``files``, ``json``, ``headers``, ``stream``
        as in ``requests``; ``grace``: the key of something this client created (2.x 404 window);
        ``whole_body``: read the body of a successful answer into one buffer as it arrives (file
        downloads: half the peak memory of joining chunks, and a truncated body is retried alike)."""
        options = options or {}
        check_call_options(options)
        if whole_body:
            request["stream"] = True
        call = self._call(operation, path, what=what, read_timeout=options.get("timeout") or read_timeout,
                          legacy=legacy, options=options, request=request)
        call.whole_body = whole_body
        window = self.grace.window(grace)
        if window:
            call.grace_until = time.monotonic() + window
        return self._send(call, self.hooks, raise_errors=True)

    def json(self, operation: str, path: Mapping[str, Any] | None = None, **kw: Any) -> Any:
        """Send and decode a JSON body (``None`` for an empty one)."""
        resp = self.send(operation, path, **kw)
        if not resp.content.strip():
            return None
        try:
            return _compat.response_json(resp)
        except ValueError:
            raise self.errors.not_json(resp, self._call(operation, path, what=kw.get("what", "response"),
                                                        legacy=kw.get("legacy", False))) from None

    def probe(self, operation: str, authenticate: bool) -> requests.Response | None:
        """A GET for generation detection: no hooks, error statuses returned as they are; None when
        there was no usable answer. A server that cannot be reached raises ``KestraConnectionError``."""
        call = self._call(operation, None, what="server probe", authenticate=authenticate)
        try:
            return self._send(call, (), raise_errors=False)
        except errors.KestraConnectionError:
            raise
        except errors.KestraError:
            return None

    def _call(self, operation: str, path: Mapping[str, Any] | None, *, what: str,
              read_timeout: float | None = None, legacy: bool = False, options: Mapping[str, Any] | None = None,
              request: dict[str, Any] | None = None, authenticate: bool = True) -> Call:
        op = _operations.get(operation)
        options = options or {}
        base = self.base_url(operation, options.get("server_index"), options.get("server_variables"))
        rel = self.server.path(op, path or {}, self.config.tenant, legacy=legacy)
        request = dict(request or {})
        headers = dict(request.get("headers") or {})
        if authenticate:
            headers.update(self._auth_header)
        request["headers"] = headers
        return Call(op, base, rel, what, (self.config.connect_timeout, read_timeout or self.config.read_timeout),
                    request)

    def _send(self, call: Call, hooks: Any, *, raise_errors: bool) -> requests.Response:
        """Attempts of one call: the retry policy, then the hooks, then the error mapper."""
        retry = self.retry
        while True:
            started = time.perf_counter()
            try:
                resp = self.session.request(call.method, call.url, timeout=call.timeout, verify=self.verify,
                                            proxies=self._proxies_for(call.base), **call.request)
                if call.whole_body and resp.status_code < 300:
                    _read_whole(resp)
            except NO_ANSWER as exc:
                delay = retry.delay_after_error(exc, call.operation)
                if delay is None:
                    raise self.errors.for_exception(exc, call, sent=was_sent(exc)) from None
                self._sleep(delay)
                retry = retry.increment()
                continue
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s -> %s (%.0f ms)", call.method, call.path, resp.status_code,
                          (time.perf_counter() - started) * 1000)
            delay = retry.delay_after_response(resp, call.operation)
            if delay is not None:
                resp.close()
                self._sleep(delay)
                retry = retry.increment()
                continue
            again = None
            for hook in hooks:
                again = hook(resp, call)
                if again is not None:
                    break
            if again is not None:
                self._sleep(again)
                continue
            if resp.status_code >= 400 and raise_errors:
                if call.stream or call.whole_body:
                    resp.content  # noqa: B018 - read the (small) error body of a stream
                raise self.errors.for_response(resp, call)
            return resp

    def stream_chunks(self, resp: requests.Response, what: str) -> Iterator[bytes]:
        """Raw bytes of a streaming response as they arrive (SSE needs them unbuffered)."""
        from urllib3.exceptions import ProtocolError, ReadTimeoutError
        raw = resp.raw
        try:
            while True:
                try:
                    chunk = raw.read1(65536, decode_content=True) if hasattr(raw, "read1") else raw.read(1)
                except ReadTimeoutError:
                    raise errors.KestraTimeout(f"{what}: no event for {self.config.stream_timeout:g}s; raise "
                                               f"stream_timeout or check the server") from None
                except (ProtocolError, OSError) as exc:
                    raise errors.KestraConnectionError(f"{what}: the stream broke ({self.scrub(reason_of(exc))})"
                                                       f"; follow again") from None
                if not chunk:
                    return
                yield chunk
        finally:
            resp.close()

    # -- helpers ----------------------------------------------------------------------------------
    def _proxies_for(self, base: str) -> dict | None:
        """The proxies for a server: ``no_proxy`` hosts go direct (None values block env proxies too)."""
        if not self.config.no_proxy:
            return self.proxies
        if base not in self._proxies_by_base:
            from requests.utils import should_bypass_proxies
            bypass = should_bypass_proxies(base, no_proxy=self.config.no_proxy)
            self._proxies_by_base[base] = {"http": None, "https": None} if bypass else \
                {**(self.proxies or {}), "no_proxy": self.config.no_proxy}
        return self._proxies_by_base[base]

    @staticmethod
    def _sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    def close(self) -> None:
        self.session.close()


def _read_whole(resp: requests.Response) -> None:
    """Read a streamed answer's body with one ``read()`` (one buffer of Content-Length bytes instead
    of ``requests``' 10 kB chunks joined at the end) and keep it as the response's content. Errors
    are raised as ``requests`` raises them from ``iter_content`` (so the retry policy treats a
    truncated body the same way)."""
    from urllib3.exceptions import DecodeError, ProtocolError, ReadTimeoutError, SSLError
    try:
        data = resp.raw.read(decode_content=True)
    except BaseException as exc:
        resp.close()                    # a broken body: the connection is not reused
        if isinstance(exc, ProtocolError):
            raise requests.exceptions.ChunkedEncodingError(exc) from exc
        if isinstance(exc, DecodeError):
            raise requests.exceptions.ContentDecodingError(exc) from exc
        if isinstance(exc, ReadTimeoutError):
            raise requests.exceptions.ConnectionError(exc) from exc
        if isinstance(exc, SSLError):
            raise requests.exceptions.SSLError(exc) from exc
        raise
    resp._content = data                # what ``requests`` itself sets once a body is read
    resp._content_consumed = True
    resp.close()                        # read to the end: only hands the connection back to the pool
