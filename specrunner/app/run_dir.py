"""A run's directory, `.specrunner/runs/<run-id>/` under the working directory.

It holds the journal (`journal.jsonl`, see execute/journal.py), the JSON report
(`results.json`) and, while a process works in it, its `lock`. The journal's first record
says what was planned: the `PlanRequest` (its suite resolved, its environment the one the
plan used), the planned run keys and the plan's `fingerprint`, so that `--resume RUN_DIR`
rebuilds the same plan, checks that it is the same, and takes up from there.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from specrunner.app.planning import PlanRequest
from specrunner.errors import UsageError
from specrunner.execute.journal import Journal
from specrunner.execute.journal_records import JOURNAL, JournalError
from specrunner.execute.replay import replay
from specrunner.masking import MASK, Secrets
from specrunner.models import Plan
from specrunner.version import __version__

RESULTS = "results.json"
LOCK = "lock"


@dataclass(frozen=True, slots=True)
class Resumed:
    """A run directory to continue, and what its journal's start record says."""

    run_dir: Path
    request: PlanRequest
    keys: tuple[str, ...]
    started_at: str | None
    fingerprint: Mapping[str, str] | None = None
    """The plan's `fingerprint` when the run started; None in a journal written before
    specrunner recorded one."""
    emulator: bool = False
    """Whether the run started with `--emulator`."""
    unsent: frozenset[str] = frozenset()
    """The keys of the runs the journal shows were never sent: what resuming may send."""


def runs_folder(workdir: Path) -> Path:
    """The folder that holds the run directories."""
    return workdir / ".specrunner" / "runs"


def check_parent(workdir: Path) -> None:
    """A UsageError, before anything is sent, when no run directory can be made in
    `runs_folder(workdir)`: a file stands where one of its folders should be, or it (or
    the folder it would be made in) cannot be written in. Nothing is made."""
    # Imported here: the renderers it brings are needed only by a run.
    from specrunner.report.write import folder_problem

    folder = runs_folder(workdir)
    problem = folder_problem(folder)
    if problem is not None:
        raise UsageError(f"cannot make a run directory in {folder}: {problem}")


def create(
    workdir: Path, request: PlanRequest, plan: Plan, started_at: str, *, emulator: bool = False
) -> Path:
    """A new run directory, its journal started with the plan's request, keys and
    fingerprint."""
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = runs_folder(workdir) / f"{plan.suite_name}-{stamp}-{secrets.token_hex(2)}"
    run_dir.mkdir(parents=True)
    planned = dataclasses.replace(
        request, suite=str(Path(plan.suite_file).resolve()), environment=plan.environment
    )
    fields: dict[str, Any] = {"emulator": True} if emulator else {}
    journal = Journal(run_dir / JOURNAL)
    try:
        journal.write(
            "start",
            version=1,
            specrunner=__version__,
            started_at=started_at,
            request=planned.as_json(),
            keys=[run.key for run in plan.runs],
            fingerprint=fingerprint(plan),
            **fields,
        )
    finally:
        journal.close()
    return run_dir


def resume(path: str) -> Resumed:
    """The run directory `path` and its start record; a UsageError when it is not one
    (a JournalError when its journal is damaged)."""
    run_dir = Path(path)
    journal = run_dir / JOURNAL
    if not journal.is_file():
        raise UsageError(
            f"--resume {path}: no {JOURNAL} there; give the run "
            "directory that `specrunner run` printed"
        )
    try:
        replayed = replay(journal)
        start: Mapping[str, Any] = replayed.start
        return Resumed(
            run_dir,
            PlanRequest.from_json(start["request"]),
            tuple(start["keys"]),
            start.get("started_at"),
            start.get("fingerprint"),
            start.get("emulator") is True,
            frozenset(key for key, state in replayed.runs.items() if state.unsent),
        )
    except JournalError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--resume {path}: the journal cannot be read ({exc})") from None


# -- the plan's fingerprint

PARTS = ("agent", "scenarios", "rooms", "payloads", "expectations")
"""The parts of a plan that decide what is sent, each hashed on its own by `fingerprint`."""


def fingerprint(plan: Plan) -> dict[str, str]:
    """A short sha256 digest of each part of `plan` that decides what is sent (`PARTS`).

    `agent`; `scenarios`: each run's scenario id and timeout; `rooms`: the kind and
    capacity of each room source the runs use, and each run's room; `payloads`: each run's
    shown payload (secrets masked); `expectations`: each scenario's expect rule and
    repeat count (and least repeat, when sequential). No secret is hashed: values read
    from `env` are hashed as `***`.
    """
    return {name: _digest(value) for name, value in fingerprint_parts(plan).items()}


def fingerprint_parts(plan: Plan) -> dict[str, Any]:
    """What `fingerprint` hashes, part by part (plain JSON, without a secret)."""
    hidden = plan.secrets
    used = sorted({run.room for run in plan.runs})
    # The runs in the order of their keys, in which `_digest` writes them anyway: sorting
    # what is already in order is next to free, sorting 10,000 keys three times is not.
    runs = sorted(plan.runs, key=attrgetter("key"))
    scenarios = {
        pair: [_shown(pair[0], hidden), _shown(pair[1], hidden)]
        for pair in {(run.scenario_id, run.timeout) for run in runs}
    }
    return {
        "agent": _shown(plan.agent, hidden),
        "scenarios": {run.key: scenarios[run.scenario_id, run.timeout] for run in runs},
        "rooms": {
            "sources": {
                name: {
                    "kind": plan.rooms[name].source.value,
                    "capacity": _shown(plan.rooms[name].capacity, hidden),
                }
                for name in used
                if name in plan.rooms
            },
            "runs": {run.key: run.room for run in runs},
        },
        "payloads": {run.key: run.shown_payload for run in runs},
        "expectations": [
            {
                "scenario": scenario.name,
                "id": _shown(scenario.id, hidden),
                "expect": scenario.expect.as_json(),
                "repeat": scenario.repeat,
                # (Only where set, so that the journals of earlier versions still match.)
                **({} if scenario.repeat_min is None else {"repeat_min": scenario.repeat_min}),
            }
            for scenario in plan.scenarios
        ],
    }


def _shown(value: Any, hidden: Secrets) -> Any:
    """A scalar as it may be shown: `***` when it was read from `env`."""
    return MASK if value is not None and str(value) in hidden else value


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def check_resume(resumed: Resumed, plan: Plan, where: str) -> None:
    """A UsageError unless `plan` is the plan the resumed run started with: the same run
    keys and, when the journal has a fingerprint, the same fingerprint (the parts both
    know)."""
    if list(resumed.keys) != [run.key for run in plan.runs]:
        raise UsageError(
            f"--resume {where}: the suite or its selection changed since "
            "that run started; its plan no longer matches the journal"
        )
    if resumed.fingerprint is None:
        return
    now = fingerprint(plan)
    changed = sorted(
        name for name, digest in resumed.fingerprint.items() if name in now and now[name] != digest
    )
    if changed:
        parts = ", ".join(changed[:-1]) + " and " + changed[-1] if len(changed) > 1 else changed[0]
        verb = "differ" if len(changed) > 1 or changed[0].endswith("s") else "differs"
        raise UsageError(
            f"--resume {where}: the suite changed since that run started (its {parts} "
            f"{verb}); resume it with the suite as it was, or start a new run"
        )


# -- one process per run directory

_held: set[Path] = set()
_held_lock = threading.Lock()


def lock(run_dir: Path) -> contextlib.AbstractContextManager[None]:
    """Hold `run_dir` for this process: `run_dir/lock`, made atomically, holds its pid.

    A UsageError when a live process holds it (this one included). A lock whose process
    is gone, or that cannot be read, is taken over. The file is removed on exit, if it
    still holds this process's pid.
    """
    return _locked(run_dir)


@contextlib.contextmanager
def _locked(run_dir: Path) -> Iterator[None]:
    path = run_dir / LOCK
    pid = os.getpid()
    held = path.resolve()
    with _held_lock:
        if held in _held:
            raise _in_use(run_dir, pid)
        _acquire(run_dir, path, pid)
        _held.add(held)
    try:
        yield
    finally:
        with _held_lock:
            _held.discard(held)
            if _holder(path) == pid:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _acquire(run_dir: Path, path: Path, pid: int) -> None:
    content = f"{pid}\n".encode()
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        holder = _holder(path)
        if holder is not None and holder != pid and _alive(holder):
            raise _in_use(run_dir, holder) from None
        # Its process is gone (or the file says nothing): take it over, atomically.
        spare = path.with_name(f"{LOCK}.{pid}.{secrets.token_hex(4)}")
        try:
            spare.write_bytes(content)
            spare.replace(path)
        finally:
            spare.unlink(missing_ok=True)
        other = _holder(path)
        if other is not None and other != pid:  # another process took it over meanwhile
            raise _in_use(run_dir, other) from None
        return
    try:
        os.write(descriptor, content)
    finally:
        os.close(descriptor)


def _in_use(run_dir: Path, pid: int) -> UsageError:
    return UsageError(
        f"{run_dir} is in use by process {pid}; wait for it to end (or stop it) before resuming"
    )


def _holder(path: Path) -> int | None:
    """The pid the lock file holds; None when there is none or it cannot be read."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, ValueError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    except (OSError, OverflowError):  # no such process can exist
        return False
    return True
