"""The results dashboard (``book/results.md``), generated from ``metrics.json`` files before Sphinx runs.

A headline row per run (its chapter's first claim and the tally of all its claims), then every claim,
chapter by chapter: the book's own execution at the built scale, plus every kept run under
``results/<name>/<scale>-<device>/``. Each verdict stands next to its effect (the gain in the claimed
direction with its one-sided 95% bounds) and its rule in words. A kept run whose commit is older than the last
change to its chapter's code is flagged as stale. No number is typed by hand: all come from the JSON files.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

from ..core.atomic import write_text
from ..core.format import fmt_claim_side, fmt_effect
from ..core.paths import book_runs_dir, repo_root
from ..core.verdict import CONFIDENCE
from ..papers import toc_chapters

HEADER = f"""---
html_theme.sidebar_secondary.remove: true
---

# Results dashboard

Generated from the runs' `metrics.json` files when the book was built; nothing here is typed by hand.
Runs at `smoke` scale check the code path, not the claim: expect *inconclusive* there.

:::{{admonition}} One verdict rule for every claim
:class: note
**Over seeds** (*paired t, {CONFIDENCE:.0%}, n=3* in the *rule* column): a one-sided Student-t test at
{CONFIDENCE:.0%} confidence on the method's gain over its baseline, in the direction the paper claims. It is
*paired* (seed by seed) where both arms ran on the same seeds, Welch's test (*Welch t*) where they could not.
The claim **holds** when the gain is positive at {CONFIDENCE:.0%} confidence, **fails** when it is negative at
{CONFIDENCE:.0%} confidence, and is **inconclusive** otherwise. The *effect* column gives the mean gain with
its one-sided 95% bounds (the bounds the test uses: a claim holds exactly when the lower bound, plus any
margin, is above zero). With a *margin* the claim reads "at least as good as the baseline, within the
margin". A claim that needs another one to mean anything (the baseline learns, the model is good enough) is
inconclusive when that one does not hold, and says why.

**Deterministic quantities** (bytes, FLOPs, counts, a design bar): compared with the threshold shown in the
*rule* column; the effect column then shows the compared value.
:::

"""

NO_GPU_CHECK = ("No GPU check has been kept yet: `paperlib gpu-check` on a GPU machine writes one "
                "([Running the notebooks](running.md), *Checking a GPU machine*).\n")


def _git_time(*args: str) -> str | None:
    """A commit time (ISO) from ``git <args>``, or None outside git."""
    try:
        out = subprocess.run(["git", *args], cwd=repo_root(), capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def collect(scale: str) -> list[tuple[str, Path]]:
    """(label, metrics.json) for the book's executions at ``scale`` and every kept run."""
    root = repo_root()
    found = []
    for name in toc_chapters():
        book_run = book_runs_dir(scale) / name / "metrics.json"
        if book_run.is_file():
            found.append((f"this book ({scale})", book_run))
        for kept in sorted((root / "results" / name).glob("*/metrics.json")):
            found.append((f"results/{name}/{kept.parent.name}", kept))
    return found


def _stale(record: dict) -> str:
    """Flag a kept run produced before the last change to its chapter's code."""
    paper, commit = record["paper"], record["provenance"].get("commit")
    changed = _git_time("log", "-1", "--format=%cI", "--", f"paperlib/{paper}", f"notebooks/{paper}.py")
    made = _git_time("show", "-s", "--format=%cI", commit.split("+")[0]) if commit else None
    return " ⚠ stale: the code changed after this run" if changed and made and made < changed else ""


def _tally(claims: list[dict]) -> str:
    verdicts = [c["verdict"] for c in claims]
    return ", ".join(f"{verdicts.count(v)} {v}" for v in ("holds", "fails", "inconclusive") if v in verdicts)


def _verdict(claim: dict) -> str:
    text = f"**{claim['verdict']}**"
    return text + (f" ({claim['void_because']})" if claim.get("void_because") else "")


def _provenance(record: dict, label: str, stale: str) -> str:
    prov = record["provenance"]
    commit = (prov.get("commit") or "unknown")[:10]
    return (f"{label}: {prov['scale']} scale on {prov['device_name']}, {prov['started'][:10]}, commit `{commit}`, "
            f"{prov['wall_time_s']:.0f} s{stale}")


def _claim_row(claim: dict) -> str:
    unit = claim.get("unit", "")
    return (f"| {claim['statement']} | {fmt_claim_side(claim['method'], unit)} | "
            f"{fmt_claim_side(claim['baseline'], unit)} | {fmt_effect(claim)} | {claim['rule']} | "
            f"{_verdict(claim)} |")


def sections(scale: str) -> str:
    """The headline table (a chapter's first claim and its tally, per run) and every claim, per chapter."""
    headline = ["| chapter | headline claim | method vs baseline | effect (95% bounds) | verdict | all its claims |",
                "|---|---|---|---|---|---|"]
    every: dict[str, list[str]] = {}
    for label, path in collect(scale):
        record = json.loads(path.read_text())
        if not record["claims"]:
            continue
        name, first = record["paper"], record["claims"][0]
        stale = _stale(record) if label.startswith("results/") else ""
        unit = first.get("unit", "")
        headline.append(f"| {{doc}}`{name} <../notebooks/{name}>`<br>{label} | {first['statement']} | "
                        f"{fmt_claim_side(first['method'], unit)}<br>vs {fmt_claim_side(first['baseline'], unit)} | "
                        f"{fmt_effect(first)}<br>{first['rule']} | {_verdict(first)}{stale} | "
                        f"{_tally(record['claims'])} |")
        every.setdefault(name, [f"### {name}", ""])
        every[name] += [f"*{_provenance(record, label, stale)}*", "",
                        "| claim | method | baseline | effect (95% bounds) | rule | verdict |", "|---|---|---|---|---|---|",
                        *map(_claim_row, record["claims"]), ""]
    return ("## Headline claims\n\n" + "\n".join(headline) + "\n\n## Every claim\n\n"
            + "\n".join(line for block in every.values() for line in block))


def write_dashboard(scale: str) -> Path:
    path = repo_root() / "book" / "results.md"
    gpu = repo_root() / "results" / "gpu-check" / "report.md"
    gpu_text = gpu.read_text() if gpu.is_file() else NO_GPU_CHECK
    write_text(path, HEADER + sections(scale) + "\n## Latest GPU check\n\n" + gpu_text)
    return path
