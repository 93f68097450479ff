"""``paperlib gpu-check``: every chapter at ``cpu`` scale on CUDA, the benchmarks, and full-size
architectures with random weights, in one report under ``results/gpu-check/``.

Written for a lent GPU machine that has its own torch but not this project's other packages: carry the
pure-Python wheels (``make gpu-wheels`` puts them in ``.whl/``) and install them with ``--no-deps``.
``--dry-run`` runs the same code on the CPU at toy sizes in seconds (CI proves it starts).
"""
from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

from .core.atomic import write_json, write_text
from .core.paths import repo_root

SD15_UNET = dict(sample_size=64, in_channels=4, out_channels=4, layers_per_block=2,
                 block_out_channels=(320, 640, 1280, 1280),
                 down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
                 up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
                 cross_attention_dim=768, attention_head_dim=8)
TOY_UNET = dict(SD15_UNET, block_out_channels=(32, 32, 64, 64), layers_per_block=1, cross_attention_dim=32,
                norm_num_groups=8)
VIDEOCRAFTER_UNET = dict(sample_size=(40, 64), in_channels=4, out_channels=4, layers_per_block=2,
                         block_out_channels=(320, 640, 1280, 1280), cross_attention_dim=1024, attention_head_dim=64)
TOY_VIDEO_UNET = dict(VIDEOCRAFTER_UNET, sample_size=(8, 8), block_out_channels=(32, 32, 64, 64), layers_per_block=1,
                      cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8)


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


@torch.no_grad()
def time_linfusion_unet(device: torch.device, dry: bool) -> dict[str, Any]:
    """The SD-1.5 UNet (random weights) with softmax (SDPA) vs LinFusion self-attention, at 512 and 1024 px."""
    from diffusers import UNet2DConditionModel

    from .linfusion import LinFusion

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    unet = UNet2DConditionModel(**(TOY_UNET if dry else SD15_UNET)).to(device, dtype).eval()
    text = torch.randn(1, 77, unet.config.cross_attention_dim, device=device, dtype=dtype)
    out = {}
    for pixels in ((64,) if dry else (512, 1024)):
        latents = torch.randn(1, 4, pixels // 8, pixels // 8, device=device, dtype=dtype)
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

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    batch = 1 if dry else 64
    out = {}
    for variant in (("sgformer_s",) if dry else ("sgformer_s", "sgformer_m", "sgformer_b")):
        side = 112 if dry else 224
        model = timm.create_model(variant, img_size=side).to(device, dtype).eval()
        x = torch.randn(batch, 3, side, side, device=device, dtype=dtype)
        timing = _timed(lambda: model(x), device, 1 if dry else 5)
        out[variant] = {**timing, "images_per_s": batch / timing["seconds"]}
    return out


@torch.no_grad()
def time_video_unet(device: torch.device, dry: bool) -> dict[str, Any]:
    """A VideoCrafter-size ``UNet3DConditionModel`` (random weights): one denoising step on 16 frames."""
    from diffusers import UNet3DConditionModel

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    config = TOY_VIDEO_UNET if dry else VIDEOCRAFTER_UNET
    unet = UNet3DConditionModel(**config).to(device, dtype).eval()
    h, w = config["sample_size"]
    frames = 4 if dry else 16
    latents = torch.randn(1, 4, frames, h, w, device=device, dtype=dtype)
    text = torch.randn(1, 77, config["cross_attention_dim"], device=device, dtype=dtype)
    return {f"{frames}_frames": _timed(lambda: unet(latents, 10, encoder_hidden_states=text), device,
                                       1 if dry else 3)}


def run_notebooks(device: str, out: Path) -> dict[str, Any]:
    """Every chapter at ``cpu`` scale on ``device``, timed, next to its cpu-scale time from the book."""
    from .papers import toc_chapters
    from .runner import RunFailed, execute

    report = {}
    for name in toc_chapters():
        start = time.perf_counter()
        try:
            execute(name, {"scale": "cpu", "device": device}, out / name)
            status = "ok"
        except RunFailed as err:
            status = str(err)
        seconds = time.perf_counter() - start
        book = repo_root() / "_build" / "book-runs" / "cpu" / name / "metrics.json"
        cpu_seconds = json.loads(book.read_text())["provenance"]["wall_time_s"] if book.is_file() else None
        report[name] = {"status": status, "seconds": seconds, "cpu_book_seconds": cpu_seconds,
                        "speedup": cpu_seconds / seconds if cpu_seconds else None}
    return report


def run_benchmarks(device: str, dry: bool) -> dict[str, Any]:
    """Each ``benchmarks/<name>.py`` on ``device`` (``--help`` only in a dry run); its printed output kept."""
    report = {}
    for script in sorted((repo_root() / "benchmarks").glob("*.py")):
        args = ["--help"] if dry else ["--device", device]
        done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                              cwd=repo_root(), timeout=600)
        report[script.stem] = {"returncode": done.returncode, "output": done.stdout[-4000:] + done.stderr[-1000:]}
    return report


def gpu_check(out: Path, dry_run: bool = False, notebooks: bool = True) -> Path:
    """Run the whole check and write ``report.json`` and ``report.md`` into ``out``."""
    device = torch.device("cpu" if dry_run else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: gpu-check needs a CUDA GPU (use --dry-run on a CPU)")
    report: dict[str, Any] = {
        "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "dry_run": dry_run,
        "device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu",
        "torch": torch.__version__, "architectures": {},
    }
    for name, fn in (("linfusion_sd15_unet", time_linfusion_unet), ("sgformer", time_sgformer),
                     ("videocrafter_unet3d", time_video_unet)):
        try:
            report["architectures"][name] = fn(device, dry_run)
        except Exception as err:  # one failing architecture must not hide the others
            report["architectures"][name] = {"error": f"{type(err).__name__}: {err}"}
    report["benchmarks"] = run_benchmarks(device.type, dry_run)
    if notebooks and not dry_run:
        report["notebooks"] = run_notebooks("cuda", out / "notebooks")
    write_json(out / "report.json", report)
    write_text(out / "report.md", markdown(report))
    return out


def markdown(report: dict[str, Any]) -> str:
    lines = [f"GPU check on **{report['device']}** (torch {report['torch']}), {report['started'][:10]}"
             + (" — dry run on the CPU at toy sizes" if report["dry_run"] else "") + ".", ""]
    for name, result in report["architectures"].items():
        lines.append(f"- **{name}**: `{json.dumps(result, default=str)[:400]}`")
    for name, result in report.get("notebooks", {}).items():
        speed = f"{result['speedup']:.1f}x faster than the 2-core CPU" if result["speedup"] else "no CPU figure"
        lines.append(f"- notebook **{name}**: {result['status']}, {result['seconds']:.0f} s ({speed})")
    for name, result in report["benchmarks"].items():
        lines.append(f"- benchmark **{name}**: exit {result['returncode']}")
    return "\n".join(lines) + "\n"
