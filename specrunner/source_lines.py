"""The line of a file a diagnostic points at, read again to show it under the message.

Reading is careful, since it happens after the error, to a path that may since have
changed: only a regular file is read (a FIFO or a terminal, such as /dev/stdin, could
block or be consumed), of at most `MAX_BYTES`, and never an env file (`.env`, `prod.env`,
`.envrc`): its lines are secrets. A file that is gone, unreadable or too large gives no
line, and the message is shown without one.

Lines are split as YAML splits them (LF, CRLF, CR, NEL, LS, PS), so that a diagnostic's
line number, counted by the YAML parser, names the same line; a leading byte order mark is
dropped, as the loader drops it, so that columns of the first line agree too. Bytes that
are not UTF-8 are shown as escapes (`\\xff`).
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import PurePath

MAX_BYTES = 32 * 1024 * 1024
_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


class SourceLines:
    """The lines of the files diagnostics point at; each file is read once."""

    def __init__(self) -> None:
        self._files: dict[str, list[str] | None] = {}

    def line(self, path: str, number: int) -> str | None:
        """Line `number` (1-based) of `path`, without its line break; None when it cannot
        or may not be shown."""
        if path not in self._files:
            self._files[path] = _read_lines(path)
        lines = self._files[path]
        if lines is None or not 1 <= number <= len(lines):
            return None
        return lines[number - 1]


def is_env_file(path: str) -> bool:
    """Whether `path` is named as a file of environment variables (`.env`, `.env.local`,
    `prod.env`, `.envrc`), whose every line may be a secret."""
    name = PurePath(path).name.lower()
    return name in (".env", ".envrc") or name.startswith(".env.") or name.endswith(".env")


def split_lines(text: str) -> list[str]:
    """`text` split at YAML's line breaks; a final break ends the last line, so the empty
    line after it is the end of the file."""
    return _BREAKS.split(text)


def _read_lines(path: str) -> list[str] | None:
    if not path or is_env_file(path):
        return None
    raw = _read_regular_file(path)
    if raw is None or not raw:
        return None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="backslashreplace")
    return split_lines(text)


def _read_regular_file(path: str) -> bytes | None:
    """The bytes of `path` if it is a regular file of at most MAX_BYTES, else None.

    Opened without blocking and checked on the open descriptor, so that what is read is
    what was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (OSError, ValueError):  # gone, unreadable, or a name with a NUL character
        return None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BYTES:
            return None
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, min(1024 * 1024, MAX_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return None if size > MAX_BYTES else b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)
