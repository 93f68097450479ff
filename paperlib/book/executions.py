"""The book's executions: each chapter executed at one scale, reused while unchanged, handed to jupyter-cache.

Why not let myst-nb execute: jupyter-cache keys a notebook on its code cells only, so it would neither
see a change inside paperlib nor a new full-scale run under ``results/``, and it cannot pass a scale.
Here each chapter is executed with papermill (``scale`` injected) whenever its fingerprint (notebook,
paperlib sources, its ``results/`` folder, the scale) changed; the execution is stored in the
jupyter-cache under the source notebook's hash, and ``jupyter-book build`` then reads it from the cache.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..core.paths import book_runs_dir, repo_root
from ..papers import notebook
from ..runner import execute


def dependencies(name: str, scale: str) -> list[Path]:
    """The files chapter ``name``'s last execution depended on: the paperlib modules it loaded (recorded
    in its metrics.json), or every paperlib source when there is no previous execution."""
    root = repo_root()
    previous = book_runs_dir(scale) / name / "metrics.json"
    if previous.is_file():
        modules = json.loads(previous.read_text())["provenance"].get("paperlib_modules")
        if modules:
            return [root / m for m in modules]
    return sorted((root / "paperlib").rglob("*.py")) + sorted((root / "paperlib").rglob("*.json"))


def fingerprint(name: str, scale: str, contents: dict[Path, bytes] | None = None) -> str:
    """Changes when the notebook, a paperlib module it uses, or its results/ folder changes.

    ``contents`` (path -> bytes, from :func:`snapshot`) hashes files as they were at that moment.
    """
    root = repo_root()
    digest = hashlib.sha256(scale.encode())
    files = [notebook(name)] + dependencies(name, scale)
    results = root / "results" / name
    if results.is_dir():
        files += sorted(p for p in results.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path).encode())
        if contents is not None and path in contents:
            digest.update(contents[path])
        else:
            digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def snapshot(name: str) -> dict[Path, bytes]:
    """Every file chapter ``name`` could depend on, as it is now (before an execution starts)."""
    root = repo_root()
    files = [notebook(name), *(root / "paperlib").rglob("*.py"), *(root / "paperlib").rglob("*.json")]
    results = root / "results" / name
    if results.is_dir():
        files += [p for p in results.rglob("*") if p.is_file()]
    return {p: p.read_bytes() for p in files}


def execute_chapter(name: str, scale: str, force: bool = False) -> Path:
    """Execute chapter ``name`` at ``scale`` unless an up-to-date execution exists; return its folder."""
    dest = book_runs_dir(scale) / name
    stamp = dest / "fingerprint"
    key = fingerprint(name, scale)
    if not force and stamp.is_file() and stamp.read_text() == key and (dest / "run.ipynb").is_file():
        return dest
    before = snapshot(name)
    execute(name, {"scale": scale}, dest)
    # stamp with the modules this execution loaded (now in its metrics.json), hashed as they were when
    # it started, so the next build recognises it and an edit made during the run still counts
    (dest / "fingerprint").write_text(fingerprint(name, scale, before))
    return dest


def execute_chapters(names: list[str], scale: str, force: bool = False, jobs: int = 1) -> dict[str, Path]:
    """Execute chapters ``jobs`` at a time (each kernel uses one torch thread, so a 2-core machine runs two);
    return each chapter's folder. A failed chapter does not stop the others: their executions are kept and
    every failure is reported together afterwards."""
    def one(name: str) -> Path:
        print(f"[book] {name} at {scale} scale\n", end="", flush=True)  # one write: lines from two threads stay whole
        return execute_chapter(name, scale, force)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {name: pool.submit(one, name) for name in names}
    failed = {name: f.exception() for name, f in futures.items() if f.exception() is not None}
    if failed:
        raise RuntimeError("chapters failed: " + "; ".join(f"{n}: {e}" for n, e in failed.items()))
    return {name: f.result() for name, f in futures.items()}


def cache_execution(name: str, executed: Path) -> None:
    """Store an executed chapter in the book's jupyter-cache under its *source* notebook's hash."""
    import jupytext
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    source = jupytext.reads(notebook(name).read_text(), fmt="py:percent")  # as myst-nb reads it
    executed_nb = nbformat.read(executed, as_version=4)
    executed_code = [c for c in executed_nb.cells if c.cell_type == "code"
                     and "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    source_code = [c for c in source.cells if c.cell_type == "code"]
    if [c.source for c in source_code] != [c.source for c in executed_code]:
        raise RuntimeError(f"{name}: the execution at {executed} does not match notebooks/{name}.py")
    for cell, done in zip(source_code, executed_code):  # outputs onto the untouched source (the cache key)
        cell.outputs, cell.execution_count = done.outputs, done.execution_count
    nb = source
    for key in ("widgets", "language_info"):  # widget state lets the built page's sliders work offline
        if key in executed_nb.metadata:
            nb.metadata[key] = executed_nb.metadata[key]
    cache = get_cache(str(repo_root() / "_build" / ".jupyter_cache"))
    cache.cache_notebook_bundle(CacheBundleIn(nb, uri=str(notebook(name))), check_validity=False, overwrite=True)
