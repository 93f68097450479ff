"""What one distillation iteration costs, counted rather than timed where it can be.

Bytes held for backward and FLOPs are counted by :mod:`paperlib.core.cost` (deterministic; the
equal-budget comparison gives each method the same FLOPs, never the same seconds).

* :func:`cost_sweep`: bytes, FLOPs and (reported, never judged) seconds of one outer iteration as K grows.

Narrated in notebooks/teddy.py, "What it costs".
"""
from __future__ import annotations

import statistics
import time
from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from ..core.cost import SavedBytes, flops_of
from .distill import init_synthetic
from .kernels import classifier_loss, taylor_grad, teddy_grad, unrolled_grad, weights_of
from .pool import Pool


def _measure(fn: Callable[[], object], device: torch.device, repeats: int) -> dict[str, float | int | None]:
    """Peak bytes held for backward, FLOPs, median seconds and (CUDA) the allocator's peak above the start."""
    with SavedBytes() as saved:
        fn()
    times, cuda_peak = [], None
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            start = torch.cuda.memory_allocated(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            cuda_peak = max(cuda_peak or 0, torch.cuda.max_memory_allocated(device) - start)
        times.append(time.perf_counter() - t0)
    return {"bytes": saved.peak, "flops": flops_of(fn), "seconds": statistics.median(times), "cuda_bytes": cuda_peak}


def cost_sweep(make: Callable[[], nn.Module], real, pool: Pool, *, ipc: int, Ks: Sequence[int], inner_lr: float,
               real_batch: int, class_batch: int, device: torch.device, syn_batch: int = 0, repeats: int = 3,
               seed: int = 0) -> list[dict]:
    """Per outer iteration, at each :math:`K`, for three computations on the same synthetic set: the unrolled
    gradient (all classes in one :math:`K`-step graph), the Taylor form along a :math:`K`-point trajectory (all
    classes in one single-step graph at a time) and one Teddy iteration (one pool model, one class at a time):
    bytes held for backward, FLOPs, seconds. ``syn_batch`` > 0 measures on that many synthetic images (the
    unrolled baseline's synthetic batch at full scale)."""
    gen = torch.Generator().manual_seed(seed)
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, y = init_synthetic(real, ipc, gen)
    if 0 < syn_batch < len(x):
        pick = torch.randperm(len(x), generator=gen)[:syn_batch]
        x, y = x[pick], y[pick]
    x, y = x.to(device), y.to(device)
    xr, yr = real.sample(real_batch, gen)
    xr, yr = xr.to(device), yr.to(device)
    theta0 = {k: v.to(device) for k, v in weights_of(make()).items()}
    batch = {c: real.sample_class(c, class_batch, gen).to(device) for c in range(real.num_classes)}
    theta_pool = {k: v.to(device) for k, v in pool.draw(gen, template).items()}
    teddy = _measure(lambda: teddy_grad(loss, theta_pool, x, y, batch), device, repeats)
    rows = []
    for K in Ks:
        unrolled = _measure(lambda: unrolled_grad(loss, theta0, x, y, xr, yr, K, inner_lr), device, repeats)
        taylor = _measure(lambda: taylor_grad(loss, theta0, x, y, xr, yr, K, inner_lr), device, repeats)
        row = {"K": K}
        for name, measured in (("unrolled", unrolled), ("taylor", taylor), ("teddy", teddy)):
            row.update({f"{name}_{key}": value for key, value in measured.items()})
        rows.append(row)
    return rows
