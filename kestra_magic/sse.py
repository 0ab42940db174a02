"""A minimal Server-Sent Events parser (WHATWG "event stream interpretation").

Hand-written on purpose: the format is a dozen lines of rules, Kestra uses only
``id:``/``data:`` (the ``id`` is the start/progress/end marker), and the PyPI
SSE clients either own the HTTP connection (we need our one Session, its auth,
proxies and timeouts) or reconnect on their own, which Kestra's follow endpoints
must not do.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass
class Event:
    """One dispatched event: ``data`` lines joined by newlines."""
    data: str
    id: str | None = None
    event: str = "message"
    retry: int | None = None


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split raw chunks into lines ending at CRLF, LF or CR (a CR at a chunk's end may start a CRLF)."""
    buf = b""
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        buf += chunk
        while True:
            idx_n = buf.find(b"\n")
            idx_r = buf.find(b"\r")
            if idx_n < 0 and (idx_r < 0 or idx_r == len(buf) - 1):
                break
            if idx_r >= 0 and (idx_n < 0 or idx_r < idx_n):
                line, buf = buf[:idx_r], buf[idx_r + (2 if buf[idx_r + 1:idx_r + 2] == b"\n" else 1):]
            else:
                line, buf = buf[:idx_n], buf[idx_n + 1:]
            text = line.decode("utf-8", errors="replace")
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield text
    if buf.endswith(b"\r"):
        # at the end of the stream a held-back CR is a complete line ending
        text = buf[:-1].decode("utf-8", errors="replace")
        yield text.removeprefix("\ufeff") if first else text


def iter_events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Yield events from an iterable of raw byte chunks (any split, any line ending)."""
    data: list[str] = []
    last_id: str | None = None
    event_type = ""
    retry: int | None = None
    for text in _lines(chunks):
        if not text:
            if data:
                yield Event("\n".join(data), last_id, event_type or "message", retry)
            data, event_type = [], ""
            continue
        if text.startswith(":"):
            continue
        name, sep, value = text.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "id":
            if "\x00" not in value:
                last_id = value
        elif name == "event":
            event_type = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
    # an unterminated final event is discarded, as the spec says
