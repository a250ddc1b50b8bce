"""The specrunner a benchmark measures, compiled to bytecode first, as an installed one is.

pip compiles a package's modules when it installs it. A source tree (an editable install,
a tree on PYTHONPATH) is compiled as it is imported instead, and not at all where
PYTHONDONTWRITEBYTECODE is set: every command then compiles specrunner's modules again,
about 0.2 s of each start-up on the project's 2-core machine, which no installed
specrunner spends. `compile_tree` writes the bytecode next to the sources (in
`__pycache__`, which git ignores), as pip would, before anything is measured.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

FIND = "import os, specrunner; print(os.path.dirname(specrunner.__file__))"


def compile_tree(cwd: Path, env: Mapping[str, str] | None = None) -> Path:
    """Compile the specrunner that `python -m specrunner` runs from `cwd` with `env` (the
    measured commands' own): its package folder, which is returned."""
    found = subprocess.run(
        [sys.executable, "-c", FIND],
        cwd=cwd,
        env=None if env is None else dict(env),
        capture_output=True,
        text=True,
        check=True,
    )
    folder = Path(found.stdout.strip())
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(folder)],
        cwd=cwd,
        env=None if env is None else dict(env),
        check=True,
    )
    return folder
