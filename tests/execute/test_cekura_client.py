"""The Cekura client sorts every way a submission can fail by what it says about the runs,
matches the runs of its answer to the entries by scenario, in whatever order Cekura lists
them, and polls in chunks of at most 100 with retries. Every request has a total deadline
and a cap on its answer. The answers come from handlers (written with httpx's request and
response) behind a real loopback server, through the real aiohttp requester (served.py)."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any

import httpx
import pytest
from served import BASE, Handler, ServedRequester, Server, served

from specrunner.cekura import (
    CekuraClient,
    Deadlines,
    Failure,
    SubmitError,
    Submitted,
    api_base,
    poll_each,
    run_problem,
)
from specrunner.cekura_http import CONNECT, CONNECTION_WAIT, AiohttpRequester
from specrunner.errors import RemoteError, UsageError
from specrunner.http_common import check_url
from specrunner.retry import GaveUp, RetryPolicy

ENTRIES = [
    {"scenario": 30, "pipecat_room_url": "https://x.daily.co/a"},
    {"scenario": 31, "pipecat_room_url": "https://x.daily.co/b"},
]


async def _no_sleep(_: float) -> None:
    return None


SERVER: list[Server] = []


@pytest.fixture(autouse=True, scope="module")
def _server() -> Iterator[None]:
    with served() as server:
        SERVER.append(server)
        yield
        SERVER.clear()


def client(handler: Handler, deadlines: Deadlines | None = None, **retry: Any) -> CekuraClient:
    (server,) = SERVER
    server.handler = handler
    policy = RetryPolicy(sleep=_no_sleep, deadline=retry.pop("deadline", 10.0), **retry)
    return CekuraClient(
        ServedRequester(server), api_key="key-123", base_url=BASE, retry=policy, deadlines=deadlines
    )


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    runs = [
        {"id": 1000 + i, "scenario": e["scenario"], "status": "pending"}
        for i, e in enumerate(body["scenarios"])
    ]
    return httpx.Response(200, json={"id": 7, "agent": 1, "status": "pending", "runs": runs})


def submit(
    handler: Callable[[httpx.Request], httpx.Response],
    entries: Sequence[Mapping[str, Any]] = ENTRIES,
) -> Submitted:
    return asyncio.run(client(handler).submit(entries, 412))


def answer(*runs: tuple[int, int]) -> Callable[[httpx.Request], httpx.Response]:
    """A handler whose answer lists these (run id, scenario) pairs, in this order."""
    listed = [{"id": i, "scenario": s, "status": "pending"} for i, s in runs]
    return lambda request: httpx.Response(200, json={"id": 7, "status": "pending", "runs": listed})


def entries_for(*scenarios: int) -> list[dict[str, Any]]:
    return [{"scenario": s, "pipecat_room_url": f"https://x.daily.co/r{s}"} for s in scenarios]


def test_a_submission_sends_key_agent_and_entries_and_maps_run_ids() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return created(request)

    submitted = submit(handler)
    assert submitted == Submitted(7, (1000, 1001), {}, ())
    assert submitted.result_id == 7
    assert submitted.run_ids == (1000, 1001)
    assert submitted.unmatched == {}
    assert submitted.extra == ()
    (request,) = seen
    assert request.url.path == "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
    assert request.headers["X-CEKURA-API-KEY"] == "key-123"
    assert json.loads(request.content) == {"scenarios": ENTRIES, "agent": 412}


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(429, headers={"Retry-After": "3"}), Failure.REFUSED),
        (httpx.Response(503, headers={"Retry-After": "1"}), Failure.REFUSED),
        (httpx.Response(503), Failure.UNKNOWN),
        (httpx.Response(500), Failure.UNKNOWN),
        (httpx.Response(502), Failure.UNKNOWN),
        (
            httpx.Response(400, json={"scenarios": ["This list may not be empty."]}),
            Failure.REJECTED,
        ),
        (httpx.Response(401, json={"detail": "Invalid API key."}), Failure.AUTH),
        (httpx.Response(403), Failure.AUTH),
        (httpx.Response(200, text="not json"), Failure.UNKNOWN),
    ],
)
def test_submission_failures_are_sorted_by_what_they_say(
    answer: httpx.Response, kind: Failure
) -> None:
    with pytest.raises(SubmitError) as caught:
        submit(lambda request: answer)
    assert caught.value.kind is kind
    assert "key-123" not in caught.value.reason


def test_an_answer_missing_an_entrys_run_leaves_that_entry_unmatched() -> None:
    # Refused as UNKNOWN when runs were matched by position; now the run that is there is
    # kept, and the entry without one says why.
    submitted = submit(answer((1, 30)))
    assert submitted.result_id == 7
    assert submitted.run_ids == (1, None)
    assert submitted.unmatched == {1: "Cekura's answer lists no run for scenario 31"}
    assert submitted.extra == ()


SCENARIOS = (30, 31, 32, 33, 34, 35, 36, 37)


def _shuffled(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    shuffled = list(pairs)
    random.Random(4).shuffle(shuffled)
    assert shuffled != pairs and shuffled != pairs[::-1]
    return shuffled


@pytest.mark.parametrize(
    "order",
    [
        pytest.param(lambda pairs: pairs, id="in-order"),
        pytest.param(lambda pairs: pairs[::-1], id="reversed"),
        pytest.param(_shuffled, id="shuffled"),
    ],
)
def test_each_run_is_matched_to_its_entry_whatever_the_answers_order(
    order: Callable[[list[tuple[int, int]]], list[tuple[int, int]]],
) -> None:
    pairs = [(5000 + s, s) for s in SCENARIOS]  # run 5030 is scenario 30's, and so on
    submitted = submit(answer(*order(pairs)), entries_for(*SCENARIOS))
    assert submitted == Submitted(7, tuple(5000 + s for s in SCENARIOS), {}, ())


def test_entries_in_any_order_get_their_own_runs() -> None:
    submitted = submit(answer((1, 30), (2, 31), (3, 32)), entries_for(32, 30, 31))
    assert submitted.run_ids == (3, 1, 2)
    assert submitted.unmatched == {}


def test_a_scenario_missing_from_the_answer_is_unmatched() -> None:
    submitted = submit(answer((3, 32), (1, 30)), entries_for(30, 31, 32))
    assert submitted.run_ids == (1, None, 3)
    assert submitted.unmatched == {1: "Cekura's answer lists no run for scenario 31"}
    assert submitted.extra == ()


def test_an_empty_list_of_runs_leaves_every_entry_unmatched() -> None:
    submitted = submit(answer(), entries_for(30, 31))
    assert submitted.result_id == 7
    assert submitted.run_ids == (None, None)
    assert submitted.unmatched == {
        0: "Cekura's answer lists no run for scenario 30",
        1: "Cekura's answer lists no run for scenario 31",
    }


def test_a_scenario_listed_twice_leaves_its_entry_unmatched() -> None:
    submitted = submit(answer((1, 30), (2, 31), (3, 31)), entries_for(30, 31))
    assert submitted.run_ids == (1, None)
    assert submitted.unmatched == {1: "Cekura's answer lists scenario 31 twice"}
    assert submitted.extra == ()
    thrice = submit(answer((1, 30), (2, 31), (3, 31), (4, 31)), entries_for(30, 31))
    assert thrice.unmatched == {1: "Cekura's answer lists scenario 31 3 times"}


def test_a_run_id_given_to_two_entries_leaves_both_unmatched() -> None:
    submitted = submit(answer((1, 30), (9, 31), (9, 32)), entries_for(30, 31, 32))
    assert submitted.run_ids == (1, None, None)
    assert submitted.unmatched == {
        1: "Cekura's answer gives run 9 to scenario 31 and also to scenario 32",
        2: "Cekura's answer gives run 9 to scenario 32 and also to scenario 31",
    }
    assert submitted.extra == ()


def test_a_run_id_shared_with_a_run_of_no_entry_leaves_the_entry_unmatched() -> None:
    submitted = submit(answer((9, 30), (2, 31), (9, 99)), entries_for(30, 31))
    assert submitted.run_ids == (None, 2)
    assert submitted.unmatched == {
        0: "Cekura's answer gives run 9 to scenario 30 and also to scenario 99"
    }
    assert submitted.extra == (9,)


def test_a_run_id_given_to_three_scenarios_names_them_all() -> None:
    submitted = submit(answer((9, 30), (9, 31), (9, 32)), entries_for(30, 31, 32))
    assert submitted.run_ids == (None, None, None)
    assert submitted.unmatched[0] == (
        "Cekura's answer gives run 9 to scenario 30 and also to scenarios 31 and 32"
    )
    assert submitted.unmatched[2] == (
        "Cekura's answer gives run 9 to scenario 32 and also to scenarios 30 and 31"
    )


def test_a_run_of_no_entry_is_extra_and_unmatches_nothing() -> None:
    submitted = submit(answer((77, 99), (2, 31), (1, 30), (78, 98)), entries_for(30, 31))
    assert submitted.run_ids == (1, 2)
    assert submitted.unmatched == {}
    assert submitted.extra == (77, 78)


def test_every_kind_of_mismatch_at_once() -> None:
    submitted = submit(
        answer((4, 33), (77, 99), (2, 31), (3, 31), (1, 30), (4, 34)),
        entries_for(30, 31, 32, 33, 34),
    )
    assert submitted.run_ids == (1, None, None, None, None)
    assert submitted.unmatched == {
        1: "Cekura's answer lists scenario 31 twice",
        2: "Cekura's answer lists no run for scenario 32",
        3: "Cekura's answer gives run 4 to scenario 33 and also to scenario 34",
        4: "Cekura's answer gives run 4 to scenario 34 and also to scenario 33",
    }
    assert submitted.extra == (77,)
    assert all("scenario" in reason for reason in submitted.unmatched.values())


@pytest.mark.parametrize("scenarios", [(30, 30), (30, 31, 30), (31, 30, 31, 31)])
def test_entries_naming_a_scenario_twice_are_a_programming_error_and_send_nothing(
    scenarios: tuple[int, ...],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return created(request)

    with pytest.raises(ValueError, match=f"scenario {scenarios[0]} in more than one entry"):
        submit(handler, entries_for(*scenarios))
    assert seen == []


def test_a_scenario_as_a_digit_string_counts_as_that_scenario() -> None:
    entries = [*entries_for(30), {"scenario": "30", "pipecat_room_url": "https://x.daily.co/b"}]
    with pytest.raises(ValueError, match="scenario 30"):
        submit(created, entries)


@pytest.mark.parametrize(
    ("body", "what"),
    [
        pytest.param("not json", "it is not JSON", id="not-json"),
        pytest.param([{"id": 1, "scenario": 30}], "it is not a JSON object", id="a-list"),
        pytest.param({"runs": [{"id": 1, "scenario": 30}]}, "no integer result id", id="no-id"),
        pytest.param({"id": "x", "runs": []}, "no integer result id", id="id-not-int"),
        pytest.param({"id": None, "runs": []}, "no integer result id", id="id-null"),
        pytest.param({"id": 7}, "no list of runs", id="no-runs"),
        pytest.param({"id": 7, "runs": {"1": 30}}, "no list of runs", id="runs-a-dict"),
        pytest.param({"id": 7, "runs": {}}, "no list of runs", id="runs-empty-dict"),
        pytest.param({"id": 7, "runs": None}, "no list of runs", id="runs-null"),
        pytest.param(
            {"id": 7, "runs": [{"id": 1, "scenario": 30}, {"scenario": 31}]},
            "run number 2 has no integer id or scenario",
            id="run-without-id",
        ),
        pytest.param(
            {"id": 7, "runs": [{"id": 1}]},
            "run number 1 has no integer id or scenario",
            id="run-without-scenario",
        ),
        pytest.param(
            {"id": 7, "runs": [{"id": 1.5, "scenario": 30}]},
            "run number 1 has no integer id or scenario",
            id="run-id-float",
        ),
        pytest.param(
            {"id": 7, "runs": [{"id": True, "scenario": 30}]},
            "run number 1 has no integer id or scenario",
            id="run-id-bool",
        ),
        pytest.param(
            {"id": 7, "runs": [{"id": 1, "scenario": "thirty"}]},
            "run number 1 has no integer id or scenario",
            id="scenario-not-int",
        ),
        pytest.param(
            {"id": 7, "runs": [{"id": 1, "scenario": 30}, 31]},
            "run number 2 has no integer id or scenario",
            id="run-not-an-object",
        ),
    ],
)
def test_an_unreadable_answer_stays_unknown(body: Any, what: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(200, text=body)
        return httpx.Response(200, json=body)

    with pytest.raises(SubmitError) as caught:
        submit(handler)
    assert caught.value.kind is Failure.UNKNOWN
    assert caught.value.reason.startswith("Cekura's answer could not be read (")
    assert what in caught.value.reason


def test_retry_after_is_carried_with_a_refusal() -> None:
    with pytest.raises(SubmitError) as caught:
        submit(lambda request: httpx.Response(429, headers={"Retry-After": "3"}))
    assert caught.value.retry_after == 3.0


async def _raw_server(behave: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Any]) -> Any:
    """A TCP server on 127.0.0.1 that does `behave` with each connection (no HTTP)."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await behave(reader, writer)
        finally:
            writer.close()

    return await asyncio.start_server(on_connection, "127.0.0.1", 0)


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    return head + await reader.readexactly(length)


async def _hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)  # the whole submission arrived: Cekura may have made the runs


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b"this is not HTTP\r\n\r\n")
    await writer.drain()


async def _half_an_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await _read_request(reader)
    writer.write(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"id": 7')
    await writer.drain()


def _submit_to(url: str) -> SubmitError:
    cekura = CekuraClient(
        AiohttpRequesterPer(url),
        api_key="key-123",
        base_url=url,
        retry=RetryPolicy(sleep=_no_sleep),
    )
    with pytest.raises(SubmitError) as caught:
        asyncio.run(cekura.submit(ENTRIES, 412))
    return caught.value


class AiohttpRequesterPer:
    """The real requester, a session per request (each test has its own event loop)."""

    def __init__(self, url: str, **options: Any) -> None:
        self._url = url
        self._options = options

    async def request(self, method: str, url: str, **kw: Any) -> Any:
        async with AiohttpRequester.session(url) as session:
            return await AiohttpRequester(session, **self._options).request(method, url, **kw)


def test_a_submission_to_no_listener_was_not_sent() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    failure = _submit_to(f"http://127.0.0.1:{port}")
    assert failure.kind is Failure.UNREACHABLE
    assert failure.reason.startswith(f"Cekura is unreachable at http://127.0.0.1:{port} (")
    assert "key-123" not in failure.reason


@pytest.mark.parametrize(
    "behave",
    [
        pytest.param(_hang_up, id="hung-up-after-reading"),
        pytest.param(_reset, id="reset-after-reading"),
        pytest.param(_garbage, id="not-http"),
        pytest.param(_half_an_answer, id="half-an-answer"),
    ],
)
def test_a_connection_lost_after_sending_leaves_the_submission_unknown(behave: Any) -> None:
    async def scene() -> tuple[SubmitError, int]:
        seen = 0

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal seen
            seen += 1
            await behave(reader, writer)

        server = await _raw_server(counted)
        async with server:
            port = server.sockets[0].getsockname()[1]
            cekura = CekuraClient(
                AiohttpRequesterPer(f"http://127.0.0.1:{port}"),
                api_key="key-123",
                base_url=f"http://127.0.0.1:{port}",
            )
            try:
                await cekura.submit(ENTRIES, 412)
            except SubmitError as failure:
                return failure, seen
        raise AssertionError("the submission did not fail")

    failure, seen = asyncio.run(asyncio.wait_for(scene(), 10))
    assert failure.kind is Failure.UNKNOWN  # it may have reached Cekura: never sent again
    assert failure.reason.startswith("the connection failed after sending (")
    assert seen == 1  # sent once: aiohttp repeats no POST on a fresh connection


def test_no_free_connection_in_time_was_not_sent() -> None:
    async def held(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(1.0)
        return created(request)

    (server,) = SERVER
    server.handler = held

    async def scene() -> tuple[Any, Any]:
        async with AiohttpRequester.session(server.url) as session:
            one = AiohttpRequester(session, connections=1, wait=0.1)
            cekura = CekuraClient(one, api_key="key-123", base_url=server.url)
            first = asyncio.ensure_future(cekura.submit(entries_for(30), 412))
            await asyncio.sleep(0.2)  # the first holds the only connection
            with pytest.raises(SubmitError) as caught:
                await cekura.submit(entries_for(31), 412)
            return await first, caught.value

    first, second = asyncio.run(asyncio.wait_for(scene(), 10))
    assert first.run_ids == (1000,)
    assert second.kind is Failure.REFUSED  # nothing was sent: it may be sent again
    assert second.reason == "no connection to Cekura was free in time"


def test_polls_chunk_ids_by_100_and_retry_transient_failures() -> None:
    calls: list[list[int]] = []
    failures = iter([httpx.Response(503), httpx.Response(429, headers={"Retry-After": "0"})])

    def handler(request: httpx.Request) -> httpx.Response:
        failure = next(failures, None)
        if failure is not None:
            return failure
        ids = [int(i) for i in request.url.params["run_ids"].split(",")]
        calls.append(ids)
        return httpx.Response(200, json=[{"id": i, "status": "running"} for i in ids])

    runs = asyncio.run(client(handler).poll(list(range(1, 251))))
    assert sorted(len(c) for c in calls) == [50, 100, 100]  # sent at once: any order
    assert sorted(i for c in calls for i in c) == list(range(1, 251))
    assert sorted(r["id"] for r in runs) == list(range(1, 251))  # in the order answered


def test_polls_fall_back_to_the_v1_path_on_404() -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.path)
        if "/v2/" in request.url.path:
            return httpx.Response(404, json={"detail": "Not found."})
        return httpx.Response(200, json=[])

    cekura = client(handler)
    asyncio.run(cekura.poll([1]))
    asyncio.run(cekura.poll([2]))
    assert paths == [
        "/test_framework/v2/runs/bulk/",
        "/test_framework/v1/runs/bulk/",
        "/test_framework/v1/runs/bulk/",
    ]


def test_polls_give_up_after_the_deadline_and_stop_on_a_bad_key() -> None:
    with pytest.raises(GaveUp):
        asyncio.run(client(lambda r: httpx.Response(500), max_attempts=3).poll([1]))
    with pytest.raises(RemoteError, match="API key"):
        asyncio.run(client(lambda r: httpx.Response(401)).poll([1]))


def test_plain_http_only_to_loopback() -> None:
    assert api_base("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"
    assert api_base("http://localhost:1") == "http://localhost:1"
    assert api_base("https://api.cekura.ai") == "https://api.cekura.ai"
    with pytest.raises(UsageError, match="plain http"):
        check_url("http://api.cekura.ai", "CEKURA_API_URL")
    with pytest.raises(UsageError, match="not an http"):
        check_url("ftp://x", "CEKURA_API_URL")


def redirect(request: httpx.Request) -> httpx.Response:
    target = "https://elsewhere.example.test/login?next=secret-token"
    return httpx.Response(302, headers={"Location": target})


def test_a_redirected_submission_is_unknown_and_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return redirect(request)

    with pytest.raises(SubmitError) as caught:
        submit(handler)
    assert caught.value.kind is Failure.UNKNOWN
    assert caught.value.reason == (
        "Cekura answered HTTP 302 (a redirect to https://elsewhere.example.test/login): "
        "specrunner follows no redirect"
    )
    assert len(seen) == 1  # sent once, the redirect not followed


def test_a_redirected_poll_or_end_call_is_a_remote_error_naming_it() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(301, headers={"Location": "https://elsewhere.example.test/x"})

    with pytest.raises(RemoteError) as polled:
        asyncio.run(client(handler).poll([1, 2]))
    assert str(polled.value) == (
        "Cekura answered HTTP 301 (a redirect to https://elsewhere.example.test/x) to GET "
        "/test_framework/v2/runs/bulk/: specrunner follows no redirect"
    )
    with pytest.raises(RemoteError) as ended:
        asyncio.run(client(lambda request: httpx.Response(307)).end_call(5))
    assert str(ended.value) == (
        "Cekura answered HTTP 307 (a redirect) to POST /test_framework/v2/runs/5/end_call/: "
        "specrunner follows no redirect"
    )
    assert len(seen) == 1  # neither retried nor followed


# -- total deadlines and the cap on an answer ---------------------------------------------

QUICK = Deadlines(submit=0.5, poll=0.5, end_call=0.5)
OVER_CAP = 32 * 1024 * 1024 + 1


async def drip(pieces: int = 100, every: float = 0.1) -> AsyncIterator[bytes]:
    """A body sent a byte at a time (10 s in all, unless cut)."""
    for _ in range(pieces):
        await asyncio.sleep(every)
        yield b" "


def test_a_submission_answered_a_byte_at_a_time_is_unknown_at_its_deadline() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=drip())

    started = time.monotonic()
    with pytest.raises(SubmitError) as caught:
        asyncio.run(client(handler, QUICK).submit(ENTRIES, 412))
    assert time.monotonic() - started < 3
    assert caught.value.kind is Failure.UNKNOWN  # it may have reached Cekura
    assert caught.value.reason == (
        "Cekura did not answer in full within 0.5 s, the longest specrunner waits for a submission"
    )
    assert len(seen) == 1


def test_a_submission_answered_with_too_much_is_unknown_naming_the_cap() -> None:
    big = b"[" + b" " * OVER_CAP + b"]"
    with pytest.raises(SubmitError) as caught:
        submit(lambda request: httpx.Response(200, content=big))
    assert caught.value.kind is Failure.UNKNOWN
    assert caught.value.reason == (
        "Cekura answered HTTP 200 with over 32 MiB, the most specrunner reads of one answer"
    )


def test_an_answer_that_cannot_be_decoded_is_unknown_not_a_crash() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        stream = httpx.ByteStream(b"not gzip")  # sent as it is, not gzip-decoded here
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=stream)

    with pytest.raises(SubmitError) as caught:
        submit(handler)
    assert caught.value.kind is Failure.UNKNOWN
    assert caught.value.reason.startswith("the connection failed after sending (ClientPayloadError")
    with pytest.raises(GaveUp, match=r"ClientPayloadError.*, talking to Cekura at https://api"):
        asyncio.run(client(handler, max_attempts=2).poll([1]))


def test_a_poll_answered_a_byte_at_a_time_is_retried_then_given_up() -> None:
    polls: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        polls.append(time.monotonic())
        return httpx.Response(200, content=drip())

    started = time.monotonic()
    with pytest.raises(GaveUp) as caught:
        asyncio.run(client(handler, QUICK, max_attempts=2).poll([1, 2]))
    assert time.monotonic() - started < 4
    assert len(polls) == 2
    assert str(caught.value) == (
        "Cekura at https://api.example.test did not answer GET /test_framework/v2/runs/bulk/ "
        "in full within 0.5 s (after 2 attempts)"
    )


def test_an_end_call_answered_a_byte_at_a_time_is_given_up() -> None:
    with pytest.raises(GaveUp, match=r"did not answer POST .*/end_call/ in full within 0.5 s"):
        asyncio.run(
            client(lambda r: httpx.Response(200, content=drip()), QUICK, max_attempts=1).end_call(5)
        )


def test_a_poll_answer_over_the_cap_is_asked_in_halves_and_ends_only_the_huge_run() -> None:
    asked: list[list[int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids = [int(i) for i in request.url.params["run_ids"].split(",")]
        asked.append(ids)
        runs = [
            {
                "id": i,
                "status": "completed",
                "success": True,
                "transcript": "x" * OVER_CAP if i == 3 else "hello",
            }
            for i in ids
        ]
        return httpx.Response(200, json=runs)

    runs = asyncio.run(client(handler).poll([1, 2, 3, 4, 5]))
    assert asked == [[1, 2, 3, 4, 5], [1, 2, 3], [1, 2], [3], [4, 5]]
    assert [r["id"] for r in runs] == [1, 2, 3, 4, 5]
    huge = runs[2]
    assert run_problem(huge) == "is over 32 MiB, the most specrunner reads of one answer"
    assert all(run_problem(r) is None for r in runs if r["id"] != 3)


def test_an_error_answer_over_the_cap_is_its_status_without_its_words() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, content=b"x" * OVER_CAP)

    with pytest.raises(GaveUp) as caught:
        asyncio.run(client(handler, max_attempts=2).poll([1]))
    assert caught.value.reason == "Cekura answered HTTP 502"
    with pytest.raises(SubmitError) as refused:
        submit(lambda request: httpx.Response(401, content=b"x" * OVER_CAP))
    assert refused.value.kind is Failure.AUTH
    assert refused.value.reason == "Cekura refused the API key (HTTP 401)"


def test_an_end_call_answered_with_too_much_is_a_remote_error() -> None:
    with pytest.raises(RemoteError) as caught:
        asyncio.run(client(lambda r: httpx.Response(200, content=b"x" * OVER_CAP)).end_call(5))
    assert str(caught.value) == (
        "Cekura answered HTTP 200 to POST /test_framework/v2/runs/5/end_call/ with over "
        "32 MiB, the most specrunner reads of one answer"
    )


def test_a_poll_answer_nested_too_deeply_is_not_json() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(GaveUp, match="Cekura's answer is not JSON"):
        asyncio.run(client(lambda r: httpx.Response(200, content=deep), max_attempts=2).poll([1]))
    with pytest.raises(SubmitError, match="it is not JSON"):
        submit(lambda r: httpx.Response(200, content=deep))


def test_a_submission_past_its_deadline_had_begun_to_be_sent() -> None:
    # Waiting for a free connection and connecting have their own, shorter, timeouts
    # (no connection free: refused; none made: unreachable), so the deadline runs out only
    # once the submission is on its way: unknown is then the truth, not a guess.
    assert Deadlines().submit > CONNECTION_WAIT + CONNECT


def test_a_poll_of_many_runs_sends_its_gets_a_few_at_a_time() -> None:
    inside = most = 0
    paths: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal inside, most
        inside += 1
        most = max(most, inside)
        paths.append(request.url.path)
        await asyncio.sleep(0.02)
        inside -= 1
        if "/v2/" in request.url.path:
            return httpx.Response(404, json={"detail": "Not found."})
        ids = [int(i) for i in request.url.params["run_ids"].split(",")]
        return httpx.Response(200, json=[{"id": i, "status": "running"} for i in ids])

    runs = asyncio.run(client(handler).poll(list(range(1, 951))))
    assert sorted(r["id"] for r in runs) == list(range(1, 951))
    assert 1 < most <= 4  # ten GETs of at most 100 runs, four at once
    # v2 refused by every GET in flight: v1 is taken once, and nothing is lost
    assert sum("/v1/" in p for p in paths) == 10


def test_poll_each_lets_the_loop_act_on_an_answer_before_taking_the_next() -> None:
    """Answers that came together: what taking the first set going (here, a callback, as
    freeing a room wakes the executor's feeder) runs before the second is taken."""
    events: list[str] = []

    async def poll(chunk: Sequence[int]) -> list[dict[str, Any]]:
        return [{"id": i} for i in chunk]  # every answer at once

    async def main() -> None:
        loop = asyncio.get_running_loop()

        def take(found: list[dict[str, Any]]) -> None:
            events.append(f"take {found[0]['id']}")
            loop.call_soon(events.append, f"after {found[0]['id']}")

        async with asyncio.timeout(10):
            await poll_each(list(range(1, 301)), poll, take)

    asyncio.run(main())
    assert events == ["take 1", "after 1", "take 101", "after 101", "take 201", "after 201"]


def test_poll_each_hands_over_answers_as_they_come_and_stops_the_rest_on_a_failure() -> None:
    taken: list[list[int]] = []
    cancelled: list[int] = []

    async def poll(chunk: Sequence[int]) -> list[dict[str, Any]]:
        first = chunk[0]
        if first == 1:  # answered at once
            return [{"id": i} for i in chunk]
        if first == 101:  # fails once the first answer is taken
            while not taken:
                await asyncio.sleep(0)
            raise GaveUp("ConnectError talking to Cekura", 3)
        try:  # never answers
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(first)
            raise
        return []

    async def main() -> None:
        async with asyncio.timeout(10):
            await poll_each(list(range(1, 301)), poll, lambda found: taken.append(found))

    with pytest.raises(GaveUp):
        asyncio.run(main())
    assert [[run["id"] for run in found] for found in taken] == [list(range(1, 101))]
    assert cancelled == [201]
