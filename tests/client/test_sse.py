"""The SSE parser on what Kestra's follow endpoints send, split anywhere."""
from __future__ import annotations

from kestra_magic.sse import Event, iter_events

KESTRA = (b'id:start\ndata:{"id":"x"}\n\n'
          b': keep-alive comment\n'
          b'id: progress\r\ndata: {"id":"x","state":{"current":"RUNNING"}}\r\n\r\n'
          b'id:end\rdata:{"a":1}\rdata:{"b":2}\r\r'
          b'data: no id here keeps the last one\n\n'
          b'id: cut\ndata: unterminated')


def test_markers_line_endings_multiline_and_unterminated():
    events = list(iter_events([KESTRA]))
    assert [(e.id, e.data) for e in events] == [
        ("start", '{"id":"x"}'),
        ("progress", '{"id":"x","state":{"current":"RUNNING"}}'),
        ("end", '{"a":1}\n{"b":2}'),
        ("end", "no id here keeps the last one"),   # the last event id persists (WHATWG)
    ]
    assert all(isinstance(e, Event) and e.event == "message" for e in events)


def test_any_split_gives_the_same_events():
    whole = list(iter_events([KESTRA]))
    for size in (1, 2, 3, 7, 64):
        chunks = [KESTRA[i:i + size] for i in range(0, len(KESTRA), size)]
        assert list(iter_events(chunks)) == whole


def test_bom_event_and_retry_fields():
    events = list(iter_events([b"\xef\xbb\xbfevent: update\nretry: 3000\ndata\n\n"]))
    assert events == [Event(data="", id=None, event="update", retry=3000)]


def test_lone_cr_at_end_of_stream_still_ends_the_last_event():
    # a proxy that normalises line endings to CR must not lose Kestra's `end` marker
    events = list(iter_events([b"id: end\rdata: {}\r\r"]))
    assert [(e.id, e.data) for e in events] == [("end", "{}")]
