"""What the emulator received and created, so tests can prove nothing happened twice."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


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
    requests: list[RequestRecord] = field(default_factory=list)
    runs: list[LedgerRun] = field(default_factory=list)
    rooms: list[RoomRecord] = field(default_factory=list)
    sessions: list[SessionRecord] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def as_json(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": [asdict(r) for r in self.requests],
                "runs": [asdict(r) for r in self.runs],
                "rooms": [asdict(r) for r in self.rooms],
                "sessions": [asdict(r) for r in self.sessions],
            }
