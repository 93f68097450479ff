"""The results dashboard (``book/results.md``), generated from ``metrics.json`` files before Sphinx runs.

One row per claim: the book's own execution at the built scale, plus every kept run under
``results/<name>/<scale>-<device>/``. A kept run whose commit is older than the last change to its
chapter's code is flagged as stale. No number is typed by hand: all come from the JSON files.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .core.atomic import write_text
from .core.paths import repo_root
from .papers import toc_chapters

HEADER = """# Results dashboard

Generated from the runs' `metrics.json` files when the book was built; nothing here is typed by hand.
*Verdict* applies one rule everywhere: over seeds, the method must beat its baseline by more than two
standard errors (or lose by as much, for *fails*), of the per-seed differences where both arms ran on the
same seeds; deterministic quantities are compared with a stated threshold. Runs at `smoke` scale check the code path, not the claim: expect *inconclusive* there.

"""


NO_GPU_CHECK = ("No GPU check has been kept yet: `paperlib gpu-check` on a GPU machine writes one "
                "([Running the notebooks](running.md), *Checking a GPU machine*).\n")


def _last_change(paths: list[str]) -> str | None:
    """Commit time (ISO) of the last commit touching ``paths``, or None outside git."""
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cI", "--", *paths], cwd=repo_root(),
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out or None
    except (OSError, subprocess.SubprocessError):
        return None


def _commit_time(sha: str | None) -> str | None:
    if not sha:
        return None
    try:
        out = subprocess.run(["git", "show", "-s", "--format=%cI", sha.split("+")[0]], cwd=repo_root(),
                             capture_output=True, text=True, timeout=10).stdout.strip()
        return out or None
    except (OSError, subprocess.SubprocessError):
        return None


def collect(scale: str) -> list[tuple[str, Path]]:
    """(label, metrics.json) for the book's executions at ``scale`` and every kept run."""
    root = repo_root()
    found = []
    for name in toc_chapters():
        book_run = root / "_build" / "book-runs" / scale / name / "metrics.json"
        if book_run.is_file():
            found.append((f"this book ({scale})", book_run))
        for kept in sorted((root / "results" / name).glob("*/metrics.json")):
            found.append((f"results/{name}/{kept.parent.name}", kept))
    return found


def _fmt(side: dict) -> str:
    text = f"{side['mean']:.4g}"
    if side.get("std") is not None:
        text += f" ± {side['std']:.2g} (n={side['n']})"
    return text


def _row(record: dict, claim: dict, label: str, stale: str) -> str:
    prov = record["provenance"]
    commit = (prov.get("commit") or "unknown")[:10]
    return (f"| {record['paper']} | {claim['statement']} | {claim['method']['label']}: {_fmt(claim['method'])} | "
            f"{claim['baseline']['label']}: {_fmt(claim['baseline'])} | **{claim['verdict']}**{stale} | {label} | "
            f"{prov['scale']} | {prov['device_name']} | {prov['started'][:10]} | `{commit}` | "
            f"{prov['wall_time_s']:.0f} s |")


def _stale(record: dict) -> str:
    """Flag a kept run produced before the last change to its chapter's code."""
    changed = _last_change([f"paperlib/{record['paper']}", f"paperlib/{record['paper']}.py",
                            f"notebooks/{record['paper']}.py"])
    made = _commit_time(record["provenance"].get("commit"))
    return " ⚠ stale: the code changed after this run" if changed and made and made < changed else ""


def rows(scale: str) -> tuple[list[str], list[str]]:
    """Headline rows (a chapter's first claim, per run) and every claim, as Markdown table rows."""
    head = ["| paper | claim | method | baseline | verdict | run | scale | device | date | commit | wall time |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    headline, every = list(head), list(head)
    for label, path in collect(scale):
        record = json.loads(path.read_text())
        stale = _stale(record) if label.startswith("results/") else ""
        for i, claim in enumerate(record["claims"]):
            row = _row(record, claim, label, stale)
            every.append(row)
            if i == 0:
                headline.append(row)
    return headline, every


def write_dashboard(scale: str) -> Path:
    path = repo_root() / "book" / "results.md"
    headline, every = rows(scale)
    gpu = repo_root() / "results" / "gpu-check" / "report.md"
    gpu_text = gpu.read_text() if gpu.is_file() else NO_GPU_CHECK
    write_text(path, HEADER + "## Headline claims\n\n" + "\n".join(headline)
               + "\n\n## Every claim\n\n" + "\n".join(every) + "\n\n## Latest GPU check\n\n" + gpu_text)
    return path
