"""The ``paperlib`` command: list, run, doctor, warm, book, bench, gpu-check, gpu-wheels.

Parameters are validated before anything is launched: a bad value is one line on stderr and exit 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .core.params import SCALES, ParameterError, Params, Schema
from .core.paths import repo_root
from .gpu.check import DEFAULT_BUDGET_S


def _resolve(args: argparse.Namespace) -> tuple[Schema, Params, dict[str, Any]]:
    """The validated parameters, and the values this command sets explicitly (what papermill injects)."""
    from .papers import schema

    spec = schema(args.name)
    given: dict[str, Any] = {}
    for name, text in args.param or []:
        given[name] = spec.coerce_cli(name, text)
    for name in ("scale", "device"):  # `-p scale full` is `--scale full`; two different values are refused
        option = getattr(args, name)
        if option is not None and given.get(name, option) != option:
            raise ParameterError(f"{args.name}: parameter '{name}': --{name} says {option!r} but -p {name} "
                                 f"says {given[name]!r}")
        if option is not None:
            given[name] = option
    params = spec.resolve(file=args.file, **given)
    explicit = {**(spec.read_file(args.file) if args.file else {}), **given, "scale": params.scale}
    return spec, params, explicit


def cmd_list(args: argparse.Namespace) -> int:
    from .papers import available, schema

    for name in available():
        spec = schema(name)
        print(f"{name}: {spec.description}")
        print("    scale, device, seed: as for every chapter")
        for p in spec.params:
            presets = p.preset if isinstance(p.preset, dict) else {s: p.preset for s in SCALES}
            shown = ", ".join(f"{s}={presets[s]!r}" for s in SCALES)
            print(f"    {p.name} ({p.expected()}): {p.help} [{shown}]")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .core.device import pick_device
    from .runner import execute

    spec, params, explicit = _resolve(args)
    device = pick_device(params.device).type
    dest = Path(args.out) if args.out else repo_root() / "results" / args.name / f"{params.scale}-{device}"
    print(f"running {args.name} at {params.scale} scale on {device} -> {dest}", file=sys.stderr)
    execute(args.name, explicit, dest, timeout_s=args.timeout)
    print(dest / "metrics.json")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    import torch

    from .zoo.pretrained import local_snapshot

    spec, params, _ = _resolve(args)  # data folders are checked by validation
    problems = []
    for p in spec.by_name.values():
        if p.weights and params[p.name]:
            try:
                print(f"weights  {p.name}: {local_snapshot(params[p.name], p.name)}")
            except FileNotFoundError as err:
                problems.append(str(err))
        if p.path and params[p.name]:
            print(f"data     {p.name}: {params[p.name]}")
    gpus = torch.cuda.device_count()
    print(f"gpus     {gpus} visible" + (f" ({torch.cuda.get_device_name(0)})" if gpus else ""))
    if params.scale == "full" and gpus < spec.gpus_full:
        problems.append(f"device: the full-scale run is written for {spec.gpus_full} GPU(s), {gpus} visible")
    print(f"estimate {spec.time_full} for the full-scale run on {spec.gpus_full} GPU(s)")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_warm(args: argparse.Namespace) -> int:
    """Train and cache every zoo model, and each paper's own cached models, ahead of a workshop."""
    import importlib
    import time

    from . import zoo
    from .papers import available

    for name in zoo.list_models():
        start = time.perf_counter()
        _, meta = zoo.create(name, args.scale)
        print(f"{name} ({args.scale}): ready in {time.perf_counter() - start:.0f} s; {meta['facts']}")
    for paper in available():  # a paper with models of its own says so in paperlib/<paper>/warm.py
        try:
            module = importlib.import_module(f"paperlib.{paper}.warm")
        except ModuleNotFoundError as missing:
            if missing.name == f"paperlib.{paper}.warm":
                continue
            raise
        start = time.perf_counter()
        for what in module.warm(args.scale):
            print(f"{paper}: {what} ({args.scale}): ready after {time.perf_counter() - start:.0f} s")
    return 0


def cmd_gpu_check(args: argparse.Namespace) -> int:
    from .gpu.check import gpu_check

    out = Path(args.out) if args.out else repo_root() / "results" / "gpu-check"
    notebooks = [] if args.no_notebooks else args.only
    print(gpu_check(out, dry_run=args.dry_run, notebooks=notebooks, budget_s=args.budget, jobs=args.jobs) / "report.md")
    return 0


def cmd_gpu_wheels(args: argparse.Namespace) -> int:
    from .gpu.wheels import carried, download

    if args.list:
        for name, version in carried(args.python).items():
            print(f"{name}=={version}")
        return 0
    wheels = download(Path(args.dest), args.python)
    print(f"{len(wheels)} wheels, {sum(w.stat().st_size for w in wheels) / 2**20:.1f} MiB, in {args.dest}")
    return 0


def cmd_book(args: argparse.Namespace) -> int:
    from .book import build, execute_chapters
    from .papers import toc_chapters

    if args.only:
        unknown = sorted(set(args.only) - set(toc_chapters()))
        if unknown:
            print(f"error: --only expects chapters of _toc.yml ({', '.join(toc_chapters())}), "
                  f"got {', '.join(unknown)}", file=sys.stderr)
            return 2
        # executions only: the next full build reuses them while unchanged
        for executed in execute_chapters(args.only, args.scale, args.force, args.jobs).values():
            print(executed / "run.ipynb")
        return 0
    html = build(args.scale, force=args.force, jobs=args.jobs)
    print(html / "index.html")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .book.performance import run_benchmarks

    print(f"benchmarks at {args.size} size, one after another", file=sys.stderr)
    results = run_benchmarks(args.size, args.only, Path(args.out) if args.out else None, timeout_s=args.timeout)
    for name, result in results.items():
        print(f"{name}: {result['status']} ({result['seconds']:.0f} s)")
        if result["status"] != "ok":
            print(result["output"], file=sys.stderr)
    return 0 if all(r["status"] == "ok" for r in results.values()) else 1


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="paperlib", description="Run the executable papers.")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="the chapters and their parameters").set_defaults(fn=cmd_list)
    for command, fn, help_text in (("run", cmd_run, "execute a chapter with papermill"),
                                   ("doctor", cmd_doctor, "check data, weights and GPUs before a long run")):
        p = sub.add_parser(command, help=help_text)
        p.add_argument("name")
        p.add_argument("--scale", default=None, help="smoke | cpu | full (default: cpu)")
        p.add_argument("--device", default=None, help="auto | cpu | cuda (default: auto)")
        p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"))
        p.add_argument("-f", "--file", default=None, help="a YAML file of parameters")
        p.set_defaults(fn=fn)
        if command == "run":
            p.add_argument("--out", default=None, help="destination folder (default results/<name>/<scale>-<device>)")
            p.add_argument("--timeout", type=int, default=24 * 3600, help="per-cell timeout in seconds")
    w = sub.add_parser("warm", help="train and cache every zoo model (before a workshop)")
    w.add_argument("--scale", default="cpu", choices=SCALES)
    w.set_defaults(fn=cmd_warm)
    g = sub.add_parser("gpu-check", help="chapters on CUDA, benchmarks, full-size architectures: one report")
    g.add_argument("--dry-run", action="store_true", help="on the CPU at toy sizes (proves it starts)")
    g.add_argument("--no-notebooks", action="store_true", help="skip executing the chapters")
    g.add_argument("--only", nargs="+", metavar="NAME", help="execute only these chapters (default: all)")
    g.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S,
                   help=f"seconds for the whole check; what is left at the deadline is reported as such "
                        f"(default {DEFAULT_BUDGET_S})")
    g.add_argument("--jobs", type=int, default=None, help="chapters run side by side (default: all, up to the CPUs)")
    g.add_argument("--out", default=None, help="report folder (default results/gpu-check)")
    g.set_defaults(fn=cmd_gpu_check)
    ww = sub.add_parser("gpu-wheels", help="download the wheels a lent GPU machine needs for gpu-check")
    ww.add_argument("--dest", default=".whl", help="folder for the wheels (default .whl, ignored by git)")
    ww.add_argument("--python", default="3.12", help="that machine's Python version (default 3.12)")
    ww.add_argument("--list", action="store_true", help="only print name==version of each wheel")
    ww.set_defaults(fn=cmd_gpu_wheels)
    b = sub.add_parser("book", help="execute every chapter and build the HTML book")
    b.add_argument("--scale", default="cpu", choices=SCALES)
    b.add_argument("--force", action="store_true", help="re-execute even unchanged chapters")
    b.add_argument("--only", nargs="+", metavar="NAME",
                   help="only execute these chapters (no HTML); a later full build reuses the executions")
    b.add_argument("--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="chapters executed at once (default: the CPU count; each uses one torch thread)")
    b.set_defaults(fn=cmd_book)
    bb = sub.add_parser("bench", help="run every benchmark and record it for the book's Performance page")
    bb.add_argument("--size", default="cpu", choices=("smoke", "cpu", "full"),
                    help="cpu: the recorded run (default); smoke: seconds, only checks that they run")
    bb.add_argument("--only", nargs="+", metavar="NAME", help="only these benchmarks (benchmarks/<name>.py)")
    bb.add_argument("--out", default=None, help="folder for the records (default results/bench)")
    bb.add_argument("--timeout", type=float, default=600, help="seconds allowed each benchmark (default 600)")
    bb.set_defaults(fn=cmd_bench)
    return ap


def main(argv: list[str] | None = None) -> int:
    from .runner import RunFailed

    args = parser().parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a download attempt at run time
    try:
        return args.fn(args)
    except (ParameterError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RunFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
