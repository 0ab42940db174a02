"""Webhook triggers: ``GET|POST|PUT …/executions/webhook/{namespace}/{flowId}/{key}[/{path}]``
start an execution of a flow with an ``io.kestra.plugin.core.trigger.Webhook`` trigger of that
``key`` (kestra-api.md §2.5); ``{{ trigger.body }}``, ``trigger.headers`` and
``trigger.parameters`` are its variables. Open without credentials, as in Kestra.
"""
from __future__ import annotations

import json

from kestra_magic.sandbox import shapes
from kestra_magic.sandbox.http import json_response as _json
from kestra_magic.sandbox.problems import not_found

WEBHOOK_TYPES = ("io.kestra.plugin.core.trigger.Webhook", "io.kestra.core.models.triggers.types.Webhook")


class WebhookHandlers:
    """Mixin of :class:`~kestra_magic.sandbox.routes.Application` for webhook triggers."""

    def _webhook_trigger(self, flow: dict, key: str) -> dict | None:
        for trigger in flow.get("triggers") or []:
            if isinstance(trigger, dict) and trigger.get("type") in WEBHOOK_TYPES \
                    and str(trigger.get("key")) == key and not trigger.get("disabled"):
                return trigger
        return None

    def h_webhook(self, request, tenant, namespace, flow_id, key, path=None):
        flow = self.store.get_flow(namespace, flow_id)
        if flow is None or flow.get("deleted") or flow.get("disabled"):
            raise not_found(f"Flow {namespace}.{flow_id} not found")
        trigger = self._webhook_trigger(flow, key)
        if trigger is None:
            raise not_found(f"Webhook with key '{key}' not found on flow {namespace}.{flow_id}")
        raw = request.get_data()
        text = raw.decode("utf-8", errors="replace") if raw else None
        body = None
        if text:
            try:
                body = json.loads(text)
            except ValueError:
                body = text
        variables = {"body": body,
                     "headers": {k.lower(): request.headers.getlist(k) for k in request.headers.keys()
                                 if k.lower() not in ("authorization", "cookie")},
                     "parameters": {k: request.args.getlist(k) for k in request.args.keys()}}
        execution_id = self.store.new_id()
        now = shapes.now_iso()
        labels = [l for l in self._flow_labels(flow) if not l["key"].startswith("system.")]
        labels += [{"key": "system.correlationId", "value": execution_id}]
        ex = {"id": execution_id, "namespace": namespace, "flowId": flow_id, "flowRevision": flow["revision"],
              "tenantId": "main", "state": {"current": "CREATED", "histories": [{"state": "CREATED", "date": now}]},
              "inputs": {}, "labels": labels, "variables": flow.get("variables"), "originalId": execution_id,
              "deleted": False, "metadata": {"attemptNumber": 1, "originalCreatedDate": now},
              "trigger": {"id": trigger.get("id"), "type": trigger.get("type"), "variables": variables}}
        self.store.save_execution({k: v for k, v in ex.items() if v is not None})
        if self.engine is not None:
            self.engine.start(execution_id)
            if trigger.get("wait"):
                self._wait_for_end(execution_id)
        saved = self.store.get_execution(execution_id)
        out = {"tenantId": "main", "id": saved["id"], "namespace": namespace, "flowId": flow_id,
               "flowRevision": saved["flowRevision"], "trigger": saved["trigger"], "labels": saved["labels"],
               "state": shapes.shape_state(saved["state"]), "url": self._url(saved)}
        if trigger.get("wait") and trigger.get("returnOutputs") and saved.get("outputs"):
            out["outputs"] = saved["outputs"]
        return _json(out)
