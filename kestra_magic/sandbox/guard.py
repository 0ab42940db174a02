"""What keeps the sandbox (a server that runs shell and Python code as the user) to its user,
the way a Jupyter server guards its kernels.

- :class:`Credential`: a basic-auth credential per sandbox (Kestra's own mechanism, so any Kestra
  client works), generated when none is given and kept in the data dir (mode 0600) so a restarted
  sandbox keeps serving the notebooks already connected to it.
- :func:`authenticated` and friends: Kestra's basic auth / bearer token / 2.x cookie session checks.
- :class:`RequestGuard`: a ``Host`` allow-list against DNS rebinding (a web page whose name
  re-resolves to 127.0.0.1 sends its own name as ``Host``) and an ``Origin`` check on every
  state-changing request (a plain HTML form on any page can POST multipart without a preflight).

The threat model is in docs/sandbox.md ("Security").
"""
from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import os
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from kestra_magic.sandbox.problems import ApiError

__all__ = ["Credential", "RequestGuard", "CREDENTIAL_FILE", "DEFAULT_USERNAME", "is_loopback", "authenticated",
           "credentials_ok", "csrf_missing", "open_endpoint", "unauthorized"]

CREDENTIAL_FILE = "sandbox-credential.json"
# Kestra's basic-auth user is an email address (its setup page refuses anything else)
DEFAULT_USERNAME = "admin@kestra.io"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


@dataclass(frozen=True)
class Credential:
    """A basic-auth user and password; the password never appears in a repr."""
    username: str
    password: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credential(username={self.username!r}, password='***')"

    @classmethod
    def generate(cls, username: str = DEFAULT_USERNAME) -> "Credential":
        """A random password that also passes Kestra's password rules (8+ characters, an upper-case
        letter, a digit)."""
        alphabet = string.ascii_letters + string.digits
        while True:
            password = "".join(secrets.choice(alphabet) for _ in range(24))
            if any(c.isupper() for c in password) and any(c.isdigit() for c in password) \
                    and any(c.islower() for c in password):
                return cls(username, password)

    @classmethod
    def kept_in(cls, data_dir: str | Path) -> "Credential":
        """The credential stored in ``data_dir`` (created there, mode 0600, on first use)."""
        path = Path(data_dir) / CREDENTIAL_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(str(data["username"]), str(data["password"]))
        except FileNotFoundError:
            pass
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"Sandbox: the credential file {path} is unreadable; delete it to generate a "
                             f"new credential (connected clients will need the new one)") from None
        made = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:        # another process made it meanwhile: use theirs
            return cls.kept_in(data_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"username": made.username, "password": made.password}, fh)
        return made

    def save(self, data_dir: str | Path) -> None:
        """Keep this (given) credential in ``data_dir`` so a restart finds it (mode 0600)."""
        path = Path(data_dir) / CREDENTIAL_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"username": self.username, "password": self.password}, fh)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and the loopback names."""
    name = host.strip("[]").lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
        return True
    except ValueError:
        return False


def _host_name(host_header: str) -> str:
    """``Host`` without its port, lower-case (``[::1]:8080`` -> ``::1``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


@dataclass
class RequestGuard:
    """Refuses requests whose ``Host`` is not the sandbox's, and cross-site state changes.

    Allowed ``Host`` names: the listen address, loopback names and addresses, any IP literal (DNS
    rebinding needs a name the attacker controls, an address cannot be rebound) and ``allow_hosts``
    (``"*"`` allows every name). Allowed origins: the sandbox's own (same host allowed as above,
    same port) and ``allow_origins`` (``"*"`` allows every origin).
    """
    listen_host: str
    allow_hosts: tuple[str, ...] = ()
    allow_origins: tuple[str, ...] = ()

    def host_allowed(self, name: str) -> bool:
        allowed = {h.lower().rstrip(".") for h in self.allow_hosts}
        return ("*" in allowed or name in allowed or is_loopback(name) or _ip(name)
                or name == self.listen_host.strip("[]").lower())

    def check(self, method: str, headers) -> ApiError | None:
        """The refusal for this request, or None when it may go on."""
        host_header = headers.get("Host", "")
        host = _host_name(host_header)
        if not host or not self.host_allowed(host):
            return ApiError(403, "forbidden", f"Host '{host_header}' is not allowed on this sandbox (a protection "
                            f"against DNS rebinding): use http://127.0.0.1 or localhost, or start the sandbox "
                            f"with --allow-host {host or '<name>'}", "Forbidden")
        if method.upper() in SAFE_METHODS:
            return None
        origin = headers.get("Origin")
        if origin is not None and not self._origin_allowed(origin, host_header):
            return ApiError(403, "forbidden", f"Cross-origin request from '{origin}' refused: a web page cannot "
                            f"change this sandbox; start it with --allow-origin {origin} to allow that page",
                            "Forbidden")
        if origin is None and headers.get("Sec-Fetch-Site", "").lower() == "cross-site" \
                and "*" not in self.allow_origins:
            return ApiError(403, "forbidden", "Cross-site request refused (Sec-Fetch-Site: cross-site): a web "
                            "page cannot change this sandbox; use --allow-origin to allow a page", "Forbidden")
        return None

    def _origin_allowed(self, origin: str, host_header: str) -> bool:
        allowed = {o.rstrip("/").lower() for o in self.allow_origins}
        if "*" in allowed or origin.rstrip("/").lower() in allowed:
            return True
        parts = urlsplit(origin.lower())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False            # "null" (sandboxed frames, file:// pages) and anything odd
        # same origin: the page was served by this sandbox under an allowed name
        return parts.netloc == host_header.strip().lower() and self.host_allowed(_host_name(parts.netloc))


# -- who may call /api/v1 (Kestra's basic auth, bearer token, 2.x cookie sessions) ------------------
def credentials_ok(settings, user: str, password: str) -> bool:
    return bool(settings.username and settings.password) and secrets.compare_digest(user, settings.username) \
        and secrets.compare_digest(password, settings.password)


def open_endpoint(endpoint: str | None, generation: int) -> bool:
    """Routes Kestra serves without credentials, by route (never by a path substring: a flow in a
    namespace called ``webhook`` must not open its executions): webhook triggers (kestra-api-2.md
    §9.1), and the configs probe of each generation (1.x ``GET /api/v1/configs``; 2.x
    ``/api/v1/configs/login`` and ``/api/v1/login``). ``None``: a path no route matches."""
    if endpoint == "webhook":
        return True
    return endpoint in (("configs",) if generation == 1 else ("configs_login", "login"))


def authenticated(settings, headers, cookies) -> bool:
    """Basic auth (header or 2.x ``BASIC_AUTH`` cookie) or the bearer token, when auth is on."""
    if not settings.auth_required:
        return True
    header = headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and settings.token:
        return secrets.compare_digest(credentials.strip(), settings.token)
    token = credentials if scheme.lower() == "basic" else cookies.get("BASIC_AUTH", "")
    if token:
        try:
            user, _, password = base64.b64decode(token.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return False
        return credentials_ok(settings, user, password)
    return False


def csrf_missing(generation: int, method: str, path: str, headers, cookies) -> bool:
    """2.x: a state-changing call under /api/ carrying a session cookie needs X-CSRF-TOKEN
    (kestra-api-2.md §9.1; the sandbox accepts any non-empty token)."""
    return (generation == 2 and method not in SAFE_METHODS
            and path.startswith("/api/") and path.rstrip("/") != "/api/v1/login"
            and bool(cookies.get("BASIC_AUTH") or cookies.get("JWT"))
            and not headers.get("X-CSRF-TOKEN"))


def unauthorized(headers) -> ApiError:
    """Kestra's 401; ``WWW-Authenticate`` unless the UI's login page asks (no browser popup)."""
    err = ApiError(401, "unauthenticated", "Authentication required", "Unauthorized", empty_v1=True)
    if not headers.get("Referer", "").endswith("/login"):
        err.headers["WWW-Authenticate"] = "Basic"
    return err
