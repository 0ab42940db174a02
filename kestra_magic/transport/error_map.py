"""One error mapper: every failure of a call, response or exception, to one typed ``KestraError``.

Messages are one line, name the cause and the fix, and never contain a secret (``scrub``).
Kestra's two error body shapes are read by ``kestra_magic.compat.parse_error_body``.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import requests

from kestra_magic import errors
from kestra_magic.compat import is_already_exists, parse_error_body

if TYPE_CHECKING:  # pragma: no cover
    from kestra_magic.transport.call import Call

MAX_MESSAGE = 400   # characters of Kestra's message kept in str(error); .server_message has it all
AMBIGUOUS_STATUSES = frozenset({502, 504})   # a gateway answered: the server may have handled it


class ErrorMapper:
    """Maps failed responses and transport exceptions of a call to ``KestraError`` subclasses."""

    def __init__(self, scrub: Callable[[str], str], has_credentials: bool):
        self.scrub = scrub
        self.has_credentials = has_credentials

    # -- responses --------------------------------------------------------------------------------
    def for_response(self, resp: requests.Response, call: "Call") -> errors.KestraError:
        """The typed error for a response with status >= 400."""
        status = resp.status_code
        if call.operation.creates and status in AMBIGUOUS_STATUSES:
            return errors.KestraAmbiguousError(
                f"{call.what}: got {status} from {call.base} after sending {call.method} {call.path}; it may or "
                f"may not have been created and was NOT re-sent: check the executions/flows list before "
                f"retrying", status)
        message, violations, body = parse_error_body(resp)
        message = self.scrub(message)
        violations = [{"path": self.scrub(v["path"]), "message": self.scrub(v["message"])} for v in violations]
        short = " ".join(message.split())
        if len(short) > MAX_MESSAGE:   # 1.x 500s can carry a whole stack trace: keep str() readable
            short = short[:MAX_MESSAGE - 1].rstrip() + "…"
        err = classify(status, message, violations, body, what=call.what, said=f": {short}" if short else "",
                       where=f"{call.method} {call.path}", has_credentials=self.has_credentials)
        err.server_message = message or None
        return err

    def not_json(self, resp: requests.Response, call: "Call") -> errors.KestraError:
        """A success answer that should be JSON and is not (a proxy page, the UI, a wrong URL)."""
        return errors.KestraError(
            f"{call.what}: {call.method} {call.path} returned {resp.headers.get('Content-Type', 'no content type')} "
            f"that is not valid JSON ({len(resp.content)} bytes); check the URL points at Kestra's API",
            resp.status_code)

    # -- exceptions -------------------------------------------------------------------------------
    def for_exception(self, exc: BaseException, call: "Call", *, sent: bool) -> errors.KestraError:
        """The typed error for a request that got no (complete) answer; ``sent``: it may have arrived."""
        base, where = call.base, f"{call.method} {call.path}"
        reason = self.scrub(reason_of(exc))
        if isinstance(exc, requests.exceptions.SSLError):
            return errors.KestraConnectionError(
                f"TLS check failed for {base}: {reason}; set ca_bundle= to your CA file (KESTRA_CA_BUNDLE) or "
                f"verify_ssl=False for a test server")
        if call.operation.creates and sent:
            return errors.KestraAmbiguousError(
                f"the connection to {base} failed after sending {where} ({reason}); it may or may not have "
                f"been created and was NOT re-sent: check the executions/flows list before retrying")
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return errors.KestraTimeout(f"cannot connect to Kestra at {base} within {call.timeout[0]:g}s; check "
                                        f"KESTRA_URL and the network (or raise connect_timeout)")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return errors.KestraTimeout(f"Kestra at {base} did not answer {where} within {call.timeout[1]:g}s; "
                                        f"raise read_timeout or check the server")
        if not sent:
            return errors.KestraConnectionError(f"cannot reach Kestra at {base} ({reason}); check KESTRA_URL "
                                                f"and that the server is running")
        return errors.KestraConnectionError(f"the connection to {base} broke during {where} ({reason}); retry, "
                                            f"or check the server")


def reason_of(exc: BaseException) -> str:
    """A short reason from an exception chain ("connection refused", "host name not found"...)."""
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


def classify(status: int, message: str, violations: list[dict], body: Any, *, what: str, said: str,
             where: str, has_credentials: bool) -> errors.KestraError:
    """The error class and one-line message for a status and Kestra's parsed body."""
    if status == 401:
        fix = ("the credentials were rejected; check KESTRA_USERNAME/KESTRA_PASSWORD or KESTRA_API_TOKEN"
               if has_credentials else
               "this server requires credentials; set KESTRA_USERNAME and KESTRA_PASSWORD (or KESTRA_API_TOKEN)")
        return errors.KestraAuthError(f"Kestra said 401 Unauthorized on {where}: {fix}", status, (), body)
    if status == 403 and isinstance(body, dict) and str(body.get("type", "")).endswith(
            ("feature-disabled", "license-limit-exceeded", "policy-violation")):
        return errors.KestraAuthError(f"Kestra refused {where} (403{said}); this server's edition, licence or "
                                      f"policy does not allow it: ask its administrator", status, violations, body)
    if status == 403:
        return errors.KestraAuthError(f"Kestra said 403 Forbidden on {where}{said}; the user lacks the "
                                      f"permission (or a session cookie needs a CSRF token)", status, (), body)
    if status == 404:
        return errors.KestraNotFound(f"{what} not found (404{said}); check the namespace/id/tenant "
                                     f"and that it exists", status, violations, body)
    if is_already_exists(status, message, body):
        return errors.KestraConflict(f"{what} already exists ({status}{said}); update it instead "
                                     f"(flows.update_flow or flows.upsert_flow)", status, violations, body)
    if status == 409:
        return errors.KestraConflict(f"{what}: conflict (409{said}); check its current state first",
                                     status, violations, body)
    if status in (400, 422):
        detail = "; ".join(f"{v['path']}: {v['message']}" if v["path"] and v["message"] else
                           (v["message"] or v["path"]) for v in violations[:3])
        extra = f" [{detail}]" if detail and detail not in message else ""
        return errors.KestraValidationError(f"{what} rejected ({status}{said}){extra}; fix the request "
                                            f"and try again", status, violations, body)
    if status in (405, 415):
        # what a request shaped for the other generation gets (e.g. 1.x action paths on 2.x)
        return errors.KestraError(f"Kestra answered {status} on {where}{said}; if this server is another Kestra "
                                  f"generation than detected, set api_generation=1 or 2 in the configuration",
                                  status, violations, body)
    if status == 429:
        return errors.KestraError(f"Kestra said 429 Too Many Requests on {where}{said}; slow down, or retry "
                                  f"later (raise retries= to wait automatically)", status, violations, body)
    if status >= 500:
        return errors.KestraServerError(f"Kestra server error {status} on {where}{said}; retry later or "
                                        f"check the server logs", status, violations, body)
    return errors.KestraError(f"Kestra answered {status} on {where}{said}", status, violations, body)


