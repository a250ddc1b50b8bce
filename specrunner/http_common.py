"""What every HTTP client in specrunner shares: which URLs it may call, how a URL is shown,
how one request is made within a total deadline and a cap on its answer, how a server's
error answer is described, and how long a server asked us to wait.

The room sources speak httpx (`fetch`); the Cekura client speaks through an `HttpRequester`
(aiohttp's, in `cekura_http.py`), whose answers are `Answer`s and whose failures say
whether anything was sent (`NotSent`, `Lost`). httpx is imported only by what uses it.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import orjson

from specrunner.errors import UsageError

if TYPE_CHECKING:
    import httpx

_MESSAGE_FIELDS = ("error", "message", "info", "detail")
_MAX_MESSAGE = 200

ANSWER_CAP = 32 * 1024 * 1024
"""The most bytes of one answer specrunner reads (once decompressed): 32 MiB."""
REWRITTEN_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
"""Headers of the wire that no longer describe an answer read in full and decompressed."""


class AnswerTooSlow(Exception):
    """A request did not get its whole answer (connecting, sending, every byte of the
    body) within its total deadline. It may have been carried out."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within the timeout (all of it must come within {seconds:g} s)")
        self.seconds = seconds


class AnswerTooLarge(Exception):
    """An answer was longer than the cap; what was read of it is dropped."""

    def __init__(self, cap: int, status: int) -> None:
        super().__init__(f"the answer is over {size_text(cap)}, the most specrunner reads of one")
        self.cap = cap
        self.status = status


async def fetch(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    deadline: float,
    cap: int = ANSWER_CAP,
    **options: Any,
) -> httpx.Response:
    """One request whose whole answer must come within `deadline` seconds and be at most
    `cap` bytes: the answer, read in full (httpx's timeouts bound each read, not the whole,
    so a server sending a byte a second would hold a plain request for ever).

    `options` are `httpx.AsyncClient.build_request`'s. Raises what httpx raises (a
    RequestError), AnswerTooSlow, and AnswerTooLarge for a 2xx answer over the cap (one
    declaring a longer Content-Length is refused before its body is read). Any other
    answer over the cap comes with an empty body: its status and headers say what callers
    need, and only a server's own words are lost."""
    import httpx  # only the room sources fetch: the Cekura client does not

    request = http.build_request(method, url, **options)
    try:
        async with asyncio.timeout(deadline):
            response = await http.send(request, stream=True)
            try:
                body = await read_capped(
                    response.aiter_bytes(),
                    status=response.status_code,
                    cap=cap,
                    declared=_declared_length(response.headers.get("content-length", "")),
                )
            finally:
                await response.aclose()
    except TimeoutError:
        raise AnswerTooSlow(deadline) from None
    headers = kept_headers(response.headers.multi_items())
    return httpx.Response(response.status_code, headers=headers, content=body, request=request)


def kept_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """An answer's headers, but for those of the wire (REWRITTEN_HEADERS) that no longer
    describe its body once read in full and decompressed."""
    return [(name, value) for name, value in headers if name.lower() not in REWRITTEN_HEADERS]


def _declared_length(value: str) -> int | None:
    """A Content-Length header's number (one of more than 15 digits is taken as 10**15,
    never parsed whole), or None when it is not one."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return 10**15 if len(value) > 15 else int(value)


async def read_capped(
    chunks: AsyncIterator[bytes], *, status: int, cap: int, declared: int | None
) -> bytes:
    """An answer's whole body from its (decompressed) `chunks`, at most `cap` bytes: over
    it, AnswerTooLarge for a 2xx answer (raised before reading when the `declared`
    Content-Length is already longer) and an empty body for any other, whose status and
    headers say what callers need."""
    try:
        if declared is not None and declared > cap:
            raise AnswerTooLarge(cap, status)
        body = bytearray()
        async for chunk in chunks:  # decompressed: a gzip bomb is capped too
            if len(body) + len(chunk) > cap:
                raise AnswerTooLarge(cap, status)
            body += chunk
        return bytes(body)
    except AnswerTooLarge:
        if 200 <= status < 300:
            raise
        return b""


class Answered(Protocol):
    """An HTTP answer read in full, as the descriptions below read it (an `httpx.Response`
    or an `Answer`)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Answer:
    """An answer of an `HttpRequester`: its status, its headers (read case-insensitively,
    without those of the wire that no longer describe a body read in full and
    decompressed) and its whole body; `method` and `path` say what it answers."""

    __slots__ = ("content", "headers", "method", "path", "status_code")

    def __init__(
        self,
        status_code: int,
        headers: Mapping[str, str],
        content: bytes,
        *,
        method: str = "GET",
        path: str = "/",
    ) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content
        self.method = method
        self.path = path

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body's JSON value, read by orjson (twice as fast as `json` on a poll's
        answer of 100 runs, which is most of a large suite's reading). Whatever orjson
        refuses is read by `json`, so that answers are read, or refused with the same
        error, as `json.loads` reads them: NaN and Infinity, numbers beyond a double,
        lone surrogates, a byte order mark, UTF-16, nesting deeper than orjson's 1,024
        levels. The one difference: an integer beyond 64 bits is read as the nearest
        float, not exactly (RFC 8259 promises no more than a double), and no field
        specrunner reads as an integer takes a float."""
        try:
            return orjson.loads(self.content)
        except orjson.JSONDecodeError:
            return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Answer {self.status_code} to {self.method} {self.path}>"


class NotSent(Exception):
    """No byte of the request left this machine: no connection could be made (`busy` is
    False), or none was free within the wait for one (`busy` is True). Sending it again
    cannot make anything twice."""

    def __init__(self, reason: str, *, busy: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.busy = busy


class Lost(Exception):
    """The connection failed once the request had begun to be sent, or before its answer
    was read: the server may have carried it out."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpRequester(Protocol):
    """One HTTP request at a time, sent once (never again by itself), following no
    redirect. Raises NotSent, Lost, AnswerTooSlow (the whole answer did not come within
    `deadline` seconds: it may have been carried out), and AnswerTooLarge for a 2xx answer
    over `cap` bytes (any other answer over the cap comes with an empty body)."""

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        deadline: float,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        cap: int = ...,
    ) -> Answer: ...


def size_text(count: int) -> str:
    """`32 MiB`, `1 MiB`, `64 KiB`, `900 bytes`."""
    for unit, name in ((1024 * 1024, "MiB"), (1024, "KiB")):
        if count >= unit and count % unit == 0:
            return f"{count // unit} {name}"
    return f"{count} bytes"


def answer_json(response: Answered) -> Any:
    """The answer's JSON; ValueError when it is not JSON or is nested too deeply to read
    (Python's parser raises RecursionError for that)."""
    try:
        return response.json()
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None


def url_problem(url: str) -> str | None:
    """What is wrong with `url` as an address specrunner may call, or None: it must be
    https, or plain http to this machine (127.0.0.0/8, localhost, ::1)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL"
    if scheme == "http" and not is_loopback(parts.hostname):
        return (
            "uses plain http to a host that is not loopback; use https (plain http is "
            "allowed only to 127.0.0.0/8, localhost and ::1)"
        )
    return None


def check_url(url: Any, what: str) -> str:
    """`url` (stripped) when specrunner may call it (see `url_problem`); else a UsageError
    that names `what` ("CEKURA_API_URL", "room source 'bot': api_url") and the URL as
    `shown_url` shows it."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError(f"{what} is not set")
    text = url.strip()
    problem = url_problem(text)
    if problem is not None:
        raise UsageError(f"{what} {shown_url(text)} {problem}")
    return text


def shown_url(url: str) -> str:
    """`url` without credentials, query or fragment: safe to print."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme else parts.path


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def retry_after(response: Answered) -> float | None:
    """The answer's Retry-After, in seconds (a number or an HTTP date), or None."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def describe_status(response: Answered) -> str:
    """`HTTP 401: Unauthorized / token expired`: the status and the server's own words."""
    message = server_message(response)
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def server_message(response: Answered) -> str:
    """The server's own words: `error`, `message`, `info`, `detail`, and an error `code`
    when it says more than the status (Pipecat Cloud's `PCC-...` codes); for a body of
    field errors (Django REST framework's `{field: [messages]}`), the fields and messages."""
    try:
        data = answer_json(response)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        lines = response.text.strip().splitlines() if data is None else []
        return lines[-1][:_MAX_MESSAGE] if lines else ""
    words = [str(data[k]) for k in _MESSAGE_FIELDS if isinstance(data.get(k), str | int)]
    message = ": ".join(words)
    code = data.get("code")
    if isinstance(code, str) and code and code != str(response.status_code):
        message = f"{message} (code {code})" if message else f"code {code}"
    elif not message:
        message = ", ".join(
            f"{field}: {'; '.join(map(str, value)) if isinstance(value, list) else value}"
            for field, value in list(data.items())[:4]
        )
    return message[:_MAX_MESSAGE]
