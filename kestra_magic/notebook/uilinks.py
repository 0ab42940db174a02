"""Links a notebook shows for "Open in UI": Kestra's UI, or the sandbox's signed read-only page.

Against Kestra the link is the UI page (``client.ui_url(path)``). Against the sandbox, which has no
Kestra UI, the link is a per-page signed, expiring URL minted over the authenticated API
(``POST /api/v1/{tenant}/sandbox/ui-links``): it opens without a password prompt and carries no
credential, so it is safe in a saved notebook. Kestra answers 404 to that call; the answer is
remembered per client, so a real server costs one extra request per client, once.
"""
from __future__ import annotations

import threading
import weakref
from typing import Any

from kestra_magic import errors

_KIND: "weakref.WeakKeyDictionary[Any, str]" = weakref.WeakKeyDictionary()   # client -> "kestra" | "sandbox"
_LOCK = threading.Lock()


def ui_link(client: Any, path: str) -> str:
    """A browser link to ``path`` (``executions/NS/FLOW/ID`` or ``flows/edit/NS/ID``)."""
    path = path.lstrip("/")
    if _KIND.get(client) == "kestra":
        return client.ui_url(path)
    try:
        body = client._transport.json("POST", ["sandbox", "ui-links"], json={"path": path},
                                      operation="SandboxAPIService.CreateUiLink", what="sandbox page link",
                                      idempotent=True)
    except errors.KestraError as err:
        if err.status in (404, 405):
            with _LOCK:
                _KIND[client] = "kestra"
            return client.ui_url(path)
        raise
    with _LOCK:
        _KIND[client] = "sandbox"
    return str(body["url"])
