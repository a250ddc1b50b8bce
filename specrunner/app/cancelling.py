"""`specrunner cancel RUN_DIR`: end what a run left live, and give back the rooms it held.

It ends the call of every run of the directory that is still live in Cekura, waits
(bounded) for them to reach a final status, releases every room the journal holds that
was not released, and journals it all, so that a later `--resume` finds nothing to follow
and a second `cancel` nothing to do. Runs never sent stay unsent (`--resume` sends them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from specrunner.app import run_dir as run_dirs
from specrunner.app.clients import Clients, open_clients
from specrunner.app.planning import plan
from specrunner.app.running import LOST_WITH_EMULATOR
from specrunner.cekura import api_key, outcome_of, run_problem
from specrunner.errors import ExitCode, RemoteError
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import Replay, RunState, replay
from specrunner.masking import SecretTracker
from specrunner.models import Outcome
from specrunner.retry import GaveUp
from specrunner.rooms.base import restored_lease

WAIT_SECONDS = 60.0
"""How long `cancel` waits for ended calls to reach a final status."""
POLL_SECONDS = 1.0


@dataclass(slots=True)
class Cancelled:
    ended: list[str] = field(default_factory=list)
    final: dict[str, str] = field(default_factory=dict)
    """Run key -> the outcome it reached."""
    released: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def cancel(path: str, out: Callable[[str], None], environ: Mapping[str, str]) -> int:
    resumed = run_dirs.resume(path)
    with run_dirs.lock(resumed.run_dir):
        state = replay(resumed.run_dir / JOURNAL)
        live = [s for s in state.runs.values() if s.run_id is not None and s.final is None]
        held = [s for s in state.runs.values() if s.room is not None and not s.released]
        if not live and not held:
            out(f"{resumed.run_dir}: nothing to cancel (no run is live, no room is held)")
            return ExitCode.OK
        secrets = SecretTracker()
        journal = Journal(resumed.run_dir / JOURNAL, secrets=secrets)
        try:
            if resumed.emulator:
                done = _lost_with_emulator(live, journal)
            else:
                secrets.add(api_key(environ))
                done = asyncio.run(_cancel(resumed, state, live, held, environ, journal, secrets))
        finally:
            journal.close()
    _say(resumed.run_dir, done, out)
    return ExitCode.OK


def _lost_with_emulator(live: list[RunState], journal: Journal) -> Cancelled:
    """An --emulator run's live runs and rooms went with its emulator: nothing to end."""
    done = Cancelled()
    for state in live:
        journal.write("unknown", keys=[state.key], reason=LOST_WITH_EMULATOR)
        done.lost.append(state.key)
    return done


async def _cancel(
    resumed: run_dirs.Resumed,
    state: Replay,
    live: list[RunState],
    held: list[RunState],
    environ: Mapping[str, str],
    journal: Journal,
    secrets: SecretTracker,
) -> Cancelled:
    the_plan = plan(resumed.request, environ)
    wanted = sorted({str(s.room["source"]) for s in held if s.room is not None})
    rooms = {name: the_plan.rooms[name].render(environ) for name in wanted}
    for hidden in (the_plan.secrets, *(config.secrets for config in rooms.values())):
        for value in hidden:
            secrets.add(value)
    done = Cancelled()
    async with open_clients(rooms, environ, concurrency=10) as clients:
        for run in live:
            assert run.run_id is not None
            try:
                await clients.cekura.end_call(run.run_id)
            except (GaveUp, RemoteError):
                continue
            done.ended.append(run.key)
        await _wait_final(clients, live, journal, done)
        await _release(clients, held, journal, done)
    await journal.durable()
    return done


async def _wait_final(
    clients: Clients, live: list[RunState], journal: Journal, done: Cancelled
) -> None:
    pending = {s.run_id: s for s in live if s.run_id is not None}
    deadline = time.monotonic() + WAIT_SECONDS
    while pending and time.monotonic() < deadline:
        try:
            found = await clients.cekura.poll(list(pending))
        except (GaveUp, RemoteError):
            break
        for data in found:
            run_id = data.get("id")
            if isinstance(run_id, bool) or not isinstance(run_id, int):
                continue  # it cannot be matched to a run
            run = pending.get(run_id)
            if run is None or run_problem(data) is not None:
                continue  # not one of ours, or odd: it stays pending
            verdict = outcome_of(data)
            if verdict is None:
                continue
            outcome, error = verdict
            journal.write(
                "final",
                key=run.key,
                outcome=outcome.value,
                status=data.get("status"),
                run_id=run.run_id,
                result_id=run.result_id,
                error=error or "cancelled by specrunner cancel",
            )
            done.final[run.key] = outcome.value
            del pending[run_id]
        if pending:
            await asyncio.sleep(POLL_SECONDS)
    for run in pending.values():  # still not final: counted as an error, and left
        reason = "cancelled by specrunner cancel; Cekura had not ended it yet"
        journal.write(
            "final",
            key=run.key,
            outcome=Outcome.ERROR.value,
            status=None,
            run_id=run.run_id,
            result_id=run.result_id,
            error=reason,
        )
        done.final[run.key] = Outcome.ERROR.value


async def _release(
    clients: Clients, held: list[RunState], journal: Journal, done: Cancelled
) -> None:
    for run in held:
        room = run.room
        if room is None:
            continue
        source = clients.sources.get(str(room["source"]))
        if source is None:
            continue
        lease = restored_lease(room)
        await source.adopt(lease)
        await source.release(lease)
        journal.write("released", key=run.key)
        done.released.append(run.key)


def _say(run_dir: Path, done: Cancelled, out: Callable[[str], None]) -> None:
    def runs(n: int) -> str:
        return f"{n} run{'s' if n != 1 else ''}"

    out(f"{run_dir}: cancelled")
    if done.ended:
        out(f"  ended the calls of {runs(len(done.ended))}")
    if done.final:
        outcomes = sorted(set(done.final.values()))
        counts = ", ".join(f"{list(done.final.values()).count(o)} {o}" for o in outcomes)
        out(f"  final: {counts}")
    if done.released:
        count = len(done.released)
        out(f"  gave back {count} room{'s' if count != 1 else ''}")
    if done.lost:
        out(f"  {runs(len(done.lost))} were lost with the in-process emulator: nothing to end")
