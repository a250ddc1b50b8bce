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


def repeat_max(value: Any) -> int:
    """The most runs per cell a `repeat` value (checked against the schema) plans."""
    return int(value["max"]) if isinstance(value, dict) else int(value)


def repeat_of(setting: Setting, fail: Fail) -> tuple[int, int | None]:
    """Runs per cell: (every run, None) for an integer, (max, min) for `{min, max}`."""
    value = value_of(setting, 1)
    if not isinstance(value, dict):
        return int(value), None
    most, least = repeat_max(value), int(value.get("min", 1))
    if least > most and setting is not None:
        fail(
            (*setting[1], "min"),
            f"repeat: min {least} is more than max {most}: a cell cannot send more runs "
            "than its most",
        )
        least = most
    return most, least


ExpectLayers = list[tuple[dict[str, Any], JsonPath]]
"""Each `expect` that applies to a scenario, most specific first (its own, then the
defaults'), with where it was written."""


def expectation_of(
    layers: ExpectLayers, repeat: int, sequential: bool, scenario: tuple[JsonPath, str], fail: Fail
) -> Expectation:
    """The verdict rule of each cell: its rule (pass_rate or min_passes) from the first
    `expect` that gives one, its confidence from the first that gives one (a sequential
    scenario's only: the defaults' is left out of others). A `min_passes` above `repeat`
    (the most runs) could never be met."""
    path, name = scenario
    rule = next(((e, p) for e, p in layers if "pass_rate" in e or "min_passes" in e), None)
    confident = next(((e, p) for e, p in layers if "confidence" in e), None)
    confidence = None if confident is None else float(confident[0]["confidence"])
    if confident is not None and confident[1][: len(path)] == path:
        own, where = confident
        if not sequential:
            fail(
                (*where, "confidence"),
                f"confidence is for sequential cells, and scenario {name!r} sends every "
                "run: give its repeat as {min, max}",
            )
        elif "min_passes" in own:
            fail(
                (*where, "confidence"),
                "confidence is for a pass_rate: a min_passes rule is decided exactly",
            )
    if not sequential:
        confidence = None
    if rule is None:
        return Expectation(confidence=confidence)
    values, where = rule
    if "min_passes" in values:
        needed = int(values["min_passes"])
        if needed > repeat:
            runs = f"{repeat} run{'s' if repeat != 1 else ''}"
            each = (
                f"the {runs} each cell of scenario {name!r} sends at most"
                if sequential
                else f"the {runs} of each cell of scenario {name!r}"
            )
            fail(
                (*where, "min_passes"),
                f"min_passes {needed} is more than {each}: the cell could never pass",
            )
        return Expectation(pass_rate=None, min_passes=needed)
    return Expectation(pass_rate=float(values["pass_rate"]), confidence=confidence)


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
