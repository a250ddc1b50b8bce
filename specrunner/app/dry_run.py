"""`specrunner run --dry-run`: what a run would send, and whether it could send it.

A dry run makes the plan and checks what a run checks before it makes anything: every
secret the run reads is set (the Cekura API key, and each variable the suite and the
rooms of its runs read), and then the rooms render and the clients can be built (URLs
specrunner may call, room configurations that work). Nothing is leased, sent or written,
and no connection is made: a client is built, never used.

A secret that is not set is an error (exit 2) naming it, after the listing that shows it
among the others; with `--emulator` the emulator supplies the keys it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from specrunner.app.clients import check_clients
from specrunner.app.planning import PlanRequest
from specrunner.dry_run_view import (
    CEKURA_API_KEY,
    DryRun,
    SecretNeed,
    SecretState,
    dry_run_text,
    missing_message,
    needs_by_name,
)
from specrunner.errors import ExitCode, UsageError
from specrunner.models import Outcome, Plan, RunRecord

EMULATOR_SUPPLIES = frozenset(
    {
        CEKURA_API_KEY,
        "PIPECAT_CLOUD_API_KEY",
        "PIPECAT_CLOUD_PRIVATE_KEY",
        "DAILY_API_KEY",
        "BOT_START_URL",
    }
)
"""The secrets of `Emulator.environment()`: with --emulator, the run reads these from it."""


def check_request(
    planned: PlanRequest | None, *, resume: str | None, outputs: Sequence[str]
) -> None:
    """Refuse what a dry run does not take: a run directory to resume, report paths."""
    if resume is not None or planned is None:
        raise UsageError("--dry-run shows what a suite would send: it does not go with --resume")
    if outputs:
        raise UsageError(
            "--dry-run writes no report, since nothing runs: drop -o "
            "(`specrunner plan SUITE --format json` prints the plan as JSON)"
        )


def prepare(plan: Plan, environ: Mapping[str, str], *, concurrency: int, emulator: bool) -> DryRun:
    """The dry run of `plan`: a UsageError (or SuiteError) when a room cannot be rendered or
    a client built although every secret is set, as the run would stop."""
    dry = DryRun(plan, _needs(plan, environ, emulator=emulator), concurrency)
    if not dry.missing and not emulator:
        _check_clients(plan, environ, concurrency)
    return dry


def check(dry: DryRun, *, emulator: bool) -> None:
    """Raise the run's error when a secret it needs is not set."""
    if dry.missing:
        # As for a run without the key: the emulator is the way to try a suite with none.
        names = {need.name for need in dry.missing}
        hint = CEKURA_API_KEY in names and names <= EMULATOR_SUPPLIES and not emulator
        raise UsageError(missing_message(dry.missing, emulator_hint=hint))


def show(dry: DryRun, out: Callable[[str], None], *, width: int | None, emulator: bool) -> int:
    """Print the dry run; exit 0 when everything would be sent, else raise its error."""
    out(dry_run_text(dry, width).rstrip("\n"))
    check(dry, emulator=emulator)
    return ExitCode.OK


def not_run(plan: Plan) -> tuple[RunRecord, ...]:
    """The records of a dry run (for `specrunner.run`): every run `not_run`."""
    return tuple(
        RunRecord.of(run, Outcome.NOT_RUN, error="dry run: nothing was sent") for run in plan.runs
    )


def _needs(plan: Plan, environ: Mapping[str, str], *, emulator: bool) -> tuple[SecretNeed, ...]:
    readers: dict[str, list[str]] = {CEKURA_API_KEY: ["the Cekura client"]}
    required = {CEKURA_API_KEY}
    for name in plan.env_names:
        readers.setdefault(name, []).append("the suite")
    for room in sorted({run.room for run in plan.runs}):
        spec = plan.rooms[room]
        for name in spec.env_names:
            readers.setdefault(name, []).append(f"room {room}")
        required.update(spec.missing_env)
    states: dict[str, SecretState] = {}
    for name in readers:
        if emulator and name in EMULATOR_SUPPLIES:
            states[name] = SecretState.EMULATOR
        elif environ.get(name) is not None and (name != CEKURA_API_KEY or environ[name]):
            states[name] = SecretState.SET
        elif name in required:
            states[name] = SecretState.MISSING
        else:
            states[name] = SecretState.OPTIONAL
    return needs_by_name({k: tuple(v) for k, v in readers.items()}, states)


def _check_clients(plan: Plan, environ: Mapping[str, str], concurrency: int) -> None:
    """Render the rooms of the plan's runs and build the clients as a run does: a
    configuration that cannot work stops here, as it would stop the run."""
    used = sorted({run.room for run in plan.runs})
    rooms = {name: plan.rooms[name].render(environ) for name in used}
    check_clients(rooms, environ, concurrency=concurrency)
