"""The chapter's experiment: synthetic-set initialisation, the two distillation loops (unrolled
bi-level and Teddy), the evaluation protocol, and the cost sweep over K.

Narrated in notebooks/teddy.py, "The experiment" and "What it costs".
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.progress import progress
from ..zoo.classifier import random_shift
from .kernels import DISTANCES, SavedBytes, classifier_loss, taylor_grad, teddy_grad, unrolled_grad, weights_of
from .pool import Pool


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


@dataclass
class Distilled:
    """A distilled set and how it was made (outer steps, wall seconds, loss per step)."""

    x: Tensor
    y: Tensor
    steps: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def _adam_on(x0: Tensor, lr: float) -> tuple[Tensor, torch.optim.Optimizer]:
    x = x0.detach().clone().requires_grad_(True)
    return x, torch.optim.Adam([x], lr=lr)


def distill_teddy(template: nn.Module, pool: Pool, real, x0: Tensor, y0: Tensor, *, steps: int, lr: float,
                  real_batch: int, gen: torch.Generator, distance: str = "cos", device: torch.device | None = None,
                  desc: str = "teddy") -> Distilled:
    """Teddy's outer loop: draw :math:`\\theta^{(m)}\\sim\\mathcal P`, real batch :math:`B_c` per class,
    step Adam on the pixels with :math:`\\nabla_{\\mathcal S}\\sum_c D(g_{B_c}, g_{\\mathcal S_c})`, clamp to [0, 1]."""
    device = device or x0.device
    template = template.to(device).eval()
    loss, dist = classifier_loss(template), DISTANCES[distance]
    x, opt = _adam_on(x0.to(device), lr)
    y = y0.to(device)
    losses: list[float] = []
    t0 = time.perf_counter()
    for _ in progress(range(steps), desc=desc):
        theta = {k: v.to(device) for k, v in pool.draw(gen, template).items()}
        batch = {c: real.sample_class(c, real_batch, gen).to(device) for c in range(real.num_classes)}
        value, grad = teddy_grad(loss, theta, x.detach(), y, batch, dist)
        opt.zero_grad(set_to_none=True)
        x.grad = grad
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        losses.append(value)
    return Distilled(x.detach().cpu(), y0.clone(), steps, time.perf_counter() - t0, losses)


def distill_unrolled(make: Callable[[], nn.Module], real, x0: Tensor, y0: Tensor, *, steps: int, K: int,
                     inner_lr: float, lr: float, real_batch: int, gen: torch.Generator,
                     seconds: float | None = None, device: torch.device | None = None,
                     desc: str = "unrolled") -> Distilled:
    """The bi-level baseline: each outer step starts a fresh random :math:`\\theta_0`, unrolls :math:`K`
    SGD steps on :math:`\\mathcal S` in one graph and back-propagates :math:`\\mathcal L_{\\mathcal T}(\\theta_K)`
    to the pixels. With ``seconds`` it stops once that much wall time is spent (equal-time runs)."""
    device = device or x0.device
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, opt = _adam_on(x0.to(device), lr)
    y = y0.to(device)
    losses: list[float] = []
    t0 = time.perf_counter()
    done = 0
    for _ in progress(range(steps), desc=desc):
        if seconds is not None and time.perf_counter() - t0 >= seconds:
            break
        theta0 = {k: v.to(device) for k, v in weights_of(make()).items()}
        xr, yr = real.sample(real_batch, gen)
        value, grad = unrolled_grad(loss, theta0, x.detach(), y, xr.to(device), yr.to(device), K, inner_lr)
        opt.zero_grad(set_to_none=True)
        x.grad = grad
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
        losses.append(float(value))
        done += 1
    return Distilled(x.detach().cpu(), y0.clone(), done, time.perf_counter() - t0, losses)


def heldout_accuracy(model: nn.Module, test, device: torch.device) -> float:
    """Top-1 accuracy on the held-out test data (never trained on)."""
    model.eval()
    right = total = 0
    with torch.no_grad():
        for xb, yb in test.test_batches():
            right += (model(xb.to(device)).argmax(1).cpu() == yb).sum().item()
            total += len(yb)
    return right / total


def train_on_set(make: Callable[[], nn.Module], x: Tensor, y: Tensor, *, steps: int, lr: float, shift: int,
                 device: torch.device, teacher: nn.Module | None = None, temperature: float = 4.0,
                 batch_size: int = 256) -> nn.Module:
    """The evaluation protocol's training: a fresh network on the distilled set only (Adam, random
    shifts); with ``teacher``, soft labels (KL to the teacher's tempered softmax on the same views)."""
    model = make().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = x.to(device), y.to(device)
    for _ in range(steps):
        pick = torch.randperm(len(x), device=device)[:batch_size]
        xb = random_shift(x[pick], shift)
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


def evaluate_set(make: Callable[[], nn.Module], x: Tensor, y: Tensor, test, *, n_models: int, steps: int,
                 lr: float, shift: int, seed: int, device: torch.device, teacher: nn.Module | None = None) -> float:
    """Mean test accuracy of ``n_models`` fresh networks trained on ``(x, y)`` (seeded)."""
    accs = []
    for i in range(n_models):
        torch.manual_seed(seed * 1000 + i)
        accs.append(heldout_accuracy(train_on_set(make, x, y, steps=steps, lr=lr, shift=shift, device=device,
                                               teacher=teacher), test, device))
    return sum(accs) / len(accs)


# ---------------------------------------------------------------------------------------------- cost
def _measure(fn: Callable[[], object], device: torch.device, repeats: int) -> tuple[int, float, int | None]:
    """(peak bytes held for backward, median seconds, CUDA peak bytes above the start or None)."""
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
    return saved.peak, statistics.median(times), cuda_peak


def cost_sweep(make: Callable[[], nn.Module], real, pool: Pool, *, ipc: int, Ks: Sequence[int], inner_lr: float,
               real_batch: int, class_batch: int, device: torch.device, repeats: int = 3,
               seed: int = 0) -> list[dict]:
    """Per outer iteration, at each :math:`K`: bytes held for backward (exact), seconds (median of
    ``repeats``) and on CUDA the allocator's peak, for the unrolled gradient, the Taylor form along a
    :math:`K`-point trajectory, and one Teddy iteration (one pool model, all classes)."""
    gen = torch.Generator().manual_seed(seed)
    template = make().to(device).eval()
    loss = classifier_loss(template)
    x, y = init_synthetic(real, ipc, gen)
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
        for name, (saved, sec, cuda) in (("unrolled", unrolled), ("taylor", taylor), ("teddy", teddy)):
            row.update({f"{name}_bytes": saved, f"{name}_seconds": sec, f"{name}_cuda_bytes": cuda})
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------ the runs
METHODS = {
    "random": "random real subset",
    "unrolled": "unrolled bi-level, equal steps",
    "unrolled_time": "unrolled bi-level, equal time",
    "teddy": "Teddy (weak pool)",
    "teddy_fresh": "Teddy with fresh-init pool",
    "teddy_strong": "Teddy with the trained base only",
}


@dataclass
class Comparison:
    """Per method and IPC: test accuracy per seed, distillation seconds and steps per seed, and the
    first seed's distilled images (for display)."""

    acc: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    seconds: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    steps: dict[str, dict[int, list[int]]] = field(default_factory=dict)
    images: dict[str, dict[int, Tensor]] = field(default_factory=dict)

    def add(self, method: str, ipc: int, acc: float, result: Distilled | None, x: Tensor) -> None:
        self.acc.setdefault(method, {}).setdefault(ipc, []).append(acc)
        if result is not None:
            self.seconds.setdefault(method, {}).setdefault(ipc, []).append(result.seconds)
            self.steps.setdefault(method, {}).setdefault(ipc, []).append(result.steps)
        self.images.setdefault(method, {}).setdefault(ipc, x)


def compare_methods(p, make: Callable[[], nn.Module], train, test, pools: dict[str, Pool], device: torch.device,
                    teacher: nn.Module | None = None) -> Comparison:
    """Every method on the same real initialisation per (IPC, seed), evaluated by the same protocol.

    Teddy runs ``p.outer_steps`` iterations; the unrolled baseline runs the same number of steps, and
    again for Teddy's wall time. The pool ablation (fresh / strong pools) runs at ``p.ablation_ipc``.
    """
    out = Comparison()
    common = dict(lr=p.syn_lr, device=device)
    for ipc in p.ipcs:
        for s in range(p.seeds):
            seed = p.seed * 1000 + s
            gen = torch.Generator().manual_seed(seed)
            x0, y0 = init_synthetic(train, ipc, gen)

            def score(x: Tensor) -> float:
                return evaluate_set(make, x, y0, test, n_models=p.eval_models, steps=p.eval_steps, lr=p.eval_lr,
                                    shift=1, seed=seed, device=device, teacher=teacher)

            out.add("random", ipc, score(x0), None, x0)
            kinds = ["teddy"] + (["teddy_fresh", "teddy_strong"] if ipc == p.ablation_ipc else [])
            for method in kinds:
                pool = pools[{"teddy": "weak", "teddy_fresh": "fresh", "teddy_strong": "strong"}[method]]
                d = distill_teddy(make(), pool, train, x0, y0, steps=p.outer_steps, real_batch=p.real_batch,
                                  distance=p.distance,
                                  gen=torch.Generator().manual_seed(seed + 1), desc=f"{method} ipc={ipc}", **common)
                out.add(method, ipc, score(d.x), d, d.x)
                if method == "teddy":
                    budget = d.seconds
            for method, steps, seconds in (("unrolled", p.outer_steps, None),
                                           ("unrolled_time", 100 * p.outer_steps, budget)):
                d = distill_unrolled(make, train, x0, y0, steps=steps, K=p.unroll_k, inner_lr=p.inner_lr,
                                     real_batch=p.unrolled_batch, gen=torch.Generator().manual_seed(seed + 2),
                                     seconds=seconds, desc=f"{method} ipc={ipc}", **common)
                out.add(method, ipc, score(d.x), d, d.x)
    return out


def taylor_agreement(make: Callable[[], nn.Module], real, *, ipc: int, K: int, alphas: Sequence[float],
                     real_batch: int, seed: int, device: torch.device) -> list[dict]:
    """How close the Taylor form's gradient is to the unrolled one on this network, per :math:`\\alpha`:
    cosine similarity and relative error :math:`\\|g_{\\text{Taylor}}-g_{\\text{unrolled}}\\|/\\|g_{\\text{unrolled}}\\|`."""
    gen = torch.Generator().manual_seed(seed)
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
