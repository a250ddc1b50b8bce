"""From a rendered room configuration to the room source that serves it."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from specrunner.models import RoomConfig, RoomSourceKind, room_capacity
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomSource
from specrunner.rooms.command import CommandRoomSource
from specrunner.rooms.daily import DailyRoomSource
from specrunner.rooms.http_source import HttpRoomSource
from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource
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
