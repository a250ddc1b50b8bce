"""What Daily's REST API refuses in a room request, and its rate limits.

The room properties and their types are those of Daily's API description (version 1.1.1,
docs.daily.co/reference/rest-api/rooms). Where Daily's pages disagree or say nothing, the
stricter rule is taken; docs/emulator.md lists each choice.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

NAME_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")
NAME_AND_DOMAIN = 41
"""One version of Daily's page: "Together, the domain name and the room name cannot exceed
41 characters"; another says a name may have 128. The stricter one is kept."""
ROOM_KEYS = ("name", "privacy", "properties")
LANGUAGES = frozenset(
    {
        "da",
        "de",
        "en",
        "es",
        "fi",
        "fr",
        "it",
        "jp",
        "ka",
        "nl",
        "no",
        "pt",
        "pt-BR",
        "pl",
        "ru",
        "sv",
        "tr",
        "user",
    }
)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    """As the error says it: "must be NAME"."""
    accepts: Callable[[Any], bool]


BOOLEAN = Kind("a boolean", lambda v: isinstance(v, bool))
INTEGER = Kind("an integer", _is_int)
NUMBER = Kind("a number", _is_number)
# Daily types nbf and exp as integers, but Pipecat's own DailyRESTHelper sends exp as a
# float (time.time() + seconds), so Daily must take one.
UNIX_SECONDS = Kind("a unix time in seconds", _is_number)
STRING = Kind("a string", lambda v: isinstance(v, str))
OBJECT = Kind("an object", lambda v: isinstance(v, dict))
LIST = Kind("a list", lambda v: isinstance(v, list))
LANGUAGE = Kind("a language code such as 'en'", lambda v: v in LANGUAGES)
ANY = Kind("any JSON value", lambda v: v is not None)

_BOOLEANS = [
    "enable_people_ui",
    "enable_cpu_warning_notifications",
    "enable_pip_ui",
    "enable_emoji_reactions",
    "enable_hand_raising",
    "enable_prejoin_ui",
    "enable_live_captions_ui",
    "enable_network_ui",
    "enable_noise_cancellation_ui",
    "enable_breakout_rooms",
    "enable_knocking",
    "enable_screenshare",
    "enable_video_processing_ui",
    "enable_chat",
    "enable_shared_chat_history",
    "start_video_off",
    "start_audio_off",
    "eject_at_room_exp",
    "enable_advanced_chat",
    "enable_hidden_participants",
    "enable_mesh_sfu",
    "enable_adaptive_simulcast",
    "enable_multiparty_adaptive_simulcast",
    "enforce_unique_user_ids",
    "experimental_optimize_large_calls",
    "disable_rtmp_geo_fallback",
    "enable_terse_logging",
    "enable_transcription_storage",
    "enable_dialout",
]

ROOM_PROPERTIES: dict[str, Kind] = {
    **dict.fromkeys(_BOOLEANS, BOOLEAN),
    "nbf": UNIX_SECONDS,
    "exp": UNIX_SECONDS,
    "max_participants": INTEGER,
    "eject_after_elapsed": INTEGER,
    "sfu_switchover": NUMBER,
    "enable_recording": ANY,  # typed "any" in Daily's description
    "lang": LANGUAGE,
    **dict.fromkeys(
        ["meeting_join_hook", "geo", "rtmp_geo", "recordings_template", "transcription_template"],
        STRING,
    ),
    **dict.fromkeys(
        [
            "recordings_bucket",
            "auto_transcription_settings",
            "transcription_bucket",
            "dialout_config",
            "permissions",
            "sip",
        ],
        OBJECT,
    ),
    "streaming_endpoints": LIST,
}


def room_request_problem(body: dict[str, Any], domain: str) -> str | None:
    """Why Daily would refuse this `POST /rooms` body (the `info` of a 400), or None."""
    unknown = sorted(set(body) - set(ROOM_KEYS))
    if unknown:
        return f"unknown parameter {unknown[0]!r}: a room takes name, privacy and properties"
    name = body.get("name")
    if "name" in body:
        if not isinstance(name, str) or not NAME_CHARS.match(name):
            return "name: only letters, digits, '-' and '_'"
        if len(domain) + len(name) > NAME_AND_DOMAIN:
            return (
                f"name: too long: the domain name and the room name together may have at "
                f"most {NAME_AND_DOMAIN} characters ({len(domain)} + {len(name)})"
            )
    if body.get("privacy", "public") not in ("public", "private"):
        return "privacy must be 'public' or 'private'"
    properties = body.get("properties", {})
    if not isinstance(properties, dict):
        return "properties must be an object"
    for key, value in properties.items():
        kind = ROOM_PROPERTIES.get(key)
        if kind is None:
            return f"properties: unknown property {key!r}"
        if not kind.accepts(value):
            return f"properties.{key} must be {kind.name}"
    return None


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    seconds: float


GENERAL = (Limit(20, 1.0), Limit(100, 5.0))
"""Most endpoints: 20 requests a second, or 100 in 5 seconds (Daily's rate limits page;
the second follows from the first)."""
DELETES = (Limit(2, 1.0), Limit(50, 30.0))
"""`DELETE /rooms/:name`: 2 a second, or 50 in 30 seconds (the same page): a steady 2 a
second would be 60 in 30 s, so the second limit binds on long runs of deletions."""


@dataclass(slots=True)
class RateLimiter:
    """Requests allowed within every one of its limits (sliding windows)."""

    limits: tuple[Limit, ...]
    _times: list[deque[float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._times = [deque() for _ in self.limits]

    def allow(self, now: float) -> bool:
        for limit, times in zip(self.limits, self._times, strict=True):
            while times and times[0] <= now - limit.seconds:
                times.popleft()
        if any(len(t) >= limit.count for limit, t in zip(self.limits, self._times, strict=True)):
            return False
        for times in self._times:
            times.append(now)
        return True
