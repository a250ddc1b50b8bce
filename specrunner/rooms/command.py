"""A local program (run without a shell) that prints one JSON object
`{"url": ..., "token": ...}` on standard output.

The program runs in a session (and process group) of its own. Past its timeout, or as
soon as it prints more than 1 MiB on standard output, the whole group is killed, with
every process it started, and the lease fails. Of standard error only the last 64 KiB
are kept (its last line is quoted in messages). A program that ends by itself may leave
processes running (a bot it started, say): they are left alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import Any

from specrunner.errors import UsageError
from specrunner.http_common import size_text
from specrunner.models import PlannedRun, RoomConfig
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.calls import Redactor, read_timeout

DEFAULT_TIMEOUT = 60.0
STDOUT_CAP = 1024 * 1024
"""The most a program may print on standard output: a room URL and token fit many times."""
STDERR_KEPT = 64 * 1024
"""How much of the end of standard error is kept."""
_CHUNK = 64 * 1024
_MAX_STDERR_LINE = 200


class _TooMuchOutput(Exception):
    pass


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
        # The program writes to pipes of ours, not asyncio's: waiting for it to exit never
        # waits for its output to close too (a process it started may hold that open).
        pipes: list[int] = []
        try:
            out_read, out_write = os.pipe()
            pipes += (out_read, out_write)
            err_read, err_write = os.pipe()
            pipes += (err_read, err_write)
            process = await asyncio.create_subprocess_exec(
                *self._argv,
                stdin=subprocess.DEVNULL,
                stdout=out_write,
                stderr=err_write,
                env=self._environ,
                start_new_session=True,  # its own process group: killed as one
            )
        except BaseException as error:
            for fd in pipes:
                os.close(fd)
            if isinstance(error, OSError):
                why = error.strerror or error
                raise self._failure(f"could not be started: {why}") from None
            raise
        os.close(out_write)  # the program has its own copies
        os.close(err_write)
        self._running.add(process)
        finished = False
        try:
            async with asyncio.timeout(self._timeout):
                stdout, stderr = await _output(process, out_read, err_read)
            finished = True
        except TimeoutError:
            raise self._failure(f"did not finish within {self._timeout:g} s (killed)") from None
        except _TooMuchOutput:
            raise self._failure(
                f"printed more than {size_text(STDOUT_CAP)} on standard output (killed)"
            ) from None
        finally:
            await self._end(process, kill=not finished)
        code = process.returncode
        if code != 0:
            raise self._failure(f"exited with code {code}{_stderr_tail(stderr)}")
        return self._lease_from(stdout, code, stderr)

    def _lease_from(self, stdout: bytes, code: int | None, stderr: bytes) -> RoomLease:
        # stdout holds the token: never quote it in a message.
        try:
            answer: Any = json.loads(stdout.decode("utf-8"))
        except (ValueError, RecursionError):  # not UTF-8, not JSON, or nested too deeply
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

    async def _end(self, process: asyncio.subprocess.Process, *, kill: bool) -> None:
        """After a timeout, too much output or a cancellation (`kill`): kill the program's
        process group, children included, and reap the program."""
        self._running.discard(process)
        if kill:
            # The group outlives its leader while a child lives; once no process is left
            # in it, killpg finds none.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if process.returncode is None:
            await asyncio.shield(process.wait())

    async def release(self, lease: RoomLease) -> None:
        return None

    async def adopt(self, lease: RoomLease) -> None:
        """Nothing to count: the program's rooms need nothing on release."""
        return None

    async def close(self) -> None:
        for process in list(self._running):
            await self._end(process, kill=True)

    def __repr__(self) -> str:
        return f"CommandRoomSource(name={self.name!r}, program={self.program!r})"


async def _output(
    process: asyncio.subprocess.Process, out_fd: int, err_fd: int
) -> tuple[bytes, bytes]:
    """The program's standard output (at most STDOUT_CAP, else _TooMuchOutput at once) and
    the end of its standard error, read from the pipes `out_fd` and `err_fd` (closed here)
    until both are closed, and the program has exited."""
    transports: list[asyncio.ReadTransport] = []
    errors: asyncio.Future[bytes] | None = None
    handed = 0  # pipes handed to `_reader`, which closes them
    try:
        readers = []
        for fd in (out_fd, err_fd):
            handed += 1
            reader, transport = await _reader(fd)
            transports.append(transport)
            readers.append(reader)
        stdout, stderr = readers
        errors = asyncio.ensure_future(_tail(stderr, STDERR_KEPT))
        output = bytearray()
        while chunk := await stdout.read(_CHUNK):
            output += chunk
            if len(output) > STDOUT_CAP:
                raise _TooMuchOutput
        kept = await errors
        await process.wait()
    finally:
        if errors is not None and not errors.done():
            errors.cancel()
        for transport in transports:
            transport.close()
        for fd in (out_fd, err_fd)[handed:]:
            os.close(fd)
    return bytes(output), kept


async def _reader(fd: int) -> tuple[asyncio.StreamReader, asyncio.ReadTransport]:
    """A stream reading the pipe `fd`; closing the transport closes the pipe."""
    reader = asyncio.StreamReader(limit=_CHUNK)

    def protocol() -> asyncio.StreamReaderProtocol:
        return asyncio.StreamReaderProtocol(reader)

    pipe = os.fdopen(fd, "rb", buffering=0)
    try:
        transport, _ = await asyncio.get_running_loop().connect_read_pipe(protocol, pipe)
    except BaseException:
        pipe.close()
        raise
    return reader, transport


async def _tail(stream: asyncio.StreamReader, keep: int) -> bytes:
    kept = b""
    while chunk := await stream.read(_CHUNK):
        kept = (kept + chunk)[-keep:]
    return kept


def _stderr_tail(stderr: bytes, joiner: str = ":") -> str:
    """`: <the last line of stderr>`, at most 200 characters, or nothing."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    if not lines:
        return ""
    last = lines[-1].strip()
    if len(last) > _MAX_STDERR_LINE:
        last = last[: _MAX_STDERR_LINE - 1] + "…"
    return f"{joiner} {last}"
