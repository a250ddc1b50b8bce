"""Mutations of a suite: of its data (delete, duplicate, retype, swap, inject, rename) and of
its text (a line doubled or dropped, a tab, a BOM, bytes that are not UTF-8, a cut)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from .hostile import INJECTED

injected_strings = st.one_of(st.sampled_from(INJECTED), st.text(max_size=12))

odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([0, -1, 2**63, 2**63 + 1, -(2**63) - 1, 10**30]),
    st.floats(),
    injected_strings,
    st.lists(st.one_of(st.integers(0, 3), st.text(max_size=3)), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(0, 3), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The path of every value under `node` (not `node` itself)."""
    found = []
    if isinstance(node, dict):
        items: Sequence[tuple[Any, Any]] = list(node.items())
    elif isinstance(node, list):
        items = list(enumerate(node))
    else:
        return []
    for key, value in items:
        found.append((*prefix, key))
        found += _paths(value, (*prefix, key))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    node = data
    for key in path[:-1]:
        node = node[key]
    return node


def _near_miss(draw: st.DrawFn, key: Any) -> Any:
    text = str(key)
    how = draw(st.sampled_from(["drop", "double", "upper", "space", "homoglyph", "other"]))
    if how == "drop" and len(text) > 1:
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + text[at + 1 :]
    if how == "double" and text:
        return text + text[-1]
    if how == "upper":
        return text.upper()
    if how == "space":
        return f" {text}"
    if how == "homoglyph":
        return text.replace("a", "а").replace("e", "е").replace("o", "о")  # Cyrillic
    return draw(injected_strings)


def mutate(draw: st.DrawFn, data: Any) -> tuple[Any, str]:
    """One mutation of `data` (in place, or a new root); what it did."""
    paths = _paths(data)
    how = draw(st.sampled_from(["delete", "duplicate", "retype", "swap", "inject", "rename"]))
    if not paths:
        return draw(odd_values), "replaced the whole document"
    path = draw(st.sampled_from(paths))
    parent = _parent(data, path)
    shown = ".".join(map(str, path))
    if how == "delete":
        del parent[path[-1]]
        return data, f"deleted {shown}"
    if how == "duplicate":
        if isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
            return data, f"duplicated {shown}"
        parent[f"{path[-1]}_"] = copy.deepcopy(parent[path[-1]])
        return data, f"copied {shown} to a new key"
    if how == "retype":
        parent[path[-1]] = draw(odd_values)
        return data, f"retyped {shown}"
    if how == "swap":
        other = draw(st.sampled_from(paths))
        if other[: len(path)] == path or path[: len(other)] == other:
            return data, f"left {shown} (no swap with its own branch)"
        other_parent = _parent(data, other)
        parent[path[-1]], other_parent[other[-1]] = other_parent[other[-1]], parent[path[-1]]
        return data, f"swapped {shown} and {'.'.join(map(str, other))}"
    if how == "inject":
        if isinstance(parent, dict) and draw(st.booleans()):
            parent[draw(injected_strings)] = draw(injected_strings)
            return data, f"added a key beside {shown}"
        parent[path[-1]] = draw(injected_strings)
        return data, f"injected a string at {shown}"
    if isinstance(parent, dict):
        parent[_near_miss(draw, path[-1])] = parent.pop(path[-1])
        return data, f"renamed {shown}"
    return data, f"left {shown} (a list item has no name)"


def damage_text(draw: st.DrawFn, raw: bytes) -> tuple[bytes, str]:
    """One change to the suite's text; what it did."""
    lines = raw.split(b"\n")
    at = draw(st.integers(0, max(0, len(lines) - 1)))
    how = draw(
        st.sampled_from(
            ["dup-line", "drop-line", "tab", "bom", "bom-inside", "bytes", "cut", "yaml-line"]
        )
    )
    if how == "dup-line":  # a key written twice in its mapping, mostly
        lines.insert(at, lines[at])
    elif how == "drop-line":
        del lines[at]
    elif how == "tab":
        lines[at] = b"\t" + lines[at].lstrip(b" ")
    elif how == "bom":
        return b"\xef\xbb\xbf" + raw, "a BOM in front"
    elif how == "bom-inside":
        lines[at] += b"\xef\xbb\xbf"
    elif how == "bytes":
        junk = draw(st.sampled_from([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x00"]))
        lines[at] += junk
    elif how == "cut":
        return raw[: draw(st.integers(0, len(raw)))], "cut short"
    else:
        extra = draw(st.sampled_from([b"---", b"...", b"%YAML 1.1", b"? x", b"<<: *nope", b"&a"]))
        lines.insert(at, extra)
    return b"\n".join(lines), f"{how} at line {at + 1}"
