"""`specrunner init` and `specrunner schema`: a starter suite, and the JSON Schemas."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from specrunner import schemas
from specrunner.errors import UsageError


def schema_text(kind: str) -> str:
    """The JSON Schema of a suite (`suite`), a report (`report`) or the emulator's
    configuration (`emulator`)."""
    return schemas.schema_text(kind)


def init(directory: str, *, force: bool = False) -> list[Path]:
    """Write a starter suite and the schema it names into `directory`."""
    root = Path(directory)
    targets = {
        root / "specs" / "smoke.yaml": resources.files("specrunner")
        .joinpath("starter", "smoke.yaml")
        .read_text(encoding="utf-8"),
        root / "schemas" / "suite.v1.json": schema_text("suite"),
    }
    existing = [path for path in targets if path.exists()]
    if existing and not force:
        shown = ", ".join(str(p) for p in existing)
        raise UsageError(
            f"init: {shown} already exist{'s' if len(existing) == 1 else ''}; "
            "pass --force to overwrite"
        )
    for path, text in targets.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(targets)
