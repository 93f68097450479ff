"""The one distillation loop, shared by the miniature (digits DDPM) and Stable Diffusion at full scale.

Each optimiser step: ``grad_accum`` micro-batches, each turned into ``(x0, condition)`` by ``prepare`` (class
labels with some set to the null class for the miniature; VAE latents and CLIP text states for Stable
Diffusion), one :func:`distillation_loss` each (optionally under autocast), gradients averaged over the
micro-batches and, with several ranks, over the ranks (an all-reduce of the trainable gradients only),
then one AdamW step. Optionally a checkpoint (trainable tensors, optimiser, losses, step) is written
atomically every ``checkpoint_every`` steps, and a run that finds one resumes from it.

Narrated in notebooks/linfusion.py, "Distillation" and "At full scale".
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import torch
from torch import nn

from ..core.atomic import atomic_path
from ..core.progress import progress
from .models import LinFusion, distillation_loss, trainable_parameters

TERMS = ("total", "noise", "kd", "feat")


def _save(path: Path, params: list[nn.Parameter], optimizer, scaler, step: int, losses: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save({"params": [p.detach().cpu() for p in params], "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(), "step": step, "losses": losses}, tmp)


def _load(path: Path, params: list[nn.Parameter], optimizer, scaler) -> tuple[int, dict]:
    state = torch.load(path, map_location="cpu", weights_only=True)
    if len(state["params"]) != len(params) or any(a.shape != b.shape for a, b in zip(state["params"], params)):
        raise ValueError(f"checkpoint: {str(path)!r} holds tensors for another student; remove it or pick "
                         "another output folder")
    with torch.no_grad():
        for p, value in zip(params, state["params"]):
            p.copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    return int(state["step"]), {k: list(v) for k, v in state["losses"].items()}


def distill_loop(student: nn.Module, teacher: nn.Module, linfusion: LinFusion, batches: Iterator[tuple],
                 prepare: Callable[[tuple], tuple[torch.Tensor, torch.Tensor]], scheduler, steps: int, lr: float,
                 alpha: float = 0.5, beta: float = 0.5, *, weight_decay: float = 0.0, grad_accum: int = 1,
                 device: torch.device | str = "cpu", autocast_dtype: torch.dtype | None = None,
                 world_size: int = 1, desc: str = "distil", checkpoint: str | Path | None = None,
                 save_checkpoint: bool = True, checkpoint_every: int = 1000) -> dict[str, list[float]]:
    """Distil ``linfusion`` (mounted on ``student``) from the frozen ``teacher``; returns the loss terms per
    optimiser step (this rank's, averaged over its micro-batches).

    ``student, teacher``: ``model(x_t, t, condition)`` wrappers with a ``.unet``; only the swapped layers
    train (:func:`trainable_parameters`). ``batches`` yields raw batches forever; ``prepare`` maps one
    (moved to ``device``) to ``(x0, condition)``. ``autocast_dtype`` (CUDA: float16 or bfloat16) runs the
    forwards under autocast, with a gradient scaler for float16. ``world_size > 1`` needs an initialised
    process group (one rank per device, each with its own shard of the data); every rank resumes from
    ``checkpoint`` if it exists, only the one with ``save_checkpoint`` writes it.
    """
    if steps < 1 or grad_accum < 1:
        raise ValueError(f"distill_loop: steps and grad_accum must be >= 1, got {steps} and {grad_accum}")
    device = torch.device(device)
    params = trainable_parameters(student, linfusion)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    names = linfusion.module_names
    losses: dict[str, list[float]] = {k: [] for k in TERMS}
    start = 0
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.is_file():
        start, losses = _load(checkpoint, params, optimizer, scaler)
    student.train()
    for step in progress(range(start, steps), desc=desc, total=steps - start):
        sums = dict.fromkeys(TERMS, 0.0)
        for _ in range(grad_accum):
            raw = tuple(t.to(device, non_blocking=True) if torch.is_tensor(t) else t for t in next(batches))
            x0, condition = prepare(raw)
            with torch.autocast(device.type, dtype=autocast_dtype or torch.float32,
                                enabled=autocast_dtype is not None):
                loss, terms = distillation_loss(student, teacher, x0, condition, scheduler, names, alpha, beta)
            scaler.scale(loss / grad_accum).backward()
            sums["total"] += loss.item() / grad_accum
            for key, value in terms.items():
                sums[key] += value / grad_accum
        if world_size > 1:
            _average_gradients(params, world_size)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        for key, value in sums.items():
            losses[key].append(value)
        if save_checkpoint and checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            _save(checkpoint, params, optimizer, scaler, step + 1, losses)
    student.eval().requires_grad_(False)
    return losses


def _average_gradients(params: list[nn.Parameter], world_size: int) -> None:
    """Mean of the trainable gradients over the ranks, in one flat all-reduce (what DDP would do)."""
    import torch.distributed as dist

    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for p, g in zip(params, grads):
        p.grad = flat[offset:offset + g.numel()].view_as(g).clone()
        offset += g.numel()
