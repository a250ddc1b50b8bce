"""A start endpoint of the user's own (a self-hosted Pipecat runner's `/start`, say) that
answers with the room URL and token in its JSON.

The start request is sent at most once per lease: one whose outcome is unknown (a
timeout, a dropped connection, a 5xx) may have started a bot, so it is not sent again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from specrunner.http_common import shown_url, url_problem
from specrunner.models import PlannedRun, RoomConfig
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import (
    ConfiguredRequest,
    Redactor,
    answer_object,
    header_secrets,
    read_text,
    send,
    with_retries,
)

_MISSING = object()


@dataclass(frozen=True, slots=True)
class HttpSettings:
    start: ConfiguredRequest
    """The request that starts a bot and answers with its room."""
    url_field: str = "dailyRoom"
    token_field: str = "dailyToken"

    @classmethod
    def from_config(cls, config: RoomConfig) -> HttpSettings:
        values, name = config.values, config.name
        return cls(
            start=ConfiguredRequest.from_values(values, source=name),
            url_field=read_text(
                values.get("url_field", "dailyRoom"), source=name, what="url_field"
            ),
            token_field=read_text(
                values.get("token_field", "dailyToken"), source=name, what="token_field"
            ),
        )


def field_of(answer: Mapping[str, Any], name: str) -> Any:
    """The answer's field `name`; a dotted name (`room.url`) reaches into nested objects
    when no field has that exact name."""
    if name in answer:
        return answer[name]
    value: Any = answer
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


class HttpRoomSource:
    """`lease` calls the endpoint; nothing to call on `release`."""

    def __init__(
        self,
        name: str,
        settings: HttpSettings,
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
        self._redactor = (redactor or Redactor()).plus(*header_secrets(settings.start.headers))

    @classmethod
    def from_config(
        cls,
        config: RoomConfig,
        *,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        capacity: int | None,
    ) -> HttpRoomSource:
        return cls(
            config.name,
            HttpSettings.from_config(config),
            http=http,
            retry=retry,
            capacity=capacity,
            redactor=Redactor.of(config),
        )

    async def lease(self, run: PlannedRun) -> RoomLease:
        settings = self._settings
        what = f"start request to {shown_url(settings.start.url)}"
        # Only failures that provably did nothing are retried (a refused connection, 429,
        # 503 with Retry-After): a second start would leave an extra bot running.
        request = settings.start.request(what, settings.start.body, retry_unsure=False)

        async def once() -> RoomLease:
            answer = answer_object(await send(self._http, request, self._redactor), what)
            url = field_of(answer, settings.url_field)
            if url is _MISSING or not isinstance(url, str) or not url:
                raise RoomUnavailable(
                    f"{what}: the answer has no room URL in field {settings.url_field!r}"
                )
            problem = url_problem(url.strip())
            if problem is not None:
                raise RoomUnavailable(
                    f"{what}: the room URL {self._redactor.text(shown_url(url.strip()))} "
                    f"in field {settings.url_field!r} {problem}"
                )
            token = field_of(answer, settings.token_field)
            if token is not _MISSING and token is not None and not isinstance(token, str):
                raise RoomUnavailable(
                    f"{what}: the answer's field {settings.token_field!r} is not a string"
                )
            token = token if isinstance(token, str) and token else None
            return RoomLease(source=self.name, url=url, token=token, handle=answer.get("sessionId"))

        return await with_retries(self._retry, once, source=self.name)

    async def release(self, lease: RoomLease) -> None:
        # The endpoint's room and bot end on their own when the call ends.
        return None

    async def adopt(self, lease: RoomLease) -> None:
        """Nothing to count: the endpoint's rooms need nothing on release."""
        return None

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"HttpRoomSource(name={self.name!r}, url={shown_url(self._settings.start.url)!r})"
