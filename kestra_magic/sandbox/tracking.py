"""Change tracking for an execution's ``taskRunList`` on the durable store.

The engine changes task runs through ``store.update_execution(id, fn)`` with any ``fn``; writing
the whole list back after each call would make a 20,000-task-run loop quadratic. A
:class:`TaskRunList` is a plain list that remembers which positions were appended, written,
or - while the store records a call of ``fn`` - read (an element read inside ``fn`` may have
been changed in place). Structural changes (insert, delete, sort, ...) ask for a full rewrite.
Reads outside a recorded ``fn`` cost one Python call and are not remembered.
"""
from __future__ import annotations

import copy
from typing import Any, Iterator


class TaskRunList(list):
    """A list of task-run dicts whose touched positions the store persists."""

    __slots__ = ("recording", "touched", "rewrite")

    def __init__(self, items=()):
        super().__init__(items)
        self.recording = False
        self.touched: set[int] = set()
        self.rewrite = False

    # -- reads (remembered only while recording) ----------------------------------------------
    def __getitem__(self, index):
        item = list.__getitem__(self, index)
        if self.recording:
            if isinstance(index, slice):
                self.touched.update(range(*index.indices(len(self))))
            else:
                self.touched.add(index if index >= 0 else len(self) + index)
        return item

    def __iter__(self) -> Iterator[Any]:
        if not self.recording:
            return list.__iter__(self)
        return self._iter_recording()

    def _iter_recording(self) -> Iterator[Any]:
        for position, item in enumerate(list.__iter__(self)):
            self.touched.add(position)
            yield item

    def __reversed__(self) -> Iterator[Any]:
        if not self.recording:
            return list.__reversed__(self)
        return self._reversed_recording()

    def _reversed_recording(self) -> Iterator[Any]:
        n = len(self)
        for offset, item in enumerate(list.__reversed__(self)):
            self.touched.add(n - 1 - offset)
            yield item

    # -- appends (always remembered) ------------------------------------------------------------
    def append(self, item) -> None:
        list.append(self, item)
        self.touched.add(len(self) - 1)

    def extend(self, items) -> None:
        start = len(self)
        list.extend(self, items)
        self.touched.update(range(start, len(self)))

    def __iadd__(self, items):
        self.extend(items)
        return self

    def __setitem__(self, index, value) -> None:
        list.__setitem__(self, index, value)
        if isinstance(index, slice):
            self.rewrite = True
        else:
            self.touched.add(index if index >= 0 else len(self) + index)

    # -- structural changes: positions move, the whole list is rewritten ------------------------
    def _structural(name):   # noqa: N805 - a helper building methods at class creation
        base = getattr(list, name)

        def method(self, *args, **kwargs):
            result = base(self, *args, **kwargs)
            self.rewrite = True
            return result
        method.__name__ = name
        return method

    insert = _structural("insert")
    pop = _structural("pop")
    remove = _structural("remove")
    clear = _structural("clear")
    sort = _structural("sort")
    reverse = _structural("reverse")
    __delitem__ = _structural("__delitem__")
    __imul__ = _structural("__imul__")
    del _structural

    # -- copies are plain lists (and do not count as reads) -------------------------------------
    def __copy__(self) -> list:
        return list(list.__iter__(self))

    def __deepcopy__(self, memo) -> list:
        return [copy.deepcopy(item, memo) for item in list.__iter__(self)]

    def __reduce_ex__(self, protocol):
        return (list, (list(list.__iter__(self)),))

    def take_changes(self) -> tuple[bool, set[int]]:
        """(rewrite everything?, touched positions) since the last call; resets both."""
        rewrite, touched = self.rewrite, self.touched
        self.rewrite, self.touched = False, set()
        return rewrite, touched
