"""YAML loading with Kestra's own limits, shared by the sandbox and the ``%%kestra_flow`` check.

Kestra reads a flow with SnakeYAML's default ``LoaderOptions`` (kestra-io/kestra
core/src/main/java/io/kestra/core/serializers/YamlParser.java, ``parseAnchorAndAlias``:
``new Yaml().load(input)``), whose defaults are (snakeyaml/snakeyaml
src/main/java/org/yaml/snakeyaml/LoaderOptions.java): ``maxAliasesForCollections = 50``,
``nestingDepthLimit = 50``, ``codePointLimit = 3 * 1024 * 1024``. SnakeYAML's ``Composer``
counts every alias to a sequence or mapping (not to a scalar) and refuses the 51st; it refuses a
node with more than 50 enclosing nodes. This module applies the same three limits, plus two
Python needs: Java keeps an aliased node shared, while everything here that walks a flow (JSON
conversion, storage, the engine) expands it, so what aliases add to the flow is capped
(``MAX_ALIAS_EXPANSION``; measured: 3 M characters of expansion from 1 KB of text kept the
sandbox busy 10 s, the cap keeps that under a second), and an alias inside its own anchor (a
recursive structure) is refused. Depth is counted with aliases expanded.

Speed: libyaml's scanner and parser (PyYAML's ``CParser``) feed PyYAML's pure-Python composer,
which is where the limits are counted (libyaml's own composer has no hook and recurses without
bound): ~1.6x ``CSafeLoader``'s time, 3-5x faster than ``SafeLoader`` (``bench/yaml_load.py``).
"""
from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import ScalarNode
from yaml.resolver import BaseResolver, Resolver

MAX_CODE_POINTS = 3 * 1024 * 1024     # SnakeYAML LoaderOptions.codePointLimit (3 MB)
MAX_COLLECTION_ALIASES = 50           # SnakeYAML LoaderOptions.maxAliasesForCollections
MAX_DEPTH = 50                        # SnakeYAML LoaderOptions.nestingDepthLimit
# what aliases add, summed over every *alias: characters of scalar values + 1 per node of what
# it refers to (kestra-magic's own limit, in the sandbox and the cell check alike; a few anchors
# reused a few times stay far below it)
MAX_ALIAS_EXPANSION = 256 * 1024

try:      # libyaml is part of PyYAML's wheels; without it only speed differs, never the result
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _ParserOnly
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, _ParserOnly):  # type: ignore[no-redef]
        def __init__(self, stream):
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            _ParserOnly.__init__(self)


class YamlLimitError(yaml.MarkedYAMLError):
    """The YAML exceeds one of the limits above (a ``YAMLError``, so callers need no new branch).

    ``problem`` is one line naming the limit and how to change the flow; ``limit`` its name.
    """

    def __init__(self, limit: str, problem: str, mark=None):
        super().__init__(problem=problem, problem_mark=mark)
        self.limit = limit


def _too_deep(mark) -> YamlLimitError:
    return YamlLimitError(
        "depth", f"the YAML nests deeper than {MAX_DEPTH} levels (Kestra's nesting-depth limit, "
        f"SnakeYAML nestingDepthLimit): flatten the structure, e.g. move deep data into a "
        f"namespace file or a JSON string", mark)


class _LimitedComposer(Composer):
    """PyYAML's composer, counting collection aliases, depth and expanded size as it goes."""

    def __init__(self) -> None:
        super().__init__()
        self._aliases = 0
        self._expansion = 0
        self._depth = 0                        # collections enclosing the node being composed
        self._children: list[list[int]] = []   # per open node: [expanded size, height] of its children
        self._measured: dict[int, tuple[int, int]] = {}   # id(anchored node) -> (size, height)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            node = super().compose_node(parent, index)      # raises on an undefined alias
            size, height = self._alias(node, event)
        else:
            if self._depth > MAX_DEPTH:
                raise _too_deep(event.start_mark)
            self._depth += 1
            self._children.append([0, -1])
            try:
                node = super().compose_node(parent, index)
            finally:
                self._depth -= 1
                child_size, child_height = self._children.pop()
            if isinstance(node, ScalarNode):
                size, height = len(node.value) + 1, 0
            else:
                size, height = 1 + child_size, child_height + 1
            if event.anchor is not None:
                self._measured[id(node)] = (size, height)
        if self._children:
            top = self._children[-1]
            top[0] += size
            top[1] = max(top[1], height)
        return node

    def _alias(self, node, event) -> tuple[int, int]:
        """(expanded size, height) of an aliased node, after the alias, recursion and size checks."""
        if isinstance(node, ScalarNode):
            return self._expand(len(node.value) + 1, event), 0
        self._aliases += 1
        if self._aliases > MAX_COLLECTION_ALIASES:
            raise YamlLimitError(
                "aliases", f"the YAML has more than {MAX_COLLECTION_ALIASES} aliases (*name) to lists or "
                f"mappings (Kestra's limit, SnakeYAML maxAliasesForCollections): write the repeated "
                f"part once, e.g. in pluginDefaults or a subflow", event.start_mark)
        measured = self._measured.get(id(node))
        if measured is None:
            raise YamlLimitError(
                "recursion", f"the alias *{event.anchor} is inside the node &{event.anchor} it refers to "
                f"(a recursive structure, which a flow cannot be): refer to it from outside", event.start_mark)
        size, height = measured
        if self._depth + height > MAX_DEPTH:
            raise YamlLimitError(
                "depth", f"with the alias *{event.anchor} expanded the YAML nests deeper than {MAX_DEPTH} "
                f"levels (Kestra's nesting-depth limit): flatten the structure", event.start_mark)
        return self._expand(size, event), height

    def _expand(self, size: int, event) -> int:
        self._expansion += size
        if self._expansion > MAX_ALIAS_EXPANSION:
            raise YamlLimitError(
                "alias-expansion", f"the YAML's aliases (*name) expand to more than {MAX_ALIAS_EXPANSION} "
                f"characters (kestra-magic's limit: Python copies what an alias refers to): write the "
                f"repeated part once, e.g. in pluginDefaults or a subflow", event.start_mark)
        return size


class _Constructor(SafeConstructor):
    """PyYAML's safe constructor, whose plain Python errors on a bad value (``2020-13-45``, an
    int of 5,000 digits, ``!!int x``) become a ``ConstructorError`` at the value's line."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, AttributeError, OverflowError, KeyError) as exc:
            value = node.value if isinstance(node, ScalarNode) else ""
            shown = value if len(value) <= 40 else value[:40] + "..."
            raise ConstructorError(None, None, f"cannot read the value `{shown}` as "
                                   f"{node.tag.rsplit(':', 1)[-1]}: {str(exc).split(';')[0]}",
                                   node.start_mark) from None

    def construct_yaml_int(self, node):
        """An int, refused when Python could not print it (more digits than ``sys.int_info``'s
        limit; a hex or binary literal is not limited while read, only when written as JSON)."""
        value = super().construct_yaml_int(node)
        limit = getattr(sys, "get_int_max_str_digits", lambda: 0)()   # 0: no limit (Python < 3.11)
        if limit and value.bit_length() > limit * 3.32:
            raise ValueError(f"more than {limit} digits")
        return value

    def construct_yaml_set(self, node):
        """A list of the members: a set is a JSON array in Kestra (Jackson writes SnakeYAML's Set so)."""
        data: list = []
        yield data
        data.extend(self.construct_mapping(node))

    def construct_yaml_binary(self, node):
        """The base64 text: Jackson writes SnakeYAML's byte[] as base64 (bad base64 still fails)."""
        import base64
        return base64.b64encode(super().construct_yaml_binary(node)).decode("ascii")


_Constructor.add_constructor("tag:yaml.org,2002:int", _Constructor.construct_yaml_int)
_Constructor.add_constructor("tag:yaml.org,2002:set", _Constructor.construct_yaml_set)
_Constructor.add_constructor("tag:yaml.org,2002:binary", _Constructor.construct_yaml_binary)


@lru_cache(maxsize=None)
def _loader(resolver: type[BaseResolver]) -> type:
    class Loader(_LimitedComposer, _Parser, _Constructor, resolver):  # type: ignore[valid-type,misc]
        def __init__(self, stream: str):
            _Parser.__init__(self, stream)
            _LimitedComposer.__init__(self)
            _Constructor.__init__(self)
            resolver.__init__(self)
    return Loader


def load(text: str, *, resolver: type[BaseResolver] = Resolver) -> Any:
    """One YAML document as Python data (PyYAML's safe types), within Kestra's limits.

    Raises ``yaml.YAMLError``: a syntax error as PyYAML reports it (``problem_mark`` where the
    parser gave up, ``context_mark`` where the construct it was reading began), or a
    :class:`YamlLimitError`. ``resolver`` sets how plain scalars are typed (PyYAML's default:
    YAML 1.1, as ``yaml.safe_load``).
    """
    if len(text) > MAX_CODE_POINTS:
        raise YamlLimitError(
            "size", f"the YAML is {len(text)} characters, more than {MAX_CODE_POINTS} (Kestra's 3 MB "
            f"document-size limit, SnakeYAML codePointLimit): move large scripts or data into "
            f"namespace files")
    try:
        loader = _loader(resolver)(text)   # libyaml reads UTF-8: a lone surrogate cannot be encoded
    except UnicodeEncodeError as exc:
        raise yaml.reader.ReaderError("<unicode string>", exc.start, ord(text[exc.start]), None,
                                      "lone surrogates are not allowed") from None
    try:
        return loader.get_single_data()
    except yaml.scanner.ScannerError as exc:
        # newer libyaml builds (PyYAML 6.0.4 wheels) stop at their own flow-nesting cap (1000) while
        # scanning, before the composer counts depth: the same limit, named the same way
        if "maximum nesting depth" in str(exc.problem):
            raise _too_deep(exc.problem_mark) from None
        raise
    finally:
        loader.dispose()
