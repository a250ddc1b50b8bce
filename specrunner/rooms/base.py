"""The one small interface every room source implements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from specrunner.models import PlannedRun


@dataclass(frozen=True, slots=True)
class RoomLease:
    """A room held for one run, from just before its submission until it is final."""

    source: str
    """The room source's name in the suite."""
    url: str
    """The Daily room URL (never with a token in it). A secret: never printed, reported or
    journaled (empty in a lease restored from a journal)."""
    token: str | None = field(default=None, repr=False)
    """The meeting token: a secret, never printed, reported or journaled."""
    handle: Any = field(default=None, repr=False)
    """What the source needs to release the room (a session id, a room name, a place in a
    pool): journaled, so never a secret, and never the URL."""


def restored_lease(room: Mapping[str, Any]) -> RoomLease:
    """The lease a journal's intent keeps of a room: its source and handle (a journal of an
    older version also has its URL). Enough to count it as taken and to give it back."""
    return RoomLease(str(room["source"]), str(room.get("url", "")), None, room.get("handle"))


class RoomUnavailable(Exception):
    """The room could not be had; the run is then an error with this reason."""


class RoomSource(Protocol):
    name: str
    capacity: int | None
    """The most rooms leased at once (None: no limit of its own)."""

    async def lease(self, run: PlannedRun) -> RoomLease:
        """A room for `run`; raises RoomUnavailable when it cannot be had."""
        ...

    async def release(self, lease: RoomLease) -> None:
        """Give the room back (delete it, end its session) where the source can.
        Never raises: a failure to release is logged (secrets hidden), not fatal."""
        ...

    async def adopt(self, lease: RoomLease) -> None:
        """Count a lease made by an earlier process (from the journal, on --resume) as
        taken, so the room is not handed to another run before it is released."""
        ...

    async def close(self) -> None:
        """Release what the source holds itself (connections, processes)."""
        ...


@runtime_checkable
class InstantRooms(Protocol):
    """A room source that may lease and release without waiting (a pool of rooms at hand):
    the executor then does both in step with its other work, without a task for each."""

    def lease_now(self, run: PlannedRun) -> RoomLease | None:
        """A room for `run` at once, or None when none is free now (`lease` then waits for
        one, in turn)."""
        ...

    def release_now(self, lease: RoomLease) -> None:
        """What `release` does, at once."""
        ...
