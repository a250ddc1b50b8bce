"""How room sources call HTTP services and describe what went wrong.

One attempt of a request either returns a 2xx answer, raises `RetryLater` (the policy may
try again) or raises `RoomUnavailable` (no point trying again). Messages name the status
and the server's own words, never a key or token: every message passes a `Redactor`.

Every attempt has a total deadline (connecting, sending and reading the whole answer:
`Request.deadline`) and reads at most 32 MiB of its answer (`http_common.fetch`). An
attempt past its deadline may have been carried out, like any timeout after sending.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from specrunner.errors import UsageError
from specrunner.http_common import (
    AnswerTooLarge,
    AnswerTooSlow,
    answer_json,
    check_url,
    describe_status,
    fetch,
    retry_after,
    shown_url,
)
from specrunner.masking import MASK, MIN_TEXT_SECRET
from specrunner.models import RoomConfig
from specrunner.retry import GaveUp, RetryLater, RetryPolicy
from specrunner.rooms.base import RoomUnavailable
from specrunner.suite.duration import parse_duration

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

log = logging.getLogger("specrunner.rooms")

_NO_BODY: Any = object()

DEADLINE = 30.0
"""Seconds one request of a room source may take in all (connecting, sending, reading the
whole answer) unless it says otherwise: Daily's API, a session stop, and a configured
request (`start_bot`, an http source) without a `timeout`."""

NOT_SENT_AGAIN = "the request may have been applied, so it is not sent again"
"""Ends the message of a failure after which a request that must not happen twice
(`Request.retry_unsure=False`) may still have been carried out."""


# -- secrets ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Redactor:
    """Hides known secrets (keys, tokens, values from `env`) in free text."""

    secrets: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config: RoomConfig, *extra: str | None) -> Redactor:
        """The secrets of a room source: what the suite took from `env` (where `values`
        and `shown` differ), and `extra` values known to be secret (keys, headers)."""
        found: set[str] = set(config.secrets)
        _secret_parts(config.values, config.shown, found)
        found.update(value for value in extra if value)
        return cls(frozenset(found))

    def plus(self, *values: str | None) -> Redactor:
        return Redactor(self.secrets | {v for v in values if v})

    def text(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            if len(secret) >= MIN_TEXT_SECRET:
                text = text.replace(secret, MASK)
        return text


def _secret_parts(value: Any, shown: Any, found: set[str]) -> None:
    if shown == MASK and not isinstance(value, str):  # a whole value made from a secret
        _every_text(value, found)
        return
    if isinstance(value, Mapping) and isinstance(shown, Mapping):
        for key, item in value.items():
            _secret_parts(item, shown.get(key), found)
    elif isinstance(value, list) and isinstance(shown, list) and len(value) == len(shown):
        for item, item_shown in zip(value, shown, strict=True):
            _secret_parts(item, item_shown, found)
    elif isinstance(value, str) and value != shown:
        if not isinstance(shown, str) or shown == MASK or MASK not in shown:
            found.add(value)
            return
        # `shown` is `value` with each secret replaced by ***: recover the replaced parts.
        literal = shown.split(MASK)
        position = 0
        for before, after in itertools.pairwise(literal):
            found_at = value.find(before, position)
            start = found_at + len(before)
            end = value.find(after, start) if after else len(value)
            if found_at < 0 or end < start:
                found.add(value)  # cannot tell the parts apart: hide all of it
                return
            found.add(value[start:end])
            position = end


def _every_text(value: Any, found: set[str]) -> None:
    """Every string inside `value`, as secrets (its keys were written in the suite)."""
    if isinstance(value, Mapping):
        for item in value.values():
            _every_text(item, found)
    elif isinstance(value, list):
        for item in value:
            _every_text(item, found)
    elif isinstance(value, str) and value:
        found.add(value)


_SECRET_HEADER_WORDS = ("auth", "key", "token", "secret", "cookie", "signature", "password")


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The values of headers that carry credentials (Authorization, X-Api-Key, Cookie, ...),
    and the credential of a `Scheme credential` value."""
    found: list[str] = []
    for name, value in headers.items():
        if not any(word in name.lower() for word in _SECRET_HEADER_WORDS):
            continue
        found.append(value)
        _scheme, _, credential = value.partition(" ")
        if credential.strip():
            found.append(credential.strip())
    return found


# -- configuration -------------------------------------------------------------------------


def read_timeout(value: Any, *, source: str, what: str) -> float | None:
    """A duration of the configuration (`90s`, `10m`, or seconds), or None when not set."""
    if value is None:
        return None
    seconds = parse_duration(value) if isinstance(value, int | str) else None
    if seconds is None:
        raise UsageError(
            f"room source {source!r}: {what} {value!r} is not a duration "
            "(seconds, or a string such as 90s, 10m or 1h30m)"
        )
    return seconds


def read_mapping(value: Any, *, source: str, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UsageError(f"room source {source!r}: {what} must be a mapping")
    return dict(value)


def read_text(value: Any, *, source: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise UsageError(f"room source {source!r}: {what} must be a non-empty string")
    return value


# -- one request -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request a room source makes, and how its failures are treated."""

    method: str
    url: str
    what: str
    """What the request does, for messages: "Daily room creation"."""
    headers: Mapping[str, str]
    json: Any = _NO_BODY
    timeout: float | None = None
    """httpx's timeout of each step (connecting, each read), when not the client's."""
    deadline: float = DEADLINE
    """The most the whole request may take, its answer read in full."""
    retry_unsure: bool = True
    """Retry failures after which the request may have been applied (timeouts, dropped
    connections, 5xx, 408). False for requests that must not happen twice (starting a
    session or a bot): only failures that provably did nothing are retried (refused
    connection, 429, 503 with Retry-After), and any other failure is RoomUnavailable
    saying so (NOT_SENT_AGAIN)."""
    accept: frozenset[int] = frozenset()
    """Statuses besides 2xx that count as done (404 for deleting what is gone)."""


@dataclass(frozen=True, slots=True)
class ConfiguredRequest:
    """A request the suite spells out: an http source's start request, a Daily source's
    `start_bot`. Its URL and headers may carry credentials: they are never shown."""

    url: str = field(repr=False)
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    body: Any = field(default=None, repr=False)
    timeout: float | None = None
    """The configured `timeout`: the most the request may take in all, its answer read."""

    @classmethod
    def from_values(
        cls, values: Mapping[str, Any], *, source: str, prefix: str = ""
    ) -> ConfiguredRequest:
        """The request the keys `url`, `method`, `headers`, `body` and `timeout` of
        `values` describe; messages name them as `prefix` + key."""
        headers = read_mapping(values.get("headers"), source=source, what=f"{prefix}headers")
        return cls(
            url=check_url(values.get("url"), f"room source {source!r}: {prefix}url"),
            method=str(values.get("method") or "POST").upper(),
            headers={str(k): str(v) for k, v in headers.items()},
            body=values.get("body"),
            timeout=read_timeout(values.get("timeout"), source=source, what=f"{prefix}timeout"),
        )

    def request(self, what: str, json: Any, *, retry_unsure: bool = True) -> Request:
        return Request(
            method=self.method,
            url=self.url,
            what=what,
            headers=self.headers,
            json=json,
            timeout=self.timeout,
            deadline=self.timeout or DEADLINE,
            retry_unsure=retry_unsure,
        )


async def send(http: httpx.AsyncClient, request: Request, redactor: Redactor) -> httpx.Response:
    """One attempt: the 2xx answer, or RetryLater, or RoomUnavailable."""
    import httpx  # here, not above: a suite of static rooms never loads it

    options: dict[str, Any] = {"headers": dict(request.headers)}
    if request.json is not _NO_BODY:
        options["json"] = request.json
    if request.timeout is not None:
        options["timeout"] = request.timeout
    try:
        response = await fetch(
            http, request.method, request.url, deadline=request.deadline, **options
        )
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
        # No connection was made (or none was free): nothing was sent.
        reason = f"{request.what} failed: {describe_transport(error, redactor)}"
        raise RetryLater(reason) from None
    except (httpx.RequestError, AnswerTooSlow) as error:
        # Sent, or partly: the server may have carried it out.
        reason = f"{request.what} failed: {describe_transport(error, redactor)}"
        if request.retry_unsure:
            raise RetryLater(reason) from None
        raise RoomUnavailable(f"{reason}; {NOT_SENT_AGAIN}") from None
    except AnswerTooLarge as error:  # answered: asking again would bring the same
        raise RoomUnavailable(f"{request.what} failed: HTTP {error.status}: {error}") from None
    status = response.status_code
    if 200 <= status < 300 or status in request.accept:
        return response
    if 300 <= status < 400:
        location = response.headers.get("location")
        where = f" (a redirect to {redactor.text(shown_url(location))})" if location else ""
        raise RoomUnavailable(
            f"{request.what} failed: HTTP {status}{where}; redirects are not followed"
        )
    reason = f"{request.what} failed: {redactor.text(describe_status(response))}"
    after = retry_after(response)
    if status == 429 or (status == 503 and after is not None):
        raise RetryLater(reason, after)  # refused before anything was done
    if status >= 500 or status == 408:
        if request.retry_unsure:
            raise RetryLater(reason, after)
        raise RoomUnavailable(f"{reason}; {NOT_SENT_AGAIN}")
    raise RoomUnavailable(reason)


async def with_retries(
    policy: RetryPolicy, attempt: Callable[[], Awaitable[T]], *, source: str
) -> T:
    """`attempt` under the policy; giving up, or a refusal, is RoomUnavailable."""
    try:
        return await policy.call(attempt)
    except GaveUp as gave_up:
        raise RoomUnavailable(f"room source {source!r}: {gave_up}") from None
    except RoomUnavailable as refused:
        raise RoomUnavailable(f"room source {source!r}: {refused}") from None


def answer_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object, or RoomUnavailable."""
    try:
        data = answer_json(response)
    except ValueError:
        raise RoomUnavailable(f"{what}: the answer is not JSON") from None
    if not isinstance(data, dict):
        raise RoomUnavailable(f"{what}: the answer is not a JSON object")
    return data


def describe_transport(error: httpx.RequestError | AnswerTooSlow, redactor: Redactor) -> str:
    import httpx  # a room source's only: see `send`

    if isinstance(error, AnswerTooSlow):
        return str(error)
    if isinstance(error, httpx.PoolTimeout):
        kind = "no connection was free in time"
    elif isinstance(error, httpx.TimeoutException):
        kind = "no answer within the timeout"
    elif isinstance(error, httpx.ConnectError):
        kind = "could not connect"
    else:
        kind = "the connection failed"
    detail = str(error).strip()
    return redactor.text(f"{kind} ({type(error).__name__}: {detail})" if detail else kind)


def log_release_failure(source: str, what: str, error: BaseException, redactor: Redactor) -> None:
    """A release that failed is logged (a warning), never raised: the run is over."""
    if isinstance(error, RoomUnavailable):
        message = str(error)  # already names the source and the request
    else:
        message = f"room source {source!r}: {what} failed: {type(error).__name__}: {error}"
    log.warning("%s", redactor.text(message))
