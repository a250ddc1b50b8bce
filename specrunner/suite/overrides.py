"""`--set` keys checked against the vars a suite defines, so that a misspelt one is an error.

`--set hotel=h-9` on a suite whose var is `hotel_id` would otherwise be silently ignored.
The first part of a key must be a var of the suite or of the chosen environment; what
follows it (`--set caller.name=Sam`) may add keys inside the var, as documented.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from specrunner.suggest import did_you_mean, listing
from specrunner.suite.load import JsonPath


@dataclass(frozen=True, slots=True)
class UnknownVar:
    """A `--set` key that names no var: where to point (the `vars` key, or the suite) and
    what to say."""

    path: JsonPath
    message: str
    at_key: bool


def unknown_vars(
    data: Mapping[str, Any],
    environment: str | None,
    keys: Iterable[tuple[str, ...]],
) -> list[UnknownVar]:
    """One problem per `--set` key whose first part is not a var of the suite or of
    `environment`, with the closest var and the vars there are."""
    environments = data.get("environments") or {}
    env_conf = (environments.get(environment) or {}) if environment is not None else {}
    own = _names(data.get("vars"))
    in_env = _names(env_conf.get("vars"))
    known = list(dict.fromkeys([*own, *in_env]))
    if own:
        where: JsonPath = ("vars",)
    elif in_env:
        where = ("environments", str(environment), "vars")
    else:
        where = ()
    problems: list[UnknownVar] = []
    for key in dict.fromkeys(keys):
        name = key[0]
        if name in known:
            continue
        if environment is None:
            message = f"the suite has no var {name!r}"
        else:
            message = f"neither the suite nor environment {environment!r} has a var {name!r}"
        others = [
            repr(other)
            for other, conf in environments.items()
            if other != environment and isinstance(conf, dict) and name in _names(conf.get("vars"))
        ]
        if others:
            message += (
                f" (environment {others[0]} has it)"
                if len(others) == 1
                else f" (environments {', '.join(others)} have it)"
            )
        message += did_you_mean(name, known) if known else "; define it under `vars`"
        problems.append(
            UnknownVar(
                where,
                f"--set {'.'.join(key)!r}: {message}{listing('vars', known)}",
                at_key=bool(where),
            )
        )
    return problems


def _names(variables: Any) -> list[str]:
    return [str(name) for name in variables] if isinstance(variables, dict) else []
