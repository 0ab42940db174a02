"""Configuration: servers (URL templates), auth, tenant, timeouts, proxies, TLS, retries.

Mirrors Kestra's generated SDKs: a list of server URL templates with variables
(default, optional enum, description), a default ``server_index``,
``server_variables``, and per-operation server lists keyed
``"{Class}Service.{nickname}"`` (e.g. ``"ExecutionsAPIService.CreateExecution"``).
The Go SDK's context values become the ``servers(...)`` context manager below
and per-call keyword arguments (``server_index=``, ``server_variables=``).
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from kestra_magic.errors import KestraConfigError
from kestra_magic.operations import OPERATIONS as _OPERATION_DESCRIPTORS

__all__ = ["ServerVariable", "ServerConfiguration", "Configuration", "ServerOverrides",
           "servers", "current_overrides", "OPERATIONS"]

# Every operation the client performs, named as in the official SDKs (descriptors in operations.py).
OPERATIONS = frozenset(_OPERATION_DESCRIPTORS)

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_\-]*)\}")
MASK = "***"


@dataclass(frozen=True)
class ServerVariable:
    """One variable of a server URL template."""
    default: str
    enum: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "default", str(self.default))
        object.__setattr__(self, "enum", tuple(str(v) for v in (self.enum or ())))
        if self.enum and self.default not in self.enum:
            raise KestraConfigError(f"server variable default {self.default!r} is not one of its "
                                    f"allowed values {list(self.enum)}; fix the default or the enum")


@dataclass(frozen=True)
class ServerConfiguration:
    """A server URL template, e.g. ``"http://{host}:{port}"`` with its variables."""
    url: str
    description: str = ""
    variables: Mapping[str, ServerVariable] = field(default_factory=dict)

    def __post_init__(self):
        variables = {}
        for name, var in dict(self.variables or {}).items():
            if isinstance(var, Mapping):
                var = ServerVariable(default=var.get("default", var.get("default_value", "")),
                                     enum=tuple(var.get("enum", var.get("enum_values", ())) or ()),
                                     description=var.get("description", ""))
            elif not isinstance(var, ServerVariable):
                var = ServerVariable(default=str(var))
            variables[name] = var
        object.__setattr__(self, "variables", variables)

    def render(self, values: Mapping[str, Any] | None = None) -> str:
        """The URL with variables filled in: given values over defaults, enums enforced."""
        values = values or {}
        url = self.url
        for name, var in self.variables.items():
            value = str(values[name]) if values.get(name) is not None else var.default
            if var.enum and value not in var.enum:
                raise KestraConfigError(
                    f"server variable {name!r} = {value!r} is not allowed; "
                    f"allowed values: {', '.join(var.enum)}")
            url = url.replace("{" + name + "}", value)
        leftover = _PLACEHOLDER.findall(url)
        if leftover:
            raise KestraConfigError(f"server URL template {self.url!r} uses {{{leftover[0]}}} "
                                    f"but declares no variable {leftover[0]!r}; add it to variables")
        return url

    @classmethod
    def coerce(cls, value: Any) -> "ServerConfiguration":
        if isinstance(value, ServerConfiguration):
            return value
        if isinstance(value, str):
            return cls(url=value)
        if isinstance(value, Mapping):
            return cls(url=value["url"], description=value.get("description", ""),
                       variables=value.get("variables") or {})
        raise KestraConfigError(f"a server must be a URL string, a dict or a ServerConfiguration, "
                                f"not {type(value).__name__}")


@dataclass(frozen=True)
class ServerOverrides:
    """Per-block overrides (the Go SDK's context values)."""
    index: int | None = None
    variables: Mapping[str, Any] = field(default_factory=dict)
    operation_indices: Mapping[str, int] = field(default_factory=dict)
    operation_variables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_OVERRIDES: contextvars.ContextVar[ServerOverrides] = contextvars.ContextVar(
    "kestra_magic_server_overrides", default=ServerOverrides())


def current_overrides() -> ServerOverrides:
    return _OVERRIDES.get()


@contextlib.contextmanager
def servers(index: int | None = None, variables: Mapping[str, Any] | None = None,
            operation_indices: Mapping[str, int] | None = None,
            operation_variables: Mapping[str, Mapping[str, Any]] | None = None) -> Iterator[ServerOverrides]:
    """Within the block, pick another server / variables (nested blocks add to the outer one)."""
    for op in list(operation_indices or ()) + list(operation_variables or ()):
        _check_operation(op)
    outer = _OVERRIDES.get()
    merged = ServerOverrides(
        index=outer.index if index is None else index,
        variables={**outer.variables, **(variables or {})},
        operation_indices={**outer.operation_indices, **(operation_indices or {})},
        operation_variables={**outer.operation_variables,
                             **{k: {**outer.operation_variables.get(k, {}), **v}
                                for k, v in (operation_variables or {}).items()}},
    )
    token = _OVERRIDES.set(merged)
    try:
        yield merged
    finally:
        _OVERRIDES.reset(token)


def _check_operation(op: str) -> None:
    if op not in OPERATIONS:
        close = sorted(o for o in OPERATIONS if o.split(".")[-1].lower() == op.split(".")[-1].lower())
        hint = f" (did you mean {close[0]!r}?)" if close else " (keys look like 'ExecutionsAPIService.CreateExecution')"
        raise KestraConfigError(f"unknown operation {op!r}{hint}")


def normalize_url(url: str) -> str:
    """Accept ``host:port``, a trailing slash or ``/api/v1``; return ``scheme://host[:port][/prefix]``."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KestraConfigError(f"Kestra URL {_strip_userinfo(url)!r} is not an http(s) URL; "
                                f"use e.g. http://localhost:8080")
    path = re.sub(r"/api/v1(/.*)?$", "", parts.path.rstrip("/"))
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def _strip_userinfo(url: str) -> str:
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.username is None and parts.password is None:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query, parts.fragment))


def _mask_userinfo(url: str) -> str:
    """``http://user:***@host`` for display."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, f"{parts.username}:{MASK}@{host}", parts.path, parts.query, parts.fragment))


def _env_first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value:
            return value
    return None


def _env_float(env: Mapping[str, str], name: str) -> float | None:
    value = env.get(name)
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise KestraConfigError(f"{name}={value!r} is not a number of seconds") from None


_SECRET_FIELDS = ("password", "token")


@dataclass
class Configuration:
    """Everything the client needs to reach and talk to a Kestra server."""
    url: str | None = None
    servers: list[ServerConfiguration] = field(default_factory=list)
    server_index: int = 0
    server_variables: dict[str, Any] = field(default_factory=dict)
    operation_servers: dict[str, list[ServerConfiguration]] = field(default_factory=dict)
    operation_server_index: dict[str, int] = field(default_factory=dict)
    operation_server_variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    username: str | None = None
    password: str | None = None
    token: str | None = None
    tenant: str = "main"
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    wait_timeout: float = 3600.0       # create_execution(wait=True) blocks until the end
    stream_timeout: float = 3600.0     # max silence on follow streams (Kestra's own idle timeout)
    proxy: str | None = None           # overrides HTTP(S)_PROXY for this client
    no_proxy: str | None = None        # comma list of hosts that bypass the proxy
    verify_ssl: bool = True
    ca_bundle: str | None = None
    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 10.0
    not_found_grace: float = 5.0       # 2.x: 404s right after a flow/execution is created
    api_generation: int | None = None  # 1 or 2; None = detect once
    user_agent: str = "kestra-magic"

    def __post_init__(self):
        if self.url and self.servers:
            raise KestraConfigError("give either url= or servers=, not both")
        if self.url:
            user, password, url = _split_userinfo(self.url)
            if user and not self.username:
                self.username = user
            if password and not self.password:
                self.password = password
            self.url = normalize_url(url)
            self.servers = [ServerConfiguration(self.url)]
        elif self.servers:
            self.servers = [self._without_userinfo(ServerConfiguration.coerce(s)) for s in self.servers]
        else:
            self.url = "http://localhost:8080"
            self.servers = [ServerConfiguration(self.url)]
        self.operation_servers = {op: [ServerConfiguration.coerce(s) for s in lst]
                                  for op, lst in (self.operation_servers or {}).items()}
        for op in (list(self.operation_servers) + list(self.operation_server_index)
                   + list(self.operation_server_variables)):
            _check_operation(op)
        if not isinstance(self.server_index, int) or not 0 <= self.server_index < len(self.servers):
            raise KestraConfigError(f"server_index {self.server_index!r} is out of range; "
                                    f"{len(self.servers)} server(s) are configured (0..{len(self.servers) - 1})")
        if self.username and not self.password:
            raise KestraConfigError("username is set but password is not; set KESTRA_PASSWORD or password=")
        if self.password and not self.username:
            raise KestraConfigError("password is set but username is not; set KESTRA_USERNAME or username=")
        if not self.tenant or "/" in str(self.tenant):
            raise KestraConfigError(f"tenant {self.tenant!r} is not a tenant id; open source Kestra uses 'main'")
        for name in ("connect_timeout", "read_timeout", "wait_timeout", "stream_timeout"):
            value = getattr(self, name)
            if value is None or not isinstance(value, (int, float)) or value <= 0:
                raise KestraConfigError(f"{name} must be a positive number of seconds "
                                        f"(waiting forever is not allowed), got {value!r}")
        if self.api_generation not in (None, 1, 2):
            raise KestraConfigError(f"api_generation must be 1, 2 or None (detect), got {self.api_generation!r}")
        if self.proxy:
            self.proxy = self.proxy.strip()
            if "://" not in self.proxy:
                self.proxy = "http://" + self.proxy
        if self.retries < 0:
            raise KestraConfigError("retries must be >= 0")

    def _without_userinfo(self, server: ServerConfiguration) -> ServerConfiguration:
        """Move ``user:pass@`` out of a literal server URL into username/password."""
        if "@" not in server.url or "{" in server.url:
            return server
        user, password, url = _split_userinfo(server.url)
        if user is None and password is None:
            return server
        if user and not self.username:
            self.username = user
        if password and not self.password:
            self.password = password
        return ServerConfiguration(url, server.description, server.variables)

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> "Configuration":
        """Read ``KESTRA_*`` variables (with aliases); keyword arguments win over the environment."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        url = _env_first(env, "KESTRA_URL", "KESTRA_HOSTNAME", "KESTRA_HOST")
        if url and "servers" not in overrides:
            values["url"] = url
        for key, names in (("username", ("KESTRA_USERNAME", "KESTRA_USER")),
                           ("password", ("KESTRA_PASSWORD",)),
                           ("token", ("KESTRA_API_TOKEN",)),
                           ("tenant", ("KESTRA_TENANT", "KESTRA_TENANT_ID"))):
            value = _env_first(env, *names)
            if value:
                values[key] = value
        for key, name in (("connect_timeout", "KESTRA_CONNECT_TIMEOUT"),
                          ("read_timeout", "KESTRA_READ_TIMEOUT")):
            value = _env_float(env, name)
            if value is not None:
                values[key] = value
        ca = _env_first(env, "KESTRA_CA_BUNDLE")
        if ca:
            values["ca_bundle"] = ca
        verify = env.get("KESTRA_VERIFY_SSL")
        if verify:
            values["verify_ssl"] = verify.strip().lower() not in ("0", "false", "no", "off")
        values.update({k: v for k, v in overrides.items()})
        return cls(**values)

    def replace(self, **changes: Any) -> "Configuration":
        """A copy with some fields changed (``url=`` replaces the server list)."""
        current = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        if "servers" in changes:
            current["url"] = None
        elif "url" in changes or current["url"]:
            current["servers"] = []
            if "url" in changes:
                current["server_index"] = 0
        if "token" in changes and changes["token"] and "username" not in changes:
            current["username"] = current["password"] = None
        if ("username" in changes or "password" in changes) and "token" not in changes:
            current["token"] = None
        current.update(changes)
        return Configuration(**current)

    # -- server resolution ----------------------------------------------------------------------
    def resolve_base_url(self, operation: str | None = None, *, server_index: int | None = None,
                         server_variables: Mapping[str, Any] | None = None) -> str:
        """The base URL for one call: per-call > ``servers(...)`` block > configuration."""
        # Like the Go SDK: an operation's own index (per call, block, configuration) wins over the
        # block's global index, and applies to the operation's server list if it has one, else to
        # the global list.
        ctx = _OVERRIDES.get()
        op_servers = self.operation_servers.get(operation) if operation else None
        op_index = (ctx.operation_indices.get(operation), self.operation_server_index.get(operation)) \
            if operation else (None, None)
        if op_servers:
            choices = op_servers
            index = next((i for i in (server_index, *op_index, ctx.index) if i is not None), 0)
            where = f"operation_servers[{operation!r}]"
        else:
            choices = self.servers
            index = next(i for i in (server_index, *op_index, ctx.index, self.server_index) if i is not None)
            where = "servers"
        if not isinstance(index, int) or not 0 <= index < len(choices):
            raise KestraConfigError(f"server index {index!r} is out of range for {where}: "
                                    f"{len(choices)} server(s) configured (0..{len(choices) - 1})")
        values: dict[str, Any] = dict(self.server_variables)
        if operation:
            values.update(self.operation_server_variables.get(operation, {}))
        values.update(ctx.variables)
        if operation:
            values.update(ctx.operation_variables.get(operation, {}))
        values.update(server_variables or {})
        return normalize_url(choices[index].render(values))

    # -- secrets --------------------------------------------------------------------------------
    @property
    def auth_kind(self) -> str | None:
        """``"bearer"`` (token wins), ``"basic"`` or ``None``."""
        if self.token:
            return "bearer"
        if self.username:
            return "basic"
        return None

    def secrets(self) -> list[str]:
        """The values that must never appear in output (and their encoded forms)."""
        import base64
        out = [s for s in (self.password, self.token) if s]
        proxy_password = urlsplit(self.proxy).password if self.proxy else None
        if proxy_password:
            out += [proxy_password, unquote(proxy_password)]
        if self.username and self.password:
            out.append(base64.b64encode(f"{self.username}:{self.password}".encode()).decode())
        return out

    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = MASK
            if f.name in ("url", "proxy") and value:
                value = _mask_userinfo(value)
            if value == f.default or (f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
                                      and value == f.default_factory()):  # type: ignore[misc]
                continue
            parts.append(f"{f.name}={value!r}")
        return f"Configuration({', '.join(parts)})"

    __str__ = __repr__


def _split_userinfo(url: str) -> tuple[str | None, str | None, str]:
    """Move ``user:pass@`` out of a URL so the secret never travels with it."""
    full = url if "://" in url else "http://" + url
    parts = urlsplit(full)
    if parts.username is None and parts.password is None:
        return None, None, url
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return user, password, _strip_userinfo(full)
