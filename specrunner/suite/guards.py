"""The checks around everything a template calls: each filter, test, `str` method and
operator is charged to the render's work `Budget`, and anything that could make a value
far larger than its inputs (a separator joined a million times, a replacement inserted
between every character, a format with a thousand fields) is sized before it runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from jinja2.exceptions import SecurityError
from jinja2.utils import _PassArg

from specrunner.suite.bounds import (
    ITEMS_PER_STEP,
    MAX_RENDERED_SIZE,
    Budget,
    check_int_power,
    check_int_product,
    check_size,
    format_size,
    indented_size,
    refuse_above,
    rendered_size,
    replace_size,
)


class Guarded(Protocol):
    """What the guards need of the sandbox: the render's budget, and where to note secrets."""

    budget: Budget

    def note(self, value: Any) -> Any: ...


# Steps each filter is charged per item (or character) of its input, measured on this
# project's machine so that a step is about a microsecond or less: copies and scans done in
# C cost 1/16, Python code run once per item costs up to 8. Unlisted filters cost 1/16.
_ITEM_COST: dict[str, float] = {
    "groupby": 8,
    "rejectattr": 4,
    "selectattr": 4,
    "pprint": 2,
    "urlencode": 2,
    "urlize": 2,
    "xmlattr": 2,
    "dictsort": 2,
    "map": 2,
    "reject": 2,
    "select": 2,
    "sort": 2,
    "wordwrap": 2,
    "batch": 1 / 4,
    "items": 1 / 4,
    "join": 1 / 4,
    "max": 1 / 4,
    "min": 1 / 4,
    "string": 1 / 4,
    "striptags": 1 / 4,
    "title": 1 / 4,
    "tojson": 1 / 4,
    "unique": 1 / 4,
    "wordcount": 1 / 4,
}
# Filters that never turn a list or mapping into text, so need not size it first: the others
# (`string`, `tojson`, `upper`, ...) could turn a small value that repeats one list a
# million times into a huge text.
_KEEPING = frozenset(
    {
        "abs",
        "attr",
        "batch",
        "count",
        "d",
        "default",
        "dictsort",
        "first",
        "float",
        "groupby",
        "int",
        "items",
        "last",
        "length",
        "list",
        "map",
        "max",
        "min",
        "random",
        "reject",
        "rejectattr",
        "reverse",
        "round",
        "select",
        "selectattr",
        "slice",
        "sort",
        "sum",
        "unique",
    }
)
CALL_STEPS = 2
"""Steps each call of a filter or test is charged, besides the items it goes through (a
call through Jinja and these guards takes a microsecond or two)."""

# Filters with a size argument: refused above MAX_RENDERED_SIZE before they run.
_SIZED = frozenset({"batch", "center", "format", "indent", "slice", "truncate", "wordwrap"})


def size_of(value: Any) -> int:
    """A container's or string's length, without walking it (0 for anything else)."""
    if isinstance(value, str | list | tuple | dict | range):
        return len(value)
    return 0


def refuse_large_numbers(args: tuple[Any, ...], kwargs: Mapping[str, Any], what: str) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_RENDERED_SIZE:
            raise SecurityError(f"{what} with a size over {MAX_RENDERED_SIZE:,} would be too large")


def guard_filter(name: str, function: Callable[..., Any], sandbox: Guarded) -> Callable[..., Any]:
    """`function` (the filter `name`), charged, sized, and watched for secrets."""
    skip = 0 if _PassArg.from_obj(function) is None else 1  # the context or environment
    cost = _ITEM_COST.get(name, 1 / ITEMS_PER_STEP)
    keeping = name in _KEEPING
    sized = name in _SIZED
    bounded = _BOUNDS.get(name)
    what, given, made = (
        f"the {name!r} filter",
        f"the input of the {name!r} filter",
        f"the result of the {name!r} filter",
    )

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = sandbox.budget
        values = args[skip:]
        note = sandbox.note
        for value in values:
            note(value)
        for value in kwargs.values():
            note(value)
        budget.charge(CALL_STEPS + int(size_of(values[0]) * cost) if values else CALL_STEPS)
        if sized:
            refuse_large_numbers(values[1:], kwargs, what)
        if not keeping:
            for value in (*values, *kwargs.values()):
                if not isinstance(value, str):
                    check_size(value, budget, given)
        if bounded is not None and values:
            args = (*args[:skip], bounded(budget, *values, **kwargs), *values[1:])
        result = function(*args, **kwargs)
        if isinstance(result, str):
            refuse_above(len(result), made)
            budget.charge_size(len(result))
        return sandbox.note(result)

    return guarded


def guard_test(function: Callable[..., Any], sandbox: Guarded) -> Callable[..., Any]:
    skip = 0 if _PassArg.from_obj(function) is None else 1

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        values = args[skip:]
        size = 0
        for value in values:
            sandbox.note(value)
            size += size_of(value)
        sandbox.budget.charge(CALL_STEPS + size // ITEMS_PER_STEP)
        return function(*args, **kwargs)

    return guarded


# ---- filters that can make their result much larger than their input -------------------
# Each takes the filter's arguments (named as the filter names them), checks the size the
# result would have, and returns the value to call the filter on (an iterable is made a
# list first, so that it can be sized and still be used).


def _join(budget: Budget, value: Any, d: Any = "", attribute: Any = None) -> Any:
    items = list(value) if not isinstance(value, list | tuple) else value
    budget.charge_size(len(items))
    separator = len(d) if isinstance(d, str) else rendered_size(d, budget)
    refuse_above(
        rendered_size(items, budget) + len(items) * separator, "the result of the 'join' filter"
    )
    return items


def _replace(budget: Budget, s: Any, old: Any = "", new: Any = "", count: Any = None) -> Any:
    if isinstance(s, str) and isinstance(old, str) and isinstance(new, str):
        limit = count if isinstance(count, int) else -1
        refuse_above(replace_size(s, old, new, limit), "the result of the 'replace' filter")
    return s


def _format(budget: Budget, value: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(value, str):
        size = format_size(value, kwargs or args, budget, "%")
        refuse_above(size, "the result of the 'format' filter")
    return value


def _indent(budget: Budget, s: Any, width: Any = 4, *args: Any, **kwargs: Any) -> Any:
    if isinstance(s, str):
        each = width if isinstance(width, int) else rendered_size(width, budget)
        size = len(s) + (s.count("\n") + 1) * max(0, each)
        refuse_above(size, "the result of the 'indent' filter")
    return s


def _wordwrap(
    budget: Budget,
    s: Any,
    width: Any = 79,
    break_long_words: Any = True,
    wrapstring: Any = None,
    **kwargs: Any,
) -> Any:
    if isinstance(s, str) and isinstance(width, int) and width > 0:
        lines = len(s) // width + s.count("\n") + 1
        each = len(wrapstring) if isinstance(wrapstring, str) else 2
        refuse_above(len(s) + lines * each, "the result of the 'wordwrap' filter")
    return s


def _sum(budget: Budget, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
    items = list(iterable) if not isinstance(iterable, list | tuple) else iterable
    if not isinstance(start, int | float):  # adding lists or strings copies them each time
        budget.charge_size(len(items) * rendered_size(items, budget))
    return items


def _tojson(budget: Budget, value: Any, indent: Any = None) -> Any:
    if isinstance(indent, int | str) and not isinstance(indent, bool):
        width = len(indent) if isinstance(indent, str) else max(0, indent)
        refuse_above(indented_size(value, width, budget), "the result of the 'tojson' filter")
    return value


_BOUNDS: dict[str, Callable[..., Any]] = {
    "tojson": _tojson,
    "join": _join,
    "replace": _replace,
    "format": _format,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "sum": _sum,
}


# ---- str methods -----------------------------------------------------------------------

_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def check_str_method(
    owner: str, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], budget: Budget
) -> tuple[Any, ...]:
    """Refuse a call of `owner.name(...)` whose result would be too large; the arguments
    to call it with (an iterable to join is made a list first)."""
    what = f"the result of str.{name}()"
    if name in _WIDTH_METHODS:
        refuse_large_numbers(args, kwargs, f"str.{name}()")
        if name == "expandtabs":
            size = args[0] if args and isinstance(args[0], int) else 8
            refuse_above(len(owner) + owner.count("\t") * size, what)
    elif name in ("format", "format_map"):
        values = args[0] if name == "format_map" and args else (kwargs or args)
        refuse_above(format_size(owner, values, budget, "{"), what)
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        count = args[2] if len(args) > 2 else kwargs.get("count", -1)
        if isinstance(old, str) and isinstance(new, str) and isinstance(count, int):
            refuse_above(replace_size(owner, old, new, count), what)
    elif name == "join" and len(args) == 1:
        items = list(args[0]) if not isinstance(args[0], list | tuple) else args[0]
        budget.charge_size(len(items))
        refuse_above(rendered_size(items, budget) + len(items) * len(owner), what)
        return (items,)
    elif name == "translate" and args and isinstance(args[0], dict):
        widest = max((rendered_size(v, budget) for v in args[0].values()), default=0)
        refuse_above(len(owner) * max(1, widest), what)
    return args


# ---- operators ---------------------------------------------------------------------------


def check_binop(operator: str, left: Any, right: Any, budget: Budget) -> None:
    """Refuse `left <operator> right` when its result would be too large; charge the copy."""
    budget.charge(1)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(times, int) and times > 0:
                size = len(seq) if isinstance(seq, str) else rendered_size(seq, budget)
                refuse_above(size * times, "the result of '*'")
                budget.charge_size(size * times)
                return
        if isinstance(left, int) and isinstance(right, int):
            check_int_product(left, right)
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int):
            check_int_power(left, right)
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            size = rendered_size(left, budget) + rendered_size(right, budget)
            refuse_above(size, "the result of '+'")
            budget.charge_size(size)
    elif operator == "%" and isinstance(left, str):
        size = format_size(left, right, budget, "%")
        refuse_above(size, "the result of '%'")
        budget.charge_size(size)


def concatenate(parts: tuple[Any, ...], budget: Budget) -> str:
    """`a ~ b ~ c`: sized before anything is turned into text."""
    size = sum(rendered_size(part, budget) for part in parts)
    refuse_above(size, "the result of '~'")
    budget.charge_size(size)
    return "".join([str(part) for part in parts])
