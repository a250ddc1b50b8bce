"""The run directory: the plan's fingerprint in the start record, the checks of
`--resume` against it, and the lock that keeps one process per run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import compile_dict, write_suite
from specrunner.app import run_dir
from specrunner.app.planning import PlanRequest, plan
from specrunner.errors import UsageError
from specrunner.execute.journal_records import JOURNAL, JournalError
from specrunner.execute.replay import read_records
from specrunner.models import Plan

SECRET = "s3cret-token-value"


def suite(**changes: Any) -> dict[str, Any]:
    """A suite with two room sources and two scenarios, one of them repeated; `changes`
    replace its top-level keys."""
    base: dict[str, Any] = {
        "version": 1,
        "name": "fp",
        "agent": 7,
        "rooms": {
            "lab": {
                "source": "static",
                "rooms": [{"url": "https://acme.daily.co/a"}, {"url": "https://acme.daily.co/b"}],
            },
            "other": {"source": "static", "url": "https://acme.daily.co/c"},
        },
        "defaults": {"room": "lab", "timeout": "5m"},
        "scenarios": [
            {
                "id": 30,
                "name": "hello",
                "repeat": 2,
                "publish_data_message": {"lang": "en", "token": "{{ env.TOKEN }}"},
            },
            {"id": 31, "name": "bye", "expect": {"min_passes": 1}},
        ],
    }
    base.update(changes)
    return base


def scenario(index: int, **changes: Any) -> dict[str, Any]:
    scenarios = [dict(s) for s in suite()["scenarios"]]
    scenarios[index].update(changes)
    return suite(scenarios=scenarios)


def fingerprint_of(data: dict[str, Any], token: str = SECRET, **env: str) -> dict[str, str]:
    return run_dir.fingerprint(compile_dict(data, environ={"TOKEN": token, **env}))


def changed(data: dict[str, Any], **env: str) -> set[str]:
    before, after = fingerprint_of(suite()), fingerprint_of(data, **env)
    assert before.keys() == after.keys() == set(run_dir.PARTS)
    return {part for part in before if before[part] != after[part]}


# -- the fingerprint


def test_the_fingerprint_has_a_short_digest_for_each_part() -> None:
    digests = fingerprint_of(suite())
    assert list(digests) == list(run_dir.PARTS)
    assert all(len(d) == 16 and int(d, 16) >= 0 for d in digests.values())
    assert fingerprint_of(suite()) == digests  # the same plan, the same fingerprint


@pytest.mark.parametrize(
    ("data", "parts"),
    [
        (suite(agent=8), {"agent"}),
        (suite(description="now described"), set()),
        (scenario(1, id=32), {"scenarios", "expectations"}),
        (scenario(1, timeout="6m"), {"scenarios"}),
        (suite(defaults={"room": "lab", "timeout": "6m"}), {"scenarios"}),
        (scenario(1, room="other"), {"rooms"}),
        (
            suite(
                rooms={
                    **suite()["rooms"],
                    "lab": {**suite()["rooms"]["lab"], "concurrency": 1},
                }
            ),
            {"rooms"},
        ),
        (
            suite(rooms={**suite()["rooms"], "lab": {"source": "static", "url": "https://x/y"}}),
            {"rooms"},  # one room now: its capacity changed
        ),
        (
            suite(rooms={**suite()["rooms"], "spare": {"source": "static", "url": "https://x/z"}}),
            set(),  # a room source no run uses decides nothing
        ),
        (
            scenario(0, publish_data_message={"lang": "fr", "token": "{{ env.TOKEN }}"}),
            {"payloads"},
        ),
        (scenario(1, expect={"min_passes": 0}), {"expectations"}),
        (scenario(1, expect={"pass_rate": 0.5}), {"expectations"}),
    ],
)
def test_each_part_changes_when_it_should_and_only_then(
    data: dict[str, Any], parts: set[str]
) -> None:
    assert changed(data) == parts


def test_a_changed_repeat_count_changes_the_expectations() -> None:
    before = run_dir.fingerprint_parts(compile_dict(suite(), environ={"TOKEN": SECRET}))
    after = run_dir.fingerprint_parts(
        compile_dict(scenario(0, repeat=3), environ={"TOKEN": SECRET})
    )
    assert [e["repeat"] for e in before["expectations"]] == [2, 1]
    assert [e["repeat"] for e in after["expectations"]] == [3, 1]


def test_secrets_are_never_hashed() -> None:
    data = suite(agent="{{ env.AGENT }}")
    data["scenarios"][1]["id"] = "{{ env.SCENARIO }}"
    the_plan = compile_dict(data, environ={"TOKEN": SECRET, "AGENT": "41", "SCENARIO": "977"})
    hashed = json.dumps(run_dir.fingerprint_parts(the_plan))
    for secret in (SECRET, "41", "977"):
        assert secret not in hashed
    assert "***" in hashed
    other = compile_dict(data, environ={"TOKEN": "another-value", "AGENT": "42", "SCENARIO": "9"})
    assert run_dir.fingerprint(other) == run_dir.fingerprint(the_plan)


def test_the_digests_are_those_earlier_versions_wrote_in_their_journals() -> None:
    """A run started by an earlier specrunner resumes only while its digests stay the same:
    these are the ones its journal holds for this plan (secrets, a timeout of its own)."""
    data = suite(agent="{{ env.AGENT }}")
    data["scenarios"][1]["id"] = "{{ env.SCENARIO }}"
    data["scenarios"][0]["timeout"] = "90s"
    assert fingerprint_of(data, AGENT="41", SCENARIO="977") == {
        "agent": "8bdd898772190c35",
        "scenarios": "25704538dcdcc134",
        "rooms": "8fec0789f04a4c85",
        "payloads": "e2789591b1a398bc",
        "expectations": "2b276cbc4842b134",
    }


def test_the_payload_part_hashes_the_shown_payload() -> None:
    the_plan = compile_dict(suite(), environ={"TOKEN": SECRET})
    payloads = run_dir.fingerprint_parts(the_plan)["payloads"]
    assert payloads == {run.key: run.shown_payload for run in the_plan.runs}
    assert all(payloads[run.key]["token"] == "***" for run in the_plan.runs[:2])


# -- the start record and --resume


def started(tmp_path: Path, data: dict[str, Any], **env: str) -> tuple[Path, Plan, Path]:
    path = write_suite(tmp_path, json.dumps(data))
    request = PlanRequest(str(path))
    the_plan = plan(request, environ={"TOKEN": SECRET, **env})
    made = run_dir.create(tmp_path, request, the_plan, "2026-01-01T00:00:00Z")
    return path, the_plan, made


def test_the_start_record_holds_the_fingerprint_and_resume_reads_it(tmp_path: Path) -> None:
    _, the_plan, made = started(tmp_path, suite())
    (start,) = read_records(made / JOURNAL)
    assert start["fingerprint"] == run_dir.fingerprint(the_plan)
    assert SECRET not in (made / JOURNAL).read_text()
    resumed = run_dir.resume(str(made))
    assert resumed.fingerprint == run_dir.fingerprint(the_plan)
    run_dir.check_resume(resumed, the_plan, str(made))  # the same plan: fine


def test_resume_refuses_a_suite_whose_parts_changed_naming_them(tmp_path: Path) -> None:
    path, _, made = started(tmp_path, suite())
    changed_suite = scenario(0, publish_data_message={"lang": "fr"})
    changed_suite["scenarios"][1]["room"] = "other"
    path.write_text(json.dumps(changed_suite))
    resumed = run_dir.resume(str(made))
    with pytest.raises(UsageError) as caught:
        run_dir.check_resume(resumed, plan(resumed.request, environ={}), "DIR")
    assert str(caught.value) == (
        "--resume DIR: the suite changed since that run started (its payloads and rooms "
        "differ); resume it with the suite as it was, or start a new run"
    )


def test_resume_names_a_single_changed_part(tmp_path: Path) -> None:
    path, _, made = started(tmp_path, suite())
    path.write_text(json.dumps(suite(agent=9)))
    resumed = run_dir.resume(str(made))
    with pytest.raises(UsageError, match=r"\(its agent differs\)"):
        run_dir.check_resume(resumed, plan(resumed.request, environ={"TOKEN": "x"}), "DIR")


def test_resume_refuses_changed_keys_as_before(tmp_path: Path) -> None:
    path, _, made = started(tmp_path, suite())
    path.write_text(json.dumps(scenario(0, repeat=3)))
    resumed = run_dir.resume(str(made))
    with pytest.raises(UsageError) as caught:
        run_dir.check_resume(resumed, plan(resumed.request, environ={"TOKEN": "x"}), "DIR")
    assert str(caught.value) == (
        "--resume DIR: the suite or its selection changed since that run started; "
        "its plan no longer matches the journal"
    )


def test_a_journal_without_a_fingerprint_is_checked_by_keys_only(tmp_path: Path) -> None:
    path, _, made = started(tmp_path, suite())
    lines = (made / JOURNAL).read_text().splitlines()
    start = json.loads(lines[0])
    del start["fingerprint"]
    (made / JOURNAL).write_text(json.dumps(start) + "\n")
    path.write_text(json.dumps(suite(agent=9)))
    resumed = run_dir.resume(str(made))
    assert resumed.fingerprint is None
    run_dir.check_resume(resumed, plan(resumed.request, environ={"TOKEN": "x"}), "DIR")


def test_parts_only_one_side_knows_are_not_compared(tmp_path: Path) -> None:
    _, the_plan, made = started(tmp_path, suite())
    resumed = run_dir.resume(str(made))
    assert resumed.fingerprint is not None
    older = {k: v for k, v in resumed.fingerprint.items() if k != "rooms"}
    newer = {**resumed.fingerprint, "clients": "0123456789abcdef"}
    for digests in (older, newer):
        run_dir.check_resume(
            run_dir.Resumed(made, resumed.request, resumed.keys, None, digests), the_plan, "D"
        )


def test_a_damaged_journal_is_reported_as_itself(tmp_path: Path) -> None:
    _, _, made = started(tmp_path, suite())
    with (made / JOURNAL).open("a") as file:
        file.write("{oops\n")
        file.write('{"type":"released","key":"x"}\n')
    with pytest.raises(JournalError, match=r"journal\.jsonl:2: not JSON"):
        run_dir.resume(str(made))


def test_a_start_record_that_is_not_a_request_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / JOURNAL).write_text(
        json.dumps({"type": "start", "keys": [], "request": {"suite": "x"}}) + "\n"
    )
    with pytest.raises(UsageError, match="the journal cannot be read"):
        run_dir.resume(str(tmp_path))


# -- the lock


def dead_pid() -> int:
    """The pid of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    return child.pid


def test_the_lock_holds_this_pid_and_is_released(tmp_path: Path) -> None:
    with run_dir.lock(tmp_path):
        assert (tmp_path / "lock").read_text().strip() == str(os.getpid())
    assert not (tmp_path / "lock").exists()


def test_a_lock_held_by_a_live_process_is_refused(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "lock").write_text(f"{holder.pid}\n")
        with pytest.raises(UsageError) as caught, run_dir.lock(tmp_path):
            pass
        assert str(caught.value) == (
            f"{tmp_path} is in use by process {holder.pid}; wait for it to end "
            "(or stop it) before resuming"
        )
        assert (tmp_path / "lock").read_text() == f"{holder.pid}\n"  # left alone
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_a_lock_held_in_this_process_is_refused(tmp_path: Path) -> None:
    with run_dir.lock(tmp_path):
        refused = pytest.raises(UsageError, match=f"in use by process {os.getpid()}")
        with refused, run_dir.lock(tmp_path):
            pass
        assert (tmp_path / "lock").exists()  # the refused attempt did not release it
    assert not (tmp_path / "lock").exists()


@pytest.mark.parametrize(
    "content", ["{dead}\n", "", "not a pid\n", "0\n", "-1\n", "9" * 30, "{own}\n"]
)
def test_a_stale_or_unreadable_lock_is_taken_over(tmp_path: Path, content: str) -> None:
    # `{own}`: a lock left with this process's pid (a container's pid, after a restart)
    # that this process does not hold.
    (tmp_path / "lock").write_text(content.format(dead=dead_pid(), own=os.getpid()))
    with run_dir.lock(tmp_path):
        assert (tmp_path / "lock").read_text() == f"{os.getpid()}\n"
    assert not (tmp_path / "lock").exists()
    assert list(tmp_path.iterdir()) == []  # no spare file left behind


def test_a_lock_taken_over_meanwhile_is_not_removed(tmp_path: Path) -> None:
    with run_dir.lock(tmp_path):
        (tmp_path / "lock").write_text("12345\n")  # another process took it over
    assert (tmp_path / "lock").read_text() == "12345\n"


def test_the_lock_is_released_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), run_dir.lock(tmp_path):
        raise RuntimeError("boom")
    assert not (tmp_path / "lock").exists()
