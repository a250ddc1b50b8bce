"""Contract tests: the emulator's answers, checked against the services' official descriptions.

Cekura's and Pipecat Cloud's OpenAPI descriptions are third-party documents: they are read
from ../shared/reference/ next to the repository and never copied into it. Without them the
tests skip, except under CI=true, where they fail.

Every request goes over real loopback TCP (httpx) to an in-process emulator whose clock is a
ManualClock, so runs move through their states without waiting. Every JSON body is validated
against the schema of that response in the description, with `$ref`s resolved through a
`referencing.Registry` (JSON Schema 2020-12; Pipecat Cloud's OpenAPI 3.0 `nullable` is
translated first). The only changes made to Cekura's schemas are the README's three notes on
its generated description, applied field by field in `relax_generated_artifacts`. Daily has
no OpenAPI description here: its answers are checked against hand-written schemas of the
shapes in external-apis.md section 7.
"""

from __future__ import annotations

import copy
import datetime
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import httpx
import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from specrunner.emulator import (
    Behaviour,
    Emulator,
    EmulatorConfig,
    Fault,
    ManualClock,
    ScriptedOutcome,
    StaticRoom,
)

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
CEKURA_FILE = "cekura-openapi-subset.json"
PIPECAT_FILE = "pipecat-cloud-openapi-subset.json"

DOMAIN = "specrunner-emulator"  # the emulator's default Daily domain


def room_url(name: str) -> str:
    return f"https://{DOMAIN}.daily.co/{name}"


# --------------------------------------------------------------------------------------
# Formats: jsonschema's own checkers, plus RFC 3339 date-time (its checker needs an
# optional package that is not installed).

FORMATS = FormatChecker()
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})")


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _RFC3339.fullmatch(value):
        return False
    datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    return True


# --------------------------------------------------------------------------------------
# The descriptions


def _reference_dir() -> Path:
    missing = [name for name in (CEKURA_FILE, PIPECAT_FILE) if not (REFERENCE / name).is_file()]
    if missing:
        reason = (
            f"the official API descriptions are not in {REFERENCE} (missing: "
            f"{', '.join(missing)}); they are third-party documents kept next to the "
            "repository in ../shared/reference/, never copied into it"
        )
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true, and {reason}", pytrace=False)
        pytest.skip(reason)
    return REFERENCE


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _at(doc: Any, pointer: str) -> Any:
    """The node at a JSON pointer, or None when there is none."""
    node = doc
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node


@dataclass(frozen=True)
class Contract:
    """One description, registered so that any of its schemas can be validated against."""

    name: str
    doc: dict[str, Any]
    uri: str
    registry: Registry

    @classmethod
    def build(cls, name: str, doc: dict[str, Any]) -> Contract:
        uri = f"urn:specrunner-contract:{name}"
        resource = Resource.from_contents(doc, default_specification=DRAFT202012)
        return cls(name, doc, uri, Registry().with_resource(uri, resource))

    def operation(self, path: str, method: str) -> dict[str, Any]:
        item = self.doc["paths"].get(path)
        assert item is not None, f"{self.name}: the description has no path {path}"
        assert method in item, f"{self.name}: the description has no {method.upper()} {path}"
        return item[method]

    def url_path(self, path: str) -> str:
        """The request path for a described path: its server's path, then the template."""
        servers = self.doc["paths"][path].get("servers") or self.doc["servers"]
        return urlparse(servers[0]["url"]).path.rstrip("/") + path

    def response(self, path: str, method: str, status: int) -> tuple[dict[str, Any], str] | None:
        """The described response object and its pointer; None when it is not described
        (or its `$ref` points outside this subset of the description)."""
        self.operation(path, method)
        pointer = f"/paths/{_escape(path)}/{method}/responses/{status}"
        response = _at(self.doc, pointer)
        if isinstance(response, dict) and "$ref" in response:
            pointer = response["$ref"].removeprefix("#")
            response = _at(self.doc, pointer)
        return (response, pointer) if isinstance(response, dict) else None

    def validator(self, pointer: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{self.uri}#{quote(pointer)}"},
            registry=self.registry,
            format_checker=FORMATS,
        )

    def schema(self, name: str) -> Draft202012Validator:
        assert name in self.doc["components"]["schemas"], f"{self.name}: no schema {name}"
        return self.validator(f"/components/schemas/{_escape(name)}")

    def enum(self, schema: str, prop: str) -> list[str]:
        values = self.doc["components"]["schemas"][schema]["properties"][prop]["enum"]
        assert isinstance(values, list) and values
        return values


def _object_schemas(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object with `properties` anywhere under `node`."""
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            yield node
        for value in node.values():
            yield from _object_schemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _object_schemas(value)


# The README: "computed read-only fields are typed "string" whatever they really hold".
# Only the fields below are widened, each to "string" OR the type its description, its
# example or external-apis.md gives; every other field must hold exactly what is written.
_RUN_IDS = {"type": "array", "items": {"type": "integer"}}
STRING_ARTIFACTS: dict[tuple[str, str], dict[str, Any]] = {
    # "Number of ..." fields, integers in the operation's example.
    **{
        ("ResultDetailV2", name): {"type": "integer", "minimum": 0}
        for name in (
            "met_expected_outcome_count",
            "total_expected_outcome_count",
            "total_runs_count",
            "completed_runs_count",
            "success_runs_count",
            "failed_runs_count",
        )
    },
    # "List of run IDs ..."; the two metric-based lists are "null if metric not found".
    ("ResultDetailV2", "connected_runs"): _RUN_IDS,
    ("ResultDetailV2", "not_connected_runs"): _RUN_IDS,
    ("ResultDetailV2", "successful_calls"): _RUN_IDS,
    ("ResultDetailV2", "failed_infrastructure_runs"): {**_RUN_IDS, "type": ["array", "null"]},
    ("ResultDetailV2", "failed_workflow_runs"): {**_RUN_IDS, "type": ["array", "null"]},
    # "Whether ..." (a boolean in the example).
    ("ResultDetailV2", "is_cronjob"): {"type": "boolean"},
    # Examples in the descriptions: [{id, name}], arrays and objects.
    ("ResultDetailV2", "scenarios"): {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"id": {"type": ["integer", "null"]}, "name": {"type": "string"}},
            "required": ["id", "name"],
        },
    },
    ("ResultDetailV2", "critical_categories"): {"type": "array"},
    ("ResultDetailV2", "metrics"): {"type": "array"},
    ("ResultDetailV2", "performance_metrics"): {"type": "array"},
    ("ResultDetailV2", "runs_by_tags"): {"type": "object"},
    ("ResultDetailV2", "latency_data"): {"type": "object"},
    ("ResultDetailV2", "agent_version"): {"type": "object"},
    # The README: "a run's expected_outcome is an object with score, explanation and
    # outcome_alignments", i.e. the description's own ExpectedOutcome schema.
    ("Run", "expected_outcome"): {"$ref": "#/components/schemas/ExpectedOutcome"},
}

# The README: "phone-number fields are null for WebRTC runs".
PHONE_FIELDS = ("number", "inbound_number", "outbound_number", "agent_number")

# The README: "metric fields described as "present if ..." are listed as required though
# they are conditional".
_PRESENT_IF = re.compile(r"\bpresent if\b", re.IGNORECASE)


def relax_generated_artifacts(original: dict[str, Any]) -> dict[str, Any]:
    """Cekura's description with the README's three notes applied, and nothing else.

    1. Each read-only field of STRING_ARTIFACTS, typed "string", may also hold the type
       it really holds (`anyOf` of the field as written and that type).
    2. A property whose description says "Present if ..." is dropped from `required`
       (its type still holds when it is present).
    3. A phone-number field (PHONE_FIELDS) typed "string" may also be null.

    Each step asserts that the artifact it corrects is really in the description, so a
    newer description that fixes one makes this test say so instead of hiding it.
    """
    doc = copy.deepcopy(original)
    schemas = doc["components"]["schemas"]
    for (schema, name), real in STRING_ARTIFACTS.items():
        prop = schemas[schema]["properties"].get(name)
        assert prop is not None, f"{schema}.{name} is no longer in the description"
        assert prop.get("readOnly") is True, f"{schema}.{name} is not read-only"
        assert prop.get("type") == "string", f"{schema}.{name} is not typed string"
        schemas[schema]["properties"][name] = {"anyOf": [prop, real]}

    conditional = 0
    for node in _object_schemas(doc):
        required = node.get("required")
        if not isinstance(required, list):
            continue
        for name, prop in node["properties"].items():
            if name in required and _PRESENT_IF.search(str(prop.get("description", ""))):
                required.remove(name)
                conditional += 1
    assert conditional == 3, f"expected score/enum/value as 'Present if' fields: {conditional}"

    phones = 0
    for node in _object_schemas(doc):
        for name in PHONE_FIELDS:
            prop = node["properties"].get(name)
            if isinstance(prop, dict) and prop.get("type") == "string":
                prop["type"] = ["string", "null"]
                phones += 1
    assert phones >= 3, "the phone-number fields typed 'string' were not found"
    return doc


def openapi30_nullable(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: "null" joins the type (and enum)."""
    if isinstance(node, list):
        return [openapi30_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: openapi30_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@pytest.fixture(scope="module")
def cekura() -> Contract:
    doc = json.loads((_reference_dir() / CEKURA_FILE).read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.1"), "Cekura's description is expected as OpenAPI 3.1"
    return Contract.build("cekura", relax_generated_artifacts(doc))


@pytest.fixture(scope="module")
def pipecat() -> Contract:
    doc = json.loads((_reference_dir() / PIPECAT_FILE).read_text(encoding="utf-8"))
    assert doc["openapi"].startswith("3.0"), "Pipecat Cloud's description is OpenAPI 3.0"
    return Contract.build("pipecat", openapi30_nullable(doc))


# --------------------------------------------------------------------------------------
# Checking answers


def _request_line(response: httpx.Response) -> str:
    request = response.request
    body = request.content[:300].decode("utf-8", "replace") if request.content else ""
    return f"{request.method} {request.url.raw_path.decode()} {body}".rstrip()


def _where(path: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def check_json(validator: Draft202012Validator, response: httpx.Response, what: str) -> Any:
    """The response's JSON body, after checking its content type and its schema."""
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert content_type == "application/json", (
        f"{_request_line(response)} -> {response.status_code}: content type "
        f"{content_type!r}, expected application/json"
    )
    body = response.json()
    errors = sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        listed = "\n".join(f"  {_where(e.absolute_path)}: {e.message[:300]}" for e in errors[:12])
        pytest.fail(
            f"{_request_line(response)} -> {response.status_code}: the body does not match "
            f"{what}:\n{listed}\nbody: {json.dumps(body)[:1500]}",
            pytrace=False,
        )
    return body


def check_described(contract: Contract, path: str, method: str, response: httpx.Response) -> Any:
    """Check a response against the response the description gives for its status."""
    described = contract.response(path, method, response.status_code)
    assert described is not None, (
        f"{_request_line(response)} -> {response.status_code}: {contract.name}'s description "
        f"gives no {response.status_code} response for {method.upper()} {path}; "
        f"body: {response.text[:500]}"
    )
    obj, pointer = described
    content = obj.get("content")
    if content is None:  # "No response body"
        assert response.content == b"", (
            f"{_request_line(response)} -> {response.status_code}: the description says "
            f"'{obj.get('description')}', the emulator sent {response.text[:300]!r}"
        )
        return None
    assert "application/json" in content
    schema = f"{pointer}/content/application~1json/schema"
    return check_json(
        contract.validator(schema),
        response,
        f"{contract.name} {method.upper()} {path} {response.status_code}",
    )


def field_errors_validator(cekura: Contract) -> Draft202012Validator:
    """The description's 400 body, `{"field_name": [string]}`, read as Django REST framework
    writes it: `field_name` stands for any field, and each field maps to its messages."""
    described = cekura.response(RUN_PATHS[0], "post", 400)
    assert described is not None
    schema = described[0]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"field_name"}
    return Draft202012Validator(
        {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": schema["properties"]["field_name"],
        },
        format_checker=FORMATS,
    )


def detail_validator(cekura: Contract) -> Draft202012Validator:
    """The description's error body `{"detail": string}` (its 404s), with `detail` required."""
    described = cekura.response(RESULT_PATHS[0], "get", 404)
    assert described is not None
    schema = copy.deepcopy(described[0]["content"]["application/json"]["schema"])
    return Draft202012Validator({**schema, "required": ["detail"]}, format_checker=FORMATS)


# --------------------------------------------------------------------------------------
# The emulator


@contextmanager
def running(config: EmulatorConfig) -> Iterator[tuple[Emulator, ManualClock, httpx.Client]]:
    clock = ManualClock()
    with (
        Emulator(config, clock=clock) as emu,
        httpx.Client(base_url=emu.base_url, timeout=10.0, trust_env=False) as client,
    ):
        assert urlparse(emu.base_url).hostname == "127.0.0.1"
        yield emu, clock, client


def cekura_headers(emu: Emulator) -> dict[str, str]:
    return {"X-CEKURA-API-KEY": emu.environment()["CEKURA_API_KEY"]}


RUN_PATHS = (
    "/test_framework/v1/scenarios-external/run_scenarios_pipecat/",
    "/test_framework/v1/scenarios/run_scenarios_pipecat/",
    "/test_framework/v2/scenarios/run_scenarios_pipecat/",
)
BULK_PATHS = ("/test_framework/v2/runs/bulk/", "/test_framework/v1/runs/bulk/")
RESULT_PATHS = ("/test_framework/v2/results/{id}/", "/test_framework/v1/results/{id}/")
END_CALLS = "/test_framework/v2/results/{id}/end_calls/"
END_CALL = "/test_framework/v2/runs/{id}/end_call/"

FINAL = {"completed", "failed", "timeout", "cancelled"}
PASS, FAIL, ERROR, TIMEOUT, LONG = 1, 2, 3, 4, 5

CEKURA_CONFIG = EmulatorConfig(
    reply_order="in_order",  # the contract tests pin the order of answers
    queue_seconds=0.1,
    evaluation_seconds=0.3,
    daily_rooms=tuple(StaticRoom(f"lab{i}") for i in range(1, 9)),
    scenarios={
        PASS: Behaviour(name="passes", outcome=ScriptedOutcome.PASSED, duration=(0.5, 0.5)),
        FAIL: Behaviour(
            name="fails its evaluation", outcome=ScriptedOutcome.FAILED, duration=(0.5, 0.5)
        ),
        ERROR: Behaviour(name="call error", outcome=ScriptedOutcome.ERROR, duration=(0.5, 0.5)),
        TIMEOUT: Behaviour(name="times out", outcome=ScriptedOutcome.TIMEOUT, duration=(0.5, 0.5)),
        LONG: Behaviour(name="long call", outcome=ScriptedOutcome.PASSED, duration=(600.0, 600.0)),
    },
    unknown_scenarios=frozenset({404}),
)


def _with_slash(path: str, slash: bool) -> str:
    return path if slash else path.rstrip("/")


# --------------------------------------------------------------------------------------
# Cekura: run_scenarios_pipecat


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
@pytest.mark.parametrize("path", RUN_PATHS, ids=["v1-external", "v1", "v2"])
def test_run_pipecat_200_matches_description(cekura: Contract, path: str, slash: bool) -> None:
    request = {
        "agent": 12,
        "scenarios": [
            {"scenario": PASS, "pipecat_room_url": room_url("lab1"), "pipecat_token": "tok"},
            {"scenario": FAIL, "pipecat_room_url": room_url("lab2"), "publish_data_message": {}},
            {"scenario": PASS, "pipecat_room_url": room_url("lab3")},
        ],
        "mock_tool_names": None,
    }
    request_schema = cekura.operation(path, "post")["requestBody"]["content"]["application/json"]
    assert request_schema["schema"] == {
        "$ref": "#/components/schemas/SchemaPostRunScenariosPipecat"
    }
    assert cekura.schema("SchemaPostRunScenariosPipecat").is_valid(request)

    with running(CEKURA_CONFIG) as (emu, _, client):
        response = client.post(_with_slash(path, slash), json=request, headers=cekura_headers(emu))
        assert response.status_code == 200, response.text
        body = check_described(cekura, path, "post", response)

    schema = cekura.operation(path, "post")["responses"]["200"]["content"]["application/json"]
    described = schema["schema"]["properties"]
    assert body["status"] in described["status"]["enum"]
    assert body["status"] in ("pending", "running"), "a new result is pending (or running)"
    run_statuses = described["runs"]["items"]["properties"]["status"]["enum"]
    assert all(run["status"] in run_statuses for run in body["runs"])
    assert [run["status"] for run in body["runs"]] == ["pending"] * 3
    assert [run["scenario"] for run in body["runs"]] == [PASS, FAIL, PASS]
    assert len({run["id"] for run in body["runs"]}) == 3
    assert body["agent"] == 12
    assert [r.run_id for r in emu.ledger.runs] == [run["id"] for run in body["runs"]]


@dataclass(frozen=True)
class BadRun:
    body: bytes
    note: str = ""


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()


_ENTRY = {"scenario": PASS, "pipecat_room_url": room_url("lab1")}
BAD_RUNS = {
    "missing-scenarios": BadRun(_json({"agent": 1})),
    "scenarios-not-a-list": BadRun(_json({"scenarios": "1,2"})),
    "scenarios-empty": BadRun(_json({"scenarios": []})),
    "agent-not-an-integer": BadRun(_json({"agent": "twelve", "scenarios": [_ENTRY]})),
    "mock-tool-names-not-strings": BadRun(_json({"scenarios": [_ENTRY], "mock_tool_names": [1]})),
    "unknown-scenario": BadRun(_json({"scenarios": [{**_ENTRY, "scenario": 404}]})),
    "agent-of-unicode-digits": BadRun(
        _json({"agent": "\u00b2", "scenarios": [_ENTRY]}),
        "'\u00b2' passes str.isdigit() but is no integer",
    ),
    "body-is-a-list": BadRun(_json([_ENTRY])),
    "empty-body": BadRun(b""),
    "invalid-entries": BadRun(
        _json({"scenarios": [_ENTRY, {"scenario": "x"}]}),
        "per-entry errors must still be field -> [messages]",
    ),
    "not-json": BadRun(b"{not json", "a parse error must still be field -> [messages]"),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_run_pipecat_400_is_field_to_messages(cekura: Contract, case: str) -> None:
    """Each rejected body, on every path form with and without the slash, answers 400 with
    the description's `{field: [messages]}` body."""
    bad = BAD_RUNS[case]
    validator = field_errors_validator(cekura)
    with running(CEKURA_CONFIG) as (emu, _, client):
        headers = {**cekura_headers(emu), "Content-Type": "application/json"}
        for path in RUN_PATHS:
            for slash in (True, False):
                response = client.post(_with_slash(path, slash), content=bad.body, headers=headers)
                assert response.status_code == 400, f"{_request_line(response)}: {response.text}"
                check_described(cekura, path, "post", response)  # the literal schema
                check_json(validator, response, f"{{field: [messages]}} ({bad.note or case})")
        assert emu.ledger.runs == []


# --------------------------------------------------------------------------------------
# Cekura: runs through every status, seen by runs/bulk and results/{id}

# label: (scenario, room, final status, success). "room-busy" asks for lab1 while
# "passes" holds it; "bad-room" names a room that does not exist.
LIFECYCLE = {
    "passes": (PASS, "lab1", "completed", True),
    "room-busy": (PASS, "lab1", "failed", False),
    "fails-evaluation": (FAIL, "lab2", "completed", False),
    "call-error": (ERROR, "lab3", "failed", False),
    "times-out": (TIMEOUT, "lab4", "timeout", False),
    "bad-room": (PASS, "no-such-room", "failed", False),
    "cancelled": (LONG, "lab5", "cancelled", False),
}
STEP = 0.1
MAX_STEPS = 80


@dataclass
class Lifecycle:
    run_ids: dict[str, int] = field(default_factory=dict)
    result_ids: dict[str, int] = field(default_factory=dict)
    posts: list[httpx.Response] = field(default_factory=list)
    bulk: dict[str, list[httpx.Response]] = field(default_factory=dict)
    results: dict[str, list[httpx.Response]] = field(default_factory=dict)
    end_call: httpx.Response | None = None


@pytest.fixture(scope="module")
def lifecycle(cekura: Contract) -> Lifecycle:
    """Runs of every kind, one account slot (so runs wait `in_queue`), observed every
    0.1 s of emulator time through both bulk endpoints and both result endpoints."""
    seen = Lifecycle(bulk={p: [] for p in BULK_PATHS}, results={p: [] for p in RESULT_PATHS})
    config = replace(CEKURA_CONFIG, max_concurrent_runs=1)
    with running(config) as (emu, clock, client):
        headers = cekura_headers(emu)
        for label, (scenario, room, _, _) in LIFECYCLE.items():
            response = client.post(
                RUN_PATHS[2],
                json={"scenarios": [{"scenario": scenario, "pipecat_room_url": room_url(room)}]},
                headers=headers,
            )
            assert response.status_code == 200, response.text
            seen.posts.append(response)
            seen.result_ids[label] = response.json()["id"]
            seen.run_ids[label] = response.json()["runs"][0]["id"]
        ids = ",".join(str(i) for i in seen.run_ids.values())
        for _ in range(MAX_STEPS):
            for path in BULK_PATHS:
                seen.bulk[path].append(client.get(path, params={"run_ids": ids}, headers=headers))
            for path in RESULT_PATHS:
                for result_id in seen.result_ids.values():
                    response = client.get(path.format(id=result_id), headers=headers)
                    seen.results[path].append(response)
            status = {run["id"]: run["status"] for run in seen.bulk[BULK_PATHS[0]][-1].json()}
            if set(status.values()) <= FINAL:
                break
            if status[seen.run_ids["cancelled"]] == "running" and seen.end_call is None:
                seen.end_call = client.post(
                    END_CALL.format(id=seen.run_ids["cancelled"]), headers=headers
                )
                continue
            clock.advance(STEP)
        else:
            pytest.fail(f"the runs were not final after {MAX_STEPS * STEP} s: {status}")
    return seen


def _check_run_enums(cekura: Contract, run: dict[str, Any], where: str) -> None:
    """The enums the description defines, checked one by one (beside the schema)."""
    assert run["status"] in cekura.enum("Run", "status"), f"{where}: status {run['status']!r}"
    if "evaluation_status" in run:
        allowed = cekura.enum("Run", "evaluation_status")
        assert run["evaluation_status"] in allowed, f"{where}: {run['evaluation_status']!r}"


@pytest.mark.parametrize("path", BULK_PATHS, ids=["v2", "v1"])
def test_bulk_runs_match_run_schema_in_every_status(
    cekura: Contract, lifecycle: Lifecycle, path: str
) -> None:
    statuses: set[str] = set()
    completed_success: set[bool] = set()
    evaluations: set[str] = set()
    for response in lifecycle.bulk[path]:
        assert response.status_code == 200, response.text
        runs = check_described(cekura, path, "get", response)
        assert sorted(run["id"] for run in runs) == sorted(lifecycle.run_ids.values())
        for run in runs:
            _check_run_enums(cekura, run, _request_line(response))
            statuses.add(run["status"])
            if run["status"] == "completed":
                completed_success.add(run["success"])
                evaluations.add(run["evaluation_status"])
    expected = {"pending", "in_queue", "running", "evaluating", *FINAL}
    assert statuses >= expected, f"never seen: {sorted(expected - statuses)}"
    assert completed_success == {True, False}
    assert evaluations == {"success", "failure"}

    final = {run["id"]: run for run in lifecycle.bulk[path][-1].json()}
    for label, (_, _, status, success) in LIFECYCLE.items():
        run = final[lifecycle.run_ids[label]]
        assert (run["status"], run["success"]) == (status, success), label
        if status in ("failed", "timeout"):
            assert run["error_message"], f"{label}: a failed run says why"


@pytest.mark.parametrize("path", RESULT_PATHS, ids=["v2", "v1"])
def test_result_matches_result_schema_in_every_status(
    cekura: Contract, lifecycle: Lifecycle, path: str
) -> None:
    run_validator = cekura.schema("Run")
    statuses: set[str] = set()
    for response in lifecycle.results[path]:
        assert response.status_code == 200, response.text
        result = check_described(cekura, path, "get", response)
        assert result["status"] in cekura.enum("ResultDetailV2", "status")
        statuses.add(result["status"])
        # `runs` is typed as any object; its description says "Run objects keyed by run
        # ID string", so each is also checked against the description's Run schema.
        assert all(key == str(run["id"]) for key, run in result["runs"].items())
        for key, run in result["runs"].items():
            errors = [
                f"{_where(e.absolute_path)}: {e.message}" for e in run_validator.iter_errors(run)
            ]
            assert not errors, f"{_request_line(response)} runs[{key}]: {errors}"
            _check_run_enums(cekura, run, f"{_request_line(response)} runs[{key}]")
    assert statuses >= {"pending", "running", "completed", "failed"}, sorted(statuses)


def test_run_pipecat_responses_of_the_lifecycle(cekura: Contract, lifecycle: Lifecycle) -> None:
    for response in lifecycle.posts:
        check_described(cekura, RUN_PATHS[2], "post", response)


def test_end_call_of_a_running_run_answers_no_body(cekura: Contract, lifecycle: Lifecycle) -> None:
    assert lifecycle.end_call is not None, "the long run was never seen running"
    assert lifecycle.end_call.status_code == 200
    check_described(cekura, END_CALL, "post", lifecycle.end_call)


@pytest.mark.parametrize("slash", [True, False], ids=["slash", "no-slash"])
def test_end_calls_and_end_call(cekura: Contract, slash: bool) -> None:
    with running(CEKURA_CONFIG) as (emu, clock, client):
        headers = cekura_headers(emu)
        entries = [{"scenario": LONG, "pipecat_room_url": room_url(f"lab{i}")} for i in (1, 2)]
        created = client.post(RUN_PATHS[2], json={"scenarios": entries}, headers=headers).json()
        run_ids = [run["id"] for run in created["runs"]]
        clock.advance(0.5)

        def post(template: str, ident: int) -> httpx.Response:
            return client.post(_with_slash(template.format(id=ident), slash), headers=headers)

        for template, ident in ((END_CALL, run_ids[0]), (END_CALLS, created["id"])):
            response = post(template, ident)
            assert response.status_code == 200, response.text
            check_described(cekura, template, "post", response)
        bulk = client.get(
            BULK_PATHS[0], params={"run_ids": ",".join(map(str, run_ids))}, headers=headers
        )
        assert [run["status"] for run in check_described(cekura, BULK_PATHS[0], "get", bulk)] == [
            "cancelled",
            "cancelled",
        ]
        for template in (END_CALL, END_CALLS):
            response = post(template, 987654)
            assert response.status_code == 404, response.text
            body = check_described(cekura, template, "post", response)
            check_json(detail_validator(cekura), response, '{"detail": string}')
            assert isinstance(body["detail"], str)


@pytest.mark.parametrize("path", RESULT_PATHS, ids=["v2", "v1"])
def test_result_404(cekura: Contract, path: str) -> None:
    with running(CEKURA_CONFIG) as (emu, _, client):
        response = client.get(path.format(id=987654), headers=cekura_headers(emu))
        assert response.status_code == 404
        check_described(cekura, path, "get", response)
        check_json(detail_validator(cekura), response, '{"detail": string}')


@pytest.mark.parametrize("path", BULK_PATHS, ids=["v2", "v1"])
def test_bulk_edge_cases(cekura: Contract, path: str) -> None:
    """Unknown IDs are left out (200 []); the 400s the description mentions for the query
    ("passing a JSON array returns a 400 error") have no schema of their own there, so
    they are held to the description's field-errors shape."""
    parameter = cekura.operation(path, "get")["parameters"][0]
    assert (parameter["name"], parameter["required"]) == ("run_ids", True)
    with running(CEKURA_CONFIG) as (emu, _, client):
        headers = cekura_headers(emu)
        unknown = client.get(path, params={"run_ids": "987654,987655"}, headers=headers)
        assert check_described(cekura, path, "get", unknown) == []
        for params in ({}, {"run_ids": "[1,2]"}, {"run_ids": "1,two"}):
            response = client.get(path, params=params, headers=headers)
            assert response.status_code == 400, f"{params}: {response.text}"
            check_json(field_errors_validator(cekura), response, "{field: [messages]}")


@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["no-key", "wrong-key"])
def test_cekura_401_bodies(cekura: Contract, key: str | None) -> None:
    """The description documents no 401 for these endpoints; external-apis.md section 1
    assumes Django REST framework's `{"detail": string}`, the shape of its 404s."""
    headers = {} if key is None else {"X-CEKURA-API-KEY": key}
    requests = [
        ("POST", RUN_PATHS[2], {"scenarios": [_ENTRY]}),
        ("GET", BULK_PATHS[0] + "?run_ids=1", None),
        ("GET", RESULT_PATHS[0].format(id=1), None),
        ("POST", END_CALLS.format(id=1), None),
        ("POST", END_CALL.format(id=1), None),
    ]
    with running(CEKURA_CONFIG) as (emu, _, client):
        for method, url, body in requests:
            response = client.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, f"{method} {url}: {response.status_code}"
            check_json(detail_validator(cekura), response, '{"detail": string}')
        assert emu.ledger.runs == []


# --------------------------------------------------------------------------------------
# Pipecat Cloud

START = "/{agentName}/start"
STOP = "/agents/{agentName}/sessions/{sessionId}"
PUBLIC_KEY, PRIVATE_KEY, DAILY_KEY = "pk_contract", "sk_contract", "dk_contract"
PIPECAT_CONFIG = EmulatorConfig(
    pipecat_agents={"bot": 1, "roomy": 10},
    pipecat_keys=frozenset({PUBLIC_KEY}),
    pipecat_private_keys=frozenset({PRIVATE_KEY}),
    daily_keys=frozenset({DAILY_KEY}),
)

# external-apis.md section 6.1 (S8 active-sessions): the documented body of the 429 a
# start gets when the agent's pool is at capacity. It has `message`, not `error`, so it
# is not the description's ErrorResponse, and the description does not list a 429.
CAPACITY_429 = {
    "type": "object",
    "properties": {
        "status": {"const": 429},
        "code": {"const": "429"},
        "message": {"type": "string", "minLength": 1},
    },
    "required": ["status", "code", "message"],
}


def check_pipecat(pipecat: Contract, path: str, method: str, response: httpx.Response) -> Any:
    """A Pipecat Cloud answer against its described response; for a status the subset does
    not describe, the schema every described Pipecat Cloud error uses (ErrorResponse), or
    the documented capacity body for 429."""
    if pipecat.response(path, method, response.status_code) is not None:
        return check_described(pipecat, path, method, response)
    # 401 is `$ref: #/components/responses/Unauthorized`, which is outside the subset
    # (external-apis.md: S7's 401 example is {"error": ..., "code": "401"}); 404 and 413
    # are not listed for /start.
    assert response.status_code in (401, 404, 413, 429), response.status_code
    if response.status_code == 429:
        return check_json(
            Draft202012Validator(CAPACITY_429), response, "the documented capacity 429 body"
        )
    return check_json(pipecat.schema("ErrorResponse"), response, "ErrorResponse")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_start_with_a_daily_room(pipecat: Contract) -> None:
    request = {
        "createDailyRoom": True,
        "dailyRoomProperties": {"enable_recording": "cloud"},
        "dailyMeetingTokenProperties": {"is_owner": True},
        "body": {"suite": "contract"},
    }
    assert pipecat.schema("StartRequest").is_valid(request)
    with running(PIPECAT_CONFIG) as (emu, _, client):
        url = pipecat.url_path(START).format(agentName="bot")
        assert url == "/v1/public/bot/start"
        response = client.post(url, json=request, headers=_bearer(PUBLIC_KEY))
        assert response.status_code == 200, response.text
        body = check_pipecat(pipecat, START, "post", response)
        assert set(body) == {"sessionId", "dailyRoom", "dailyToken"}
        name = urlparse(body["dailyRoom"]).path.strip("/")
        room = check_daily(
            DAILY_ROOM, client.get(f"/v1/rooms/{name}", headers=_bearer(DAILY_KEY)), "a room"
        )
        assert room["config"]["enable_recording"] == "cloud", "dailyRoomProperties reach the room"
        claims = emu.decode_token(body["dailyToken"])
        assert claims is not None
        assert (claims["room_name"], claims["is_owner"]) == (name, True)
        assert [s.session_id for s in emu.ledger.sessions] == [body["sessionId"]]


def test_start_without_a_daily_room(pipecat: Contract) -> None:
    request = {"body": {"room_url": room_url("lab1"), "token": "t"}}
    assert pipecat.schema("StartRequest").is_valid(request)
    with running(PIPECAT_CONFIG) as (emu, _, client):
        url = pipecat.url_path(START).format(agentName="roomy")
        response = client.post(url, json=request, headers=_bearer(PUBLIC_KEY))
        assert response.status_code == 200, response.text
        body = check_pipecat(pipecat, START, "post", response)
        assert set(body) == {"sessionId"}
        assert emu.ledger.sessions[0].body == request["body"]


START_ERRORS: dict[str, tuple[int, str, dict[str, str], bytes]] = {
    # case: (status, agent, headers, body)
    "401-no-key": (401, "bot", {}, b"{}"),
    "401-wrong-key": (401, "bot", _bearer("pk_wrong"), b"{}"),
    "404-unknown-agent": (404, "ghost", _bearer(PUBLIC_KEY), b"{}"),
    "429-at-capacity": (429, "bot", _bearer(PUBLIC_KEY), b"{}"),
    "413-body-over-1-MB": (
        413,
        "bot",
        _bearer(PUBLIC_KEY),
        _json({"body": {"blob": "x" * 1_000_100}}),
    ),
    "400-not-json": (400, "bot", _bearer(PUBLIC_KEY), b"{oops"),
    "400-not-an-object": (400, "bot", _bearer(PUBLIC_KEY), b"[1, 2]"),
    "400-room-properties-not-an-object": (
        400,
        "bot",
        _bearer(PUBLIC_KEY),
        _json({"createDailyRoom": True, "dailyRoomProperties": "cloud"}),
    ),
}


@pytest.mark.parametrize("case", list(START_ERRORS))
def test_start_errors(pipecat: Contract, case: str) -> None:
    status, agent, headers, body = START_ERRORS[case]
    with running(PIPECAT_CONFIG) as (emu, _, client):
        url = pipecat.url_path(START).format(agentName=agent)
        if status == 429:  # "bot" has room for one session
            first = client.post(url, json={}, headers=_bearer(PUBLIC_KEY))
            assert first.status_code == 200, first.text
        sessions = len(emu.ledger.sessions)
        headers = {**headers, "Content-Type": "application/json"}
        response = client.post(url, content=body, headers=headers)
        assert response.status_code == status, f"{case}: {response.status_code} {response.text}"
        answer = check_pipecat(pipecat, START, "post", response)
        assert answer["code"] == str(status), "the SDK reads `code` as the error code"
        assert len(emu.ledger.sessions) == sessions, "a refused start starts no session"


def test_stop_session(pipecat: Contract) -> None:
    with running(PIPECAT_CONFIG) as (emu, _, client):
        started = client.post(
            pipecat.url_path(START).format(agentName="bot"), json={}, headers=_bearer(PUBLIC_KEY)
        ).json()
        url = pipecat.url_path(STOP).format(agentName="bot", sessionId=started["sessionId"])
        assert url == f"/v1/agents/bot/sessions/{started['sessionId']}"

        response = client.delete(url, headers=_bearer(PRIVATE_KEY))
        assert response.status_code == 200, response.text
        body = check_pipecat(pipecat, STOP, "delete", response)
        assert body == {"status": "terminated", "session_id": started["sessionId"]}
        assert emu.ledger.sessions[0].ended_by == "stopped"

        malformed = pipecat.url_path(STOP).format(agentName="bot", sessionId="not-a-session")
        response = client.delete(malformed, headers=_bearer(PRIVATE_KEY))
        assert response.status_code == 400, response.text
        assert check_pipecat(pipecat, STOP, "delete", response)["code"] == "400"

        response = client.delete(url)
        assert response.status_code == 401, response.text
        check_pipecat(pipecat, STOP, "delete", response)


# --------------------------------------------------------------------------------------
# Daily: no OpenAPI description; the shapes of external-apis.md section 7

DAILY_ROOM = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
        "api_created": {"type": "boolean"},
        "privacy": {"enum": ["public", "private"]},
        "url": {"type": "string", "pattern": r"^https://[A-Za-z0-9-]+\.daily\.co/[A-Za-z0-9_-]+$"},
        "created_at": {"type": "string", "format": "date-time"},
        "config": {"type": "object"},
    },
    "required": ["id", "name", "api_created", "privacy", "url", "created_at", "config"],
}
DAILY_DELETED = {
    "type": "object",
    "properties": {"deleted": {"const": True}, "name": {"type": "string", "minLength": 1}},
    "required": ["deleted", "name"],
}
DAILY_TOKEN = {
    "type": "object",
    "properties": {"token": {"type": "string", "minLength": 1}},
    "required": ["token"],
}
DAILY_ERROR_TYPES = [
    "authentication-error",
    "authorization-header-error",
    "forbidden-error",
    "json-parsing-error",
    "invalid-request-error",
    "rate-limit-error",
    "server-error",
]


def daily_error(kind: str | None) -> dict[str, Any]:
    """`{"error", "info"}`; `kind` fixes the error type (None: any string, as for 404,
    whose type external-apis.md does not name)."""
    return {
        "type": "object",
        "properties": {
            "error": {"type": "string", "minLength": 1} if kind is None else {"const": kind},
            "info": {"type": "string"},
        },
        "required": ["error", "info"],
    }


def check_daily(schema: dict[str, Any], response: httpx.Response, what: str) -> Any:
    return check_json(Draft202012Validator(schema, format_checker=FORMATS), response, what)


def test_daily_rooms_and_tokens() -> None:
    with running(PIPECAT_CONFIG) as (emu, clock, client):
        headers = _bearer(DAILY_KEY)
        anonymous = client.post("/v1/rooms", json={}, headers=headers)
        assert anonymous.status_code == 200, anonymous.text
        check_daily(DAILY_ROOM, anonymous, "a Daily room")

        exp = int(time.time()) + 3600
        created = client.post(
            "/v1/rooms",
            json={"name": "contract-room", "privacy": "private", "properties": {"exp": exp}},
            headers=headers,
        )
        assert created.status_code == 200, created.text
        room = check_daily(DAILY_ROOM, created, "a Daily room")
        assert (room["name"], room["privacy"], room["config"]) == (
            "contract-room",
            "private",
            {"exp": exp},
        )
        assert room["url"] == room_url("contract-room")

        fetched = client.get("/v1/rooms/contract-room", headers=headers)
        assert fetched.status_code == 200
        assert check_daily(DAILY_ROOM, fetched, "a Daily room") == room

        token = client.post(
            "/v1/meeting-tokens",
            json={"properties": {"room_name": "contract-room", "is_owner": False}},
            headers=headers,
        )
        assert token.status_code == 200, token.text
        claims = emu.decode_token(check_daily(DAILY_TOKEN, token, "a meeting token")["token"])
        assert claims == {"room_name": "contract-room", "is_owner": False}

        clock.advance(1.0)
        deleted = client.delete("/v1/rooms/contract-room", headers=headers)
        assert deleted.status_code == 200, deleted.text
        assert check_daily(DAILY_DELETED, deleted, "a deletion") == {
            "deleted": True,
            "name": "contract-room",
        }


def _expired_room_delete(client: httpx.Client, clock: ManualClock) -> httpx.Response:
    exp = int(time.time()) + 30
    made = client.post(
        "/v1/rooms", json={"name": "short", "properties": {"exp": exp}}, headers=_bearer(DAILY_KEY)
    )
    assert made.status_code == 200, made.text
    clock.advance(3600)
    return client.delete("/v1/rooms/short", headers=_bearer(DAILY_KEY))


def _until_429(send: Callable[[], httpx.Response], limit: int) -> httpx.Response:
    for _ in range(limit):
        response = send()
        if response.status_code == 429:
            return response
        assert response.status_code in (200, 404), response.text
    pytest.fail(f"no 429 within {limit} requests in one second of emulator time")


Send = Callable[[httpx.Client, ManualClock], httpx.Response]
DAILY_ERRORS: dict[str, tuple[int, str | None, Send]] = {
    "400-no-authorization-header": (
        400,
        "authorization-header-error",
        lambda c, _: c.post("/v1/rooms", json={}),
    ),
    "400-malformed-authorization-header": (
        400,
        "authorization-header-error",
        lambda c, _: c.get("/v1/rooms/x", headers={"Authorization": f"Token {DAILY_KEY}"}),
    ),
    "401-wrong-key": (
        401,
        "authentication-error",
        lambda c, _: c.post("/v1/meeting-tokens", json={}, headers=_bearer("dk_wrong")),
    ),
    "404-get-unknown-room": (
        404,
        None,
        lambda c, _: c.get("/v1/rooms/nowhere", headers=_bearer(DAILY_KEY)),
    ),
    "404-delete-unknown-room": (
        404,
        None,
        lambda c, _: c.delete("/v1/rooms/nowhere", headers=_bearer(DAILY_KEY)),
    ),
    "404-delete-expired-room": (404, None, _expired_room_delete),
    "400-invalid-room-name": (
        400,
        "invalid-request-error",
        lambda c, _: c.post("/v1/rooms", json={"name": "no spaces"}, headers=_bearer(DAILY_KEY)),
    ),
    "400-not-json": (
        400,
        "json-parsing-error",
        lambda c, _: c.post(
            "/v1/rooms",
            content=b"{oops",
            headers={**_bearer(DAILY_KEY), "Content-Type": "application/json"},
        ),
    ),
    "429-general-rate-limit": (
        429,
        "rate-limit-error",
        lambda c, _: _until_429(lambda: c.get("/v1/rooms/x", headers=_bearer(DAILY_KEY)), 25),
    ),
    "429-room-deletion-rate-limit": (
        429,
        "rate-limit-error",
        lambda c, _: _until_429(lambda: c.delete("/v1/rooms/x", headers=_bearer(DAILY_KEY)), 5),
    ),
}


@pytest.mark.parametrize("case", list(DAILY_ERRORS))
def test_daily_errors(case: str) -> None:
    status, kind, send = DAILY_ERRORS[case]
    with running(PIPECAT_CONFIG) as (_, clock, client):
        response = send(client, clock)
        assert response.status_code == status, f"{case}: {response.status_code} {response.text}"
        body = check_daily(daily_error(kind), response, f"Daily's error body ({case})")
        if kind is not None:
            assert kind in DAILY_ERROR_TYPES
        if case == "404-delete-expired-room":
            assert body["deleted"] is True, "an expired room's 404 adds deleted: true"


# --------------------------------------------------------------------------------------
# Injected faults keep each service's error shape


def test_injected_faults_keep_each_services_error_shape(
    cekura: Contract, pipecat: Contract
) -> None:
    faults = (
        Fault(endpoint="cekura.result", status=429, retry_after=2, nth=frozenset({1})),
        Fault(endpoint="cekura.result", status=503, nth=frozenset({2})),
        Fault(endpoint="pipecat.start", status=429, retry_after=1, nth=frozenset({1})),
        Fault(endpoint="pipecat.start", status=503, nth=frozenset({2})),
        Fault(endpoint="daily.get_room", status=429, retry_after=1, nth=frozenset({1})),
        Fault(endpoint="daily.get_room", status=500, nth=frozenset({2})),
    )
    config = PIPECAT_CONFIG.with_faults(*faults)
    with running(config) as (emu, _, client):
        result = RESULT_PATHS[0].format(id=1)
        throttled = client.get(result, headers=cekura_headers(emu))
        assert (throttled.status_code, throttled.headers.get("Retry-After")) == (429, "2")
        check_json(detail_validator(cekura), throttled, '{"detail": string}')
        failing = client.get(result, headers=cekura_headers(emu))
        assert failing.status_code == 503
        check_json(detail_validator(cekura), failing, '{"detail": string}')

        start = pipecat.url_path(START).format(agentName="roomy")
        throttled = client.post(start, json={}, headers=_bearer(PUBLIC_KEY))
        assert (throttled.status_code, throttled.headers.get("Retry-After")) == (429, "1")
        check_json(Draft202012Validator(CAPACITY_429), throttled, "the documented 429 body")
        failing = client.post(start, json={}, headers=_bearer(PUBLIC_KEY))
        assert failing.status_code == 503
        body = check_json(pipecat.schema("ErrorResponse"), failing, "ErrorResponse")
        assert body["code"] == "503"

        throttled = client.get("/v1/rooms/x", headers=_bearer(DAILY_KEY))
        assert (throttled.status_code, throttled.headers.get("Retry-After")) == (429, "1")
        check_daily(daily_error("rate-limit-error"), throttled, "Daily's error body")
        failing = client.get("/v1/rooms/x", headers=_bearer(DAILY_KEY))
        assert failing.status_code == 500
        check_daily(daily_error("server-error"), failing, "Daily's error body")
        assert emu.ledger.sessions == [], "a faulted start starts no session"


@pytest.mark.parametrize("case", ["unknown-session", "unknown-agent"])
def test_stop_of_an_unknown_session_is_404_as_described(pipecat: Contract, case: str) -> None:
    """stopSession describes 400 as "Invalid request (e.g., invalid session ID format)" and
    404 as "Service or session not found": a well-formed session ID that names no session
    of the agent (or an agent that does not exist) is the 404."""
    described = pipecat.operation(STOP, "delete")["responses"]
    assert "not found" in described["404"]["description"].lower()
    with running(PIPECAT_CONFIG) as (_, _, client):
        started = client.post(
            pipecat.url_path(START).format(agentName="bot"), json={}, headers=_bearer(PUBLIC_KEY)
        ).json()
        agent, session = "bot", "00000000-0000-4000-8000-000000000000"
        if case == "unknown-agent":
            agent, session = "ghost", started["sessionId"]
        url = pipecat.url_path(STOP).format(agentName=agent, sessionId=session)
        response = client.delete(url, headers=_bearer(PRIVATE_KEY))
        check_pipecat(pipecat, STOP, "delete", response)
        assert response.status_code == 404, (
            f"DELETE {url} -> {response.status_code} {response.text}; the description "
            f"gives 404 '{described['404']['description']}' for a session that is not found"
        )
