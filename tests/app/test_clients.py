"""What a run talks to: the Cekura client over aiohttp, and an httpx client only for room
sources that call an HTTP API (a suite of static rooms never loads httpx)."""

from __future__ import annotations

import pytest

from conftest import probe

PROBE = """
import asyncio, json, sys
from specrunner.app.clients import open_clients
from specrunner.models import RoomConfig, RoomSourceKind

kind = RoomSourceKind(sys.argv[1])
values = {
    "static": {"url": "https://acme.daily.co/lab"},
    "daily": {"api_key": "daily-key", "domain": "acme"},
}[kind.value]
rooms = {"lab": RoomConfig("lab", kind, values, values)}
environ = {"CEKURA_API_KEY": "key", "CEKURA_API_URL": "http://127.0.0.1:9"}

async def main():
    async with open_clients(rooms, environ, concurrency=4) as clients:
        return type(clients.sources["lab"]).__name__

source = asyncio.run(main())
loaded = {name: name in sys.modules for name in ("httpx", "aiohttp")}
print(json.dumps({"source": source, **loaded}))
"""


@pytest.mark.parametrize(
    ("kind", "source", "httpx"),
    [("static", "StaticRoomSource", False), ("daily", "DailyRoomSource", True)],
)
def test_httpx_is_loaded_only_for_room_sources_that_call_http(
    kind: str, source: str, httpx: bool
) -> None:
    found = probe(PROBE, kind)
    assert found == {"source": source, "httpx": httpx, "aiohttp": True}
