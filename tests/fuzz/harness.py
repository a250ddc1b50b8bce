"""Run `specrunner` on fuzz cases, within bounds of time and memory.

Two ways to run a case:

- `run_forked`: the real CLI (`specrunner.cli:main` through click's CliRunner) in a
  forked child of this process, which has the CLI imported and warmed up already, so a
  case costs milliseconds. The child gets `MEMORY_HEADROOM` more address space than this
  process has (RLIMIT_AS) and is killed when one command outlives `COMMAND_SECONDS`, so a
  runaway case can neither hang the test session nor exhaust the machine, even when it is
  stuck in C code (a huge power, a huge allocation) where no signal would reach it.
- `run_subprocesses`: `python -m specrunner` as new processes, all at once, each under an
  RLIMIT_AS of `MEMORY_HEADROOM` and a timeout: the whole program, start and exit included.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from .outcome import CANARY, SUITE_FILE, Case, Outcome, Ran, leaks, output_problems

COMMAND_SECONDS = 5.0
"""The most one command may take in a forked child (it is killed then)."""

SUBPROCESS_SECONDS = 8.0
"""The most one command may take as a new process: COMMAND_SECONDS, and starting Python
and importing specrunner on a busy 2-core machine."""

MEMORY_HEADROOM = 1 << 30
"""The address space a forked child may take beyond its parent's; a new process's in all."""

SLOW_FAILURE = 1.0
"""A command that went wrong after this many seconds ends its case: the case's other
commands would mostly repeat it, as slowly."""

_KEEP_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def environment() -> dict[str, str]:
    """The environment a case runs in: PATH and the like, and SECRET (the canary)."""
    env = {k: os.environ[k] for k in _KEEP_ENV if k in os.environ}
    env["SECRET"] = CANARY
    return env


def _statm() -> tuple[int, int]:
    """(address space, resident memory) of this process, in bytes."""
    size, resident = Path("/proc/self/statm").read_text().split()[:2]
    page = os.sysconf("SC_PAGE_SIZE")
    return int(size) * page, int(resident) * page


def warm_up() -> None:
    """Import and exercise what the CLI loads lazily, once, before any fork, so that each
    child starts with it (schemas compiled, templates parsed)."""
    from click.testing import CliRunner

    from specrunner.cli import main

    with tempfile.TemporaryDirectory() as folder, contextlib.chdir(folder):
        Path(folder, SUITE_FILE).write_text(
            "version: 1\nname: warm\nrooms:\n  lab: {source: static, url: 'https://a.b/c'}\n"
            "scenarios:\n  - {id: 1, publish_data_message: {k: '{{ run.key|upper }}'}}\n"
        )
        for args in (["validate", SUITE_FILE], ["plan", SUITE_FILE, "--format", "json"]):
            CliRunner().invoke(main, args)


# ---- in a forked child -------------------------------------------------------------------


def _child(case: Case, folder: Path, out: int, environ: Mapping[str, str]) -> None:
    """In the forked child: run the case's commands, one JSON line per event on `out`."""

    def send(record: Mapping[str, Any]) -> None:
        os.write(out, json.dumps(record).encode() + b"\n")

    try:
        os.chdir(folder)
        os.environ.clear()
        os.environ.update(environ)
        size, _ = _statm()
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = size + MEMORY_HEADROOM
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        from click.testing import CliRunner

        from specrunner.cli import main

        for args in case.commands:
            send({"start": list(args)})
            started = time.perf_counter()
            result = CliRunner().invoke(main, list(args))
            seconds = time.perf_counter() - started
            escaped = None
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                escaped = "".join(traceback.format_exception_only(result.exception)).strip()
            problems = output_problems(result.output, result.exit_code, escaped)
            send(
                {
                    "exit": result.exit_code,
                    "seconds": seconds,
                    "problems": problems,
                    "head": result.output[:400],
                }
            )
            if problems and seconds > SLOW_FAILURE:
                break
    except BaseException as error:  # the harness's own failure: report it, never raise
        with contextlib.suppress(BaseException):
            send({"harness": f"{type(error).__name__}: {error}"})
    finally:
        os._exit(0)


def _records(fd: int, pid: int, seconds: float) -> Iterator[dict[str, Any] | None]:
    """The child's records as they come; None when one command outlived `seconds` (the
    child is killed then)."""
    buffer = b""
    deadline = time.monotonic() + seconds
    while True:
        ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0.0))
        if not ready:
            os.kill(pid, signal.SIGKILL)
            yield None
            return
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            record = json.loads(line)
            if "start" in record:
                deadline = time.monotonic() + seconds
            yield record


def run_forked(case: Case, folder: Path, seconds: float = COMMAND_SECONDS) -> Outcome:
    """Run `case` in a forked child, in `folder` (see the module's docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SUITE_FILE).write_bytes(case.suite)
    environ = environment()
    _, resident = _statm()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks (a lock another thread holds
        # stays held in the child). The child runs only the CLI; a child stuck on such a
        # lock is killed at the time bound and reported, never missed.
        warnings.filterwarnings("ignore", "This process .* use of fork", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child never returns
        os.close(read_end)
        _child(case, folder, write_end, environ)
    os.close(write_end)
    ran: list[Ran] = []
    problems: list[str] = []
    current: tuple[str, ...] = ()
    running = False
    started = time.perf_counter()
    try:
        for record in _records(read_end, pid, seconds):
            if record is None:
                why = f"still running after {seconds:.0f} s: killed"
                ran.append(Ran(current, None, time.perf_counter() - started, (why,), ""))
                running = False
            elif "start" in record:
                current, running, started = tuple(record["start"]), True, time.perf_counter()
            elif "harness" in record:
                problems.append(f"the fuzz harness failed in the child: {record['harness']}")
            else:
                found = tuple(record["problems"])
                head = record["head"] if found else ""  # kept where it explains something
                ran.append(Ran(current, record["exit"], record["seconds"], found, head))
                running = False
    finally:
        os.close(read_end)
        _, status, usage = os.wait4(pid, 0)
    if running:  # it died in the middle of a command
        ran.append(Ran(current, None, time.perf_counter() - started, (), ""))
        problems.append(f"the process died: {_status(status)}")
    return _outcome(case, folder, ran, problems, max(0, usage.ru_maxrss * 1024 - resident))


def _status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _outcome(
    case: Case, folder: Path, ran: Sequence[Ran], problems: list[str], peak: int
) -> Outcome:
    """The outcome, with the crash reports the CLI wrote in `folder` (then removed)."""
    crashes = []
    for report in sorted(folder.glob(".specrunner/crash-*.log")):
        text = report.read_text(encoding="utf-8", errors="replace")
        report.unlink()
        problems += [f"{p} in its crash report" for p in leaks(text)]
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        crashes.append(" | ".join(lines[-3:]))
    every = [p for r in ran for p in r.problems] + problems
    return Outcome(case, tuple(ran), tuple(dict.fromkeys(every)), peak, tuple(crashes))


# ---- as new processes --------------------------------------------------------------------


def _limit_memory() -> None:  # pragma: no cover - runs in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_HEADROOM, MEMORY_HEADROOM))


def run_subprocesses(
    cases: Sequence[tuple[Case, Path]], seconds: float = SUBPROCESS_SECONDS
) -> list[Outcome]:
    """Run every command of every case as `python -m specrunner ...` in the case's folder,
    all at once; each process under an RLIMIT_AS of MEMORY_HEADROOM, killed after
    `seconds`. The outcomes, in the order of `cases`."""
    started: list[tuple[int, tuple[str, ...], subprocess.Popen[bytes], Path]] = []
    for index, (case, folder) in enumerate(cases):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SUITE_FILE).write_bytes(case.suite)
        for number, args in enumerate(case.commands):
            output = folder / f"output-{number}.txt"
            with output.open("wb") as sink:
                process = subprocess.Popen(
                    [sys.executable, "-m", "specrunner", *args],
                    cwd=folder,
                    env=environment(),
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    preexec_fn=_limit_memory,
                )
            started.append((index, args, process, output))
    finished = _wait_all([process for _, _, process, _ in started], seconds)
    ran: list[list[Ran]] = [[] for _ in cases]
    peaks = [0] * len(cases)
    for (index, args, _, output), (code, elapsed, peak) in zip(started, finished, strict=True):
        text = output.read_text(errors="replace")
        if code is None:
            found = [f"still running after {seconds:.0f} s: killed", *leaks(text)]
        else:
            found = output_problems(text, code)
            if code < 0:
                found.insert(0, f"killed by signal {signal.Signals(-code).name}")
        ran[index].append(Ran(args, code, elapsed, tuple(found), text[:400]))
        peaks[index] = max(peaks[index], peak)
    return [_outcome(case, folder, ran[i], [], peaks[i]) for i, (case, folder) in enumerate(cases)]


def _wait_all(
    processes: Sequence[subprocess.Popen[bytes]], seconds: float
) -> list[tuple[int | None, float, int]]:
    """Wait for each process, killing any that outlives `seconds`: for each, its exit code
    (None when it was killed for time), the time it took and its peak resident memory."""
    started = time.monotonic()
    results: dict[int, tuple[int | None, float, int]] = {}
    killed: set[int] = set()
    while len(results) < len(processes):
        for process in processes:
            if process.pid in results:
                continue
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            elapsed = time.monotonic() - started
            if pid:
                code = os.waitstatus_to_exitcode(status)
                process.returncode = code  # reaped here: Popen must not wait for it again
                shown = None if process.pid in killed else code
                results[process.pid] = (shown, elapsed, usage.ru_maxrss * 1024)
            elif elapsed > seconds and process.pid not in killed:
                process.kill()
                killed.add(process.pid)
        time.sleep(0.01)
    return [results[process.pid] for process in processes]
