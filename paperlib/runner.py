"""Child processes: a chapter executed with papermill (staged, promoted only when it succeeded), and a script
run in a process group of its own (a benchmark, ``paperlib run`` from the GPU check) with a time limit.

A chapter's run executes in a staging folder beside its destination; only a successful run replaces
``<dest>/run.ipynb`` and ``<dest>/metrics.json`` (by rename), so a failed or killed run never
overwrites a good one. The failed notebook stays in the staging folder for inspection.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping

from .core.paths import repo_root
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
    # the kernel learns its run folder from its own environment: this process's os.environ is left alone,
    # so chapters executed side by side (paperlib book --jobs) each write into their own folder
    kernel_env = dict(child_env(), PAPERLIB_RUN_DIR=str(staging.resolve()))
    try:
        papermill.execute_notebook(source, str(staging / "run.ipynb"), parameters=dict(parameters),
                                   kernel_name="python3", language="python", cwd=str(notebook(name).parent),
                                   progress_bar=False, execution_timeout=timeout_s,
                                   kernel_manager_class=_kernel_manager_with(kernel_env))
    except Exception as err:  # papermill wraps the cell's error; keep its first line
        raise RunFailed(name, staging / "run.ipynb", str(err).strip().splitlines()[-1][:300]) from None
    if not (staging / "metrics.json").is_file():
        raise RunFailed(name, staging / "run.ipynb", "it finished without writing metrics.json (run.save())")
    _promote(staging, dest)
    return dest


def _kernel_manager_with(env: dict[str, str]) -> type:
    """A Jupyter kernel manager class whose kernels start with ``env``."""
    from jupyter_client import AsyncKernelManager

    class KernelManagerWithEnv(AsyncKernelManager):
        async def start_kernel(self, **kw: Any) -> None:
            kw.setdefault("env", env)
            await super().start_kernel(**kw)

    return KernelManagerWithEnv


def _promote(staging: Path, dest: Path) -> None:
    """Swap ``staging`` in for ``dest`` with renames (the old run is removed only afterwards)."""
    old = dest.parent / f".old-{dest.name}-{os.getpid()}"
    if dest.exists():
        os.replace(dest, old)
    os.replace(staging, dest)
    shutil.rmtree(old, ignore_errors=True)


def child_env() -> dict[str, str]:
    """The environment for child processes: paperlib importable from the tree (a kernel's cwd is notebooks/),
    no hub downloads, unbuffered output."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(repo_root()), env.get("PYTHONPATH")) if p)
    return env


def run_script(command: list[str], timeout_s: float) -> dict[str, Any]:
    """Run ``command`` from the repository root: its status (``ok``, ``exit N: <last line>``, ``timed out``,
    ``skipped``), seconds and the tail of its output.

    It runs in a process group of its own, so that at the deadline its children (a chapter's kernel,
    a benchmark's ranks) end with it.
    """
    if timeout_s <= 0:
        return {"status": "skipped: the time budget was spent", "seconds": 0.0, "output": ""}
    start = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root(),
                          env=child_env(), start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            return {"status": f"timed out after {timeout_s:.0f} s", "seconds": time.perf_counter() - start,
                    "output": (stdout + stderr)[-3000:]}
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: " + (
        stderr.strip().splitlines() or ["no message"])[-1][:300]
    return {"status": status, "seconds": time.perf_counter() - start, "output": stdout[-3000:] + stderr[-2000:]}
