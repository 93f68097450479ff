"""The Performance page (``book/performance.md``) and ``paperlib bench``, which fills it.

``paperlib bench`` runs every ``benchmarks/<name>.py`` at one size (``cpu`` by default), one after another;
each records its run through :class:`paperlib.core.bench.Bench` as ``results/bench/<name>.<size>-<device>.json``.
Before Sphinx runs, :func:`write_performance` turns those records into the page: per benchmark, when and
where it ran, a table of its ratios against their targets and one log-log figure per recorded figure,
drawn here from the recorded rows. Smoke-size records check that a benchmark runs, not how fast: never
shown. A benchmark without a recorded run is listed as such. No number on the page is typed by hand.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Sequence

from ..core.atomic import write_text
from ..core.bench import bench_dir
from ..core.format import fmt_number
from ..core.paths import repo_root
from ..runner import run_script

SHOWN_SIZES = ("cpu", "full")  # smoke runs prove a benchmark runs; their numbers mean nothing

HEADER = """# Performance

The papers' speed and memory claims, measured side by side: each `benchmarks/<name>.py` runs the method
and its baseline in one process, on the same inputs, and records the ratios it claims against their
targets. This page is generated from those recorded runs (`results/bench/*.json`) when the book is built;
nothing here is typed by hand. Record them again with `paperlib bench` (or `make bench`), one after
another on an otherwise quiet machine: absolute times depend on the machine and its load, the ratios
much less. The tests only run the benchmarks at `smoke` size, to check that they run; they never judge a
time.

"""


def benchmarks() -> list[str]:
    """The benchmarks of the repository: ``benchmarks/<name>.py``."""
    return sorted(p.stem for p in (repo_root() / "benchmarks").glob("*.py"))


def bench_sources() -> list[Path]:
    """Folders of recorded runs: ``paperlib bench``'s, and the kept GPU check's."""
    return [bench_dir(), repo_root() / "results" / "gpu-check" / "bench"]


def recorded(name: str, folders: Sequence[Path] | None = None) -> list[dict[str, Any]]:
    """The recorded runs of benchmark ``name`` worth showing (not smoke), newest first."""
    records = []
    for folder in folders if folders is not None else bench_sources():
        for path in sorted(Path(folder).glob(f"{name}.*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            if record.get("benchmark") == name and record.get("size") in SHOWN_SIZES:
                records.append(record)
    return sorted(records, key=lambda r: r["provenance"]["date"], reverse=True)


def _ratio_value(ratio: dict[str, Any]) -> str:
    return f"{fmt_number(ratio['value'], 3)}{ratio.get('unit', 'x')}"


def _ratio_target(ratio: dict[str, Any]) -> str:
    return f"{'≥' if ratio['higher_is_better'] else '≤'} {fmt_number(ratio['target'], 3)}{ratio.get('unit', 'x')}"


def where_and_when(record: dict[str, Any]) -> str:
    """One line: size, device, threads, host, date and commit of a recorded run."""
    prov = record["provenance"]
    threads = prov.get("threads")
    cores = f" of {prov['cpu_count']} cores" if prov.get("cpu_count") else ""
    commit = prov.get("commit") or "unknown"
    dirty = " (with uncommitted changes)" if commit.endswith("+dirty") else ""
    return (f"`{record['size']}` size on {prov.get('device_name', prov.get('device', '?'))}"
            + (f", {threads} thread{'s' if threads != 1 else ''}{cores}" if threads else "")
            + (f", host `{prov['host']}`" if prov.get("host") else "")
            + f", {prov['date'][:16].replace('T', ' ')} UTC, commit `{commit[:10]}`{dirty}")


def ratio_table(record: dict[str, Any]) -> list[str]:
    lines = ["| ratio | measured | target | |", "|---|---|---|---|"]
    for r in record["ratios"]:
        lines.append(f"| {r['statement']} | {_ratio_value(r)} | {_ratio_target(r)} | "
                     f"{'**met**' if r['met'] else '**not met**'} |")
    return lines if record["ratios"] else ["*(this run recorded no ratio)*"]


def rows_table(record: dict[str, Any]) -> list[str]:
    """Every measured point, in a dropdown under the figures."""
    columns: list[str] = []
    for row in record["rows"]:
        columns += [c for c in row if c not in columns]
    lines = [":::{dropdown} Every measured point", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    for row in record["rows"]:
        lines.append("| " + " | ".join(fmt_number(row.get(c, "")) if row.get(c) is not None else "—"
                                       for c in columns) + " |")
    return lines + [":::"]


def draw_figure(record: dict[str, Any], spec: dict[str, Any], path: Path) -> str:
    """Draw one recorded figure (``spec`` over ``record['rows']``) into ``path``; return its alt text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..core.plotting import use_style

    use_style()
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    for column in spec["ys"]:
        points = sorted((row[spec["x"]], row[column]) for row in record["rows"]
                        if row.get(spec["x"]) is not None and row.get(column) is not None)
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", label=column)
    if spec.get("loglog", True):
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(spec.get("xlabel") or spec["x"])
    ax.set_ylabel(spec.get("ylabel", ""))
    ax.set_title(spec.get("title", ""))
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    scales = "log-log" if spec.get("loglog", True) else "linear axes"
    return (f"{spec.get('title', record['benchmark'])}: {spec.get('ylabel', '')} against "
            f"{spec.get('xlabel') or spec['x']} ({scales}), one line each for {', '.join(spec['ys'])}")


def section(record: dict[str, Any], figures_dir: Path, page_dir: Path) -> list[str]:
    """One recorded run: where and when, its ratios, its figures, its points."""
    prov = record["provenance"]
    lines = [f"*{where_and_when(record)}.*", "", *ratio_table(record), ""]
    for k, spec in enumerate(record["figures"]):
        path = figures_dir / f"{record['benchmark']}.{record['size']}-{prov.get('device', 'cpu')}.{k}.png"
        alt = draw_figure(record, spec, path)
        lines += [f"```{{image}} {path.relative_to(page_dir).as_posix()}", f":alt: {alt}", ":width: 560px",
                  "```", ""]
    if record["rows"]:
        lines += [*rows_table(record), ""]
    return lines


def page(names: Sequence[str] | None = None, folders: Sequence[Path] | None = None,
         page_dir: Path | None = None) -> str:
    """The Markdown of the Performance page (figures are written under ``<page_dir>/performance/``)."""
    names = benchmarks() if names is None else list(names)
    page_dir = page_dir or repo_root() / "book"
    figures_dir = page_dir / "performance"
    runs = {name: recorded(name, folders) for name in names}
    summary = ["| benchmark | latest recorded run | ratios met |", "|---|---|---|"]
    body: list[str] = []
    for name, records in runs.items():
        if not records:
            summary.append(f"| `{name}` | none yet | — |")
            body += [f"## `{name}`", "", f"No recorded run yet: `python benchmarks/{name}.py --size cpu` "
                     "(or `paperlib bench`) records one.", ""]
            continue
        latest = records[0]
        met = sum(r["met"] for r in latest["ratios"])
        summary.append(f"| {{ref}}`{name} <performance-{name}>` | {latest['provenance']['date'][:10]}, "
                       f"{latest['provenance'].get('device_name', '?')} | {met} of {len(latest['ratios'])} |")
        body += [f"(performance-{name})=", f"## `{name}`", ""]
        for record in records:
            body += section(record, figures_dir, page_dir)
    return HEADER + "\n".join(summary) + "\n\n" + "\n".join(body) + "\n"


def write_performance() -> Path:
    path = repo_root() / "book" / "performance.md"
    write_text(path, page())
    return path


def benchmark_command(name: str, size: str, device: str = "cpu", out: Path | None = None) -> list[str]:
    """The command line that runs ``benchmarks/<name>.py`` (recording into ``out``, default ``results/bench``)."""
    return ([sys.executable, str(repo_root() / "benchmarks" / f"{name}.py"), "--size", size, "--device", device]
            + (["--out", str(out)] if out is not None else []))


def run_benchmarks(size: str = "cpu", names: Sequence[str] | None = None, out: Path | None = None,
                   device: str = "cpu", timeout_s: float = 600) -> dict[str, dict[str, Any]]:
    """Run each benchmark at ``size``, one after another (they time themselves: two at once would measure
    their contention), each stopped after ``timeout_s``; name -> status, seconds, output tail."""
    known = benchmarks()
    names = known if names is None else list(names)
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ValueError(f"benchmark: expected one of {', '.join(known)}, got {', '.join(unknown)}")
    return {name: run_script(benchmark_command(name, size, device, out), timeout_s) for name in names}
