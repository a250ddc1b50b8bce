"""Cekura's API: run_scenarios_pipecat, bulk runs, results and end calls, as Cekura answers."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from random import Random
from typing import Any

from specrunner.emulator.config import EmulatorConfig, ReplyOrder
from specrunner.emulator.ledger import Ledger, LedgerRun
from specrunner.emulator.replies import Incoming, Reply, has_body, ok
from specrunner.emulator.report import result_json, run_json
from specrunner.emulator.runs import Simulation

NOT_FOUND = Reply(404, {"detail": "Not found."})
_NULL = "This field may not be null."
_INTEGER = re.compile(r"^\s*-?[0-9]+\s*$")
NO_CREDENTIALS = Reply(401, {"detail": "Authentication credentials were not provided."})
BAD_KEY = Reply(401, {"detail": "Invalid API key."})


@dataclass(slots=True)
class Cekura:
    config: EmulatorConfig
    ledger: Ledger
    simulation: Simulation
    iso: Callable[[float], str]

    def authenticate(self, request: Incoming) -> Reply | None:
        key = request.headers.get("x-cekura-api-key")
        if not key:
            return NO_CREDENTIALS
        if key != self.config.api_key:
            return BAD_KEY
        return None

    def run_pipecat(self, request: Incoming, request_seq: int, now: float) -> Reply:
        try:
            body = request.json()
        except ValueError as exc:
            return Reply(400, {"non_field_errors": [f"JSON parse error - {exc}"]})
        if not has_body(body):
            body = {}  # an empty body reads as an empty object, as in Django REST framework
        if not isinstance(body, dict):
            kind = "list" if isinstance(body, list) else type(body).__name__
            return Reply(
                400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
            )
        errors = _validate(body)
        if errors:
            return Reply(400, errors)
        entries: list[dict[str, Any]] = [
            {**entry, "scenario": int(entry["scenario"])} for entry in body["scenarios"]
        ]
        unknown = sorted({e["scenario"] for e in entries} & self.config.unknown_scenarios)
        if unknown:
            message = self.config.unknown_scenario_message.replace("{ids}", str(unknown))
            return Reply(400, {"scenarios": [message]})
        agent = int(body["agent"]) if body.get("agent") is not None else None
        if agent is None:
            first = self.config.behaviour(entries[0]["scenario"])
            agent = first.agent or self.config.agent
        result = self.simulation.new_result(agent, now)
        created = []
        for index, entry in enumerate(entries):
            run = self.simulation.new_run(
                result,
                entry["scenario"],
                entry["pipecat_room_url"],
                entry.get("pipecat_token"),
                entry.get("publish_data_message"),
                now,
            )
            self.ledger.runs.append(
                LedgerRun(
                    run_id=run.id,
                    result_id=result.id,
                    request_seq=request_seq,
                    entry=index,
                    scenario=run.scenario,
                    pipecat_room_url=run.room_url,
                    pipecat_token=run.token,
                    publish_data_message=run.payload,
                    agent=agent,
                )
            )
            created.append(
                {
                    "id": run.id,
                    "status": "pending",
                    "scenario": run.scenario,
                    "number": None,
                    "inbound_number": None,
                    "scenario_name": run.scenario_name,
                    "test_profile_data": None,
                    "outbound_dial_window_opens_at": None,
                    "outbound_dial_window_seconds": None,
                    "outbound_dial_window_closes_at": None,
                }
            )
        self.simulation.seal(result)
        return ok(
            {
                "id": result.id,
                "agent": agent,
                "status": "pending",
                "run_as_text": False,
                "runs": self._ordered(created, result.id),
                "created_at": self.iso(now),
            }
        )

    def _ordered(self, runs: list[dict[str, Any]], result_id: int) -> list[dict[str, Any]]:
        """The runs of a POST's answer in the configured `reply_order`."""
        order = self.config.reply_order
        if order is ReplyOrder.REVERSED:
            return runs[::-1]
        if order is ReplyOrder.SHUFFLED:
            shuffled = list(runs)
            Random(f"reply-order:{self.config.seed}:{result_id}").shuffle(shuffled)
            return shuffled
        return runs

    def bulk(self, request: Incoming, now: float) -> Reply:
        raw = request.query.get("run_ids")
        name = "run_ids"
        if raw is None and "ids" in request.query:  # what Cekura's own SDK sends
            raw, name = request.query["ids"], "ids"
        if raw is None:
            return Reply(400, {"run_ids": ["This query parameter is required."]})
        text = raw.strip()
        if text.startswith("["):
            return Reply(
                400,
                {name: ["Must be a plain comma-separated string of run IDs, not a JSON array."]},
            )
        try:
            ids = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            return Reply(400, {name: ["Each run ID must be an integer, as in 1,2,3."]})
        self.simulation.advance(now)
        runs = self.simulation.runs
        return ok([run_json(runs[i], self.iso) for i in ids if i in runs])

    def result(self, result_id: int, now: float) -> Reply:
        result = self.simulation.results.get(result_id)
        if result is None:
            return NOT_FOUND
        self.simulation.advance(now)
        runs = [self.simulation.runs[i] for i in result.run_ids]
        return ok(result_json(result, runs, self.iso))

    def end_calls(self, result_id: int, now: float) -> Reply:
        result = self.simulation.results.get(result_id)
        if result is None:
            return NOT_FOUND
        self.simulation.advance(now)
        for run_id in result.run_ids:
            self.simulation.cancel(self.simulation.runs[run_id], now)
        return ok()

    def end_call(self, run_id: int, now: float) -> Reply:
        run = self.simulation.runs.get(run_id)
        if run is None:
            return NOT_FOUND
        self.simulation.advance(now)
        self.simulation.cancel(run, now)
        return ok()


def _validate(body: dict[str, Any]) -> dict[str, Any]:
    """Errors as Django REST framework reports them: field -> messages."""
    errors: dict[str, Any] = {}
    if "agent" in body and body["agent"] is not None and not _is_int(body["agent"]):
        errors["agent"] = ["A valid integer is required."]
    tools = body.get("mock_tool_names")
    if tools is not None and not (
        isinstance(tools, list) and all(isinstance(t, str) for t in tools)
    ):
        errors["mock_tool_names"] = ["Expected a list of strings."]
    scenarios = body.get("scenarios")
    if "scenarios" not in body:
        errors["scenarios"] = ["This field is required."]
    elif scenarios is None:
        errors["scenarios"] = [_NULL]
    elif not isinstance(scenarios, list):
        errors["scenarios"] = [f'Expected a list of items but got type "{_type(scenarios)}".']
    elif not scenarios:
        errors["scenarios"] = ["This list may not be empty."]
    else:
        # The documented shape is field -> list of messages: an entry's problems are
        # flattened into messages that say which entry and which key.
        messages = [
            f"Item {index}: {key}: {message}"
            for index, entry in enumerate(scenarios)
            for key, problems in _validate_entry(entry).items()
            for message in problems
        ]
        if messages:
            errors["scenarios"] = messages
    return errors


def _validate_entry(entry: Any) -> dict[str, list[str]]:
    if not isinstance(entry, dict):
        return {
            "non_field_errors": [f"Invalid data. Expected a dictionary, but got {_type(entry)}."]
        }
    problems: dict[str, list[str]] = {}
    if "scenario" not in entry:
        problems["scenario"] = ["This field is required."]
    elif entry["scenario"] is None:
        problems["scenario"] = [_NULL]
    elif not _is_int(entry["scenario"]):
        problems["scenario"] = ["A valid integer is required."]
    url = entry.get("pipecat_room_url")
    if "pipecat_room_url" not in entry:
        problems["pipecat_room_url"] = ["This field is required."]
    elif url is None:
        problems["pipecat_room_url"] = [_NULL]
    elif not isinstance(url, str) or not url.strip():
        problems["pipecat_room_url"] = [
            "This field may not be blank." if isinstance(url, str) else "Not a valid string."
        ]
    if "pipecat_token" in entry and not isinstance(entry["pipecat_token"], str):
        problems["pipecat_token"] = [
            _NULL if entry["pipecat_token"] is None else "Not a valid string."
        ]
    return problems


def _is_int(value: Any) -> bool:
    """An integer, or a string of digits (Django REST framework's IntegerField takes both)."""
    if isinstance(value, str):
        return _INTEGER.match(value) is not None
    return isinstance(value, int) and not isinstance(value, bool)


def _type(value: Any) -> str:
    return {list: "list", dict: "dict", str: "str", int: "int", float: "float", bool: "bool"}.get(
        type(value), type(value).__name__
    )


def iso_clock(wall_start: float) -> Callable[[float], str]:
    def iso(now: float) -> str:
        moment = datetime.datetime.fromtimestamp(wall_start + now, datetime.UTC)
        return moment.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"

    return iso
