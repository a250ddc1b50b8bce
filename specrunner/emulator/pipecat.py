"""Pipecat Cloud's public start endpoint and session stop, with capacity per agent.

A session's bot is in its room while the session lives: the room Pipecat Cloud made for it
(`createDailyRoom`), or the room its `body` names (`room_url`, with `token`), the way a bot
given an existing room joins it. Ended sessions are kept (a stop still answers) for the
last `keep_finished` of them.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from random import Random
from typing import Any

from specrunner.emulator.config import EmulatorConfig
from specrunner.emulator.daily import Daily, Room
from specrunner.emulator.ledger import Ledger, SessionRecord
from specrunner.emulator.replies import Incoming, Reply, has_body, ok

MAX_BODY_BYTES = 1_000_000
UNAUTHORIZED = Reply(401, {"error": "Unauthorized / token expired", "code": "401"})
AT_CAPACITY = Reply(
    429, {"status": 429, "code": "429", "message": "Rate limit exceeded. Please try again later"}
)


TRANSPORTS = ("daily", "webrtc", "websocket")
# StartRequest's typed fields (the Pipecat Cloud OpenAPI): what each must be.
_TYPES: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "createDailyRoom": ("a boolean", bool),
    "enableDefaultIceServers": ("a boolean", bool),
    "body": ("an object", dict),
    "dailyRoomProperties": ("an object", dict),
    "dailyMeetingTokenProperties": ("an object", dict),
}


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"error": message, "code": str(status)})


def start_request_problem(body: dict[str, Any]) -> str | None:
    """Why Pipecat Cloud would refuse this start request (a 400), or None."""
    for name, (what, kind) in _TYPES.items():
        if name in body and not isinstance(body[name], kind):
            return f"Invalid request: {name} must be {what}"
    if "transport" in body and body["transport"] not in TRANSPORTS:
        return "Invalid request: transport must be one of daily, webrtc, websocket"
    return None


@dataclass(slots=True)
class Session:
    id: str
    agent: str
    room_name: str | None
    started_at: float
    record: SessionRecord
    room: Room | None = None
    """The room its bot is in."""
    made_room: bool = False
    """Pipecat Cloud made the room for it (createDailyRoom)."""
    called: bool = False
    """A Cekura run was sent to its room."""
    ended: bool = False


@dataclass(slots=True)
class PipecatCloud:
    config: EmulatorConfig
    ledger: Ledger
    daily: Daily
    rng: Random
    sessions: dict[str, Session] = field(default_factory=dict)
    """Live sessions and the last `keep_finished` ended ones."""
    _live: dict[str, Session] = field(default_factory=dict)
    _ended: deque[str] = field(default_factory=deque)

    def capacity(self, agent: str) -> int | None:
        """The agent's capacity, or None when no such agent is deployed."""
        agents = self.config.pipecat_agents
        if agents is None:
            return self.config.pipecat_capacity
        return agents.get(agent)

    def active(self, agent: str, now: float) -> int:
        self.expire(now)
        return sum(1 for s in self._live.values() if s.agent == agent)

    def live(self) -> int:
        return len(self._live)

    def expire(self, now: float) -> None:
        limit = self.config.max_session_seconds
        idle = self.config.idle_session_seconds
        for session in list(self._live.values()):
            if now - session.started_at >= limit:
                self.end(session, session.started_at + limit, "max_session_duration")
            elif (
                idle is not None
                and session.room_name is not None
                and now - session.started_at >= idle
                and not session.called
            ):
                # a bot whose caller never came gives up, as Pipecat bots do
                self.end(session, session.started_at + idle, "idle")

    def end(self, session: Session, now: float, reason: str) -> None:
        session.ended = True
        session.record.ended_at = now
        session.record.ended_by = reason
        self._live.pop(session.id, None)
        room = session.room
        if room is not None:
            room.sessions -= 1  # its bot leaves the room
            if session.made_room:
                self.daily.retire(room)
        self._ended.append(session.id)
        while len(self._ended) > self.config.keep_finished:
            self.sessions.pop(self._ended.popleft(), None)

    def run_sent(self, room_name: str) -> None:
        """A Cekura run was sent to `room_name`: the bots there will not give up waiting."""
        for session in self._live.values():
            if session.room_name == room_name:
                session.called = True

    def call_ended(self, room_name: str, now: float) -> None:
        """The caller left `room_name`: its bot leaves too, and its session ends."""
        if not self.config.end_session_with_call:
            return
        for session in list(self._live.values()):
            if session.room_name == room_name:
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
        problem = start_request_problem(body)
        if problem is not None:
            return _error(400, problem)
        data = body.get("body")
        if data is not None and len(json.dumps(data).encode()) > MAX_BODY_BYTES:
            return _error(413, "Payload too large: body is over 1 MB")
        if self.active(agent, now) >= capacity:
            return AT_CAPACITY
        session_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        answer: dict[str, Any] = {"sessionId": session_id}
        room: Room | None = None
        if body.get("createDailyRoom"):
            properties = {
                "exp": int(self.daily.wall(now) + self.config.max_session_seconds),
                **body.get("dailyRoomProperties", {}),
            }
            room = self.daily.create(None, "private", properties, now, "pipecat")
            token_properties = {
                "room_name": room.name,
                "is_owner": False,
                **body.get("dailyMeetingTokenProperties", {}),
            }
            answer["dailyRoom"] = room.url
            answer["dailyToken"] = self.daily.issue_token(token_properties)
        elif isinstance(data, dict) and isinstance(data.get("room_url"), str):
            # The documented way to use an existing room: the bot joins the room its body
            # names, with its token; a room it cannot join gets no bot.
            token = data.get("token")
            found, refused = self.daily.access(
                data["room_url"], token if isinstance(token, str) else None, now
            )
            room = found if refused is None else None
        room_name = room.name if room is not None else None
        record = SessionRecord(
            session_id=session_id, agent=agent, room=room_name, started_at=now, body=data
        )
        self.ledger.sessions.append(record)
        made = body.get("createDailyRoom") is True
        session = Session(session_id, agent, room_name, now, record, room, made)
        if room is not None:
            room.sessions += 1
            room.bot_started(now)
        self.sessions[session_id] = session
        self._live[session_id] = session
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
