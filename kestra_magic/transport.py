"""The transport: the one place in kestra-magic that does HTTP.

One ``requests.Session`` (connection pooling) per client. The transport resolves
the server for each operation, adds auth, applies timeouts/proxies/TLS settings,
retries what is safe to retry, and turns failures into ``KestraError``s whose
messages never contain a secret.
"""
from __future__ import annotations

import email.utils
import logging
import threading
import time
from typing import Any, Iterator, Mapping, Sequence
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from kestra_magic import compat as _compat
from kestra_magic import errors
from kestra_magic.config import MASK, Configuration, current_overrides

log = logging.getLogger("kestra_magic.transport")

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RETRY_STATUSES = frozenset({502, 503, 504})
_CALL_OPTIONS = frozenset({"server_index", "server_variables", "timeout"})


def check_call_options(options: Mapping[str, Any]) -> None:
    """Per-call keyword overrides are ``server_index``, ``server_variables`` and ``timeout`` only."""
    unknown = set(options) - _CALL_OPTIONS
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}; per-call options are "
                        f"{sorted(_CALL_OPTIONS)}")


def _not_sent(exc: BaseException) -> bool:
    """True when the request certainly never left: refused, DNS failure or connect timeout."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (NewConnectionError, ConnectTimeoutError)):
            return True
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return False


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


class Transport:
    """Sends requests for the API classes: servers, auth, timeouts, retries, errors."""

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
        self._lock = threading.RLock()
        self._generation: int | None = configuration.api_generation
        self._version: str | None = None
        self._version_probed = False
        self._compat: _compat.Compat | None = None
        self._recent: dict[tuple, float] = {}
        # an explicit api_generation is checked once against the server after a 404/405 (finding: a
        # wrong override otherwise reads as "execution not found")
        self._override_checked = configuration.api_generation is None
        self._mismatch: str | None = None
        self._special_operations = (set(configuration.operation_servers) | set(configuration.operation_server_index)
                                    | set(configuration.operation_server_variables))
        # fast path: the base URL when nothing overrides the configured default
        self._default_base = configuration.resolve_base_url() if not configuration.server_variables \
            and not any("{" in s.url for s in configuration.servers) else None

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

    def api_path(self, segments: Sequence[Any] | str) -> str:
        """``/api/v1/{tenant}/seg/seg`` with each segment URL-quoted; a str starting with / is used as is."""
        if isinstance(segments, str):
            return segments
        quoted = "/".join(quote(str(s), safe="") for s in segments)
        return f"/api/v1/{quote(self.config.tenant, safe='')}/{quoted}"

    # -- generation -------------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        if self._generation is None:
            with self._lock:
                if self._generation is None:
                    self._generation = self._detect()
        return self._generation

    @property
    def compat(self) -> _compat.Compat:
        if self._compat is None:
            self._compat = _compat.Compat(self.generation)
        return self._compat

    @property
    def server_version(self) -> str | None:
        if not self._version_probed:
            with self._lock:
                if not self._version_probed:
                    try:
                        resp = self.send("GET", "/api/v1/configs", operation="MiscAPIService.GetConfiguration",
                                         what="server configuration")
                        self._version = (_compat.response_json(resp) or {}).get("version")
                    except (errors.KestraAuthError, errors.KestraNotFound, ValueError, AttributeError):
                        self._version = None
                    self._version_probed = True
        return self._version

    def _detect(self) -> int:
        """One cheap unauthenticated probe (a second only if the first is inconclusive), cached.

        ``/api/v1/configs`` is open on 1.x (its ``version`` decides) and answers 401 problem+json on
        2.x; ``/api/v1/configs/login`` (open on 2.x only) settles anything else.
        """
        configs = self._probe("/api/v1/configs", "MiscAPIService.GetConfiguration")
        if configs is not None and configs.status_code == 200:
            try:
                version = _compat.response_json(configs).get("version")
            except (ValueError, AttributeError):
                version = None
            if _compat.parse_version(version) is not None:
                self._version, self._version_probed = version, True
                return _compat.generation_from_probes(None, configs)
        if configs is not None and configs.status_code == 401 \
                and "problem+json" in configs.headers.get("Content-Type", ""):
            return 2
        login = self._probe("/api/v1/configs/login", "MiscAPIService.GetLoginConfiguration")
        if self._auth_header and configs is not None and configs.status_code == 401 and (
                login is None or login.status_code != 200):
            # neither open route answered (e.g. a gateway in front that wants credentials for
            # everything): the authenticated /configs has the authoritative version on both majors
            authed = self._probe("/api/v1/configs", "MiscAPIService.GetConfiguration", authenticate=True)
            body = _compat._json(authed) if authed is not None and authed.status_code == 200 else None
            version = body.get("version") if isinstance(body, dict) else None
            major = _compat.parse_version(version)
            if major is not None:
                self._version, self._version_probed = version, True
                return 1 if major < 2 else 2
        return _compat.generation_from_probes(login, configs)

    def _generation_mismatch(self, base: str) -> str | None:
        """Once, after a 404/405 with ``api_generation`` set explicitly: does the server disagree?

        Only a definite answer counts (a parseable version, 2.x's problem+json 401 or its open
        login route): an override often exists because the probes are blocked.
        """
        self._override_checked = True
        actual = None
        try:
            configs = self._probe("/api/v1/configs", "MiscAPIService.GetConfiguration", authenticate=True)
            if configs is not None and configs.status_code == 200:
                major = _compat.parse_version((_compat.response_json(configs) or {}).get("version"))
                actual = None if major is None else (1 if major < 2 else 2)
            elif configs is not None and configs.status_code == 401 \
                    and "problem+json" in configs.headers.get("Content-Type", ""):
                actual = 2
            if actual is None:
                login = self._probe("/api/v1/configs/login", "MiscAPIService.GetLoginConfiguration")
                if login is not None and login.status_code == 200 \
                        and "isBasicAuthInitialized" in (_compat.response_json(login) or {}):
                    actual = 2
        except (errors.KestraError, ValueError, AttributeError, TypeError):
            return None
        configured = self.config.api_generation
        if actual is None or actual == configured:
            return None
        self._mismatch = (f"the server at {base} speaks Kestra API {actual}.x but api_generation={configured} "
                          f"is configured; remove api_generation (it is detected) or set it to {actual}")
        return self._mismatch

    def _probe(self, path: str, operation: str, authenticate: bool = False) -> requests.Response | None:
        try:
            return self.send("GET", path, operation=operation, authenticate=authenticate, raise_for_status=False,
                             what="server probe")
        except errors.KestraConnectionError:
            raise
        except errors.KestraError:
            return None

    # -- recent creations (2.x 404 window) --------------------------------------------------------
    def mark_recent(self, key: tuple) -> None:
        """Remember a flow/execution this client just created (sweeps call this from threads)."""
        now = time.monotonic()
        with self._lock:
            self._recent[key] = now
            if len(self._recent) > 512:
                horizon = now - max(self.config.not_found_grace, 1.0)
                self._recent = {k: t for k, t in self._recent.items() if t > horizon}

    def grace_for(self, key: tuple | None) -> float:
        """Seconds left in the 2.x 404 window for something this client created (0 otherwise)."""
        created = self._recent.get(key) if key is not None else None
        if created is None:
            return 0.0
        grace = self.compat.not_found_grace(self.config.not_found_grace)
        return max(0.0, created + grace - time.monotonic())

    # -- sending ----------------------------------------------------------------------------------
    def send(self, method: str, path: Sequence[Any] | str, *, operation: str, what: str = "resource",
             params: Any = None, data: Any = None, files: Any = None, json: Any = None,
             headers: Mapping[str, str] | None = None, stream: bool = False,
             read_timeout: float | None = None, creates: bool = False, idempotent: bool | None = None,
             authenticate: bool = True, raise_for_status: bool = True,
             not_found_grace: float = 0.0, options: Mapping[str, Any] | None = None) -> requests.Response:
        """Send one request with retries; return the response or raise a ``KestraError``."""
        options = options or {}
        check_call_options(options)
        base = self.base_url(operation, options.get("server_index"), options.get("server_variables"))
        rel = self.api_path(path)
        url = base + rel
        all_headers = dict(headers or {})
        if authenticate:
            all_headers.update(self._auth_header)
        timeout = (self.config.connect_timeout,
                   options.get("timeout") or read_timeout or self.config.read_timeout)
        if idempotent is None:
            idempotent = method.upper() in IDEMPOTENT and not creates
        attempt = 0
        grace_deadline = time.monotonic() + not_found_grace if not_found_grace else 0.0
        delay_404 = 0.1
        while True:
            started = time.perf_counter()
            try:
                resp = self.session.request(method, url, params=params, data=data, files=files, json=json,
                                            headers=all_headers, stream=stream, timeout=timeout,
                                            proxies=self._proxies_for(base), verify=self.verify)
            except requests.exceptions.SSLError as exc:
                raise errors.KestraConnectionError(
                    f"TLS check failed for {base}: {self.scrub(self._reason(exc))}; set ca_bundle= to your CA "
                    f"file (KESTRA_CA_BUNDLE) or verify_ssl=False for a test server") from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                    requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError) as exc:
                sent = not _not_sent(exc)
                # a read timeout means a live but slow server: sending again only adds load and waiting
                slow = isinstance(exc, requests.exceptions.ReadTimeout)
                if (idempotent or not sent) and not slow and attempt < self.config.retries:
                    self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                raise self._connection_error(exc, method, rel, base, sent, creates, timeout) from None
            elapsed = (time.perf_counter() - started) * 1000
            status = resp.status_code
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s %s -> %s (%.0f ms)", method, rel, status, elapsed)
            if status == 429 and attempt < self.config.retries:
                # Too Many Requests: the server did not process it, so even a create may be re-sent
                wait = _retry_after(resp)
                resp.close()
                self._sleep(min(self.config.max_backoff, wait if wait is not None else self._backoff(attempt)))
                attempt += 1
                continue
            if status in RETRY_STATUSES:
                if idempotent and attempt < self.config.retries:
                    wait = _retry_after(resp)
                    resp.close()
                    self._sleep(min(self.config.max_backoff, wait if wait is not None else self._backoff(attempt)))
                    attempt += 1
                    continue
                if creates and status in (502, 504):
                    resp.close()
                    raise errors.KestraAmbiguousError(
                        f"{what}: got {status} from {base} after sending {method} {rel}; it may or may not "
                        f"have been created and was NOT re-sent: check the executions/flows list before "
                        f"retrying", status)
            if status == 404 and grace_deadline and time.monotonic() < grace_deadline:
                resp.close()
                self._sleep(delay_404)
                delay_404 = min(delay_404 * 2, 1.0)
                continue
            if status in (404, 405) and raise_for_status and (self._mismatch or not self._override_checked):
                mismatch = self._mismatch or self._generation_mismatch(base)
                if mismatch is not None:
                    resp.close()
                    raise errors.KestraConfigError(mismatch, status)
            if status >= 400 and raise_for_status:
                if stream:
                    resp.content  # noqa: B018 - read the (small) error body of a stream
                raise _compat.error_for(resp, what=what, method=method, path=rel,
                                        has_credentials=bool(self._auth_header), scrub=self.scrub)
            return resp

    def json(self, method: str, path: Sequence[Any] | str, **kw: Any) -> Any:
        """Send and decode a JSON body (``None`` for an empty one)."""
        resp = self.send(method, path, **kw)
        if not resp.content.strip():
            return None
        try:
            return _compat.response_json(resp)
        except ValueError:
            raise errors.KestraError(
                f"{kw.get('what', 'response')}: {method} {self.api_path(path)} returned "
                f"{resp.headers.get('Content-Type', 'no content type')} that is not valid JSON "
                f"({len(resp.content)} bytes); check the URL points at Kestra's API", resp.status_code) from None

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
                    raise errors.KestraConnectionError(f"{what}: the stream broke ({self.scrub(self._reason(exc))})"
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

    def _backoff(self, attempt: int) -> float:
        return min(self.config.max_backoff, self.config.backoff * (2 ** attempt))

    @staticmethod
    def _sleep(seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)

    @staticmethod
    def _reason(exc: BaseException) -> str:
        e: Any = exc
        for _ in range(4):
            nxt = getattr(e, "reason", None) or (e.args[0] if getattr(e, "args", None)
                                                 and isinstance(e.args[0], BaseException) else None)
            if nxt is None:
                break
            e = nxt
        text = e.args[0] if getattr(e, "args", None) and isinstance(e.args[0], str) else str(e)
        if "Connection refused" in text:
            return "connection refused"
        if "Name or service not known" in text or "nodename nor servname" in text or "getaddrinfo" in text:
            return "host name not found"
        return " ".join(text.split())[:200]

    def _connection_error(self, exc: BaseException, method: str, rel: str, base: str, sent: bool,
                          creates: bool, timeout: tuple[float, float]) -> errors.KestraError:
        if creates and sent:
            return errors.KestraAmbiguousError(
                f"the connection to {base} failed after sending {method} {rel} "
                f"({self.scrub(self._reason(exc))}); it may or may not have been created and was NOT "
                f"re-sent: check the executions/flows list before retrying")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return errors.KestraTimeout(f"cannot connect to Kestra at {base} within {timeout[0]:g}s; check "
                                        f"KESTRA_URL and the network (or raise connect_timeout)")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return errors.KestraTimeout(f"Kestra at {base} did not answer {method} {rel} within "
                                        f"{timeout[1]:g}s; raise read_timeout or check the server")
        if not sent:
            return errors.KestraConnectionError(f"cannot reach Kestra at {base} "
                                                f"({self.scrub(self._reason(exc))}); check KESTRA_URL and "
                                                f"that the server is running")
        return errors.KestraConnectionError(f"the connection to {base} broke during {method} {rel} "
                                            f"({self.scrub(self._reason(exc))}); retry, or check the server")

    def close(self) -> None:
        self.session.close()
