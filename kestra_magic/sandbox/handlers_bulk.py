"""Bulk execution routes (``…/executions/<action>/by-ids|by-query``, labels and delete;
kestra-api.md §2.6-2.7, kestra-api-2.md §3).

1.x answers bulk actions with 200 ``{count}``; 2.x with 202 ``{operationId, totalItems}``
(processing is asynchronous in Kestra; the sandbox applies the actions before answering, which
a client cannot tell apart). ``DELETE …/executions/by-ids|by-query`` is 200 ``{count}`` on both.
Invalid ids are 400 ``{message: "invalid bulk <action>", invalids: [...]}`` (Kestra's
``BulkErrorResponse``, rendered by the routes from the backend's ``BulkInvalid``).
"""
from __future__ import annotations

import uuid

from werkzeug.wrappers import Response

from kestra_magic.sandbox import labels as labelsmod
from kestra_magic.sandbox.handlers_actions import required_param
from kestra_magic.sandbox.handlers_executions import execution_filters
from kestra_magic.sandbox.http import Handlers, json_response as _json
from kestra_magic.sandbox.problems import ApiError
from kestra_magic.sandbox.query import EXECUTION_FIELDS, bool_param, matches

# legacy flat params 2.x rejects on by-query mutations (kestra-api-2.md §10)
LEGACY_PARAMS = ("q", "scope", "namespace", "flowId", "state", "labels", "startDate", "endDate",
                 "timeRange", "triggerExecutionId", "childFilter")


class BulkHandlers(Handlers):
    """Bulk actions over ids or a query."""

    def _answer(self, count: int, *, asynchronous: bool = True) -> Response:
        if self.gen == 2 and asynchronous:
            return _json({"operationId": uuid.uuid4().hex, "totalItems": count}, 202)
        return _json({"count": count})

    def _ids(self, request) -> list[str]:
        body = self.json_body(request, "a JSON array of execution ids")
        if not isinstance(body, list) or not all(isinstance(i, str) for i in body):
            raise ApiError(422, "invalid-json", "Expected a JSON array of execution ids, e.g. [\"4Fz...\"]",
                           "Invalid JSON")
        return body

    def _query(self, request):
        """The executions a by-query call selects (2.x refuses the legacy flat parameters)."""
        args = request.args
        if self.gen == 2:
            for name in LEGACY_PARAMS:
                if name in args:
                    raise ApiError(400, "invalid-query-filters",
                                   f"'{name}' is not a supported query parameter on this endpoint, use "
                                   f"filters[{name}][EQUALS]=<value>", "Invalid query filters")
        filters = execution_filters(args, self.gen)
        return lambda e: matches(e, filters, EXECUTION_FIELDS)

    def _rule(self, action: str, request):
        args = request.args
        if action == "unqueue":
            return self.backend.bulk_rule(action, target=args.get("state") or args.get("newState")
                                          or required_param(args, "state"))
        if action == "change-status":
            return self.backend.bulk_rule(action, target=required_param(args, "newStatus"))
        return self.backend.bulk_rule(action, latest_revision=bool_param(args, "latestRevision", False))

    def h_bulk_by_ids(self, request, tenant, action):
        rule = self._rule(action, request)
        return self._answer(rule.by_ids(self._ids(request)))

    def h_bulk_by_query(self, request, tenant, action):
        rule = self._rule(action, request)
        return self._answer(rule.by_query(self._query(request)))

    # -- labels -----------------------------------------------------------------------------
    def h_bulk_labels_by_ids(self, request, tenant):
        body = self.json_body(request, "{\"executionsId\": [...], \"executionLabels\": [...]}")
        if not isinstance(body, dict) or not isinstance(body.get("executionsId"), list):
            raise ApiError(422, "invalid-json", "Expected {\"executionsId\": [ids], \"executionLabels\": "
                           "[{\"key\", \"value\"}]}", "Invalid JSON")
        labels = labelsmod.from_body(body.get("executionLabels") or [], "executionLabels")
        rule = self.backend.bulk_rule("labels", labels=labels)
        return self._answer(rule.by_ids([str(i) for i in body["executionsId"]]))

    def h_bulk_labels_by_query(self, request, tenant):
        labels = self.labels_body(request, empty=[])
        return self._answer(self.backend.bulk_rule("labels", labels=labels).by_query(self._query(request)))

    # -- delete -----------------------------------------------------------------------------
    def _delete_rule(self, request):
        return self.backend.bulk_rule("delete",
                                      include_non_terminated=bool_param(request.args, "includeNonTerminated", False),
                                      delete_logs=bool_param(request.args, "deleteLogs", True))

    def h_bulk_delete_by_ids(self, request, tenant):
        rule = self._delete_rule(request)
        return self._answer(rule.by_ids(self._ids(request)), asynchronous=False)

    def h_bulk_delete_by_query(self, request, tenant):
        rule = self._delete_rule(request)
        return self._answer(rule.by_query(self._query(request)), asynchronous=False)
