"""Rooms the user already has: a pool in which each room hosts one run at a time."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from specrunner.errors import UsageError
from specrunner.models import PlannedRun, RoomConfig
from specrunner.rooms.base import RoomLease
from specrunner.rooms.calls import read_text


@dataclass(frozen=True, slots=True)
class StaticRoom:
    url: str
    token: str | None = field(default=None, repr=False)


class StaticRoomSource:
    """`url` (with `token`) or `rooms: [{url, token}]`; `lease` waits for a free room."""

    def __init__(self, name: str, rooms: Sequence[StaticRoom], *, capacity: int | None) -> None:
        if not rooms:
            raise UsageError(f"room source {name!r}: a static source needs at least one room")
        self.name = name
        self.capacity = capacity
        self._rooms = tuple(rooms)
        self._by_url = {room.url: index for index, room in enumerate(self._rooms)}
        if len(self._by_url) < len(self._rooms):
            raise UsageError(
                f"room source {name!r}: a room is listed twice (a room hosts one run at a time)"
            )
        self._free: deque[int] = deque(range(len(self._rooms)))
        self._waiters: deque[asyncio.Future[int]] = deque()
        self._leased: set[int] = set()

    @classmethod
    def from_config(cls, config: RoomConfig, *, capacity: int | None) -> StaticRoomSource:
        return cls(config.name, rooms_of(config), capacity=capacity)

    def lease_now(self, run: PlannedRun) -> RoomLease | None:
        """A free room, unless there is none or others wait for one (they come first)."""
        if self._free and not self._waiters:
            return self._leased_room(self._free.popleft())
        return None

    async def lease(self, run: PlannedRun) -> RoomLease:
        leased = self.lease_now(run)
        if leased is not None:
            return leased
        # First come, first served: a released room goes to the longest waiter.
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            index = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._give_back(waiter.result())  # handed over as we were cancelled
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise
        return self._leased_room(index)

    def _leased_room(self, index: int) -> RoomLease:
        self._leased.add(index)
        room = self._rooms[index]
        return RoomLease(source=self.name, url=room.url, token=room.token, handle=index)

    async def release(self, lease: RoomLease) -> None:
        self.release_now(lease)

    def release_now(self, lease: RoomLease) -> None:
        index = self._index_of(lease)
        if index in self._leased:  # releasing twice must not free a room twice
            self._leased.discard(index)
            self._give_back(index)

    async def adopt(self, lease: RoomLease) -> None:
        """Count `lease` (restored from a journal, made by an earlier process) as leased,
        so its room, which may still host a live run, is not leased again."""
        index = self._index_of(lease)
        if index is not None and index in self._free:
            self._free.remove(index)
            self._leased.add(index)

    def _index_of(self, lease: RoomLease) -> int | None:
        # By the room's place in the pool (its handle), which is what the journal keeps of
        # a lease (a room's URL may be a secret); by URL for a journal of an older version.
        if lease.source != self.name:
            return None
        index = lease.handle
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(self._rooms):
            return index
        return self._by_url.get(lease.url)

    def _give_back(self, index: int) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(index)
                return
        self._free.append(index)

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"StaticRoomSource(name={self.name!r}, rooms={len(self._rooms)})"


def rooms_of(config: RoomConfig) -> list[StaticRoom]:
    """The rooms a static source's (rendered) configuration lists: `url` (with `token`) or
    `rooms: [{url, token}]`; a UsageError when they cannot be read."""
    values = config.values
    entries = values.get("rooms")
    if entries is None:
        entries = [{"url": values.get("url"), "token": values.get("token")}]
    elif "url" in values:
        raise UsageError(f"room source {config.name!r}: give either url or rooms, not both")
    rooms: list[StaticRoom] = []
    for number, entry in enumerate(entries, start=1):
        what = "url" if "rooms" not in values else f"rooms[{number}].url"
        url = read_text(entry.get("url"), source=config.name, what=what).strip()
        token = entry.get("token")
        rooms.append(StaticRoom(url, str(token) if token else None))
    return rooms
