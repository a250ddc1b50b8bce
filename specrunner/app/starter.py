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
    """Write a starter suite and the schema it names into `directory`, and make its
    .gitignore ignore .specrunner/ (the run directories and the history)."""
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
    ignored = _ignore_run_folder(root / ".gitignore")
    return [*targets, *([ignored] if ignored is not None else [])]


IGNORED = ".specrunner/"
"""The run directories and the local history: never committed."""


def _ignore_run_folder(path: Path) -> Path | None:
    """Add `.specrunner/` to the .gitignore in `path` (made when missing); the path when
    it was changed, None when it already ignored the folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        text = ""
    lines = {line.strip().rstrip("/") for line in text.splitlines()}
    if {".specrunner", "/.specrunner"} & lines:
        return None
    with path.open("a", encoding="utf-8") as ignore:
        ignore.write(("\n" if text and not text.endswith("\n") else "") + IGNORED + "\n")
    return path
