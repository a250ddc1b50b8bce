"""What the emulator received and created, so tests can prove nothing happened twice.

Each list keeps the details of its last `ledger_details` entries and counts every entry
(`total`), so that a long session's memory stays flat.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, SupportsIndex, TypeVar

T = TypeVar("T")

DEFAULT_DETAILS = 10_000


class Window(list[T]):
    """A list of the last `size` entries appended; `total` counts every entry ever appended.

    It is a list (it compares, indexes and slices as one) whose oldest entries drop out.
    """

    def __init__(self, size: int = DEFAULT_DETAILS, entries: Iterable[T] = ()) -> None:
        super().__init__()
        self.size = size
        self.total = 0
        self.extend(entries)

    def append(self, entry: T, /) -> None:
        super().append(entry)
        self.total += 1
        if len(self) > self.size:
            del self[0]

    def extend(self, entries: Iterable[T], /) -> None:
        for entry in entries:
            self.append(entry)

    def __iadd__(self, entries: Iterable[T], /) -> Window[T]:  # type: ignore[override,misc]
        self.extend(entries)
        return self

    def insert(self, index: SupportsIndex, entry: T, /) -> None:
        raise TypeError("a ledger window only grows at its end")

    @property
    def dropped(self) -> int:
        """Entries whose details are gone."""
        return self.total - len(self)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    seq: int
    at: float
    method: str
    path: str
    endpoint: str
    status: int | None
    """The status answered; None when the connection was dropped."""
    fault: str | None


@dataclass(frozen=True, slots=True)
class LedgerRun:
    run_id: int
    result_id: int
    request_seq: int
    entry: int
    """The index of the `scenarios` entry the run came from."""
    scenario: int
    pipecat_room_url: str
    pipecat_token: str | None
    publish_data_message: Any
    agent: int


@dataclass(slots=True)
class RoomRecord:
    name: str
    url: str
    created_at: float
    created_by: str
    """`daily` (POST /rooms), `pipecat` (a session's room) or `config`."""
    deleted_at: float | None = None
    bot_started_at: float | None = None
    """When an agent was first started in it (a start_bot request, a Pipecat Cloud session
    or `bot: true` in the configuration)."""


@dataclass(slots=True)
class SessionRecord:
    session_id: str
    agent: str
    room: str | None
    started_at: float
    body: Any
    ended_at: float | None = None
    ended_by: str | None = None


@dataclass(slots=True)
class Ledger:
    requests: Window[RequestRecord] = field(default_factory=Window)
    runs: Window[LedgerRun] = field(default_factory=Window)
    rooms: Window[RoomRecord] = field(default_factory=Window)
    sessions: Window[SessionRecord] = field(default_factory=Window)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    notices: tuple[str, ...] = ()
    """What whoever started the emulator should be told (a time_scale other than 1)."""

    @classmethod
    def keeping(cls, details: int, lock: threading.RLock, notices: tuple[str, ...] = ()) -> Ledger:
        """A ledger that keeps the details of the last `details` entries of each list."""
        return cls(
            Window(details), Window(details), Window(details), Window(details), lock, notices
        )

    def totals(self) -> dict[str, int]:
        """How many of each there were, details kept or not."""
        with self.lock:
            return {
                "requests": self.requests.total,
                "runs": self.runs.total,
                "rooms": self.rooms.total,
                "sessions": self.sessions.total,
            }

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": [asdict(r) for r in self.requests],
                "runs": [asdict(r) for r in self.runs],
                "rooms": [asdict(r) for r in self.rooms],
                "sessions": [asdict(r) for r in self.sessions],
                "totals": self.totals(),
                "details_kept": self.requests.size,
                "notices": list(self.notices),
            }
