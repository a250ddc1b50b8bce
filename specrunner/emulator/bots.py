"""A bot-start endpoint: the stand-in for the user's own service that puts an agent in a
Daily room (what a suite's `start_bot` calls).

`POST /bot/start` with `{"room_url": ..., "token": ...}` (the body specrunner's start_bot
sends by default) puts an agent in that room of the emulator's Daily domain, for as long as
the room lives. A Cekura run in a room no agent was ever started in fails, as a real call
would (`require_bot`).
"""

from __future__ import annotations

from dataclasses import dataclass

from specrunner.emulator.daily import Daily
from specrunner.emulator.replies import Incoming, Reply, has_body, ok

PATH = "/bot/start"


def _refused(message: str) -> Reply:
    return Reply(400, {"error": message})


@dataclass(slots=True)
class Bots:
    daily: Daily

    def start(self, request: Incoming, now: float) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return _refused("the body is not valid JSON")
        if not has_body(body) or not isinstance(body, dict):
            return _refused("the body must be a JSON object with room_url (and token)")
        url, token = body.get("room_url"), body.get("token")
        if not isinstance(url, str) or not url.strip():
            return _refused("room_url must be the URL of a Daily room")
        if token is not None and not isinstance(token, str):
            return _refused("token must be a string")
        # The bot joins as any participant does: the room must be open to its token.
        room, problem = self.daily.access(url, token, now)
        if room is None or problem is not None:
            return _refused(f"the bot could not join: {problem}")
        room.bot = True
        room.bot_started(now)
        return ok({"status": "started", "room_url": room.url})
