"""The wheel carries the schemas and the starter suite, and the schema it ships is the one
at the top of the source tree."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    build = pytest.importorskip("hatchling.build")
    out = tmp_path_factory.mktemp("dist")
    cwd = Path.cwd()
    try:
        os.chdir(ROOT)
        name = build.build_wheel(str(out))
    finally:
        os.chdir(cwd)
    return zipfile.ZipFile(out / name)


def test_wheel_ships_the_suite_schema_unchanged(wheel: zipfile.ZipFile) -> None:
    shipped = wheel.read("specrunner/schemas/suite.v1.json").decode()
    assert shipped == (ROOT / "schemas" / "suite.v1.json").read_text()


def test_wheel_ships_the_starter_suite_and_the_console_script(wheel: zipfile.ZipFile) -> None:
    names = wheel.namelist()
    assert "specrunner/starter/smoke.yaml" in names
    assert "specrunner/py.typed" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "specrunner = specrunner.cli:main" in wheel.read(entry_points).decode()
