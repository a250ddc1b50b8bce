"""The scheduler: slots, leases, batched one-shot submissions, polling, timeouts, stops.

Every task lives in one `asyncio.TaskGroup`: the feeder takes each waiting run when a slot
is free (at most `concurrency` in flight, and at most each room source's capacity) and
leases its room just before submission; the submitter sends runs that became ready
together in one POST of up to `batch_size` entries, never two of one scenario (so that
Cekura's answer matches its entries whatever order it lists them in), journaling the
intent durably first and the run ids after; the poller asks Cekura for every live run
each tick, records final runs and ends the calls of runs past their timeout. Releasing
rooms and ending calls run beside it as chores (a few at once), so a slow release delays
no poll. The executor never prints: it reports progress through a callback.

Stops: `stop()` (the first Ctrl-C) stops leasing and submitting, lets a POST in flight
finish and journals its run ids, then gives back the rooms of runs never sent; live runs
stay live for `--resume`, unless `end_calls`. Cancelling `run()` (a second Ctrl-C) stops
at once. A dead Cekura opens the breaker (one budget for the whole run); a refused key or
a refused poll halts the run. Either way `run()` raises `RemoteError` once it has cleaned
up, and every record says what became of its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from specrunner.cekura import (
    FINAL_STATUSES,
    PROBLEM,
    CekuraApi,
    Failure,
    SubmitError,
    Submitted,
    outcome_of,
    poll_each,
    run_problem,
    what_is_read,
)
from specrunner.errors import RemoteError
from specrunner.execute.batches import entry_of, interleaved, match_answer, plain, take_batch
from specrunner.execute.breaker import Breaker
from specrunner.execute.cadence import Cadence
from specrunner.execute.journal import Journal
from specrunner.execute.replay import Replay
from specrunner.execute.sequence import Gate
from specrunner.execute.tracked import Tally, Tracked
from specrunner.masking import Secrets, SecretTracker
from specrunner.models import Outcome, Plan, RunRecord, Snapshot
from specrunner.retry import GaveUp, RetryLater, RetryPolicy
from specrunner.rooms.base import (
    InstantRooms,
    RoomLease,
    RoomSource,
    RoomUnavailable,
    restored_lease,
)

Progress = Callable[[Snapshot], None]
LEASE_GRACE = 2.0
"""After a stop, how long leases in progress may take to finish (then they are cancelled)."""
STEP = 0.25
"""The longest the poll loop sleeps at once (a stop is noticed within it)."""
CLEANUP_SECONDS = 10.0
"""After a hard stop, how long giving back the rooms of unsent runs may take."""
POLL_MARGIN = 2.0
"""A poll in flight is cut this long (plus the poll interval) after the first live run's
timeout, so that no slow server holds a run past its timeout."""


@dataclass(frozen=True, slots=True)
class Settings:
    concurrency: int = 10
    batch_size: int = 10
    submissions: int = 4
    """POSTs in flight at once, at most: a wave of freed rooms goes out in parallel."""
    poll_interval: float = 1.0
    """The time between polls: longer (up to 8x) after 20 quiet polls, shorter (down to a
    quarter) while live runs are as old as runs of the suite were when they ended."""
    batch_window: float = 0.02
    """How long the submitter waits for more runs to become ready before a POST, while
    rooms are being leased (a batch of the runs a poll freed goes at once)."""
    submit_retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(deadline=120.0, cap=5.0))
    """For submissions Cekura refused before doing anything (429, 503 with Retry-After)."""
    unreachable_budget: float = 30.0
    """Seconds of connection failures (with no success between) the whole run tolerates."""
    chores: int = 8
    """Releases and end calls at once."""
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class Executor:
    def __init__(
        self,
        plan: Plan,
        *,
        cekura: CekuraApi,
        sources: Mapping[str, RoomSource],
        journal: Journal,
        settings: Settings,
        secrets: SecretTracker | Secrets | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.plan = plan
        self.cekura = cekura
        self.sources = sources
        self._instant = {
            name: source for name, source in sources.items() if isinstance(source, InstantRooms)
        }
        """The sources that lease and release at once: done in step, without a task."""
        self.journal = journal
        self.settings = settings
        if not isinstance(secrets, SecretTracker):
            secrets = SecretTracker(plan.secrets if secrets is None else secrets)
        self.tracker = secrets
        """What to hide in messages: the plan's secrets, those its rooms read, and each
        room's token and URL from the moment it is leased."""
        self.progress = progress
        self._tally = Tally()
        self.runs = {run.key: Tracked(run, self._tally) for run in plan.runs}
        self.breaker = Breaker(settings.unreachable_budget, now=settings.now)
        self.stopped: str | None = None
        """Why the run stopped early: None when it ran to the end."""
        self._waiting: deque[Tracked] = deque()
        self._ready: deque[Tracked] = deque()
        self._ready_changed = asyncio.Event()
        self._became_live = asyncio.Event()
        """Set when submitted runs became live: the poll loop's pause asks the cadence again."""
        self._slot_freed = asyncio.Event()
        """Set when the feeder may go on: a slot was freed, runs were released, or a stop."""
        self._gate = Gate(())
        """Sequential cells: their runs are released to `_waiting` as results come in."""
        self._in_flight = 0
        self._by_source: Counter[str] = Counter()
        self._batches = 0
        self._started = settings.now()
        self._leases: set[asyncio.Task[None]] = set()
        self._feeding = True
        self._sending = 0
        self._end_calls = False
        self._follow_live = False
        self._fatal: RemoteError | None = None
        self._chore_slots = asyncio.Semaphore(settings.chores)
        self._post_slots = asyncio.Semaphore(settings.submissions)
        self._cadence = Cadence(settings.poll_interval)
        self._last_poll = float("-inf")
        """When the poll loop last ticked (polled, if anything was live)."""
        self._group: asyncio.TaskGroup | None = None
        self._run_ids: dict[int, str] = {}
        self._report_due = False
        """A snapshot is to be sent at the end of this turn of the event loop."""

    # -- setup

    def restore(self, replay: Replay, *, lost_live: str | None = None) -> None:
        """Take up where a journal left off: final runs stay final, live runs are polled
        (or, with `lost_live`, are unknown for that reason), runs that may have been sent
        are unknown, the rest wait to be sent."""
        self._batches = replay.batches
        for key, state in replay.runs.items():
            run = self.runs.get(key)
            if run is None:
                continue
            if state.run_id is not None and lost_live is None:
                # (Ids of a Cekura that is gone, such as an in-process emulator, say nothing
                # about the runs the next one makes.)
                self._run_ids[state.run_id] = key
            if state.final is not None:
                run.final = True
                run.outcome = Outcome(state.final["outcome"])
                run.status = state.final.get("status")
                run.error = state.final.get("error")
                run.run_id, run.result_id = state.run_id, state.result_id
            elif state.run_id is not None and lost_live is not None:
                run.run_id, run.result_id = state.run_id, state.result_id
                run.outcome, run.error = Outcome.UNKNOWN, lost_live
                self.journal.write("unknown", keys=[key], reason=lost_live)
            elif state.run_id is not None:
                run.run_id, run.result_id = state.run_id, state.result_id
                run.submitted_at = self.settings.now()
                if state.room is not None and not state.released:
                    run.lease = restored_lease(state.room)
                self._take_slot(run)
            elif state.error is not None:  # Cekura rejected it: sent, and final
                run.outcome, run.error, run.final = Outcome.ERROR, state.error, True
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
        self._gate = Gate(self.runs.values())
        first, _ = self._gate.start()  # (a cell a journal decided: its runs not needed)
        self._waiting = interleaved(
            r
            for r in self.runs.values()
            if r.outcome is None and r.run_id is None and r.planned.sequence is None
        )
        self._waiting.extendleft(reversed(interleaved(first)))
        self._report()  # where the run starts (a resumed run's restored outcomes included)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                submitter = group.create_task(self._submit_loop(), name="submitter")
                group.create_task(self._feed(), name="feeder")
                await self._poll_loop(submitter)
                await submitter
                await self._settle_leases()
                if self._end_calls:
                    self._end_live_calls()
                self._give_back_unsent()
        except BaseExceptionGroup as group:
            raise _first(group) from None
        finally:
            self._group = None
            await self._last_cleanup()
        await self.journal.durable()
        self._report_now()  # the last counts, before the caller prints its summary
        if self._fatal is not None:
            raise self._fatal
        return self.records()

    def stop(self, *, end_calls: bool = False, reason: str = "interrupted") -> None:
        """Stop leasing and submitting; a POST in flight finishes and its runs are journaled.
        Live runs stay live (for --resume), unless `end_calls`: then their calls are ended
        and their rooms released."""
        if self.stopped is None:
            self.stopped = reason
        self._end_calls = self._end_calls or end_calls
        self._feeding = False
        self._slot_freed.set()
        self._ready_changed.set()

    def records(self) -> list[RunRecord]:
        return [run.record() for run in self.runs.values()]

    def _halt(self, error: RemoteError, *, follow_live: bool) -> None:
        """Stop for good on Cekura's account; `run()` raises `error` once cleaned up."""
        hidden = self._hide(str(error))
        if self._fatal is None:
            self._fatal = error if hidden == str(error) else RemoteError(hidden)
            self._follow_live = follow_live
        self.stop(reason=hidden)

    # -- slots

    def _take_slot(self, run: Tracked) -> None:
        self._in_flight += 1
        self._by_source[run.planned.room] += 1
        run.holds_slot = True

    def _slot_free(self, run: Tracked) -> bool:
        capacity = self.sources[run.planned.room].capacity
        return self._in_flight < self.settings.concurrency and (
            capacity is None or self._by_source[run.planned.room] < capacity
        )

    def _give_slot(self, run: Tracked) -> None:
        if run.holds_slot:
            run.holds_slot = False
            self._in_flight -= 1
            self._by_source[run.planned.room] -= 1
            self._slot_freed.set()

    # -- chores: releases and end calls, beside the poll loop

    def _chore(self, work: Coroutine[Any, Any, None]) -> None:
        if self._group is None:  # cleaning up after the group: do it now, in order
            raise RuntimeError("chores run inside the executor's task group")

        async def bounded() -> None:
            async with self._chore_slots:
                await work

        self._group.create_task(bounded())

    async def _release(self, run: Tracked, *, end_call: bool = False) -> None:
        """End the run's call (when asked), give its room back, then its slot."""
        lease, run.lease = run.lease, None
        with self._then_its_slot(run):
            if end_call and run.run_id is not None:
                with contextlib.suppress(GaveUp, RemoteError):  # an error either way
                    await self.cekura.end_call(run.run_id)
            if lease is not None:
                await self.sources[lease.source].release(lease)
                self.journal.write("released", key=run.planned.key)

    @contextlib.contextmanager
    def _then_its_slot(self, run: Tracked) -> Iterator[None]:
        """Around giving a run's room back (at once or as a chore): its slot is freed
        after, however that went, and "in flight" drops."""
        try:
            yield
        finally:
            self._give_slot(run)
            self._report()

    def _free(self, run: Tracked, *, end_call: bool = False) -> None:
        lease = run.lease
        if lease is None and not end_call:
            self._give_slot(run)
        elif lease is not None and not end_call and lease.source in self._instant:
            run.lease = None
            with self._then_its_slot(run):
                self._instant[lease.source].release_now(lease)
                self.journal.write("released", key=run.planned.key)
        else:
            self._chore(self._release(run, end_call=end_call))

    # -- feeding

    async def _feed(self) -> None:
        try:
            while self._feeding and (self._waiting or self._gate.open):
                if not self._waiting:  # sequential cells wait for results to go on
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                run = self._waiting[0]
                if not self._slot_free(run):
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                self._waiting.popleft()
                self._take_slot(run)
                instant = self._instant.get(run.planned.room)
                lease = instant.lease_now(run.planned) if instant is not None else None
                if lease is not None:
                    self._leased(run, lease)
                    continue
                assert self._group is not None
                task = self._group.create_task(self._lease(run))
                self._leases.add(task)
                task.add_done_callback(self._lease_done)
        finally:
            self._feeding = False
            self._ready_changed.set()

    def _lease_done(self, task: asyncio.Task[None]) -> None:
        # The submitter may be waiting for this lease: with none left, it may be done.
        self._leases.discard(task)
        self._ready_changed.set()

    async def _lease(self, run: Tracked) -> None:
        try:
            lease = await self.sources[run.planned.room].lease(run.planned)
        except asyncio.CancelledError:
            self._give_slot(run)  # stopped before the room came: nothing to give back
            raise
        except Exception as exc:  # a room source's own failure must not stall the others
            reason = (
                str(exc)
                if isinstance(exc, RoomUnavailable)
                else (f"room source {run.planned.room!r} failed: {type(exc).__name__}")
            )
            reason = self.tracker.secrets.redact_text(reason, min_length=1)
            self._finish(run, Outcome.ERROR, f"no room: {reason}", final=False)
            self.journal.write("not_sent", keys=[run.planned.key], reason=reason)
        else:
            self._leased(run, lease)

    def _leased(self, run: Tracked, lease: RoomLease) -> None:
        self._register(lease)
        run.lease = lease
        if self.stopped is not None:
            self._free(run)  # stopped while it leased: never sent
            return
        self._ready.append(run)
        self._ready_changed.set()

    def _register(self, lease: RoomLease) -> None:
        """A leased room's token, and its URL (but for a static pool's, which the suite
        names itself), are secrets from now on."""
        if lease.token:
            self.tracker.add(lease.token)
        room = self.plan.rooms.get(lease.source)
        if lease.url and (room is None or room.source != "static"):
            self.tracker.add(lease.url)

    def _hide(self, text: str) -> str:
        return self.tracker.secrets.redact_text(text)

    async def _settle_leases(self) -> None:
        """Leases still in progress when the run stopped get a moment to finish, so that
        what they made is given back (cancelling a request in flight could leave a room
        or session made and unknown); then the rest are cancelled."""
        if self._leases:
            _, late = await asyncio.wait(set(self._leases), timeout=LEASE_GRACE)
            for task in late:
                task.cancel()

    # -- submitting

    def _leasing(self) -> bool:
        return self._feeding or bool(self._leases)

    def _more_coming(self) -> bool:
        """Whether a run is on its way to ready: a room is being leased, or a free slot is
        about to be taken by a waiting run. (Else only a poll can free one: a batch that
        waited for it would lose its runs' time.)"""
        return bool(self._leases) or (
            self._feeding and bool(self._waiting) and self._slot_freed.is_set()
        )

    async def _submit_loop(self) -> None:
        """Form a batch whenever a POST may go (at most `submissions` at once) from the
        runs ready then, and send it beside the others; return once every POST is done."""
        posts: set[asyncio.Task[None]] = set()
        while self.stopped is None:
            if not self._ready:
                if not self._leasing():
                    break
                self._ready_changed.clear()
                await self._ready_changed.wait()
                continue
            await self._post_slots.acquire()
            if self.stopped is not None or not self._ready:
                self._post_slots.release()
                continue
            batch = take_batch(self._ready, self.settings.batch_size)
            deadline = self.settings.now() + self.settings.batch_window
            while (
                len(batch) < self.settings.batch_size
                and self._more_coming()
                and self.settings.now() < deadline
                and self.stopped is None
            ):
                await self.settings.sleep(0.005)
                batch += take_batch(self._ready, self.settings.batch_size, batch)
            if self.stopped is not None:
                self._post_slots.release()
                self._ready.extendleft(reversed(batch))
                break
            assert self._group is not None
            post = self._group.create_task(self._post(batch))
            posts.add(post)
            post.add_done_callback(posts.discard)
        if posts:  # after a stop too: a POST in flight finishes and its ids are journaled
            await asyncio.wait(set(posts))

    async def _post(self, batch: list[Tracked]) -> None:
        try:
            await self._submit(batch)
        finally:
            self._post_slots.release()

    async def _submit(self, batch: list[Tracked]) -> None:
        self._batches += 1
        number = self._batches
        keys = [run.planned.key for run in batch]
        rooms = {
            # What a later process needs to give the room back; never its URL or token.
            run.planned.key: {"source": run.lease.source, "handle": plain(run.lease.handle)}
            for run in batch
            if run.lease is not None
        }
        self.journal.write("intent", batch=number, keys=keys, rooms=rooms)
        await self.journal.durable()  # the intent is on disk before the POST is sent
        for run in batch:
            run.sending = True
        self._sending += 1
        try:
            submitted = await self._send([entry_of(run) for run in batch])
        except SubmitError as failure:
            self._sent(batch)
            self._submission_failed(number, batch, failure)
            return
        except BaseException:
            # Cut off (a hard stop): the runs stay `sending`, so they are reported unknown
            # and their rooms are left to whatever Cekura made of the request.
            self._sending -= 1
            raise
        self._sent(batch)
        await self._submitted(number, batch, submitted)

    def _sent(self, batch: list[Tracked]) -> None:
        """The batch's POST has its answer (or its failure)."""
        self._sending -= 1
        for run in batch:
            run.sending = False

    async def _send(self, entries: list[dict[str, Any]]) -> Submitted:
        """Submit once; send again only what provably did nothing, within the run's budget
        for an unreachable Cekura."""

        async def attempt() -> Submitted:
            try:
                answer = await self.cekura.submit(entries, self.plan.agent)
            except SubmitError as failure:
                if failure.kind is Failure.UNREACHABLE and self.breaker.failed(failure.reason):
                    raise
                if failure.kind in (Failure.REFUSED, Failure.UNREACHABLE):
                    raise RetryLater(failure.reason, failure.retry_after) from None
                raise
            self.breaker.succeeded()
            return answer

        try:
            return await self.settings.submit_retry.call(attempt)
        except GaveUp as gave_up:
            raise SubmitError(
                Failure.REFUSED, f"{gave_up.reason} (gave up after {gave_up.attempts} attempts)"
            ) from None

    async def _submitted(self, number: int, batch: list[Tracked], answer: Submitted) -> None:
        now = self.settings.now()
        matched, unknown = match_answer(batch, answer, self._run_ids)
        self.journal.write("submitted", batch=number, result_id=answer.result_id, runs=matched)
        for key, reason in unknown.items():
            self.journal.write("unknown", keys=[key], reason=reason)
        await self.journal.durable()  # the run ids are on disk before they are followed
        for run in batch:
            key = run.planned.key
            if key in matched:
                run.run_id, run.result_id, run.submitted_at = matched[key], answer.result_id, now
                run.status = "pending"
                self._run_ids[matched[key]] = key
            else:
                # It may exist in Cekura, unseen: never sent again, and its room is left to
                # Cekura (it expires or idles out), its slot freed.
                run.outcome, run.error, run.lease = Outcome.UNKNOWN, unknown[key], None
                self._give_slot(run)
                self._settled(run)
        if matched:
            self._became_live.set()
        if answer.extra:
            ids = ", ".join(str(i) for i in answer.extra)
            self._report(f"Cekura's answer to batch {number} lists runs of no entry ({ids})")
        self._report()

    def _submission_failed(self, number: int, batch: list[Tracked], failure: SubmitError) -> None:
        failure = SubmitError(failure.kind, self._hide(failure.reason), failure.retry_after)
        if failure.kind is Failure.UNKNOWN:
            self.journal.write("unknown", batch=number, reason=failure.reason)
            reason = (
                f"the submission may have reached Cekura ({failure.reason}); it is not sent again"
            )
            for run in batch:
                run.lease = None  # Cekura may be joining its room: leave it be
                self._finish(run, Outcome.UNKNOWN, reason)
            return
        if failure.kind is Failure.REJECTED:
            self.journal.write("rejected", batch=number, reason=failure.reason)
        else:
            self.journal.write("not_sent", batch=number, reason=failure.reason)
        sent_nothing = failure.kind is not Failure.REJECTED
        for run in batch:
            self._finish(
                run,
                Outcome.NOT_RUN if failure.kind is Failure.AUTH else Outcome.ERROR,
                failure.reason,
                final=not sent_nothing,  # never sent: --resume may send it
            )
        if failure.kind is Failure.AUTH:
            self._halt(RemoteError(failure.reason), follow_live=False)
        elif failure.kind is Failure.UNREACHABLE:
            self._halt(RemoteError(failure.reason), follow_live=True)

    # -- polling

    def _polling(self, submitter: asyncio.Task[None]) -> bool:
        if self._tally.decided == len(self.runs):
            return False
        if self.stopped is None or not submitter.done() or self._sending:
            return True
        return self._follow_live and bool(self._tally.live)

    async def _poll_loop(self, submitter: asyncio.Task[None]) -> None:
        self._last_poll = self.settings.now()
        while self._polling(submitter):
            await self._pause(submitter)
            self._last_poll = now = self.settings.now()
            # A poll brought forward asks only for the runs that may have ended by now.
            old_enough = now - self._cadence.poll_from()
            live = [
                run
                for run in self._tally.live.values()
                if run.submitted_at is None or run.submitted_at <= old_enough
            ]
            changed = await self._poll(live) if live else False
            expired = self._past_timeout()
            for run in expired:
                self._time_out(run)
            await self.journal.durable()  # final and release records, once per tick
            self._cadence.ticked(changed or bool(expired))

    async def _pause(self, submitter: asyncio.Task[None]) -> None:
        """Wait for the next tick, in short steps, so that a stop is seen at once, and
        asking the cadence again as soon as runs become live (see Cadence.next_poll)."""
        while self._polling(submitter):
            now = self.settings.now()
            submitted = (r.submitted_at for r in self._tally.live.values() if r.submitted_at)
            left = self._cadence.next_poll(self._last_poll, now, submitted) - now
            if left <= 0:
                return
            self._became_live.clear()
            await _first_of(self.settings.sleep(min(left, STEP)), self._became_live.wait())

    async def _poll(self, live: list[Tracked]) -> bool:
        """Poll `live`; whether anything changed."""
        by_id = {run.run_id: run for run in live if run.run_id is not None}
        bound = self._poll_bound(live)
        asked = self._last_poll
        changed = False

        def take(found: list[dict[str, Any]]) -> None:
            nonlocal changed
            changed = self._polled(found, by_id, asked) or changed

        try:
            async with asyncio.timeout(bound):
                # Each bulk GET's answer is acted on as it comes: the rooms of the runs
                # it shows ended go to the next runs while the other GETs are answered.
                await poll_each(list(by_id), self.cekura.poll, take)
        except (GaveUp, TimeoutError) as failure:
            exc = failure if isinstance(failure, GaveUp) else f"no answer within {bound:.0f} s"
            if self.breaker.failed(str(exc)):
                self._halt(RemoteError(f"Cekura cannot be polled: {exc}"), follow_live=False)
            else:
                self._report(f"polling failed for now: {exc}")
            return changed
        except RemoteError as exc:
            self._halt(exc, follow_live=False)
            return changed
        self.breaker.succeeded()
        return changed

    def _polled(
        self, found: list[dict[str, Any]], by_id: Mapping[int, Tracked], asked: float
    ) -> bool:
        """Take one answer of a poll made at `asked`; whether anything changed."""
        changed = False
        for data in found:
            run_id = data.get("id")
            if isinstance(run_id, bool) or not isinstance(run_id, int):
                continue  # it cannot be matched to a run
            run = by_id.get(run_id)
            if run is None or run.outcome is not None:
                continue
            status = data.get("status")
            if type(status) is str and status not in FINAL_STATUSES and PROBLEM not in data:
                # Still live: only its status is read now, the rest once it is final (a
                # live run is polled several times; checking all of it each time was a
                # twentieth of a large suite's CPU).
                changed = changed or status != run.status
                run.status = status
                run.seen_live_at = asked
                continue
            problem = run_problem(data)
            if problem is not None:
                changed = True
                wrong = problem if problem.startswith("is ") else f"has a wrong field: {problem}"
                reason = f"Cekura's answer for run {run_id} {wrong}"
                self._finish(run, Outcome.ERROR, reason)
                continue
            if data["status"] != run.status:
                changed = True
            run.status, run.cekura = data["status"], what_is_read(data)
            verdict = outcome_of(data)
            if verdict is None:
                run.seen_live_at = asked
                continue
            if run.submitted_at is not None:
                live_at = run.submitted_at if run.seen_live_at is None else run.seen_live_at
                self._cadence.ended(run.submitted_at, live_at, asked)
            self._finish(run, *verdict)
        return changed

    def _poll_bound(self, live: list[Tracked]) -> float:
        """How long a poll of `live` may take: until the first of them passes its timeout,
        then the poll interval and a margin (which leaves time to end its call)."""
        now = self.settings.now()
        left = min(
            (r.planned.timeout - (now - r.submitted_at) for r in live if r.submitted_at),
            default=0.0,
        )
        return max(left, 0.0) + self.settings.poll_interval + POLL_MARGIN

    def _past_timeout(self) -> list[Tracked]:
        now = self.settings.now()
        return [
            r
            for r in self._tally.live.values()
            if r.submitted_at is not None and now - r.submitted_at > r.planned.timeout
        ]

    def _time_out(self, run: Tracked) -> None:
        reason = f"timed out after {run.planned.timeout:g} s; its call was ended"
        self._finish(run, Outcome.ERROR, reason, end_call=True)

    def _end_live_calls(self) -> None:
        for run in list(self._tally.live.values()):
            if run.live:
                reason = "interrupted: its call was ended (--on-interrupt end)"
                self._finish(run, Outcome.ERROR, reason, end_call=True)

    # -- ends

    def _finish(
        self,
        run: Tracked,
        outcome: Outcome,
        error: str | None,
        *,
        final: bool = True,
        end_call: bool = False,
    ) -> None:
        """The run's outcome for this process; journaled as final unless it was never sent
        (then `--resume` sends it). Its room and slot are given back beside the polls."""
        error = None if error is None else self._hide(error)
        run.outcome, run.error, run.final = outcome, error, final
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
        self._free(run, end_call=end_call)
        self._settled(run)
        self._report()

    def _settled(self, run: Tracked) -> None:
        """A run has its outcome: its sequential cell (if any) may send its next runs,
        first in line, or be done."""
        if run.planned.sequence is None:
            return
        released, _ = self._gate.result(run)
        if released:
            self._waiting.extendleft(reversed(released))
        if released or not self._gate.open:
            self._slot_freed.set()

    def _give_back_unsent(self) -> None:
        """Rooms leased for runs that were never sent go back (as chores)."""
        self._ready.clear()
        for run in self.runs.values():
            if run.lease is not None and run.unsent:
                self._free(run)

    async def _last_cleanup(self) -> None:
        """After a hard stop: the rooms of unsent runs go back, within a bound."""
        unsent = [run for run in self.runs.values() if run.lease is not None and run.unsent]
        if not unsent:
            return

        async def give_back() -> None:
            for run in unsent:
                lease, run.lease = run.lease, None
                if lease is not None:
                    await self.sources[lease.source].release(lease)
                    self.journal.write("released", key=run.planned.key)

        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(give_back(), CLEANUP_SECONDS)

    def _report(self, message: str | None = None) -> None:
        """Tell `progress` where the run stands: at once with a message; otherwise once
        per turn of the event loop, however many runs changed in it (a poll that finds a
        hundred runs final makes one snapshot, not a hundred)."""
        if self.progress is None:
            return
        if message is not None:
            self._snapshot(self._hide(message))
            return
        if self._report_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._snapshot()
            return
        self._report_due = True
        loop.call_soon(self._report_now)

    def _report_now(self) -> None:
        if self._report_due:
            self._report_due = False
            self._snapshot()

    def _snapshot(self, message: str | None = None) -> None:
        assert self.progress is not None
        self.progress(
            Snapshot(
                total=len(self.runs),
                outcomes=dict(self._tally.outcomes),
                in_flight=self._in_flight,
                live=len(self._tally.live),
                elapsed=self.settings.now() - self._started,
                message=message,
            )
        )


async def _first_of(*waits: Awaitable[Any]) -> None:
    """Wait until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error of a task group's failure (the others were caused by it)."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group.exceptions[0]
