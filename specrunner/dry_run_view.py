"""How `specrunner run --dry-run` shows what a run would send, and what it still needs.

For each run: its key and repeat, its room source (nothing is leased), its timeout, its
cell's expect rule and the publish_data_message it would send, masked as `specrunner plan`
masks it and wrapped to the width as the plan is. Then the counts, the calls and the most
call time they can take (`specrunner.spend`), the room sources, and each secret the run
reads with whether it is set: the names only, never a value. There is no verdict:
nothing ran.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from specrunner.models import Plan, PlannedRun, PlannedScenario, RoomSourceKind
from specrunner.plan_view import (
    cell_heading,
    count,
    grouped,
    payload_lines,
    prose,
    repeats_text,
    runs_sentence,
    scenario_id,
    sentences,
    shown,
    suite_heading,
    summary,
)
from specrunner.spend import Spend
from specrunner.suite.duration import format_duration
from specrunner.text import visible
from specrunner.wrapping import DEFAULT_WIDTH, MIN_COLUMN, field_pieces, hanging

LEASES = {
    RoomSourceKind.STATIC: "a free room of its list",
    RoomSourceKind.PIPECAT_CLOUD: "a new Pipecat Cloud session per run",
    RoomSourceKind.DAILY: "a new Daily room per run",
    RoomSourceKind.HTTP: "a room from your start endpoint per run",
    RoomSourceKind.COMMAND: "a room from your command per run",
}
"""What a lease of each kind of room source is (docs/room-sources.md)."""


class SecretState(StrEnum):
    SET = "set"
    MISSING = "not set"
    OPTIONAL = "not set, optional"
    """Read with `env.get(NAME, default)`: the default is used."""
    EMULATOR = "from the emulator"
    """With --emulator, the in-process emulator supplies it."""


@dataclass(frozen=True, slots=True)
class SecretNeed:
    """An environment variable the run reads, who reads it, and whether it is set."""

    name: str
    readers: tuple[str, ...]
    state: SecretState


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a run of `plan` would send, and the secrets it needs."""

    plan: Plan
    needs: tuple[SecretNeed, ...]
    concurrency: int

    @property
    def missing(self) -> tuple[SecretNeed, ...]:
        return tuple(need for need in self.needs if need.state is SecretState.MISSING)


def dry_run_text(dry: DryRun, width: int | None = DEFAULT_WIDTH) -> str:
    plan = dry.plan
    lines = suite_heading(plan, "Dry run of", width, end=": nothing is leased or sent.")
    lines += sentences(plan, f"{runs_sentence(plan)}, at most {dry.concurrency} at once.", width)
    lines += sentences(plan, Spend.of(plan.runs).sentence(), width)
    lines += sentences(
        plan,
        "Each run below: its key, repeat, room source, timeout and its cell's expect rule, "
        "then the publish_data_message it would send (secrets as ***).",
        width,
    )
    for scenario, cells in grouped(plan):
        lines.append("")
        lines += prose(plan, _scenario_line(plan, scenario), width, indent="")
        indent = "    " if scenario.cells != ({},) else "  "
        for cell_runs in cells:
            lines += cell_heading(plan, cell_runs[0].cell, width)
            for run in cell_runs:
                lines += _run_lines(plan, scenario, run, width, indent)
    lines += _rooms(plan, width)
    lines += _secrets(dry, width)
    lines.append("")
    if dry.missing:
        lines.append("Not ready: a secret above is not set.")
    else:
        lines.append(f"Ready: without --dry-run, this sends {count(len(plan.runs), 'run')}.")
    return plan.secrets.redact_text("\n".join(lines) + "\n")


def _scenario_line(plan: Plan, scenario: PlannedScenario) -> str:
    tags = f", tags [{', '.join(scenario.tags)}]" if scenario.tags else ""
    sequential = "" if scenario.repeat_min is None else f", {repeats_text(scenario)}"
    return f"{scenario.name}  (scenario {scenario_id(plan, scenario)}{tags}{sequential})"


def _run_lines(
    plan: Plan, scenario: PlannedScenario, run: PlannedRun, width: int | None, indent: str
) -> list[str]:
    source = plan.rooms[run.room].source
    fields = [
        run.key,
        f"repeat {run.repeat}",
        f"room {run.room} ({source})",
        f"timeout {format_duration(run.timeout)}",
        f"expect {scenario.expect.describe()}",
    ]
    pieces = field_pieces([shown(plan, field) for field in fields])
    lines = hanging(pieces, width, indent, indent + " " * (len(run.key) + 2))
    return lines + payload_lines(plan, run, width, indent + "  ", indent + "  ")


def _rooms(plan: Plan, width: int | None) -> list[str]:
    counts = summary(plan)["by_room"]
    lines = ["", "Rooms (none is leased by a dry run)"]
    for name, spec in plan.rooms.items():
        used = counts.get(name, 0)
        if not used:
            continue
        capacity = f", at most {spec.capacity} at once" if spec.capacity else ""
        text = f"{name}: {spec.source}, {LEASES[spec.source]}{capacity}; {count(used, 'run')}"
        lines += prose(plan, text, width, indent="  ")
    return lines if counts else [*lines, "  none: no run is selected"]


def _secrets(dry: DryRun, width: int | None) -> list[str]:
    lines = ["", "Secrets (whether each is set: a value is never shown)"]
    if not dry.needs:
        return [*lines, "  none"]
    names = {need.name: visible(need.name) for need in dry.needs}  # names written in the suite
    name_width = max(len(name) for name in names.values())
    state_width = max(len(need.state) for need in dry.needs)
    for need in dry.needs:
        first = f"  {names[need.name].ljust(name_width)}  {need.state.value.ljust(state_width)}  "
        readers = field_pieces([visible(reader) for reader in _listed(need.readers)], " ")
        if width is not None and width - len(first) < MIN_COLUMN:  # under the name instead
            lines += [first.rstrip(), *hanging(readers, width, "    ", "    ")]
        else:
            lines += hanging(readers, width, first, " " * len(first))
    return lines


def _listed(readers: tuple[str, ...]) -> list[str]:
    words = [f"{reader}," for reader in readers[:-1]] + list(readers[-1:])
    return ["read by", *words]


def missing_message(missing: tuple[SecretNeed, ...], *, emulator_hint: bool) -> str:
    """The one error for the secrets the run needs that are not set: their names only.
    `emulator_hint`: --emulator would supply them all."""
    hint = ", or try the suite with --emulator" if emulator_hint else ""
    if len(missing) == 1:
        need = missing[0]
        readers = " and ".join(need.readers)
        verb = "reads" if len(need.readers) == 1 else "read"
        return f"{need.name} is not set ({readers} {verb} it): export it first{hint}"
    names = [need.name for need in missing]
    listed = ", ".join(names[:-1]) + f" and {names[-1]}"
    return f"{len(missing)} secrets are not set: export {listed} first{hint}"


CEKURA_API_KEY = "CEKURA_API_KEY"


def needs_by_name(
    readers: Mapping[str, tuple[str, ...]], states: Mapping[str, SecretState]
) -> tuple[SecretNeed, ...]:
    """The needs in order: the Cekura key first, then by name."""
    names = sorted(readers, key=lambda name: (name != CEKURA_API_KEY, name))
    return tuple(SecretNeed(name, readers[name], states[name]) for name in names)
