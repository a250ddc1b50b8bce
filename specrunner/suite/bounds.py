"""How big a value would be once rendered, and how much work one render may do.

A hostile template must be stopped while it renders, before a loop runs for hours or a
value fills the memory, not after. Two measures make that possible:

- `rendered_size` estimates the characters a value renders to (as text or as JSON) with a
  walk that shares the work for a value used many times (`[[x] * 1000] * 1000` is
  walked in 2,000 steps, not 1,000,000) and stops as soon as the size passes the limit;
- a `Budget` counts the steps of work one render does: loop iterations, calls, and the
  size of the values that filters, methods and operators go through, each weighed so
  that a step is about a microsecond or less. Counting is deterministic: the same
  template is refused, or not, on every machine.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, ItemsView, KeysView, ValuesView
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined
from jinja2.utils import Namespace

MAX_RENDERED_SIZE = 1_000_000
"""The most characters a template renders to, and the most any value made on the way may
hold (a string, or a list or mapping as text)."""

MAX_TEMPLATE_LENGTH = 100_000
"""The longest template (its source) compiled: compiling takes time and memory too."""

MAX_STEPS = 1_000_000
"""The most steps of work one render may do (see `Budget`)."""

MAX_RENDER_SECONDS = 2.0
"""How long one render may take, whatever its steps (see `Budget`)."""

MAX_DEPTH = 200
"""The deepest a value made by a template may nest lists and mappings."""

MAX_INT_BITS = 100_000
"""The largest integer a template may make, in bits (about 30,000 digits)."""

ITEMS_PER_STEP = 16
"""Characters or items that copying, comparing or printing goes through per step."""

WALKED_PER_STEP = 2
"""Items that sizing a value visits per step (a visit is Python code)."""

_NUMBER = re.compile(r"\d+")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{")


class Budget:
    """The work one render may still do. Deliberately mutable: one per render.

    Steps are the measure, counted the same on every machine. The clock is a backstop for
    work that steps would underrate: a render still going after MAX_RENDER_SECONDS stops
    at its next step (no template within the step budget comes near it).
    """

    __slots__ = ("_calls", "_clock", "_deadline", "limit", "steps")

    def __init__(
        self,
        limit: int = MAX_STEPS,
        *,
        clock: Callable[[], float] = time.monotonic,
        seconds: float = MAX_RENDER_SECONDS,
    ) -> None:
        self.limit = limit
        self.steps = 0
        self._clock = clock
        self._deadline = clock() + seconds
        self._calls = 0

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > self.limit:
            raise SecurityError(
                f"the template does more than {self.limit:,} steps of work (loop "
                "iterations, calls, and the characters and items they go through)"
            )
        self._calls += 1
        if not self._calls & 63 and self._clock() > self._deadline:
            raise SecurityError(
                f"the template takes more than {MAX_RENDER_SECONDS:g} seconds to render"
            )

    def charge_size(self, size: int) -> None:
        """Charge for going through `size` characters or items."""
        if size >= ITEMS_PER_STEP:
            self.charge(size // ITEMS_PER_STEP)


class _Over(Exception):
    pass


def rendered_size(value: Any, budget: Budget, limit: int = MAX_RENDERED_SIZE) -> int:
    """About how many characters `value` renders to, or `limit + 1` once past `limit`.

    Raises SecurityError for a value nested more than MAX_DEPTH levels deep. The walk is
    charged to `budget`: one step for each ITEMS_PER_STEP items it visits.
    """
    if isinstance(value, str):
        return len(value)
    sizer = _Sizer(limit)
    try:
        return min(sizer.size(value, 0), limit + 1)
    except _Over:
        return limit + 1
    finally:
        budget.charge(sizer.visited // WALKED_PER_STEP)


class _Sizer:
    __slots__ = ("limit", "memo", "visited")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.memo: dict[int, int] = {}
        self.visited = 0

    def size(self, value: Any, depth: int) -> int:
        self.visited += 1
        if isinstance(value, str):
            return len(value) + 2
        if value is None or isinstance(value, bool):
            return 5
        if isinstance(value, int):
            return value.bit_length() * 3 // 10 + 2
        if isinstance(value, float):
            return 24
        if isinstance(value, Undefined):
            return 0
        children = _children(value)
        if children is None:
            return 64  # any other object shows as a short description
        key = id(value)
        known = self.memo.get(key)
        if known is not None:
            return known  # shared (or, while it is walked, a cycle: counted once)
        if depth >= MAX_DEPTH:
            raise SecurityError(
                f"a value made by the template nests more than {MAX_DEPTH} levels deep"
            )
        self.memo[key] = 0
        total = 2
        for child in children:
            total += self.size(child, depth + 1) + 2
            if total > self.limit:
                raise _Over
        self.memo[key] = total
        return total


def indented_size(value: Any, indent: int, budget: Budget, limit: int = MAX_RENDERED_SIZE) -> int:
    """About how many characters `value` makes as JSON indented by `indent` (every item on
    a line of its own, after its depth times `indent` spaces), or `limit + 1` once past it.
    Not shared like `rendered_size`: the same list costs more the deeper it stands."""
    visited = 0

    def size(item: Any, depth: int) -> int:
        nonlocal visited
        visited += 1
        children = _children(item)
        if children is None:
            return _Sizer(limit).size(item, depth)
        if depth >= MAX_DEPTH:
            raise SecurityError(
                f"a value made by the template nests more than {MAX_DEPTH} levels deep"
            )
        total = 2 + depth * indent
        for child in children:
            total += size(child, depth + 1) + (depth + 1) * indent + 2
            if total > limit:
                raise _Over
        return total

    try:
        return min(size(value, 0), limit + 1)
    except _Over:
        return limit + 1
    finally:
        budget.charge(visited // WALKED_PER_STEP)


def _children(value: Any) -> Any:
    """What a container holds (keys and values of a mapping), or None for a scalar."""
    if isinstance(value, list | tuple | set | frozenset | KeysView | ValuesView):
        return value
    if isinstance(value, dict):
        return _pairs(value.items())
    if isinstance(value, ItemsView):
        return _pairs(value)
    if isinstance(value, Namespace):
        attrs: dict[str, Any] = object.__getattribute__(value, "_Namespace__attrs")
        return _pairs(attrs.items())
    return None


def _pairs(items: Any) -> Any:
    for key, item in items:
        yield key
        yield item


def check_size(value: Any, budget: Budget, what: str) -> None:
    """Refuse `value` when it would render to more than MAX_RENDERED_SIZE characters."""
    if isinstance(value, str):
        size = len(value)
    elif value is None or isinstance(value, int | float):
        return  # an integer's size is bounded where it is made (MAX_INT_BITS)
    else:
        size = rendered_size(value, budget)
    if size > MAX_RENDERED_SIZE:
        raise too_large(what)


def refuse_above(size: int, what: str) -> None:
    if size > MAX_RENDERED_SIZE:
        raise too_large(what)


def too_large(what: str) -> SecurityError:
    return SecurityError(f"{what} would be too large (over {MAX_RENDERED_SIZE:,} characters)")


def largest_number(text: str) -> int:
    """The largest number written in `text` (a format's widest width), or 0."""
    return max((int(n) if len(n) <= 9 else 10**9 for n in _NUMBER.findall(text)), default=0)


def format_size(template: str, args: Any, budget: Budget, markers: str) -> int:
    """At most how long formatting `template` (`%` or `str.format`) with `args` makes it:
    every field (`markers` counts them) could take all of the arguments at their widest."""
    fields = sum(template.count(marker) for marker in markers)
    if not fields:
        return len(template)
    argument_size = rendered_size(args, budget)
    width = largest_number(template)
    if "*" in template or _NESTED_FIELD.search(template):  # a width taken from the arguments
        width = max(width, _largest_int(args))
    return len(template) + fields * (argument_size + width)


def _largest_int(args: Any) -> int:
    values = args.values() if isinstance(args, dict) else args
    if not isinstance(values, list | tuple | ValuesView):
        values = [values]
    numbers = [abs(v) for v in values if isinstance(v, int) and not isinstance(v, bool)]
    return max(numbers, default=0)


def replace_size(text: str, old: str, new: str, count: int = -1) -> int:
    """How long `text.replace(old, new, count)` would be."""
    times = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        times = min(times, count)
    return len(text) + times * max(0, len(new) - len(old))


def check_int_product(left: int, right: int) -> None:
    if left.bit_length() + right.bit_length() > MAX_INT_BITS:
        raise SecurityError(f"the result of '*' would be a number over {MAX_INT_BITS:,} bits")


def check_int_power(base: int, exponent: int) -> None:
    if exponent > 0 and abs(base) > 1 and base.bit_length() * exponent > MAX_INT_BITS:
        raise SecurityError(f"the result of '**' would be a number over {MAX_INT_BITS:,} bits")
