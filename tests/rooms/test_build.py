"""Choosing a room source from its configuration: the kind, the capacity, and the URLs
that are refused before anything is sent."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from roomkit import FakeTime, room_config

from conftest import compile_text
from specrunner.errors import UsageError
from specrunner.http_common import is_loopback, shown_url
from specrunner.models import RoomConfig
from specrunner.rooms.base import RoomSource
from specrunner.rooms.build import build_room_source
from specrunner.rooms.calls import Redactor, header_secrets
from specrunner.rooms.command import CommandRoomSource
from specrunner.rooms.daily import DailyRoomSource
from specrunner.rooms.http_source import HttpRoomSource
from specrunner.rooms.pipecat_cloud import PipecatCloudRoomSource
from specrunner.rooms.static import StaticRoomSource

LAB = "https://acme.daily.co/lab"


def build(config: RoomConfig, environ: dict[str, str] | None = None) -> RoomSource:
    async def main() -> RoomSource:
        async with httpx.AsyncClient() as client:
            return build_room_source(
                config, http=client, environ=environ or {}, retry=FakeTime().policy()
            )

    return asyncio.run(main())


@pytest.mark.parametrize(
    ("config", "kind", "capacity"),
    [
        (room_config("static", url=LAB), StaticRoomSource, 1),
        (
            room_config("static", rooms=[{"url": f"{LAB}-{i}"} for i in range(3)]),
            StaticRoomSource,
            3,
        ),
        (
            room_config("static", rooms=[{"url": f"{LAB}-{i}"} for i in range(3)], concurrency=2),
            StaticRoomSource,
            2,
        ),
        (room_config("static", url=LAB, concurrency=5), StaticRoomSource, 1),
        (room_config("pipecat_cloud", agent_name="a", api_key="k"), PipecatCloudRoomSource, 50),
        (
            room_config("pipecat_cloud", agent_name="a", api_key="k", max_sessions=10),
            PipecatCloudRoomSource,
            10,
        ),
        (
            room_config(
                "pipecat_cloud", agent_name="a", api_key="k", max_sessions=10, concurrency=4
            ),
            PipecatCloudRoomSource,
            4,
        ),
        (room_config("daily", api_key="k"), DailyRoomSource, None),
        (room_config("daily", api_key="k", concurrency=3), DailyRoomSource, 3),
        (room_config("http", url="https://bots.example.com/start"), HttpRoomSource, None),
        (room_config("command", argv=["x"], concurrency=2), CommandRoomSource, 2),
        (room_config("command", argv=["x"]), CommandRoomSource, None),
    ],
)
def test_kind_and_capacity(config: RoomConfig, kind: type, capacity: int | None) -> None:
    source = build(config)
    assert isinstance(source, kind)
    assert source.capacity == capacity
    assert source.name == "lab"


SUITE = """\
version: 1
name: rooms
rooms:
  lab:
    source: static
    rooms: [{url: "https://acme.daily.co/1"}, {url: "https://acme.daily.co/2"}]
  cloud:
    source: pipecat_cloud
    agent_name: bot
    api_key: "{{ env.PIPECAT_CLOUD_API_KEY }}"
    max_sessions: 7
    concurrency: 3
  own:
    source: daily
    api_key: "{{ env.DAILY_API_KEY }}"
    start_bot: {url: "https://bots.example.com/start", timeout: 30s}
  runner:
    source: http
    url: http://localhost:7860/start
  script:
    source: command
    argv: [./new-room.sh]
    timeout: 1m
    concurrency: 2
scenarios:
  - {id: 30, name: hello, room: lab}
"""


def test_capacity_agrees_with_the_plan() -> None:
    environ = {"PIPECAT_CLOUD_API_KEY": "pk_1234", "DAILY_API_KEY": "dk_1234"}
    plan = compile_text(SUITE, environ=environ)
    for name, spec in plan.rooms.items():
        source = build(spec.render(environ))
        assert (name, source.capacity) == (name, spec.capacity)
        assert "pk_1234" not in repr(source) and "dk_1234" not in repr(source)


@pytest.mark.parametrize(
    ("config", "environ", "named"),
    [
        (
            room_config("pipecat_cloud", agent_name="a", api_key="k", api_url="http://pc.example"),
            {},
            "api_url http://pc.example",
        ),
        (
            room_config("pipecat_cloud", agent_name="a", api_key="k"),
            {"PIPECAT_API_HOST": "http://10.0.0.8:8765"},
            "api_url (from $PIPECAT_API_HOST) http://10.0.0.8:8765",
        ),
        (
            room_config("daily", api_key="k", api_url="http://api.daily.co/v1"),
            {},
            "api_url http://api.daily.co/v1",
        ),
        (
            room_config("daily", api_key="k"),
            {"DAILY_API_URL": "http://192.168.1.4/v1"},
            "api_url (from $DAILY_API_URL) http://192.168.1.4/v1",
        ),
        (
            room_config("daily", api_key="k", start_bot={"url": "http://bots.example.com/start"}),
            {},
            "start_bot.url http://bots.example.com/start",
        ),
        (
            room_config("http", url="http://user:pw@runner.example:7860/start?key=s3cret"),
            {},
            "url http://runner.example:7860/start",
        ),
    ],
    ids=["pipecat", "pipecat-env", "daily", "daily-env", "start_bot", "http"],
)
def test_plain_http_to_a_host_that_is_not_loopback_is_a_usage_error(
    config: RoomConfig, environ: dict[str, str], named: str
) -> None:
    with pytest.raises(UsageError) as caught:
        build(config, environ)
    message = str(caught.value)
    assert message.startswith(f"room source 'lab': {named} uses plain http")
    assert "127.0.0.0/8, localhost and ::1" in message
    assert "s3cret" not in message and "pw" not in message


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:7860/start",
        "http://127.8.9.10/start",
        "http://localhost:7860/start",
        "http://LOCALHOST/start",
        "http://[::1]:7860/start",
        "https://runner.example/start",
    ],
)
def test_https_and_loopback_http_are_allowed(url: str) -> None:
    assert isinstance(build(room_config("http", url=url)), HttpRoomSource)


@pytest.mark.parametrize("url", ["ftp://runner.example/start", "runner.example/start", ""])
def test_other_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="room source 'lab': url"):
        build(room_config("http", url=url))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"source": "http", "url": "https://x.example", "timeout": "soon"}, "timeout 'soon'"),
        ({"source": "command", "argv": ["x"], "timeout": 0}, "timeout 0 is not a duration"),
        ({"source": "command", "argv": []}, "argv must be a non-empty list"),
        ({"source": "pipecat_cloud", "agent_name": "a", "api_key": ""}, "api_key must be"),
        ({"source": "daily", "api_key": "k", "room_properties": [1]}, "room_properties must"),
    ],
)
def test_other_configuration_problems_are_usage_errors(
    values: dict[str, Any], message: str
) -> None:
    config = room_config(values.pop("source"), **values)
    with pytest.raises(UsageError, match=message.replace("(", r"\(")):
        build(config)


def test_loopback_hosts() -> None:
    assert [is_loopback(h) for h in ("127.0.0.1", "127.255.0.1", "::1", "localhost")] == [True] * 4
    assert [is_loopback(h) for h in ("10.0.0.1", "example.com", "::2", "localhost.evil")] == [
        False
    ] * 4


def test_shown_url_drops_credentials_and_query() -> None:
    assert shown_url("https://u:p@h.example:8443/a/b?k=v#f") == "https://h.example:8443/a/b"
    assert shown_url("http://[::1]:80/x") == "http://[::1]:80/x"


def test_redactor_finds_the_secret_parts_of_templated_strings() -> None:
    config = room_config(
        "http",
        url="https://x.example/start",
        headers={"Authorization": "Bearer sk-12345", "X-Id": "id-a-b-tail"},
        shown={"headers": {"Authorization": "Bearer ***", "X-Id": "id-***-***-tail"}},
    )
    redactor = Redactor.of(config)
    assert redactor.secrets == {"sk-12345", "a", "b"}
    # secrets shorter than 4 characters are not searched for in free text
    assert redactor.text("Bearer sk-12345 a b") == "Bearer *** a b"


def test_credential_headers_are_secrets_and_others_are_not() -> None:
    headers = {
        "Authorization": "Bearer sk-12345",
        "X-Api-Key": "k-67890",
        "Content-Type": "application/json",
    }
    assert header_secrets(headers) == ["Bearer sk-12345", "sk-12345", "k-67890"]


def test_a_room_value_masked_whole_hides_every_string_inside_it() -> None:
    # a whole template computed from a secret shows as *** (a body built in one expression)
    config = room_config(
        "pipecat_cloud",
        agent_name="bot",
        body={"auth": {"token": "tok-secret-1"}, "mode": "quick", "n": 3},
        shown={"body": "***"},
    )
    redactor = Redactor.of(config)
    assert {"tok-secret-1", "quick"} <= redactor.secrets
    assert "auth" not in redactor.secrets  # keys were written in the suite
    assert redactor.text("refused tok-secret-1 in quick mode") == "refused *** in *** mode"
