"""The console output of `specrunner run` piped (not a terminal), as CI logs show it,
pinned by a golden file: the real CLI in a subprocess, against the in-process emulator
with a fixed configuration (seed, outcomes, a compressed clock), so every outcome, reason
and count is the same each time.

Normalised before the comparison, and only this, since it varies from run to run:

- the times: `<T> elapsed` and `about <T> left` in the progress lines;
- the run directory's time and random id: `checkout-smoke-<TIME>-<ID>`;
- the progress lines between the first and the last: how many there are depends on how
  fast the machine goes (a line at each change, at most one every 5 s, at least one
  every 10 s). They are checked here instead: each is a well-formed progress line and
  the runs done never go down.

stderr and stdout are pinned apart (progress and notes go to stderr, the verdict and the
files written to stdout): two pipes have no order between them.

To regenerate the golden file from the current behaviour, run

    SPECRUNNER_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/app/test_run_console.py

and review the diff by eye.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "run" / "smoke-piped.txt"
UPDATE = os.environ.get("SPECRUNNER_UPDATE_GOLDEN") == "1"

EMULATOR = """\
seed: 11
time_scale: 10
cekura:
  defaults: {duration: 0.5}
  scenarios:
    "30": {outcome: passed}
    "31": {outcome: failed}
    "32": {outcome: error}
"""

TIME = r"\d+(?:s|m\d\ds|h\d\dm)"
PROGRESS = re.compile(
    rf"(?P<done>\d+)/6 done: \d+ passed(?:, \d+ failed)?(?:, \d+ errors?)?(?:, \d+ unknown)?"
    rf"(?:, \d+ not run)?; \d+ live in Cekura, \d+ in flight; {TIME} elapsed"
    rf"(?:, (?:estimating time left|about {TIME} left))?"
)
RUN_DIR = re.compile(r"checkout-smoke-\d{8}T\d{6}Z-[0-9a-f]+")


def run_piped(cwd: Path) -> subprocess.CompletedProcess[str]:
    shutil.copytree(ROOT / "specs", cwd / "specs")
    (cwd / "emulator.yaml").write_text(EMULATOR)
    # No CI or service variables of the machine the tests run on.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CEKURA", "PIPECAT", "DAILY", "GITHUB", "SPECRUNNER"))
    }
    command = [sys.executable, "-m", "specrunner", "run", "specs/smoke.yaml"]
    command += ["--emulator-config", "emulator.yaml", "-o", "report.html", "-o", "report.md"]
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def normalised_stderr(stderr: str) -> str:
    lines = stderr.splitlines()
    progress = [i for i, line in enumerate(lines) if PROGRESS.fullmatch(line)]
    assert len(progress) >= 2, stderr
    done = [int(m["done"]) for i in progress if (m := PROGRESS.fullmatch(lines[i]))]
    assert done == sorted(done), f"the runs done went down: {done}"
    first, last = progress[0], progress[-1]
    between = [line for line in lines[first + 1 : last] if not PROGRESS.fullmatch(line)]
    kept = [*lines[: first + 1], *between, lines[last], *lines[last + 1 :]]
    return "\n".join(_times(line) for line in kept)


def _times(line: str) -> str:
    line = re.sub(rf"\b{TIME} elapsed", "<T> elapsed", line)
    return re.sub(rf"about {TIME} left", "about <T> left", line)


def test_a_piped_run_prints_plain_progress_the_verdict_and_each_file_it_wrote(
    tmp_path: Path,
) -> None:
    done = run_piped(tmp_path)
    got = (
        f"# exit: {done.returncode}\n"
        f"--- stderr ---\n{normalised_stderr(done.stderr)}\n"
        f"--- stdout ---\n{RUN_DIR.sub('checkout-smoke-<TIME>-<ID>', done.stdout)}"
    )
    if UPDATE:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()
    # Every file it says it wrote is there.
    written = re.findall(r"^wrote (.+)$", done.stdout, flags=re.MULTILINE)
    assert len(written) == 3
    assert all((tmp_path / path).is_file() for path in written), written
    # Piped: no cursor movement, no colour, nothing but lines.
    assert "\x1b" not in done.stderr + done.stdout
    assert "\r" not in done.stderr + done.stdout
