"""What a template's error says, in the user's words, and what it must not say.

A template that read a secret may hold it, or something computed from it, in any value it
made: its errors describe only what the suite wrote (the template's own text, the keys of
`vars`), and show a computed name as ***.
"""

from __future__ import annotations

import re
from typing import Any

from specrunner.masking import MASK
from specrunner.suggest import did_you_mean
from specrunner.suite.sandbox import UndefinedName
from specrunner.suite.taint import ContextUse, is_suite_data


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def literal(name: Any, source: str) -> str:
    """`name` as written in the template, or *** when it was computed (maybe from a secret)."""
    text = str(name)
    return text if text and text in source else MASK


_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def missing_env_message(name: str) -> str:
    """What to do about an unset variable (`name` as `literal` shows it): export it, or,
    only when the suite can do without it, read it with a default."""
    if name == MASK:
        return (
            f"environment variable {MASK} is not set: export it first, or, if it is "
            "optional, read it with env.get(NAME, default)"
        )
    example = f" (export {name}=...)" if _SHELL_NAME.fullmatch(name) else ""
    return (
        f"environment variable {name} is not set: export it first{example}, or, if it "
        f"is optional, read it with env.get({name!r}, default)"
    )


def undefined_message(
    exc: UndefinedName,
    context: dict[str, Any],
    source: str,
    uses: tuple[ContextUse, ...],
    tainted: bool,
) -> str:
    """What is undefined. In a template that read a secret, a value the template made may
    hold it: such values are not described, only the suite's own data is."""
    obj, name = exc.obj, exc.name
    described = not tainted or is_suite_data(obj, uses, context)
    if isinstance(obj, dict) and isinstance(name, str):
        shown = literal(name, source)
        owner = next((key for key, value in context.items() if value is obj), None)
        where = f"{owner}.{shown}" if owner else repr(shown)
        if not described:
            return f"undefined name {where}"
        keys = [str(k) for k in obj]
        known = f" (known: {', '.join(sorted(keys))})" if 0 < len(keys) <= 12 else ""
        if not keys:
            known = " (it is empty)"
        hint = did_you_mean(name, keys) if shown == name else ""
        return f"undefined name {where}{hint}{known}"
    if isinstance(obj, list | tuple) and isinstance(name, int):
        if not described:
            return f"index {literal(name, source)} is out of range"
        return f"index {name} is out of range for a list of {len(obj)}"
    if obj is None and name is not None:
        return f"undefined name {literal(name, source)!r}"
    kind = next(
        (_KIND_NAMES[t] for t in type(obj).__mro__ if t in _KIND_NAMES),
        f"a {type(obj).__name__}",
    )
    return f"undefined: {kind} has no attribute {literal(name, source)!r}"


_KIND_NAMES: dict[type, str] = {
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    list: "a list",
    dict: "a mapping",
    type(None): "null",
}

_QUOTED = re.compile(r"'([^']*)'")


def hide_values(message: str, source: str) -> str:
    """`message` with every quoted part that is not written in the template as ***."""
    return _QUOTED.sub(lambda m: m.group(0) if m.group(1) in source else f"'{MASK}'", message)
