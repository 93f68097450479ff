"""Training and evaluation loops shared by every chapter, with checkpoint/resume for long runs."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from .atomic import atomic_path
from .progress import progress

LossFn = Callable[[nn.Module, tuple], torch.Tensor]


@dataclass
class History:
    """Loss per step (and anything else a loop wants to keep)."""

    loss: list[float] = field(default_factory=list)


def cycle(loader: Iterable) -> Iterator:
    """Endless iteration over a loader (re-shuffling each pass when it shuffles)."""
    while True:
        yield from loader


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    step: int, history: History) -> None:
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                    "loss": history.loss}, tmp)


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer,
                    history: History) -> int:
    """Restore model, optimizer and history; return the step to resume from."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    history.loss[:] = state["loss"]
    return int(state["step"])


def fit(model: nn.Module, loader: Iterable, loss_fn: LossFn, optimizer: torch.optim.Optimizer, steps: int,
        *, device: torch.device | None = None, desc: str = "train", checkpoint: str | Path | None = None,
        checkpoint_every: int = 500, scheduler=None, on_step: Callable[[int], None] | None = None) -> History:
    """Run ``steps`` optimisation steps of ``loss_fn(model, batch)`` over ``loader`` (cycled).

    With ``checkpoint``, state is saved atomically every ``checkpoint_every`` steps and at the end, and
    a run that finds a checkpoint resumes from it (a killed long run loses at most that many steps).
    """
    device = device or next(model.parameters()).device
    history = History()
    start = 0
    if checkpoint is not None and Path(checkpoint).is_file():
        start = load_checkpoint(checkpoint, model, optimizer, history)
    model.train()
    batches = cycle(loader)
    for step in progress(range(start, steps), desc=desc, total=steps - start):
        batch = tuple(t.to(device) if torch.is_tensor(t) else t for t in next(batches))
        loss = loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        history.loss.append(loss.item())
        if on_step is not None:
            on_step(step)
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == steps):
            save_checkpoint(checkpoint, model, optimizer, step + 1, history)
    model.eval()
    return history


def cross_entropy_loss(model: nn.Module, batch: tuple) -> torch.Tensor:
    """``loss_fn`` for ``(x, y)`` classification batches."""
    x, y = batch[0], batch[1]
    return nn.functional.cross_entropy(model(x), y)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in batches, on the model's device; returned on the CPU."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = torch.cat([model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])
    model.train(was_training)
    return out


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``."""
    return (predict(model, x, batch_size).argmax(1) == y.cpu()).float().mean().item()


def batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, seed: int = 0, shuffle: bool = True):
    """A shuffling ``DataLoader`` over tensors (seeded)."""
    dataset = torch.utils.data.TensorDataset(x, y)
    return torch.utils.data.DataLoader(dataset, batch_size=min(batch_size, len(x)), shuffle=shuffle,
                                       drop_last=len(x) >= batch_size,
                                       generator=torch.Generator().manual_seed(seed))


