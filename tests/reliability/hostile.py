"""Hostile YAML and JSON, as Hypothesis strategies shared by the hostile-input tests (issue 20)."""
from __future__ import annotations

from hypothesis import strategies as st

FLOW_HEAD = "id: hostile\nnamespace: {ns}\ntasks:\n  - id: t\n    type: io.kestra.plugin.core.log.Log\n    message: hi\n"


def alias_bomb(levels: int = 8, fan: int = 9) -> str:
    """The issue's billion-laughs flow: ``levels`` lists of ``fan`` aliases to the previous one."""
    lines = ['variables:', '  l0: &l0 ["lol"]']
    lines += [f"  l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fan)}]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def deep_nesting(depth: int, kind: str) -> str:
    """``depth`` nested collections: flow ``[``/``{``, block sequences/mappings; ``unclosed`` flow ``[``."""
    if kind == "flow-seq":
        return "variables:\n  x: " + "[" * depth + "]" * depth + "\n"
    if kind == "flow-map":
        return "variables:\n  x: " + "{a: " * depth + "1" + "}" * depth + "\n"
    if kind == "unclosed":
        return "variables:\n  x: " + "[" * depth + "\n"
    if kind == "block-seq":
        return "variables:\n  x:\n" + "    " + "- " * depth + "x\n"
    return "variables:\n" + "".join(" " * (2 + i) + "a:\n" for i in range(depth)) + " " * (2 + depth) + "x\n"


ODD_CHARS = ["\t", "\x00", "\x01", "\x7f", "\ufeff", "\x85", "\u2028", "\ud800", "\udfff", "\r", "\r\n",
             "\U0001f600", "\u0301", "&", "*", "!", "!!python/object:os.system", "%", "@", "`", "|", ">",
             "? ", ": ", "- ", "---\n", "...\n", "'", '"', "{", "}", "[", "]", "#", "\\", "<<: ", "!!binary ",
             "!!set ", "!!timestamp ", "&a ", "*a ", "~", "0x1F", "1e999", ".nan"]


@st.composite
def odd_text(draw) -> str:
    """A short text made of YAML-significant and unusual characters (tabs, BOMs, NULs, surrogates)."""
    parts = draw(st.lists(st.one_of(st.sampled_from(ODD_CHARS), st.text(max_size=8)), max_size=30))
    return "".join(parts)


def encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-8-bom":
        return "\ufeff".encode() + text.encode("utf-8", "surrogatepass")
    if encoding == "latin-1":
        return text.encode("latin-1", "replace")
    return text.encode(encoding, "surrogatepass")


ODD_VALUES = ["2020-13-45", "2020-02-30 10:00:00", "!!int x", "!!float x", "!!timestamp x", "!!bool maybe",
              "9" * 5000, "0x" + "f" * 9000, "0b" + "1" * 20_000, "-" + "9" * 4301, "1e99999", ".inf", ".nan",
              "!!set {a, b}", "!!binary aGVsbG8=", "!!binary '@@@'", "!!omap [a: 1, b: 2]", "!!pairs [a: 1, a: 2]",
              "{? [a]: 1}", "{a: 1, a: 2}", "!!null x", "!!str", "!!map [1]", "!!seq {a: 1}", "!!python/name:os.system",
              "{<<: [1, 2]}", "{<<: x}", "&x {<<: *x}", "2001-12-14t21:59:43.10-05:00", "!!merge x", "!!value x",
              "!custom x", "!<tag:example.com,2000:x> y", "%TAG ! tag:x\n", "'\u0000'", '"\x00\ud800\U0010ffff"']


@st.composite
def hostile_yaml(draw) -> tuple[str, str]:
    """(kind, YAML text after the flow's head) — a hostile part a flow may carry."""
    kind = draw(st.sampled_from(["bomb", "deep", "huge", "odd", "anchors", "value"]))
    if kind == "bomb":
        return kind, alias_bomb(draw(st.integers(6, 10)), draw(st.integers(8, 12)))
    if kind == "deep":
        shape = draw(st.sampled_from(["flow-seq", "flow-map", "unclosed", "block-seq", "block-map"]))
        return kind, deep_nesting(draw(st.integers(60, 20_000)), shape)
    if kind == "huge":
        size = draw(st.sampled_from([100_000, 1_000_000, 3 * 1024 * 1024 + 1]))
        return kind, "variables:\n  big: " + draw(st.sampled_from("xé€")) * size + "\n"
    if kind == "anchors":   # legitimate: a few anchors, reused a few times
        n = draw(st.integers(1, 20))
        return kind, "variables:\n  base: &b {retries: 3, env: [a, b]}\n" + "".join(
            f"  v{i}: *b\n" for i in range(n))
    if kind == "value":
        return kind, "variables:\n  x: " + draw(st.sampled_from(ODD_VALUES)) + "\n"
    return kind, "variables:\n  x: " + draw(odd_text()) + "\n"


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda kids: st.one_of(st.lists(kids, max_size=4),
                                                                  st.dictionaries(st.text(max_size=8), kids,
                                                                                  max_size=4)),
                           max_leaves=12)


JSON_KINDS = ("deep", "deep-object", "bigint", "nan", "value", "not-json", "bad-utf8")


@st.composite
def hostile_json(draw, kinds=JSON_KINDS) -> bytes:
    """A request body a JSON endpoint may get: deep nesting, huge numbers, NaN, wrong shapes, non-JSON."""
    import json
    kind = draw(st.sampled_from(kinds))
    if kind == "deep":
        n = draw(st.integers(500, 50_000))
        return ("[" * n + "]" * n).encode()
    if kind == "deep-object":
        n = draw(st.integers(500, 50_000))
        return ('{"a":' * n + "1" + "}" * n).encode()
    if kind == "bigint":
        return ("[" + "9" * draw(st.integers(4000, 20_000)) + "]").encode()
    if kind == "nan":
        return draw(st.sampled_from([b"[NaN]", b"Infinity", b'{"key": -Infinity, "value": NaN}', b"1e999"]))
    if kind == "value":
        return json.dumps(draw(json_values)).encode()
    if kind == "bad-utf8":
        return draw(st.sampled_from([b"\xff\xfe[]", b'["\xc3\x28"]', b"\xef\xbb\xbf[]", b'["\xed\xa0\x80"]']))
    return encode(draw(odd_text()), "utf-8")
