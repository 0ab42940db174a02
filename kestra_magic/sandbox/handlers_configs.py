"""Server probes and login: ``/api/v1/configs``, 2.x ``/api/v1/configs/login``, ``POST /api/v1/login``
(sets Kestra's ``BASIC_AUTH`` cookie) and ``/ping`` (kestra-api.md §5, kestra-api-2.md §1, §9)."""
from __future__ import annotations

import base64

from werkzeug.wrappers import Response

from kestra_magic.sandbox import files as filesmod
from kestra_magic.sandbox import guard
from kestra_magic.sandbox.http import Handlers, empty as _empty, json_response as _json
from kestra_magic.sandbox.problems import ApiError, not_found


def page_not_found(generation: int) -> ApiError:
    """Kestra's answer for a route it does not serve (1.x: Micronaut's "Page Not Found")."""
    if generation == 1:
        return ApiError(404, "not-found", "", "Not Found", [("", "Page Not Found")], v1_message="Not Found")
    return not_found("Resource not found")


class ConfigHandlers(Handlers):
    """The configuration probe, the 2.x login and ping."""

    def _configuration(self) -> dict:
        s = self.settings
        out = {"uuid": "00000000-sandbox-" + s.version, "version": s.version, "edition": "OSS",
               "commitId": "sandbox", "commitDate": "2026-01-01T00:00:00Z",
               "chartDefaultDuration": "P30D", "isCustomDashboardsEnabled": False,
               "isAnonymousUsageEnabled": False, "isUiAnonymousUsageEnabled": False,
               "environment": {"name": "sandbox", "color": "#8405FF"},
               "url": s.base_url + "/", "preview": {"initial": filesmod.PREVIEW_INITIAL_ROWS,
                                                     "max": filesmod.PREVIEW_MAX_ROWS},
               "systemNamespace": "system", "hiddenLabelsPrefixes": ["system."],
               "isAiEnabled": False, "isBasicAuthInitialized": True, "pluginsHash": 0}
        if self.gen == 2:
            out.update({"isAiApiKeyConfigured": False, "isConcurrencyViewEnabled": False,
                        "flowTemplate": "id: myflow\nnamespace: company.team\ntasks: []\n"})
        else:
            out["isTemplateEnabled"] = False
        return out

    def h_configs(self, request):
        return _json(self._configuration())

    def h_configs_login(self, request):
        if self.gen == 1:
            raise page_not_found(self.gen)
        return _json({"isBasicAuthInitialized": True})

    def h_ping(self, request):
        if self.gen == 1:
            raise page_not_found(self.gen)
        return Response("pong", content_type="text/plain")

    def h_login(self, request):
        if self.gen == 1:
            raise page_not_found(self.gen)
        body = self.json_body(request, "{\"username\", \"password\"}", empty={})
        try:
            user, password = str(body["username"]), str(body["password"])
        except (KeyError, TypeError):
            raise ApiError(422, "invalid-json", "Expected a JSON body {\"username\", \"password\"}",
                           "Invalid JSON") from None
        if self.settings.auth_required and not guard.credentials_ok(self.settings, user, password):
            raise guard.unauthorized(request.headers)
        resp = _empty(204)
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        resp.set_cookie("BASIC_AUTH", token, path="/", httponly=True, samesite="Strict")
        resp.set_cookie("kestraBasicAuthenticated", "true", path="/")
        return resp
