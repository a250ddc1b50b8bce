"""The JSON Schemas shipped with specrunner (in the wheel, or at the top of a source tree)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

KNOWN = {
    "suite": "suite.v1.json",
    "report": "report.v1.json",
    "compare": "compare.v1.json",
    "emulator": "emulator.v1.json",
    "cekura-run": "cekura-run.v1.json",
}


def schema_text(kind: str) -> str:
    filename = KNOWN[kind]
    packaged = resources.files("specrunner").joinpath("schemas", filename)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    source_tree = Path(__file__).resolve().parents[1] / "schemas" / filename
    return source_tree.read_text(encoding="utf-8")


@cache
def load_schema(kind: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(schema_text(kind))
    return data
