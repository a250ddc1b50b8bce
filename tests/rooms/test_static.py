"""Static rooms: a pool in which each room hosts one run at a time."""

from __future__ import annotations

import asyncio

import pytest
from roomkit import planned_run, room_config

from specrunner.errors import UsageError
from specrunner.rooms.base import RoomLease
from specrunner.rooms.static import StaticRoom, StaticRoomSource

LAB_1 = "https://acme.daily.co/lab-1"
LAB_2 = "https://acme.daily.co/lab-2"


def test_one_url_with_its_token() -> None:
    source = StaticRoomSource.from_config(
        room_config("static", url=LAB_1, token="tok-1234", secret=("token",)), capacity=1
    )

    async def main() -> RoomLease:
        return await source.lease(planned_run())

    lease = asyncio.run(main())
    assert (lease.source, lease.url, lease.token) == ("lab", LAB_1, "tok-1234")
    assert "tok-1234" not in repr(lease)
    assert "tok-1234" not in repr(source)


def test_a_room_without_a_token_leases_none() -> None:
    source = StaticRoomSource.from_config(room_config("static", url=LAB_1), capacity=1)
    lease = asyncio.run(source.lease(planned_run()))
    assert lease.token is None


def test_each_room_hosts_one_run_at_a_time() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1, "t1"), StaticRoom(LAB_2, "t2")], capacity=2)

    async def main() -> list[str]:
        first = await source.lease(planned_run("a"))
        second = await source.lease(planned_run("b"))
        assert {first.url, second.url} == {LAB_1, LAB_2}
        third = asyncio.create_task(source.lease(planned_run("c")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not third.done()  # both rooms are busy: it waits
        await source.release(second)
        got = await asyncio.wait_for(third, 1.0)
        assert (got.url, got.token) == (second.url, second.token)
        return [first.url, got.url]

    urls = asyncio.run(main())
    assert sorted(urls) == sorted([LAB_1, LAB_2])


def test_releasing_twice_frees_the_room_once() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1)], capacity=1)

    async def main() -> None:
        lease = await source.lease(planned_run("a"))
        await source.release(lease)
        await source.release(lease)
        again = await source.lease(planned_run("b"))
        waiting = asyncio.create_task(source.lease(planned_run("c")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()  # one room: the double release did not make two
        await source.release(again)
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(main())


def test_a_cancelled_waiter_gives_its_turn_to_the_next() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1)], capacity=1)

    async def main() -> None:
        held = await source.lease(planned_run("a"))
        cancelled = asyncio.create_task(source.lease(planned_run("b")))
        patient = asyncio.create_task(source.lease(planned_run("c")))
        await asyncio.sleep(0)
        cancelled.cancel()
        await source.release(held)
        lease = await asyncio.wait_for(patient, 1.0)
        assert lease.url == LAB_1
        assert cancelled.cancelled()

    asyncio.run(main())


def test_rooms_list() -> None:
    config = room_config("static", rooms=[{"url": LAB_1, "token": "t1"}, {"url": LAB_2}])
    source = StaticRoomSource.from_config(config, capacity=2)

    async def main() -> list[RoomLease]:
        return [await source.lease(planned_run("a")), await source.lease(planned_run("b"))]

    leases = asyncio.run(main())
    assert [(x.url, x.token) for x in leases] == [(LAB_1, "t1"), (LAB_2, None)]


def test_a_room_listed_twice_is_a_usage_error() -> None:
    config = room_config("static", rooms=[{"url": LAB_1}, {"url": LAB_1 + " "}])
    with pytest.raises(UsageError, match="listed twice"):
        StaticRoomSource.from_config(config, capacity=2)


def test_url_and_rooms_together_is_a_usage_error() -> None:
    config = room_config("static", url=LAB_1, rooms=[{"url": LAB_2}])
    with pytest.raises(UsageError, match="'lab': give either url or rooms"):
        StaticRoomSource.from_config(config, capacity=1)


def test_a_room_handed_over_as_its_waiter_is_cancelled_goes_to_the_next() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1)], capacity=1)

    async def main() -> None:
        held = await source.lease(planned_run("a"))
        unlucky = asyncio.create_task(source.lease(planned_run("b")))
        await asyncio.sleep(0)
        await source.release(held)  # the room is handed to `unlucky`...
        unlucky.cancel()  # ...which is cancelled before it wakes up
        with pytest.raises(asyncio.CancelledError):
            await unlucky
        lease = await asyncio.wait_for(source.lease(planned_run("c")), 1.0)
        assert lease.url == LAB_1

    asyncio.run(main())


def test_an_adopted_lease_keeps_its_room_until_released() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1), StaticRoom(LAB_2)], capacity=2)
    restored = RoomLease("lab", LAB_2, None, 1)  # from the journal of an earlier process

    async def main() -> list[str]:
        await source.adopt(restored)
        await source.adopt(restored)
        first = await source.lease(planned_run("a"))
        waiting = asyncio.create_task(source.lease(planned_run("b")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()  # LAB_2 still hosts the restored run
        await source.release(restored)
        second = await asyncio.wait_for(waiting, 1.0)
        return [first.url, second.url]

    assert asyncio.run(main()) == [LAB_1, LAB_2]


def test_a_lease_of_another_source_is_not_taken_back() -> None:
    source = StaticRoomSource("lab", [StaticRoom(LAB_1)], capacity=1)

    async def main() -> None:
        held = await source.lease(planned_run("a"))
        await source.release(RoomLease("other", LAB_1, None, 0))
        waiting = asyncio.create_task(source.lease(planned_run("b")))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not waiting.done()
        await source.release(held)
        await asyncio.wait_for(waiting, 1.0)

    asyncio.run(main())
