"""One Pipecat Cloud session per run, started with the agent's public start endpoint.

The start endpoint creates the Daily room and token (`createDailyRoom`). It is sent at
most once per lease: a start whose outcome is unknown (a timeout, a dropped connection,
a 5xx) may have made a session, which holds a place in the agent's pool, so it is not
sent again.

A public key cannot stop a session. With the suite's `private_api_key`, `release` stops
it (`DELETE /v1/agents/{agent}/sessions/{id}`); without it, the session ends when its
bot does, which for a Pipecat bot is when its caller leaves, or at the agent's maximum
session duration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from specrunner.http_common import check_url
from specrunner.models import DEFAULT_MAX_SESSIONS, PlannedRun, RoomConfig
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import (
    Redactor,
    Request,
    answer_object,
    log_release_failure,
    read_mapping,
    read_text,
    send,
    with_retries,
)

DEFAULT_API_URL = "https://api.pipecat.daily.co"
START_DEADLINE = 60.0
"""Seconds a start may take in all, its answer read: a cold start provisions an instance."""


@dataclass(frozen=True, slots=True)
class PipecatCloudSettings:
    agent_name: str
    api_key: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    body: Any = field(default=None, repr=False)
    room_properties: Mapping[str, Any] | None = None
    token_properties: Mapping[str, Any] | None = None
    max_sessions: int = DEFAULT_MAX_SESSIONS
    private_api_key: str | None = field(default=None, repr=False)
    """A private API key, to stop each session on release; None: sessions end by themselves."""

    @classmethod
    def from_config(cls, config: RoomConfig, environ: Mapping[str, str]) -> PipecatCloudSettings:
        values, name = config.values, config.name
        api_url = values.get("api_url") or environ.get("PIPECAT_API_HOST") or DEFAULT_API_URL
        what = "api_url" if values.get("api_url") else "api_url (from $PIPECAT_API_HOST)"
        room_properties = values.get("room_properties")
        token_properties = values.get("token_properties")
        private_api_key = values.get("private_api_key")
        return cls(
            agent_name=read_text(values.get("agent_name"), source=name, what="agent_name"),
            api_key=read_text(values.get("api_key"), source=name, what="api_key"),
            api_url=check_url(api_url, f"room source {name!r}: {what}").rstrip("/"),
            body=values.get("body"),
            room_properties=(
                None
                if room_properties is None
                else read_mapping(room_properties, source=name, what="room_properties")
            ),
            token_properties=(
                None
                if token_properties is None
                else read_mapping(token_properties, source=name, what="token_properties")
            ),
            max_sessions=int(values.get("max_sessions", DEFAULT_MAX_SESSIONS)),
            private_api_key=(
                None
                if private_api_key is None
                else read_text(private_api_key, source=name, what="private_api_key")
            ),
        )

    def start_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"createDailyRoom": True}
        if self.body is not None:
            body["body"] = self.body
        if self.room_properties is not None:
            body["dailyRoomProperties"] = dict(self.room_properties)
        if self.token_properties is not None:
            body["dailyMeetingTokenProperties"] = dict(self.token_properties)
        return body


class PipecatCloudRoomSource:
    """`lease` starts a session (waiting for a free one of `max_sessions`); `release` stops
    it when a private key is given, and frees the slot."""

    def __init__(
        self,
        name: str,
        settings: PipecatCloudSettings,
        *,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        capacity: int | None,
        redactor: Redactor | None = None,
    ) -> None:
        self.name = name
        self.capacity = capacity
        self._settings = settings
        self._http = http
        self._retry = retry
        self._redactor = (redactor or Redactor()).plus(settings.api_key, settings.private_api_key)
        self._sessions = asyncio.Semaphore(settings.max_sessions)
        self._live: dict[int, RoomLease] = {}
        """The leases holding a place in `max_sessions`, by identity (a lease restored from
        a journal may have no session id to tell it by)."""
        self._stopped: set[str] = set()

    @classmethod
    def from_config(
        cls,
        config: RoomConfig,
        *,
        http: httpx.AsyncClient,
        environ: Mapping[str, str],
        retry: RetryPolicy,
        capacity: int | None,
    ) -> PipecatCloudRoomSource:
        settings = PipecatCloudSettings.from_config(config, environ)
        redactor = Redactor.of(config, settings.api_key, settings.private_api_key)
        return cls(
            config.name, settings, http=http, retry=retry, capacity=capacity, redactor=redactor
        )

    async def lease(self, run: PlannedRun) -> RoomLease:
        await self._sessions.acquire()
        try:
            lease = await with_retries(self._retry, self._start_once, source=self.name)
        except BaseException:
            self._sessions.release()
            raise
        self._live[id(lease)] = lease
        return lease

    async def _start_once(self) -> RoomLease:
        settings = self._settings
        what = f"Pipecat Cloud start of agent {settings.agent_name!r}"
        # At most once: a start that may have made a session (timeout, dropped connection,
        # 5xx) is not sent again, since each session holds a place in the agent's pool.
        request = Request(
            method="POST",
            url=f"{settings.api_url}/v1/public/{quote(settings.agent_name, safe='')}/start",
            what=what,
            headers={"Authorization": f"Bearer {settings.api_key}"},
            json=settings.start_body(),
            deadline=START_DEADLINE,
            retry_unsure=False,
        )
        answer = answer_object(await send(self._http, request, self._redactor), what)
        room, token = answer.get("dailyRoom"), answer.get("dailyToken")
        session = answer.get("sessionId")
        if not isinstance(room, str) or not room:
            raise RoomUnavailable(f"{what}: the answer has no dailyRoom")
        if not isinstance(token, str) or not token:
            raise RoomUnavailable(f"{what}: the answer has no dailyToken")
        handle = str(session) if session else None  # no session id: nothing to stop
        return RoomLease(source=self.name, url=room, token=token, handle=handle)

    async def release(self, lease: RoomLease) -> None:
        # Any lease of this source, also one restored from a journal: the handle is the
        # session id. With a private key the session is stopped (once), then its slot is
        # given back; without one, the session ends when its bot leaves with the caller.
        handle = lease.handle
        held = self._live.pop(id(lease), None) is not None
        try:
            if (
                self._settings.private_api_key is not None
                and isinstance(handle, str)
                and handle
                and handle not in self._stopped
            ):
                self._stopped.add(handle)
                await self._stop(handle, self._settings.private_api_key)
        finally:
            if held:
                self._sessions.release()

    async def _stop(self, session_id: str, private_api_key: str) -> None:
        """Stop a session; a failure is logged, never raised (it ends by itself)."""
        settings = self._settings
        agent = quote(settings.agent_name, safe="")
        # 404: the session is gone already. A DELETE is safe to repeat: retried as usual.
        request = Request(
            method="DELETE",
            url=f"{settings.api_url}/v1/agents/{agent}/sessions/{quote(session_id, safe='')}",
            what=f"Pipecat Cloud stop of session {session_id} of agent {settings.agent_name!r}",
            headers={"Authorization": f"Bearer {private_api_key}"},
            accept=frozenset({404}),
        )

        async def once() -> None:
            await send(self._http, request, self._redactor)

        try:
            await with_retries(self._retry, once, source=self.name)
        except Exception as failure:  # the session still ends with its call, or at its limit
            log_release_failure(self.name, request.what, failure, self._redactor)

    async def adopt(self, lease: RoomLease) -> None:
        """Count a session restored from a journal (an earlier process started it) in
        `max_sessions`, while a slot is free, until it is released."""
        if id(lease) not in self._live and not self._sessions.locked():
            await self._sessions.acquire()
            self._live[id(lease)] = lease

    async def close(self) -> None:
        # Sessions still leased are left alone: their runs may go on in Cekura after an
        # interruption; `--resume` stops them when their runs are final.
        return None

    def __repr__(self) -> str:
        return (
            f"PipecatCloudRoomSource(name={self.name!r}, agent={self._settings.agent_name!r}, "
            f"max_sessions={self._settings.max_sessions})"
        )
