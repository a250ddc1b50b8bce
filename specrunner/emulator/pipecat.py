"""Pipecat Cloud's public start endpoint and session stop, with capacity per agent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

from specrunner.emulator.config import EmulatorConfig
from specrunner.emulator.daily import Daily
from specrunner.emulator.ledger import Ledger, SessionRecord
from specrunner.emulator.replies import Incoming, Reply, has_body, ok

MAX_BODY_BYTES = 1_000_000
UNAUTHORIZED = Reply(401, {"error": "Unauthorized / token expired", "code": "401"})
AT_CAPACITY = Reply(
    429, {"status": 429, "code": "429", "message": "Rate limit exceeded. Please try again later"}
)


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message, "code": str(status)})


@dataclass(slots=True)
class Session:
    id: str
    agent: str
    room: str | None
    started_at: float
    record: SessionRecord
    ended: bool = False


@dataclass(slots=True)
class PipecatCloud:
    config: EmulatorConfig
    ledger: Ledger
    daily: Daily
    rng: Random
    has_caller: Callable[[str], bool] = lambda room: True
    """Whether a Cekura run was ever sent to the room of this name."""
    sessions: dict[str, Session] = field(default_factory=dict)

    def capacity(self, agent: str) -> int | None:
        """The agent's capacity, or None when no such agent is deployed."""
        agents = self.config.pipecat_agents
        if agents is None:
            return self.config.pipecat_capacity
        return agents.get(agent)

    def active(self, agent: str, now: float) -> int:
        self.expire(now)
        return sum(1 for s in self.sessions.values() if s.agent == agent and not s.ended)

    def expire(self, now: float) -> None:
        limit = self.config.max_session_seconds
        idle = self.config.idle_session_seconds
        for session in self.sessions.values():
            if session.ended:
                continue
            if now - session.started_at >= limit:
                self.end(session, session.started_at + limit, "max_session_duration")
            elif (
                idle is not None
                and session.room is not None
                and now - session.started_at >= idle
                and not self.has_caller(session.room)
            ):
                # a bot whose caller never came gives up, as Pipecat bots do
                self.end(session, session.started_at + idle, "idle")

    def end(self, session: Session, now: float, reason: str) -> None:
        session.ended = True
        session.record.ended_at = now
        session.record.ended_by = reason

    def call_ended(self, room_name: str, now: float) -> None:
        """The caller left `room_name`: its bot leaves too, and its session ends."""
        if not self.config.end_session_with_call:
            return
        for session in self.sessions.values():
            if session.room == room_name and not session.ended:
                self.end(session, now, "call_ended")

    def start(self, agent: str, request: Incoming, now: float) -> Reply:
        key = request.bearer()
        if key is None or (self.config.pipecat_keys and key not in self.config.pipecat_keys):
            return UNAUTHORIZED
        capacity = self.capacity(agent)
        if capacity is None:
            return _error(404, f"Agent {agent} not found")
        if len(request.raw) > MAX_BODY_BYTES:
            return _error(413, "Payload too large: the request body is over 1 MB")
        try:
            body = request.json()
        except ValueError:
            return _error(400, "Invalid request: the body is not valid JSON")
        if not has_body(body):
            body = {}
        if not isinstance(body, dict):
            return _error(400, "Invalid request: the body must be a JSON object")
        data = body.get("body")
        if data is not None and len(json.dumps(data).encode()) > MAX_BODY_BYTES:
            return _error(413, "Payload too large: body is over 1 MB")
        for name in ("dailyRoomProperties", "dailyMeetingTokenProperties"):
            if name in body and not isinstance(body[name], dict):
                return _error(400, f"Invalid request: {name} must be an object")
        if self.active(agent, now) >= capacity:
            return AT_CAPACITY
        session_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        answer: dict[str, Any] = {"sessionId": session_id}
        room_name = None
        if body.get("createDailyRoom"):
            properties = {
                "exp": int(self.daily.wall(now) + self.config.max_session_seconds),
                **body.get("dailyRoomProperties", {}),
            }
            room = self.daily.create(None, "private", properties, now, "pipecat")
            room_name = room.name
            token_properties = {
                "room_name": room.name,
                "is_owner": False,
                **body.get("dailyMeetingTokenProperties", {}),
            }
            answer["dailyRoom"] = room.url
            answer["dailyToken"] = self.daily.issue_token(token_properties)
        record = SessionRecord(
            session_id=session_id, agent=agent, room=room_name, started_at=now, body=data
        )
        self.ledger.sessions.append(record)
        self.sessions[session_id] = Session(session_id, agent, room_name, now, record)
        return ok(answer)

    def stop(self, agent: str, session_id: str, request: Incoming, now: float) -> Reply:
        key = request.bearer()
        keys = self.config.pipecat_private_keys
        if key is None or (keys and key not in keys):
            return UNAUTHORIZED
        try:
            uuid.UUID(session_id)
        except ValueError:
            return _error(400, f"Invalid session id {session_id}")
        session = self.sessions.get(session_id)
        if session is None or session.agent != agent:
            return _error(404, f"Session {session_id} of agent {agent} not found")
        if not session.ended:
            self.end(session, now, "stopped")
        return ok({"status": "terminated", "session_id": session_id})
