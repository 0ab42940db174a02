"""Webhook triggers: ``GET|POST|PUT …/executions/webhook/{namespace}/{flowId}/{key}[/{path}]``
start an execution of a flow with an ``io.kestra.plugin.core.trigger.Webhook`` trigger of that
``key`` (kestra-api.md §2.5); ``{{ trigger.body }}``, ``trigger.headers`` and
``trigger.parameters`` are its variables. Open without credentials, as in Kestra.

Kestra keeps every request header in ``trigger.headers`` (``kestra-io/kestra``
``core/.../plugin/core/trigger/Webhook.java``, ``evaluate``: ``Output.headers`` is the request's
whole header map). The sandbox leaves out the credential headers (``http.SECRET_HEADERS``:
authorization, proxy-authorization, cookie, set-cookie, x-csrf-token): the house rule is that a
secret never shows up in an execution, a log or a notebook, and a flow has no use for them here.
"""
from __future__ import annotations

from kestra_magic.sandbox import safe_json, shapes
from kestra_magic.sandbox.http import SECRET_HEADERS, Handlers, json_response as _json


class WebhookHandlers(Handlers):
    """Webhook trigger calls."""

    def h_webhook(self, request, tenant, namespace, flow_id, key, path=None):
        raw = request.get_data()
        text = raw.decode("utf-8", errors="replace") if raw else None
        body = None
        if text:
            try:
                body = safe_json.loads(raw)
            except safe_json.JsonError:     # not JSON (or over the JSON limits): the text, as Kestra keeps it
                body = text
        variables = {"body": body,
                     "headers": {k.lower(): request.headers.getlist(k) for k in request.headers.keys()
                                 if k.lower() not in SECRET_HEADERS},
                     "parameters": {k: request.args.getlist(k) for k in request.args.keys()}}
        saved, trigger = self.backend.trigger_webhook(namespace, flow_id, key, variables)
        out = {"tenantId": "main", "id": saved["id"], "namespace": namespace, "flowId": flow_id,
               "flowRevision": saved["flowRevision"], "trigger": saved["trigger"], "labels": saved["labels"],
               "state": shapes.shape_state(saved["state"]), "url": self.ui_url(saved)}
        if trigger.get("wait") and trigger.get("returnOutputs") and saved.get("outputs"):
            out["outputs"] = saved["outputs"]
        return _json(out)
