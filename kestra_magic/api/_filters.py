"""Search parameters in Kestra's ``filters[field][OP]=value`` form (read by 1.x and 2.x alike)."""
from __future__ import annotations

from typing import Any, Mapping

from kestra_magic import errors
from kestra_magic.encoding import labels_param


def filter_params(*, page: int, size: int, sort: Any = None, labels: Any = None,
                  fields: Mapping[str, Any] | None = None) -> list[tuple[str, Any]]:
    """Query pairs for a search: paging, sort, EQUALS/IN field filters and label filters."""
    if not isinstance(page, int) or page < 1:
        raise errors.KestraConfigError(f"page must be an integer >= 1 (pages are 1-based), got {page!r}")
    if not isinstance(size, int) or size < 1:
        raise errors.KestraConfigError(f"size must be an integer >= 1, got {size!r}")
    params: list[tuple[str, Any]] = [("page", page), ("size", size)]
    for item in ([sort] if isinstance(sort, str) else list(sort or [])):
        if ":" not in item:
            item = f"{item}:asc"
        field, _, order = item.partition(":")
        if order.lower() not in ("asc", "desc"):
            raise errors.KestraConfigError(f"sort {item!r} must look like 'field:asc' or 'field:desc'")
        params.append(("sort", f"{field}:{order.lower()}"))
    for name, value in (fields or {}).items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            values = [str(v) for v in value]
            if len(values) == 1:
                params.append((f"filters[{name}][EQUALS]", values[0]))
            elif values:
                params.append((f"filters[{name}][IN]", ",".join(values)))
        else:
            params.append((f"filters[{name}][EQUALS]", str(value)))
    for label in labels_param(labels):
        key, _, value = label.partition(":")
        params.append((f"filters[labels][EQUALS][{key}]", value))
    return params
