"""``paperlib gpu-check``: full-size architectures with random weights, the benchmarks, and every chapter
at ``cpu`` scale on CUDA, in one report under ``results/gpu-check/`` within a time budget.

Written for a lent GPU machine that has its own torch but not this project's other packages: carry the
wheels that ``paperlib gpu-wheels`` downloads and install them with ``--no-deps`` (``book/running.md``).
Each phase stops at the budget's deadline and says so in the report, so the check always ends with one.
``--dry-run`` runs the same code on the CPU at toy sizes and the chapters at ``smoke`` scale.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

import torch

from ..core.atomic import write_json, write_text
from ..core.paths import book_runs_dir, repo_root
from ..runner import run_script

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                 cross_attention_dim=768, attention_head_dim=8)
TOY_UNET = dict(SD15_UNET, block_out_channels=(32, 32, 64, 64), layers_per_block=1, cross_attention_dim=32,
                norm_num_groups=8)
VIDEOCRAFTER_UNET = dict(sample_size=(40, 64), in_channels=4, out_channels=4, layers_per_block=2,
                         block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=1024, attention_head_dim=64)
DEFAULT_BUDGET_S = 330  # the issue's 6 minutes on one H100, less the wheels' install and the interpreter's start
TOY_VIDEO_UNET = dict(VIDEOCRAFTER_UNET, sample_size=(8, 8), block_out_channels=(32, 32, 64, 64), layers_per_block=1,
                      cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)


class Deadline:
    """Seconds left of the check's budget."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.end = time.monotonic() + budget_s

    def left(self) -> float:
        return max(0.0, self.end - time.monotonic())

    def share(self, fraction: float) -> "Deadline":
        """A phase's deadline: at most ``fraction`` of the whole budget, never past the whole deadline."""
        return Deadline(min(self.left(), fraction * self.budget_s))


def _timed(fn: Callable[[], Any], device: torch.device, repeats: int) -> dict[str, float]:
    """Median seconds of ``fn`` after one warm-up, and peak CUDA memory (bytes) where it applies."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    out = {"seconds": sorted(times)[len(times) // 2]}
    if device.type == "cuda":
        out["peak_bytes"] = torch.cuda.max_memory_allocated(device)
    return out


def _dtype(device: torch.device) -> torch.dtype:
    return torch.float16 if device.type == "cuda" else torch.float32


@torch.no_grad()
def time_linfusion_unet(device: torch.device, dry: bool) -> dict[str, Any]:
    """The SD-1.5 UNet (random weights) with softmax (SDPA) vs LinFusion self-attention, at 512 and 1024 px."""
    from diffusers import UNet2DConditionModel

    from ..linfusion import LinFusion

    with torch.device(device):  # built on the GPU: no minute of CPU initialisation for 860M parameters
        unet = UNet2DConditionModel(**(TOY_UNET if dry else SD15_UNET)).to(dtype=_dtype(device)).eval()
    text = torch.randn(1, 77, unet.config.cross_attention_dim, device=device, dtype=_dtype(device))
    out = {}
    for pixels in ((64,) if dry else (512, 1024)):
        latents = torch.randn(1, 4, pixels // 8, pixels // 8, device=device, dtype=_dtype(device))
        step = lambda: unet(latents, 10, encoder_hidden_states=text)  # noqa: E731
        softmax = _timed(step, device, 1 if dry else 5)
        linfusion = LinFusion.construct_for(unet)
        linear = _timed(step, device, 1 if dry else 5)
        linfusion.unmount(unet)
        out[f"{pixels}px"] = {"softmax": softmax, "linfusion": linear,
                              "speedup": softmax["seconds"] / linear["seconds"]}
    return out


@torch.no_grad()
def time_sgformer(device: torch.device, dry: bool) -> dict[str, Any]:
    """SG-Former S/M/B at 224 px (random weights; 112 px in a dry run), images per second."""
    import timm

    import paperlib.sgformer  # noqa: F401  (registers the variants with timm)

    batch = 1 if dry else 64
    side = 112 if dry else 224
    out = {}
    for variant in (("sgformer_s",) if dry else ("sgformer_s", "sgformer_m", "sgformer_b")):
        with torch.device(device):
            model = timm.create_model(variant, img_size=side).to(dtype=_dtype(device)).eval()
        x = torch.randn(batch, 3, side, side, device=device, dtype=_dtype(device))
        timing = _timed(lambda: model(x), device, 1 if dry else 5)
        out[variant] = {**timing, "images_per_s": batch / timing["seconds"]}
    return out


@torch.no_grad()
def time_video_unet(device: torch.device, dry: bool) -> dict[str, Any]:
    """A VideoCrafter-size ``UNet3DConditionModel`` (random weights): one denoising step on 16 frames."""
    from diffusers import UNet3DConditionModel

    config = TOY_VIDEO_UNET if dry else VIDEOCRAFTER_UNET
    with torch.device(device):
        unet = UNet3DConditionModel(**config).to(dtype=_dtype(device)).eval()
    h, w = config["sample_size"]
    frames = 4 if dry else 16
    latents = torch.randn(1, 4, frames, h, w, device=device, dtype=_dtype(device))
    text = torch.randn(1, 77, config["cross_attention_dim"], device=device, dtype=_dtype(device))
    return {f"{frames}_frames": _timed(lambda: unet(latents, 10, encoder_hidden_states=text), device,
                                       1 if dry else 3)}


ARCHITECTURES = {"linfusion_sd15_unet": time_linfusion_unet, "sgformer": time_sgformer,
                 "videocrafter_unet3d": time_video_unet}


def time_architectures(device: torch.device, dry: bool, deadline: Deadline) -> dict[str, Any]:
    from diffusers.utils import logging

    logging.set_verbosity_error()  # its advice on float32 modules is for pretrained weights, not these
    report: dict[str, Any] = {}
    for name, fn in ARCHITECTURES.items():
        if not deadline.left():
            report[name] = {"error": "skipped: the check's time budget was spent"}
            continue
        try:
            report[name] = fn(device, dry)
        except Exception as err:  # one failing architecture must not hide the others
            report[name] = {"error": f"{type(err).__name__}: {err}"}
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return report


def run_benchmarks(device: str, dry: bool, out: Path, deadline: Deadline) -> dict[str, Any]:
    """Each benchmark at ``cpu`` size on ``device``, one after another, recorded under ``out`` (where the
    Performance page finds a kept check's records); a dry run only asks each for its ``--help``."""
    from ..book.performance import benchmark_command, benchmarks

    report = {}
    for name in benchmarks():
        command = benchmark_command(name, "cpu", device, out)
        report[name] = run_script(command[:2] + ["--help"] if dry else command, deadline.left())
        record = out / f"{name}.cpu-{device}.json"
        if not dry and report[name]["status"] == "ok" and record.is_file():
            report[name]["ratios"] = json.loads(record.read_text())["ratios"]
    return report


def _verdicts(metrics: Path) -> dict[str, str]:
    if not metrics.is_file():
        return {}
    return {c["name"]: c["verdict"] for c in json.loads(metrics.read_text())["claims"]}


def _cpu_book_seconds(name: str) -> float | None:
    """The chapter's wall time in this book's own ``cpu``-scale execution, where one is at hand."""
    metrics = book_runs_dir("cpu") / name / "metrics.json"
    return json.loads(metrics.read_text())["provenance"]["wall_time_s"] if metrics.is_file() else None


def run_notebooks(names: list[str], scale: str, device: str, out: Path, deadline: Deadline,
                  jobs: int) -> dict[str, Any]:
    """The chapters at ``scale`` on ``device``, ``jobs`` at a time (one GPU can hold them all), each
    through ``paperlib run`` so that its run is staged and kept exactly as a user's would be."""
    def one(name: str) -> dict[str, Any]:
        result = run_script([sys.executable, "-m", "paperlib.cli", "run", name, "--scale", scale, "--device", device,
                       "--out", str(out / name)], deadline.left())
        cpu_seconds = _cpu_book_seconds(name) if scale == "cpu" else None
        ok = result["status"] == "ok"
        return {**result, "output": "" if ok else result["output"], "verdicts": _verdicts(out / name / "metrics.json"),
                "cpu_book_seconds": cpu_seconds,
                "speedup": cpu_seconds / result["seconds"] if ok and cpu_seconds else None}

    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return dict(zip(names, pool.map(one, names)))


def gpu_check(out: Path, dry_run: bool = False, notebooks: list[str] | None = None,
              budget_s: float = DEFAULT_BUDGET_S, jobs: int | None = None) -> Path:
    """Run the whole check and write ``report.json`` and ``report.md`` into ``out``.

    ``notebooks``: the chapters to execute (default: every chapter of the book; ``[]``: none).
    """
    from ..papers import toc_chapters

    device = torch.device("cpu" if dry_run else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: gpu-check needs a CUDA GPU (use --dry-run on a CPU)")
    names = toc_chapters() if notebooks is None else list(notebooks)
    unknown = sorted(set(names) - set(toc_chapters()))
    if unknown:
        raise ValueError(f"--only: expected chapters of _toc.yml ({', '.join(toc_chapters())}), got {', '.join(unknown)}")
    deadline = Deadline(budget_s)
    started = time.perf_counter()
    report: dict[str, Any] = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "dry_run": dry_run,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
        "budget_s": budget_s,
    }
    # timings first, each phase alone on the GPU and within its share, so that the chapters keep the rest
    report["architectures"] = time_architectures(device, dry_run, deadline.share(0.2))
    report["benchmarks"] = run_benchmarks(device.type, dry_run, out / "bench", deadline.share(0.3))
    scale = "smoke" if dry_run else "cpu"
    report["notebooks"] = run_notebooks(names, scale, device.type, out / "notebooks", deadline,
                                        jobs or min(len(names), os.cpu_count() or 1)) if names else {}
    report["notebook_scale"] = scale
    report["seconds"] = time.perf_counter() - started
    write_json(out / "report.json", report)
    write_text(out / "report.md", markdown(report))
    return out


def _ms(timing: dict[str, Any]) -> str:
    text = f"{1000 * timing['seconds']:.1f} ms"
    return text + (f", peak {timing['peak_bytes'] / 2**30:.1f} GiB" if "peak_bytes" in timing else "")


def _architecture_lines(name: str, result: dict[str, Any]) -> list[str]:
    if "error" in result:
        return [f"- **{name}**: {result['error']}"]
    if name == "linfusion_sd15_unet":
        return [f"- **SD-1.5 UNet, {size}** (one step): softmax attention {_ms(r['softmax'])}; LinFusion "
                f"{_ms(r['linfusion'])}; LinFusion is {r['speedup']:.2f}x as fast" for size, r in result.items()]
    if name == "sgformer":
        return [f"- **{variant}**: {r['images_per_s']:.0f} images/s ({_ms(r)} a batch)" for variant, r in result.items()]
    return [f"- **VideoCrafter-size UNet3D, {frames.replace('_', ' ')}** (one step): {_ms(r)}"
            for frames, r in result.items()]


def markdown(report: dict[str, Any]) -> str:
    """The report for people: what ran where, how long, and what did not finish."""
    lines = [f"GPU check on **{report['device']}** (torch {report['torch']}, Python {report['python']}, "
             f"{report['cpu_count']} CPU cores), {report['started'][:10]}, {report['seconds']:.0f} s of a "
             f"{report['budget_s']:.0f} s budget" + (" — a dry run on the CPU at toy sizes" if report["dry_run"]
                                                     else "") + ".", "", "**Full-size architectures, random weights**", ""]
    for name, result in report["architectures"].items():
        lines += _architecture_lines(name, result)
    if report["notebooks"]:
        lines += ["", f"**Chapters at `{report['notebook_scale']}` scale** (run side by side)", "",
                  "| chapter | status | seconds | 2-core CPU book | claims: holds / fails / inconclusive |",
                  "|---|---|---|---|---|"]
        for name, r in report["notebooks"].items():
            verdicts = list(r["verdicts"].values())
            counts = " / ".join(str(verdicts.count(v)) for v in ("holds", "fails", "inconclusive"))
            cpu = f"{r['cpu_book_seconds']:.0f} s ({r['speedup']:.1f}x)" if r["speedup"] else "—"
            lines.append(f"| {name} | {r['status']} | {r['seconds']:.0f} | {cpu} | {counts if verdicts else '—'} |")
    lines += ["", "**Benchmarks** at `cpu` size (their ratios against the targets; every point on the Performance page)", ""]
    for name, r in report["benchmarks"].items():
        ratios = "; ".join(f"{x['statement']}: {x['value']:.3g}{x.get('unit', 'x')} "
                           f"({'met' if x['met'] else 'not met'})" for x in r.get("ratios", []))
        lines.append(f"- {name}: {r['status']}, {r['seconds']:.0f} s" + (f"; {ratios}" if ratios else ""))
    return "\n".join(lines) + "\n"
