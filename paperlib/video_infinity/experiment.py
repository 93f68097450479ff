"""Generating a long video three ways, and what the chapter measures about it.

Every rank runs :func:`run_jobs` (through ``paperlib.core.launch``); a job denoises a latent video of
``frames`` frames with DDIM, the rank holding clip ``r`` (frames ``r F_l ... (r+1) F_l - 1``):

* ``video_infinity``: the UNet patched by :func:`~paperlib.video_infinity.kernels.make_clip_parallel`;
* ``independent``: the unmodified UNet on the rank's clip alone (one clip at a time, no communication);
* ``whole``: the unmodified UNet on the whole video (one rank);
* ``reference``: the whole video with the dual-scope pattern in one process (one rank).

The initial noise is drawn for the whole video from one seed and sliced, so all ways start alike.
Metrics: :func:`seam_ratio`, :func:`digit_consistency`. Narrated in notebooks/video_infinity.py.
"""
from __future__ import annotations

import resource
import time
from typing import Any

import torch
from torch import nn

from .kernels import ClipComm, DualScope, make_clip_parallel, set_dual_scope_reference
from .models import call_unet, make_video_unet

__all__ = ["run_jobs", "video_job", "build_model", "measure_costs", "measure_bytes", "cost_spec", "faulty_job", "to_frames", "generate_three_ways", "exactness", "seam_ratio", "digit_consistency", "check_split",
           "MODES", "stitch"]

MODES = ("video_infinity", "independent", "whole", "reference")


def check_split(frames: int, world_size: int, scope: DualScope | None = None, conv_halo: int = 4) -> int:
    """Frames per rank ``F_l = F / N``; a clear error for a split the method cannot run."""
    if world_size > frames:
        raise ValueError(f"world_size: {world_size} processes for a video of {frames} frames: "
                         "more processes than clips")
    if frames % world_size:
        raise ValueError(f"frames: {frames} frames do not split into {world_size} equal clips")
    f_l = frames // world_size
    if world_size > 1:
        need = max(conv_halo, (scope.padding or 0) if scope is not None else 0)
        if f_l < need:
            raise ValueError(f"frames: clips of {f_l} frames are shorter than the exchanged context "
                             f"({need} frames: conv halo {conv_halo}, attention padding "
                             f"{scope.padding if scope else None})")
    return f_l


def build_model(spec: dict[str, Any]) -> tuple[nn.Module, torch.Tensor]:
    """The UNet named by ``spec`` and its conditioning ``(1, S, D)`` (same on every rank)."""
    dtype = getattr(torch, spec.get("dtype", "float32"))
    if spec["kind"] == "random":
        unet = make_video_unet(spec.get("seed", 0), dtype, **spec.get("config", {}))
        gen = torch.Generator().manual_seed(spec.get("seed", 0) + 7)
        cond = torch.randn(1, 4, unet.config.cross_attention_dim, generator=gen).to(dtype)
        return unet, cond
    if spec["kind"] == "motion":
        from .models import motion_model

        model, _ = motion_model(spec["scale"])
        label = torch.tensor([spec.get("label", 10)])
        return model.unet.to(dtype), model.cond(label).detach().to(dtype)
    raise ValueError(f"model kind: expected 'random' or 'motion', got {spec['kind']!r}")


def _scheduler(steps: int):
    from diffusers import DDIMScheduler

    from ..zoo import make_scheduler

    sched = DDIMScheduler.from_config(make_scheduler("ddim").config, timestep_spacing="trailing")
    sched.set_timesteps(steps)
    return sched


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@torch.no_grad()
def video_job(rank: int, world_size: int, device: torch.device, job: dict[str, Any]) -> dict[str, Any]:
    """Denoise this rank's part of one video; return its clip and per-step costs."""
    mode, frames = job["mode"], job["frames"]
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if mode in ("whole", "reference") and world_size != 1:
        raise ValueError(f"mode {mode!r} runs on one process, got world_size={world_size}")
    scope = DualScope(**job["scope"]) if job.get("scope") else DualScope.exact(frames)
    f_l = check_split(frames, world_size, scope if mode == "video_infinity" else None)
    unet, cond = build_model(job["model"])
    unet, cond = unet.to(device), cond.to(device)
    comm = None
    if mode == "video_infinity":
        comm = ClipComm()
        make_clip_parallel(unet, comm, scope)
    elif mode == "reference":
        set_dual_scope_reference(unet, scope, job.get("split", 1))
    dtype = next(unet.parameters()).dtype
    c, size = unet.config.in_channels, unet.config.sample_size
    gen = torch.Generator().manual_seed(job.get("seed", 0))
    z = torch.randn(1, c, frames, size, size, generator=gen, dtype=torch.float64).to(dtype)
    if mode in ("video_infinity", "independent"):
        z = z[:, :, rank * f_l:(rank + 1) * f_l]
    z = z.to(device).contiguous()
    sched = _scheduler(job.get("steps", 2))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base_mb = _peak_mb(device) if device.type == "cpu" else 0.0
    eps_first = None
    t0 = time.perf_counter()
    for t in sched.timesteps:
        eps = call_unet(unet, z, t.to(device), cond)
        eps_first = eps.cpu() if eps_first is None else eps_first
        z = sched.step(eps, t, z).prev_sample
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    steps = len(sched.timesteps)
    out = {"rank": rank, "world_size": world_size, "mode": mode, "frames_per_rank": z.shape[2],
           "latents": z.float().cpu(), "eps_first": eps_first.float().cpu() if job.get("keep_eps") else None,
           "eps_first64": eps_first.double() if job.get("keep_eps") else None,
           "seconds_per_step": seconds / steps,
           "peak_mb": _peak_mb(device) - base_mb, "peak_abs_mb": _peak_mb(device)}
    if comm is not None:
        out.update(bytes_per_step=comm.total_bytes / steps,
                   bytes_by_kind={k: v / steps for k, v in comm.bytes.items()},
                   calls_per_step={k: v / steps for k, v in comm.calls.items()},
                   comm_seconds_per_step=comm.seconds / steps)
    return out


def run_jobs(rank: int, world_size: int, device: torch.device, jobs: list[dict[str, Any]]) -> list[dict]:
    """The rank function for ``launch``: run ``jobs`` in order (the first one's memory is the clean one)."""
    return [video_job(rank, world_size, device, job) for job in jobs]


def stitch(results: list[dict[str, Any]], key: str = "latents") -> torch.Tensor:
    """The ranks' clips of one job joined along time: ``(B, C, F, H, W)``."""
    return torch.cat([r[key] for r in sorted(results, key=lambda r: r["rank"])], dim=2)


def seam_ratio(video: torch.Tensor, clip_frames: int) -> float:
    """Mean ``|x_{f+1} - x_f|`` over pairs that cross a clip boundary over the same within clips.

    ``video: (F, ...)``; 1 means the seams are as smooth as the motion inside a clip.
    """
    diffs = (video[1:] - video[:-1]).abs().flatten(1).mean(1)  # (F-1,)
    cross = torch.tensor([(f + 1) % clip_frames == 0 for f in range(len(diffs))])
    if not cross.any() or cross.all():
        raise ValueError(f"seam_ratio: a video of {len(video)} frames has no seams at clip length {clip_frames}")
    return float(diffs[cross].mean() / diffs[~cross].mean())


@torch.no_grad()
def digit_consistency(frames: torch.Tensor, classifier: nn.Module) -> tuple[float, int]:
    """Share of frames the classifier puts in the video's most frequent class, and that class.

    ``frames: (F, 3, H, W)`` in [0, 1]."""
    pred = classifier(frames).argmax(1)
    mode = int(pred.mode().values)
    return float((pred == mode).float().mean()), mode


def faulty_job(rank: int, world_size: int, device: torch.device, dead_rank: int) -> float:
    """A run in which ``dead_rank`` fails while the others wait in a collective (for the bad-input tests)."""
    import torch.distributed as dist

    if rank == dead_rank:
        raise RuntimeError(f"rank {rank} died")
    x = torch.ones(1)
    dist.all_reduce(x)  # never completes: the launcher must stop this rank, or the timeout must
    return float(x)


def cost_spec(size: int, dtype: str = "float32") -> dict[str, Any]:
    """The randomly initialised miniature UNet3D at latent side ``size`` (for the cost measurements)."""
    return {"kind": "random", "dtype": dtype, "config": {"sample_size": size}}


def measure_costs(frames: int, size: int, steps: int, scope: dict[str, Any], device: str = "cpu",
                  worlds: tuple[int, ...] = (1, 2)) -> dict[int, list[dict[str, Any]]]:
    """Per-rank costs of one Video-Infinity video of ``frames`` frames on each world size in ``worlds``.

    Each world size is its own launch and its only job, so ``peak_mb`` (peak RSS over the rank's
    post-build baseline on CPU, ``max_memory_allocated`` on CUDA) belongs to this video alone.
    """
    from ..core import launch

    job = dict(mode="video_infinity", frames=frames, model=cost_spec(size), steps=steps, scope=scope)
    out = {}
    for world in worlds:
        results = launch(run_jobs, world, [job], device=device)
        out[world] = [{k: v for k, v in r[0].items() if k not in ("latents", "eps_first", "eps_first64")}
                      for r in results]
    return out


def measure_bytes(lengths: tuple[int, ...], size: int, world: int, scope: dict[str, Any],
                  device: str = "cpu") -> dict[str, list[float]]:
    """Bytes rank 0 hands to collectives per step, for videos of each length, with the dual-scope pattern
    and with full gathering (global scope over every frame): one launch, one step per video."""
    from ..core import launch

    jobs = []
    for frames in lengths:
        jobs.append(dict(mode="video_infinity", frames=frames, model=cost_spec(size), steps=1, scope=scope))
        jobs.append(dict(mode="video_infinity", frames=frames, model=cost_spec(size), steps=1))  # exact
    rank0 = launch(run_jobs, world, jobs, device=device)[0]
    return {"frames": list(lengths), "dual_scope": [r["bytes_per_step"] for r in rank0[0::2]],
            "full_gather": [r["bytes_per_step"] for r in rank0[1::2]],
            "dual_by_kind": [r["bytes_by_kind"] for r in rank0[0::2]]}


def to_frames(latents: torch.Tensor) -> torch.Tensor:
    """Pixel-space video latents ``(1, 3, F, H, W)`` in [-1, 1] -> frames ``(F, 3, H, W)`` in [0, 1]."""
    return ((latents[0].permute(1, 0, 2, 3) + 1) / 2).clamp(0, 1)


def generate_three_ways(scale: str, clips: int, clip_frames: int, steps: int, scope: dict[str, Any],
                        seeds: list[int], device: str = "cpu", max_whole: int = 32) -> dict[str, list[torch.Tensor]]:
    """Long videos of ``clips`` clips from the motion-digit model, per seed, three ways:
    ``independent`` (each clip alone), ``video_infinity`` (one process per clip), ``whole`` (all frames
    in one process, only up to ``max_whole`` frames: the motion modules' position table). Frames in [0, 1]."""
    from ..core import launch

    frames = clips * clip_frames
    model = {"kind": "motion", "scale": scale, "dtype": "float32", "label": 10}
    jobs = [dict(mode=m, frames=frames, model=model, steps=steps, scope=scope, seed=s)
            for s in seeds for m in ("video_infinity", "independent")]
    results = launch(run_jobs, clips, jobs, device=device)
    out: dict[str, list[torch.Tensor]] = {"independent": [], "video_infinity": [], "whole": []}
    for j, job in enumerate(jobs):
        out[job["mode"]].append(to_frames(stitch([r[j] for r in results])))
    if frames <= max_whole:
        whole = launch(run_jobs, 1, [dict(mode="whole", frames=frames, model=model, steps=steps, seed=s)
                                     for s in seeds], device=device)[0]
        out["whole"] = [to_frames(r["latents"]) for r in whole]
    return out


def exactness(frames: int, worlds: tuple[int, ...], scope: dict[str, Any], size: int = 4,
              device: str = "cpu") -> dict[str, float]:
    """Max |split - one process| of the first UNet call, float64: exact scope vs the unmodified UNet,
    dual scope vs the one-process dual-scope pattern, no communication (independent clips) vs the
    unmodified UNet, and the dual scope's distance to full attention."""
    from ..core import launch

    model = {"kind": "random", "dtype": "float64", "config": {"sample_size": size}}
    base = dict(frames=frames, model=model, steps=2, keep_eps=True)
    ref = launch(run_jobs, 1, [dict(base, mode="whole")] +
                 [dict(base, mode="reference", scope=scope, split=w) for w in worlds], device=device)[0]
    out: dict[str, float] = {}
    err = lambda rs, r: float((stitch(rs, "eps_first64") - r["eps_first64"]).abs().max())
    for i, w in enumerate(worlds):
        res = launch(run_jobs, w, [dict(base, mode="video_infinity"), dict(base, mode="video_infinity", scope=scope),
                                   dict(base, mode="independent")], device=device)
        out[f"exact_err_{w}"] = err([r[0] for r in res], ref[0])
        out[f"dual_err_{w}"] = err([r[1] for r in res], ref[1 + i])
        out[f"independent_err_{w}"] = err([r[2] for r in res], ref[0])
        out[f"dual_vs_full_{w}"] = err([r[1] for r in res], ref[0])
    return out
