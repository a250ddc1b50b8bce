"""The Cekura client sorts every way a submission can fail by what it says about the runs,
and polls in chunks of at most 100 with retries. Fakes answer through httpx.MockTransport."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from specrunner.cekura import CekuraClient, Failure, SubmitError, api_base
from specrunner.errors import RemoteError, UsageError
from specrunner.http_common import check_url
from specrunner.retry import GaveUp, RetryPolicy

ENTRIES = [
    {"scenario": 30, "pipecat_room_url": "https://x.daily.co/a"},
    {"scenario": 31, "pipecat_room_url": "https://x.daily.co/b"},
]


async def _no_sleep(_: float) -> None:
    return None


def client(handler: Callable[[httpx.Request], httpx.Response], **retry: Any) -> CekuraClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    policy = RetryPolicy(sleep=_no_sleep, deadline=retry.pop("deadline", 10.0), **retry)
    return CekuraClient(http, api_key="key-123", base_url="https://api.example.test", retry=policy)


def created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    runs = [
        {"id": 1000 + i, "scenario": e["scenario"], "status": "pending"}
        for i, e in enumerate(body["scenarios"])
    ]
    return httpx.Response(200, json={"id": 7, "agent": 1, "status": "pending", "runs": runs})


def submit(handler: Callable[[httpx.Request], httpx.Response]) -> Any:
    return asyncio.run(client(handler).submit(ENTRIES, 412))


def test_a_submission_sends_key_agent_and_entries_and_maps_run_ids() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return created(request)

    submitted = submit(handler)
    assert submitted.result_id == 7
    assert submitted.run_ids == (1000, 1001)
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
        (httpx.Response(200, json={"id": 7, "runs": [{"id": 1, "scenario": 30}]}), Failure.UNKNOWN),
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


def test_retry_after_is_carried_with_a_refusal() -> None:
    with pytest.raises(SubmitError) as caught:
        submit(lambda request: httpx.Response(429, headers={"Retry-After": "3"}))
    assert caught.value.retry_after == 3.0


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (httpx.ConnectError("refused"), Failure.REFUSED),
        (httpx.ConnectTimeout("slow"), Failure.REFUSED),
        (httpx.ReadTimeout("no answer"), Failure.UNKNOWN),
        (httpx.RemoteProtocolError("dropped"), Failure.UNKNOWN),
        (httpx.ReadError("reset"), Failure.UNKNOWN),
    ],
)
def test_transport_errors_before_and_after_sending(error: Exception, kind: Failure) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    with pytest.raises(SubmitError) as caught:
        submit(handler)
    assert caught.value.kind is kind


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
    assert [len(c) for c in calls] == [100, 100, 50]
    assert [r["id"] for r in runs] == list(range(1, 251))


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
