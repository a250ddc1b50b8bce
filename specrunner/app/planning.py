"""`specrunner plan`: a suite and a selection, compiled into the plan of its runs.

`PlanRequest` is the one record of what a user selected (suite, environment, `--set`,
`--tag`, `--scenario`, `--shard`, `--max-runs`): the CLI fills it from its options, `specrunner.run`
from its keywords, `RunRequest` holds it, and a run's journal stores it and reads it back
on `--resume`. A new selection option is a new field here, its CLI option and its docs.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from specrunner.app.checking import check_max_runs, check_schema, compile_checked
from specrunner.app.collecting import few_collections
from specrunner.models import Plan
from specrunner.suite.compile import CompileOptions
from specrunner.suite.selection import parse_set, parse_shard


@dataclass(frozen=True, slots=True)
class PlanRequest:
    suite: str
    environment: str | None = None
    sets: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    shard: str | None = None
    max_runs: int | None = None
    """The most runs the plan may hold, after the selection; None: the default (100,000)."""

    @classmethod
    def selection_fields(cls) -> tuple[str, ...]:
        """Every field but the suite: what `--resume` takes from the journal."""
        return tuple(f.name for f in dataclasses.fields(cls) if f.name != "suite")

    def as_json(self) -> dict[str, Any]:
        """The record as JSON (for the journal's start record)."""
        return {
            f.name: list(value) if isinstance(value := getattr(self, f.name), tuple) else value
            for f in dataclasses.fields(self)
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanRequest:
        """The record `as_json` wrote; KeyError or TypeError when it is not one. A field
        added after the journal was written (`_ADDED_LATER`) takes its default."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in _ADDED_LATER and f.name not in data:
                continue
            value = data[f.name]
            values[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)


_ADDED_LATER = frozenset({"max_runs"})
"""Fields a start record written by an older specrunner lacks; every other one is required."""


def plan(request: PlanRequest, environ: Mapping[str, str] | None = None) -> Plan:
    """The plan of `request`, reading `env` from `environ` (default: `os.environ`).

    The checks are `validate`'s (`app.checking`), for the one environment selected, with
    the secrets that environment needs, and the selection's."""
    overrides = tuple(parse_set(text) for text in request.sets)
    shard = parse_shard(request.shard) if request.shard is not None else None
    max_runs = check_max_runs(request.max_runs)
    options = CompileOptions(
        environment=request.environment,
        overrides=overrides,
        tags=request.tags,
        scenarios=request.scenarios,
        shard=shard,
        environ=dict(os.environ) if environ is None else environ,
        max_runs=max_runs,
    )
    # Planning makes objects that all live on (the suite's tree, then the runs) and next
    # to no cycles: the default collector would walk them again and again.
    with few_collections():
        return compile_checked(check_schema(request.suite), options)
