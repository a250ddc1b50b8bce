"""Read a suite file into plain data plus an index from JSON path to file:line:col.

This is the only YAML reader in specrunner. It composes the node graph with PyYAML's safe
loader and builds the data itself, so that every value keeps its position, duplicate keys
are reported instead of silently overwritten, and only JSON-compatible values come out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from specrunner.errors import Diagnostic, SuiteError
from specrunner.suite.yaml_hints import TEMPLATE_KEY, syntax_diagnostic

JsonPath = tuple[str | int, ...]

# Limits on one file, so that alias bombs and deep nesting fail fast and clearly (each is
# documented in docs/suite-format.md, "Limits"). The values and the characters count the
# document once its aliases are expanded: an alias counts its anchor's whole value again.
MAX_NODES = 500_000
MAX_TEXT = 10_000_000  # characters of text (scalars and keys)
MAX_DEPTH = 64
# Integers must lie in -MAX_INT..MAX_INT; longer text is refused before it is converted.
MAX_INT = 2**63
_MAX_INT_TEXT = 100

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _SuiteLoader(_Loader):  # type: ignore[valid-type,misc]
    """Safe loading without implicit timestamps: dates stay strings, as in JSON."""


_SuiteLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_INVALID = object()  # a scalar whose problem is already reported
_EMPTY = "the file is empty; expected a suite mapping with version, name, rooms and scenarios"


@dataclass(frozen=True, slots=True)
class Document:
    """A loaded suite: its data and where each value and key stands in the file."""

    path: str
    data: Any
    values: dict[JsonPath, tuple[int, int]] = field(repr=False)
    keys: dict[JsonPath, tuple[int, int]] = field(repr=False)

    def locate(self, path: JsonPath) -> tuple[int, int]:
        """Line and column of the value at `path`, or of its nearest located ancestor."""
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return found
        return (1, 1)

    def locate_key(self, path: JsonPath) -> tuple[int, int]:
        """Line and column of the mapping key that holds `path`, else of the value."""
        return self.keys.get(path) or self.locate(path)

    def diagnostic(self, path: JsonPath, message: str, *, at_key: bool = False) -> Diagnostic:
        line, col = self.locate_key(path) if at_key else self.locate(path)
        return Diagnostic(self.path, line, col, message)


def load_suite(path: str | Path) -> Document:
    """Load one suite file; raise SuiteError with every problem found while reading it."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise SuiteError([Diagnostic(shown, 1, 1, "no such file")]) from None
    except IsADirectoryError:
        raise SuiteError([Diagnostic(shown, 1, 1, "is a directory, not a YAML file")]) from None
    except OSError as exc:
        raise SuiteError([Diagnostic(shown, 1, 1, f"cannot read: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SuiteError([Diagnostic(shown, line, 1, "not valid UTF-8 text")]) from None
    return load_text(text, shown)


def load_text(text: str, path: str = "<suite>") -> Document:
    try:
        _check_shape(text, path)
        node = yaml.compose(text, Loader=_SuiteLoader)
    except yaml.MarkedYAMLError as exc:
        raise SuiteError([_syntax_diagnostic(path, exc, text)]) from None
    except yaml.YAMLError as exc:
        raise SuiteError([Diagnostic(path, 1, 1, f"YAML error: {exc}")]) from None
    if node is None:
        raise SuiteError([Diagnostic(path, 1, 1, _EMPTY)])
    builder = _Builder(path)
    data = builder.build(node, ())
    if builder.problems:
        raise SuiteError(builder.problems)
    if data is None:  # only `---`, or an explicit null
        raise SuiteError([Diagnostic(path, 1, 1, _EMPTY)])
    return Document(path, data, builder.values, builder.keys)


@dataclass(slots=True)
class _Open:
    """A mapping or list being read: its anchor, and the counts when it started."""

    anchor: str | None
    nodes: int
    text: int
    height: int = 1


@dataclass(frozen=True, slots=True)
class _Size:
    """What an anchored value adds each time an alias repeats it."""

    nodes: int
    text: int
    height: int


def _check_shape(text: str, path: str) -> None:
    """Refuse, before composing, deep nesting, recursive aliases and alias bombs.

    One pass over the parser's events (which recurse nowhere) counts the document as if
    its aliases were expanded: values, characters of text and nesting depth. The first
    place a limit is passed is the one problem reported.
    """
    sizes: dict[str, _Size] = {}
    stack: list[_Open] = []
    nodes = chars = 0

    def refuse(event: yaml.Event, message: str) -> SuiteError:
        mark = event.start_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return SuiteError([Diagnostic(path, line, col, message)])

    for event in yaml.parse(text, Loader=_SuiteLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise refuse(event, _too_deep())
            nodes += 1
            stack.append(_Open(event.anchor, nodes - 1, chars))
            alias = ""
        elif isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if stack:
                stack[-1].height = max(stack[-1].height, done.height + 1)
            if done.anchor is not None:
                sizes[done.anchor] = _Size(nodes - done.nodes, chars - done.text, done.height)
        elif isinstance(event, yaml.ScalarEvent):
            nodes += 1
            chars += len(event.value)
            if event.anchor is not None:
                sizes[event.anchor] = _Size(1, len(event.value), 0)
            alias = ""
        elif isinstance(event, yaml.AliasEvent):
            if any(open_.anchor == event.anchor for open_ in stack):
                raise refuse(
                    event,
                    f"the alias *{event.anchor} is inside the value it names (a recursive alias)",
                )
            size = sizes.get(event.anchor or "")
            if size is None:
                continue  # an undefined alias: composing reports it
            if len(stack) + size.height > MAX_DEPTH:
                raise refuse(
                    event,
                    f"the alias *{event.anchor} nests lists and mappings more than "
                    f"{MAX_DEPTH} levels deep",
                )
            if stack:
                stack[-1].height = max(stack[-1].height, size.height + 1)
            nodes += size.nodes
            chars += size.text
            alias = event.anchor or ""
        else:
            continue
        if nodes > MAX_NODES or chars > MAX_TEXT:
            raise refuse(event, _too_big(alias, nodes))


def _too_deep() -> str:
    return f"lists and mappings nested more than {MAX_DEPTH} levels deep"


def _too_big(alias: str, nodes: int) -> str:
    passed = f"{MAX_NODES:,} values" if nodes > MAX_NODES else f"{MAX_TEXT:,} characters"
    if alias:
        return (
            f"the document expands to more than {passed} at the alias *{alias} "
            "(each alias counts as a copy of its anchor's value; too many aliases?)"
        )
    return f"the document holds more than {passed} (the limit is passed here)"


def _syntax_diagnostic(path: str, exc: yaml.MarkedYAMLError, text: str) -> Diagnostic:
    if exc.problem == "exceeded maximum nesting depth":
        # libyaml's own limit (1,000 levels), met while it reads ahead of the events.
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return Diagnostic(path, line, col, _too_deep())
    return syntax_diagnostic(path, exc, text)


def _pos(node: yaml.Node) -> tuple[int, int]:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.values: dict[JsonPath, tuple[int, int]] = {}
        self.keys: dict[JsonPath, tuple[int, int]] = {}
        self.problems: list[Diagnostic] = []
        self.count = 0
        self._constructor = yaml.SafeLoader("")

    def problem(self, node: yaml.Node, message: str, hint: str = "") -> None:
        line, col = _pos(node)
        self.problems.append(Diagnostic(self.path, line, col, message, hint=hint))

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.problem(
                    node,
                    f"the document expands to more than {MAX_NODES:,} values (too many aliases?)",
                )
            return None
        self.values.setdefault(path, _pos(node))
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node)
        if isinstance(node, yaml.SequenceNode):
            self.check_tag(node, "tag:yaml.org,2002:seq")
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            self.check_tag(node, "tag:yaml.org,2002:map")
            return self.mapping(node, path)
        self.problem(node, "unsupported YAML node")  # pragma: no cover - PyYAML has no others
        return None

    def check_tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            self.problem(node, _unsupported_tag(node.tag))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        value = self.checked_scalar(node)
        return None if value is _INVALID else value

    def checked_scalar(self, node: yaml.ScalarNode) -> Any:
        """The scalar's value, or _INVALID once its problem is reported."""
        if node.tag not in _SCALAR_TAGS:
            self.problem(node, _unsupported_tag(node.tag))
            return _INVALID
        kind = node.tag.removeprefix("tag:yaml.org,2002:")
        if kind == "int" and len(node.value) > _MAX_INT_TEXT:
            self.problem(node, _out_of_range(node.value))
            return _INVALID
        try:
            value = self._constructor.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, KeyError, TypeError, OverflowError):
            self.problem(node, f"{_shorten(node.value)!r} is not a valid !!{kind}")
            return _INVALID
        if isinstance(value, float) and not math.isfinite(value):
            self.problem(node, f"{_shorten(node.value)!r} is not a finite number")
            return _INVALID
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            self.problem(node, _out_of_range(node.value))
            return _INVALID
        return value

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in self.own_pairs(node, first_seen):
            key = self.key(key_node, in_flow=bool(node.flow_style))
            if key is None:
                continue
            child = (*path, key)
            self.keys.setdefault(child, _pos(key_node))
            result[key] = self.build(value_node, child)
        return result

    def own_pairs(
        self, node: yaml.MappingNode, first_seen: dict[str, yaml.Node]
    ) -> Iterator[tuple[yaml.Node, yaml.Node]]:
        """The node's pairs, merge keys (`<<`) first so the node's own keys override them."""
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        own: list[tuple[yaml.Node, yaml.Node]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.extend(self.merge_sources(value_node))
                continue
            if isinstance(key_node, yaml.ScalarNode):
                earlier = first_seen.get(key_node.value)
                if earlier is not None:
                    self.problem(
                        key_node,
                        f"duplicate key {key_node.value!r} (first defined "
                        f"at line {earlier.start_mark.line + 1})",
                    )
                    continue
                first_seen[key_node.value] = key_node
            own.append((key_node, value_node))
        own_keys = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
        seen_merged: set[str] = set()
        for key_node, value_node in merged:
            name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if name in own_keys or name in seen_merged:
                continue
            if name is not None:
                seen_merged.add(name)
            yield key_node, value_node
        yield from own

    def merge_sources(self, value: yaml.Node) -> list[tuple[yaml.Node, yaml.Node]]:
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        pairs: list[tuple[yaml.Node, yaml.Node]] = []
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                self.problem(source, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            pairs.extend(self.own_pairs(source, {}))
        return pairs

    def key(self, node: yaml.Node, *, in_flow: bool = False) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            # `key: {{ vars.x }}` reads as a mapping whose key is a mapping: an unquoted
            # template, the usual way to get here.
            template = in_flow and isinstance(node, yaml.MappingNode) and node.flow_style
            self.problem(
                node,
                "a mapping key must be a plain string, not a list or mapping",
                TEMPLATE_KEY if template else "",
            )
            return None
        if node.tag == "tag:yaml.org,2002:str":
            return str(node.value)
        value = self.checked_scalar(node)
        if value is _INVALID:
            return None
        if isinstance(value, bool) or value is None:
            self.problem(
                node,
                f"the key {node.value!r} reads as {_yaml_name(value)}; "
                f'quote it ("{node.value}") to use it as a name',
            )
            return None
        return str(node.value)


def _out_of_range(text: str) -> str:
    return (
        f"the integer {_shorten(text)} is out of range; a suite's integers lie between "
        "-2**63 and 2**63"
    )


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else f"{text[: width - 3]}..."


def _unsupported_tag(tag: str) -> str:
    shown = (
        "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org,") else tag
    )
    return (
        f"unsupported YAML tag {shown}; a suite holds only mappings, lists, strings, "
        "numbers, booleans and null"
    )


def _yaml_name(value: object) -> str:
    if value is None:
        return "null"
    return "true" if value else "false"
