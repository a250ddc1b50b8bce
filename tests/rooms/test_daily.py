"""Daily rooms and tokens against the emulator's REST API, over loopback; the bot-start
endpoint is a fake mounted on another loopback address of the same client."""

from __future__ import annotations

import asyncio
import json
import logging
import time as wall_time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, planned_run, requests_to, room_config

from specrunner.emulator import Emulator, EmulatorConfig, Fault, ManualClock
from specrunner.models import RoomConfig
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.build import build_room_source
from specrunner.rooms.daily import DailyRoomSource, Pacer

KEY = "daily_secret_key_1234"
BOT = "http://127.0.0.2:9"  # never reached over TCP: a MockTransport is mounted there
TWO_HOURS = 7200


def daily(emu: Emulator, **values: Any) -> RoomConfig:
    values.setdefault("api_key", KEY)
    values.setdefault("api_url", f"{emu.base_url}/v1")
    return room_config("daily", secret=("api_key",), **values)


class BotStarts:
    """A fake bot-start endpoint: records each request; `answer` decides the reply."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.answer = answer or (lambda _: httpx.Response(200, json={"ok": True}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)

    def bodies(self) -> list[Any]:
        return [json.loads(r.content) for r in self.requests]


def run_daily(
    config: RoomConfig,
    time: FakeTime,
    body: Callable[[DailyRoomSource], Any],
    bot: BotStarts | None = None,
    **policy: Any,
) -> Any:
    async def main() -> Any:
        mounts = {BOT: httpx.MockTransport(bot or BotStarts())}
        async with httpx.AsyncClient(timeout=5.0, mounts=mounts) as client:
            source = build_room_source(config, http=client, environ={}, retry=time.policy(**policy))
            assert isinstance(source, DailyRoomSource)
            return await body(source)

    return asyncio.run(main())


def get_room(emu: Emulator, name: str) -> httpx.Response:
    return httpx.get(f"{emu.base_url}/v1/rooms/{name}", headers={"Authorization": f"Bearer {KEY}"})


def test_a_lease_is_a_private_room_with_exp_and_a_token_for_it() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = daily(
            emu, room_properties={"max_participants": 2}, token_properties={"is_owner": True}
        )

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        before = wall_time.time()
        lease = run_daily(config, time, body)
        after = wall_time.time()
        (room,) = emu.ledger.rooms
        shown = get_room(emu, room.name).json()
        claims = emu.decode_token(lease.token or "")
    assert (lease.url, lease.handle, room.created_by) == (room.url, room.name, "daily")
    assert shown["privacy"] == "private"
    assert shown["config"]["max_participants"] == 2
    exp = shown["config"]["exp"]
    assert int(before) + TWO_HOURS <= exp <= after + TWO_HOURS
    assert claims == {"room_name": room.name, "exp": exp, "is_owner": True}
    assert KEY not in repr(lease) and lease.token not in repr(lease)


def test_exp_from_room_properties_and_a_long_run_s_timeout() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        fixed = int(wall_time.time()) + 900

        async def body(source: DailyRoomSource) -> list[RoomLease]:
            return [await source.lease(planned_run())]

        (given,) = run_daily(daily(emu, room_properties={"exp": fixed}), time, body)

        async def long_run(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run(timeout=3 * 3600))

        before = wall_time.time()
        long = run_daily(daily(emu), time, long_run)
        assert emu.decode_token(given.token or "") == {"room_name": given.handle, "exp": fixed}
        long_claims = emu.decode_token(long.token or "")
    assert long_claims is not None
    assert long_claims["exp"] >= int(before) + 3 * 3600 + 600


def test_release_deletes_the_room_once() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> None:
            lease = await source.lease(planned_run())
            await source.release(lease)
            await source.release(lease)

        run_daily(daily(emu), time, body)
        (room,) = emu.ledger.rooms
        deletes = requests_to(emu.ledger, "daily.delete_room")
    assert room.deleted_at is not None
    assert [d.status for d in deletes] == [200]


def test_a_room_already_gone_counts_as_deleted(caplog: pytest.LogCaptureFixture) -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> None:
            lease = await source.lease(planned_run())
            gone = await source._http.delete(  # someone else deleted it first
                f"{emu.base_url}/v1/rooms/{lease.handle}",
                headers={"Authorization": f"Bearer {KEY}"},
            )
            assert gone.status_code == 200
            await source.release(lease)

        with caplog.at_level(logging.WARNING):
            run_daily(daily(emu), time, body)
        deletes = requests_to(emu.ledger, "daily.delete_room")
    assert [d.status for d in deletes] == [200, 404]
    assert time.waits == []
    assert caplog.records == []


def test_deletes_stay_within_two_per_second() -> None:
    clock = ManualClock()
    time = FakeTime(clock)  # the pacer's sleep moves the emulator's clock
    with Emulator(EmulatorConfig(daily_rate_limit=True), clock=clock) as emu:

        async def body(source: DailyRoomSource) -> None:
            leases = [await source.lease(planned_run(f"r{i}")) for i in range(7)]
            for lease in leases:
                await source.release(lease)

        run_daily(daily(emu), time, body)
        deletes = requests_to(emu.ledger, "daily.delete_room")
        rooms = emu.ledger.rooms
    assert [d.status for d in deletes] == [200] * 7  # never refused with a 429
    moments = [d.at for d in deletes]
    assert all(later - earlier >= 1.0 for earlier, later in zip(moments, moments[2:], strict=False))
    assert all(room.deleted_at is not None for room in rooms)
    assert moments[-1] < 4.0  # paced, not crawling


def test_concurrent_deletes_on_a_real_clock_all_succeed() -> None:
    scale = 4.0  # emulator seconds per real second, to keep the test short

    async def sleep(seconds: float) -> None:
        await asyncio.sleep(seconds / scale)

    policy = RetryPolicy(sleep=sleep, now=lambda: wall_time.monotonic() * scale, max_attempts=8)
    with Emulator(EmulatorConfig(time_scale=scale)) as emu:

        async def main() -> None:
            async with httpx.AsyncClient(timeout=5.0) as client:
                source = build_room_source(daily(emu), http=client, environ={}, retry=policy)
                leases = [await source.lease(planned_run(f"r{i}")) for i in range(5)]
                await asyncio.wait_for(
                    asyncio.gather(*(source.release(lease) for lease in leases)), 30
                )

        asyncio.run(main())
        deletes = [d for d in requests_to(emu.ledger, "daily.delete_room") if d.status == 200]
        rooms = emu.ledger.rooms
    assert len(deletes) == 5
    assert all(room.deleted_at is not None for room in rooms)


def test_the_pacer_spreads_concurrent_callers() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:  # the clock stands still while they wait
        waits.append(seconds)

    pacer = Pacer(2.0, now=lambda: 100.0, sleep=sleep)

    async def main() -> None:
        await asyncio.gather(*(pacer.wait() for _ in range(5)))

    asyncio.run(main())
    assert sorted(waits) == pytest.approx([0.55, 1.1, 1.65, 2.2])


def test_the_pacer_spaces_starts_evenly() -> None:
    time = FakeTime()
    pacer = Pacer(2.0, now=time.now, sleep=time.sleep)

    async def main() -> list[float]:
        starts = []
        for _ in range(5):
            await pacer.wait()
            starts.append(time.now())
        return starts

    starts = asyncio.run(main())
    assert starts == pytest.approx([0.0, 0.55, 1.1, 1.65, 2.2])


def test_a_rate_limited_delete_is_retried_after_retry_after() -> None:
    time = FakeTime()
    fault = Fault(endpoint="daily.delete_room", status=429, retry_after=1, nth=frozenset({1}))
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> None:
            await source.release(await source.lease(planned_run()))

        run_daily(daily(emu), time, body)
        deletes = requests_to(emu.ledger, "daily.delete_room")
        (room,) = emu.ledger.rooms
    assert [d.status for d in deletes] == [429, 200]
    assert time.waits[0] >= 1
    assert room.deleted_at is not None


def test_a_release_that_keeps_failing_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = FakeTime()
    fault = Fault(endpoint="daily.delete_room", status=500)
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> None:
            await source.release(await source.lease(planned_run()))

        with caplog.at_level(logging.WARNING, logger="specrunner.rooms"):
            run_daily(daily(emu), time, body, max_attempts=3)
        (room,) = emu.ledger.rooms
        deletes = requests_to(emu.ledger, "daily.delete_room")
    assert len(deletes) == 3
    assert room.deleted_at is None
    assert [r.getMessage() for r in caplog.records] == [
        f"room source 'lab': deletion of Daily room {room.name} failed: "
        "HTTP 500: server-error: injected by the emulator (after 3 attempts)"
    ]


def test_a_failed_room_creation_is_retried() -> None:
    time = FakeTime()
    fault = Fault(endpoint="daily.create_room", status=503, nth=frozenset({1}))
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        lease = run_daily(daily(emu), time, body)
        creates = requests_to(emu.ledger, "daily.create_room")
        (room,) = emu.ledger.rooms
    assert [c.status for c in creates] == [503, 200]
    assert lease.url == room.url
    assert len(time.waits) == 1


def test_a_refused_key_is_unavailable_without_the_key() -> None:
    time = FakeTime()
    cfg = EmulatorConfig(daily_keys=frozenset({"the-right-daily-key"}))
    with Emulator(cfg, clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> str:
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run())
            return str(caught.value)

        message = run_daily(daily(emu), time, body)
        assert emu.ledger.rooms == []
    assert message == (
        "room source 'lab': Daily room creation failed: "
        "HTTP 401: authentication-error: Invalid API key"
    )
    assert time.waits == []


def test_when_the_token_cannot_be_had_the_room_is_deleted() -> None:
    time = FakeTime()
    fault = Fault(endpoint="daily.create_token", status=500)
    with Emulator(EmulatorConfig(faults=(fault,)), clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> str:
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run())
            return str(caught.value)

        message = run_daily(daily(emu), time, body, max_attempts=2)
        (room,) = emu.ledger.rooms
    assert "Daily meeting token creation failed: HTTP 500" in message
    assert "(after 2 attempts)" in message
    assert room.deleted_at is not None


def test_close_leaves_leased_rooms_and_a_restored_lease_deletes_its_room() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:

        async def first_process(source: DailyRoomSource) -> RoomLease:
            lease = await source.lease(planned_run("a"))
            await source.close()  # interrupted: the run may go on in Cekura
            return lease

        lease = run_daily(daily(emu), time, first_process)
        (room,) = emu.ledger.rooms
        assert room.deleted_at is None

        async def resumed(source: DailyRoomSource) -> None:
            restored = RoomLease(lease.source, lease.url, None, lease.handle)  # from a journal
            await source.adopt(restored)
            await source.release(restored)

        run_daily(daily(emu), time, resumed)
        (room,) = emu.ledger.rooms
    assert room.deleted_at is not None


def test_api_url_defaults_to_daily_api_url() -> None:
    time = FakeTime()
    with Emulator(clock=ManualClock()) as emu:
        config = room_config("daily", api_key=KEY)

        async def main() -> RoomLease:
            async with httpx.AsyncClient(timeout=5.0) as client:
                environ = {"DAILY_API_URL": f"{emu.base_url}/v1"}
                source = build_room_source(
                    config, http=client, environ=environ, retry=time.policy()
                )
                return await source.lease(planned_run())

        lease = asyncio.run(main())
        assert [room.url for room in emu.ledger.rooms] == [lease.url]


# -- start_bot ---------------------------------------------------------------------------------


def test_start_bot_gets_the_room_and_token() -> None:
    time = FakeTime()
    bot = BotStarts()
    with Emulator(clock=ManualClock()) as emu:
        config = daily(
            emu,
            start_bot={
                "url": f"{BOT}/start",
                "headers": {"Authorization": "Bearer bot-key-5678"},
                "body": {"persona": "calm"},
                "timeout": "30s",
            },
        )

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        lease = run_daily(config, time, body, bot=bot)
    (request,) = bot.requests
    assert request.method == "POST"
    assert request.headers["Authorization"] == "Bearer bot-key-5678"
    assert request.extensions["timeout"]["read"] == 30.0
    assert bot.bodies() == [{"room_url": lease.url, "token": lease.token, "persona": "calm"}]


def test_start_bot_keeps_a_room_url_its_body_sets() -> None:
    time = FakeTime()
    bot = BotStarts()
    with Emulator(clock=ManualClock()) as emu:
        config = daily(
            emu,
            start_bot={"url": f"{BOT}/start", "method": "put", "body": {"room_url": "mine"}},
        )

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        lease = run_daily(config, time, body, bot=bot)
    assert [r.method for r in bot.requests] == ["PUT"]
    assert bot.bodies() == [{"room_url": "mine", "token": lease.token}]


def test_start_bot_without_a_body_sends_room_and_token() -> None:
    time = FakeTime()
    bot = BotStarts()
    with Emulator(clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        lease = run_daily(daily(emu, start_bot={"url": f"{BOT}/start"}), time, body, bot=bot)
    assert bot.bodies() == [{"room_url": lease.url, "token": lease.token}]


def failing(*outcomes: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """Answers (or raises) `outcomes` in turn, then 200."""
    queue = list(outcomes)

    def answer(request: httpx.Request) -> httpx.Response:
        if not queue:
            return httpx.Response(200)
        outcome = queue.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return answer


def test_start_bot_is_retried_only_when_it_surely_did_nothing() -> None:
    time = FakeTime()
    refused = httpx.ConnectError("Connection refused")
    bot = BotStarts(
        failing(refused, httpx.Response(429), httpx.Response(503, headers={"Retry-After": "2"}))
    )
    with Emulator(clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> RoomLease:
            return await source.lease(planned_run())

        run_daily(daily(emu, start_bot={"url": f"{BOT}/start"}), time, body, bot=bot)
        (room,) = emu.ledger.rooms
    assert len(bot.requests) == 4
    assert time.waits[2] >= 2
    assert room.deleted_at is None


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (httpx.Response(500, json={"error": "bot crashed"}), "HTTP 500: bot crashed"),
        (httpx.Response(401, text="no"), "HTTP 401: no"),
        (httpx.ReadTimeout("timed out"), "no answer within the timeout"),
    ],
    ids=["500", "401", "timeout"],
)
def test_start_bot_failures_that_may_have_started_a_bot_are_not_retried(
    outcome: httpx.Response | Exception, expected: str
) -> None:
    time = FakeTime()
    bot = BotStarts(failing(outcome))
    with Emulator(clock=ManualClock()) as emu:

        async def body(source: DailyRoomSource) -> str:
            with pytest.raises(RoomUnavailable) as caught:
                await source.lease(planned_run())
            return str(caught.value)

        message = run_daily(daily(emu, start_bot={"url": f"{BOT}/start"}), time, body, bot=bot)
        (room,) = emu.ledger.rooms
    assert len(bot.requests) == 1
    assert message.startswith("room source 'lab': start_bot request")
    assert expected in message
    assert room.deleted_at is not None  # a room without its bot is of no use


def test_deletions_are_paced_under_both_of_dailys_limits() -> None:
    from specrunner.rooms.daily import DELETES_PER_SECOND

    pacer = Pacer(DELETES_PER_SECOND, now=lambda: 0.0, sleep=asyncio.sleep)
    assert pacer.interval >= 0.5  # 2 a second
    assert 49 * pacer.interval >= 30.0  # 50 in any 30 s: the 51st comes after 30 s
