"""The emulator's configuration: a YAML file (schemas/emulator.v1.json) or Python values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from specrunner.errors import SuiteError
from specrunner.suite.load import load_suite
from specrunner.suite.validate import schema_diagnostics

DEFAULT_API_KEY = "specrunner-emulator-key"


class ScriptedOutcome(StrEnum):
    """How a scenario's emulated runs end (configured, not judged: specrunner's own
    `models.Outcome` is what it makes of a run)."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"


class ReplyOrder(StrEnum):
    """The order of the runs in the answer to a run POST (Cekura documents none)."""

    IN_ORDER = "in_order"
    """The order of the POST's entries."""
    REVERSED = "reversed"
    SHUFFLED = "shuffled"
    """Shuffled, drawn from the seed and the result id: the same every time."""


@dataclass(frozen=True, slots=True)
class Behaviour:
    """How the runs of one scenario behave."""

    name: str | None = None
    pass_probability: float = 0.9
    outcome: ScriptedOutcome | None = None
    duration: tuple[float, float] = (2.0, 5.0)
    agent: int | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. `rate` and `nth` say when; neither means every request."""

    endpoint: str
    status: int | None = None
    retry_after: float | None = None
    latency: float | None = None
    drop: bool = False
    applied_then_status: int | None = None
    rate: float | None = None
    nth: frozenset[int] = frozenset()

    def applies_to(self, endpoint: str) -> bool:
        return self.endpoint in ("*", endpoint)


@dataclass(frozen=True, slots=True)
class StaticRoom:
    name: str
    privacy: str = "public"


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    seed: int = 0
    time_scale: float = 1.0
    # Cekura
    api_key: str = DEFAULT_API_KEY
    agent: int = 1
    queue_seconds: float = 0.1
    evaluation_seconds: float = 0.2
    max_concurrent_runs: int | None = None
    defaults: Behaviour = Behaviour()
    scenarios: Mapping[int, Behaviour] = field(default_factory=dict)
    unknown_scenarios: frozenset[int] = frozenset()
    unknown_scenario_message: str = "Invalid scenario IDs: {ids}"
    reply_order: ReplyOrder = ReplyOrder.IN_ORDER
    """The order of the runs in the answer to a run POST; a plain string is read too."""
    # Pipecat Cloud
    pipecat_keys: frozenset[str] = frozenset()
    pipecat_private_keys: frozenset[str] = frozenset()
    pipecat_agents: Mapping[str, int] | None = None
    """Agent name -> capacity; None: every agent name exists with `pipecat_capacity`."""
    pipecat_capacity: int = 50
    max_session_seconds: float = 7200.0
    idle_session_seconds: float | None = 300.0
    """A session whose room no Cekura run was sent to ends after this long (None: never)."""
    end_session_with_call: bool = True
    # Daily
    daily_keys: frozenset[str] = frozenset()
    daily_domain: str = "specrunner-emulator"
    daily_rate_limit: bool = True
    daily_rooms: tuple[StaticRoom, ...] = ()
    faults: tuple[Fault, ...] = ()

    def __post_init__(self) -> None:
        # "reversed" works as ReplyOrder.REVERSED; a misspelt order fails here, not at a POST.
        object.__setattr__(self, "reply_order", ReplyOrder(self.reply_order))

    def behaviour(self, scenario: int) -> Behaviour:
        return self.scenarios.get(scenario, self.defaults)

    def with_faults(self, *faults: Fault) -> EmulatorConfig:
        return replace(self, faults=tuple(faults))


def load_config(path: str) -> EmulatorConfig:
    """Read a YAML configuration; every problem is reported at its file:line:col."""
    doc = load_suite(path)
    problems = schema_diagnostics(doc, "emulator")
    if problems:
        raise SuiteError(problems)
    return config_from_mapping(doc.data)


def config_from_mapping(data: Mapping[str, Any]) -> EmulatorConfig:
    """An EmulatorConfig from data shaped like the YAML file (already schema-checked)."""
    cekura = data.get("cekura") or {}
    pipecat = data.get("pipecat") or {}
    daily = data.get("daily") or {}
    agents = pipecat.get("agents")
    capacity = int(pipecat.get("capacity", 50))
    return EmulatorConfig(
        seed=int(data.get("seed", 0)),
        time_scale=float(data.get("time_scale", 1.0)),
        api_key=str(cekura.get("api_key", DEFAULT_API_KEY)),
        agent=int(cekura.get("agent", 1)),
        queue_seconds=float(cekura.get("queue_seconds", 0.1)),
        evaluation_seconds=float(cekura.get("evaluation_seconds", 0.2)),
        max_concurrent_runs=cekura.get("max_concurrent_runs"),
        defaults=_behaviour(cekura.get("defaults") or {}),
        scenarios={int(k): _behaviour(v or {}) for k, v in (cekura.get("scenarios") or {}).items()},
        unknown_scenarios=frozenset(cekura.get("unknown_scenarios") or ()),
        unknown_scenario_message=str(
            cekura.get("unknown_scenario_message", "Invalid scenario IDs: {ids}")
        ),
        reply_order=ReplyOrder(cekura.get("reply_order", ReplyOrder.IN_ORDER)),
        pipecat_keys=frozenset(pipecat.get("api_keys") or ()),
        pipecat_private_keys=frozenset(pipecat.get("private_keys") or ()),
        pipecat_agents=(
            None
            if agents is None
            else {
                name: int((conf or {}).get("capacity", capacity)) for name, conf in agents.items()
            }
        ),
        pipecat_capacity=capacity,
        max_session_seconds=float(pipecat.get("max_session_seconds", 7200)),
        idle_session_seconds=(
            None
            if pipecat.get("idle_session_seconds", 300) is None
            else float(pipecat.get("idle_session_seconds", 300))
        ),
        end_session_with_call=bool(pipecat.get("end_session_with_call", True)),
        daily_keys=frozenset(daily.get("api_keys") or ()),
        daily_domain=str(daily.get("domain", "specrunner-emulator")),
        daily_rate_limit=bool(daily.get("rate_limit", True)),
        daily_rooms=tuple(
            StaticRoom(r["name"], r.get("privacy", "public")) for r in daily.get("rooms") or ()
        ),
        faults=tuple(_fault(f) for f in data.get("faults") or ()),
    )


def _range(value: Any, default: tuple[float, float]) -> tuple[float, float]:
    if value is None:
        return default
    if isinstance(value, list):
        low, high = float(value[0]), float(value[1])
        return (min(low, high), max(low, high))
    return (float(value), float(value))


def _behaviour(data: Mapping[str, Any]) -> Behaviour:
    outcome = data.get("outcome")
    return Behaviour(
        name=data.get("name"),
        pass_probability=float(data.get("pass_probability", 0.9)),
        outcome=ScriptedOutcome(outcome) if outcome else None,
        duration=_range(data.get("duration"), (2.0, 5.0)),
        agent=data.get("agent"),
    )


def _fault(data: Mapping[str, Any]) -> Fault:
    return Fault(
        endpoint=str(data["endpoint"]),
        status=data.get("status"),
        retry_after=data.get("retry_after"),
        latency=data.get("latency"),
        drop=bool(data.get("drop", False)),
        applied_then_status=data.get("applied_then_status"),
        rate=data.get("rate"),
        nth=frozenset(data.get("nth") or ()),
    )
