"""A scenario's settings, each resolved from its value (scenario, or defaults) and checked."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from specrunner.models import Expectation
from specrunner.suite.duration import parse_duration
from specrunner.suite.load import JsonPath
from specrunner.suite.matrix import TooManyCells, expand_cells

if TYPE_CHECKING:
    from specrunner.suite.size import RunCap

DEFAULT_TIMEOUT = 1800.0

Setting = tuple[Any, JsonPath] | None
"""A value and where it was written, or None when neither the scenario nor a default sets it."""

Fail = Callable[[JsonPath, str], None]


def value_of(setting: Setting, default: Any) -> Any:
    return default if setting is None else setting[0]


def timeout_of(setting: Setting, fail: Fail) -> float:
    """Seconds a run may take: the setting, else the built-in 10 minutes."""
    if setting is None:
        return DEFAULT_TIMEOUT
    seconds = parse_duration(setting[0])
    if seconds is None:
        fail(setting[1], f"timeout must be longer than zero, got {setting[0]!r}")
        return DEFAULT_TIMEOUT
    return seconds


def expectation_of(setting: Setting, repeat: int, name: str, fail: Fail) -> Expectation:
    """The verdict rule of each cell; a `min_passes` above `repeat` could never be met."""
    if setting is None:
        return Expectation()
    rule, where = setting
    if "min_passes" in rule:
        needed = int(rule["min_passes"])
        if needed > repeat:
            fail(
                (*where, "min_passes"),
                f"min_passes {needed} is more than the "
                f"{repeat} run{'s' if repeat != 1 else ''} of each cell of scenario "
                f"{name!r}: the cell could never pass",
            )
        return Expectation(pass_rate=None, min_passes=needed)
    return Expectation(pass_rate=float(rule.get("pass_rate", 1.0)))


def cells_of(
    matrix: Setting,
    include: Setting,
    exclude: Setting,
    path: JsonPath,
    name: str,
    fail: Fail,
    limit: RunCap | None = None,
) -> list[dict[str, Any]] | None:
    """The scenario's matrix cells, or None (reported) when `exclude` leaves none or the
    matrix could make more cells than `limit` allows (then nothing is expanded)."""
    try:
        cells = expand_cells(
            value_of(matrix, None),
            value_of(include, []),
            value_of(exclude, []),
            limit=None if limit is None else limit.cell_limit,
        )
    except TooManyCells as error:
        assert limit is not None
        fail(matrix[1] if matrix is not None else path, limit.too_many_cells(name, error.bound))
        return None
    if not cells:
        where = exclude[1] if exclude is not None else path
        fail(
            where,
            f"scenario {name!r} has no cells left: `exclude` drops every cell of its matrix",
        )
        return None
    return cells
