"""A local program (run without a shell) that prints one JSON object
`{"url": ..., "token": ...}` on standard output."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from specrunner.errors import UsageError
from specrunner.models import PlannedRun, RoomConfig
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import Redactor, read_timeout

DEFAULT_TIMEOUT = 60.0
_MAX_STDERR_LINE = 200


class CommandRoomSource:
    """`lease` runs the program; nothing to do on `release`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        capacity: int | None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        if not argv:
            raise UsageError(f"room source {name!r}: argv must name a program")
        self.name = name
        self.capacity = capacity
        self._argv = tuple(argv)
        self._timeout = timeout
        self._environ = dict(environ) if environ is not None else None
        self._redactor = redactor or Redactor()
        self._running: set[asyncio.subprocess.Process] = set()

    @classmethod
    def from_config(
        cls, config: RoomConfig, *, environ: Mapping[str, str], capacity: int | None
    ) -> CommandRoomSource:
        argv = config.values.get("argv")
        if not isinstance(argv, list) or not argv:
            raise UsageError(f"room source {config.name!r}: argv must be a non-empty list")
        timeout = read_timeout(config.values.get("timeout"), source=config.name, what="timeout")
        return cls(
            config.name,
            [str(arg) for arg in argv],
            capacity=capacity,
            timeout=timeout or DEFAULT_TIMEOUT,
            environ=environ,
            redactor=Redactor.of(config),
        )

    @property
    def program(self) -> str:
        return self._argv[0]

    def _failure(self, why: str) -> RoomUnavailable:
        return RoomUnavailable(
            self._redactor.text(f"room source {self.name!r}: command {self.program} {why}")
        )

    async def lease(self, run: PlannedRun) -> RoomLease:
        try:
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=self._environ,
            )
        except OSError as error:
            raise self._failure(f"could not be started: {error.strerror or error}") from None
        self._running.add(process)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), self._timeout)
        except TimeoutError:
            raise self._failure(f"did not finish within {self._timeout:g} s (killed)") from None
        finally:
            await self._end(process)
        code = process.returncode
        if code != 0:
            raise self._failure(f"exited with code {code}{_stderr_tail(stderr)}")
        return self._lease_from(stdout, code, stderr)

    def _lease_from(self, stdout: bytes, code: int | None, stderr: bytes) -> RoomLease:
        # stdout holds the token: never quote it in a message.
        try:
            answer: Any = json.loads(stdout.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            answer = None
        if not isinstance(answer, dict):
            raise self._failure(
                f"printed no JSON object on standard output (exit code {code}"
                f"{_stderr_tail(stderr, ';')})"
            )
        url, token = answer.get("url"), answer.get("token")
        if not isinstance(url, str) or not url:
            raise self._failure(f'printed JSON without a "url" string (exit code {code})')
        if token is not None and not isinstance(token, str):
            raise self._failure(f'printed a "token" that is not a string (exit code {code})')
        return RoomLease(source=self.name, url=url, token=token or None)

    async def _end(self, process: asyncio.subprocess.Process) -> None:
        """Kill the program if it still runs (timeout, cancellation), and reap it."""
        self._running.discard(process)
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await asyncio.shield(process.wait())

    async def release(self, lease: RoomLease) -> None:
        return None

    async def adopt(self, lease: RoomLease) -> None:
        """Nothing to count: the program's rooms need nothing on release."""
        return None

    async def close(self) -> None:
        for process in list(self._running):
            await self._end(process)

    def __repr__(self) -> str:
        return f"CommandRoomSource(name={self.name!r}, program={self.program!r})"


def _stderr_tail(stderr: bytes, joiner: str = ":") -> str:
    """`: <the last line of stderr>`, at most 200 characters, or nothing."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return ""
    last = lines[-1].strip()
    if len(last) > _MAX_STDERR_LINE:
        last = last[: _MAX_STDERR_LINE - 1] + "…"
    return f"{joiner} {last}"
