"""What every HTTP client in specrunner shares: which hosts may be reached over plain http,
and how long a server asked us to wait."""

from __future__ import annotations

import email.utils
import ipaddress
import time
from urllib.parse import urlsplit

import httpx


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
