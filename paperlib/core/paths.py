"""Where things live: the repository, the model cache, the run folders."""
from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir


def repo_root() -> Path:
    """The checkout holding ``_toc.yml`` (paperlib installed editable), else the working directory."""
    here = Path(__file__).resolve().parents[2]
    return here if (here / "_toc.yml").exists() else Path.cwd()


def cache_dir() -> Path:
    """The zoo's cache: ``$PAPERLIB_CACHE`` or the user cache folder."""
    return Path(os.environ.get("PAPERLIB_CACHE") or user_cache_dir("paperlib"))


def run_dir(paper: str, scale: str, device_type: str) -> Path:
    """Where a run writes ``metrics.json``: ``$PAPERLIB_RUN_DIR`` (set by ``paperlib run`` and the book
    build) or ``_build/runs/<paper>/<scale>-<device>/`` for a notebook opened by hand."""
    explicit = os.environ.get("PAPERLIB_RUN_DIR")
    if explicit:
        return Path(explicit)
    return repo_root() / "_build" / "runs" / paper / f"{scale}-{device_type}"


def book_runs_dir(scale: str) -> Path:
    """Where the book keeps its own executions of every chapter at ``scale`` (``_build/book-runs/<scale>``)."""
    return repo_root() / "_build" / "book-runs" / scale
