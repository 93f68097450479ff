"""The chapters of the book and where their parameter schemas live."""
from __future__ import annotations

import importlib
from pathlib import Path

import yaml

from .core.params import Schema
from .core.paths import repo_root

#: Every name the design knows (DESIGN.md); a chapter exists once its package and notebook do.
NAMES = ("miniatures", "teddy", "hello", "datamodel", "linfusion", "video_infinity", "dsi", "stydesty",
         "mindbridge", "mutual_attack", "sgformer")


def schema(name: str) -> Schema:
    """The parameter schema of chapter ``name`` (``paperlib.<name>.SCHEMA``)."""
    if name not in NAMES:
        raise ValueError(f"paper: expected one of {', '.join(NAMES)}, got {name!r}")
    try:
        module = importlib.import_module(f"paperlib.{name}")
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith(f"paperlib.{name}"):
            raise ValueError(f"paper: {name!r} has no chapter yet") from None
        raise
    return module.SCHEMA


def notebook(name: str) -> Path:
    return repo_root() / "notebooks" / f"{name}.py"


def available() -> list[str]:
    """Chapters that have both a notebook and a paperlib module."""
    root = repo_root() / "paperlib"
    return [n for n in NAMES if notebook(n).exists() and ((root / n).is_dir() or (root / f"{n}.py").exists())]


def toc_chapters() -> list[str]:
    """Names of the notebooks listed in ``_toc.yml``, in book order."""
    toc = yaml.safe_load((repo_root() / "_toc.yml").read_text())
    files = []

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [Path(f).name for f in files if f.startswith("notebooks/")]
