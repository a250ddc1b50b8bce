"""Daily's REST API: rooms, meeting tokens, authentication, rate limits.

Rooms also know whether an agent (bot) is in them: a room listed with `bot: true` in the
configuration, one a start_bot request reached (bots.py), or one a live Pipecat Cloud
session owns. Deleted rooms are forgotten at once; expired rooms and rooms whose session
ended are kept for the last `keep_finished` of them, then forgotten (a room not found).
"""

from __future__ import annotations

import base64
import datetime
import functools
import hashlib
import heapq
import hmac
import json
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from specrunner.emulator.config import EmulatorConfig
from specrunner.emulator.daily_rules import DELETES, GENERAL, RateLimiter, room_request_problem
from specrunner.emulator.ledger import Ledger, RoomRecord
from specrunner.emulator.replies import Incoming, Reply, has_body, ok


@dataclass(slots=True)
class Room:
    id: str
    name: str
    url: str
    privacy: str
    properties: dict[str, Any]
    created_at: float
    created_iso: str
    record: RoomRecord
    deleted: bool = False
    bot: bool = False
    """An agent stays in it: `bot: true` in the configuration, or a start_bot request."""
    sessions: int = 0
    """Live Pipecat Cloud sessions whose bot is in it."""

    @property
    def has_bot(self) -> bool:
        return self.bot or self.sessions > 0

    def bot_started(self, now: float) -> None:
        if self.record.bot_started_at is None:
            self.record.bot_started_at = now


def _error(status: int, kind: str, info: str) -> Reply:
    return Reply(status, {"error": kind, "info": info})


@dataclass(slots=True)
class Daily:
    config: EmulatorConfig
    ledger: Ledger
    secret: bytes
    wall_start: float
    rooms: dict[str, Room] = field(default_factory=dict)
    foreign: dict[tuple[str, str], tuple[Room, str | None]] = field(default_factory=dict)
    """Rooms of other Daily domains (host, name) -> (room, the token that opens it)."""
    _general: RateLimiter = field(default_factory=lambda: RateLimiter(GENERAL))
    _deletes: RateLimiter = field(default_factory=lambda: RateLimiter(DELETES))
    _expiring: list[tuple[float, int, Room]] = field(default_factory=list)
    """(exp, sequence, room) of rooms with an `exp`, soonest first."""
    _retired: deque[Room] = field(default_factory=deque)
    """Rooms expired or left by their session, oldest first: forgotten beyond the window."""
    _counter: int = 0
    _expiries: int = 0

    # -- the model, used by Pipecat Cloud and Cekura too

    def url_of(self, name: str) -> str:
        return f"https://{self.config.daily_domain}.daily.co/{name}"

    def wall(self, now: float) -> float:
        return self.wall_start + now

    def create(
        self,
        name: str | None,
        privacy: str,
        properties: dict[str, Any],
        now: float,
        created_by: str,
        *,
        bot: bool = False,
    ) -> Room:
        if name is None:
            self._counter += 1
            name = hashlib.sha256(self.secret + str(self._counter).encode()).hexdigest()[:20]
        url = self.url_of(name)
        record = RoomRecord(name=name, url=url, created_at=now, created_by=created_by)
        self.ledger.rooms.append(record)
        room = Room(
            id=str(uuid.UUID(bytes=hashlib.sha256(self.secret + name.encode()).digest()[:16])),
            name=name,
            url=url,
            privacy=privacy,
            properties=dict(properties),
            created_at=now,
            created_iso=_iso(self.wall(now)),
            record=record,
            bot=bot,
        )
        if bot:
            room.bot_started(now)
        self.rooms[name] = room
        exp = room.properties.get("exp")
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            self._expiries += 1
            heapq.heappush(self._expiring, (float(exp), self._expiries, room))
        return room

    def add_foreign(self, host: str, name: str, token: str | None, *, bot: bool) -> None:
        """A room of another Daily domain that exists from the start (a suite's static
        pool): reached only by its URL, opened by `token` when given."""
        record = RoomRecord(
            name=name, url=f"https://{host}/{name}", created_at=0.0, created_by="config"
        )
        room = Room(
            id=str(
                uuid.UUID(
                    bytes=hashlib.sha256(self.secret + f"{host}/{name}".encode()).digest()[:16]
                )
            ),
            name=name,
            url=record.url,
            privacy="private" if token else "public",
            properties={},
            created_at=0.0,
            created_iso=_iso(self.wall(0.0)),
            record=record,
            bot=bot,
        )
        if bot:
            room.bot_started(0.0)
        self.foreign[(host.lower(), name)] = (room, token)

    def live_room(self, name: str, now: float) -> Room | None:
        room = self.rooms.get(name)
        if room is None or room.deleted:
            return None
        exp = room.properties.get("exp")
        if isinstance(exp, int | float) and self.wall(now) >= exp:
            return None  # an expired room behaves as deleted
        return room

    def delete(self, room: Room, now: float) -> None:
        room.deleted = True
        room.record.deleted_at = now
        if self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def retire(self, room: Room) -> None:
        """`room` is of no more use (expired, or its session ended): it is forgotten once
        `keep_finished` later rooms were retired, unless deleted before."""
        self._retired.append(room)
        while len(self._retired) > self.config.keep_finished:
            old = self._retired.popleft()
            if self.rooms.get(old.name) is old:
                del self.rooms[old.name]

    def prune(self, now: float) -> None:
        """Retire the rooms whose `exp` has passed."""
        wall = self.wall(now)
        while self._expiring and self._expiring[0][0] <= wall:
            room = heapq.heappop(self._expiring)[2]
            if self.rooms.get(room.name) is room:
                self.retire(room)
        if len(self._expiring) > 2 * len(self.rooms) + 64:
            # Entries of rooms deleted before their exp: drop them all at once.
            self._expiring = [e for e in self._expiring if self.rooms.get(e[2].name) is e[2]]
            heapq.heapify(self._expiring)

    def issue_token(self, properties: dict[str, Any]) -> str:
        claims = base64.urlsafe_b64encode(json.dumps(properties, sort_keys=True).encode())
        body = b"emu." + claims.rstrip(b"=")
        signature = hmac.new(self.secret, body, hashlib.sha256).hexdigest()[:32]
        return f"{body.decode()}.{signature}"

    def decode_token(self, token: str) -> dict[str, Any] | None:
        """The token's properties, or None when it is not a token this emulator issued."""
        body, _, signature = token.rpartition(".")
        if not body.startswith("emu.") or not body.isascii() or not signature.isascii():
            return None
        expected = hmac.new(self.secret, body.encode(), hashlib.sha256).hexdigest()[:32]
        if not hmac.compare_digest(signature, expected):
            return None
        claims = body.removeprefix("emu.")
        try:
            data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def join_problem(self, url: str, token: str | None, now: float) -> str | None:
        """Why a caller could not join `url` with `token` and meet an agent there, or None."""
        room, problem = self.access(url, token, now)
        if problem is not None:
            return f"Could not join the room: {problem}"
        if room is not None and self.config.require_bot and not room.has_bot:
            return (
                f"The agent never joined the room: no bot was started in room {room.name} "
                "(start one with start_bot, a Pipecat Cloud session, or bot: true)"
            )
        return None

    def access(self, url: str, token: str | None, now: float) -> tuple[Room | None, str | None]:
        """The room `url` names and why `token` does not let a participant in (or None)."""
        where = room_address(url)
        if where is not None and (where[0], where[1]) in self.foreign:
            held, wanted = self.foreign[(where[0], where[1])]
            given = token or where[2]
            if wanted is not None and given != wanted:
                return held, f"the meeting token for {where[1]} is not valid"
            return held, None
        if where is None or where[0] != f"{self.config.daily_domain}.daily.co":
            return None, f"{url} is not a room of this Daily domain"
        name = where[1]
        room = self.live_room(name, now)
        if room is None:
            return None, f"room {name} does not exist"
        token = token or where[2]  # a join link may carry its token as ?t=
        if token is None:
            if room.privacy == "private":
                return room, f"room {name} is private and no token was given"
            return room, None
        claims = self.decode_token(token)
        if claims is None:
            return room, f"the meeting token for {name} is not valid"
        if claims.get("room_name") not in (None, name):
            return room, f"the meeting token is for room {claims['room_name']}"
        exp = claims.get("exp")
        if isinstance(exp, int | float) and self.wall(now) >= exp:
            return room, f"the meeting token for {name} has expired"
        return room, None

    # -- the REST API

    def authenticate(self, request: Incoming) -> Reply | None:
        header = request.headers.get("authorization")
        key = request.bearer()
        if header is None or key is None:
            return _error(
                400,
                "authorization-header-error",
                "Authorization header missing or malformed: use 'Bearer API_KEY'",
            )
        if self.config.daily_keys and key not in self.config.daily_keys:
            return _error(401, "authentication-error", "Invalid API key")
        return None

    def rate_limited(self, endpoint: str, now: float) -> Reply | None:
        if not self.config.daily_rate_limit:
            return None
        limiter = self._deletes if endpoint == "daily.delete_room" else self._general
        if limiter.allow(now):
            return None
        return _error(429, "rate-limit-error", "Rate limit exceeded; retry with backoff")

    def create_room(self, request: Incoming, now: float) -> Reply:
        body = _json_object(request)
        if isinstance(body, Reply):
            return body
        problem = room_request_problem(body, self.config.daily_domain)
        if problem is not None:
            return _error(400, "invalid-request-error", problem)
        name = body.get("name")
        privacy = body.get("privacy", "public")
        properties = body.get("properties", {})
        if name is not None and self.live_room(name, now) is not None:
            return _error(400, "invalid-request-error", f"a room named {name} already exists")
        return ok(self.room_json(self.create(name, privacy, properties, now, "daily")))

    def get_room(self, name: str, now: float) -> Reply:
        room = self.live_room(name, now)
        if room is None:
            return _error(404, "not-found", f"room {name} not found")
        return ok(self.room_json(room))

    def delete_room(self, name: str, now: float) -> Reply:
        room = self.rooms.get(name)
        if room is None:
            return _error(404, "not-found", f"room {name} not found")
        if self.live_room(name, now) is None:  # expired: already gone, as Daily says
            self.delete(room, now)
            return Reply(
                404, {"error": "not-found", "info": f"room {name} not found", "deleted": True}
            )
        self.delete(room, now)
        return ok({"deleted": True, "name": name})

    def create_token(self, request: Incoming) -> Reply:
        body = _json_object(request)
        if isinstance(body, Reply):
            return body
        properties = body.get("properties", {})
        if not isinstance(properties, dict):
            return _error(400, "invalid-request-error", "properties must be an object")
        return ok({"token": self.issue_token(properties)})

    def room_json(self, room: Room) -> dict[str, Any]:
        return {
            "id": room.id,
            "name": room.name,
            "api_created": True,
            "privacy": room.privacy,
            "url": room.url,
            "created_at": room.created_iso,
            "config": room.properties,
        }


@functools.lru_cache(maxsize=4096)
def room_address(url: str) -> tuple[str, str, str | None] | None:
    """(host, room name, token of a join link) of a Daily room URL; None if it is not one.

    The same room may be written with another case of host, a trailing slash or a query:
    this is the one spelling the emulator compares. Each run's URL is read several times
    (when it is submitted, when its call starts and ends), so the answers are kept.
    """
    parsed = urlparse(url.strip())
    name = parsed.path.strip("/")
    if parsed.scheme not in ("http", "https") or not parsed.hostname or not name:
        return None
    token = parse_qs(parsed.query).get("t", [None])[0]
    return parsed.hostname.lower(), name, token


def room_key(url: str) -> str:
    """The room a URL names, for telling whether two runs share a room."""
    where = room_address(url)
    return f"{where[0]}/{where[1]}" if where is not None else url.strip()


def _json_object(request: Incoming) -> dict[str, Any] | Reply:
    try:
        body = request.json()
    except ValueError:
        return _error(400, "json-parsing-error", "the request body is not valid JSON")
    if not has_body(body):
        return {}
    if not isinstance(body, dict):
        return _error(400, "invalid-request-error", "the request body must be a JSON object")
    return body


def _iso(wall: float) -> str:
    moment = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
