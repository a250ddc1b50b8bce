"""The emulator's configuration: a YAML file (schemas/emulator.v1.json) or Python values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from specrunner.emulator.profiles import TIMINGS, Profile, Range, Seconds, span
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
    duration: Range | None = None
    """Seconds of call, [low, high]; None: the profile's."""
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
    bot: bool = True
    """Whether the user's agent is always in this room (a run in a room without one fails)."""
    host: str | None = None
    """The room's Daily host (`acme.daily.co`) when it is not on the emulator's domain: a
    suite's static pool names rooms of its own domain (see `run --emulator`)."""
    token: str | None = field(default=None, repr=False)
    """The one meeting token that opens a room of another `host` (None: any, or none)."""


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    seed: int = 0
    time_scale: float = 1.0
    profile: Profile = Profile.FAST
    """The timings of runs whose own are not set; a plain string is read too."""
    # Cekura
    api_key: str = DEFAULT_API_KEY
    agent: int = 1
    queue_seconds: Seconds | None = None
    """None: the profile's."""
    evaluation_seconds: Seconds | None = None
    """None: the profile's."""
    max_concurrent_runs: int | None = None
    defaults: Behaviour = Behaviour()
    scenarios: Mapping[int, Behaviour] = field(default_factory=dict)
    unknown_scenarios: frozenset[int] = frozenset()
    unknown_scenario_message: str = "Invalid scenario IDs: {ids}"
    reply_order: ReplyOrder = ReplyOrder.SHUFFLED
    """The order of the runs in the answer to a run POST; a plain string is read too."""
    require_bot: bool = True
    """A run whose room no agent (bot) was started in fails, as a real call would."""
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
    # Memory
    ledger_details: int = 10_000
    """The ledger keeps the details of the last this many requests, runs, rooms and
    sessions (and counts of all)."""
    keep_finished: int = 10_000
    """Final runs (with their results), ended sessions and gone rooms kept answerable."""

    def __post_init__(self) -> None:
        # "reversed" works as ReplyOrder.REVERSED; a misspelt order fails here, not at a POST.
        object.__setattr__(self, "reply_order", ReplyOrder(self.reply_order))
        profile = Profile(self.profile)
        object.__setattr__(self, "profile", profile)
        # Timings not set are the profile's, so that every Behaviour here has a duration.
        timings = TIMINGS[profile]
        if self.queue_seconds is None:
            object.__setattr__(self, "queue_seconds", timings.queue)
        if self.evaluation_seconds is None:
            object.__setattr__(self, "evaluation_seconds", timings.evaluation)
        if self.defaults.duration is None:
            object.__setattr__(self, "defaults", replace(self.defaults, duration=timings.call))
        if any(b.duration is None for b in self.scenarios.values()):
            resolved = {
                k: b if b.duration is not None else replace(b, duration=timings.call)
                for k, b in self.scenarios.items()
            }
            object.__setattr__(self, "scenarios", resolved)
        if self.ledger_details < 1 or self.keep_finished < 1:
            raise ValueError("ledger_details and keep_finished must be at least 1")

    def behaviour(self, scenario: int) -> Behaviour:
        return self.scenarios.get(scenario, self.defaults)

    def call_range(self, behaviour: Behaviour) -> Range:
        return span(behaviour.duration or TIMINGS[self.profile].call)

    def queue_range(self) -> Range:
        seconds = self.queue_seconds
        return span(TIMINGS[self.profile].queue if seconds is None else seconds)

    def evaluation_range(self) -> Range:
        seconds = self.evaluation_seconds
        return span(TIMINGS[self.profile].evaluation if seconds is None else seconds)

    def notices(self) -> tuple[str, ...]:
        """What a person starting this emulator should be told (printed on stderr)."""
        scale = self.time_scale
        if scale == 1:
            return ()
        pace = f"{scale:g}x faster" if scale > 1 else f"{1 / scale:g}x slower"
        return (
            f"time_scale {scale:g}: emulator time runs {pace} than real time; a suite's "
            f"timeouts are real seconds (an emulated 5-minute call takes {300 / scale:g} s "
            "of them)",
        )

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
    memory = data.get("memory") or {}
    agents = pipecat.get("agents")
    capacity = int(pipecat.get("capacity", 50))
    return EmulatorConfig(
        seed=int(data.get("seed", 0)),
        time_scale=float(data.get("time_scale", 1.0)),
        profile=Profile(data.get("profile", Profile.FAST)),
        api_key=str(cekura.get("api_key", DEFAULT_API_KEY)),
        agent=int(cekura.get("agent", 1)),
        queue_seconds=_seconds(cekura.get("queue_seconds")),
        evaluation_seconds=_seconds(cekura.get("evaluation_seconds")),
        max_concurrent_runs=cekura.get("max_concurrent_runs"),
        defaults=_behaviour(cekura.get("defaults") or {}),
        scenarios={int(k): _behaviour(v or {}) for k, v in (cekura.get("scenarios") or {}).items()},
        unknown_scenarios=frozenset(cekura.get("unknown_scenarios") or ()),
        unknown_scenario_message=str(
            cekura.get("unknown_scenario_message", "Invalid scenario IDs: {ids}")
        ),
        reply_order=ReplyOrder(cekura.get("reply_order", ReplyOrder.SHUFFLED)),
        require_bot=bool(cekura.get("require_bot", True)),
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
            StaticRoom(
                r["name"],
                r.get("privacy", "public"),
                bool(r.get("bot", True)),
                r.get("host"),
                r.get("token"),
            )
            for r in daily.get("rooms") or ()
        ),
        faults=tuple(_fault(f) for f in data.get("faults") or ()),
        ledger_details=int(memory.get("ledger_details", 10_000)),
        keep_finished=int(memory.get("keep_finished", 10_000)),
    )


def _seconds(value: Any) -> Seconds | None:
    """A number stays a number; [a, b] becomes (low, high); None stays None."""
    if value is None:
        return None
    if isinstance(value, list):
        return span((value[0], value[1]))
    return float(value)


def _range(value: Any) -> Range | None:
    seconds = _seconds(value)
    return None if seconds is None else span(seconds)


def _behaviour(data: Mapping[str, Any]) -> Behaviour:
    outcome = data.get("outcome")
    return Behaviour(
        name=data.get("name"),
        pass_probability=float(data.get("pass_probability", 0.9)),
        outcome=ScriptedOutcome(outcome) if outcome else None,
        duration=_range(data.get("duration")),
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
