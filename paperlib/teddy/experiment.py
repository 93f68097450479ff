"""The chapter's experiment: the evaluation protocol, the equal-budget unrolled baseline (its step count from
counted FLOPs, its learning rates tuned on the validation split), and every method side by side over seeds.

Narrated in notebooks/teddy.py, "The experiment".
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.cost import flops_of
from ..zoo.classifier import random_shift
from .distill import Distilled, TeddyRecipe, UnrolledRecipe, distill_teddy, distill_unrolled, init_synthetic
from .kernels import DISTANCES, classifier_loss, taylor_grad, teddy_grad, unrolled_grad, weights_of
from .pool import Pool

#: Independent random streams of one seed (drawn with :func:`stream`), so that arms never share draws by accident.
INIT, TEDDY, UNROLLED, EVAL, FLOPS = range(5)


def stream(seed: int, *keys: int) -> torch.Generator:
    """A generator for the stream ``keys`` of ``seed`` (``numpy.random.SeedSequence`` spawns them independent)."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


# ------------------------------------------------------------------------------------------ evaluation
@dataclass(frozen=True)
class EvalRecipe:
    """The evaluation protocol: ``models`` fresh networks, each ``steps`` Adam steps of rate ``lr`` on the
    distilled set alone (batches of up to 256, random shifts of up to ``shift`` pixels)."""

    models: int
    steps: int
    lr: float
    shift: int = 1


def heldout_accuracy(model: nn.Module, data, device: torch.device) -> float:
    """Top-1 accuracy on held-out data (validation or test; never trained on)."""
    model.eval()
    right = total = 0
    with torch.no_grad():
        for xb, yb in data.test_batches():
            right += (model(xb.to(device)).argmax(1).cpu() == yb).sum().item()
            total += len(yb)
    return right / total


def train_on_set(make: Callable[[], nn.Module], x: Tensor, y: Tensor, recipe: EvalRecipe, device: torch.device,
                 teacher: nn.Module | None = None, temperature: float = 4.0, batch_size: int = 256) -> nn.Module:
    """The evaluation protocol's training: a fresh network on the distilled set only (Adam, random
    shifts); with ``teacher``, soft labels (KL to the teacher's tempered softmax on the same views)."""
    model = make().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    x, y = x.to(device), y.to(device)
    for _ in range(recipe.steps):
        pick = torch.randperm(len(x), device=device)[:batch_size]
        xb = random_shift(x[pick], recipe.shift)
        logits = model(xb)
        if teacher is None:
            loss = F.cross_entropy(logits, y[pick])
        else:
            with torch.no_grad():
                soft = F.softmax(teacher(xb) / temperature, dim=1)
            loss = F.kl_div(F.log_softmax(logits / temperature, dim=1), soft, reduction="batchmean")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def evaluate_set(make: Callable[[], nn.Module], x: Tensor, y: Tensor, data, recipe: EvalRecipe, seed: int,
                 device: torch.device, teacher: nn.Module | None = None) -> float:
    """Mean accuracy on ``data`` of ``recipe.models`` fresh networks trained on ``(x, y)``; network ``i`` of
    seed ``seed`` starts from the same weights and draws the same batches whatever the set (arms pair)."""
    accs = []
    for i in range(recipe.models):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(torch.randint(2**31 - 1, (1,), generator=stream(seed, EVAL, i))))
            accs.append(heldout_accuracy(train_on_set(make, x, y, recipe, device, teacher), data, device))
    return sum(accs) / len(accs)


# ------------------------------------------------------------------------------------------ budget
def iteration_flops(make: Callable[[], nn.Module], real, pool: Pool, ipc: int, teddy: TeddyRecipe,
                    unrolled: UnrolledRecipe, device: torch.device) -> tuple[int, int]:
    """FLOPs of one Teddy iteration and one unrolled outer step at ``ipc`` (counted once; both are the same for
    every step: the shapes do not change)."""
    gen = stream(0, FLOPS)
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, y = (t.to(device) for t in init_synthetic(real, ipc, gen))
    theta = {k: v.to(device) for k, v in pool.draw(gen, template).items()}
    batch = {c: real.sample_class(c, teddy.batch_size, gen).to(device) for c in range(real.num_classes)}
    xr, yr = (t.to(device) for t in real.sample(unrolled.batch_size, gen))
    theta0 = {k: v.to(device) for k, v in weights_of(make()).items()}
    teddy_flops = flops_of(lambda: teddy_grad(loss, theta, x, y, batch, DISTANCES[teddy.distance]))
    unrolled_flops = flops_of(lambda: unrolled_grad(loss, theta0, x, y, xr, yr, unrolled.k, unrolled.inner_lr,
                                                    unrolled.syn_batch, gen))
    return teddy_flops, unrolled_flops


@dataclass
class UnrolledPlan:
    """The unrolled baseline at one IPC: its tuned recipe, its outer steps at Teddy's FLOP budget, and the
    tuning grid's validation accuracies (``grid``: ``(lr, inner_lr, accuracy)``, with ``start`` the starting
    images' validation accuracy; both empty when there was nothing to choose)."""

    recipe: UnrolledRecipe
    steps: int
    teddy_flops: int
    unrolled_flops: int
    grid: list[tuple[float, float, float]] = field(default_factory=list)
    start: float | None = None


def plan_unrolled(make: Callable[[], nn.Module], train, val, pool: Pool, ipc: int, teddy: TeddyRecipe,
                  base: UnrolledRecipe, lrs: Sequence[float], inner_lrs: Sequence[float], evaluation: EvalRecipe,
                  seed: int, device: torch.device) -> UnrolledPlan:
    """Give the unrolled baseline Teddy's budget in FLOPs (``teddy.steps`` iterations' worth) and pick its pixel
    and inner learning rates from the grid ``lrs x inner_lrs`` by accuracy on the validation split (never the
    test split), from the starting images of ``seed``. A one-point grid is taken as it is."""
    t_flops, u_flops = iteration_flops(make, train, pool, ipc, teddy, base, device)
    steps = max(1, (teddy.steps * t_flops) // u_flops)
    candidates = [replace(base, lr=lr, inner_lr=inner_lr) for lr in lrs for inner_lr in inner_lrs]
    if len(candidates) == 1:
        return UnrolledPlan(candidates[0], steps, t_flops, u_flops)
    x0, y0 = init_synthetic(train, ipc, stream(seed, INIT, ipc))
    grid = []
    for recipe in candidates:
        d = distill_unrolled(make, train, x0, y0, recipe, steps, stream(seed, UNROLLED, ipc), device,
                             desc=f"tune unrolled ipc={ipc} lr={recipe.lr} inner={recipe.inner_lr}")
        grid.append((recipe.lr, recipe.inner_lr, evaluate_set(make, d.x, y0, val, evaluation, seed, device)))
    best = max(range(len(grid)), key=lambda i: grid[i][2])
    start = evaluate_set(make, x0, y0, val, evaluation, seed, device)
    return UnrolledPlan(candidates[best], steps, t_flops, u_flops, grid, start)


# ------------------------------------------------------------------------------------------ the runs
METHODS = {
    "random": "random real subset",
    "unrolled": "unrolled bi-level, equal FLOPs, tuned",
    "teddy": "Teddy (weak pool)",
    "teddy_fresh": "Teddy with fresh-init pool",
    "teddy_strong": "Teddy with the trained base only",
}
POOL_OF = {"teddy": "weak", "teddy_fresh": "fresh", "teddy_strong": "strong"}


@dataclass
class Comparison:
    """Per method and IPC: test accuracy per seed (in the order of the seeds), outer steps, and the first seed's
    images (for display)."""

    acc: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    steps: dict[str, dict[int, int]] = field(default_factory=dict)
    images: dict[str, dict[int, Tensor]] = field(default_factory=dict)

    def add(self, method: str, ipc: int, acc: float, x: Tensor, result: Distilled | None = None) -> None:
        self.acc.setdefault(method, {}).setdefault(ipc, []).append(acc)
        if result is not None:
            self.steps.setdefault(method, {})[ipc] = result.steps
        self.images.setdefault(method, {}).setdefault(ipc, x)


def compare_methods(make: Callable[[], nn.Module], train, test, pools: dict[str, Pool], *, ipcs: Sequence[int],
                    seeds: Sequence[int], teddy: TeddyRecipe, unrolled: dict[int, UnrolledPlan],
                    evaluation: EvalRecipe, ablation_ipc: int, device: torch.device,
                    teacher: nn.Module | None = None) -> Comparison:
    """Every method from the same real starting images per (IPC, seed), judged by the same evaluation networks.

    Teddy runs ``teddy.steps`` iterations; the unrolled baseline its plan's steps (Teddy's FLOPs) with its tuned
    rates. The pool ablation (fresh / strong pools) runs at ``ablation_ipc``.
    """
    out = Comparison()
    for ipc in ipcs:
        for seed in seeds:
            x0, y0 = init_synthetic(train, ipc, stream(seed, INIT, ipc))

            def score(x: Tensor) -> float:
                return evaluate_set(make, x, y0, test, evaluation, seed, device, teacher)

            out.add("random", ipc, score(x0), x0)
            for method in ["teddy"] + (["teddy_fresh", "teddy_strong"] if ipc == ablation_ipc else []):
                d = distill_teddy(make(), pools[POOL_OF[method]], train, x0, y0, teddy, stream(seed, TEDDY, ipc),
                                  device, desc=f"{method} ipc={ipc} seed={seed}")
                out.add(method, ipc, score(d.x), d.x, d)
            plan = unrolled[ipc]
            d = distill_unrolled(make, train, x0, y0, plan.recipe, plan.steps, stream(seed, UNROLLED, ipc), device,
                                 desc=f"unrolled ipc={ipc} seed={seed}")
            out.add("unrolled", ipc, score(d.x), d.x, d)
    return out


def taylor_agreement(make: Callable[[], nn.Module], real, *, ipc: int, K: int, alphas: Sequence[float],
                     real_batch: int, seed: int, device: torch.device) -> list[dict]:
    """How close the Taylor form's gradient is to the unrolled one on this network, per :math:`\\alpha`:
    cosine similarity and relative error :math:`\\|g_{\\text{Taylor}}-g_{\\text{unrolled}}\\|/\\|g_{\\text{unrolled}}\\|`."""
    gen = stream(seed, FLOPS)
    torch.manual_seed(seed)
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, y = (t.to(device) for t in init_synthetic(real, ipc, gen))
    xr, yr = (t.to(device) for t in real.sample(real_batch, gen))
    theta0 = {k: v.to(device) for k, v in weights_of(make()).items()}
    rows = []
    for alpha in alphas:
        _, g_u = unrolled_grad(loss, theta0, x, y, xr, yr, K, alpha)
        g_t = taylor_grad(loss, theta0, x, y, xr, yr, K, alpha)
        rows.append({"alpha": alpha, "cosine": F.cosine_similarity(g_u.flatten(), g_t.flatten(), dim=0).item(),
                     "relative_error": ((g_t - g_u).norm() / g_u.norm()).item()})
    return rows
