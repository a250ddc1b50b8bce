"""From a rendered room configuration to the room source that serves it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from specrunner.models import RoomConfig, RoomSourceKind, room_capacity
from specrunner.retry import RetryPolicy
from specrunner.rooms.base import RoomSource
from specrunner.rooms.command import CommandRoomSource
from specrunner.rooms.static import StaticRoomSource

if TYPE_CHECKING:
    import httpx

HTTP_KINDS = frozenset({RoomSourceKind.PIPECAT_CLOUD, RoomSourceKind.DAILY, RoomSourceKind.HTTP})
"""The sources that call HTTP APIs (through httpx): only they need an HTTP client, and
only their modules import httpx (a suite of static rooms never loads it)."""


def build_room_source(
    config: RoomConfig,
    *,
    http: httpx.AsyncClient | None,
    environ: Mapping[str, str],
    retry: RetryPolicy,
) -> RoomSource:
    """The room source for `config`; a UsageError (naming the source) when the
    configuration cannot work, such as a plain-http URL to a host that is not loopback.
    `http` may be None only for a source not of HTTP_KINDS."""
    capacity = room_capacity(config.source, config.values)
    kind = config.source
    if kind is RoomSourceKind.STATIC:
        return StaticRoomSource.from_config(config, capacity=capacity)
    if kind not in HTTP_KINDS:
        return CommandRoomSource.from_config(config, environ=environ, capacity=capacity)
    if http is None:
        raise ValueError(f"room source {config.name!r} calls an HTTP API: it needs a client")
    from specrunner.rooms.daily import DailyRoomSource  # httpx, with these three
    from specrunner.rooms.http_source import HttpRoomSource
    from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource

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
    raise AssertionError(f"a room source of HTTP_KINDS not built: {kind}")
