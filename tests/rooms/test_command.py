"""The command source, with small Python programs that print, fail, hang, print without end
or start children of their own."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from roomkit import planned_run, room_config

from conftest import minimal_env
from specrunner.rooms.base import RoomLease, RoomUnavailable
from specrunner.rooms.command import STDOUT_CAP, CommandRoomSource

ROOM = "https://acme.daily.co/scripted"


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def source(argv: list[str], **options: Any) -> CommandRoomSource:
    options.setdefault("environ", minimal_env())
    return CommandRoomSource("scripted", argv, capacity=None, **options)


def lease(src: CommandRoomSource) -> RoomLease:
    return asyncio.run(src.lease(planned_run()))


def refusal(src: CommandRoomSource) -> str:
    with pytest.raises(RoomUnavailable) as caught:
        lease(src)
    return str(caught.value)


def test_reads_url_and_token_from_standard_output() -> None:
    code = f"import json; print(json.dumps({{'url': {ROOM!r}, 'token': 'tok-secret'}}))"
    got = lease(source(python(code)))
    assert (got.source, got.url, got.token) == ("scripted", ROOM, "tok-secret")
    assert "tok-secret" not in repr(got)


def test_the_token_is_optional() -> None:
    got = lease(source(python("import sys; print(sys.argv[1])", f'{{"url": "{ROOM}"}}')))
    assert (got.url, got.token) == (ROOM, None)


def test_the_program_sees_the_environment_it_is_given() -> None:
    code = "import json, os; print(json.dumps({'url': os.environ['ROOM_URL']}))"
    got = lease(source(python(code), environ={**minimal_env(), "ROOM_URL": ROOM}))
    assert got.url == ROOM


def test_a_failing_program_is_unavailable_with_its_exit_code_and_last_stderr_line() -> None:
    code = "import sys; sys.stderr.write('starting\\nno rooms left\\n'); sys.exit(3)"
    message = refusal(source(python(code)))
    assert message == (
        f"room source 'scripted': command {sys.executable} exited with code 3: no rooms left"
    )


def test_a_long_stderr_line_is_cut_to_200_characters() -> None:
    code = "import sys; sys.stderr.write('x' * 500); sys.exit(1)"
    message = refusal(source(python(code)))
    tail = message.rsplit(": ", 1)[1]
    assert len(tail) == 200
    assert tail.endswith("…")


def test_output_that_is_not_a_json_object_is_unavailable_without_quoting_it() -> None:
    code = "import sys; print('url=x token=tok-do-not-show'); sys.stderr.write('oops')"
    message = refusal(source(python(code)))
    assert message == (
        f"room source 'scripted': command {sys.executable} printed no JSON object on "
        "standard output (exit code 0; oops)"
    )
    assert "tok-do-not-show" not in message


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ('{"token": "t"}', 'printed JSON without a "url" string'),
        ('{"url": 5}', 'printed JSON without a "url" string'),
        ('{"url": "https://a.daily.co/r", "token": 7}', 'printed a "token" that is not a string'),
        ("[1, 2]", "printed no JSON object"),
    ],
)
def test_json_without_a_room(printed: str, expected: str) -> None:
    message = refusal(source(python("import sys; print(sys.argv[1])", printed)))
    assert expected in message


def test_a_program_that_hangs_is_killed_at_the_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    started = time.monotonic()
    message = refusal(source(python(code, str(pid_file)), timeout=0.5))
    assert time.monotonic() - started < 10
    assert message == (
        f"room source 'scripted': command {sys.executable} did not finish within 0.5 s (killed)"
    )
    assert_gone(int(pid_file.read_text()))


def test_a_cancelled_lease_kills_the_program(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(60)"
    src = source(python(code, str(pid_file)))

    async def main() -> None:
        task = asyncio.create_task(src.lease(planned_run()))
        for _ in range(200):  # bounded: at most ~10 s for the program to start
            if pid_file.exists() and pid_file.read_text():
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert_gone(int(pid_file.read_text()))


def assert_gone(pid: int) -> None:
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_program_that_does_not_exist_is_unavailable(tmp_path: Path) -> None:
    message = refusal(source([str(tmp_path / "no-such-program")]))
    assert message.startswith("room source 'scripted': command ")
    assert "could not be started: No such file or directory" in message


def test_secrets_in_the_arguments_are_masked() -> None:
    code = "import sys; sys.stderr.write('bad key ' + sys.argv[1]); sys.exit(2)"
    config = room_config(
        "command",
        name="scripted",
        argv=python(code, "sk-live-123456"),
        shown={"argv": python(code, "***")},  # the argument came from env
    )
    src = CommandRoomSource.from_config(config, environ=minimal_env(), capacity=None)
    message = refusal(src)
    assert message.endswith("exited with code 2: bad key ***")
    assert "sk-live-123456" not in message


def test_from_config_reads_the_timeout() -> None:
    config = room_config("command", argv=["x"], timeout="1m")
    assert CommandRoomSource.from_config(config, environ={}, capacity=None)._timeout == 60.0
    default = room_config("command", argv=["x"])
    assert CommandRoomSource.from_config(default, environ={}, capacity=None)._timeout == 60.0


# -- output caps and process groups -------------------------------------------------------

# Starts a child that sleeps (its pid in the file argv[1]), then runs the code in argv[2].
WITH_CHILD = (
    "import subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
    "open(sys.argv[1], 'w').write(str(child.pid))\n"
    "exec(sys.argv[2])\n"
)
PRINTS_FOR_EVER = "import sys\nwhile True: sys.stdout.write('y' * 4096)\n"


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, killed and waiting to be reaped by init, does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_gone(pid: int, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    for _ in range(int(limit / 0.02) + 1):
        if not alive(pid) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return not alive(pid)


@contextlib.contextmanager
def reaped(pid_file: Path) -> Any:
    """Kill the child named in `pid_file` after the test, whatever happened."""
    try:
        yield
    finally:
        if pid_file.exists() and pid_file.read_text():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def test_a_program_printing_without_end_is_killed_as_soon_as_it_passes_the_cap() -> None:
    started = time.monotonic()
    message = refusal(source(python(PRINTS_FOR_EVER), timeout=60))
    assert time.monotonic() - started < 10  # not the timeout
    assert message == (
        f"room source 'scripted': command {sys.executable} printed more than 1 MiB on "
        "standard output (killed)"
    )


@pytest.mark.skipif(shutil.which("yes") is None, reason="no `yes` on this machine")
def test_yes_is_killed_at_the_cap() -> None:
    yes = shutil.which("yes")
    assert yes is not None
    started = time.monotonic()
    message = refusal(source([yes], timeout=60))
    assert time.monotonic() - started < 10
    assert message.endswith("printed more than 1 MiB on standard output (killed)")


def test_output_up_to_the_cap_is_read() -> None:
    room = f'{{"url": "{ROOM}"}}'
    code = "import sys; sys.stdout.write(sys.argv[1] + ' ' * int(sys.argv[2]))"
    got = lease(source(python(code, room, str(STDOUT_CAP - len(room)))))
    assert got.url == ROOM


def test_a_timeout_kills_the_children_the_program_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    with reaped(pid_file):
        message = refusal(source(python(WITH_CHILD, str(pid_file), "time.sleep(60)"), timeout=1.0))
        assert message.endswith("did not finish within 1 s (killed)")
        assert wait_gone(int(pid_file.read_text())), "the program's child outlived it"


def test_printing_too_much_kills_the_children_the_program_started(tmp_path: Path) -> None:
    pid_file = tmp_path / "child"
    with reaped(pid_file):
        message = refusal(source(python(WITH_CHILD, str(pid_file), PRINTS_FOR_EVER), timeout=60))
        assert message.endswith("printed more than 1 MiB on standard output (killed)")
        assert wait_gone(int(pid_file.read_text())), "the program's child outlived it"


def test_a_child_holding_the_output_open_is_killed_at_the_timeout(tmp_path: Path) -> None:
    # The program exits at once; its child keeps standard output open, so the output never
    # ends: at the timeout the child is killed with the program's group.
    pid_file = tmp_path / "child"
    with reaped(pid_file):
        message = refusal(source(python(WITH_CHILD, str(pid_file), "pass"), timeout=1.0))
        assert message.endswith("did not finish within 1 s (killed)")
        assert wait_gone(int(pid_file.read_text()))


def test_a_child_left_running_by_a_program_that_succeeded_is_left_alone(tmp_path: Path) -> None:
    # A program may start a bot and exit: a child that let go of the output lives on.
    pid_file = tmp_path / "child"
    code = (
        "import json, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],\n"
        "    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n"
        f"print(json.dumps({{'url': {ROOM!r}}}))\n"
    )
    with reaped(pid_file):
        got = lease(source(python(code, str(pid_file))))
        assert got.url == ROOM
        assert alive(int(pid_file.read_text()))


def test_a_flood_on_standard_error_is_not_an_error_and_its_last_line_is_quoted() -> None:
    code = (
        "import sys\n"
        "for i in range(100_000): sys.stderr.write(f'log line {i} ' + 'x' * 50 + '\\n')\n"
        "sys.stderr.write('the real reason\\n'); sys.exit(4)\n"
    )  # about 6 MB
    message = refusal(source(python(code), timeout=60))
    assert message.endswith("exited with code 4: the real reason")


def test_json_nested_too_deeply_is_no_json_object() -> None:
    code = "import sys; sys.stdout.write('[' * 100000 + ']' * 100000)"
    assert "printed no JSON object on standard output" in refusal(source(python(code)))
