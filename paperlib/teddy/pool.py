"""Teddy's pre-cached pool of weak models, all generated from one base model.

* Prior generation: checkpoints of the base model's own training run, taken early, before it
  converges (``size`` of them, every ``every`` steps).
* Post generation: the converged base model, structurally pruned (L1 channel masks, ratios
  ``prune_ratios``) and then fine-tuned briefly (``finetune_steps``).
* For the ablation: a pool of freshly initialised models, and the converged base model alone.

A distillation iteration draws one model :math:`\\theta^{(m)}\\sim\\mathcal P` instead of training a new
network. Narrated in notebooks/teddy.py, "A pool of weak models".
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.train import fit
from .kernels import Theta, weights_of
from .models import apply_masks, prune_channels

POOL_KINDS = ("weak", "fresh", "strong")


@dataclass
class Pool:
    """Frozen weights :math:`\\theta^{(m)}` and a label per model (e.g. ``ckpt@20``, ``prune50%``)."""

    thetas: list[Theta]
    labels: list[str]
    buffers: list[dict[str, torch.Tensor]] = field(default_factory=list)  # e.g. BN running statistics
    accuracy: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.thetas:
            raise ValueError("pool: a pool needs at least one model (pool size 0)")

    def __len__(self) -> int:
        return len(self.thetas)

    def draw(self, gen: torch.Generator, template: nn.Module | None = None) -> Theta:
        """One model, uniformly: :math:`m\\sim\\mathcal U(\\mathcal P)`. Its buffers (BN statistics),
        if any, are copied into ``template``, whose buffers the loss reads."""
        m = int(torch.randint(len(self.thetas), (1,), generator=gen))
        if template is not None and self.buffers and self.buffers[m]:
            template.load_state_dict(self.buffers[m], strict=False)
        return self.thetas[m]


@dataclass(frozen=True)
class PoolRecipe:
    """How the pools are made: the base model trained ``base_steps`` Adam steps of rate ``base_lr`` on batches of
    ``base_batch_size``, ``size`` checkpoints every ``every`` steps, pruned copies at ``prune_ratios`` fine-tuned
    ``finetune_steps`` steps at a tenth of the rate."""

    size: int
    every: int
    base_steps: int
    base_lr: float
    prune_ratios: tuple[float, ...] = ()
    finetune_steps: int = 0
    base_batch_size: int = 64

    def __post_init__(self) -> None:
        if self.size < 1:
            raise ValueError(f"pool_size: expected an integer >= 1, got {self.size!r}")
        if self.every * self.size > self.base_steps:
            raise ValueError(f"pool: {self.size} checkpoints every {self.every} steps need base_steps >= "
                             f"{self.every * self.size}, got {self.base_steps}")


def buffers_of(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_buffers()}


def _ce(model: nn.Module, batch: tuple) -> torch.Tensor:
    return nn.functional.cross_entropy(model(batch[0]), batch[1])


def build_pools(make: Callable[[], nn.Module], train, recipe: PoolRecipe, *, seed: int, device: torch.device,
                evaluate: Callable[[nn.Module], float] | None = None) -> dict[str, Pool]:
    """Train one base model on ``train`` (data with a ``loader(batch_size, seed)``) and derive the pools ``weak``
    (early checkpoints + pruned, fine-tuned copies), ``fresh`` (``recipe.size`` random initialisations) and
    ``strong`` (the base model alone).

    ``evaluate(model) -> accuracy`` (on validation data) fills ``Pool.accuracy`` when given.
    """
    seed_everything(seed)
    train_loader = train.loader(recipe.base_batch_size, seed)
    pool_size, prior_every, lr = recipe.size, recipe.every, recipe.base_lr
    fresh = [make().to(device) for _ in range(pool_size)]
    base = make().to(device)
    early: list[tuple[int, Theta, dict]] = []

    def snapshot(step: int) -> None:
        if (step + 1) % prior_every == 0 and len(early) < pool_size:
            early.append((step + 1, weights_of(base), buffers_of(base)))

    opt = torch.optim.Adam(base.parameters(), lr=lr)
    fit(base, train_loader, _ce, opt, recipe.base_steps, device=device, desc="teddy: base model", on_step=snapshot)

    weak_thetas = [t for _, t, _ in early]
    weak_buffers = [b for _, _, b in early]
    weak_labels = [f"ckpt@{s}" for s, _, _ in early]
    for ratio in recipe.prune_ratios:               # post generation: prune, then fine-tune briefly
        pruned = copy.deepcopy(base)
        masks = prune_channels(pruned, ratio)
        if recipe.finetune_steps > 0:
            opt = torch.optim.Adam(pruned.parameters(), lr=lr / 10)
            fit(pruned, train_loader, _ce, opt, recipe.finetune_steps, device=device, desc="teddy: fine-tune pruned",
                on_step=lambda _s, m=pruned, k=masks: apply_masks(m, k))
        weak_thetas.append(weights_of(pruned))
        weak_buffers.append(buffers_of(pruned))
        weak_labels.append(f"prune{round(100 * ratio)}%")

    pools = {
        "weak": Pool(weak_thetas, weak_labels, weak_buffers),
        "fresh": Pool([weights_of(m) for m in fresh], [f"init{i}" for i in range(pool_size)],
                      [buffers_of(m) for m in fresh]),
        "strong": Pool([weights_of(base)], ["base"], [buffers_of(base)]),
    }
    if evaluate is not None:
        template = make().to(device).eval()
        for pool in pools.values():
            for theta, buf in zip(pool.thetas, pool.buffers):
                template.load_state_dict({**theta, **buf}, strict=False)
                pool.accuracy.append(evaluate(template))
    return pools
