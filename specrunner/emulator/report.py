"""The Run and Result objects Cekura returns, with realistic evaluation data.

Fields follow Cekura's OpenAPI description, read as its README says: counts are numbers,
`expected_outcome` is an object, a metric carries `score` or `enum`/`value` by its type,
and phone-number fields are null for WebRTC runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from specrunner.emulator.config import ScriptedOutcome
from specrunner.emulator.runs import Result, Run, Status

Iso = Callable[[float], str]

_TURNS = (
    ("Testing Agent", "Hi, I'm calling about {scenario}."),
    ("Main Agent", "Thanks for calling! I can help with that. Could you give me a few details?"),
    ("Testing Agent", "Sure. Here is what I need."),
    ("Main Agent", "Got it. Let me take care of that for you now."),
    ("Testing Agent", "Great, thank you."),
    ("Main Agent", "You're all set. Is there anything else?"),
    ("Testing Agent", "No, that's everything. Bye!"),
)


def mmss(seconds: float) -> str:
    whole = max(0, round(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


def run_json(run: Run, iso: Iso) -> dict[str, Any]:
    called = run.call_ended_at is not None
    data: dict[str, Any] = {
        "id": run.id,
        "provider_call_id": f"emu-call-{run.id}",
        "trace_id": f"{_trace(run):032x}",
        "scenario": run.scenario,
        "scenario_name": run.scenario_name,
        "scenario_type": "instruction",
        "personality": None,
        "personality_name": "Normal Female",
        "agent": run.agent,
        "agent_name": f"Agent {run.agent}",
        "result_id": run.result_id,
        "result_name": f"Result {run.result_id}",
        "expected_outcome_prompt": (
            f"The agent resolves the caller's request in {run.scenario_name}."
        ),
        "transcript": _transcript(run) if called else "",
        "transcript_object": _transcript_object(run) if called else [],
        "duration": mmss(run.duration if called else 0),
        "voice_recording_url": (
            f"https://recordings.specrunner-emulator.invalid/{run.id}.wav" if called else ""
        ),
        "email_id": None,
        "status": run.status.value,
        "metadata": {"ended_reason": run.ended_reason} if run.final else {},
        "success": run.success,
        "is_reviewed": False,
        "feedback": "",
        "timestamp": iso(run.created_at),
        "executed_at": iso(run.started_at) if run.started_at is not None else None,
        "outbound_number": None,
        "inbound_number": None,
        "critical_categories": [],
        "error_message": run.error_message,
        "scenario_instructions": "",
        "run_as_text": False,
        "test_profile_data": None,
        "generated_mock_tool_entries": [],
        "mocked_tool_names": [],
        "agent_number": None,
        "testing_channel_index": None,
        "run_type": "pipecat",
    }
    if run.status is Status.COMPLETED:
        data["evaluation_status"] = "success" if run.success else "failure"
        data["expected_outcome"] = expected_outcome(run)
        data["evaluation"] = {"metrics": metrics(run)}
    return data


def _trace(run: Run) -> int:
    return (run.id * 0x9E3779B97F4A7C15 + run.scenario) % (1 << 128)


def _transcript_object(run: Run) -> list[dict[str, Any]]:
    step = run.duration / len(_TURNS)
    return [
        {
            "role": role,
            "content": content,
            "timestamp": round(i * step, 2),
            "normalized_content": normalized,
            "comparison_spans": [],
        }
        for i, (role, content, normalized) in enumerate(_turns(run.scenario_name))
    ]


def _transcript(run: Run) -> str:
    return "\n".join(f"{role}: {content}" for role, content, _ in _turns(run.scenario_name))


@functools.lru_cache(maxsize=1024)
def _turns(scenario_name: str) -> tuple[tuple[str, str, str], ...]:
    """Each turn of a call of this scenario: who speaks, what, and that in lower case (the
    same for every run of a scenario, so made once)."""
    turns = []
    for role, text in _TURNS:
        content = text.format(scenario=scenario_name)
        turns.append((role, content, content.lower()))
    return tuple(turns)


def expected_outcome(run: Run) -> dict[str, Any]:
    passed = run.outcome is ScriptedOutcome.PASSED
    return {
        "score": 100 if passed else 50,
        "explanation": [
            "The agent understood the request and completed it."
            if passed
            else "The agent understood the request but did not complete it."
        ],
        "outcome_alignments": [
            {
                "outcome": "The request was understood",
                "prompt_part": "understands the request",
                "aligned": True,
            },
            {
                "outcome": "The request was completed" if passed else "The request was left open",
                "prompt_part": "resolves the request",
                "aligned": passed,
            },
        ],
    }


def metrics(run: Run) -> list[dict[str, Any]]:
    passed = run.outcome is ScriptedOutcome.PASSED
    latency = 600 + (run.id * 37) % 900
    return [
        {
            "id": 1,
            "name": "Expected Outcome",
            "type": "binary_workflow_adherence",
            "score": 100 if passed else 0,
            "explanation": [
                "The expected outcome was met." if passed else "The expected outcome was not met."
            ],
            "extra": {},
        },
        {
            "id": 2,
            "name": "Average Latency (ms)",
            "type": "numeric",
            "score": latency,
            "explanation": [f"Median response latency was {latency} ms."],
            "extra": {},
        },
        {
            "id": 3,
            "name": "Customer Sentiment",
            "type": "enum",
            "enum": "positive,neutral,negative",
            "value": "positive" if passed else "neutral",
            "explanation": ["The caller's tone at the end of the call."],
            "extra": {},
        },
    ]


def result_json(result: Result, runs: list[Run], iso: Iso) -> dict[str, Any]:
    final = [r for r in runs if r.final]
    completed = [r for r in runs if r.status is Status.COMPLETED]
    succeeded = [r for r in runs if r.success]
    infra = [r for r in runs if r.status in (Status.FAILED, Status.TIMEOUT)]
    if len(final) == len(runs):
        status = "failed" if infra else "completed"
    elif any(r.status is not Status.PENDING for r in runs):
        status = "running"
    else:
        status = "pending"
    met = [r for r in completed if r.outcome is ScriptedOutcome.PASSED]
    connected = [r.id for r in runs if r.started_at is not None]
    return {
        "id": result.id,
        "name": f"Result {result.id}",
        "agent": result.agent,
        "agent_name": f"Agent {result.agent}",
        "status": status,
        "success_rate": round(100 * len(succeeded) / len(runs), 2) if runs else 0,
        "met_expected_outcome_count": len(met),
        "total_expected_outcome_count": len(completed),
        "run_as_text": False,
        "is_cronjob": False,
        "runs": {str(r.id): _result_run(r, iso) for r in runs},
        "total_duration": mmss(sum(r.duration for r in runs if r.call_ended_at is not None)),
        "total_runs_count": len(runs),
        "completed_runs_count": len(final),
        "success_runs_count": len(succeeded),
        "failed_runs_count": len(final) - len(succeeded),
        "connected_runs": connected,
        "not_connected_runs": [r.id for r in runs if r.final and r.started_at is None],
        "failed_infrastructure_runs": [r.id for r in infra],
        "failed_workflow_runs": [r.id for r in completed if not r.success],
        "successful_calls": [r.id for r in succeeded],
        "scenarios": [
            {"id": s, "name": n}
            for s, n in dict.fromkeys((r.scenario, r.scenario_name) for r in runs)
        ],
        "run_type": "pipecat",
        "created_at": iso(result.created_at),
        "updated_at": iso(max([result.created_at, *(r.finished_at or 0 for r in runs)])),
    }


def _result_run(run: Run, iso: Iso) -> dict[str, Any]:
    full = run_json(run, iso)
    keys = (
        "id",
        "scenario",
        "outbound_number",
        "inbound_number",
        "expected_outcome",
        "success",
        "evaluation",
        "timestamp",
        "executed_at",
        "error_message",
        "status",
        "duration",
        "scenario_name",
        "personality_name",
        "metadata",
    )
    return {**{k: full[k] for k in keys if k in full}, "call_id": full["provider_call_id"]}
