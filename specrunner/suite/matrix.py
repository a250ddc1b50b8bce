"""Matrix cells with GitHub Actions semantics for `include` and `exclude`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

Cell = dict[str, Any]


def expand_cells(
    matrix: Mapping[str, Sequence[Any]] | None,
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
) -> list[Cell]:
    """The cells of a scenario, in order.

    The product of the matrix in the order written; `exclude` drops every cell that
    matches one of its partial mappings; then each `include` entry is merged into every
    remaining product cell whose original matrix values it does not contradict (it may
    overwrite values added by earlier includes), or, where it fits no cell, added as a
    cell of its own. Without a matrix or includes there is one empty cell.
    """
    matrix = matrix or {}
    names = list(matrix)
    if names:
        cells = [
            dict(zip(names, values, strict=True))
            for values in itertools.product(*(matrix[n] for n in names))
        ]
    else:
        cells = [] if include else [{}]
    cells = [c for c in cells if not any(_matches(c, rule) for rule in exclude)]
    originals = set(names)
    extra: list[Cell] = []
    for entry in include:
        fitted = False
        for cell in cells:
            if all(same(cell[k], v) for k, v in entry.items() if k in originals):
                cell.update(entry)
                fitted = True
        if not fitted:
            extra.append(dict(entry))
    return cells + extra


def _matches(cell: Mapping[str, Any], rule: Mapping[str, Any]) -> bool:
    return all(key in cell and same(cell[key], value) for key, value in rule.items())


def same(a: Any, b: Any) -> bool:
    """Equal as JSON values: `1`, `1.0`, `true` and `"1"` are four different values."""
    if a == b and type(a) is type(b) and not isinstance(a, dict | list):
        return True
    return canonical(a) == canonical(b)


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cell_label(cell: Mapping[str, Any]) -> str:
    """`locale=en-US size=small`, or `-` for the empty cell."""
    if not cell:
        return "-"
    return " ".join(f"{k}={_scalar(v)}" for k, v in cell.items())


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
