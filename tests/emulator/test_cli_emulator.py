"""`specrunner emulator`: what it prints, the key and configuration it serves with, and how it
reports a bad configuration file or a port that is taken."""

from __future__ import annotations

import gc
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from specrunner.app import serve
from specrunner.cli import main
from specrunner.errors import UsageError

URL_LINE = re.compile(r"^specrunner emulator listening on (http://127\.0\.0\.1:(\d+))$")
RUN = "/test_framework/v1/scenarios/run_scenarios_pipecat/"
BULK = "/test_framework/v2/runs/bulk/"


def base_url(lines: list[str]) -> str:
    found = URL_LINE.match(lines[0])
    assert found, lines
    return found.group(1)


class Probe:
    """A `wait` for run_emulator: make real requests to the printed URL, then return."""

    def __init__(self, lines: list[str], requests: Callable[[httpx.Client], Any]) -> None:
        self.lines = lines
        self.requests = requests
        self.answer: Any = None
        self.url: str | None = None

    def __call__(self) -> None:
        self.url = base_url(self.lines)
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            self.answer = self.requests(client)


def serve_once(
    requests: Callable[[httpx.Client], Any],
    *,
    api_key: str | None = None,
    config_path: str | None = None,
) -> tuple[int, list[str], list[str], Probe]:
    out: list[str] = []
    err: list[str] = []
    probe = Probe(out, requests)
    code = serve.run_emulator("127.0.0.1", 0, api_key, config_path, out.append, err.append, probe)
    return code, out, err, probe


def bulk_status(key: str) -> Callable[[httpx.Client], int]:
    def request(client: httpx.Client) -> int:
        response = client.get(BULK, params={"run_ids": "1"}, headers={"X-CEKURA-API-KEY": key})
        return response.status_code

    return request


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_it_prints_the_base_url_and_the_exports_and_serves_there() -> None:
    def requests(client: httpx.Client) -> tuple[int, dict[str, Any]]:
        health = client.get("/_emulator/health")
        room = client.post("/v1/rooms", json={"name": "cli"}, headers={"Authorization": "Bearer d"})
        assert room.status_code == 200
        return health.status_code, client.get("/_emulator/ledger").json()

    code, out, err, probe = serve_once(requests)
    assert code == 0
    assert err == []
    url = base_url(out)
    assert probe.url == url
    assert int(url.rsplit(":", 1)[1]) > 0
    status, ledger = probe.answer
    assert status == 200
    assert [r["endpoint"] for r in ledger["requests"]] == ["daily.create_room"]
    exports = dict(
        line.strip().removeprefix("export ").split("=", 1)
        for line in out
        if line.strip().startswith("export ")
    )
    assert exports == {
        "CEKURA_API_URL": url,
        "CEKURA_API_KEY": "specrunner-emulator-key",
        "PIPECAT_API_HOST": url,
        "DAILY_API_URL": f"{url}/v1",
        "PIPECAT_CLOUD_API_KEY": "pk_emulator",
        "PIPECAT_CLOUD_PRIVATE_KEY": "sk_emulator",
        "DAILY_API_KEY": "daily_emulator",
        "BOT_START_URL": f"{url}/bot/start",
    }
    assert any(line.startswith(f"Ledger: {url}/_emulator/ledger") for line in out)
    with pytest.raises(httpx.ConnectError):  # stopped once `wait` returned
        httpx.get(f"{url}/_emulator/health", timeout=2.0)


def test_the_default_key_is_accepted_and_a_wrong_one_is_not() -> None:
    code, _, _, probe = serve_once(
        lambda c: (bulk_status("specrunner-emulator-key")(c), bulk_status("other")(c))
    )
    assert code == 0
    assert probe.answer == (200, 401)


def test_api_key_changes_the_accepted_cekura_key() -> None:
    code, out, _, probe = serve_once(
        lambda c: (bulk_status("sk-mine")(c), bulk_status("specrunner-emulator-key")(c)),
        api_key="sk-mine",
    )
    assert code == 0
    assert probe.answer == (200, 401)
    assert "  export CEKURA_API_KEY=sk-mine" in out


def test_a_good_config_file_is_served(tmp_path: Path) -> None:
    path = tmp_path / "emu.yaml"
    path.write_text(
        "cekura:\n  api_key: from-file\n  unknown_scenarios: [5]\n"
        "daily:\n  domain: team-x\n  rooms: [{name: lab}]\n",
        encoding="utf-8",
    )

    def requests(client: httpx.Client) -> tuple[int, int, dict[str, Any]]:
        body = {"scenarios": [{"scenario": 5, "pipecat_room_url": "https://team-x.daily.co/lab"}]}
        refused = client.post(RUN, json=body, headers={"X-CEKURA-API-KEY": "from-file"})
        overridden = client.post(RUN, json=body, headers={"X-CEKURA-API-KEY": "flag"})
        room = client.get("/v1/rooms/lab", headers={"Authorization": "Bearer d"}).json()
        return refused.status_code, overridden.status_code, room

    code, _, _, probe = serve_once(requests, config_path=str(path))
    assert code == 0
    refused, _, room = probe.answer
    assert refused == 400
    assert room["url"] == "https://team-x.daily.co/lab"
    # --api-key wins over the file's key
    code, _, _, probe = serve_once(requests, api_key="flag", config_path=str(path))
    assert probe.answer[:2] == (401, 400)


def test_ctrl_c_stops_it_cleanly() -> None:
    out: list[str] = []

    def interrupt() -> None:
        raise KeyboardInterrupt

    code = serve.run_emulator("127.0.0.1", 0, None, None, out.append, out.append, interrupt)
    assert code == 0
    assert out[-1] == "stopped"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url(out)}/_emulator/health", timeout=2.0)


def test_the_cli_passes_its_options_to_the_emulator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    original = serve.run_emulator
    seen: dict[str, Any] = {}

    def bounded(*args: Any) -> int:
        host, port, api_key, config_path, out, err = args
        seen.update(host=host, port=port, api_key=api_key, config_path=config_path)
        lines: list[str] = []

        def echo(line: str) -> None:
            lines.append(line)
            out(line)

        def wait() -> None:
            with httpx.Client(base_url=base_url(lines), timeout=5.0) as client:
                seen["statuses"] = (bulk_status("cli-key")(client), bulk_status("x")(client))

        return original(host, port, api_key, config_path, echo, err, wait)

    monkeypatch.setattr(serve, "run_emulator", bounded)
    result = CliRunner().invoke(
        main, ["emulator", "--port", "0", "--api-key", "cli-key"], prog_name="specrunner"
    )
    assert result.exit_code == 0, result.output
    assert seen == {
        "host": "127.0.0.1",
        "port": 0,
        "api_key": "cli-key",
        "config_path": None,
        "statuses": (200, 401),
    }
    assert URL_LINE.match(result.stdout.splitlines()[0])
    assert "export CEKURA_API_KEY=cli-key" in result.stdout


def test_a_bad_config_file_exits_2_with_located_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "cekura:\n  api_kye: x\nfaults:\n  - endpoint: cekura.runs\n    status: 500\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["emulator", "--port", "0", "--config", str(bad)], prog_name="specrunner"
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{bad}:2:3: unknown key 'api_kye' in cekura; did you mean 'api_key'?"
    assert lines[1:5] == ["  |", "2 |   api_kye: x", "  |   ^", ""]  # the file's own line
    assert lines[5].startswith(f"{bad}:4:15: faults[0].endpoint: ")
    assert lines[-1] == f"2 errors in {bad}"
    assert "Traceback" not in result.output


def test_a_missing_config_file_exits_2(tmp_path: Path) -> None:
    absent = tmp_path / "absent.yaml"
    result = CliRunner().invoke(
        main, ["emulator", "--port", "0", "--config", str(absent)], prog_name="specrunner"
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == f"{absent}:1:1: no such file"


def test_a_port_in_use_is_a_clear_exit_2(
    taken_port: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["emulator", "--port", str(taken_port)], prog_name="specrunner"
    )
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"specrunner: error: emulator: cannot listen on 127.0.0.1:{taken_port}")
    assert "in use" in line
    assert "Traceback" not in result.output
    assert not (tmp_path / ".specrunner").exists()  # no crash report
    gc.collect()  # a socket the failed start left open would warn here (warnings are errors)


def test_run_emulator_raises_a_usage_error_for_a_port_in_use(taken_port: int) -> None:
    out: list[str] = []
    with pytest.raises(UsageError) as caught:
        serve.run_emulator(
            "127.0.0.1", taken_port, None, None, out.append, out.append, lambda: None
        )
    message = str(caught.value)
    del caught
    gc.collect()  # a socket the failed start left open would warn here (warnings are errors)
    assert message == (f"emulator: cannot listen on 127.0.0.1:{taken_port}: Address already in use")
    assert out == []


def test_an_out_of_range_port_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["emulator", "--port", "70000"], prog_name="specrunner")
    assert result.exit_code == 2
    assert "--port" in result.stderr


def test_a_compressed_clock_is_noted_on_stderr(tmp_path: Path) -> None:
    path = tmp_path / "emu.yaml"
    path.write_text("time_scale: 10\n", encoding="utf-8")
    code, _, err, _ = serve_once(lambda client: None, config_path=str(path))
    assert code == 0
    assert any(line.startswith("note: ") and "10" in line for line in err), err
    code, _, err, _ = serve_once(lambda client: None)
    assert not any(line.startswith("note: ") for line in err), err
