"""A small process that starts the benchmarked commands, so that their peak memory is
their own.

On Linux, a process's peak resident memory (`ru_maxrss`) counts the memory of the process
that started it, as it was when the command was started (the memory the command's `exec`
replaced). The benchmark grows as it reads the emulator's ledgers (past 100 MB after
10,000 runs), so a command it started itself would show at least that much: 2,000 runs
measured after 10,000 showed 123 MB instead of their own 72 MB. This process, started once
and importing nothing but the standard library's process tools, starts each command
instead, times it and reads its usage with `os.wait4`.

It reads one request per line on stdin (a JSON object: command, env, cwd, log, limit) and
writes one answer per line on stdout (wall, cpu, peak_kib, code). `Spawner` is the
benchmark's side of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def run_one(request: dict[str, Any]) -> dict[str, Any]:
    """Run one command to its end (killed after `limit` seconds); its usage."""
    with Path(request["log"]).open("wb") as out:
        began = time.perf_counter()
        child = subprocess.Popen(
            request["command"],
            env=request["env"],
            cwd=request["cwd"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        watchdog = threading.Timer(request["limit"], child.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(child.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - began
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_kib": usage.ru_maxrss,  # KiB on Linux
        "code": os.waitstatus_to_exitcode(status),
    }


def serve() -> None:
    for line in sys.stdin:
        print(json.dumps(run_one(json.loads(line))), flush=True)


class Spawner:
    """The benchmark's side: `run` sends a request to the spawner process (started at the
    first request) and waits for its answer."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[str] | None = None

    def run(
        self, command: Sequence[str], env: dict[str, str], cwd: Path, log: Path, limit: float
    ) -> dict[str, Any]:
        if self._process is None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", __file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        assert self._process.stdin is not None and self._process.stdout is not None
        request = {
            "command": list(command),
            "env": env,
            "cwd": str(cwd),
            "log": str(log),
            "limit": limit,
        }
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise RuntimeError("the benchmark's spawner process ended")
        result: dict[str, Any] = json.loads(answer)
        return result

    def close(self) -> None:
        if self._process is not None:
            assert self._process.stdin is not None
            self._process.stdin.close()
            self._process.wait(timeout=30)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None


if __name__ == "__main__":
    serve()
