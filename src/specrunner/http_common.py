"""What every HTTP client in specrunner shares: which hosts may be reached over plain http,
and how long a server asked us to wait."""

from __future__ import annotations

import email.utils
import ipaddress
import time

import httpx


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
