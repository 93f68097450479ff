"""Distilled Datamodel (DDM-style): reverse gradient matching offline, leave-one-out replay online.

Symbols (the chapter's): training set :math:`D=\\{(x_i,y_i)\\}_{i=1}^N` split into clusters
:math:`C_k` of sizes :math:`n_k` (:math:`\\sum_k n_k=N`); synset :math:`\\mathcal S=\\{(s_k,y_k)\\}_{k=1}^K`;
real trajectory :math:`\\theta_{t+1}=\\theta_t-\\eta_t\\nabla_\\theta\\mathcal L_D(\\theta_t)`.

* Offline (:func:`reverse_gradient_matching`): while the target model trains on the real data, at the
  checkpoints :math:`t\\in\\mathcal T` each :math:`s_k` takes optimiser steps on
  :math:`d\\big(\\nabla_\\theta\\ell(s_k,y_k;\\theta_t),\\ \\bar g_k(\\theta_t)\\big)`, with
  :math:`\\bar g_k=\\frac1{n_k}\\sum_{i\\in C_k}\\nabla_\\theta\\ell(x_i,y_i;\\theta_t)` (:func:`cluster_mean_grads`)
  and :math:`d` the layer-wise :math:`1-\\cos` plus an optional relative L2 term (:func:`matching_distance`).
* Online (:func:`leave_one_out`): replay the recorded :class:`Schedule` from :math:`\\theta_0` on the synset with
  weights :math:`n_j/\\sum_{j\\in\\text{kept}}n_j` (:func:`weighted_descent`), once with every unit and once per
  removed unit; :math:`A_{k,j}=M(\\theta^{\\mathcal S_{-k}};z_j)-M(\\theta^{\\mathcal S};z_j)`. The same
  function on the real data (unit weights) is the ground-truth leave-one-cluster-out retraining.
* Baseline (:class:`FirstOrder`): the trajectory-linearised (TracIn-style) estimate of the same matrix.

The equations of the offline loss and of the replay rule are reconstructed from the paper's abstract and
figure (no official code). Only torch is used here. Narrated in notebooks/datamodel.py, "The method".
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

Params = dict[str, torch.Tensor]
Objective = Callable[[Params], torch.Tensor]


# --------------------------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class Schedule:
    """The recorded optimiser schedule, replayed unchanged online.

    SGD with momentum and (coupled) weight decay, learning rate ``lr`` with ``"constant"`` or
    ``"cosine"`` decay over ``steps``. ``batch_size=0`` is full-batch descent; otherwise the batch order
    is drawn from ``order_seed`` over all N indices, so a leave-one-out run sees the same batches minus
    the removed samples.
    """

    steps: int
    lr: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    decay: str = "constant"
    batch_size: int = 0
    order_seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1 or not self.lr > 0 or not 0 <= self.momentum < 1 or self.weight_decay < 0:
            raise ValueError(f"schedule: needs steps >= 1, lr > 0, momentum in [0, 1), weight_decay >= 0; "
                             f"got {self}")
        if self.decay not in ("constant", "cosine"):
            raise ValueError(f"schedule: decay must be 'constant' or 'cosine', got {self.decay!r}")

    def lr_at(self, t: int) -> float:
        """:math:`\\eta_t`."""
        if self.decay == "cosine":
            return self.lr * 0.5 * (1 + math.cos(math.pi * t / self.steps))
        return self.lr

    def full_batch(self) -> "Schedule":
        """The replay schedule: the same steps and rates, every synthetic sample in every step."""
        return replace(self, batch_size=0)

    def compressed(self, steps: int) -> "Schedule":
        """The same schedule in ``steps`` steps (0: unchanged), each rate scaled by ``self.steps / steps``.

        :math:`\\sum_t\\eta_t`, how far first-order dynamics travel, stays the same; the decay keeps its shape
        and momentum and weight decay their values. The short replay of a long minibatch schedule: without it
        the synset replay repeats every real step and costs as many steps as retraining.
        """
        if steps < 0:
            raise ValueError(f"replay_steps: expected an integer >= 0, got {steps!r}")
        if steps == 0 or steps == self.steps:
            return self
        return replace(self, steps=steps, lr=self.lr * self.steps / steps)

    def batch_order(self, n: int) -> list[torch.Tensor] | None:
        """Indices of each step's batch (epoch-wise permutations of ``range(n)``), or None for full batch."""
        if self.batch_size == 0 or self.batch_size >= n:
            return None
        g = torch.Generator().manual_seed(self.order_seed)
        per_epoch = n // self.batch_size
        order: list[torch.Tensor] = []
        while len(order) < self.steps:
            perm = torch.randperm(n, generator=g)
            order += [perm[i * self.batch_size:(i + 1) * self.batch_size] for i in range(per_epoch)]
        return order[:self.steps]


# --------------------------------------------------------------------------------------------- gradients
def clone_params(params: Mapping[str, torch.Tensor]) -> Params:
    return {k: v.detach().clone() for k, v in params.items()}


def sample_losses(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  chunk: int = 4096) -> torch.Tensor:
    """Per-sample cross-entropy :math:`\\ell(x_i,y_i;\\theta)`, ``x: (B, ...)``, ``y: (B,)`` -> ``(B,)``."""
    if len(x) <= chunk:
        return F.cross_entropy(functional_call(model, params, (x,)), y, reduction="none")
    out = [F.cross_entropy(functional_call(model, params, (x[i:i + chunk],)), y[i:i + chunk], reduction="none")
           for i in range(0, len(x), chunk)]
    return torch.cat(out) if out else x.new_zeros(0)


def per_sample_grads(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     chunk: int = 512) -> Params:
    """:math:`\\nabla_\\theta\\ell(x_i,y_i;\\theta)` for every sample: ``{name: (B, *shape)}``.

    Differentiable with respect to ``x`` when ``x.requires_grad`` (the synset's matching loss needs it).
    The model must not use batch statistics (no BatchNorm in training mode).
    """
    def one(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi.unsqueeze(0),)), yi.unsqueeze(0))

    g = vmap(grad(one), in_dims=(None, 0, 0))
    parts = [g(dict(params), x[i:i + chunk], y[i:i + chunk]) for i in range(0, len(x), chunk)]
    return {k: torch.cat([p[k] for p in parts]) for k in params}


def cluster_sizes(cluster: torch.Tensor, K: int) -> torch.Tensor:
    """:math:`n_k` for ``cluster: (N,)`` ids in ``[0, K)``; they sum to N."""
    if cluster.numel() and (cluster.min() < 0 or cluster.max() >= K):
        raise ValueError(f"cluster ids must lie in [0, {K}), got range [{int(cluster.min())}, {int(cluster.max())}]")
    return torch.bincount(cluster, minlength=K)


def cluster_mean_grads(model: nn.Module, params: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                       cluster: torch.Tensor, K: int, chunk: int = 512) -> Params:
    """:math:`\\bar g_k(\\theta)=\\frac1{n_k}\\sum_{i\\in C_k}\\nabla_\\theta\\ell(x_i,y_i;\\theta)`: ``{name: (K, *shape)}``."""
    n = cluster_sizes(cluster, K).clamp_min(1)
    out: Params = {k: torch.zeros((K, *v.shape), dtype=v.dtype, device=v.device) for k, v in params.items()}
    for i in range(0, len(x), chunk):
        g = per_sample_grads(model, params, x[i:i + chunk], y[i:i + chunk], chunk)
        for k in out:
            out[k].index_add_(0, cluster[i:i + chunk], g[k].detach())
    return {k: v / n.view(-1, *([1] * (v.dim() - 1))).to(v.dtype) for k, v in out.items()}


def matching_distance(g_syn: Mapping[str, torch.Tensor], g_real: Mapping[str, torch.Tensor],
                      l2_weight: float = 0.0, eps: float = 1e-12) -> torch.Tensor:
    """Layer-wise :math:`d_k=\\sum_\\text{layers}\\big(1-\\cos(g^{S}_k,\\bar g_k)+\\lambda\\|g^S_k-\\bar g_k\\|^2/\\|\\bar g_k\\|^2\\big)`.

    ``g_syn``, ``g_real``: ``{name: (K, *shape)}`` -> ``(K,)``. Zero when the gradients are equal.
    """
    d = None
    for name, a in g_syn.items():
        a, b = a.flatten(1), g_real[name].flatten(1)
        na, nb = a.norm(dim=1), b.norm(dim=1)
        term = 1 - (a * b).sum(1) / (na * nb).clamp_min(eps)
        if l2_weight:
            term = term + l2_weight * (a - b).pow(2).sum(1) / nb.pow(2).clamp_min(eps)
        d = term if d is None else d + term
    return d


# --------------------------------------------------------------------------------------------- training
def _sgd_update(values: list[torch.Tensor], grads: Sequence[torch.Tensor], momentum: list[torch.Tensor],
                schedule: Schedule, t: int) -> None:
    """torch.optim.SGD's update (coupled weight decay, momentum), in place on the list of tensors at once."""
    with torch.no_grad():
        grads = list(grads)
        if schedule.weight_decay:
            torch._foreach_add_(grads, values, alpha=schedule.weight_decay)
        if schedule.momentum:
            torch._foreach_mul_(momentum, schedule.momentum)
            torch._foreach_add_(momentum, grads)
            grads = momentum
        torch._foreach_add_(values, grads, alpha=-schedule.lr_at(t))


def weighted_descent(model: nn.Module, params0: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                     weights: torch.Tensor, schedule: Schedule,
                     on_step: Callable[[int, Params], None] | None = None) -> Params:
    """Train from :math:`\\theta_0` on a weighted set with the recorded schedule; return :math:`\\theta_T`.

    Each step: :math:`g_t=\\sum_{i\\in B_t}\\frac{w_i}{\\sum_{i'\\in B_t}w_{i'}}\\nabla\\ell(x_i,y_i;\\theta_t)
    +\\lambda_{wd}\\theta_t`, :math:`m_t=\\mu m_{t-1}+g_t`, :math:`\\theta_{t+1}=\\theta_t-\\eta_t m_t`.
    Real data: :math:`w_i=1`; the synset: :math:`w_k=n_k`; leave-one-out: the removed weights set to 0.
    ``on_step(t, params)`` sees :math:`\\theta_t` before the update (the offline stage matches there).
    """
    if weights.shape != y.shape or (weights < 0).any():
        raise ValueError(f"weights: expected {tuple(y.shape)} non-negative values, got {tuple(weights.shape)}")
    order = schedule.batch_order(len(y))
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params0.items()}
    values = list(params.values())
    momentum = [torch.zeros_like(v) for v in values]
    for t in range(schedule.steps):
        if on_step is not None:
            on_step(t, params)
        idx = slice(None) if order is None else order[t].to(x.device)
        w = weights[idx].to(x.dtype)
        total = w.sum()
        with torch.enable_grad():
            if total > 0:
                loss = (w / total * sample_losses(model, params, x[idx], y[idx])).sum()
                grads = torch.autograd.grad(loss, values)
            else:  # every sample of this batch was removed: only weight decay acts
                grads = [torch.zeros_like(v) for v in values]
        _sgd_update(values, grads, momentum, schedule, t)
    return clone_params(params)


def stacked_descent(model: nn.Module, params0: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                    weights: torch.Tensor, schedule: Schedule) -> Params:
    """:func:`weighted_descent` for every row of ``weights: (R, B)`` at once: ``{name: (R, *shape)}``.

    The R runs start from the same :math:`\\theta_0`, follow the same schedule and batches, and differ only in
    their weights (leave-one-out: one unit zeroed per row). Their parameters are stacked and the model's forward
    is vmapped over them (``torch.func.functional_call``; a model's own ``stacked(params, x)`` when it has one),
    so one step is one pass over :math:`R\\times B` samples and one backward: the fixed cost of a step, which
    dominates a replay on a few synthetic samples, is paid once instead of R times. Each run's loss depends only
    on its own slice of the stack, so the gradient of their sum is every run's own gradient.
    """
    if weights.dim() != 2 or weights.shape[1] != len(y) or (weights < 0).any():
        raise ValueError(f"weights: expected (runs, {len(y)}) non-negative values, got {tuple(weights.shape)}")
    runs = len(weights)
    order = schedule.batch_order(len(y))
    params = {k: v.detach().unsqueeze(0).repeat(runs, *([1] * v.dim())).requires_grad_(True)
              for k, v in params0.items()}
    values = list(params.values())
    momentum = [torch.zeros_like(v) for v in values]
    forward = getattr(model, "stacked", None) or vmap(lambda p, xb: functional_call(model, p, (xb,)),
                                                       in_dims=(0, None))

    def shares(w: torch.Tensor) -> torch.Tensor:  # each run's weights over its batch, 0 where it kept none
        total = w.sum(1, keepdim=True)
        return torch.where(total > 0, w / total.clamp_min(torch.finfo(w.dtype).tiny), torch.zeros_like(w))

    full = shares(weights.to(x.dtype)) if order is None else None
    targets = y.repeat(runs) if order is None else None
    for t in range(schedule.steps):
        idx = slice(None) if order is None else order[t].to(x.device)
        share = full if order is None else shares(weights[:, idx].to(x.dtype))  # (R, b)
        with torch.enable_grad():
            logits = forward(params, x[idx])                     # (R, b, classes)
            target = targets if order is None else y[idx].repeat(runs)
            losses = F.cross_entropy(logits.flatten(0, 1), target, reduction="none")
            grads = torch.autograd.grad((share * losses.view(runs, -1)).sum(), values)
        _sgd_update(values, grads, momentum, schedule, t)
    return clone_params(params)


def leave_one_out_weights(weights: torch.Tensor, unit: torch.Tensor, units: Sequence[int]) -> torch.Tensor:
    """The weights of the leave-one-out runs, ``(1 + len(units), B)``: row 0 keeps every unit, row ``r`` zeroes
    ``units[r - 1]``."""
    return torch.stack([weights] + [torch.where(unit == k, torch.zeros_like(weights), weights) for k in units])


def leave_one_out(model: nn.Module, params0: Mapping[str, torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                  weights: torch.Tensor, unit: torch.Tensor, units: Sequence[int], schedule: Schedule,
                  objective: Objective, stack: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Leave-one-unit-out by retraining: ``(M(theta), A)`` with :math:`A_{k,j}=M(\\theta_{-k};z_j)-M(\\theta;z_j)`.

    ``unit: (B,)`` says which unit each training row belongs to; row ``r`` of ``A: (len(units), J)`` removes
    ``units[r]``. On the synset ``unit = arange(K)`` and ``weights = n``; on the real data ``unit`` is the
    cluster id and ``weights = 1`` (the ground truth). Larger loss after removal (A > 0) means the unit helped.
    ``stack`` runs share one :func:`stacked_descent` (0: all of them; 1: one after another with
    :func:`weighted_descent`); the numbers are the same either way, up to float rounding.
    """
    if stack < 0:
        raise ValueError(f"stack: expected an integer >= 0, got {stack!r}")
    runs = leave_one_out_weights(weights, unit, units)
    size = len(runs) if stack == 0 else stack
    measured = []
    for i in range(0, len(runs), size):
        chunk = runs[i:i + size]
        if len(chunk) == 1:
            thetas = [weighted_descent(model, params0, x, y, chunk[0], schedule)]
        else:
            stacked = stacked_descent(model, params0, x, y, chunk, schedule)
            thetas = [{k: v[r] for k, v in stacked.items()} for r in range(len(chunk))]
        measured += [objective(theta).detach() for theta in thetas]
    full = measured[0]
    return full, torch.stack(measured[1:]) - full if len(measured) > 1 else full.new_zeros((0, full.numel()))


def sample_gradients(weights: torch.Tensor, schedule: Schedule) -> int:
    """Per-sample gradients that trainings with ``weights: (B,)`` or ``(R, B)`` evaluate under ``schedule``:
    the rows of nonzero weight in each step's batch, summed over steps and runs (the counted cost of
    retraining, independent of the machine)."""
    kept = (weights > 0).reshape(-1, weights.shape[-1])
    order = schedule.batch_order(kept.shape[1])
    if order is None:
        return int(kept.sum()) * schedule.steps
    return sum(int(kept[:, b.to(kept.device)].sum()) for b in order)


def loss_objective(model: nn.Module, x_eval: torch.Tensor, y_eval: torch.Tensor,
                   num_classes: int) -> Objective:
    """:math:`M(\\theta;z_j)=\\ell(x_j,y_j;\\theta)` for an evaluation set; rejects labels the model cannot output."""
    if y_eval.numel() and (y_eval.min() < 0 or y_eval.max() >= num_classes):
        bad = sorted(set(y_eval[(y_eval < 0) | (y_eval >= num_classes)].tolist()))
        raise ValueError(f"evaluation set: labels {bad[:5]} are not among the model's {num_classes} classes "
                         f"[0, {num_classes})")

    def objective(params: Params) -> torch.Tensor:
        with torch.no_grad():
            return sample_losses(model, params, x_eval, y_eval)
    return objective


# --------------------------------------------------------------------------------------------- offline
@dataclass(frozen=True)
class Matching:
    """Reverse gradient matching: every ``every`` real steps, ``steps`` Adam steps of lr ``lr`` on S.

    ``steps=0`` only measures the distance (the synset is then the medoid-only baseline).
    """

    every: int = 5
    steps: int = 3
    lr: float = 0.05
    l2_weight: float = 1.0
    low: float = 0.0
    high: float = 1.0
    eps: float = 1e-8
    samples: int = 0  # members per cluster drawn at each checkpoint for the cluster gradient (0: all)
    seed: int = 0


def subsample_clusters(cluster: torch.Tensor, m: int, generator: torch.Generator) -> torch.Tensor:
    """Row indices of up to ``m`` random members of every cluster (all rows when ``m == 0``)."""
    if m == 0:
        return torch.arange(len(cluster), device=cluster.device)
    perm = torch.randperm(len(cluster), generator=generator).to(cluster.device)
    by_cluster = perm[torch.argsort(cluster[perm], stable=True)]
    c = cluster[by_cluster]
    start = torch.searchsorted(c, c, right=False)
    rank = torch.arange(len(c), device=c.device) - start
    return by_cluster[rank < m]


class FirstOrder:
    """TracIn-style baseline, accumulated on the real trajectory (needs no retraining).

    Full-batch descent without unit k changes the step by :math:`\\Delta\\theta_t=-\\eta_t\\frac{n_k}{N-n_k}(\\bar g-\\bar g_k)`,
    so to first order :math:`A_{k,j}\\approx\\sum_{t\\in\\mathcal T}\\tau\\,\\eta_t\\frac{n_k}{N-n_k}
    \\langle\\nabla\\ell(z_j;\\theta_t),\\bar g_k(\\theta_t)-\\bar g(\\theta_t)\\rangle` with :math:`\\tau` the checkpoint
    spacing. ``scores: (K, J)``.
    """

    def __init__(self, model: nn.Module, x_eval: torch.Tensor, y_eval: torch.Tensor, sizes: torch.Tensor):
        self.model, self.x_eval, self.y_eval = model, x_eval, y_eval
        self.sizes = sizes.to(torch.float64)
        self.scores: torch.Tensor | None = None

    def add(self, params: Params, g_clusters: Params, step_size: float) -> None:
        n = self.sizes.to(next(iter(g_clusters.values())).device)
        N = n.sum()
        g_eval = per_sample_grads(self.model, {k: v.detach() for k, v in params.items()}, self.x_eval, self.y_eval)
        dots = 0
        for name, gk in g_clusters.items():
            gk = gk.flatten(1)
            g_bar = (n.to(gk.dtype)[:, None] * gk).sum(0, keepdim=True) / N.to(gk.dtype)
            dots = dots + (gk - g_bar) @ g_eval[name].flatten(1).T  # (K, J)
        scale = (step_size * n / (N - n).clamp_min(1)).to(dots.dtype)[:, None]
        term = (scale * dots).detach()
        self.scores = term if self.scores is None else self.scores + term


@dataclass
class Distilled:
    """What the offline stage stores: the synset, its labels and cluster sizes, and the real run's end."""

    s: torch.Tensor        # (K, ...) synthetic inputs
    y: torch.Tensor        # (K,) their labels
    sizes: torch.Tensor    # (K,) n_k, summing to N
    params: Params         # theta_T of the real run
    distance: list[float]  # mean matching distance at each checkpoint, before its inner steps
    overhead: int          # per-sample gradients the matching added to the real run (a double backward counts 2)


def reverse_gradient_matching(model: nn.Module, params0: Mapping[str, torch.Tensor], x: torch.Tensor,
                              y: torch.Tensor, cluster: torch.Tensor, s0: torch.Tensor, y_syn: torch.Tensor,
                              schedule: Schedule, matching: Matching,
                              first_order: FirstOrder | None = None) -> Distilled:
    """Train the target model on the real data and distil the synset on the way (the offline stage).

    At :math:`t\\in\\mathcal T=\\{0,\\tau,2\\tau,\\dots\\}`: :math:`\\bar g_k(\\theta_t)` for every cluster, then
    ``steps`` Adam steps on :math:`\\sum_k d(\\nabla_\\theta\\ell(s_k,y_k;\\theta_t),\\bar g_k(\\theta_t))`,
    then :math:`s` is clamped to the data range. The real run itself is unchanged by the matching.
    With ``matching.samples = m > 0`` each :math:`\bar g_k` is estimated from m random members (full scale).
    ``x: (N, ...)``, ``cluster: (N,)``, ``s0: (K, ...)``, ``y_syn: (K,)``.
    """
    K = len(s0)
    sizes = cluster_sizes(cluster, K)
    if (sizes == 0).any():
        raise ValueError(f"every cluster needs at least one sample; empty: {torch.nonzero(sizes == 0).flatten().tolist()}")
    s = s0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([s], lr=matching.lr, eps=matching.eps)
    distance: list[float] = []
    overhead = [0]
    generator = torch.Generator().manual_seed(matching.seed)

    def on_step(t: int, params: Params) -> None:
        if t % matching.every:
            return
        theta = {k: v.detach() for k, v in params.items()}
        rows = subsample_clusters(cluster, matching.samples, generator)
        g_real = cluster_mean_grads(model, theta, x[rows], y[rows], cluster[rows], K)
        overhead[0] += len(rows) + (2 * K * matching.steps if matching.steps else K)
        if first_order is not None:
            first_order.add(theta, g_real, matching.every * schedule.lr_at(t))
        for step in range(max(1, matching.steps)):
            with torch.enable_grad():
                d = matching_distance(per_sample_grads(model, theta, s, y_syn), g_real, matching.l2_weight)
            if step == 0:  # the mismatch the synset arrives with at this checkpoint
                distance.append(float(d.detach().mean()))
            if matching.steps == 0:
                break
            opt.zero_grad(set_to_none=True)
            d.sum().backward()
            opt.step()
            with torch.no_grad():
                s.clamp_(matching.low, matching.high)

    final = weighted_descent(model, params0, x, y, torch.ones(len(y), dtype=x.dtype, device=x.device), schedule,
                             on_step=on_step)
    return Distilled(s.detach(), y_syn.clone(), sizes, final, distance, overhead[0])
