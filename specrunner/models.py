"""Records passed between stages. Frozen, typed; raw dicts stop at validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from specrunner.masking import Secrets


class Outcome(StrEnum):
    """What specrunner makes of a planned run."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    UNKNOWN = "unknown"
    NOT_RUN = "not_run"
    NOT_NEEDED = "not_needed"
    """Never sent: its sequential cell was decided without it (not a failure)."""


class RoomSourceKind(StrEnum):
    STATIC = "static"
    PIPECAT_CLOUD = "pipecat_cloud"
    DAILY = "daily"
    HTTP = "http"
    COMMAND = "command"


DEFAULT_MAX_SESSIONS = 50
"""Pipecat Cloud sessions of one agent specrunner keeps open at once, unless told."""


def room_capacity(kind: RoomSourceKind, values: Mapping[str, Any]) -> int | None:
    """The most runs a room source serves at once, where its configuration bounds it:
    its `concurrency`, the number of static rooms, Pipecat Cloud's `max_sessions`."""
    limits: list[int] = []
    if values.get("concurrency") is not None:
        limits.append(int(values["concurrency"]))
    if kind is RoomSourceKind.STATIC:
        rooms = values.get("rooms")
        limits.append(len(rooms) if isinstance(rooms, list) else 1)
    elif kind is RoomSourceKind.PIPECAT_CLOUD:
        limits.append(int(values.get("max_sessions", DEFAULT_MAX_SESSIONS)))
    return min(limits) if limits else None


@dataclass(frozen=True, slots=True)
class Expectation:
    """The verdict rule of a cell: a share of its runs, or a count, that must pass."""

    pass_rate: float | None = 1.0
    min_passes: int | None = None
    confidence: float | None = None
    """A sequential cell may stop once its pass rate is decided at this confidence."""

    def describe(self) -> str:
        rule = (
            f"min_passes {self.min_passes}"
            if self.min_passes is not None
            else f"pass_rate {self.pass_rate:g}"
        )
        return rule if self.confidence is None else f"{rule}, confidence {self.confidence:g}"

    def as_json(self) -> dict[str, Any]:
        rule: dict[str, Any] = (
            {"min_passes": self.min_passes}
            if self.min_passes is not None
            else {"pass_rate": self.pass_rate}
        )
        if self.confidence is not None:
            rule["confidence"] = self.confidence
        return rule


@dataclass(frozen=True, slots=True)
class RoomConfig:
    """A room source's configuration with every template rendered (at run time)."""

    name: str
    source: RoomSourceKind
    values: Mapping[str, Any]
    shown: Mapping[str, Any]
    secrets: Secrets = field(default_factory=Secrets, repr=False, compare=False)
    """Every secret known when it was rendered, those its templates read included."""


@dataclass(frozen=True, slots=True)
class RoomSpec:
    """A room source as planned: its kind, capacity, and the secrets it will need.

    Its templates are rendered only when runs lease rooms (`render`), so that planning
    needs no secrets.
    """

    name: str
    source: RoomSourceKind
    capacity: int | None
    env_names: tuple[str, ...]
    missing_env: tuple[str, ...]
    """Of `env_names`, those read as `env.NAME` and not set: a run would stop."""
    render: Callable[[Mapping[str, str]], RoomConfig] = field(repr=False, compare=False)
    optional_unset: tuple[str, ...] = ()
    """Of `env_names`, those read with `env.get` and not set: the room's default is used."""


@dataclass(frozen=True, slots=True)
class PlannedScenario:
    name: str
    id: int
    tags: tuple[str, ...]
    room: str
    repeat: int
    """Runs per cell: all of them, or for a sequential scenario the most (`max`)."""
    cells: tuple[Mapping[str, Any], ...]
    expect: Expectation
    timeout: float
    repeat_min: int | None = None
    """For a sequential scenario (`repeat: {min, max}`), the runs each cell always gets;
    None when every repeat runs."""


@dataclass(frozen=True, slots=True)
class SequentialCell:
    """A sequential cell, shared by its planned runs: they are sent in repeat order, and
    only while the verdict is open (specrunner.stopping)."""

    cell: str
    """Names the cell among the plan's: its runs' shared key prefix."""
    min: int
    max: int
    expect: Expectation


@dataclass(frozen=True, slots=True)
class PlannedRun:
    key: str
    index: int
    scenario_id: int
    scenario: str
    cell: Mapping[str, Any]
    repeat: int
    room: str
    timeout: float
    publish_data_message: Any
    shown_payload: Any
    """`publish_data_message` with secrets masked: what specrunner may print or write."""
    sequence: SequentialCell | None = None
    """Its cell, when the cell is sequential; None when every repeat runs."""


@dataclass(frozen=True, slots=True)
class Selection:
    environment: str | None = None
    tags: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    shard: tuple[int, int] | None = None
    overrides: tuple[str, ...] = ()
    """The `--set` keys given (their values may be secrets and are not kept here)."""

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "tags": list(self.tags),
            "scenarios": list(self.scenarios),
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            "set": list(self.overrides),
        }


@dataclass(frozen=True, slots=True)
class Plan:
    suite_name: str
    suite_file: str
    version: int
    description: str | None
    environment: str | None
    agent: int | None
    scenarios: tuple[PlannedScenario, ...]
    runs: tuple[PlannedRun, ...]
    rooms: Mapping[str, RoomSpec]
    selection: Selection
    total_runs: int
    """Runs in the whole suite for this environment, before --tag/--scenario/--shard."""
    secrets: Secrets = field(repr=False, compare=False)
    """The secrets compiling saw (immutable; a run adds its rooms' own, see RoomConfig)."""
    env_names: tuple[str, ...] = ()
    """The environment variables the suite's own templates read (vars, agent, ids,
    payloads), set or not (`env.get`); each room lists its own (`RoomSpec.env_names`)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Progress of an execution: runs by outcome, in flight, and elapsed seconds."""

    total: int
    outcomes: Mapping[str, int]
    in_flight: int
    live: int
    elapsed: float
    message: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What execution made of one planned run: its outcome, Cekura's ids and status."""

    key: str
    scenario_id: int
    scenario: str
    cell: Mapping[str, Any]
    repeat: int
    outcome: Outcome
    status: str | None = None
    """Cekura's status of the run, when it has one."""
    run_id: int | None = None
    result_id: int | None = None
    error: str | None = None
    cekura: Mapping[str, Any] | None = None
    """The fields specrunner reads (schemas/cekura-run.v1.json) of the last Run object
    Cekura returned for it."""
    unsent: bool = False
    """Never sent to Cekura, and not final: `--resume` sends it."""

    @classmethod
    def of(
        cls,
        run: PlannedRun,
        outcome: Outcome,
        *,
        status: str | None = None,
        run_id: int | None = None,
        result_id: int | None = None,
        error: str | None = None,
        cekura: Mapping[str, Any] | None = None,
        unsent: bool = False,
    ) -> RunRecord:
        """The record of planned `run`, with its outcome and what Cekura said of it."""
        return cls(
            run.key,
            run.scenario_id,
            run.scenario,
            run.cell,
            run.repeat,
            outcome,
            status,
            run_id,
            result_id,
            error,
            cekura,
            unsent,
        )
