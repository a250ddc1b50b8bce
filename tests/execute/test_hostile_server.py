"""`specrunner run` against a hostile Cekura (tests/execute/hostile_cekura.py): odd types in
Run objects and in the submission's answer, a body that trickles in a byte every 2 s, a
100 MB body, escape sequences and bidi overrides in a 401's `detail` and in run fields, a
key echoed back, redirects.

The real CLI runs in a subprocess per case, with a static room pool (no room service) and
`-o` reports of every format. Whatever the server does, the run must end within
`CASE_SECONDS`, never with exit 4 (an internal error) or a traceback; must not print a raw
escape (ESC) or a bidi override (U+202E) to the terminal or into the Markdown and JUnit
reports; must write results.json and every requested report whenever runs were sent; and
must never show the API key anywhere.

All cases run at once (a module fixture starts them and waits for all), so the module
takes about as long as its slowest case, not the sum of them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from hostile_cekura import (
    RESULT_ID,
    Answers,
    HostileCekura,
    Seen,
    fixed,
    huge,
    per_run,
    redirect,
    run_id,
    trickle,
)

API_KEY = "ck-hostile-5f3e9a7c21d4"
CASE_SECONDS = 60.0
HUGE = 100 * 2**20
REPORTS = ("out.json", "out.html", "out.md", "out.xml")
SHOWN_RAW = ("out.md", "out.xml")
"""Reports read as text in a terminal or a CI page: no raw escapes or bidi overrides."""
DETAIL = "\x1b]0;pwned\x07\x1b[2J\u202eyek IPA dab"
"""Sets the terminal's title, clears the screen, and reverses what follows."""

SUITE = {
    "version": 1,
    "name": "hostile",
    "rooms": {
        "lab": {
            "source": "static",
            "rooms": [
                {"url": "https://acme.daily.co/lab-1"},
                {"url": "https://acme.daily.co/lab-2"},
            ],
        }
    },
    "defaults": {"timeout": "20s", "publish_data_message": {"run_key": "{{ run.key }}"}},
    "scenarios": [{"id": 30, "name": "order"}, {"id": 31, "name": "refund"}],
}
RUNS = (run_id(30), run_id(31))
FAIR_ANSWER = json.dumps(
    {"id": RESULT_ID, "runs": [{"id": run_id(s), "scenario": s} for s in (30, 31)]}
)


def odd_run(i: int) -> str:
    """Beside each run, an object whose id is a list; the first run's status is a list, the
    second's fields are of every odd type, NaN and infinities included (JSON with NaN)."""
    unmatched = f'{{"id": [{i}], "status": ["completed"], "success": true}}'
    if i == RUNS[0]:
        return (
            f'{unmatched}, {{"id": {i}, "status": ["completed"], "success": NaN, '
            f'"explanation": 42, "duration": "1:2:nan"}}'
        )
    return (
        f'{unmatched}, {{"id": {i}, "status": "completed", "success": true, "explanation": 3.5, '
        '"duration": "1:2:nan", "expected_outcome": {"score": NaN, "explanation": 12}, '
        '"evaluation": {"metrics": [{"name": NaN, "score": Infinity}, '
        '{"name": "m", "type": ["x"], "score": NaN, "explanation": {"a": NaN}}]}, '
        '"transcript": 7, "voice_recording_url": -Infinity, "error_message": null}'
    )


def escaped_run(i: int) -> str:
    """A run failed with escapes in its error; a run completed but not passed, with escapes
    and bidi overrides in its transcript, explanation, metric and recording URL."""
    if i == RUNS[0]:
        return json.dumps({"id": i, "status": "failed", "error_message": f"{DETAIL} boom"})
    return json.dumps(
        {
            "id": i,
            "status": "completed",
            "success": False,
            "duration": "01:05",
            "transcript": f"Testing Agent: hi {DETAIL}\nMain Agent: \x1b[31mred\x1b[0m",
            "expected_outcome": {"score": 10, "explanation": [DETAIL, "\u202eesrever"]},
            "evaluation": {
                "metrics": [
                    {
                        "name": f"\x1b[2J{DETAIL}",
                        "type": "binary",
                        "score": 0,
                        "explanation": [DETAIL],
                    }
                ]
            },
            "voice_recording_url": f"https://rec.example/{DETAIL}.wav",
        }
    )


CASES: dict[str, Answers] = {
    "odd types in Run objects": Answers(poll=per_run(odd_run)),
    "odd types in the submission answer": Answers(
        submit=fixed(
            '{"id": [7], "status": NaN, "runs": [{"id": NaN, "scenario": "30"}, '
            '{"id": [1031], "scenario": {"id": 31}}]}'
        )
    ),
    "a submission answer a byte every 2 s": Answers(
        submit=trickle((FAIR_ANSWER + " " * 200).encode())
    ),
    "a poll answer a byte every 2 s": Answers(poll=trickle(b"[" + b" " * 300 + b"]")),
    "a 100 MB transcript in a chunked poll answer": Answers(
        poll=huge(
            f'[{{"id": {RUNS[0]}, "status": "completed", "success": true, "transcript": "'.encode(),
            HUGE,
            f'"}}, {{"id": {RUNS[1]}, "status": "completed", "success": true}}]'.encode(),
            chunked=True,
        )
    ),
    "a 100 MB submission answer, Content-Length given": Answers(
        submit=huge((FAIR_ANSWER[:-1] + ', "note": "').encode(), HUGE, b'"}')
    ),
    "escapes in a 401 detail": Answers(submit=fixed(json.dumps({"detail": DETAIL}), 401)),
    "escapes in run fields": Answers(poll=per_run(escaped_run)),
    "the API key echoed in a 401": Answers(
        submit=fixed(json.dumps({"detail": f"Invalid API key {API_KEY}", "key": API_KEY}), 401)
    ),
    "a 302 to the submission": Answers(submit=redirect(lambda request: str(request.url))),
    "a 302 to the poll": Answers(poll=redirect(lambda request: str(request.url))),
}


@dataclass(frozen=True, slots=True)
class Finished:
    case: str
    code: int | None
    """None when it did not exit within CASE_SECONDS (it was killed)."""
    out: str
    err: str
    seconds: float
    peak_bytes: int
    folder: Path
    seen: Seen

    def __repr__(self) -> str:
        code = "killed" if self.code is None else f"exit {self.code}"
        requests = ", ".join(f"{m} {p}" for m, p in self.seen.requests[:6])
        return (
            f"{self.case}: {code} after {self.seconds:.1f} s, peak memory "
            f"{self.peak_bytes / 2**20:.0f} MiB; requests: {requests or 'none'}"
            f"\n--- stdout\n{self.out[-1500:]!r}\n--- stderr\n{self.err[-1500:]!r}"
        )


def _environment(url: str) -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(CEKURA_API_URL=url, CEKURA_API_KEY=API_KEY)
    return env


def _command() -> list[str]:
    script = Path(sys.executable).with_name("specrunner")
    program = [str(script)] if script.exists() else [sys.executable, "-m", "specrunner"]
    outputs = [part for name in REPORTS for part in ("-o", name)]
    return [*program, "run", "suite.yaml", "--poll-interval", "0.2", *outputs]


def _selected(request: pytest.FixtureRequest) -> list[str]:
    """The cases of this module that this session runs (all, or those -k picked)."""
    names = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None:
            names.append(callspec.params["case"])
    return list(dict.fromkeys(names)) or list(CASES)


@pytest.fixture(scope="module")
def finished(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Finished]:
    """Every selected case run to its end (or killed after CASE_SECONDS), all at once."""
    names = _selected(request)
    results: dict[str, Finished] = {}
    with HostileCekura({name: CASES[name] for name in names}) as server:
        running = []
        for name in names:
            folder = tmp_path_factory.mktemp("hostile")
            (folder / "suite.yaml").write_text(yaml.safe_dump(SUITE, sort_keys=False))
            out, err = (folder / "stdout.txt").open("wb"), (folder / "stderr.txt").open("wb")
            process = subprocess.Popen(
                _command(), cwd=folder, env=_environment(server.url(name)), stdout=out, stderr=err
            )
            out.close()
            err.close()
            running.append((name, folder, process, time.monotonic()))
        while len(results) < len(running):
            for name, folder, process, began in running:
                if name in results:
                    continue
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                elapsed = time.monotonic() - began
                if pid:
                    process.returncode = code = os.waitstatus_to_exitcode(status)
                    results[name] = Finished(
                        name,
                        None if elapsed > CASE_SECONDS else code,
                        (folder / "stdout.txt").read_text(errors="replace"),
                        (folder / "stderr.txt").read_text(errors="replace"),
                        elapsed,
                        usage.ru_maxrss * 1024,
                        folder,
                        server.seen[name],
                    )
                elif elapsed > CASE_SECONDS:
                    process.kill()
            time.sleep(0.05)
    return results


def problems(done: Finished) -> list[str]:
    found = []
    if done.code is None:
        found.append(f"no exit within {CASE_SECONDS:.0f} s (killed)")
    elif done.code not in (0, 1, 2, 3):
        found.append(f"exit code {done.code}")
    if "Traceback" in done.out + done.err:
        found.append("a traceback in the output")
    shown = {"stdout": done.out, "stderr": done.err}
    for name in SHOWN_RAW:
        path = done.folder / name
        if path.exists():
            shown[name] = path.read_text(errors="replace")
    for where, text in shown.items():
        if "\x1b" in text:
            found.append(f"a raw ESC in {where}")
        if "\u202e" in text:
            found.append(f"a raw U+202E in {where}")
    if done.seen.submissions:
        results = list(done.folder.glob(".specrunner/runs/*/results.json"))
        if not results:
            found.append("runs were sent, but no results.json was written")
        missing = [name for name in REPORTS if not (done.folder / name).exists()]
        if missing:
            found.append(f"runs were sent, but these reports are missing: {', '.join(missing)}")
    outputs = {"stdout": done.out, "stderr": done.err}
    for path in done.folder.rglob("*"):
        if path.is_file() and path.name not in ("stdout.txt", "stderr.txt", "suite.yaml"):
            outputs[str(path.relative_to(done.folder))] = path.read_text(errors="replace")
    found += [
        f"the API key is shown in {where}" for where, text in outputs.items() if API_KEY in text
    ]
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_cekura_never_breaks_a_run(case: str, finished: dict[str, Finished]) -> None:
    done = finished[case]
    found = problems(done)
    assert not found, f"{'; '.join(found)}\n{done!r}"


def test_the_hostile_json_really_holds_nan() -> None:
    # The odd answers are JSON as Python reads it (NaN and infinities), not text that any
    # JSON reader would refuse before specrunner looks at the values.
    values = json.loads("[" + odd_run(RUNS[1]) + "]")
    assert values[0]["id"] == [RUNS[1]]
    assert math.isnan(values[1]["expected_outcome"]["score"])
    assert values[1]["voice_recording_url"] == -math.inf
