"""`specrunner emulator`: the local emulator of Cekura, Pipecat Cloud and Daily, served in
the foreground."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable

from specrunner.emulator import Emulator, EmulatorConfig, load_config
from specrunner.errors import ExitCode, UsageError


def run_emulator(
    host: str,
    port: int,
    api_key: str | None,
    config_path: str | None,
    out: Callable[[str], None],
    err: Callable[[str], None],
    wait: Callable[[], None] | None = None,
) -> int:
    """Serve the emulator in the foreground until interrupted (or until `wait` returns)."""
    config = load_config(config_path) if config_path else EmulatorConfig()
    if api_key:
        config = dataclasses.replace(config, api_key=api_key)
    try:
        emulator = Emulator(config, host=host, port=port)
    except OSError as exc:
        raise UsageError(f"emulator: cannot listen on {host}:{port}: {exc.strerror}") from None
    if host not in ("127.0.0.1", "localhost", "::1"):
        err(f"warning: listening on {host}, not only on this machine's loopback")
    with emulator:
        for notice in emulator.notices:
            err(f"note: {notice}")
        out(f"specrunner emulator listening on {emulator.base_url}")
        out("Point clients at it with:")
        for name, value in emulator.environment().items():
            out(f"  export {name}={value}")
        out(f"Ledger: {emulator.base_url}/_emulator/ledger   (Ctrl-C to stop)")
        try:
            (wait or threading.Event().wait)()
        except KeyboardInterrupt:
            out("stopped")
    return ExitCode.OK
