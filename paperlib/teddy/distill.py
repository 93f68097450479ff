"""The distillation loops: Teddy over a pool of weak models, and the unrolled bi-level baseline.

Both move the pixels of one synthetic set :math:`\\mathcal S` with Adam and clamp them to [0, 1]; they
differ in what gradient reaches the pixels. Each takes a small recipe (:class:`TeddyRecipe`,
:class:`UnrolledRecipe`), never the chapter's parameters.

Narrated in notebooks/teddy.py, "The method" and "The experiment".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor, nn

from ..core.progress import progress
from .kernels import DISTANCES, bn_statistics_loss, classifier_loss, teddy_grad, unrolled_grad, weights_of
from .pool import Pool

OBJECTIVES = ("gradient", "bn_statistics")


def init_synthetic(real, ipc: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """:math:`\\mathcal S` initialised with ``ipc`` distinct real images per class (also the
    random-real-subset baseline). Returns ``x: (classes * ipc, C, H, W)``, ``y: (classes * ipc,)``."""
    if ipc < 1:
        raise ValueError(f"ipc: expected an integer >= 1, got {ipc!r}")
    short = [c for c in range(real.num_classes) if real.count(c) < ipc]
    if short:
        c = short[0]
        raise ValueError(f"ipc: {ipc} images per class asked for, but class {c} has only {real.count(c)} "
                         f"training images ({len(short)} class(es) too small)")
    xs = [real.sample_class(c, ipc, gen, replace=False) for c in range(real.num_classes)]
    y = torch.arange(real.num_classes).repeat_interleave(ipc)
    return torch.cat(xs).clone(), y


@dataclass(frozen=True)
class TeddyRecipe:
    """Teddy's outer loop: ``steps`` Adam steps of rate ``lr`` on the pixels, each at one pool model.

    ``objective="gradient"``: class-wise matching of the gradient of ``batch_size`` real images per class with
    the distance ``distance`` (the miniature). ``objective="bn_statistics"``: the large-scale surrogate, the set
    optimised ``syn_batch`` images at a time (0: all), each view shifted by up to ``jitter`` pixels and flipped at
    random, with weight ``bn_weight`` on the statistics term (the full-scale preset).
    """

    steps: int
    lr: float
    batch_size: int
    distance: str = "cos"
    objective: str = "gradient"
    bn_weight: float = 0.01
    jitter: int = 0
    syn_batch: int = 0

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"distill_objective: expected one of {OBJECTIVES}, got {self.objective!r}")
        if self.distance not in DISTANCES:
            raise ValueError(f"distance: expected one of {tuple(DISTANCES)}, got {self.distance!r}")


@dataclass(frozen=True)
class UnrolledRecipe:
    """The bi-level baseline: ``k`` inner SGD steps of rate ``inner_lr`` from a fresh random start, the loss of
    ``batch_size`` real images at the end back-propagated to the pixels, Adam of rate ``lr``; each inner step on
    ``syn_batch`` synthetic images (0: all)."""

    k: int
    inner_lr: float
    lr: float
    batch_size: int
    syn_batch: int = 0


@dataclass
class Distilled:
    """A distilled set and how it was made (outer steps, loss per step)."""

    x: Tensor
    y: Tensor
    steps: int
    losses: list[float] = field(default_factory=list)


def _adam_on(x0: Tensor, lr: float) -> tuple[Tensor, torch.optim.Optimizer]:
    x = x0.detach().clone().requires_grad_(True)
    return x, torch.optim.Adam([x], lr=lr)


def jittered(x: Tensor, pixels: int, gen: torch.Generator) -> Tensor:
    """A random view of the batch (SRe2L's recover augmentation): rolled by up to ``pixels`` in each direction
    and flipped left-right with probability one half, drawn from ``gen``."""
    if pixels == 0:
        return x
    dy, dx = (torch.randint(-pixels, pixels + 1, (2,), generator=gen)).tolist()
    x = torch.roll(x, shifts=(dy, dx), dims=(-2, -1))
    return x.flip(-1) if bool(torch.rand((), generator=gen) < 0.5) else x


def distill_teddy(template: nn.Module, pool: Pool, real, x0: Tensor, y0: Tensor, recipe: TeddyRecipe,
                  gen: torch.Generator, device: torch.device | None = None, desc: str = "teddy") -> Distilled:
    """Teddy's outer loop. Each step draws :math:`\\theta^{(m)}\\sim\\mathcal P`, then with the gradient objective
    a real batch :math:`B_c` per class and the pixels' gradient of :math:`\\sum_c D(g_{B_c}, g_{\\mathcal S_c})`
    (:func:`~paperlib.teddy.kernels.teddy_grad`), or with the batch-norm objective the gradient of
    :func:`~paperlib.teddy.kernels.bn_statistics_loss` on a jittered view; Adam, then clamp to [0, 1]."""
    if recipe.objective == "bn_statistics":
        return _distill_bn_statistics(template, pool, x0, y0, recipe, gen, device, desc)
    device = device or x0.device
    template = template.to(device).eval()
    loss, dist = classifier_loss(template), DISTANCES[recipe.distance]
    x, opt = _adam_on(x0.to(device), recipe.lr)
    y = y0.to(device)
    losses: list[float] = []
    for _ in progress(range(recipe.steps), desc=desc):
        theta = {k: v.to(device) for k, v in pool.draw(gen, template).items()}
        batch = {c: real.sample_class(c, recipe.batch_size, gen).to(device) for c in range(real.num_classes)}
        value, grad = teddy_grad(loss, theta, x.detach(), y, batch, dist)
        opt.zero_grad(set_to_none=True)
        x.grad = grad
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        losses.append(value)
    return Distilled(x.detach().cpu(), y0.clone(), recipe.steps, losses)


def _distill_bn_statistics(template: nn.Module, pool: Pool, x0: Tensor, y0: Tensor, recipe: TeddyRecipe,
                           gen: torch.Generator, device: torch.device | None, desc: str) -> Distilled:
    """The large-scale surrogate, SRe2L-style: the set in chunks of ``syn_batch`` images (taken image-index-major,
    so a chunk spans the classes), each chunk ``steps`` Adam steps, a pool model drawn at every step."""
    device = device or x0.device
    template = template.to(device).eval()
    order = torch.arange(len(y0)).view(-1, int((y0 == y0[0]).sum())).T.flatten()  # class-major -> index-major
    size = recipe.syn_batch or len(order)
    out = x0.clone()
    losses: list[float] = []
    for start in range(0, len(order), size):
        rows = order[start:start + size]
        x, opt = _adam_on(x0[rows].to(device), recipe.lr)
        y = y0[rows].to(device)
        for _ in progress(range(recipe.steps), desc=f"{desc} [{start // size + 1}]"):
            theta = {k: v.to(device) for k, v in pool.draw(gen, template).items()}
            value = bn_statistics_loss(template, theta, jittered(x, recipe.jitter, gen), y, recipe.bn_weight)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
            losses.append(float(value.detach()))
        out[rows] = x.detach().cpu()
    return Distilled(out, y0.clone(), recipe.steps, losses)


def distill_unrolled(make: Callable[[], nn.Module], real, x0: Tensor, y0: Tensor, recipe: UnrolledRecipe,
                     steps: int, gen: torch.Generator, device: torch.device | None = None,
                     desc: str = "unrolled") -> Distilled:
    """The bi-level baseline for ``steps`` outer steps: each starts a fresh random :math:`\\theta_0` (drawn from
    ``gen``), unrolls ``recipe.k`` SGD steps on :math:`\\mathcal S` in one graph and back-propagates
    :math:`\\mathcal L_{\\mathcal T}(\\theta_K)` on a real batch to the pixels."""
    device = device or x0.device
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, opt = _adam_on(x0.to(device), recipe.lr)
    y = y0.to(device)
    losses: list[float] = []
    for _ in progress(range(steps), desc=desc):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=gen)))
            theta0 = {k: v.to(device) for k, v in weights_of(make()).items()}
        xr, yr = real.sample(recipe.batch_size, gen)
        value, grad = unrolled_grad(loss, theta0, x.detach(), y, xr.to(device), yr.to(device), recipe.k,
                                    recipe.inner_lr, recipe.syn_batch, gen)
        opt.zero_grad(set_to_none=True)
        x.grad = grad
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        losses.append(float(value))
    return Distilled(x.detach().cpu(), y0.clone(), steps, losses)
