"""Deep merges: of compiled payload trees (defaults under scenarios) and of rendered vars."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from specrunner.suite.template import Const, MappingNode, Node, mapping_node


def merge_nodes(base: Node, over: Node) -> Node:
    """Deep-merge two compiled mappings; anything that is not a mapping replaces."""
    base_items, over_items = _entries(base), _entries(over)
    if base_items is None or over_items is None:
        return over
    merged = dict(base_items)
    for key, node in over_items:
        merged[key] = merge_nodes(merged[key], node) if key in merged else node
    return mapping_node(tuple(merged.items()))


def _entries(node: Node) -> list[tuple[str, Node]] | None:
    if isinstance(node, MappingNode):
        return list(node.items)
    if isinstance(node, Const) and isinstance(node.value, dict):
        shown = node.display if isinstance(node.display, dict) else {}
        return [
            (k, Const(v, shown.get(k, v) if node.tainted else v)) for k, v in node.value.items()
        ]
    return None


def deep_merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = deep_merge(dict(result[key]), value)
        else:
            result[key] = value
    return result
