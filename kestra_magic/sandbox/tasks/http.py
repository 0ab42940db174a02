"""Kestra's core HTTP tasks, ``http.Download`` (response body -> internal storage) and
``http.Request`` (response body as an output), on ``requests``."""
from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

from kestra_magic.sandbox.tasks.base import TaskFailure, task

HTTP = "io.kestra.plugin.core.http."
_COMMON = ["method", "headers", "body", "contentType", "formData", "options", "sslOptions", "allowFailed",
           "encryptBody", "failOnEmptyResponse", "saveAs"]


def _call(props: dict, ctx):
    import requests
    uri = str(ctx.render(props["uri"]))
    if urlparse(uri).scheme not in ("http", "https"):
        raise TaskFailure(f"Invalid uri '{uri}': only http:// and https:// URLs can be requested")
    method = str(ctx.render(props.get("method") or "GET")).upper()
    headers = {str(k): str(v) for k, v in (ctx.render(props.get("headers") or {}) or {}).items()}
    if props.get("contentType"):
        headers.setdefault("Content-Type", str(ctx.render(props["contentType"])))
    options = ctx.render(props.get("options") or {}) or {}
    auth = None
    basic = (options.get("auth") or {}) if isinstance(options, dict) else {}
    if basic.get("username") is not None:
        auth = (str(basic["username"]), str(basic.get("password") or ""))
    data = ctx.render(props.get("body")) if props.get("body") is not None else None
    form = ctx.render(props.get("formData")) if props.get("formData") is not None else None
    timeout = 60.0
    try:
        response = requests.request(method, uri, headers=headers, data=form if form is not None else
                                    (data.encode() if isinstance(data, str) else data), auth=auth,
                                    timeout=timeout)
    except requests.RequestException as exc:
        raise TaskFailure(f"HTTP {method} {uri} failed: {type(exc).__name__}: {exc}") from None
    allow = bool(props.get("allowFailed")) or (isinstance(options, dict) and bool(options.get("allowFailed")))
    if response.status_code >= 400 and not allow:
        raise TaskFailure(f"Failed http request with response code '{response.status_code}'")
    return response


@task(HTTP + "Download", required=["uri"], optional=_COMMON, aliases=["io.kestra.core.tasks.flows.Download"])
def download(props: dict, ctx) -> dict:
    """Stores the response body in internal storage: ``uri``, ``code``, ``length``, ``headers``."""
    response = _call(props, ctx)
    fail_empty = props.get("failOnEmptyResponse", True) is not False
    if fail_empty and not response.content:
        raise TaskFailure("No response from server (empty body)")
    name = PurePosixPath(urlparse(response.url).path).name or "download"
    if props.get("saveAs"):
        name = str(ctx.render(props["saveAs"]))
    ctx.log("DEBUG", f"Downloaded {len(response.content)} bytes from {response.url}")
    return {"uri": ctx.put_file(name, response.content), "code": response.status_code,
            "length": len(response.content), "headers": {k: [v] for k, v in response.headers.items()}}


@task(HTTP + "Request", required=["uri"], optional=_COMMON, aliases=["io.kestra.plugin.fs.http.Request"])
def request(props: dict, ctx) -> dict:
    """The response as outputs: ``code``, ``headers``, ``body`` (text), ``uri``."""
    response = _call(props, ctx)
    return {"uri": response.url, "code": response.status_code, "body": response.text,
            "headers": {k: [v] for k, v in response.headers.items()}}
