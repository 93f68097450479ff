"""Recording a side-by-side benchmark: measured points, figures and ratios against targets, with provenance.

Each ``benchmarks/<name>.py`` runs the method and its baseline in one process and records through
:class:`Bench`; ``save`` writes ``results/bench/<name>.<size>-<device>.json`` atomically (``--out`` elsewhere), where
the book's Performance page finds it. Absolute times are recorded but never judged by a test: only the
ratios carry targets.

    args = bench_arguments(__doc__)          # --size smoke|cpu, --device, --out
    bench = Bench("linfusion", args.size, pick_device(args.device), args.out)
    bench.row(tokens=4096, linear_ms=1.2, sdpa_ms=9.8)
    bench.figure(x="tokens", ys=("linear_ms", "sdpa_ms"), ylabel="ms per call", title="time vs tokens")
    bench.ratio("speedup_64k", 12.3, target=10, statement="linear vs fused SDPA at 64k tokens")
    bench.save()
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any, Sequence

import torch

from . import atomic
from .device import device_name
from .paths import repo_root

SIZES = ("smoke", "cpu", "full")


def bench_arguments(description: str | None, argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options every benchmark takes: ``--size``, ``--device``, ``--out``."""
    parser = argparse.ArgumentParser(description=(description or "").strip().splitlines()[0] if description else None)
    parser.add_argument("--size", choices=SIZES, default="cpu",
                        help="smoke: seconds (CI); cpu: the recorded run (about 2 minutes); full: a GPU's sizes")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--out", default=None, help="folder for <name>.<size>-<device>.json (default results/bench)")
    return parser.parse_args(argv)


def bench_dir() -> Path:
    """Where recorded benchmark runs live: ``results/bench`` (kept in the repository for the book)."""
    return repo_root() / "results" / "bench"


class Bench:
    """One benchmark run: rows of measured points, figures over them, ratios against targets."""

    def __init__(self, name: str, size: str, device: torch.device | str = "cpu", out: str | Path | None = None):
        if size not in SIZES:
            raise ValueError(f"size: expected one of {', '.join(SIZES)}, got {size!r}")
        self.name, self.size = name, size
        self.device = torch.device(device)
        self.out = Path(out) if out is not None else bench_dir()
        self.started = dt.datetime.now(dt.timezone.utc)
        self.rows: list[dict[str, Any]] = []
        self.figures: list[dict[str, Any]] = []
        self.ratios: list[dict[str, Any]] = []

    def row(self, **values: Any) -> dict[str, Any]:
        """One measured point (e.g. ``tokens=4096, linear_ms=1.2, sdpa_ms=9.8``)."""
        self.rows.append(values)
        return values

    def figure(self, x: str, ys: Sequence[str], *, ylabel: str, title: str, xlabel: str | None = None,
               loglog: bool = True) -> None:
        """A figure of columns ``ys`` against ``x`` over the rows (log-log by default)."""
        self.figures.append({"x": x, "ys": list(ys), "xlabel": xlabel or x, "ylabel": ylabel, "title": title,
                             "loglog": loglog})

    def ratio(self, name: str, value: float, *, target: float, statement: str, higher_is_better: bool = True,
              unit: str = "x") -> bool:
        """A ratio against its target (``met`` when on the claimed side of it); printed and recorded."""
        met = value >= target if higher_is_better else value <= target
        self.ratios.append({"name": name, "value": float(value), "target": float(target), "unit": unit,
                            "higher_is_better": higher_is_better, "statement": statement, "met": bool(met)})
        side = ">=" if higher_is_better else "<="
        print(f"{statement}: {value:.3g}{unit} (target {side} {target:g}{unit}) -> {'met' if met else 'NOT met'}")
        return met

    def record(self) -> dict[str, Any]:
        from .record import git_commit, package_versions

        return {
            "benchmark": self.name, "size": self.size,
            "provenance": {"device": self.device.type, "device_name": device_name(self.device),
                           "threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
                           "host": platform.node(), "commit": git_commit(), "versions": package_versions(),
                           "date": self.started.isoformat(timespec="seconds")},
            "rows": self.rows, "figures": self.figures, "ratios": self.ratios,
        }

    def save(self) -> Path:
        path = self.out / f"{self.name}.{self.size}-{self.device.type}.json"
        atomic.write_json(path, self.record())
        print(f"recorded {path}")
        return path
