"""Pebble expressions as Kestra renders them, on a sandboxed Jinja2 environment.

Kestra renders task properties with Pebble; the subset people write daily
(``{{ inputs.x }}``, filters, ``{% if %}``/``{% for %}``, ``~`` concatenation) is
also valid Jinja2, so we reuse Jinja2's sandboxed engine instead of writing a
Pebble parser, rewrite the Pebble operators Jinja2 lacks (``??``, ``???``, ``a ? b : c``,
``equals``, ``elseif``), and add Kestra's filters (sandbox/pebble_filters.py), functions
(sandbox/pebble_functions.py), dates (sandbox/pebble_dates.py) and output rules
(sandbox/pebble_values.py). Anything that cannot be rendered raises :class:`ExpressionError`
naming the expression, never an empty string.
"""
from __future__ import annotations

import json
import re
from types import SimpleNamespace
from typing import Any, Callable

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kestra_magic.sandbox.pebble_dates import format_pattern
from kestra_magic.sandbox.pebble_filters import FILTERS, FILTERS_1X_ONLY
from kestra_magic.sandbox.pebble_functions import FUNCTIONS, FUNCTIONS_1X_ONLY, bound_functions
from kestra_magic.sandbox.pebble_values import to_text

__all__ = ["ExpressionError", "render", "render_value", "has_expression", "to_text"]


class ExpressionError(Exception):
    """An expression could not be rendered; the message names the expression."""


class _KestraUndefined(jinja2.ChainableUndefined, jinja2.StrictUndefined):
    """Strict like Kestra (using a missing value fails) but chainable, so that
    ``inputs.a.b | default('x')`` and ``x is defined`` still work as in Pebble."""


_EXPR = re.compile(r"\{\{|\{%")


def has_expression(text: Any) -> bool:
    """True if ``text`` is a string holding a Pebble expression or tag."""
    return isinstance(text, str) and bool(_EXPR.search(text))


def _finalize(value: Any) -> Any:
    if isinstance(value, jinja2.Undefined):
        return value  # str() on it raises the undefined error
    return to_text(value)


class _PebbleEnvironment(ImmutableSandboxedEnvironment):
    """Pebble reads a map's key before any attribute: ``outputs.t.values.k`` is the key "values"
    (OutputValues), not ``dict.values``; the same for ``keys``, ``items``, ``get``, ..."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, dict) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    intercepted_binops = frozenset({"/", "%"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Pebble divides integers as Java does (``5 / 2`` is 2, ``-5 / 2`` is -2, ``-5 % 2`` is -1)."""
        if _java_int(left) and _java_int(right):
            if right == 0:
                raise ZeroDivisionError("/ by zero")
            quotient = abs(left) // abs(right) * (1 if (left >= 0) == (right >= 0) else -1)
            return quotient if operator == "/" else left - quotient * right
        return super().call_binop(context, operator, left, right)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(argument, jinja2.Undefined):
            return argument   # block[missing].child stays undefined (so `??` and `is defined` see it)
        return super().getitem(obj, argument)


def _java_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _make_environment(generation: int) -> ImmutableSandboxedEnvironment:
    env = _PebbleEnvironment(undefined=_KestraUndefined, finalize=_finalize, autoescape=False,
                             keep_trailing_newline=True)
    env.filters.update(FILTERS)
    if generation < 2:
        env.filters.update(FILTERS_1X_ONLY)   # removed in Kestra 2.0
    env.filters["__coalesce"] = _coalesce
    env.filters["__undefined_coalesce"] = _undefined_coalesce
    env.filters["__pebble_iter"] = _pebble_iter
    env.tests.update({
        "null": lambda v: v is None, "empty": lambda v: v is None or (hasattr(v, "__len__") and len(v) == 0),
        "map": lambda v: isinstance(v, dict), "iterable": lambda v: isinstance(v, (list, tuple, dict, str)),
        "json": _is_json,
    })
    functions = dict(FUNCTIONS, **(FUNCTIONS_1X_ONLY if generation < 2 else {}))  # json(): removed in 2.0
    env.globals[_GLOBAL_FUNCTIONS] = SimpleNamespace(**functions)   # one global: Jinja2 copies globals per render
    env.globals["null"] = None
    env.pebble_functions = frozenset(functions) | _BOUND_FUNCTIONS
    return env


_BOUND_FUNCTIONS = frozenset({"render", "renderOnce", "currentEachOutput", "kv", "printContext", "fetchContext",
                              "read", "env"})


def _is_json(value: Any) -> bool:
    try:
        json.loads(value)
        return True
    except (TypeError, ValueError):
        return False


_ENVIRONMENTS: dict[int, ImmutableSandboxedEnvironment] = {}
_TEMPLATE_CACHE: dict[tuple[int, str], jinja2.Template] = {}


def _environment(generation: int) -> ImmutableSandboxedEnvironment:
    env = _ENVIRONMENTS.get(generation)
    if env is None:
        env = _ENVIRONMENTS[generation] = _make_environment(generation)
    return env


# Pebble spellings Jinja2 does not know, rewritten outside string literals.
_TOKENS = re.compile(r"""('(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")|(\bequals\b)|(\|\|)|(&&)|\b([A-Za-z_]\w*)(?=\s*\()"""
                     r"""|(\bloop\.(?:index|revindex)\b)""")
_RAW = re.compile(r"(\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\})", re.S)
_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.S)
# Pebble keeps functions apart from variables (a variable `yaml` and yaml()): a call `f(` becomes
# `__kestra_fn.f(` (Kestra's functions, one namespace object) or `__kestra_fnx.f(` (bound to the render call)
_GLOBAL_FUNCTIONS, _BOUND = "__kestra_fn", "__kestra_fnx"


_FOR = re.compile(r"^(\{%-?\s*for\s+.+?\s+in\s+)(.+?)(\s*-?%\})$", re.S)


class MapEntry:
    """What Pebble's ``{% for e in map %}`` yields: a Map.Entry with ``key`` and ``value``."""
    __slots__ = ("key", "value")

    def __init__(self, key: Any, value: Any):
        self.key, self.value = key, value

    def __str__(self) -> str:
        return f"{to_text(self.key)}={to_text(self.value)}"


def _pebble_iter(value: Any) -> Any:
    return [MapEntry(k, v) for k, v in value.items()] if isinstance(value, dict) else value


def _fix_tag(tag: str, functions: frozenset) -> str:
    loop = _FOR.match(tag)
    if loop:   # Pebble iterates a map as entries (entry.key / entry.value)
        tag = f"{loop.group(1)}({loop.group(2)}) | __pebble_iter{loop.group(3)}"

    def fix(m: re.Match) -> str:
        if m.group(1):
            return m.group(1).replace("\r", "\\r")   # Jinja2 would normalise a raw CR in a literal
        if m.group(2):
            return "=="
        if m.group(3) or m.group(4):
            return " or " if m.group(3) else " and "
        if m.group(6):
            return m.group(6) + "0"   # Pebble's loop.index / loop.revindex count from 0
        name = m.group(5)
        before = tag[:m.start()].rstrip()
        if name in functions and not before.endswith((".", "|")) and not re.search(r"\bis(\s+not)?$", before):
            return f"{_BOUND if name in _BOUND_FUNCTIONS else _GLOBAL_FUNCTIONS}.{name}"
        return name
    return _TOKENS.sub(fix, tag)


def _pebble_to_jinja(template: str, functions: frozenset = frozenset()) -> str:
    """Pebble's syntax as Jinja2 reads it ({% raw %} blocks untouched)."""
    out = []
    for i, part in enumerate(_RAW.split(template)):
        if i % 2:
            out.append(part)
            continue
        if "?" in part or "elseif" in part or "contains" in part:
            part = _rewrite_operators(part)
        pieces = _TAG.split(part)
        for j, piece in enumerate(pieces):
            if j % 2:
                out.append(_fix_tag(piece, functions))
            else:   # text between tags keeps its CRs (Jinja2 would normalise them)
                out.append(piece.replace("\r", '{{ "\\r" }}') if "\r" in piece else piece)
    return "".join(out)


# Pebble operators Jinja2 lacks: `a ?? b` (null-coalescing), `a ??? b` (undefined-coalescing),
# `cond ? a : b` (ternary) and `{% elseif %}`. Rewritten with a small scanner that respects
# strings and brackets, because a regex cannot see nesting.

def _scan(expr: str):
    """Yield (index, char) of characters outside string literals and brackets."""
    depth, quote, i = 0, None, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            yield i, ch
        i += 1


def _split_top(expr: str, sep: str) -> list[str]:
    cuts = [i for i, ch in _scan(expr) if ch == sep]
    return [expr[a + 1 if a >= 0 else 0:b] for a, b in zip([-1, *cuts], [*cuts, len(expr)])]


_NAMED_ARG = re.compile(r"^(\s*[A-Za-z_]\w*\s*=)(?!=)(.*)$", re.S)


def _rewrite_groups(expr: str) -> str:
    """Rewrite the operators inside ``(...)`` and ``[...]`` (arguments one by one, named ones too)."""
    out, i, quote = [], 0, None
    while i < len(expr):
        ch = expr[i]
        if quote:
            out.append(ch)
            if ch == "\\" and i + 1 < len(expr):
                out.append(expr[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
            i += 1
            continue
        if ch in "'\"":
            quote = ch
        if ch in "([":
            close = {"(": ")", "[": "]"}[ch]
            depth, j, q = 1, i + 1, None
            while j < len(expr) and depth:
                c = expr[j]
                if q:
                    if c == "\\":
                        j += 1
                    elif c == q:
                        q = None
                elif c in "'\"":
                    q = c
                elif c in "([{":
                    depth += 1
                elif c in ")]}":
                    depth -= 1
                j += 1
            inner = expr[i + 1:j - 1] if depth == 0 else expr[i + 1:]
            if "?" in inner or "contains" in inner:
                pieces = []
                for piece in _split_top(inner, ","):
                    named = _NAMED_ARG.match(piece)
                    pieces.append(named.group(1) + _rewrite_expr(named.group(2)) if named else _rewrite_expr(piece))
                inner = ",".join(pieces)
            out.append(ch + inner + (close if depth == 0 else ""))
            i = j
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_BOUNDARY = re.compile(r"\b(?:and|or|not)\b|[?:,]")


def _rewrite_contains(expr: str) -> str:
    """Pebble's ``a contains b`` (looser than comparisons, tighter than and/or) as ``(b) in (a)``."""
    while True:
        top = dict(_scan(expr))
        at = next((m.start() for m in re.finditer(r"\bcontains\b", expr)
                   if all(i in top for i in range(m.start(), m.end()))), None)
        if at is None:
            return expr
        cuts = [m for m in _BOUNDARY.finditer(expr) if all(i in top for i in range(m.start(), m.end()))]
        start = max((m.end() for m in cuts if m.end() <= at), default=0)
        end = min((m.start() for m in cuts if m.start() >= at + len("contains")), default=len(expr))
        left, right = expr[start:at], expr[at + len("contains"):end]
        expr = f"{expr[:start]} (({right.strip()}) in ({left.strip()})) {expr[end:]}"


def _rewrite_expr(expr: str) -> str:
    if ("?" in expr or "contains" in expr) and ("(" in expr or "[" in expr):
        expr = _rewrite_groups(expr)
    if "contains" in expr:
        expr = _rewrite_contains(expr)
    top = dict(_scan(expr))
    for op, name in (("???", "__undefined_coalesce"), ("??", "__coalesce")):
        cuts, i = [], 0
        while i < len(expr):
            if all(top.get(i + k) == "?" for k in range(len(op))) and top.get(i + len(op)) != "?" \
                    and top.get(i - 1) != "?":
                cuts.append(i)
                i += len(op)
            else:
                i += 1
        if cuts:
            pieces, start = [], 0
            for cut in cuts:
                pieces.append(expr[start:cut])
                start = cut + len(op)
            pieces.append(expr[start:])
            out = f"({_rewrite_expr(pieces[0])})"
            for piece in pieces[1:]:
                out += f" | {name}(({_rewrite_expr(piece)}))"
            return out
    question = next((i for i, ch in top.items() if ch == "?"), None)
    if question is not None:
        pending = 0
        for i, ch in top.items():
            if i <= question:
                continue
            if ch == "?":
                pending += 1
            elif ch == ":":
                if pending == 0:
                    cond, yes, no = expr[:question], expr[question + 1:i], expr[i + 1:]
                    return (f"(({_rewrite_expr(yes)}) if ({_rewrite_expr(cond)}) "
                            f"else ({_rewrite_expr(no)}))")
                pending -= 1
    return expr


def _rewrite_operators(template: str) -> str:
    def expression(m: re.Match) -> str:
        return "{{" + _rewrite_expr(m.group(1)) + "}}"

    def tag(m: re.Match) -> str:
        name, rest = m.group(1), m.group(2)
        name = "elif" if name == "elseif" else name
        return "{%" + m.group(0)[2:m.start(1) - m.start(0)] + name + " " + _rewrite_expr(rest) + m.group(3) + "%}"
    def set_tag(m: re.Match) -> str:
        return m.group(1) + _rewrite_expr(m.group(2)) + "%}"
    template = re.sub(r"\{\{(.*?)\}\}", expression, template, flags=re.S)
    template = re.sub(r"(\{%-?\s*set\s+\w+\s*=)(.*?)%\}", set_tag, template, flags=re.S)
    return re.sub(r"\{%-?\s*(if|elseif|elif)\s(.*?)(-?)%\}", tag, template, flags=re.S)


def _no_read(path: Any = None) -> Any:
    raise ValueError("read() reads internal-storage files during an execution only")


def _coalesce(value: Any, other: Any) -> Any:
    return other if value is None or isinstance(value, jinja2.Undefined) else value


def _undefined_coalesce(value: Any, other: Any) -> Any:
    return other if isinstance(value, jinja2.Undefined) else value


def _template_line(exc: BaseException) -> int:
    """The template line an error happened on (Jinja2 rewrites tracebacks to template lines)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return exc.lineno or 1
    line, tb = 1, exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(exc: BaseException, template: str) -> str:
    """Kestra's wording (VariableRenderer.properPebbleException): a missing variable or attribute is
    "Unable to find `name` used in the expression `...` at line N"; other errors are Pebble's message
    followed by "(template:line)". The template is shown on one line."""
    shown = " ".join(template.strip().splitlines())
    line = _template_line(exc)
    if isinstance(exc, jinja2.UndefinedError):
        m = re.search(r"'([^']+)' is undefined", str(exc)) or re.search(r"has no attribute '([^']+)'", str(exc)) \
            or re.search(r"has no element '?([^']+?)'?$", str(exc))
        if m:
            return f"Unable to find `{m.group(1)}` used in the expression `{shown}` at line {line}"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"Syntax error ({exc.message}) in the expression `{shown}` at line {line}"
    text = str(exc) or type(exc).__name__
    return f"io.pebbletemplates.pebble.error.PebbleException: {text} ({shown}:{line})"


def render(template: str, context: dict, *, generation: int = 2,
           read: Callable[[str], str] | None = None, kv: Any = None) -> str:
    """Render one Pebble template string with ``context`` (inputs, outputs, vars, ...).

    ``read`` implements Kestra's ``read(uri)`` function (internal storage), ``kv`` (a
    ``sandbox.kv.KVStore``) the ``kv()`` function; ``generation`` picks the 1.x or 2.x set of
    filters and functions (``json`` was removed in 2.0).
    """
    if not isinstance(template, str) or not has_expression(template):
        return template
    env = _environment(generation)
    key = (generation, template)
    try:
        cached = _TEMPLATE_CACHE.get(key)
        if cached is None:
            source = _pebble_to_jinja(template, env.pebble_functions)
            # the execution-bound functions are built per call only for templates that call one
            cached = (env.from_string(source), _BOUND + "." in source)
            if len(_TEMPLATE_CACHE) < 4096:
                _TEMPLATE_CACHE[key] = cached
        compiled, uses_bound = cached
        variables = dict(context)
        if uses_bound:
            def render_text(text: str, variables_: dict) -> Any:
                return render(text, variables_, generation=generation, read=read, kv=kv)
            bound = bound_functions(variables, render_text, kv=kv)
            bound["read"] = (lambda path=None: read(to_text(path))) if read is not None else _no_read
            variables[_BOUND] = SimpleNamespace(**bound)
        return compiled.render(variables)
    except ExpressionError:
        raise
    except Exception as exc:  # anything a template can throw becomes one clear message
        raise ExpressionError(_describe(exc, template)) from None


def render_value(value: Any, context: dict, **kw: Any) -> Any:
    """Render every string inside ``value`` (recursively through lists and dicts, keys too)."""
    if isinstance(value, str):
        return render(value, context, **kw)
    if isinstance(value, list):
        return [render_value(v, context, **kw) for v in value]
    if isinstance(value, dict):
        return {render(k, context, **kw) if isinstance(k, str) else k: render_value(v, context, **kw)
                for k, v in value.items()}
    return value


format_java = format_pattern   # used by the serdes tasks


_SINGLE = re.compile(r"\s*\{\{(?P<expr>(?:(?!\{\{|\}\}).)*)\}\}\s*", re.S)


def render_typed(template: Any, context: dict, **kw: Any) -> Any:
    """Kestra's ``renderTyped``: a string that is one ``{{ expression }}`` gives the expression's value
    (a map stays a map, a number a number); anything else renders as text (``render_value``)."""
    m = _SINGLE.fullmatch(template) if isinstance(template, str) else None
    if m is None:
        return render_value(template, context, **kw)
    marker = object()
    box: list = [marker]
    holder = dict(context, __typed_sink=box.append)
    # evaluate through the same renderer (functions, kv, read) and capture the value before printing
    render("{{ __typed_sink(" + m.group("expr").strip() + ") }}", holder, **kw)
    value = box[-1]
    if isinstance(value, jinja2.Undefined):
        return render(template, context, **kw)   # raises Kestra's "Unable to find" error
    return value
