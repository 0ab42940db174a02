"""A minimal Server-Sent Events parser (WHATWG "event stream interpretation").

Hand-written on purpose: the format is a dozen lines of rules, Kestra uses only
``id:``/``data:`` (the ``id`` is the start/progress/end marker), and the PyPI
SSE clients either own the HTTP connection (we need our one Session, its auth,
proxies and timeouts) or reconnect on their own, which Kestra's follow endpoints
must not do.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass
class Event:
    """One dispatched event: ``data`` lines joined by newlines."""
    data: str
    id: str | None = None
    event: str = "message"
    retry: int | None = None


_EOL = re.compile(rb"\r\n|\r|\n")


def _lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Split raw chunks into lines ending at CRLF, LF or CR (a CR at a chunk's end may start a CRLF).

    Linear in the stream's size: each byte is searched once and the buffer is cut once per chunk
    (a 15 MB event arriving in small chunks used to be rescanned and recopied at every chunk)."""
    buf = bytearray()
    search = 0          # bytes of ``buf`` before this hold no line ending (but a held-back CR)
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        buf += chunk
        start = 0
        while True:
            m = _EOL.search(buf, search)
            if m is None or (m.end() == len(buf) and m.group() == b"\r"):
                search = len(buf) if m is None else m.start()
                break
            text = bytes(buf[start:m.start()]).decode("utf-8", errors="replace")
            start = search = m.end()
            if first:
                text = text.removeprefix("\ufeff")
                first = False
            yield text
        del buf[:start]
        search -= start
    if buf.endswith(b"\r"):
        # at the end of the stream a held-back CR is a complete line ending
        text = bytes(buf[:-1]).decode("utf-8", errors="replace")
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
