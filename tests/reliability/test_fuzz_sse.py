"""Property-based tests over the SSE parser (kestra_magic.sse): arbitrary bytes in any
chunking end in events (never another exception, never a hang), the result does not depend
on how the network split the stream, and well-formed streams round-trip."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kestra_magic.sse import Event, iter_events

FUZZ = settings(max_examples=200, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])

# bytes biased towards the characters that matter to the SSE grammar
_sse_bytes = st.lists(
    st.one_of(st.sampled_from([b"\n", b"\r", b"\r\n", b":", b" ", b"data", b"id", b"event", b"retry",
                               b"\xef\xbb\xbf", b"\x00", b"\xff", "é".encode(), b"{}", b"progress"]),
              st.binary(max_size=8)),
    max_size=60).map(b"".join)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


@FUZZ
@given(_sse_bytes, st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_any_bytes_any_chunking_give_the_same_events(data, cuts):
    whole = list(iter_events([data]))
    pieces = list(iter_events(_split(data, cuts)))
    bytewise = list(iter_events(data[i:i + 1] for i in range(len(data))))
    assert pieces == whole == bytewise
    for ev in whole:
        assert isinstance(ev, Event) and isinstance(ev.data, str)
        assert ev.id is None or "\x00" not in ev.id


_field_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
                      max_size=30)


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(["start", "progress", "end"]),
                          st.lists(_field_text, min_size=1, max_size=3)), max_size=8),
       st.sampled_from(["\n", "\r\n", "\r"]),
       st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_well_formed_streams_round_trip(events, eol, cuts):
    """What Kestra's follow endpoints send (``id:`` marker + ``data:`` lines) parses back exactly."""
    raw = "".join(f"id: {i}{eol}" + "".join(f"data: {line}{eol}" for line in lines) + eol
                  for i, lines in events).encode()
    parsed = list(iter_events(_split(raw, cuts)))
    assert [(e.id, e.data) for e in parsed] == [(i, "\n".join(lines)) for i, lines in events]


def test_truncated_final_event_is_not_dispatched():
    """A stream cut mid-event (dropped connection) must not yield a half event."""
    raw = b'id: progress\ndata: {"id":"a"}\n\nid: end\ndata: {"id":"a","st'
    assert [(e.id, e.data) for e in iter_events([raw])] == [("progress", '{"id":"a"}')]


def test_lone_cr_at_the_end_completes_the_last_event():
    """CR alone is a line ending too: a stream ending in CR CR dispatches its last event."""
    assert [(e.id, e.data) for e in iter_events([b"id: end\rdata: {}\r\r"])] == [("end", "{}")]
