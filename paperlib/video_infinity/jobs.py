"""What each rank runs: denoise its share of a batch of long videos, one way among several.

Every rank runs :func:`run_jobs` (through ``paperlib.core.launch``); a job denoises latent videos of
``frames`` frames, the rank holding clip ``r`` (frames ``r F_l ... (r+1) F_l - 1``), in one of these modes:

* ``video_infinity``: the UNet patched by :func:`~paperlib.video_infinity.kernels.make_clip_parallel`;
* ``independent``: the unmodified UNet on the rank's clip alone (no communication);
* ``whole``: the unmodified UNet on the whole video (one rank);
* ``reference``: the whole video in one process with a temporal-attention pattern: the dual scope as an
  ``split``-process run would choose its global frames (what the split must equal), or a sliding window
  alone (``top_k=0``).

The initial noise is drawn for the whole video from one seed per video and sliced, so all modes start from
the same noise. Narrated in notebooks/video_infinity.py.
"""
from __future__ import annotations

import resource
import time
from typing import Any

import torch
from torch import nn

from .kernels import ClipComm, DualScope, make_clip_parallel, set_dual_scope_reference
from ..core.cost import PeakLiveBytes
from .models import build_model, scheduler_for

__all__ = ["MODES", "check_split", "video_job", "run_jobs", "stitch", "faulty_job"]

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


def _eps(unet: nn.Module, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """``eps`` for a batch of videos ``z: (B, C, F, h, w)``.

    ``cond``: ``(K, S, D)`` shared by the batch or ``(K, B, S, D)`` per video, with ``K = 2`` meaning
    [negative; prompt]: classifier-free guidance ``eps_neg + w (eps_prompt - eps_neg)`` from one call on
    the doubled batch (``K = 1``, or ``w = 1``: the prompt alone)."""
    b = z.shape[0]
    c = cond[:, None].expand(-1, b, -1, -1) if cond.dim() == 3 else cond  # (K, B, S, D)
    if c.shape[0] == 2 and guidance != 1.0:
        eps_neg, eps_pos = unet(torch.cat([z, z]), t, encoder_hidden_states=c.flatten(0, 1)).sample.chunk(2)
        return eps_neg + guidance * (eps_pos - eps_neg)
    return unet(z, t, encoder_hidden_states=c[-1]).sample


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@torch.no_grad()
def video_job(rank: int, world_size: int, device: torch.device, job: dict[str, Any]) -> dict[str, Any] | None:
    """Denoise this rank's part of one batch of videos; return its clips and costs: ``peak_live_mb`` (the
    most bytes the denoising held at once, counted exactly by :class:`~paperlib.core.cost.
    PeakLiveBytes`), ``peak_rss_mb`` (the process's peak resident memory over its level after building the
    model), per-step seconds and, for Video-Infinity, the bytes handed to collectives.

    ``job``: ``mode``, ``frames`` (of the whole video), ``model`` (a spec for
    :func:`~paperlib.video_infinity.models.build_model`), ``steps``, ``scope`` (dual-scope settings;
    default: the exact scope), ``seeds`` (one video per seed, batched), ``world`` (run on the first
    ``world`` processes of the launch only; the others return None), ``split`` (``reference``: the
    process count whose global frames it uses), ``sampler`` (``ddim`` / ``dpmpp_sde``), ``guidance``,
    ``decode`` (a VAE folder: also return decoded frames), ``keep_eps`` (return the first UNet output).
    """
    mode, frames = job["mode"], job["frames"]
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    world = job.get("world", 1 if mode in ("whole", "reference") else world_size)
    if mode in ("whole", "reference") and world != 1:
        raise ValueError(f"mode {mode!r} runs on one process, got world={world}")
    scope = DualScope(**job["scope"]) if job.get("scope") else DualScope.exact(frames)
    f_l = check_split(frames, world, scope if mode == "video_infinity" else None)
    if world > world_size:
        raise ValueError(f"world: a job on {world} processes in a launch of {world_size}")
    comm = ClipComm(world) if mode == "video_infinity" else None  # every process joins the new groups
    if rank >= world:
        return None
    unet, cond, sched_config, hw = build_model(job["model"])
    unet, cond = unet.to(device), cond.to(device)
    if comm is not None:
        make_clip_parallel(unet, comm, scope)
    elif mode == "reference":
        set_dual_scope_reference(unet, scope, job.get("split", 1))
    dtype = next(unet.parameters()).dtype
    seeds = job.get("seeds", [0])
    z = torch.cat([torch.randn(1, unet.config.in_channels, frames, *hw, dtype=torch.float64,
                               generator=torch.Generator().manual_seed(s)) for s in seeds]).to(dtype)
    if mode in ("video_infinity", "independent"):
        z = z[:, :, rank * f_l:(rank + 1) * f_l]  # the whole video's noise, then this rank's clip
    z = z.to(device).contiguous()
    sched = scheduler_for(job.get("steps", 2), job.get("sampler", "ddim"), sched_config)
    gen = torch.Generator(device).manual_seed(1000 * seeds[0] + rank)  # the SDE sampler's noise, per rank
    guidance = job.get("guidance", 1.0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    rss0 = _rss_mb()
    eps_first = None
    t0 = time.perf_counter()
    with PeakLiveBytes() as memory:
        for t in sched.timesteps:
            eps = _eps(unet, sched.scale_model_input(z, t), t.to(device), cond, guidance)
            eps_first = eps.double().cpu() if eps_first is None and job.get("keep_eps") else eps_first
            z = sched.step(eps, t, z, generator=gen).prev_sample
        del eps
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    steps = len(sched.timesteps)
    out = {"rank": rank, "world_size": world, "mode": mode, "frames_per_rank": z.shape[2],
           "latents": z.float().cpu(), "eps_first64": eps_first, "seconds_per_step": seconds / steps,
           "peak_live_mb": memory.peak / 2**20, "peak_rss_mb": _rss_mb() - rss0}
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    if job.get("decode"):
        from .full import decode_frames, load_vae

        out["frames"] = decode_frames(load_vae(job["decode"], dtype).to(device), z)
    if comm is not None:
        out.update(bytes_per_step=comm.total_bytes / steps,
                   bytes_by_kind={k: v / steps for k, v in comm.bytes.items()},
                   calls_per_step={k: v / steps for k, v in comm.calls.items()},
                   comm_seconds_per_step=comm.seconds / steps)
    return out


def run_jobs(rank: int, world_size: int, device: torch.device, jobs: list[dict[str, Any]]) -> list[dict | None]:
    """The rank function for ``launch``: run ``jobs`` in order (the first one's memory is the clean one)."""
    return [video_job(rank, world_size, device, job) for job in jobs]


def stitch(results: list[dict[str, Any] | None], key: str = "latents") -> torch.Tensor:
    """The ranks' clips of one job joined along time: latents ``(B, C, F, H, W)``, decoded ``frames``
    ``(B, F, H, W, 3)``; processes outside the job's world (None) are skipped."""
    ranks = sorted((r for r in results if r is not None), key=lambda r: r["rank"])
    return torch.cat([r[key] for r in ranks], dim=1 if key == "frames" else 2)


def faulty_job(rank: int, world_size: int, device: torch.device, dead_rank: int) -> float:
    """A run in which ``dead_rank`` fails while the others wait in a collective (for the bad-input tests)."""
    import torch.distributed as dist

    if rank == dead_rank:
        raise RuntimeError(f"rank {rank} died")
    x = torch.ones(1)
    dist.all_reduce(x)  # never completes: the launcher must stop this rank, or the timeout must
    return float(x)
