"""ApiClient: the API groups ``flows``, ``executions``, ``logs`` over one transport.

The public :class:`kestra_magic.KestraClient` (``kestra_magic.runs``) adds the run layer on top
(``client.run(...)``); nothing here knows about it (layers point down).
"""
from __future__ import annotations

from typing import Any

from kestra_magic import errors
from kestra_magic.config import MASK, Configuration
from kestra_magic.transport import Transport


class ApiClient:
    """A configured Kestra API client: ``client.flows``, ``client.executions``, ``client.logs``,
    ``client.namespaces`` (namespace files), ``client.plugins``."""

    def __init__(self, configuration: Configuration | None = None, **settings: Any):
        if configuration is None:
            configuration = Configuration.from_env(**settings)
        elif settings:
            configuration = configuration.replace(**settings)
        self.configuration = configuration
        self._transport = Transport(configuration)
        from kestra_magic.api.executions import ExecutionsApi
        from kestra_magic.api.flows import FlowsApi
        from kestra_magic.api.logs import LogsApi
        from kestra_magic.api.namespaces import NamespacesApi
        from kestra_magic.api.plugins import PluginsApi
        self.flows = FlowsApi(self._transport)
        self.executions = ExecutionsApi(self._transport)
        self.logs = LogsApi(self._transport)
        self.plugins = PluginsApi(self._transport)
        self.namespaces = NamespacesApi(self._transport)
        self._page_links: bool | None = None   # None: not asked yet; False: a real Kestra (use its UI)

    @property
    def generation(self) -> int:
        """1 or 2: detected once with a cheap probe, or ``Configuration(api_generation=...)``."""
        return self._transport.generation

    @property
    def converts_ion_to_jsonl(self) -> bool:
        """Whether ``download_file(..., format="JSONL")`` gets the server's JSON Lines conversion."""
        return self._transport.compat.converts_ion_to_jsonl

    @property
    def flow_language(self):
        """What a flow may say on this server's generation (``compat.FlowLanguage``)."""
        return self._transport.compat.flow_language

    @property
    def server_version(self) -> str | None:
        """The server's version string (e.g. ``"2.0.3"``), or None if it will not say."""
        return self._transport.server_version

    @property
    def url(self) -> str:
        """The base URL calls go to right now (honours ``servers(...)`` blocks)."""
        return self._transport.base_url()

    def ui_url(self, path: str = "") -> str:
        """A link into the Kestra UI, e.g. ``ui_url(f"executions/{ns}/{flow}/{id}")``."""
        return f"{self._transport.base_url()}/ui/{self.configuration.tenant}/{path.lstrip('/')}"

    def ui_link(self, path: str) -> str:
        """A browser link for "Open in UI": Kestra's UI page, or against the kestra-magic sandbox
        (which has no Kestra UI) its per-page signed, expiring read-only page — minted over the
        authenticated API, it carries no credential, so it is safe in a saved notebook. Kestra answers
        404 to that call; the answer is remembered, so a real server costs one extra request, once."""
        path = path.lstrip("/")
        if self._page_links is False:
            return self.ui_url(path)
        try:
            body = self._transport.json("SandboxAPIService.CreateUiLink", json={"path": path},
                                        what="sandbox page link")
        except errors.KestraError as err:
            if err.status not in (404, 405):
                raise
            self._page_links = False
            return self.ui_url(path)
        self._page_links = True
        return str(body["url"])

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> "ApiClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        c = self.configuration
        auth = {"bearer": f"token={MASK}", "basic": f"user={c.username!r}, password={MASK}"}.get(
            c.auth_kind or "", "no auth")
        return f"<{type(self).__name__} {self._transport.base_url()} tenant={c.tenant!r} {auth}>"
