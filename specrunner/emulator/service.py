"""The emulator's services behind one dispatcher: routes, authentication, faults, ledger.

`EmulatorApp` holds the state of Cekura, Pipecat Cloud and Daily and answers `Incoming`
requests with `Reply`s; `server.py` puts it on HTTP.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from specrunner.emulator.bots import PATH as BOT_PATH
from specrunner.emulator.bots import Bots
from specrunner.emulator.cekura import Cekura, iso_clock
from specrunner.emulator.clock import Clock
from specrunner.emulator.config import EmulatorConfig, Fault
from specrunner.emulator.daily import Daily, room_address, room_key
from specrunner.emulator.faults import FaultPlan
from specrunner.emulator.ledger import Ledger, RequestRecord
from specrunner.emulator.pipecat import PipecatCloud
from specrunner.emulator.replies import Incoming, Reply
from specrunner.emulator.runs import Simulation

Handler = Callable[[Incoming, dict[str, str], int, float], Reply]

_CEKURA_VERSIONS = r"/test_framework/(?:v1|v2)"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler
    service: str


class EmulatorApp:
    """The state of the three services, and the dispatch of requests to them."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.ledger = Ledger.keeping(config.ledger_details, self.lock, config.notices())
        wall_start = time.time()
        secret = f"specrunner-emulator:{config.seed}".encode()
        self.daily = Daily(config, self.ledger, secret, wall_start)
        for room in config.daily_rooms:
            if room.host is not None:
                self.daily.add_foreign(room.host, room.name, room.token, bot=room.bot)
            else:
                self.daily.create(room.name, room.privacy, {}, 0.0, "config", bot=room.bot)
        self.pipecat = PipecatCloud(config, self.ledger, self.daily, Random(f"pc:{config.seed}"))
        self.bots = Bots(self.daily)
        self.simulation = Simulation(
            config,
            join_problem=self.daily.join_problem,
            call_ended=self._call_ended,
            room_key=room_key,
            run_sent=self._run_sent,
        )
        self.cekura = Cekura(config, self.ledger, self.simulation, iso_clock(wall_start))
        self.faults = FaultPlan(config.faults, config.seed)
        self._seq = 0
        self.routes = self._routes()

    def _call_ended(self, url: str, at: float) -> None:
        where = room_address(url)
        if where is not None:
            self.pipecat.call_ended(where[1], at)

    def _run_sent(self, url: str) -> None:
        where = room_address(url)
        if where is not None and where[0] == f"{self.config.daily_domain}.daily.co":
            self.pipecat.run_sent(where[1])

    def sync(self) -> float:
        """Bring every service up to the clock's now (time moves only when asked); now."""
        with self.lock:
            now = self.clock.now()
            self.simulation.advance(now)
            self.pipecat.expire(now)
            self.daily.prune(now)
            return now

    def health(self) -> dict[str, Any]:
        """What /_emulator/health answers: the timing a caller may have to print, and counts."""
        with self.lock:
            self.sync()
            return {
                "status": "ok",
                "profile": self.config.profile.value,
                "time_scale": self.config.time_scale,
                "notices": list(self.config.notices()),
                "live_runs": self.simulation.live(),
                "runs_kept": len(self.simulation.runs),
                "runs_forgotten": self.simulation.forgotten_runs,
                "live_sessions": self.pipecat.live(),
                "rooms_kept": len(self.daily.rooms),
                "totals": self.ledger.totals(),
            }

    def _routes(self) -> list[Route]:
        c, p, d = self.cekura, self.pipecat, self.daily

        def route(method: str, pattern: str, endpoint: str, handler: Handler) -> Route:
            return Route(
                method, re.compile(f"^{pattern}/?$"), endpoint, handler, endpoint.split(".")[0]
            )

        return [
            route(
                "POST",
                r"/test_framework/(?:v1/scenarios-external|v1/scenarios|v2/scenarios)"
                r"/run_scenarios_pipecat",
                "cekura.run",
                lambda r, _, seq, now: c.run_pipecat(r, seq, now),
            ),
            route(
                "GET",
                rf"{_CEKURA_VERSIONS}/runs(?:-external)?/bulk",
                "cekura.bulk",
                lambda r, _, seq, now: c.bulk(r, now),
            ),
            route(
                "GET",
                rf"{_CEKURA_VERSIONS}/results(?:-external)?/(?P<id>\d+)",
                "cekura.result",
                lambda r, a, seq, now: c.result(int(a["id"]), now),
            ),
            route(
                "POST",
                rf"{_CEKURA_VERSIONS}/results(?:-external)?/(?P<id>\d+)/end_calls",
                "cekura.end_calls",
                lambda r, a, seq, now: c.end_calls(int(a["id"]), now),
            ),
            route(
                "POST",
                rf"{_CEKURA_VERSIONS}/runs(?:-external)?/(?P<id>\d+)/end_call",
                "cekura.end_call",
                lambda r, a, seq, now: c.end_call(int(a["id"]), now),
            ),
            route(
                "POST",
                r"/v1/public/(?P<agent>[^/]+)/start",
                "pipecat.start",
                lambda r, a, seq, now: p.start(a["agent"], r, now),
            ),
            route(
                "DELETE",
                r"/v1/agents/(?P<agent>[^/]+)/sessions/(?P<session>[^/]+)",
                "pipecat.stop",
                lambda r, a, seq, now: p.stop(a["agent"], a["session"], r, now),
            ),
            route(
                "POST",
                r"/v1/rooms",
                "daily.create_room",
                lambda r, a, seq, now: d.create_room(r, now),
            ),
            route(
                "GET",
                r"/v1/rooms/(?P<name>[^/]+)",
                "daily.get_room",
                lambda r, a, seq, now: d.get_room(a["name"], now),
            ),
            route(
                "DELETE",
                r"/v1/rooms/(?P<name>[^/]+)",
                "daily.delete_room",
                lambda r, a, seq, now: d.delete_room(a["name"], now),
            ),
            route(
                "POST",
                r"/v1/meeting-tokens",
                "daily.create_token",
                lambda r, a, seq, now: d.create_token(r),
            ),
            route(
                "POST",
                BOT_PATH,
                "bot.start",
                lambda r, a, seq, now: self.bots.start(r, now),
            ),
        ]

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | Reply:
        allowed = []
        for route in self.routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed.append(route.method)
        if allowed:
            return Reply(
                405, {"detail": f'Method "{method}" not allowed.'}, {"Allow": ", ".join(allowed)}
            )
        return Reply(404, {"detail": "Not found."})

    def next_seq(self) -> int:
        with self.lock:
            self._seq += 1
            return self._seq

    def answer(self, route: Route, args: dict[str, str], request: Incoming, seq: int) -> Reply:
        with self.lock:
            # Everything due before this request happens first, whichever service it is for.
            now = self.sync()
            if route.service == "cekura":
                refused = self.cekura.authenticate(request)
            elif route.service == "daily":
                refused = self.daily.authenticate(request) or self.daily.rate_limited(
                    route.endpoint, now
                )
            else:
                refused = None
            return refused or route.handler(request, args, seq, now)

    def record(
        self, seq: int, request: Incoming, endpoint: str, status: int | None, fault: str | None
    ) -> None:
        with self.lock:
            self.ledger.requests.append(
                RequestRecord(
                    seq=seq,
                    at=self.clock.now(),
                    method=request.method,
                    path=request.path,
                    endpoint=endpoint,
                    status=status,
                    fault=fault,
                )
            )


def fault_reply(service: str, status: int, retry_after: float | None) -> Reply:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
    if service == "pipecat":
        body: Any = {
            "error": "Service unavailable" if status != 429 else "Too many requests",
            "code": str(status),
        }
        if status == 429:
            body = {
                "status": 429,
                "code": "429",
                "message": "Rate limit exceeded. Please try again later",
            }
    elif service == "daily":
        body = {
            "error": "rate-limit-error" if status == 429 else "server-error",
            "info": "injected by the emulator",
        }
    elif service == "bot":
        body = {"error": "too many requests" if status == 429 else "injected by the emulator"}
    else:
        body = {"detail": "Request was throttled." if status == 429 else "A server error occurred."}
    return Reply(status, body, headers)


def describe_fault(fault: Fault) -> str:
    if fault.drop:
        return "drop"
    if fault.applied_then_status is not None:
        return f"applied_then_{fault.applied_then_status}"
    return str(fault.status)
