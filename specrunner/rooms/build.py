"""From a rendered room configuration to the room source that serves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from specrunner.models import RoomConfig, RoomSourceKind
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomSource
from specrunner.rooms.command import CommandRoomSource
from specrunner.rooms.daily import DailyRoomSource
from specrunner.rooms.http_source import HttpRoomSource
from specrunner.rooms.pipecat_cloud import DEFAULT_MAX_SESSIONS, PipecatCloudRoomSource
from specrunner.rooms.static import StaticRoomSource


def build_room_source(
    config: RoomConfig,
    *,
    http: httpx.AsyncClient,
    environ: Mapping[str, str],
    retry: RetryPolicy,
) -> RoomSource:
    """The room source for `config`; a UsageError (naming the source) when the
    configuration cannot work, such as a plain-http URL to a host that is not loopback."""
    capacity = room_capacity(config.source, config.values)
    kind = config.source
    if kind is RoomSourceKind.STATIC:
        return StaticRoomSource.from_config(config, capacity=capacity)
    if kind is RoomSourceKind.PIPECAT_CLOUD:
        return PipecatCloudRoomSource.from_config(
            config, http=http, environ=environ, retry=retry, capacity=capacity
        )
    if kind is RoomSourceKind.DAILY:
        return DailyRoomSource.from_config(
            config, http=http, environ=environ, retry=retry, capacity=capacity
        )
    if kind is RoomSourceKind.HTTP:
        return HttpRoomSource.from_config(config, http=http, retry=retry, capacity=capacity)
    return CommandRoomSource.from_config(config, environ=environ, capacity=capacity)


def room_capacity(kind: RoomSourceKind, values: Mapping[str, Any]) -> int | None:
    """The most runs the source serves at once: its own limit and `concurrency`."""
    limits: list[int] = []
    if values.get("concurrency") is not None:
        limits.append(int(values["concurrency"]))
    if kind is RoomSourceKind.STATIC:
        rooms = values.get("rooms")
        limits.append(len(rooms) if isinstance(rooms, list) else 1)
    elif kind is RoomSourceKind.PIPECAT_CLOUD:
        limits.append(int(values.get("max_sessions", DEFAULT_MAX_SESSIONS)))
    return min(limits) if limits else None
