"""The retry policy: which failed attempts of an operation are sent again, and after how long.

Shaped like urllib3's ``Retry`` (an immutable object, ``increment()`` returns the next one) but
not urllib3's ``Retry`` itself, because Kestra's guarantees need distinctions it cannot make:
- it counts a read timeout and a dropped connection alike as "read errors": a read timeout must
  not be retried (the server is alive but slow; sending again only adds load) while a dropped
  connection on a safe call must;
- it never sees errors while the body is read (a truncated answer), which requests reads after
  urllib3 returns, and those are retried too;
- for a create it cannot tell "never left" (refused, DNS, connect timeout: safe to send again)
  from "may have arrived" (then ``KestraAmbiguousError``, never re-sent), and it retries 429 only
  for the methods in ``allowed_methods``, whereas a 429 means "not processed" for a create too;
- it applies to a whole adapter, not per operation, and does not cap ``Retry-After``.
"""
from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass, replace
from typing import Any

import requests

from kestra_magic.operations import Operation

GATEWAY_STATUSES = frozenset({502, 503, 504})
#: the exceptions that mean "no (complete) answer": the connection failed, timed out or broke
#: (``SSLError`` is a ``ConnectionError``; it is never retried)
NO_ANSWER = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
             requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError)


@dataclass(frozen=True)
class RetryPolicy:
    """``retries`` more attempts at most; waits ``backoff * 2**attempt`` (or ``Retry-After``), capped
    at ``max_backoff``. ``delay_after_*`` answer the wait before the next attempt, or None: give up."""
    retries: int = 3
    backoff: float = 0.25
    max_backoff: float = 10.0
    attempt: int = 0

    @property
    def exhausted(self) -> bool:
        return self.attempt >= self.retries

    def increment(self) -> "RetryPolicy":
        """The policy for the next attempt."""
        return replace(self, attempt=self.attempt + 1)

    def backoff_time(self) -> float:
        return min(self.max_backoff, self.backoff * (2 ** self.attempt))

    def delay_after_error(self, exc: BaseException, op: Operation) -> float | None:
        """After an exception: retry a safe call on connection errors and truncated answers, and any
        call that certainly never left; never a read timeout, a TLS failure or anything else."""
        if self.exhausted or not isinstance(exc, NO_ANSWER) or isinstance(exc, requests.exceptions.SSLError):
            return None
        if isinstance(exc, requests.exceptions.ReadTimeout):
            return None
        if op.safe or not was_sent(exc):
            return self.backoff_time()
        return None

    def delay_after_response(self, resp: requests.Response, op: Operation) -> float | None:
        """After an answer: 429 (not processed, so even a create) and, for a safe call, 502/503/504;
        ``Retry-After`` is honoured up to ``max_backoff``."""
        status = resp.status_code
        if self.exhausted or not (status == 429 or (status in GATEWAY_STATUSES and op.safe)):
            return None
        wait = retry_after(resp)
        return min(self.max_backoff, wait if wait is not None else self.backoff_time())


def was_sent(exc: BaseException) -> bool:
    """False when the request certainly never left: refused, DNS failure or connect timeout."""
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return False
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        e = stack.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (NewConnectionError, ConnectTimeoutError)):
            return False
        stack.extend([getattr(e, "reason", None), e.__cause__, e.__context__])
        stack.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return True


def retry_after(resp: requests.Response) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())
