"""The Cekura client's requester takes its proxy from the environment once, as httpx does:
HTTPS_PROXY for an https URL, none for a host in NO_PROXY."""

from __future__ import annotations

import pytest

from specrunner.cekura_http import environment_proxy

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def _no_proxy_set(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_no_proxy_named_means_none() -> None:
    assert environment_proxy("https://api.cekura.ai") is None


def test_the_proxy_of_the_urls_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain.internal:8080")
    assert environment_proxy("https://api.cekura.ai") == "http://proxy.internal:3128"
    assert environment_proxy("http://127.0.0.1:8765") == "http://plain.internal:8080"


@pytest.mark.parametrize(
    "no_proxy", ["api.cekura.ai", ".cekura.ai", "*", "other.example, api.cekura.ai"]
)
def test_a_host_in_no_proxy_goes_direct(monkeypatch: pytest.MonkeyPatch, no_proxy: str) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", no_proxy)
    assert environment_proxy("https://api.cekura.ai") is None
    monkeypatch.setenv("NO_PROXY", "elsewhere.example")
    assert environment_proxy("https://api.cekura.ai") == "http://proxy.internal:3128"


def test_requests_to_cekura_go_through_the_named_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from specrunner.cekura_http import AiohttpRequester

    seen: list[bytes] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        seen.append(head.split(b"\r\n", 1)[0])
        body = b'{"via": "proxy"}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def scene() -> object:
        server = await asyncio.start_server(proxy, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
            cekura = "http://127.0.0.1:9"  # nothing listens here: only the proxy answers
            async with AiohttpRequester.session(cekura) as session:
                answer = await AiohttpRequester(session).request(
                    "GET", cekura + "/test_framework/v2/runs/bulk/", headers={}, deadline=10
                )
                return answer.json()

    assert asyncio.run(asyncio.wait_for(scene(), 20)) == {"via": "proxy"}
    assert seen == [b"GET http://127.0.0.1:9/test_framework/v2/runs/bulk/ HTTP/1.1"]
