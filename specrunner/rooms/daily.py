"""One Daily room and meeting token per run, made with Daily's REST API and deleted after.

Optionally `start_bot` asks the user's own service to put a bot in the new room. Room
deletions are paced under Daily's limits for `DELETE /rooms/:name` (2 a second, and 50 in
30 s).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

import httpx

from specrunner.http_common import check_url, shown_url
from specrunner.models import PlannedRun, RoomConfig
from specrunner.retry import Now, RetryPolicy, Sleep
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import (
    ConfiguredRequest,
    Redactor,
    Request,
    answer_object,
    header_secrets,
    log_release_failure,
    read_mapping,
    read_text,
    send,
    with_retries,
)

DEFAULT_API_URL = "https://api.daily.co/v1"
ROOM_LIFETIME = 2 * 3600.0
"""Seconds a room lives unless `room_properties.exp` says otherwise (at least the run's
timeout plus LIFETIME_MARGIN), so that rooms not deleted still go away."""
LIFETIME_MARGIN = 600.0
DELETES_PER_SECOND = 50 / 30
"""The lower of Daily's two limits on deletions: 2 a second, and 50 in 30 s."""


class Pacer:
    """At most `per_second` starts a second, spread evenly, shared by every caller.

    Each caller reserves the next free slot before it waits, so callers go in turn
    without a lock. `headroom` spaces the slots a little wider than the limit, because
    requests reach the server with some jitter.
    """

    def __init__(self, per_second: float, *, now: Now, sleep: Sleep, headroom: float = 0.1) -> None:
        self.interval = (1.0 + headroom) / per_second
        self._now = now
        self._sleep = sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self._now()
        slot = now if self._next is None else max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


def start_bot_body(start_bot: ConfiguredRequest, room_url: str, token: str) -> Any:
    """`start_bot`'s body with `room_url` and `token` added, unless it sets them itself."""
    if start_bot.body is None:
        return {"room_url": room_url, "token": token}
    if isinstance(start_bot.body, Mapping):
        return {"room_url": room_url, "token": token, **start_bot.body}
    return start_bot.body


@dataclass(frozen=True, slots=True)
class DailySettings:
    api_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    room_properties: Mapping[str, Any] = field(default_factory=dict)
    token_properties: Mapping[str, Any] = field(default_factory=dict)
    start_bot: ConfiguredRequest | None = None
    """The request that starts the user's bot in each new room."""

    @classmethod
    def from_config(cls, config: RoomConfig, environ: Mapping[str, str]) -> DailySettings:
        values, name = config.values, config.name
        api_url = values.get("api_url") or environ.get("DAILY_API_URL") or DEFAULT_API_URL
        what = "api_url" if values.get("api_url") else "api_url (from $DAILY_API_URL)"
        start_bot = read_mapping(values.get("start_bot"), source=name, what="start_bot")
        return cls(
            api_key=read_text(values.get("api_key"), source=name, what="api_key"),
            api_url=check_url(api_url, f"room source {name!r}: {what}").rstrip("/"),
            room_properties=read_mapping(
                values.get("room_properties"), source=name, what="room_properties"
            ),
            token_properties=read_mapping(
                values.get("token_properties"), source=name, what="token_properties"
            ),
            start_bot=(
                ConfiguredRequest.from_values(start_bot, source=name, prefix="start_bot.")
                if start_bot
                else None
            ),
        )


class DailyRoomSource:
    """`lease` creates a private room, its token and (optionally) starts a bot in it;
    `release` deletes the room."""

    def __init__(
        self,
        name: str,
        settings: DailySettings,
        *,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        capacity: int | None,
        redactor: Redactor | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.capacity = capacity
        self._settings = settings
        self._http = http
        self._retry = retry
        headers = settings.start_bot.headers if settings.start_bot else {}
        self._redactor = (redactor or Redactor()).plus(settings.api_key, *header_secrets(headers))
        self._wall = wall
        self._deletes = Pacer(DELETES_PER_SECOND, now=retry.now, sleep=retry.sleep)
        self._released: set[str] = set()

    @classmethod
    def from_config(
        cls,
        config: RoomConfig,
        *,
        http: httpx.AsyncClient,
        environ: Mapping[str, str],
        retry: RetryPolicy,
        capacity: int | None,
    ) -> DailyRoomSource:
        settings = DailySettings.from_config(config, environ)
        redactor = Redactor.of(config, settings.api_key)
        return cls(
            config.name, settings, http=http, retry=retry, capacity=capacity, redactor=redactor
        )

    def _api(self, method: str, path: str, what: str, body: Any = None) -> Request:
        settings = self._settings
        return Request(
            method=method,
            url=f"{settings.api_url}{path}",
            what=what,
            headers={"Authorization": f"Bearer {settings.api_key}"},
            json=body,
        )

    async def lease(self, run: PlannedRun) -> RoomLease:
        room_name, room_url, exp = await self._create_room(run)
        lease = RoomLease(source=self.name, url=room_url, handle=room_name)
        try:
            token = await self._create_token(room_name, exp)
            if self._settings.start_bot is not None:
                await self._start_bot(self._settings.start_bot, room_url, token)
        except BaseException:
            await self.release(lease)  # the room is of no use now: do not leave it behind
            raise
        return RoomLease(source=self.name, url=room_url, token=token, handle=room_name)

    async def _create_room(self, run: PlannedRun) -> tuple[str, str, Any]:
        lifetime = max(ROOM_LIFETIME, run.timeout + LIFETIME_MARGIN)
        properties = {"exp": int(self._wall() + lifetime), **self._settings.room_properties}
        request = self._api(
            "POST",
            "/rooms",
            "Daily room creation",
            {"privacy": "private", "properties": properties},
        )

        async def once() -> tuple[str, str]:
            answer = answer_object(await send(self._http, request, self._redactor), request.what)
            name, url = answer.get("name"), answer.get("url")
            if not isinstance(name, str) or not name or not isinstance(url, str) or not url:
                raise RoomUnavailable(f"{request.what}: the answer has no room name and url")
            return name, url

        name, url = await with_retries(self._retry, once, source=self.name)
        return name, url, properties["exp"]

    async def _create_token(self, room_name: str, exp: Any) -> str:
        # room_name always names this room: a token without it opens every room of the domain.
        properties = {"exp": exp, **self._settings.token_properties, "room_name": room_name}
        request = self._api(
            "POST", "/meeting-tokens", "Daily meeting token creation", {"properties": properties}
        )

        async def once() -> str:
            answer = answer_object(await send(self._http, request, self._redactor), request.what)
            token = answer.get("token")
            if not isinstance(token, str) or not token:
                raise RoomUnavailable(f"{request.what}: the answer has no token")
            return token

        return await with_retries(self._retry, once, source=self.name)

    async def _start_bot(self, start_bot: ConfiguredRequest, room_url: str, token: str) -> None:
        # A second bot in the same room would spoil the run, so only failures that
        # provably did nothing (refused connection, 429, 503 with Retry-After) are retried.
        request = start_bot.request(
            "start_bot request", start_bot_body(start_bot, room_url, token), retry_unsure=False
        )
        redactor = self._redactor.plus(token, room_url)

        async def once() -> None:
            await send(self._http, request, redactor)

        await with_retries(self._retry, once, source=self.name)

    async def release(self, lease: RoomLease) -> None:
        # Any lease of this source, also one restored from a journal: the handle names
        # the room. Each room is deleted once.
        room_name = lease.handle
        if not isinstance(room_name, str) or not room_name or room_name in self._released:
            return
        self._released.add(room_name)
        path = f"/rooms/{quote(room_name, safe='')}"
        # 404: the room is gone already (deleted, or expired, which Daily counts as deleted).
        request = replace(
            self._api("DELETE", path, f"deletion of Daily room {room_name}"),
            accept=frozenset({404}),
        )

        async def once() -> None:
            await self._deletes.wait()
            await send(self._http, request, self._redactor)

        try:
            await with_retries(self._retry, once, source=self.name)
        except Exception as failure:  # release never raises: the room ends at its exp
            log_release_failure(self.name, request.what, failure, self._redactor)

    async def adopt(self, lease: RoomLease) -> None:
        """Nothing to count: a restored lease is released by its room name."""
        return None

    async def close(self) -> None:
        # Rooms still leased are left alone: their runs may go on in Cekura after an
        # interruption. Rooms never deleted end at their `exp`.
        return None

    def __repr__(self) -> str:
        api_url = shown_url(self._settings.api_url)
        return f"DailyRoomSource(name={self.name!r}, api_url={api_url!r})"
