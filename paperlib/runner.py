"""Executing a chapter with papermill: staged, and promoted only when it succeeded.

A run executes in a staging folder beside its destination; only a successful run replaces
``<dest>/run.ipynb`` and ``<dest>/metrics.json`` (by rename), so a failed or killed run never
overwrites a good one. The failed notebook stays in the staging folder for inspection.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

from .papers import notebook


class RunFailed(RuntimeError):
    """A chapter raised while executing; ``notebook_path`` holds the executed notebook with the error."""

    def __init__(self, name: str, notebook_path: Path, reason: str):
        super().__init__(f"{name}: the notebook failed ({reason}); the executed notebook is {notebook_path}")
        self.notebook_path = notebook_path


def execute(name: str, parameters: Mapping[str, Any], dest: Path, timeout_s: int = 3600) -> Path:
    """Run ``notebooks/<name>.py`` with ``parameters``; on success ``dest`` holds run.ipynb + metrics.json."""
    import jupytext
    import papermill

    dest = Path(dest)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    staging = dest.parent / f".staging-{dest.name}-{stamp}"
    staging.mkdir(parents=True)
    source = jupytext.read(notebook(name))
    env_before = os.environ.get("PAPERLIB_RUN_DIR")
    os.environ["PAPERLIB_RUN_DIR"] = str(staging.resolve())
    try:
        papermill.execute_notebook(source, str(staging / "run.ipynb"), parameters=dict(parameters),
                                   kernel_name="python3", language="python", cwd=str(notebook(name).parent),
                                   progress_bar=False, execution_timeout=timeout_s)
    except Exception as err:  # papermill wraps the cell's error; keep its first line
        raise RunFailed(name, staging / "run.ipynb", str(err).strip().splitlines()[-1][:300]) from None
    finally:
        if env_before is None:
            os.environ.pop("PAPERLIB_RUN_DIR", None)
        else:
            os.environ["PAPERLIB_RUN_DIR"] = env_before
    if not (staging / "metrics.json").is_file():
        raise RunFailed(name, staging / "run.ipynb", "it finished without writing metrics.json (run.save())")
    _promote(staging, dest)
    return dest


def _promote(staging: Path, dest: Path) -> None:
    """Swap ``staging`` in for ``dest`` with renames (the old run is removed only afterwards)."""
    old = dest.parent / f".old-{dest.name}-{os.getpid()}"
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)
