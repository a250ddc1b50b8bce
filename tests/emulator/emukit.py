"""What the emulator's tests share: the credentials it accepts, its Daily domain, and an
emulator on a manual clock with a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from specrunner.emulator import Emulator, EmulatorConfig, ManualClock

CEKURA = {"X-CEKURA-API-KEY": "specrunner-emulator-key"}
DAILY = {"Authorization": "Bearer daily-key"}
PIPECAT = {"Authorization": "Bearer pk_public"}
PRIVATE = {"Authorization": "Bearer sk_private"}
DOMAIN = "https://specrunner-emulator.daily.co"
BULK = "/test_framework/v2/runs/bulk/"


@contextmanager
def serve(cfg: EmulatorConfig) -> Iterator[tuple[Emulator, httpx.Client, ManualClock]]:
    """An emulator with `cfg` on a clock the test moves, and a client of it."""
    clock = ManualClock()
    with (
        Emulator(cfg, clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=5.0) as client,
    ):
        yield emu, client, clock
