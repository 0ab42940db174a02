"""One call as the transport sends it: the operation, where it goes, what it carries."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kestra_magic.operations import Operation


@dataclass
class Call:
    """A request being sent (possibly several times): built once per API method call.

    ``base`` is the resolved server, ``path`` the API path (both appear in error messages),
    ``what`` names the resource for messages ("flow ns.f"). ``grace_until`` is the monotonic
    deadline of the 2.x 404 window for something this client just created (0: none).
    """
    operation: Operation
    base: str
    path: str
    what: str
    timeout: tuple[float, float]
    request: dict[str, Any] = field(default_factory=dict)   # params, data, files, json, headers, stream
    whole_body: bool = False            # read a successful answer's body in one buffer (downloads)
    grace_until: float = 0.0
    grace_delay: float = 0.1

    @property
    def method(self) -> str:
        return self.operation.method

    @property
    def url(self) -> str:
        return self.base + self.path

    @property
    def stream(self) -> bool:
        return bool(self.request.get("stream")) and not self.whole_body
