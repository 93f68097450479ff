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
from .full import scheduler_for
from .models import call_unet, make_video_unet

__all__ = ["run_jobs", "video_job", "build_model", "measure_costs", "cost_spec", "faulty_job", "to_frames",
           "generate_three_ways", "real_clips", "temporal_coherence", "exactness", "seam_ratio",
           "digit_consistency", "check_split", "MODES", "stitch"]

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
    """The UNet named by ``spec`` and its conditioning ``(1, S, D)``, or ``(2, S, D)`` = [negative; prompt]
    for classifier-free guidance (same on every rank).

    Kinds: ``random`` (the miniature UNet3D), ``motion`` (the zoo-trained motion-digit model) and
    ``pretrained`` (a diffusers UNet3D folder, e.g. VideoCrafter2, with the prompt embeddings computed
    once by the orchestrator: ``spec["cond"]``)."""
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
        unet = model.unet if next(model.unet.parameters()).dtype == dtype else model.unet.to(dtype)
        return unet, model.cond(label).detach().to(dtype)
    if spec["kind"] == "pretrained":
        from .full import load_video_unet

        unet = load_video_unet(spec["unet"], dtype, spec.get("fps", 24))
        return unet, spec["cond"].to(dtype)
    raise ValueError(f"model kind: expected 'random', 'motion' or 'pretrained', got {spec['kind']!r}")


def _eps(unet: nn.Module, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor, guidance: float) -> torch.Tensor:
    """``eps`` for a batch of videos; with ``cond = [negative; prompt]``, classifier-free guidance
    ``eps_neg + w (eps_prompt - eps_neg)`` from one call on the doubled batch."""
    b = z.shape[0]
    if cond.shape[0] == 2:
        eps_neg, eps_pos = call_unet(unet, torch.cat([z, z]), t, cond.repeat_interleave(b, 0)).chunk(2)
        return eps_neg + guidance * (eps_pos - eps_neg)
    return call_unet(unet, z, t, cond.expand(b, -1, -1))


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@torch.no_grad()
def video_job(rank: int, world_size: int, device: torch.device, job: dict[str, Any]) -> dict[str, Any] | None:
    """Denoise this rank's part of one batch of videos; return its clips and per-step costs.

    ``job``: ``mode``, ``frames`` (of the whole video), ``model`` (see :func:`build_model`), ``steps``,
    ``scope`` (dual-scope settings; default: the exact scope), ``seeds`` (one video per seed, batched; or
    ``seed``), ``world`` (run on the first ``world`` processes of the launch only; the others return
    None), ``sampler`` (``ddim`` / ``dpmpp_sde``), ``guidance``, ``latent_hw``, ``decode`` (a VAE folder:
    also return decoded frames), ``keep_eps``.
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
    unet, cond = build_model(job["model"])
    unet, cond = unet.to(device), cond.to(device)
    if comm is not None:
        make_clip_parallel(unet, comm, scope)
    elif mode == "reference":
        set_dual_scope_reference(unet, scope, job.get("split", 1))
    dtype = next(unet.parameters()).dtype
    c = unet.config.in_channels
    hw = job.get("latent_hw") or (unet.config.sample_size,) * 2
    seeds = job.get("seeds", [job.get("seed", 0)])
    z = torch.cat([torch.randn(1, c, frames, *hw, generator=torch.Generator().manual_seed(s), dtype=torch.float64)
                   for s in seeds]).to(dtype)  # the whole video's noise, then this rank's clip
    if mode in ("video_infinity", "independent"):
        z = z[:, :, rank * f_l:(rank + 1) * f_l]
    z = z.to(device).contiguous()
    model_dir = job["model"].get("text_model") if job["model"]["kind"] == "pretrained" else None
    sched = scheduler_for(job.get("steps", 2), job.get("sampler", "ddim"), model_dir)
    gen = torch.Generator(device).manual_seed(1000 * seeds[0] + rank)  # the SDE sampler's noise, per rank
    guidance = job.get("guidance", 1.0)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base_mb = _peak_mb(device) if device.type == "cpu" else 0.0
    eps_first = None
    t0 = time.perf_counter()
    for t in sched.timesteps:
        eps = _eps(unet, sched.scale_model_input(z, t), t.to(device), cond, guidance)
        eps_first = eps.cpu() if eps_first is None else eps_first
        z = sched.step(eps, t, z, generator=gen).prev_sample
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    steps = len(sched.timesteps)
    out = {"rank": rank, "world_size": world, "mode": mode, "frames_per_rank": z.shape[2],
           "latents": z.float().cpu(), "eps_first": eps_first.float().cpu() if job.get("keep_eps") else None,
           "eps_first64": eps_first.double() if job.get("keep_eps") else None,
           "seconds_per_step": seconds / steps,
           "peak_mb": _peak_mb(device) - base_mb, "peak_abs_mb": _peak_mb(device)}
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


def _strip(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("latents", "eps_first", "eps_first64", "frames")}


def measure_costs(frames: int, size: int, steps: int, scope: dict[str, Any], device: str = "cpu",
                  lengths: tuple[int, ...] = (), bytes_size: int = 8) -> tuple[dict[int, list[dict]], dict]:
    """Per-process costs of one Video-Infinity video of ``frames`` frames on 1 and on 2 processes, and the
    bytes rank 0 of 2 hands to collectives per step for videos of each of ``lengths``.

    Each world size is its own launch whose first job is the timed video, so ``peak_mb`` (peak RSS over
    the process's post-build baseline on CPU, ``max_memory_allocated`` on CUDA) belongs to it alone. The
    byte counts (one step per video, latent side ``bytes_size``, with the dual-scope pattern and with
    full gathering: the global scope over every frame) ride on the 2-process launch after it.
    """
    from ..core import launch

    timed = dict(mode="video_infinity", frames=frames, model=cost_spec(size), steps=steps, scope=scope)
    costs = {1: [_strip(r[0]) for r in launch(run_jobs, 1, [timed], device=device)]}
    jobs = [timed]
    for f in lengths:
        jobs.append(dict(mode="video_infinity", frames=f, model=cost_spec(bytes_size), steps=1, scope=scope))
        jobs.append(dict(mode="video_infinity", frames=f, model=cost_spec(bytes_size), steps=1))  # exact
    results = launch(run_jobs, 2, jobs, device=device)
    costs[2] = [_strip(r[0]) for r in results]
    rank0 = results[0][1:]
    nbytes = {"frames": list(lengths), "dual_scope": [r["bytes_per_step"] for r in rank0[0::2]],
              "full_gather": [r["bytes_per_step"] for r in rank0[1::2]],
              "dual_by_kind": [r["bytes_by_kind"] for r in rank0[0::2]]}
    return costs, nbytes


def to_frames(latents: torch.Tensor) -> list[torch.Tensor]:
    """Pixel-space video latents ``(B, 3, F, H, W)`` in [-1, 1] -> one ``(F, 3, H, W)`` in [0, 1] per video."""
    return list(((latents.permute(0, 2, 1, 3, 4) + 1) / 2).clamp(0, 1))


def generate_three_ways(scale: str, clips: int, clip_frames: int, steps: int, scope: dict[str, Any],
                        seeds: list[int], device: str = "cpu", max_whole: int = 32) -> dict[str, list[torch.Tensor]]:
    """Long videos of ``clips`` clips from the motion-digit model, one per seed (batched), three ways, in
    one launch of ``clips`` processes: ``independent`` (each process its clip alone), ``video_infinity``
    (one process per clip, communicating) and ``whole`` (all frames on the first process, only up to
    ``max_whole`` frames: the motion modules' position table). Frames in [0, 1]; also ``seconds`` per
    way (the slowest process, per step)."""
    from ..core import launch

    frames = clips * clip_frames
    model = {"kind": "motion", "scale": scale, "dtype": "float32", "label": 10}
    base = dict(frames=frames, model=model, steps=steps, seeds=list(seeds))
    jobs = [dict(base, mode="video_infinity", scope=scope), dict(base, mode="independent")]
    if frames <= max_whole:
        jobs.append(dict(base, mode="whole"))
    results = launch(run_jobs, clips, jobs, device=device)
    out: dict[str, Any] = {"independent": [], "video_infinity": [], "whole": [], "seconds": {}}
    for j, job in enumerate(jobs):
        ranks = [r[j] for r in results]
        out[job["mode"]] = to_frames(stitch(ranks))
        out["seconds"][job["mode"]] = max(r["seconds_per_step"] for r in ranks if r is not None)
    return out


def real_clips(n: int, frames: int, scale: str = "cpu", seed: int = 1) -> list[torch.Tensor]:
    """``n`` moving-digit clips like the motion model's training clips (held-out seed), ``(F, 3, H, W)``."""
    from ..data import moving_digits
    from .models import MOTION_RECIPES

    r = MOTION_RECIPES["cpu" if scale == "full" else scale]
    video, _ = moving_digits(n, frames, r["size"], r["digit_size"], "test", seed)
    return list(video.repeat(1, 1, 3, 1, 1))


def temporal_coherence(videos: list[torch.Tensor], clip_frames: int) -> float:
    """Mean ``|x_{f+1} - x_f|`` between neighbouring frames of a clip over the mean ``|x_f - y_f|`` between
    the same frame of two different videos: about 1 when neighbouring frames are as unrelated as frames
    of different videos, small for clips whose content persists from frame to frame."""
    if len(videos) < 2:
        raise ValueError("temporal_coherence: needs at least two videos")
    within = []
    for v in videos:
        d = (v[1:] - v[:-1]).abs().flatten(1).mean(1)
        keep = torch.tensor([(f + 1) % clip_frames != 0 for f in range(len(d))])
        within.append(d[keep].mean())
    across = [(a - b).abs().mean() for i, a in enumerate(videos) for b in videos[i + 1:]]
    return float(torch.stack(within).mean() / torch.stack(across).mean())


def exactness(frames: int, worlds: tuple[int, ...], scope: dict[str, Any], size: int = 4,
              device: str = "cpu") -> dict[str, float]:
    """Max |split - one process| of the first UNet call, float64, all in one launch of ``max(worlds)``
    processes: exact scope vs the unmodified UNet, dual scope vs the one-process dual-scope pattern, no
    communication (independent clips) vs the unmodified UNet, and the dual scope's distance to full
    attention."""
    from ..core import launch

    model = {"kind": "random", "dtype": "float64", "config": {"sample_size": size}}
    base = dict(frames=frames, model=model, steps=2, keep_eps=True)
    jobs = [dict(base, mode="whole")] + [dict(base, mode="reference", scope=scope, split=w) for w in worlds]
    for w in worlds:
        jobs += [dict(base, mode="video_infinity", world=w), dict(base, mode="video_infinity", scope=scope, world=w),
                 dict(base, mode="independent", world=w)]
    res = launch(run_jobs, max(worlds), jobs, device=device)
    col = lambda j: [r[j] for r in res]
    ref = res[0]
    err = lambda j, r: float((stitch(col(j), "eps_first64") - r["eps_first64"]).abs().max())
    out: dict[str, float] = {}
    for i, w in enumerate(worlds):
        j = 1 + len(worlds) + 3 * i
        out[f"exact_err_{w}"] = err(j, ref[0])
        out[f"dual_err_{w}"] = err(j + 1, ref[1 + i])
        out[f"independent_err_{w}"] = err(j + 2, ref[0])
        out[f"dual_vs_full_{w}"] = err(j + 1, ref[0])
    return out
