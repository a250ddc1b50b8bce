"""The emulator in a process of its own, for benchmarks that must not share its GIL."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import yaml

TICKS = os.sysconf("SC_CLK_TCK")


def start_emulator(config: Path, cwd: Path | None = None) -> tuple[subprocess.Popen[str], str]:
    """`specrunner emulator` on a free port: the process and its URL. Run from `cwd` (as
    `-m` puts the working directory first on the path: from the top of a source tree, that
    tree's specrunner is run, whatever PYTHONPATH says)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "specrunner", "emulator", "--port", "0", "--config", str(config)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if "listening on" in line:
            return process, line.split("listening on", 1)[1].strip()
        if not line and process.poll() is not None:
            raise RuntimeError(f"the emulator exited ({process.returncode}) before it listened")
    process.kill()
    process.wait()
    raise RuntimeError("the emulator did not start within 30 s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Emulated:
    """A running emulator process: its URL, its CPU time and its ledger."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.process.pid)

    def mark(self) -> None:
        """A request the ledger records (as an `unknown` endpoint) with the emulator's time,
        so that later requests can be timed from this moment."""
        httpx.get(f"{self.base_url}/_bench/mark", timeout=30)

    def ledger(self) -> dict[str, Any]:
        """Every request it answered and every run it created (`GET /_emulator/ledger`)."""
        answer = httpx.get(f"{self.base_url}/_emulator/ledger", timeout=120)
        answer.raise_for_status()
        ledger: dict[str, Any] = answer.json()
        return ledger


@contextlib.contextmanager
def emulator(config: Mapping[str, Any], folder: Path) -> Iterator[Emulated]:
    """A fresh emulator with `config` (written to FOLDER/emulator.yaml), stopped after."""
    path = folder / "emulator.yaml"
    path.write_text(yaml.safe_dump(dict(config), sort_keys=False))
    process, base_url = start_emulator(path, cwd=folder)
    try:
        yield Emulated(process, base_url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
