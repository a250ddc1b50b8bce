"""What every HTTP client shares: which URLs may be called, how an error answer reads (one
wording for Cekura and every room source), and one request within a total deadline and a
cap on its answer (fakes through httpx.MockTransport, and one real server over loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from specrunner.errors import UsageError
from specrunner.http_common import (
    ANSWER_CAP,
    Answer,
    AnswerTooLarge,
    AnswerTooSlow,
    answer_json,
    check_url,
    describe_status,
    fetch,
    size_text,
)


def test_a_url_is_checked_and_named_by_what_it_is_for() -> None:
    assert check_url(" https://api.example.test/start/ ", "X") == "https://api.example.test/start/"
    with pytest.raises(UsageError) as caught:
        check_url("http://user:pw@example.com/x?key=s3cret", "room source 'r': url")
    message = str(caught.value)
    assert message.startswith("room source 'r': url http://example.com/x uses plain http")
    assert "s3cret" not in message and "pw" not in message
    with pytest.raises(UsageError, match=r"^CEKURA_API_URL is not set$"):
        check_url("  ", "CEKURA_API_URL")


@pytest.mark.parametrize(
    ("response", "described"),
    [
        (httpx.Response(401, json={"detail": "Invalid API key."}), "HTTP 401: Invalid API key."),
        (
            httpx.Response(404, json={"error": "not-found", "info": "room x"}),
            "HTTP 404: not-found: room x",
        ),
        (
            httpx.Response(429, json={"error": "busy", "code": "PCC-AGENT-AT-CAPACITY"}),
            "HTTP 429: busy (code PCC-AGENT-AT-CAPACITY)",
        ),
        # Django REST framework's field errors, as Cekura answers a refused body
        (
            httpx.Response(400, json={"scenarios": ['Invalid pk "9".', "Required."]}),
            'HTTP 400: scenarios: Invalid pk "9".; Required.',
        ),
        (httpx.Response(502, text="<html>\nBad gateway\n"), "HTTP 502: Bad gateway"),
        (httpx.Response(500), "HTTP 500"),
        (httpx.Response(500, json={"message": "x" * 500}), "HTTP 500: " + "x" * 200),
    ],
    ids=["detail", "error-info", "code", "field-errors", "text", "empty", "long"],
)
def test_an_error_answer_is_its_status_and_the_server_s_words(
    response: httpx.Response, described: str
) -> None:
    assert describe_status(response) == described


# -- one request: a total deadline and a cap on the answer ----------------------------------


def mock_client(handler: Callable[[httpx.Request], Awaitable[httpx.Response]]) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


def fetched(
    handler: Callable[[httpx.Request], Awaitable[httpx.Response]], **options: Any
) -> httpx.Response:
    options.setdefault("deadline", 5.0)

    async def main() -> httpx.Response:
        async with mock_client(handler) as http:
            return await fetch(http, "GET", "https://api.example.test/x", **options)

    return asyncio.run(main())


class Drip:
    """An answer's body, `size` bytes at a time, `count` times at most, `every` seconds
    apart; `sent` counts the pieces taken."""

    def __init__(self, size: int, *, count: int, every: float = 0.0) -> None:
        self.size, self.count, self.every = size, count, every
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.count):
            if self.every:
                await asyncio.sleep(self.every)
            self.sent += 1
            yield b" " * self.size


def test_an_answer_is_read_in_full_and_decompressed() -> None:
    body = json.dumps({"runs": list(range(1000))}).encode()

    async def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
        return httpx.Response(201, headers=headers, content=gzip.compress(body))

    response = fetched(handler, params={"a": "1"}, headers={"X-Key": "k"})
    assert response.status_code == 201
    assert response.json() == {"runs": list(range(1000))}
    assert response.headers["content-type"] == "application/json"
    assert "content-encoding" not in response.headers
    assert response.request.url.params["a"] == "1"
    assert response.request.headers["X-Key"] == "k"


def test_an_answer_declaring_more_than_the_cap_is_refused_before_its_body_is_read() -> None:
    drip = Drip(1024, count=100)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": str(ANSWER_CAP + 1)}, content=drip)

    with pytest.raises(AnswerTooLarge) as caught:
        fetched(handler)
    assert (caught.value.status, caught.value.cap) == (200, ANSWER_CAP)
    assert str(caught.value) == "the answer is over 32 MiB, the most specrunner reads of one"
    assert drip.sent == 0


def test_a_content_length_of_thousands_of_digits_is_over_the_cap_not_an_error() -> None:
    # Python will not parse an integer of more than 4,300 digits: it is never parsed whole
    drip = Drip(1024, count=10)

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Length": "9" * 5000}, content=drip)

    with pytest.raises(AnswerTooLarge) as caught:
        fetched(handler)
    assert (caught.value.status, caught.value.cap) == (200, ANSWER_CAP)
    assert drip.sent == 0


def test_reading_stops_as_soon_as_the_answer_passes_the_cap() -> None:
    drip = Drip(1000, count=10_000)  # 10 MB, without a Content-Length

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip)

    with pytest.raises(AnswerTooLarge) as caught:
        fetched(handler, cap=64 * 1024)
    assert caught.value.status == 200
    assert str(caught.value) == "the answer is over 64 KiB, the most specrunner reads of one"
    assert drip.sent <= 66  # 65 pieces pass the cap (and one more may be in flight)


@pytest.mark.parametrize("status", [302, 401, 404, 429, 502])
def test_an_error_answer_over_the_cap_keeps_its_status_and_headers_not_its_body(
    status: int,
) -> None:
    drip = Drip(1000, count=10_000)

    async def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Retry-After": "7", "Location": "https://elsewhere.example.test/"}
        return httpx.Response(status, headers=headers, content=drip)

    response = fetched(handler, cap=64 * 1024)
    assert response.status_code == status
    assert response.headers["retry-after"] == "7"
    assert response.headers["location"] == "https://elsewhere.example.test/"
    assert response.content == b""
    assert drip.sent <= 66


def test_the_cap_counts_decompressed_bytes() -> None:
    bomb = gzip.compress(b"\0" * (4 * 1024 * 1024))  # about 4 KB on the wire

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=bomb)

    assert len(bomb) < 10_000
    with pytest.raises(AnswerTooLarge):
        fetched(handler, cap=1024 * 1024)


def test_a_body_sent_a_byte_at_a_time_gives_up_at_the_deadline() -> None:
    drip = Drip(1, count=100, every=0.1)  # 10 s in all

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=drip)

    started = time.monotonic()
    with pytest.raises(AnswerTooSlow) as caught:
        fetched(handler, deadline=0.5)
    took = time.monotonic() - started
    assert 0.5 <= took < 3.0, took
    assert 3 <= drip.sent <= 6
    assert caught.value.seconds == 0.5
    assert str(caught.value) == "no answer within the timeout (all of it must come within 0.5 s)"


def test_a_slow_loris_over_loopback_gives_up_and_the_client_still_works() -> None:
    # The real transport: a server that sends its headers, then a byte every 0.2 s.
    async def slow(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            for _ in range(100):  # 20 s at most
                await response.write(b" ")
                await asyncio.sleep(0.2)
        return response

    async def quick(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def main() -> tuple[float, Any]:
        app = web.Application()
        app.router.add_get("/slow", slow)
        app.router.add_get("/quick", quick)
        runner = web.AppRunner(app, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with httpx.AsyncClient(timeout=5.0) as http:  # 5 s per read: never reached
                started = time.monotonic()
                with pytest.raises(AnswerTooSlow):
                    await fetch(http, "GET", f"{base}/slow", deadline=1.0)
                took = time.monotonic() - started
                for _ in range(3):  # the cut request left the client's pool usable
                    answer = await fetch(http, "GET", f"{base}/quick", deadline=5.0)
                return took, answer.json()
        finally:
            await runner.cleanup()

    took, answer = asyncio.run(main())
    assert 1.0 <= took < 3.0, took
    assert answer == {"ok": True}


def test_what_httpx_raises_is_raised_as_it_is() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(httpx.ConnectError):
        fetched(handler)


def test_json_nested_too_deeply_is_not_json_and_never_a_crash() -> None:
    deep = httpx.Response(500, content=b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(ValueError, match="nested too deeply"):
        answer_json(deep)
    assert describe_status(deep) == "HTTP 500: " + "[" * 200  # as any text: its end, cut
    assert answer_json(httpx.Response(200, json={"a": [1]})) == {"a": [1]}


def _read(body: bytes) -> tuple[str, Any]:
    """What reading `body` gives: ("value", it) or ("error", the exception's type)."""
    try:
        return "value", answer_json(Answer(200, {}, body))
    except ValueError as exc:
        return "error", type(exc)


def _by_json(body: bytes) -> tuple[str, Any]:
    try:
        return "value", json.loads(body)
    except RecursionError:
        return "error", ValueError  # answer_json says "nested too deeply"
    except ValueError as exc:
        return "error", type(exc)


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": 1, "id": 2}',  # the last of a repeated key, as json keeps it
        b'{"score": NaN, "low": -Infinity, "high": Infinity}',  # orjson refuses these
        b"[1e400, -1e400, 1e-400]",  # beyond a double: json gives infinities
        b'"\\ud800 alone"',
        b'["\\ud83d\\ude00", "\\u0000"]',
        b"\xef\xbb\xbf{}",  # a byte order mark
        "{}".encode("utf-16"),  # json reads UTF-16 and UTF-32 too
        b"[" * 2000 + b"]" * 2000,  # deeper than orjson's 1,024 levels, read by json
        b"[" * 100_000 + b"]" * 100_000,  # deeper than json can: not JSON, no crash
        b'"\xff"',
        b"\xff",
        b"",
        b"   ",
        b"{} {}",
        b"[1,]",
        b'{"a": 1.5, "b": -0.0, "c": 0, "d": 18446744073709551615, "e": 1E2}',
        b'"line\\nbreak \\"quoted\\" \\t tab"',
    ],
)
def test_an_answer_s_json_is_read_as_json_reads_it(body: bytes) -> None:
    got, expected = _read(body), _by_json(body)
    if got[0] == "value" and expected[0] == "value":
        assert json.dumps(got[1]) == json.dumps(expected[1])  # NaN as NaN
        assert type(got[1]) is type(expected[1])
    else:
        assert got == expected


def test_an_integer_beyond_64_bits_in_an_answer_is_read_as_a_float() -> None:
    """The one way the fast reader differs from json (as `Answer.json` says)."""
    value = answer_json(Answer(200, {}, b'{"id": 123456789012345678901234567890}'))
    assert value == {"id": 1.2345678901234568e29}
    assert type(value["id"]) is float


_JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(_JSON_VALUES, st.booleans())
def test_any_answer_reads_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    try:
        body = json.dumps(value, ensure_ascii=ascii_only).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, kept as it is, is not UTF-8
        body = json.dumps(value).encode("utf-8")
    got = answer_json(Answer(200, {}, body))
    assert json.dumps(got) == json.dumps(json.loads(body))
    assert repr(got) == repr(json.loads(body))


@pytest.mark.parametrize(
    ("count", "text"),
    [(32 * 1024 * 1024, "32 MiB"), (1024 * 1024, "1 MiB"), (65536, "64 KiB"), (1000, "1000 bytes")],
)
def test_sizes_read_as_a_person_says_them(count: int, text: str) -> None:
    assert size_text(count) == text
