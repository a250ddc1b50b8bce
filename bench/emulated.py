"""The emulator in a process of its own, for benchmarks that must not share its GIL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def start_emulator(config: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "specrunner", "emulator", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "listening on" in line:
            return process, line.split("listening on", 1)[1].strip()
    process.kill()
    raise RuntimeError("the emulator did not start")
