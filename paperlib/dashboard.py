"""The results dashboard (``book/results.md``), generated from ``metrics.json`` files before Sphinx runs.

A headline row per run (its chapter's first claim and the tally of all its claims), then every claim,
chapter by chapter: the book's own execution at the built scale, plus every kept run under
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

HEADER = """---
html_theme.sidebar_secondary.remove: true
---

# Results dashboard

Generated from the runs' `metrics.json` files when the book was built; nothing here is typed by hand.
*Verdict* applies one rule everywhere: over seeds, the method must beat its baseline by more than two
standard errors (or lose by as much, for *fails*), of the per-seed differences where both arms ran on the
same seeds (*2 SE* and *2 SE, paired* in the tables); deterministic quantities are compared with a stated
threshold. Runs at `smoke` scale check the code path, not the claim: expect *inconclusive* there.

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


def _stale(record: dict) -> str:
    """Flag a kept run produced before the last change to its chapter's code."""
    changed = _last_change([f"paperlib/{record['paper']}", f"paperlib/{record['paper']}.py",
                            f"notebooks/{record['paper']}.py"])
    made = _commit_time(record["provenance"].get("commit"))
    return " ⚠ stale: the code changed after this run" if changed and made and made < changed else ""


def _tally(claims: list[dict]) -> str:
    verdicts = [c["verdict"] for c in claims]
    return ", ".join(f"{verdicts.count(v)} {v}" for v in ("holds", "fails", "inconclusive") if v in verdicts)


def _provenance(record: dict, label: str, stale: str) -> str:
    prov = record["provenance"]
    commit = (prov.get("commit") or "unknown")[:10]
    return (f"{label}: {prov['scale']} scale on {prov['device_name']}, {prov['started'][:10]}, commit `{commit}`, "
            f"{prov['wall_time_s']:.0f} s{stale}")


SHORT_RULES = {"two standard errors over seeds": "2 SE", "two standard errors of the per-seed differences": "2 SE, paired"}


def _claim_row(claim: dict) -> str:
    rule = SHORT_RULES.get(claim["rule"], claim["rule"])
    return (f"| {claim['statement']} | {claim['method']['label']}: {_fmt(claim['method'])} | "
            f"{claim['baseline']['label']}: {_fmt(claim['baseline'])} | {rule} | **{claim['verdict']}** |")


def sections(scale: str) -> str:
    """The headline table (a chapter's first claim and its tally, per run) and every claim, per chapter."""
    headline = ["| chapter | headline claim | method vs baseline | verdict | all its claims |",
                "|---|---|---|---|---|"]
    every: dict[str, list[str]] = {}
    for label, path in collect(scale):
        record = json.loads(path.read_text())
        if not record["claims"]:
            continue
        name, first = record["paper"], record["claims"][0]
        stale = _stale(record) if label.startswith("results/") else ""
        link = f"{{doc}}`{name} <../notebooks/{name}>`"
        headline.append(f"| {link}<br>{label} | {first['statement']} | {first['method']['label']}: "
                        f"{_fmt(first['method'])}<br>vs {first['baseline']['label']}: {_fmt(first['baseline'])} | "
                        f"**{first['verdict']}**{stale} | {_tally(record['claims'])} |")
        every.setdefault(name, [f"### {name}", ""])
        every[name] += [f"*{_provenance(record, label, stale)}*", "",
                        "| claim | method | baseline | rule | verdict |", "|---|---|---|---|---|",
                        *map(_claim_row, record["claims"]), ""]
    return ("## Headline claims\n\n" + "\n".join(headline) + "\n\n## Every claim\n\n"
            + "\n".join(line for block in every.values() for line in block))


def write_dashboard(scale: str) -> Path:
    path = repo_root() / "book" / "results.md"
    gpu = repo_root() / "results" / "gpu-check" / "report.md"
    gpu_text = gpu.read_text() if gpu.is_file() else NO_GPU_CHECK
    write_text(path, HEADER + sections(scale) + "\n## Latest GPU check\n\n" + gpu_text)
    return path
