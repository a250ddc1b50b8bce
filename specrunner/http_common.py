"""What every HTTP client in specrunner shares: which URLs it may call, how a URL is shown,
how a server's error answer is described, and how long a server asked us to wait."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from specrunner.errors import UsageError

_MESSAGE_FIELDS = ("error", "message", "info", "detail")
_MAX_MESSAGE = 200


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


def retry_after(response: httpx.Response) -> float | None:
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


def describe_status(response: httpx.Response) -> str:
    """`HTTP 401: Unauthorized / token expired`: the status and the server's own words."""
    message = server_message(response)
    return f"HTTP {response.status_code}" + (f": {message}" if message else "")


def server_message(response: httpx.Response) -> str:
    """The server's own words: `error`, `message`, `info`, `detail`, and an error `code`
    when it says more than the status (Pipecat Cloud's `PCC-...` codes); for a body of
    field errors (Django REST framework's `{field: [messages]}`), the fields and messages."""
    try:
        data = response.json()
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
