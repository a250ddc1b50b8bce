"""Which rendered values come from a secret, judged by what a template used.

A template uses context data (`vars`, `matrix`, ...) through chains of lookups, known
when it is compiled (`template_tree.context_uses`): `vars.region` reads only the region,
`vars | tojson` reads all of `vars`. What a chain reaches is secret when it holds a value
read from `env` (sealed in its secret type when `vars` were rendered).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from specrunner.suite.sandbox import SECRET_TYPES, holds_secret

ContextUse = tuple[str, tuple[str | int, ...]]
"""A context name and the constant keys looked up on it, outermost first."""


def follow(value: Any, steps: tuple[str | int, ...]) -> list[Any]:
    """The values a chain of lookups reaches from `value`, as far as it can be followed."""
    reached = [value]
    for step in steps:
        found = (isinstance(value, dict) and step in value) or (
            isinstance(value, list | tuple)
            and isinstance(step, int)
            and -len(value) <= step < len(value)
        )
        if not found:
            break
        value = value[step]
        reached.append(value)
    return reached


def reads_secret(uses: tuple[ContextUse, ...], context: dict[str, Any]) -> bool:
    """Whether the context data a template uses holds a secret: what each chain of
    lookups reaches, or, where it cannot be followed to its end, the part it reaches."""
    return any(holds_secret(follow(context.get(name), steps)[-1]) for name, steps in uses)


def is_suite_data(obj: Any, uses: tuple[ContextUse, ...], context: dict[str, Any]) -> bool:
    """Whether `obj` is a list or mapping of the suite's own (under `vars`, `matrix`, ...,
    reached by a chain the template uses) that no secret went into the making of: its
    keys and length were written in the suite, not computed from a secret."""
    if isinstance(obj, SECRET_TYPES):
        return False
    return any(value is obj for name, steps in uses for value in follow(context.get(name), steps))


def public_parts(value: Any) -> Iterator[str]:
    """The text in context data that is not a secret: plain strings and numbers, and keys
    (written in the suite, or computed in `vars` and then shown nowhere but there)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from public_parts(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from public_parts(item)
    elif isinstance(value, SECRET_TYPES):
        return
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def texts(value: Any) -> Iterator[str]:
    """Every string in a rendered value, keys included, and every number as text."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)
