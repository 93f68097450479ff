"""The chapter's experiments as jobs for the ranks, run together in one launch of processes.

Each experiment is a pair: ``*_jobs(...)`` lists what the ranks run, ``*_report(results)`` reads what they
returned. :func:`run_experiments` runs several experiments' jobs in one launch (the processes start once;
a job on fewer processes than the launch uses the first of them), so a chapter pays the start-up of its
processes once:

* exactness: the split against one process, float64, on several process counts;
* costs: memory per process on 1, 2, 4 processes and bytes exchanged against the video length;
* long videos: the same long videos generated several ways (:data:`ARMS`), side by side.

Memory is the exact count of :class:`~paperlib.core.cost.PeakLiveBytes`, which belongs to each
job whatever ran before it in the process; :func:`measure_costs` can also give each process count fresh
processes, for a resident-memory figure (the benchmark). Narrated in notebooks/video_infinity.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import launch
from .jobs import run_jobs, stitch
from .models import random_model

__all__ = ["ARMS", "SamplerRecipe", "run_experiments", "exactness_jobs", "exactness_report", "cost_jobs",
           "cost_report", "long_video_jobs", "long_video_report", "exactness", "measure_costs", "long_videos"]

#: How each arm generates a long video of ``clips`` clips: a job mode, the processes it runs on (``None``:
#: one per clip), and its temporal-attention pattern (``dual``: the paper's scopes; ``window``: the local
#: window alone; ``None``: the model's own full attention).
ARMS: dict[str, dict[str, Any]] = {
    "video_infinity": {"mode": "video_infinity", "world": None, "scope": "dual"},
    "video_infinity_2": {"mode": "video_infinity", "world": 2, "scope": "dual"},
    "independent": {"mode": "independent", "world": None, "scope": None},
    "independent_2": {"mode": "independent", "world": 2, "scope": None},
    "whole": {"mode": "whole", "world": 1, "scope": None},
    "window": {"mode": "reference", "world": 1, "scope": "window"},
}

Results = list[list[dict[str, Any] | None]]  # per job, per rank (None: the rank sat the job out)


@dataclass(frozen=True)
class SamplerRecipe:
    """How every arm samples: ``steps`` of ``sampler`` with classifier-free ``guidance``."""

    steps: int
    guidance: float = 1.0
    sampler: str = "ddim"


def run_experiments(world_size: int, experiments: dict[str, list[dict[str, Any]]], device: str = "cpu"
                    ) -> dict[str, Results]:
    """Run every experiment's jobs in one launch of ``world_size`` processes; per experiment, per job, the
    ranks' results."""
    names = [name for name, jobs in experiments.items() for _ in jobs]
    per_rank = launch(run_jobs, world_size, [job for jobs in experiments.values() for job in jobs], device=device)
    out: dict[str, Results] = {name: [] for name in experiments}
    for j, name in enumerate(names):
        out[name].append([rank[j] for rank in per_rank])
    return out


def exactness_jobs(model: dict[str, Any], frames: int, worlds: tuple[int, ...], scope: dict[str, Any]
                   ) -> list[dict[str, Any]]:
    """The first UNet call on one process (unmodified, and the dual-scope pattern as each of ``worlds``
    would choose its global frames), then on each of ``worlds`` processes: exact scope, dual scope,
    independent clips. ``model`` should be a float64 spec."""
    base = dict(frames=frames, model=model, steps=1, keep_eps=True, seeds=[0])
    jobs = [dict(base, mode="whole")] + [dict(base, mode="reference", scope=scope, split=w) for w in worlds]
    for w in worlds:
        jobs += [dict(base, mode="video_infinity", world=w), dict(base, mode="video_infinity", scope=scope, world=w),
                 dict(base, mode="independent", world=w)]
    return jobs


def exactness_report(results: Results, worlds: tuple[int, ...]) -> dict[str, float]:
    """Max |split - one process| per process count: the exact scope against the unmodified UNet
    (``exact_err``), the dual scope against its one-process pattern (``dual_err``), independent clips
    against the unmodified UNet (``independent_err``), the dual scope against full attention
    (``dual_vs_full``); and the output's mean size (``output_scale``)."""
    eps = lambda j: stitch(results[j], "eps_first64")
    whole = eps(0)
    out: dict[str, float] = {}
    for i, w in enumerate(worlds):
        j = 1 + len(worlds) + 3 * i
        out[f"exact_err_{w}"] = float((eps(j) - whole).abs().max())
        out[f"dual_err_{w}"] = float((eps(j + 1) - eps(1 + i)).abs().max())
        out[f"independent_err_{w}"] = float((eps(j + 2) - whole).abs().max())
        out[f"dual_vs_full_{w}"] = float((eps(j + 1) - whole).abs().max())
    out["output_scale"] = float(whole.abs().mean())
    return out


def cost_jobs(frames: int, size: int, steps: int, scope: dict[str, Any], worlds: tuple[int, ...],
              lengths: tuple[int, ...], bytes_size: int) -> list[dict[str, Any]]:
    """One Video-Infinity video of ``frames`` frames (the random miniature at latent side ``size``) on each
    of ``worlds`` processes; then one step on 2 processes for videos of each of ``lengths`` (latent side
    ``bytes_size``), with the dual scope and with full gathering (the global scope over every frame)."""
    jobs = [dict(mode="video_infinity", frames=frames, model=random_model(size), steps=steps, scope=scope, world=w)
            for w in worlds]
    for f in lengths:
        one_step = dict(mode="video_infinity", frames=f, model=random_model(bytes_size), steps=1, world=2)
        jobs += [dict(one_step, scope=scope), one_step]  # dual scope, then full gathering
    return jobs


def _costs(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("latents", "eps_first64", "frames")}


def cost_report(results: Results, worlds: tuple[int, ...], lengths: tuple[int, ...]
                ) -> tuple[dict[int, list[dict]], dict[str, Any]]:
    """Per process count, each rank's costs; and the bytes rank 0 of 2 hands to collectives per step for
    each length (``dual_scope``, ``full_gather``, ``dual_by_kind``)."""
    costs = {w: [_costs(r) for r in results[i] if r is not None] for i, w in enumerate(worlds)}
    rank0 = [job[0] for job in results[len(worlds):]]
    nbytes = {"frames": list(lengths), "dual_scope": [r["bytes_per_step"] for r in rank0[0::2]],
              "full_gather": [r["bytes_per_step"] for r in rank0[1::2]],
              "dual_by_kind": [r["bytes_by_kind"] for r in rank0[0::2]]}
    return costs, nbytes


def long_video_jobs(model: dict[str, Any], clips: int, clip_frames: int, arms: tuple[str, ...],
                    scope: dict[str, Any], sampler: SamplerRecipe, seeds: list[int]) -> list[dict[str, Any]]:
    """Long videos of ``clips`` clips of ``clip_frames`` frames, one per seed (batched), for each of ``arms``
    (:data:`ARMS`), all from the same initial noise."""
    jobs = []
    for name in arms:
        arm = ARMS[name]
        job = dict(frames=clips * clip_frames, model=model, steps=sampler.steps, sampler=sampler.sampler,
                   guidance=sampler.guidance, seeds=list(seeds), mode=arm["mode"], world=arm["world"] or clips)
        if model.get("decode"):
            job["decode"] = model["decode"]
        if arm["scope"] is not None:
            job["scope"] = scope if arm["scope"] == "dual" else dict(scope, top_k=0)
        jobs.append(job)
    return jobs


def long_video_report(results: Results, arms: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per arm: ``latents`` ``(B, C, F, h, w)``, decoded ``frames`` ``(B, F, H, W, 3)`` (when the ranks
    decoded, else None), ``clip_frames`` (frames per process), ``peak_live_mb`` and ``bytes_per_step`` (the
    largest process; bytes 0 without communication), ``seconds_per_step`` (the slowest)."""
    out = {}
    for name, job in zip(arms, results):
        ranks = [r for r in job if r is not None]
        out[name] = {"latents": stitch(ranks), "frames": stitch(ranks, "frames") if "frames" in ranks[0] else None,
                     "clip_frames": ranks[0]["frames_per_rank"],
                     "peak_live_mb": max(r["peak_live_mb"] for r in ranks),
                     "bytes_per_step": max(r.get("bytes_per_step", 0.0) for r in ranks),
                     "seconds_per_step": max(r["seconds_per_step"] for r in ranks)}
    return out


def exactness(model: dict[str, Any], frames: int, worlds: tuple[int, ...], scope: dict[str, Any],
              device: str = "cpu") -> dict[str, float]:
    """:func:`exactness_jobs` in their own launch, read by :func:`exactness_report`."""
    results = run_experiments(max(worlds), {"exact": exactness_jobs(model, frames, worlds, scope)}, device)
    return exactness_report(results["exact"], worlds)


def measure_costs(frames: int, size: int, steps: int, scope: dict[str, Any], worlds: tuple[int, ...] = (1, 2, 4),
                  lengths: tuple[int, ...] = (), bytes_size: int = 8, device: str = "cpu",
                  fresh_processes: bool = False) -> tuple[dict[int, list[dict]], dict[str, Any]]:
    """:func:`cost_jobs` read by :func:`cost_report`; with ``fresh_processes`` each process count gets a launch
    of its own, so that each process's resident memory (``peak_rss_mb``) is that job's alone."""
    jobs = cost_jobs(frames, size, steps, scope, worlds, lengths, bytes_size)
    if not fresh_processes:
        return cost_report(run_experiments(max(worlds + (2,)), {"costs": jobs}, device)["costs"], worlds, lengths)
    results = [run_experiments(w, {"one": [job]}, device)["one"][0] for w, job in zip(worlds, jobs)]
    if lengths:
        results += run_experiments(2, {"bytes": jobs[len(worlds):]}, device)["bytes"]
    return cost_report(results, worlds, lengths)


def long_videos(model: dict[str, Any], clips: int, clip_frames: int, arms: tuple[str, ...], scope: dict[str, Any],
                sampler: SamplerRecipe, seeds: list[int], device: str = "cpu") -> dict[str, dict[str, Any]]:
    """:func:`long_video_jobs` in a launch of ``clips`` processes, read by :func:`long_video_report`."""
    jobs = long_video_jobs(model, clips, clip_frames, arms, scope, sampler, seeds)
    return long_video_report(run_experiments(clips, {"long": jobs}, device)["long"], arms)
