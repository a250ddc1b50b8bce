"""The Cekura API client: the only code that knows Cekura's paths.

A run submission is sent once. Its failures are sorted by what they tell about the runs:
`refused` (the request provably did nothing: no connection, or a 429 / 503 with
Retry-After), `rejected` (400: the body was refused), `unknown` (it may have reached
Cekura: a timeout after sending, a dropped connection, a 5xx), `auth`. Only `refused` may
be sent again. Polls and end-calls are safe to repeat and go through the retry policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import httpx

from specrunner.errors import RemoteError, UsageError
from specrunner.http_common import check_url, describe_status, retry_after
from specrunner.models import Outcome
from specrunner.retry import RetryLater, RetryPolicy

DEFAULT_URL = "https://api.cekura.ai"
SUBMIT_PATH = "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
BULK_PATHS = ("/test_framework/v2/runs/bulk/", "/test_framework/v1/runs/bulk/")
POLL_CHUNK = 100
FINAL_STATUSES = frozenset({"completed", "failed", "timeout", "cancelled"})


class Failure(StrEnum):
    REFUSED = "refused"
    REJECTED = "rejected"
    UNKNOWN = "unknown"
    AUTH = "auth"


class SubmitError(Exception):
    def __init__(self, kind: Failure, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Submitted:
    result_id: int
    run_ids: tuple[int, ...]
    """One per entry, in the order of the entries."""


def api_key(environ: Mapping[str, str]) -> str:
    """The Cekura API key from the environment; a UsageError when it is not set."""
    key = environ.get("CEKURA_API_KEY", "")
    if not key:
        raise UsageError(
            "CEKURA_API_KEY is not set: export your Cekura API key "
            "(or try the suite with --emulator)"
        )
    return key


def api_base(url: str) -> str:
    """The base URL of Cekura's API, checked as every URL specrunner calls, without a
    trailing slash."""
    return check_url(url, "CEKURA_API_URL").rstrip("/")


class CekuraApi(Protocol):
    """What the executor needs of Cekura (CekuraClient, or a fake in tests)."""

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        """POST one batch, once; raises SubmitError, whose kind says what may have happened."""
        ...

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The Run objects of `run_ids` (retried; GaveUp when it cannot get them)."""
        ...

    async def end_call(self, run_id: int) -> None:
        """End a run's call (retried; GaveUp or RemoteError when it cannot)."""
        ...


class CekuraClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        base_url: str = DEFAULT_URL,
        submit_path: str = SUBMIT_PATH,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._http = http
        self._headers = {"X-CEKURA-API-KEY": api_key, "Content-Type": "application/json"}
        self._base = api_base(base_url)
        self._submit_path = submit_path
        self._retry = retry or RetryPolicy()
        self._bulk_paths = list(BULK_PATHS)

    @classmethod
    def from_environ(
        cls, http: httpx.AsyncClient, environ: Mapping[str, str], retry: RetryPolicy | None = None
    ) -> CekuraClient:
        return cls(
            http,
            api_key=api_key(environ),
            base_url=environ.get("CEKURA_API_URL") or DEFAULT_URL,
            submit_path=environ.get("SPECRUNNER_CEKURA_SUBMIT_PATH") or SUBMIT_PATH,
            retry=retry,
        )

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        """POST one batch, once. Raises SubmitError, whose kind says what may have happened."""
        body: dict[str, Any] = {"scenarios": list(entries)}
        if agent is not None:
            body["agent"] = agent
        try:
            response = await self._http.post(
                self._base + self._submit_path, json=body, headers=self._headers
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise SubmitError(Failure.REFUSED, f"could not connect to Cekura: {exc}") from None
        except httpx.TransportError as exc:  # sent, or partly: Cekura may have the runs
            raise SubmitError(
                Failure.UNKNOWN, f"the connection failed after sending ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if status in (401, 403):
            raise SubmitError(
                Failure.AUTH, f"Cekura refused the API key ({describe_status(response)})"
            )
        after = retry_after(response)
        if status == 429 or (status == 503 and after is not None):
            raise SubmitError(
                Failure.REFUSED, f"Cekura asked to retry later ({describe_status(response)})", after
            )
        if status >= 500:
            raise SubmitError(Failure.UNKNOWN, f"Cekura answered {describe_status(response)}")
        if status >= 400:
            raise SubmitError(
                Failure.REJECTED, f"Cekura refused the runs: {describe_status(response)}"
            )
        return self._submitted(response, entries)

    def _submitted(
        self, response: httpx.Response, entries: Sequence[Mapping[str, Any]]
    ) -> Submitted:
        try:
            data = response.json()
            runs = data["runs"]
            result_id = int(data["id"])
            ids = tuple(int(run["id"]) for run in runs)
            scenarios = [int(run["scenario"]) for run in runs]
        except (ValueError, KeyError, TypeError) as exc:
            raise SubmitError(
                Failure.UNKNOWN, f"Cekura's answer could not be read ({type(exc).__name__})"
            ) from None
        if len(ids) != len(entries) or scenarios != [int(e["scenario"]) for e in entries]:
            raise SubmitError(
                Failure.UNKNOWN, "Cekura's answer does not list one run per entry, in order"
            )
        return Submitted(result_id, ids)

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The Run objects of `run_ids`, in chunks of at most 100, retried as needed."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(run_ids), POLL_CHUNK):
            chunk = run_ids[start : start + POLL_CHUNK]

            async def once(chunk: Sequence[int] = chunk) -> list[dict[str, Any]]:
                return await self._bulk(chunk)

            found += await self._retry.call(once)
        return found

    async def _bulk(self, chunk: Sequence[int]) -> list[dict[str, Any]]:
        params = {"run_ids": ",".join(str(i) for i in chunk)}
        while True:
            response = await self._get(self._bulk_paths[0], params)
            if response.status_code == 404 and len(self._bulk_paths) > 1:
                self._bulk_paths.pop(0)  # an older deployment: the v1 path
                continue
            data = self._json(response)
            if not isinstance(data, list):
                raise RetryLater("Cekura's bulk runs answer is not a list")
            return [run for run in data if isinstance(run, dict)]

    async def end_call(self, run_id: int) -> None:
        path = f"/test_framework/v2/runs/{run_id}/end_call/"

        async def once() -> None:
            response = await self._send("POST", path, None)
            if response.status_code != 404:
                self._json(response, empty_ok=True)

        await self._retry.call(once)

    async def _get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        return await self._send("GET", path, params)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str] | None
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, self._base + path, params=params, headers=self._headers
            )
        except httpx.TransportError as exc:
            raise RetryLater(f"{type(exc).__name__} talking to Cekura") from None

    def _json(self, response: httpx.Response, *, empty_ok: bool = False) -> Any:
        status = response.status_code
        if status in (401, 403):
            raise RemoteError(
                f"Cekura refused the API key ({describe_status(response)}): check CEKURA_API_KEY"
            )
        if status == 429 or status >= 500:
            raise RetryLater(f"Cekura answered {describe_status(response)}", retry_after(response))
        if status >= 400:
            raise RemoteError(f"Cekura answered {describe_status(response)}")
        if empty_ok and not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise RetryLater("Cekura's answer is not JSON") from None


def outcome_of(run: Mapping[str, Any]) -> tuple[Outcome, str | None] | None:
    """The outcome of a Cekura Run object, or None while it is not final."""
    status = run.get("status")
    if status not in FINAL_STATUSES:
        return None
    if status == "completed":
        if run.get("success") is True:
            return Outcome.PASSED, None
        return Outcome.FAILED, None
    message = run.get("error_message") or f"the run ended {status}"
    return Outcome.ERROR, f"Cekura: {message}"
