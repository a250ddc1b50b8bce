"""Which parts of a suite its schema problems spoil, so that the rest can still be compiled.

A schema problem makes the part it is in unreadable for the compiler: a scenario, a room,
an environment, the suite's `agent` or `default_environment`. The compiler leaves spoiled
parts out and checks the rest, so that an unknown room or a `min_passes` above the run
count is reported beside an unrelated misspelt key, and no error is reported that a schema
problem caused (a scenario without a room because its `room` key is misspelt). A problem in
what every part depends on (the suite's shape, a name that is not text, `vars`, `rooms` or
`scenarios` as a whole) spoils everything: the schema problems are then all there is.

A part a problem could be about is spoiled, even where a narrower reading would keep it:
an error left unreported until the schema problem is fixed costs one more round, an error
that is only a consequence of another misleads.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from specrunner.schemas import load_schema
from specrunner.suggest import closest
from specrunner.suite.load import JsonPath

_HARMLESS = frozenset({"description"})
"""Top-level keys that nothing else reads."""
_ON_ITS_OWN = frozenset({"room", "timeout", "expect"})
"""Scenario settings that no other setting reads: a problem in one spoils only it."""


@dataclass(frozen=True, slots=True)
class Spoiled:
    """The parts of a suite the compiler must leave out (none by default)."""

    everything: bool = False
    scenarios: frozenset[int] = frozenset()
    """Indices into `scenarios`."""
    settings: frozenset[tuple[int, str]] = frozenset()
    """(index, key): a scenario's `room`, `timeout` or `expect`, its own or inherited."""
    rooms: frozenset[str] = frozenset()
    """Room sources whose names are known but whose settings are not checked."""
    environments: frozenset[str] = frozenset()
    agent: bool = False
    """The suite's own `agent` (an environment's is part of its environment)."""
    default_environment: bool = False

    @property
    def anything(self) -> bool:
        return (
            self.everything
            or self.agent
            or self.default_environment
            or bool(self.scenarios or self.settings or self.rooms or self.environments)
        )

    def settings_of(self, index: int) -> frozenset[str]:
        """The spoiled settings of the scenario at `index`."""
        return frozenset(key for at, key in self.settings if at == index)


NOTHING = Spoiled()


def spoiled_parts(data: Any, subjects: Iterable[JsonPath]) -> Spoiled:
    """What the schema problems about `subjects` (paths into `data`) spoil."""
    if not isinstance(data, dict):
        return Spoiled(everything=True)
    scenarios: set[int] = set()
    settings: set[tuple[int, str]] = set()
    rooms: set[str] = set()
    environments: set[str] = set()
    agent = default_environment = False
    for subject in subjects:
        if not subject or not isinstance(subject[0], str):
            return Spoiled(everything=True)  # the suite as a whole
        head = _top_level_key(subject[0])
        part = subject[1] if len(subject) > 1 else None
        if head is None or head in _HARMLESS:
            continue
        if head == "name" and isinstance(data.get("name"), str):
            continue  # a name of the wrong form still names the suite
        if head == "agent":
            agent = True
        elif head == "default_environment":
            default_environment = True
        elif head == "defaults":
            meant = _scenario_key(part)
            for index in _inheriting(data, meant):
                _spoil(index, meant, scenarios, settings)
        elif head == "scenarios" and isinstance(part, int):
            _spoil(
                part, _scenario_key(subject[2] if len(subject) > 2 else None), scenarios, settings
            )
        elif head == "rooms" and isinstance(part, str):
            rooms.add(part)
        elif head == "environments" and isinstance(part, str):
            environments.add(part)
        else:
            return Spoiled(everything=True)
    return Spoiled(
        scenarios=frozenset(scenarios),
        settings=frozenset(settings),
        rooms=frozenset(rooms),
        environments=frozenset(environments),
        agent=agent,
        default_environment=default_environment,
    )


def _top_level_key(key: str) -> str | None:
    """The known top-level key `key` is, or for an unknown one the known key it is most
    likely a misspelling of, or None when it is like none (then nothing reads it)."""
    known = _known_keys("root")
    return key if key in known else closest(key, known)


def _scenario_key(key: Any) -> str | None:
    """The scenario key a problem is about (for an unknown key, the known key it is most
    likely a misspelling of), or None for the scenario as a whole or a key like none."""
    known = _known_keys("scenario")
    if not isinstance(key, str):
        return None
    return key if key in known else closest(key, known)


def _spoil(
    index: int, key: str | None, scenarios: set[int], settings: set[tuple[int, str]]
) -> None:
    if key in _ON_ITS_OWN:
        settings.add((index, key))
    else:
        scenarios.add(index)


def _inheriting(data: dict[str, Any], key: str | None) -> set[int]:
    """The scenarios that take `key` from the suite's `defaults` (all of them for the
    whole of `defaults`, an unknown key, `publish_data_message`, which is deep-merged, or
    `expect`, whose keys are taken one by one)."""
    scenarios = data.get("scenarios")
    if not isinstance(scenarios, list):
        return set()  # a problem of its own spoils everything
    return {
        index
        for index, scenario in enumerate(scenarios)
        if key is None
        or key in ("publish_data_message", "expect")
        or not (isinstance(scenario, dict) and key in scenario)
    }


@cache
def _known_keys(where: str) -> frozenset[str]:
    schema = load_schema("suite")
    properties = schema["properties"] if where == "root" else schema["$defs"][where]["properties"]
    return frozenset(properties)
