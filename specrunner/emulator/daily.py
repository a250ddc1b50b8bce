"""Daily's REST API: rooms, meeting tokens, authentication, rate limits."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from specrunner.emulator.config import EmulatorConfig
from specrunner.emulator.ledger import Ledger, RoomRecord
from specrunner.emulator.replies import Incoming, Reply, has_body, ok

_ROOM_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
GENERAL_RATE = 20  # requests per second
DELETE_RATE = 2  # room deletions per second


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


def _error(status: int, kind: str, info: str) -> Reply:
    return Reply(status, {"error": kind, "info": info})


@dataclass(slots=True)
class Daily:
    config: EmulatorConfig
    ledger: Ledger
    secret: bytes
    wall_start: float
    rooms: dict[str, Room] = field(default_factory=dict)
    _general: deque[float] = field(default_factory=deque)
    _deletes: deque[float] = field(default_factory=deque)
    _counter: int = 0

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
        )
        self.rooms[name] = room
        return room

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
        """Why a caller could not join `url` with `token`, or None when it can."""
        where = room_address(url)
        if where is None or where[0] != f"{self.config.daily_domain}.daily.co":
            return f"Could not join the room: {url} is not a room of this Daily domain"
        name = where[1]
        room = self.live_room(name, now)
        if room is None:
            return f"Could not join the room: room {name} does not exist"
        token = token or where[2]  # a join link may carry its token as ?t=
        if token is None:
            if room.privacy == "private":
                return f"Could not join the room: room {name} is private and no token was given"
            return None
        claims = self.decode_token(token)
        if claims is None:
            return f"Could not join the room: the meeting token for {name} is not valid"
        if claims.get("room_name") not in (None, name):
            return f"Could not join the room: the meeting token is for room {claims['room_name']}"
        exp = claims.get("exp")
        if isinstance(exp, int | float) and self.wall(now) >= exp:
            return f"Could not join the room: the meeting token for {name} has expired"
        return None

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
        window, limit = (
            (self._deletes, DELETE_RATE)
            if endpoint == "daily.delete_room"
            else (self._general, GENERAL_RATE)
        )
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            return _error(429, "rate-limit-error", "Rate limit exceeded; retry with backoff")
        window.append(now)
        return None

    def create_room(self, request: Incoming, now: float) -> Reply:
        body = _json_object(request)
        if isinstance(body, Reply):
            return body
        name = body.get("name")
        privacy = body.get("privacy", "public")
        properties = body.get("properties", {})
        if name is not None and (not isinstance(name, str) or not _ROOM_NAME.match(name)):
            return _error(
                400,
                "invalid-request-error",
                "name: only letters, digits, '-' and '_', at most 128 characters",
            )
        if privacy not in ("public", "private"):
            return _error(400, "invalid-request-error", "privacy must be 'public' or 'private'")
        if not isinstance(properties, dict):
            return _error(400, "invalid-request-error", "properties must be an object")
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
        if room is None or room.deleted:
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


def room_address(url: str) -> tuple[str, str, str | None] | None:
    """(host, room name, token of a join link) of a Daily room URL; None if it is not one.

    The same room may be written with another case of host, a trailing slash or a query:
    this is the one spelling the emulator compares.
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
