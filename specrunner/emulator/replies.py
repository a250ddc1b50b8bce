"""The emulator's request and reply records: the services' logic never sees HTTP objects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_NO_BODY = object()


@dataclass(frozen=True, slots=True)
class Incoming:
    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    """Header names in lower case."""
    raw: bytes = b""

    def json(self) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        if not self.raw:
            return _NO_BODY
        return json.loads(self.raw)

    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        return token.strip() or None if scheme.lower() == "bearer" else None


def has_body(value: Any) -> bool:
    return value is not _NO_BODY


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any = None
    """JSON data; None sends an empty body."""
    headers: Mapping[str, str] = field(default_factory=dict)


def ok(body: Any = None) -> Reply:
    return Reply(200, body)
