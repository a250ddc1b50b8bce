"""Secrets a run learns as it goes (the API key, each leased room's token and URL) are
hidden wherever a server quotes them: run errors, progress, the journal and the report;
and the journal keeps of a room only what gives it back, never its URL or token."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_executor import Clock, FakeCekura, FakeSource, plan

from specrunner.cekura import Failure, SubmitError, Submitted
from specrunner.errors import RemoteError
from specrunner.execute.executor import Executor, Settings
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL
from specrunner.execute.replay import replay
from specrunner.masking import SecretTracker
from specrunner.models import PlannedRun, RoomSourceKind, RunRecord, Snapshot
from specrunner.report.build import build_report
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomLease, restored_lease
from specrunner.rooms.static import StaticRoom, StaticRoomSource

API_KEY = "sk-live-canary-0d9e8f"


def token_of(key: str) -> str:
    return f"tok-canary-{key}-7a1c"


def url_of(key: str) -> str:
    return f"https://acme.daily.co/canary-room-{key}"


class SecretRooms(FakeSource):
    """Leases rooms whose URL and token are secrets only this source knows."""

    async def lease(self, run: PlannedRun) -> RoomLease:
        await asyncio.sleep(0)
        return RoomLease(self.name, url_of(run.key), token_of(run.key), f"room-{run.key[-3:]}")


class Echoes(FakeCekura):
    """A Cekura that quotes what it was sent: it refuses the first batch quoting its
    entries (tokens and URLs), and fails the rest quoting the room and the API key."""

    def __init__(self) -> None:
        super().__init__(polls_to_finish=1)
        self.refused = False
        self.rooms: dict[int, str] = {}

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        if not self.refused:
            self.refused = True
            raise SubmitError(Failure.REJECTED, f"HTTP 400: bad entries {json.dumps(entries)}")
        answer = await super().submit(entries, agent)
        for run_id, entry in zip(answer.run_ids, entries, strict=True):
            assert run_id is not None
            self.rooms[run_id] = f"{entry['pipecat_room_url']}?t={entry['pipecat_token']}"
        return answer

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        found = await super().poll(run_ids)
        for data in found:
            data["status"], data["success"] = "failed", False
            data["error_message"] = (
                f"could not join {self.rooms[data['id']]} (key {API_KEY}, "
                f"{API_KEY.upper()}, {base64.b64encode(API_KEY.encode()).decode()})"
            )
        return found


def run_with(
    tmp_path: Path, cekura: FakeCekura, source: FakeSource, runs: int = 6
) -> tuple[list[RunRecord], Executor, SecretTracker, list[Snapshot]]:
    static = plan(runs, {"a": None})
    daily = dataclasses.replace(static.rooms["a"], source=RoomSourceKind.DAILY)
    the_plan = dataclasses.replace(static, rooms={"a": daily})
    tracker = SecretTracker([API_KEY])
    journal = Journal(tmp_path / JOURNAL, secrets=tracker)
    journal.write("start", keys=[r.key for r in the_plan.runs], request={})
    clock = Clock()
    seen: list[Snapshot] = []
    executor = Executor(
        the_plan,
        cekura=cekura,
        sources={"a": source},
        journal=journal,
        settings=Settings(
            batch_size=3,
            batch_window=0.0,
            now=clock.now,
            sleep=clock.sleep,
            submit_retry=RetryPolicy(sleep=clock.sleep, deadline=60.0, now=clock.now),
        ),
        secrets=tracker,
        progress=seen.append,
    )
    try:
        records = asyncio.run(executor.run())
    finally:
        journal.close()
    return records, executor, tracker, seen


def forms(secret: str) -> list[str]:
    raw = secret.encode()
    return [secret, secret.upper(), secret[::-1], base64.b64encode(raw).decode()]


def test_tokens_urls_and_the_api_key_quoted_by_cekura_are_hidden_everywhere(
    tmp_path: Path,
) -> None:
    records, executor, tracker, seen = run_with(tmp_path, Echoes(), SecretRooms("a", None))
    errors = [r.error or "" for r in records]
    assert sum("bad entries" in e for e in errors) == 3  # the refused batch
    assert sum("could not join" in e for e in errors) == 3  # the polled ones
    report = build_report(
        executor.plan,
        records,
        secrets=tracker.secrets,
        started_at=None,
        finished_at="2026-12-02T00:00:00Z",
        run_dir=None,
        git_commit=None,
    ).report
    texts = {
        "errors": "\n".join(errors),
        "journal": (tmp_path / JOURNAL).read_text(),
        "report": json.dumps(report),
        "progress": "\n".join(str(s.message) for s in seen),
    }
    secrets = [API_KEY, *(f(r.key) for r in records for f in (token_of, url_of))]
    for where, text in texts.items():
        for secret in secrets:
            for form in forms(secret):
                assert form not in text, (where, form)
    assert "***" in texts["errors"] and "***" in texts["journal"]


def test_a_refusal_quoting_the_api_key_stops_the_run_without_it(tmp_path: Path) -> None:
    class Refuses(FakeCekura):
        async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
            raise RemoteError(f"Cekura refused the API key (HTTP 401: no key {API_KEY})")

    with pytest.raises(RemoteError) as raised:
        run_with(tmp_path, Refuses(), SecretRooms("a", None), runs=3)
    assert API_KEY not in str(raised.value)
    assert "***" in str(raised.value)
    assert API_KEY not in (tmp_path / JOURNAL).read_text()


def test_the_journal_keeps_a_rooms_source_and_handle_never_its_url_or_token(
    tmp_path: Path,
) -> None:
    records, _, _, _ = run_with(tmp_path, FakeCekura(), SecretRooms("a", None))
    intents = [
        json.loads(line)
        for line in (tmp_path / JOURNAL).read_text().splitlines()
        if '"intent"' in line
    ]
    rooms = [room for intent in intents for room in intent["rooms"].values()]
    assert len(rooms) == len(records)
    assert all(set(room) == {"source", "handle"} for room in rooms)
    state = replay(tmp_path / JOURNAL)
    assert {s.room["handle"] for s in state.runs.values() if s.room} == {
        f"room-{r.key[-3:]}" for r in records
    }


def test_a_static_room_restored_from_the_journal_is_found_by_its_place_in_the_pool() -> None:
    async def scenario() -> list[str]:
        rooms = [StaticRoom(f"https://acme.daily.co/lab-{i}", f"t{i}") for i in range(3)]
        source = StaticRoomSource("lab", rooms, capacity=3)
        held = restored_lease({"source": "lab", "handle": 1})  # as the journal keeps it
        await source.adopt(held)
        the_plan = plan(3, {"lab": None})
        leased = [await source.lease(run) for run in the_plan.runs[:2]]
        urls = [lease.url for lease in leased]
        await source.release(held)  # the restored lease gives its room back
        third = await asyncio.wait_for(source.lease(the_plan.runs[2]), 1.0)
        return [*urls, third.url]

    first, second, third = asyncio.run(scenario())
    assert {first, second} == {"https://acme.daily.co/lab-0", "https://acme.daily.co/lab-2"}
    assert third == "https://acme.daily.co/lab-1"


def test_a_journal_of_an_older_version_with_room_urls_still_restores_by_url() -> None:
    async def scenario() -> str:
        rooms = [StaticRoom(f"https://acme.daily.co/lab-{i}") for i in range(2)]
        source = StaticRoomSource("lab", rooms, capacity=2)
        old = {"source": "lab", "url": "https://acme.daily.co/lab-0", "handle": None}
        await source.adopt(restored_lease(old))
        return (await source.lease(plan(1, {"lab": None}).runs[0])).url

    assert asyncio.run(scenario()) == "https://acme.daily.co/lab-1"
