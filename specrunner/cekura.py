"""The Cekura API client: the only code that knows Cekura's paths.

A run submission is sent once. Its failures are sorted by what they tell about the runs:
`unreachable` (no connection could be made: nothing was sent), `refused` (Cekura refused
before doing anything: a 429, or a 503 with Retry-After), `rejected` (400: the body was
refused), `unknown` (it may have reached Cekura: a timeout after sending, a dropped
connection, a 5xx), `auth`. Only `unreachable` and `refused` may be sent again. The
answer's runs are matched to the entries by scenario id, whatever order Cekura lists them
in (a batch never names a scenario twice); an entry without a run of its own is reported,
not guessed. Polls and end-calls are safe to repeat and go through the retry policy; a
poll the v2 bulk endpoint refuses (400, 403, 404) is asked of the v1 one.

Every request has a total deadline (`Deadlines`: connecting, sending and reading the whole
answer) and reads at most 32 MiB of its answer. A submission past its deadline may have
reached Cekura: `unknown`. A poll past its deadline is retried like any timeout. A poll
answer over the cap is asked again in halves, so that one huge run object ends only its
own run (as an error), never the others'.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from specrunner.cekura_run import FINAL_STATUSES as FINAL_STATUSES
from specrunner.cekura_run import PROBLEM as PROBLEM
from specrunner.cekura_run import outcome_of as outcome_of
from specrunner.cekura_run import run_problem as run_problem
from specrunner.cekura_run import what_is_read as what_is_read
from specrunner.errors import RemoteError, UsageError
from specrunner.http_common import (
    Answer,
    AnswerTooLarge,
    AnswerTooSlow,
    HttpRequester,
    Lost,
    NotSent,
    answer_json,
    check_url,
    describe_status,
    retry_after,
    shown_url,
    size_text,
)
from specrunner.retry import RetryLater, RetryPolicy

DEFAULT_URL = "https://api.cekura.ai"
SUBMIT_PATH = "/test_framework/v1/scenarios-external/run_scenarios_pipecat/"
BULK_PATHS = ("/test_framework/v2/runs/bulk/", "/test_framework/v1/runs/bulk/")
POLL_CHUNK = 100
POLLS_AT_ONCE = 4
"""Bulk GETs of one poll in flight at once (each for up to POLL_CHUNK runs)."""


Poll = Callable[[Sequence[int]], Awaitable[list[dict[str, Any]]]]
"""Asks Cekura for the Run objects of at most POLL_CHUNK runs."""


async def poll_each(
    run_ids: Sequence[int], poll: Poll, take: Callable[[list[dict[str, Any]]], None]
) -> None:
    """`poll` of `run_ids` in chunks of at most POLL_CHUNK, POLLS_AT_ONCE of them in flight,
    each answer handed to `take` as soon as it comes, whatever the order: a large poll's
    first answers are acted on (their runs' rooms go to the next runs) while the others are
    still on their way, and the event loop turns between two answers. When one chunk fails
    (or the poll is cut), the others are cancelled and the failure raised; the answers
    already taken stay taken."""
    chunks = [run_ids[i : i + POLL_CHUNK] for i in range(0, len(run_ids), POLL_CHUNK)]
    if len(chunks) <= 1:
        take(await poll(chunks[0]) if chunks else [])
        return
    gate = asyncio.Semaphore(POLLS_AT_ONCE)

    async def gated(chunk: Sequence[int]) -> list[dict[str, Any]]:
        async with gate:
            return await poll(chunk)

    tasks = [asyncio.ensure_future(gated(chunk)) for chunk in chunks]
    try:
        for answer in asyncio.as_completed(tasks):
            take(await answer)
            # What the answer set going (the rooms it freed leased to the next runs, their
            # batch begun) goes before the next answer, even one already here: else a
            # wave's rooms wait for all ten answers of a poll to be read.
            await asyncio.sleep(0)
    finally:  # one gave up, `take` failed, or the poll was cut: the others stop too
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Deadlines:
    """Seconds one request to Cekura may take in all: waiting for a free connection,
    connecting, sending, and reading every byte of the answer."""

    submit: float = 30.0
    """Longer than a wait for a free connection (10 s) plus connecting (10 s, TLS
    included): a submission past it had surely begun to be sent (cekura_http.py)."""
    poll: float = 15.0
    """One GET of at most 100 runs."""
    end_call: float = 15.0


class Failure(StrEnum):
    UNREACHABLE = "unreachable"
    """No connection could be made: nothing was sent (retried within the run's budget)."""
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
    """What Cekura's answer to a submission says, matched to the entries by scenario id.

    `run_ids` has one item per entry, in the order of the entries: the run Cekura made for
    it, or None when the answer has no run that is certainly that entry's (none for its
    scenario, its scenario twice, or a run id given to two scenarios). `unmatched` holds
    the one-line reason for every None, by entry index. `extra` holds the ids of the runs
    whose scenario is in no entry, in the answer's order: Cekura made them, for no entry.
    """

    result_id: int
    run_ids: tuple[int | None, ...]
    unmatched: Mapping[int, str] = field(default_factory=dict)
    extra: tuple[int, ...] = ()


def api_key(environ: Mapping[str, str]) -> str:
    """The Cekura API key from the environment; a UsageError when it is not set."""
    key = environ.get("CEKURA_API_KEY", "")
    if not key:
        raise UsageError(
            "CEKURA_API_KEY is not set: export your Cekura API key "
            "(or try the suite with --emulator)"
        )
    return key


def cekura_url(environ: Mapping[str, str]) -> str:
    """The URL of Cekura's API the environment names (`CEKURA_API_URL`), else Cekura's."""
    return environ.get("CEKURA_API_URL") or DEFAULT_URL


def api_base(url: str) -> str:
    """The base URL of Cekura's API, checked as every URL specrunner calls, without a
    trailing slash."""
    return check_url(url, "CEKURA_API_URL").rstrip("/")


class CekuraApi(Protocol):
    """What the executor needs of Cekura (CekuraClient, or a fake in tests)."""

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        """POST one batch, once; raises SubmitError, whose kind says what may have happened,
        and ValueError (a programming error) when two entries name the same scenario."""
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
        http: HttpRequester,
        *,
        api_key: str,
        base_url: str = DEFAULT_URL,
        submit_path: str = SUBMIT_PATH,
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
    ) -> None:
        self._http = http
        self._deadlines = deadlines or Deadlines()
        self._headers = {"X-CEKURA-API-KEY": api_key, "Content-Type": "application/json"}
        self._base = api_base(base_url)
        self._submit_path = submit_path
        self._retry = retry or RetryPolicy()
        self._bulk_paths = list(BULK_PATHS)

    @classmethod
    def from_environ(
        cls,
        http: HttpRequester,
        environ: Mapping[str, str],
        retry: RetryPolicy | None = None,
        deadlines: Deadlines | None = None,
    ) -> CekuraClient:
        return cls(
            http,
            api_key=api_key(environ),
            base_url=cekura_url(environ),
            submit_path=environ.get("SPECRUNNER_CEKURA_SUBMIT_PATH") or SUBMIT_PATH,
            retry=retry,
            deadlines=deadlines,
        )

    async def submit(self, entries: Sequence[Mapping[str, Any]], agent: int | None) -> Submitted:
        """POST one batch, once. Raises SubmitError, whose kind says what may have happened,
        and ValueError, before sending anything, when two entries name the same scenario (the
        answer is matched to the entries by scenario id)."""
        scenarios = _distinct_scenarios(entries)
        data: dict[str, Any] = {"scenarios": list(entries)}
        if agent is not None:
            data["agent"] = agent
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        try:
            response = await self._http.request(
                "POST",
                self._base + self._submit_path,
                body=body.encode(),
                headers=self._headers,
                deadline=self._deadlines.submit,
            )
        except NotSent as exc:
            if exc.busy:  # no connection free here: nothing was sent
                raise SubmitError(
                    Failure.REFUSED, "no connection to Cekura was free in time"
                ) from None
            raise SubmitError(
                Failure.UNREACHABLE,
                f"Cekura is unreachable at {shown_url(self._base)} ({exc.reason})",
            ) from None
        except Lost as exc:  # sent, or partly: Cekura may have the runs
            raise SubmitError(
                Failure.UNKNOWN, f"the connection failed after sending ({exc.reason})"
            ) from None
        except AnswerTooSlow as exc:  # past connecting (see Deadlines.submit): sent
            raise SubmitError(
                Failure.UNKNOWN,
                f"Cekura did not answer in full within {exc.seconds:g} s, "
                "the longest specrunner waits for a submission",
            ) from None
        except AnswerTooLarge as exc:
            raise SubmitError(
                Failure.UNKNOWN,
                f"Cekura answered HTTP {exc.status} with over {size_text(exc.cap)}, "
                "the most specrunner reads of one answer",
            ) from None
        status = response.status_code
        if 300 <= status < 400:  # the POST may have been applied before the redirect
            raise SubmitError(
                Failure.UNKNOWN,
                f"Cekura answered {redirect_status(response)}: specrunner follows no redirect",
            )
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
        return _submitted(response, scenarios)

    async def poll(self, run_ids: Sequence[int]) -> list[dict[str, Any]]:
        """The Run objects of `run_ids`, in chunks of at most 100, retried as needed."""
        found: list[dict[str, Any]] = []
        await poll_each(run_ids, self._poll_chunk, found.extend)
        return found

    async def _poll_chunk(self, chunk: Sequence[int]) -> list[dict[str, Any]]:
        """The Run objects of `chunk`; an answer over the cap is asked again in halves, and
        a run whose object alone is over it gets a stand-in that `run_problem` reports."""

        async def once() -> list[dict[str, Any]]:
            return await self._bulk(chunk)

        try:
            return await self._retry.call(once)
        except AnswerTooLarge as too_large:
            if len(chunk) == 1:
                problem = (
                    f"is over {size_text(too_large.cap)}, the most specrunner reads of one answer"
                )
                return [{"id": chunk[0], PROBLEM: problem}]
            half = (len(chunk) + 1) // 2
            return await self._poll_chunk(chunk[:half]) + await self._poll_chunk(chunk[half:])

    async def _bulk(self, chunk: Sequence[int]) -> list[dict[str, Any]]:
        params = {"run_ids": ",".join(str(i) for i in chunk)}
        while True:
            path = self._bulk_paths[0]
            response = await self._send("GET", path, params, self._deadlines.poll)
            if response.status_code in (400, 403, 404) and path != self._bulk_paths[-1]:
                # An older deployment (or a refused v2): the v1 path. Polls at once may all
                # have asked the old path: it is dropped once.
                if self._bulk_paths[0] == path:
                    self._bulk_paths.pop(0)
                continue
            data = self._json(response)
            if not isinstance(data, list):
                raise RetryLater("Cekura's bulk runs answer is not a list")
            return [run for run in data if isinstance(run, dict)]

    async def end_call(self, run_id: int) -> None:
        path = f"/test_framework/v2/runs/{run_id}/end_call/"

        async def once() -> None:
            try:
                response = await self._send("POST", path, None, self._deadlines.end_call)
            except AnswerTooLarge as exc:  # answered: nothing to read, nothing to repeat
                raise RemoteError(
                    f"Cekura answered HTTP {exc.status} to POST {path} with over "
                    f"{size_text(exc.cap)}, the most specrunner reads of one answer"
                ) from None
            if response.status_code != 404:
                self._json(response, empty_ok=True)

        await self._retry.call(once)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str] | None, deadline: float
    ) -> Answer:
        """One request that is safe to repeat: a failure worth another try is RetryLater;
        an answer over the cap is AnswerTooLarge when it is a 2xx (else RetryLater)."""
        where = shown_url(self._base)
        try:
            return await self._http.request(
                method, self._base + path, params=params, headers=self._headers, deadline=deadline
            )
        except (NotSent, Lost) as exc:
            raise RetryLater(f"{exc.reason}, talking to Cekura at {where}") from None
        except AnswerTooSlow as exc:
            raise RetryLater(
                f"Cekura at {where} did not answer {method} {path} in full within {exc.seconds:g} s"
            ) from None
        except AnswerTooLarge as exc:
            if 200 <= exc.status < 300:
                raise
            raise RetryLater(
                f"Cekura answered HTTP {exc.status} to {method} {path} with over "
                f"{size_text(exc.cap)}"
            ) from None

    def _json(self, response: Answer, *, empty_ok: bool = False) -> Any:
        status = response.status_code
        if 300 <= status < 400:
            raise RemoteError(
                f"Cekura answered {redirect_status(response)} to {response.method} "
                f"{response.path}: specrunner follows no redirect"
            )
        if status in (401, 403):
            raise RemoteError(
                f"Cekura refused the API key ({describe_status(response)}): check CEKURA_API_KEY"
            )
        if status == 429 or status >= 500:
            raise RetryLater(f"Cekura answered {describe_status(response)}", retry_after(response))
        if status >= 400:
            raise RemoteError(
                f"Cekura answered {describe_status(response)} to {response.method} {response.path}"
            )
        if empty_ok and not response.content:
            return None
        try:
            return answer_json(response)
        except ValueError:
            raise RetryLater("Cekura's answer is not JSON") from None


def redirect_status(response: Answer) -> str:
    """`HTTP 302 (a redirect to https://...)`: a 3xx answer and where it points, as
    `shown_url` shows it."""
    location = response.headers.get("location")
    where = f" (a redirect to {shown_url(location)})" if location else " (a redirect)"
    return f"HTTP {response.status_code}{where}"


def _distinct_scenarios(entries: Sequence[Mapping[str, Any]]) -> list[int]:
    """The entries' scenario ids; ValueError when one is named twice."""
    scenarios = [int(entry["scenario"]) for entry in entries]
    repeated = sorted(s for s, n in Counter(scenarios).items() if n > 1)
    if repeated:
        raise ValueError(
            f"a submission names scenario {repeated[0]} in more than one entry: "
            "a batch must hold distinct scenarios"
        )
    return scenarios


def _submitted(response: Answer, scenarios: Sequence[int]) -> Submitted:
    """Cekura's answer matched to the entries (`scenarios`, one per entry) by scenario id;
    SubmitError(UNKNOWN) when it cannot be read at all."""
    result_id, runs = _read_answer(response)
    by_scenario: dict[int, list[int]] = {}
    owners: dict[int, list[int]] = {}  # run id -> the scenarios it is given to
    for run_id, scenario in runs:
        by_scenario.setdefault(scenario, []).append(run_id)
        owners.setdefault(run_id, []).append(scenario)
    run_ids: list[int | None] = []
    unmatched: dict[int, str] = {}
    for index, scenario in enumerate(scenarios):
        found = by_scenario.get(scenario, [])
        reason = None
        if not found:
            reason = f"Cekura's answer lists no run for scenario {scenario}"
        elif len(found) > 1:
            reason = f"Cekura's answer lists scenario {scenario} {_times(len(found))}"
        elif len(owners[found[0]]) > 1:
            others = [s for s in owners[found[0]] if s != scenario]
            reason = (
                f"Cekura's answer gives run {found[0]} to scenario {scenario} "
                f"and also to {_scenarios(others)}"
            )
        if reason is None:
            run_ids.append(found[0])
        else:
            run_ids.append(None)
            unmatched[index] = reason
    wanted = set(scenarios)
    extra = tuple(dict.fromkeys(run_id for run_id, scenario in runs if scenario not in wanted))
    return Submitted(result_id, tuple(run_ids), unmatched, extra)


def _read_answer(response: Answer) -> tuple[int, list[tuple[int, int]]]:
    """The result id and the (run id, scenario id) pairs of Cekura's answer, in its order."""

    def unreadable(what: str) -> SubmitError:
        return SubmitError(Failure.UNKNOWN, f"Cekura's answer could not be read ({what})")

    try:
        data = answer_json(response)
    except ValueError:
        raise unreadable("it is not JSON") from None
    if not isinstance(data, dict):
        raise unreadable("it is not a JSON object")
    result_id = _integer(data.get("id"))
    if result_id is None:
        raise unreadable("it has no integer result id")
    runs = data.get("runs")
    if not isinstance(runs, list):
        raise unreadable("it has no list of runs")
    pairs: list[tuple[int, int]] = []
    for position, run in enumerate(runs, 1):
        run_id = _integer(run.get("id")) if isinstance(run, dict) else None
        scenario = _integer(run.get("scenario")) if isinstance(run, dict) else None
        if run_id is None or scenario is None:
            raise unreadable(f"its run number {position} has no integer id or scenario")
        pairs.append((run_id, scenario))
    return result_id, pairs


def _integer(value: Any) -> int | None:
    """An integer of a JSON answer (or a string of one, as before), else None."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _times(count: int) -> str:
    return "twice" if count == 2 else f"{count} times"


def _scenarios(ids: Sequence[int]) -> str:
    """As in: scenario 31; scenarios 31 and 32; scenarios 31, 32 and 33."""
    names = [str(i) for i in dict.fromkeys(ids)]
    if len(names) == 1:
        return f"scenario {names[0]}"
    return f"scenarios {', '.join(names[:-1])} and {names[-1]}"
