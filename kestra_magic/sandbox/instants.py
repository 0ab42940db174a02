"""Instants and durations as Kestra writes them: Java ``Instant.toString()`` and ``Duration``
(``PT1H30M``), and a strictly increasing clock so that histories and logs sort in event order.
The one place for these in the sandbox (engine, inputs, shapes and query all use it)."""
from __future__ import annotations

import datetime as dt
import re
import threading

__all__ = ["now", "format_instant", "now_iso", "parse_instant", "parse_duration", "format_duration"]

_last = [dt.datetime.min.replace(tzinfo=dt.timezone.utc)]
_clock = threading.Lock()

# Java's Duration.parse grammar: PnDTnHnMn.nS (each part optional, each part and the whole signed)
_DURATION = re.compile(r"^([-+]?)P(?:([-+]?\d+)D)?(?:T(?:([-+]?\d+)H)?(?:([-+]?\d+)M)?"
                       r"(?:([-+]?\d+)(?:[.,](\d{0,9}))?S)?)?$", re.I)


def now() -> dt.datetime:
    """Strictly increasing UTC time (two events never share an instant)."""
    with _clock:
        moment = dt.datetime.now(dt.timezone.utc)
        if moment <= _last[0]:
            moment = _last[0] + dt.timedelta(microseconds=1)
        _last[0] = moment
        return moment


def format_instant(value: dt.datetime | None = None) -> str:
    """A Java ``Instant.toString()``: UTC, ``Z``, trailing zeros of the fraction trimmed
    (``now()`` when ``value`` is None). Naive datetimes are taken as UTC."""
    value = now() if value is None else value
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    value = value.astimezone(dt.timezone.utc)
    text = value.replace(tzinfo=None).isoformat(timespec="seconds")   # isoformat pads the year, strftime not
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def now_iso() -> str:
    """Now as a Java Instant string."""
    return format_instant()


def parse_instant(text: str) -> dt.datetime:
    """An ISO-8601 instant (``Z``, an offset, or Java's ``[Zone]`` suffix) -> aware datetime;
    naive text is UTC. ValueError when unreadable."""
    text = str(text).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(re.sub(r"\[.*\]$", "", text))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def parse_duration(text: str) -> dt.timedelta:
    """ISO-8601 duration as Java's ``Duration.parse`` accepts it (``PT1H30M``, ``P2D``, ``PT0.5S``,
    ``-PT5S``); ValueError otherwise."""
    raw = str(text).strip()
    m = _DURATION.match(raw)
    if not m or raw.upper().lstrip("+-") in ("P", "PT") or raw.upper().endswith("T"):
        raise ValueError(f"Text cannot be parsed to a Duration: {text}")
    sign = -1 if m.group(1) == "-" else 1
    days, hours, minutes, secs = (int(g) if g else 0 for g in m.group(2, 3, 4, 5))
    frac = m.group(6) or ""
    micros = int((frac + "000000")[:6]) if frac else 0
    if secs < 0 or (secs == 0 and m.group(5) and m.group(5).startswith("-")):
        micros = -micros
    return sign * dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=secs, microseconds=micros)


def format_duration(delta: dt.timedelta) -> str:
    """Java ``Duration.toString()``: ``PT0.123S``, ``PT1M2S``, ``PT0S``."""
    total = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    if total == 0:
        return "PT0S"
    sign = "-" if total < 0 else ""
    total = abs(total)
    hours, rest = divmod(total, 3_600_000_000)
    minutes, rest = divmod(rest, 60_000_000)
    secs, micros = divmod(rest, 1_000_000)
    out = "PT"
    if hours:
        out += f"{sign}{hours}H"
    if minutes:
        out += f"{sign}{minutes}M"
    if secs or micros:
        out += f"{sign}{secs}" + (f".{micros:06d}".rstrip("0") if micros else "") + "S"
    return out
