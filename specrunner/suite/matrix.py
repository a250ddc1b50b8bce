"""Matrix cells with GitHub Actions semantics for `include` and `exclude`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

Cell = dict[str, Any]


class TooManyCells(ValueError):
    """The cells a matrix may make are more than the expansion was allowed to make."""

    def __init__(self, bound: int, limit: int) -> None:
        super().__init__(f"the matrix makes up to {bound:,} cells, more than {limit:,}")
        self.bound = bound
        self.limit = limit


def cell_bound(
    matrix: Mapping[str, Sequence[Any]] | None, include: Sequence[Mapping[str, Any]] = ()
) -> int:
    """At least as many as the cells `expand_cells` makes, without making them: the
    product of the value counts (one empty cell without a matrix) plus the includes."""
    matrix = matrix or {}
    if not matrix:
        return len(include) if include else 1
    product = 1
    for values in matrix.values():
        product *= len(values)
    return product + len(include)


def expand_cells(
    matrix: Mapping[str, Sequence[Any]] | None,
    include: Sequence[Mapping[str, Any]] = (),
    exclude: Sequence[Mapping[str, Any]] = (),
    *,
    limit: int | None = None,
) -> list[Cell]:
    """The cells of a scenario, in order.

    The product of the matrix in the order written; `exclude` drops every cell that
    matches one of its partial mappings; then each `include` entry is merged into every
    remaining product cell whose original matrix values it does not contradict (it may
    overwrite values added by earlier includes), or, where it fits no cell, added as a
    cell of its own. Without a matrix or includes there is one empty cell.

    With a `limit`, raises TooManyCells before making anything when the matrix could make
    more cells than that (see `cell_bound`).
    """
    if limit is not None and (bound := cell_bound(matrix, include)) > limit:
        raise TooManyCells(bound, limit)
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
