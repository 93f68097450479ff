"""The "Teaching with this book" page (``book/teaching.md``), generated before Sphinx runs.

Per chapter: its measured ``cpu``-scale run time (from the last cpu-scale book execution, never typed),
the knobs to turn (from its parameter schema), and exercises from ``book/exercises.yml``.
"""
from __future__ import annotations

import html
import json
from pathlib import Path

import yaml

from ..core.atomic import write_text
from ..core.paths import book_runs_dir, repo_root
from ..papers import schema, toc_chapters

runs_dir = book_runs_dir  # where the book's executions are (a seam for the tests)

INTRO = """# Teaching with this book

Every chapter runs in a few minutes on a 2-core laptop CPU at `cpu` scale, so a workshop can run them
live. Before the session, train and cache the zoo models once on each machine (or on a shared
`$PAPERLIB_CACHE`): `paperlib warm --scale cpu`. Then each chapter only loads them.

For each chapter: how long its `cpu`-scale run took when this book was last built at that scale (on the
machine named), the knobs of its parameters cell, and a few exercises with the knob to turn. Change a knob
in the parameters cell and re-run the notebook, or from a shell `paperlib run <name> --scale cpu -p knob value`.
Smoke scale (`scale = "smoke"`) runs in seconds and is handy to check that a setup works.

"""


def _cpu_run_time(name: str) -> str:
    path = runs_dir("cpu") / name / "metrics.json"
    if not path.is_file():
        return "not measured yet (this book has not been built at `cpu` scale here)"
    prov = json.loads(path.read_text())["provenance"]
    text = (f"{prov['wall_time_s'] / 60:.1f} min at `cpu` scale on {prov['device_name']} "
            f"({prov.get('cpu_count', '?')} cores), {prov['started'][:10]}")
    load = [x for x in prov.get("load_average") or [] if x is not None]
    if load:  # a busy machine stretches wall time: say so rather than hide it
        text += f"; machine load {max(load):.1f} during the run, {prov['cpu_time_s'] / 60:.1f} min of CPU time"
    return text


def page() -> str:
    exercises_file = repo_root() / "book" / "exercises.yml"
    exercises = yaml.safe_load(exercises_file.read_text()) if exercises_file.is_file() else {}
    parts = [INTRO]
    for name in toc_chapters():
        spec = schema(name)
        parts.append(f"## `{name}`: {spec.description}\n")
        parts.append(f"**Run time:** {_cpu_run_time(name)}.\n")
        knobs = [p for p in spec.params]
        if knobs:
            parts.append("**Knobs:** " + "; ".join(f"`{p.name}` ({html.escape(p.help, quote=False)})" for p in knobs) + ".\n")
        for i, item in enumerate(exercises.get(name, []), 1):
            parts.append(f"{i}. {item['task']} *Knob:* `{item['knob']}`.")
        parts.append("")
    return "\n".join(parts) + "\n"


def write_teaching() -> Path:
    path = repo_root() / "book" / "teaching.md"
    write_text(path, page())
    return path
