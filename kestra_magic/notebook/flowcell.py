"""The ``%%kestra_flow`` cell: local YAML check (errors point at the cell line) and its summary."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from kestra_magic.notebook.errors import KestraMagicError
from kestra_magic.render import esc, link

_NS_LINE = re.compile(r"^namespace:[^\n]*$", re.MULTILINE)
_ID_LINE = re.compile(r"^id:[^\n]*$", re.MULTILINE)


def check_yaml(source: str, *, first_line: int = 2) -> dict:
    """Parse the cell body within Kestra's YAML limits (kestra_magic/safe_yaml.py); an error names
    the cell line and column where the parser gave up and, when the broken construct (an unclosed
    ``[``, ``{`` or quote) began on another line, where it began (the body starts on cell line
    ``first_line``, after the ``%%kestra_flow`` line). Nothing is sent on error."""
    import yaml

    from kestra_magic import safe_yaml
    if not source.strip():
        raise KestraMagicError("the cell is empty; write the flow's YAML (id, namespace, tasks) below "
                               "%%kestra_flow", kind="UsageError")
    try:
        doc = safe_yaml.load(source)
    except yaml.YAMLError as err:
        raise KestraMagicError(_yaml_error_line(err, source, first_line), kind="YAMLError") from None
    if not isinstance(doc, dict):
        raise KestraMagicError("the cell must hold one flow as a YAML mapping with id, namespace and "
                               "tasks", kind="UsageError")
    for key in ("id", "namespace"):
        if not doc.get(key):
            raise KestraMagicError(f"the flow has no `{key}:`; add a top-level `{key}: ...` line "
                                   f"(or use --namespace NS)" if key == "namespace" else
                                   f"the flow has no `{key}:`; add a top-level `{key}: ...` line",
                                   kind="UsageError")
    return doc


def _yaml_error_line(err, source: str, first_line: int) -> str:
    """One line for a YAML error: where the parser gave up, and where the construct it was in began."""
    from kestra_magic.safe_yaml import YamlLimitError
    lines = source.splitlines()

    def at(mark) -> str:
        text = lines[mark.line].strip() if mark.line < len(lines) else ""
        return f"cell line {mark.line + first_line}, column {mark.column + 1}" + (f" (`{text[:60]}`)" if text else "")

    mark = getattr(err, "problem_mark", None)
    context, context_mark = getattr(err, "context", None), getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    if isinstance(err, YamlLimitError):
        return f"YAML refused{' at ' + at(mark) if mark else ''}: {problem}; nothing was sent"
    if mark is None and context_mark is None:
        return f"YAML syntax error: {problem}; nothing was sent"
    head = f"YAML syntax error at {at(mark or context_mark)}: {problem}"
    if context_mark is not None and mark is not None and context_mark.line != mark.line:
        head += f", {context or 'in the construct'} that starts at {at(context_mark)}"
    return head + "; fix it and re-run, nothing was sent"


def set_namespace(source: str, namespace: str) -> str:
    """The source with its top-level ``namespace:`` line set (only that line changes)."""
    line = f"namespace: {namespace}"
    if _NS_LINE.search(source):
        return _NS_LINE.sub(line.replace("\\", "\\\\"), source, count=1)
    m = _ID_LINE.search(source)
    if m:
        return source[: m.end()] + "\n" + line + source[m.end():]
    return line + "\n" + source


@dataclass
class FlowSummary:
    """What ``%%kestra_flow`` shows: namespace, id, revision and what happened, tasks, link, warnings."""
    namespace: str
    id: str
    revision: int | None
    status: str           # created | updated | unchanged | valid
    tasks: int
    url: str | None = None
    warnings: list[str] = field(default_factory=list)
    topology: Any = None   # a Topology (static SVG) drawn under the line, or None

    @property
    def what(self) -> str:
        return {"updated": "new", "valid": "valid, not saved"}.get(self.status, self.status)

    def __repr__(self) -> str:
        rev = f"revision {self.revision} " if self.revision is not None else ""
        lines = [f"flow {self.namespace}.{self.id} {rev}({self.what}), {self.tasks} task"
                 f"{'' if self.tasks == 1 else 's'}"]
        if self.url:
            lines.append(f"UI: {self.url}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rev = f"revision <b>{self.revision}</b> " if self.revision is not None else ""
        warn = "".join(f'<div style="color:#DD5F00">warning: {esc(w)}</div>' for w in self.warnings)
        ui = f" &nbsp; {link(self.url, 'open in UI')}" if self.url else ""
        picture = self.topology._repr_html_() if self.topology is not None else ""
        return (f'<div class="km-flow">flow <b>{esc(self.namespace)}.{esc(self.id)}</b> {rev}'
                f'({esc(self.what)}), {self.tasks} task{"" if self.tasks == 1 else "s"}{ui}{warn}'
                f'{picture}</div>')


_INVALID_TYPE = re.compile(r"Invalid type:?\s*([\w.$]+)")


def type_hint(message: str) -> str:
    """`` (did you mean io.kestra.plugin.core.log.Log?)`` when a server message names an unknown
    task type close to one the server knows (its plugin list, cached by the completer); else ``""``."""
    from kestra_magic.notebook.completion import suggest_task_type
    m = _INVALID_TYPE.search(message or "")
    if not m:
        return ""
    try:
        close = suggest_task_type(m.group(1).rstrip("."))
    except Exception:          # a hint is a courtesy: never hide the server's own message
        return ""
    return f" (did you mean {close}?)" if close else ""
