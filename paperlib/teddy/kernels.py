"""Teddy's kernels: the unrolled bi-level objective, its first-order Taylor form, gradient matching.

Symbols follow the chapter. :math:`\\mathcal S` is the synthetic set (pixels ``x_syn``, labels
``y_syn``), :math:`\\mathcal T` the real data, :math:`\\theta` the weights of a network written as a
dict of tensors (``torch.func.functional_call`` style), :math:`\\alpha` the inner learning rate and
:math:`g_{\\mathcal X}(\\theta)=\\nabla_\\theta\\mathcal L_{\\mathcal X}(\\theta)`.

* Unrolled (the baseline): :math:`\\theta_{k+1}=\\theta_k-\\alpha g_{\\mathcal S}(\\theta_k)` for
  :math:`K` steps kept in one graph, objective :math:`\\mathcal L_{\\mathcal T}(\\theta_K)`; its memory
  grows linearly in :math:`K`.
* Taylor form (Teddy): :math:`\\mathcal L_{\\mathcal T}(\\theta_K)\\approx\\mathcal L_{\\mathcal T}(\\theta_0)
  -\\alpha\\sum_{k<K}\\langle g_{\\mathcal T}(\\theta_k), g_{\\mathcal S}(\\theta_k)\\rangle` with every
  :math:`\\theta_k` a constant, so each term is a one-step graph and memory does not grow with
  :math:`K`.
* The matching loss used in practice: :math:`\\sum_c D(g_{B_c}(\\theta), g_{\\mathcal S_c}(\\theta))`
  at a model :math:`\\theta` drawn from the weak pool, with :math:`D` the negative inner product or a
  layer-wise :math:`1-\\cos`.
* The large-scale surrogate (:func:`bn_statistics_loss`): cross-entropy plus the distance of the synthetic
  batch's feature statistics to a pool model's batch-norm running statistics.

Only torch here: no data, no metrics. Narrated in notebooks/teddy.py, "The method".
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

Theta = dict[str, Tensor]
LossFn = Callable[[Theta, Tensor, Tensor], Tensor]  # loss(theta, x, y) -> scalar
Distance = Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]


def classifier_loss(model: nn.Module) -> LossFn:
    """:math:`\\mathcal L_{\\mathcal X}(\\theta)=\\mathrm{CE}(f_\\theta(x), y)` with ``model``'s
    architecture and the weights ``theta`` (buffers, e.g. BN statistics, are taken from ``model``)."""
    buffers = dict(model.named_buffers())

    def loss(theta: Theta, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(functional_call(model, {**buffers, **theta}, (x,)), y)

    return loss


def weights_of(model: nn.Module) -> Theta:
    """The trainable weights of ``model`` as a detached dict :math:`\\theta`."""
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _as_variables(theta: Theta) -> Theta:
    # a fresh leaf per tensor so that autograd.grad w.r.t. theta works without touching the caller's
    return {k: v.detach().requires_grad_(True) for k, v in theta.items()}


def inner_step(loss: LossFn, theta: Theta, x_syn: Tensor, y_syn: Tensor, alpha: float,
               create_graph: bool) -> Theta:
    """One step :math:`\\theta'=\\theta-\\alpha\\,g_{\\mathcal S}(\\theta)`; with ``create_graph`` the
    result stays differentiable in ``x_syn`` (and in ``theta``)."""
    if not create_graph:
        theta = _as_variables(theta)
        x_syn = x_syn.detach()
    g = torch.autograd.grad(loss(theta, x_syn, y_syn), list(theta.values()), create_graph=create_graph)
    out = {k: v - alpha * gk for (k, v), gk in zip(theta.items(), g)}
    return out if create_graph else {k: v.detach() for k, v in out.items()}


#: Synthetic images times inner steps that one unrolled graph may hold before a synthetic batch is required.
MAX_GRAPH_IMAGES = 4096


def unrolled_objective(loss: LossFn, theta0: Theta, x_syn: Tensor, y_syn: Tensor, x_real: Tensor,
                       y_real: Tensor, K: int, alpha: float, syn_batch: int = 0,
                       gen: torch.Generator | None = None) -> Tensor:
    """:math:`\\mathcal L_{\\mathcal T}(\\theta_K(\\mathcal S))` with the :math:`K` inner SGD steps from
    :math:`\\theta_0` kept in one graph (the bi-level baseline). ``x_syn: (N_s, ...)``, returns a scalar.

    Each inner step uses ``syn_batch`` synthetic images drawn from ``gen`` (0: all of them), so the graph holds
    :math:`K\\times` ``syn_batch`` images; the whole set in one :math:`K`-step graph is refused above
    :data:`MAX_GRAPH_IMAGES` image-steps (it is what exhausts a GPU at ImageNet scale).
    """
    if K < 1:
        raise ValueError(f"K: expected an integer >= 1, got {K!r}")
    n = len(x_syn)
    if syn_batch == 0 and n * K > MAX_GRAPH_IMAGES:
        raise ValueError(f"unrolled_syn_batch: the unrolled baseline would hold all {n} synthetic images x K={K} "
                         f"steps in one graph (limit {MAX_GRAPH_IMAGES} image-steps); set unrolled_syn_batch to "
                         f"the synthetic images per inner step (e.g. 100)")
    theta = _as_variables(theta0)
    for _ in range(K):
        if 0 < syn_batch < n:
            pick = torch.randperm(n, generator=gen)[:syn_batch].to(x_syn.device)
            theta = inner_step(loss, theta, x_syn[pick], y_syn[pick], alpha, create_graph=True)
        else:
            theta = inner_step(loss, theta, x_syn, y_syn, alpha, create_graph=True)
    return loss(theta, x_real, y_real)


def unrolled_grad(loss: LossFn, theta0: Theta, x_syn: Tensor, y_syn: Tensor, x_real: Tensor, y_real: Tensor,
                  K: int, alpha: float, syn_batch: int = 0,
                  gen: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """:math:`\\nabla_{\\mathcal S}\\mathcal L_{\\mathcal T}(\\theta_K)` through the unrolled graph
    (back-propagation through all :math:`K` steps). Returns ``(objective, gradient like x_syn)``."""
    x = x_syn.detach().requires_grad_(True)
    objective = unrolled_objective(loss, theta0, x, y_syn, x_real, y_real, K, alpha, syn_batch, gen)
    (grad,) = torch.autograd.grad(objective, x)
    return objective.detach(), grad


def trajectory(loss: LossFn, theta0: Theta, x_syn: Tensor, y_syn: Tensor, K: int, alpha: float) -> Iterator[Theta]:
    """The inner-loop points :math:`\\theta_0,\\dots,\\theta_{K-1}` as constants, one at a time (only the
    current point is held, so this costs no memory that grows with :math:`K`)."""
    theta = {k: v.detach() for k, v in theta0.items()}
    for k in range(K):
        yield theta
        if k + 1 < K:
            theta = inner_step(loss, theta, x_syn, y_syn, alpha, create_graph=False)


def dot_distance(g_real: Sequence[Tensor], g_syn: Sequence[Tensor]) -> Tensor:
    """:math:`D(a,b)=-\\langle a,b\\rangle` summed over all weight tensors (the Taylor derivation's D)."""
    return -sum((a * b).sum() for a, b in zip(g_real, g_syn))


def cosine_distance(g_real: Sequence[Tensor], g_syn: Sequence[Tensor], eps: float = 1e-8) -> Tensor:
    """Layer-wise :math:`D(a,b)=\\sum_l 1-\\cos(a_l,b_l)` over weight tensors (bounded; the stable
    choice, as in gradient matching)."""
    total = 0.0
    for a, b in zip(g_real, g_syn):
        a, b = a.flatten(), b.flatten()
        total = total + 1 - (a * b).sum() / (a.norm() * b.norm() + eps)
    return total


def channel_cosine_distance(g_real: Sequence[Tensor], g_syn: Sequence[Tensor], eps: float = 1e-8) -> Tensor:
    """:math:`D(a,b)=\\sum_l\\sum_i 1-\\cos(a_{l,i},b_{l,i})` over the output units :math:`i` of each
    weight matrix or filter bank; biases are skipped (the distance of gradient matching, DC)."""
    total = 0.0
    for a, b in zip(g_real, g_syn):
        if a.dim() < 2:
            continue
        a, b = a.flatten(1), b.flatten(1)  # (out, fan_in)
        total = total + (1 - (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)).sum()
    return total


DISTANCES: dict[str, Distance] = {"dot": dot_distance, "cos": cosine_distance, "channel_cos": channel_cosine_distance}


def gradient_match(loss: LossFn, theta: Theta, x_syn: Tensor, y_syn: Tensor, x_real: Tensor, y_real: Tensor,
                   distance: Distance = dot_distance) -> Tensor:
    """:math:`D(g_{\\mathcal T}(\\theta), g_{\\mathcal S}(\\theta))` at a constant :math:`\\theta`: the real
    gradient without a graph, the synthetic one with ``create_graph`` (differentiable in ``x_syn``)."""
    theta = _as_variables(theta)
    params = list(theta.values())
    g_real = [g.detach() for g in torch.autograd.grad(loss(theta, x_real, y_real), params)]
    g_syn = torch.autograd.grad(loss(theta, x_syn, y_syn), params, create_graph=True)
    return distance(g_real, g_syn)


def taylor_objective(loss: LossFn, thetas: Sequence[Theta], x_syn: Tensor, y_syn: Tensor, x_real: Tensor,
                     y_real: Tensor, alpha: float) -> Tensor:
    """:math:`\\mathcal L_{\\mathcal T}(\\theta_0)-\\alpha\\sum_k\\langle g_{\\mathcal T}(\\theta_k),
    g_{\\mathcal S}(\\theta_k)\\rangle` with the :math:`\\theta_k` constants (one graph holding all terms;
    :func:`taylor_grad` takes the same gradient with memory flat in :math:`K`)."""
    with torch.no_grad():
        base = loss({k: v.detach() for k, v in thetas[0].items()}, x_real, y_real)
    return base + alpha * sum(gradient_match(loss, t, x_syn, y_syn, x_real, y_real, dot_distance) for t in thetas)


def taylor_grad(loss: LossFn, theta0: Theta, x_syn: Tensor, y_syn: Tensor, x_real: Tensor, y_real: Tensor,
                K: int, alpha: float) -> Tensor:
    """:math:`\\nabla_{\\mathcal S}` of the Taylor form along the trajectory from :math:`\\theta_0`,
    one term at a time: each term's one-step graph is freed before the next is built, so the bytes
    held for backward do not depend on :math:`K`. Returns a gradient shaped like ``x_syn``."""
    if K < 1:
        raise ValueError(f"K: expected an integer >= 1, got {K!r}")
    grad = torch.zeros_like(x_syn)
    for theta in trajectory(loss, theta0, x_syn, y_syn, K, alpha):
        x = x_syn.detach().requires_grad_(True)
        term = alpha * gradient_match(loss, theta, x, y_syn, x_real, y_real, dot_distance)
        grad += torch.autograd.grad(term, x)[0]
    return grad


def teddy_grad(loss: LossFn, theta: Theta, x_syn: Tensor, y_syn: Tensor, real_by_class: dict[int, Tensor],
               distance: Distance = cosine_distance) -> tuple[float, Tensor]:
    """Gradient in ``x_syn`` of :math:`\\sum_c D(g_{B_c}(\\theta), g_{\\mathcal S_c}(\\theta))` at one pool
    model :math:`\\theta` (constant). Classes are matched one after the other and each graph is freed
    at once. ``real_by_class[c]: (B, ...)`` is the real batch :math:`B_c`. Returns ``(loss, gradient)``."""
    grad = torch.zeros_like(x_syn)
    total = 0.0
    for c, x_real in real_by_class.items():
        mask = y_syn == c
        if not bool(mask.any()):
            continue
        x = x_syn[mask].detach().requires_grad_(True)
        y = y_syn[mask]
        d = gradient_match(loss, theta, x, y, x_real, torch.full((len(x_real),), c, dtype=torch.long,
                                                                  device=x_real.device), distance)
        grad[mask] += torch.autograd.grad(d, x)[0]
        total += float(d.detach())
    return total, grad


def bn_statistics_loss(model: nn.Module, theta: Theta, x: Tensor, y: Tensor, bn_weight: float) -> Tensor:
    """The large-scale surrogate at one pool model: :math:`\\mathrm{CE}(f_\\theta(x),y)+\\lambda_{BN}\\sum_l
    \\big(\\|\\mu_l(x)-\\mu_l\\|_2+\\|\\sigma^2_l(x)-\\sigma^2_l\\|_2\\big)`.

    :math:`\\mu_l(x),\\sigma^2_l(x)` are the per-channel mean and (biased) variance of the synthetic batch at
    the input of batch-norm layer :math:`l`, :math:`\\mu_l,\\sigma^2_l` that layer's running statistics in
    ``model`` (the pool model's, loaded into it; the model runs in eval mode, so BN normalises with them).
    ``x: (B, C, H, W)`` -> scalar, differentiable in ``x``. A model without batch norm is an error.
    """
    terms: list[Tensor] = []

    def hook(module: nn.modules.batchnorm._BatchNorm, inputs: tuple[Tensor, ...], _output: Tensor) -> None:
        h = inputs[0]
        dims = [0] + list(range(2, h.dim()))
        terms.append(torch.linalg.vector_norm(h.mean(dims) - module.running_mean)
                     + torch.linalg.vector_norm(h.var(dims, unbiased=False) - module.running_var))

    layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not layers:
        raise ValueError("distill_objective: 'bn_statistics' needs a network with batch-norm layers "
                         f"(got {type(model).__name__}); use 'gradient'")
    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        logits = functional_call(model, {**dict(model.named_buffers()), **theta}, (x,))
    finally:
        for handle in handles:
            handle.remove()
    return F.cross_entropy(logits, y) + bn_weight * torch.stack(terms).sum()
