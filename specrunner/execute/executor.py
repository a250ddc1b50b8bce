"""The scheduler: slots, leases, batched one-shot submissions, polling, timeouts.

Three tasks share the plan's runs. The feeder takes each waiting run when a slot is free
(at most `concurrency` in flight, and at most each room source's capacity) and leases its
room just before submission. The submitter sends the runs that became ready together in
one POST of up to `batch_size` entries, journaling the intent first and the run ids after.
The poller asks Cekura for every live run (one bulk request per 100) each tick, records
final runs, ends the calls of runs past their timeout, and frees their rooms and slots.
The executor never prints: it reports progress through a callback.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from specrunner.cekura import CekuraApi, Failure, SubmitError, Submitted, outcome_of
from specrunner.errors import RemoteError
from specrunner.execute.journal import Journal, Replay
from specrunner.masking import Secrets
from specrunner.models import Outcome, Plan, PlannedRun, RunRecord, Snapshot
from specrunner.retry import GaveUp, RetryLater, RetryPolicy
from specrunner.rooms.base import RoomLease, RoomSource, RoomUnavailable

Progress = Callable[[Snapshot], None]
QUIET_POLLS = 20
SLOWEST = 8


@dataclass(frozen=True, slots=True)
class Settings:
    concurrency: int = 10
    batch_size: int = 10
    poll_interval: float = 1.0
    """The shortest time between polls; they slow down (up to 8x) after 20 quiet polls."""
    batch_window: float = 0.02
    """How long the submitter waits for more runs to become ready before a POST."""
    submit_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(deadline=120.0))
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


@dataclass(slots=True)
class _Run:
    planned: PlannedRun
    outcome: Outcome | None = None
    status: str | None = None
    run_id: int | None = None
    result_id: int | None = None
    error: str | None = None
    lease: RoomLease | None = None
    submitted_at: float | None = None
    cekura: dict[str, Any] | None = None
    holds_slot: bool = False


class Executor:
    def __init__(
        self,
        plan: Plan,
        *,
        cekura: CekuraApi,
        sources: Mapping[str, RoomSource],
        journal: Journal,
        settings: Settings,
        secrets: Secrets | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.secrets = plan.secrets if secrets is None else secrets
        """What to hide in messages: the plan's secrets and those its rooms read."""
        self.cekura = cekura
        self.sources = sources
        self.journal = journal
        self.settings = settings
        self.progress = progress
        self.runs = {run.key: _Run(run) for run in plan.runs}
        self._waiting: list[_Run] = []
        self._ready: asyncio.Queue[_Run] = asyncio.Queue()
        self._slots = asyncio.Condition()
        self._in_flight = 0
        self._by_source: Counter[str] = Counter()
        self._batches = 0
        self._started = settings.now()
        self._feeding = True
        self._leasing = 0

    # -- setup

    def restore(self, replay: Replay) -> None:
        """Take up where a journal left off: final runs stay final, live runs are polled,
        runs that may have been sent are unknown, the rest wait to be sent."""
        self._batches = replay.batches
        for key, state in replay.runs.items():
            run = self.runs.get(key)
            if run is None:
                continue
            if state.final is not None:
                run.outcome = Outcome(state.final["outcome"])
                run.status = state.final.get("status")
                run.error = state.final.get("error")
                run.run_id, run.result_id = state.run_id, state.result_id
            elif state.run_id is not None:
                run.run_id, run.result_id = state.run_id, state.result_id
                run.submitted_at = self.settings.now()
                if state.room is not None and not state.released:
                    run.lease = RoomLease(
                        state.room["source"], state.room["url"], None, state.room.get("handle")
                    )
                self._take_slot(run)
            elif state.error is not None:
                run.outcome, run.error = Outcome.ERROR, state.error
            elif state.unknown is not None:
                run.outcome, run.error = Outcome.UNKNOWN, state.unknown
            elif state.batch is not None:
                run.outcome = Outcome.UNKNOWN
                run.error = (
                    "the previous process stopped while submitting this run: it may "
                    "exist in Cekura, so it is not sent again"
                )
                self.journal.write("unknown", keys=[key], reason=run.error)

    # -- the run

    async def run(self) -> list[RunRecord]:
        for held in self.runs.values():  # rooms restored from the journal are taken
            if held.lease is not None:
                await self.sources[held.lease.source].adopt(held.lease)
        self._waiting = [r for r in self.runs.values() if r.outcome is None and r.run_id is None]
        tasks = [
            asyncio.create_task(self._feed(), name="feeder"),
            asyncio.create_task(self._submit_loop(), name="submitter"),
            asyncio.create_task(self._poll_loop(), name="poller"),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raise the first failure
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._release_unsent()
        return self.records()

    def records(self) -> list[RunRecord]:
        out = []
        for run in self.runs.values():
            out.append(
                RunRecord.of(
                    run.planned,
                    run.outcome or (Outcome.UNKNOWN if run.run_id else Outcome.NOT_RUN),
                    status=run.status,
                    run_id=run.run_id,
                    result_id=run.result_id,
                    error=run.error
                    or (
                        None
                        if run.outcome
                        else (
                            "still running in Cekura when specrunner stopped: resume to follow it"
                            if run.run_id
                            else "not submitted"
                        )
                    ),
                    cekura=run.cekura,
                )
            )
        return out

    # -- slots

    def _take_slot(self, run: _Run) -> None:
        self._in_flight += 1
        self._by_source[run.planned.room] += 1
        run.holds_slot = True

    async def _acquire(self, run: _Run) -> None:
        source = self.sources[run.planned.room]
        async with self._slots:
            await self._slots.wait_for(
                lambda: (
                    self._in_flight < self.settings.concurrency
                    and (
                        source.capacity is None
                        or self._by_source[run.planned.room] < source.capacity
                    )
                )
            )
            self._take_slot(run)

    async def _free(self, run: _Run) -> None:
        """The run is done with its room and its slot."""
        lease, run.lease = run.lease, None
        if lease is not None:
            await self.sources[lease.source].release(lease)
            self.journal.write("released", key=run.planned.key)
        if run.holds_slot:
            run.holds_slot = False
            async with self._slots:
                self._in_flight -= 1
                self._by_source[run.planned.room] -= 1
                self._slots.notify_all()

    # -- feeding

    async def _feed(self) -> None:
        leases: set[asyncio.Task[None]] = set()
        try:
            for run in self._waiting:
                await self._acquire(run)
                self._leasing += 1
                task = asyncio.create_task(self._lease(run))
                leases.add(task)
                task.add_done_callback(leases.discard)
            if leases:
                await asyncio.gather(*leases)
        finally:
            self._feeding = False

    async def _lease(self, run: _Run) -> None:
        try:
            run.lease = await self.sources[run.planned.room].lease(run.planned)
        except Exception as exc:  # a room source's own failure must not stall the others
            reason = (
                str(exc)
                if isinstance(exc, RoomUnavailable)
                else (f"room source {run.planned.room!r} failed: {type(exc).__name__}")
            )
            reason = self.secrets.redact_text(reason, min_length=1)
            await self._finish(run, Outcome.ERROR, f"no room: {reason}", final=False)
            self.journal.write("not_sent", keys=[run.planned.key], reason=reason)
        else:
            await self._ready.put(run)
        finally:
            self._leasing -= 1

    # -- submitting

    async def _submit_loop(self) -> None:
        while True:
            if not self._feeding and self._leasing == 0 and self._ready.empty():
                return
            try:
                first = await asyncio.wait_for(self._ready.get(), timeout=0.05)
            except TimeoutError:
                continue
            batch = [first]
            deadline = self.settings.now() + self.settings.batch_window
            while len(batch) < self.settings.batch_size:
                try:
                    batch.append(self._ready.get_nowait())
                except asyncio.QueueEmpty:
                    if self.settings.now() >= deadline or (
                        not self._leasing and self._ready.empty()
                    ):
                        break
                    await self.settings.sleep(0.005)
            await self._submit(batch)

    async def _submit(self, batch: list[_Run]) -> None:
        self._batches += 1
        number = self._batches
        keys = [run.planned.key for run in batch]
        rooms = {
            run.planned.key: {
                "source": run.lease.source,
                "url": run.lease.url,
                "handle": _plain(run.lease.handle),
            }
            for run in batch
            if run.lease is not None
        }
        self.journal.write("intent", batch=number, keys=keys, rooms=rooms)
        entries = [self._entry(run) for run in batch]
        try:
            submitted = await self._send(entries)
        except SubmitError as failure:
            await self._submission_failed(number, batch, failure)
            return
        now = self.settings.now()
        self.journal.write(
            "submitted",
            batch=number,
            result_id=submitted.result_id,
            runs=dict(zip(keys, submitted.run_ids, strict=True)),
        )
        for run, run_id in zip(batch, submitted.run_ids, strict=True):
            run.run_id, run.result_id, run.submitted_at = run_id, submitted.result_id, now
            run.status = "pending"
        self._report()

    async def _send(self, entries: list[dict[str, Any]]) -> Submitted:
        """Submit once; send again only what provably did nothing (refused)."""

        async def attempt() -> Submitted:
            try:
                return await self.cekura.submit(entries, self.plan.agent)
            except SubmitError as failure:
                if failure.kind is not Failure.REFUSED:
                    raise
                raise RetryLater(failure.reason, failure.retry_after) from None

        try:
            return await self.settings.submit_retry.call(attempt)
        except GaveUp as gave_up:
            raise SubmitError(
                Failure.REFUSED, f"{gave_up.reason} (gave up after {gave_up.attempts} attempts)"
            ) from None

    async def _submission_failed(
        self, number: int, batch: list[_Run], failure: SubmitError
    ) -> None:
        if failure.kind is Failure.UNKNOWN:
            self.journal.write("unknown", batch=number, reason=failure.reason)
            reason = (
                f"the submission may have reached Cekura ({failure.reason}); it is not sent again"
            )
            for run in batch:
                await self._finish(run, Outcome.UNKNOWN, reason)
            return
        if failure.kind is Failure.REJECTED:
            self.journal.write("rejected", batch=number, reason=failure.reason)
        else:
            self.journal.write("not_sent", batch=number, reason=failure.reason)
        sent_nothing = failure.kind is not Failure.REJECTED
        for run in batch:
            await self._finish(
                run,
                Outcome.ERROR if failure.kind is not Failure.AUTH else Outcome.NOT_RUN,
                failure.reason,
                final=not sent_nothing,  # never sent: --resume may send it
            )
        if failure.kind is Failure.AUTH:
            raise RemoteError(failure.reason)

    def _entry(self, run: _Run) -> dict[str, Any]:
        assert run.lease is not None
        entry: dict[str, Any] = {
            "scenario": run.planned.scenario_id,
            "pipecat_room_url": run.lease.url,
        }
        if run.lease.token:
            entry["pipecat_token"] = run.lease.token
        if run.planned.publish_data_message is not None:
            entry["publish_data_message"] = run.planned.publish_data_message
        return entry

    # -- polling

    async def _poll_loop(self) -> None:
        shortest = self.settings.poll_interval
        interval, quiet = shortest, 0
        while any(r.outcome is None for r in self.runs.values()):
            await self.settings.sleep(interval)
            live = [r for r in self.runs.values() if r.run_id is not None and r.outcome is None]
            changed = await self._poll(live) if live else False
            expired = self._past_timeout()
            for run in expired:
                await self._time_out(run)
            # Poll at the shortest interval while anything moves; after QUIET_POLLS polls
            # with no change (long calls), slow down, up to SLOWEST times the shortest.
            quiet = 0 if changed or expired else quiet + 1
            interval = shortest if quiet < QUIET_POLLS else min(interval * 1.5, shortest * SLOWEST)

    async def _poll(self, live: list[_Run]) -> bool:
        by_id = {run.run_id: run for run in live if run.run_id is not None}
        try:
            found = await self.cekura.poll(list(by_id))
        except GaveUp as exc:
            self._report(f"polling failed for now: {exc}")
            return False
        changed = False
        for data in found:
            run = by_id.get(data.get("id"))  # type: ignore[arg-type]
            if run is None or run.outcome is not None:
                continue
            if data.get("status") != run.status:
                changed = True
            run.status, run.cekura = data.get("status"), data
            verdict = outcome_of(data)
            if verdict is not None:
                await self._finish(run, *verdict)
        return changed

    def _past_timeout(self) -> list[_Run]:
        now = self.settings.now()
        return [
            r
            for r in self.runs.values()
            if r.outcome is None
            and r.submitted_at is not None
            and now - r.submitted_at > r.planned.timeout
        ]

    async def _time_out(self, run: _Run) -> None:
        if run.run_id is not None:
            with contextlib.suppress(GaveUp, RemoteError):  # an error either way
                await self.cekura.end_call(run.run_id)
        await self._finish(
            run, Outcome.ERROR, f"timed out after {run.planned.timeout:g} s; its call was ended"
        )

    # -- ends

    async def _finish(
        self, run: _Run, outcome: Outcome, error: str | None, *, final: bool = True
    ) -> None:
        """The run's outcome for this process; journaled as final unless it was never sent
        (then `--resume` sends it)."""
        run.outcome, run.error = outcome, error
        if final:
            self.journal.write(
                "final",
                key=run.planned.key,
                outcome=outcome.value,
                status=run.status,
                run_id=run.run_id,
                result_id=run.result_id,
                error=error,
            )
        await self._free(run)
        self._report()

    async def _release_unsent(self) -> None:
        """On the way out, free rooms leased for runs that were never sent."""
        for run in self.runs.values():
            if run.lease is not None and run.run_id is None and run.outcome is None:
                await self._free(run)

    def _report(self, message: str | None = None) -> None:
        if self.progress is None:
            return
        outcomes = Counter(r.outcome.value for r in self.runs.values() if r.outcome)
        live = sum(1 for r in self.runs.values() if r.run_id and r.outcome is None)
        self.progress(
            Snapshot(
                total=len(self.runs),
                outcomes=dict(outcomes),
                in_flight=self._in_flight,
                live=live,
                elapsed=self.settings.now() - self._started,
                message=message,
            )
        )


def _plain(handle: Any) -> Any:
    return handle if isinstance(handle, str | int | float | bool) or handle is None else str(handle)
