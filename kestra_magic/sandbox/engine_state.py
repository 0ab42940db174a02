"""Kestra's State objects, instants and ISO-8601 durations, as the engine writes them.

A state is ``{current, histories:[{state, date}], startDate, endDate?, duration?}``;
``endDate``/``duration`` appear once terminated or PAUSED (Kestra 1.x ``State.java``).
"""
from __future__ import annotations

import datetime as dt
import re
import threading

TERMINAL = frozenset({"SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "RETRIED", "SKIPPED",
                      "RESUBMITTED"})
SUCCESSFUL = frozenset({"SUCCESS", "WARNING", "SKIPPED"})
_ENDED = TERMINAL | {"PAUSED"}

# Worst-state order used to combine the states of sibling task runs
_RANK = {"SUCCESS": 0, "SKIPPED": 0, "WARNING": 1, "FAILED": 2, "KILLED": 3}

_last = [dt.datetime.min.replace(tzinfo=dt.timezone.utc)]
_clock = threading.Lock()


def utcnow() -> dt.datetime:
    """Strictly increasing UTC time, so that histories and logs sort in event order."""
    with _clock:
        now = dt.datetime.now(dt.timezone.utc)
        if now <= _last[0]:
            now = _last[0] + dt.timedelta(microseconds=1)
        _last[0] = now
        return now


def instant(value: dt.datetime | None = None) -> str:
    """A Java ``Instant.toString()``: UTC, ``Z``, fraction trimmed."""
    value = (value or utcnow()).astimezone(dt.timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_instant(text: str) -> dt.datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    value = dt.datetime.fromisoformat(re.sub(r"\[.*\]$", "", text))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


_DURATION = re.compile(r"^([-+]?)P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:[.,](\d{0,9}))?S)?)?$", re.I)


def parse_duration(text: str) -> dt.timedelta:
    """``PT1.5S``, ``PT2M``, ``P1D`` -> timedelta (Java ``Duration.parse``); ValueError otherwise."""
    raw = str(text).strip()
    m = _DURATION.match(raw)
    if not m or raw.upper().rstrip("T").endswith("P") or raw.upper().endswith("T"):
        raise ValueError(f"Text cannot be parsed to a Duration: {text}")
    days, hours, minutes, secs = (int(g) if g else 0 for g in m.group(2, 3, 4, 5))
    micros = int(((m.group(6) or "") + "000000")[:6])
    delta = dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=secs, microseconds=micros)
    return -delta if m.group(1) == "-" else delta


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


def new_state(current: str = "CREATED") -> dict:
    now = instant()
    state = {"current": current, "histories": [{"state": current, "date": now}], "startDate": now}
    _close(state)
    return state


def transition(state: dict, current: str) -> dict:
    """Move ``state`` (in place) to ``current``, recording the history."""
    if state.get("current") == current:
        return state
    state["current"] = current
    state.setdefault("histories", []).append({"state": current, "date": instant()})
    state.setdefault("startDate", state["histories"][0]["date"])
    _close(state)
    return state


def _close(state: dict) -> None:
    if state["current"] in _ENDED:
        end = state["histories"][-1]["date"]
        state["endDate"] = end
        state["duration"] = format_duration(parse_instant(end) - parse_instant(state["startDate"]))
    else:
        state.pop("endDate", None)
        state.pop("duration", None)


def worst(a: str, b: str) -> str:
    """The state that wins when combining sibling results (FAILED over WARNING over SUCCESS)."""
    return a if _RANK.get(a, 0) >= _RANK.get(b, 0) else b


def truthy(value) -> bool:
    """Kestra's TruthUtils: null, empty, ``false``, ``0`` and ``-0`` are false."""
    if value is None or value is False:
        return False
    text = str(value).strip().lower()
    return text not in ("", "false", "0", "-0", "0.0", "null")
