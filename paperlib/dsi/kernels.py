"""Distribution Shift Inversion (Yu et al., CVPR 2023): the transform and the sample-adaptive rule.

Forward mix with Gaussian noise at step ``T`` (the DDPM forward marginal),

    x_T = sqrt(abar_T) x + sqrt(1 - abar_T) eps,        eps ~ N(0, I)

then the source-only diffusion model's deterministic DDIM reverse path (eta = 0) from ``T`` to 0,

    x0_hat(t) = (x_t - sqrt(1 - abar_t) eps_theta(x_t, t)) / sqrt(abar_t)        (clipped to [-1, 1])
    x_{t'}    = sqrt(abar_{t'}) x0_hat(t) + sqrt(1 - abar_{t'}) eps_theta(x_t, t)

over ``t = T, T - dt, ..., 0`` with ``abar`` after the last step taken as 1, so ``x_hat = x0_hat(0)``.
``T = 0`` is the identity (no inversion). The adaptive rule accepts, per sample, the first of the
ascending candidates whose (ensembled) prediction is confident: ``max softmax > tau``.

Torch only (plus the diffusers scheduler's ``alphas_cumprod``); no data kit, no metrics.
Narrated in notebooks/dsi.py, "The method".
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # eps_theta(x_t: (B,C,H,W), t: (B,)) -> (B,C,H,W)


class ThresholdError(ValueError):
    """A confidence threshold that cannot select anything (at or below chance, or above 1)."""


def check_threshold(tau: float, num_classes: int) -> float:
    """``tau`` must lie in ``(1/C, 1]``: the top softmax probability is always >= 1/C, so a threshold at
    or below chance accepts every clean prediction and DSI would never be used."""
    if num_classes < 2:
        raise ValueError(f"num_classes: expected an integer >= 2, got {num_classes!r}")
    tau = float(tau)
    chance = 1.0 / num_classes
    if not (chance < tau <= 1.0):
        raise ThresholdError(f"tau: expected a confidence threshold in (1/{num_classes} = {chance:.4f}, 1], "
                             f"got {tau!r}; max softmax is always >= 1/{num_classes}")
    return tau


def reverse_timesteps(t_start: int, ddim_stride: int) -> list[int]:
    """The DDIM path ``T, T - dt, ..., (T mod dt)`` (the last step lands on ``abar = 1``); ``[]`` for T = 0.

    When ``T`` lies on the stride grid this is exactly the tail of diffusers' ``DDIMScheduler``
    timesteps with ``num_inference_steps = num_train_timesteps // dt`` ("leading" spacing).
    """
    if ddim_stride < 1:
        raise ValueError(f"ddim_stride: expected an integer >= 1, got {ddim_stride!r}")
    if t_start < 0:
        raise ValueError(f"t_start: expected a step >= 0, got {t_start!r}")
    return list(range(t_start, -1, -ddim_stride)) if t_start > 0 else []


def check_steps(steps, num_train_timesteps: int) -> list[int]:
    """A DSI curve's steps: distinct integers in ``[0, num_train_timesteps)``, sorted ascending."""
    steps = list(steps)
    if not steps:
        raise ValueError("noise_steps: expected at least one noise step")
    for t in steps:
        if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < num_train_timesteps:
            raise ValueError(f"noise_steps: expected integers in [0, {num_train_timesteps - 1}] (the schedule has "
                             f"{num_train_timesteps} steps), got {t!r}")
    if len(set(steps)) != len(steps):
        raise ValueError(f"noise_steps: expected distinct steps, got {steps!r}")
    return sorted(steps)


def forward_mix(x: torch.Tensor, t: int, alphas_cumprod: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``x_T = sqrt(abar_T) x + sqrt(1 - abar_T) eps``; x, noise: (B, C, H, W) in the model's space."""
    abar = alphas_cumprod[t].to(x.dtype)
    return abar.sqrt() * x + (1 - abar).sqrt() * noise


def ddim_step(x_t: torch.Tensor, eps: torch.Tensor, abar_t: torch.Tensor, abar_prev: torch.Tensor,
              clip: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """One deterministic DDIM step (eta = 0); returns ``(x_prev, x0_hat)``."""
    x0 = (x_t - (1 - abar_t).sqrt() * eps) / abar_t.sqrt()
    if clip:
        x0 = x0.clamp(-1, 1)
    return abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps, x0


@torch.no_grad()
def shift_inversion(eps_fn: EpsFn, x: torch.Tensor, t_start: int, alphas_cumprod: torch.Tensor,
                    ddim_stride: int = 50, noise: torch.Tensor | None = None,
                    generator: torch.Generator | None = None, clip: bool = True) -> torch.Tensor:
    """``x_hat = Phi_theta(sqrt(abar_T) x + sqrt(1 - abar_T) eps, T)``: noise to ``T``, DDIM back to 0.

    x: (B, C, H, W) in [-1, 1] (the diffusion model's space); returns the same shape and space.
    ``noise`` (same shape) or ``generator`` fixes the draw; ``t_start = 0`` returns ``x`` unchanged.
    """
    n_train = len(alphas_cumprod)
    if not 0 <= t_start < n_train:
        raise ValueError(f"t_start: expected a step in [0, {n_train - 1}] (the schedule has {n_train} "
                         f"steps), got {t_start!r}")
    path = reverse_timesteps(t_start, ddim_stride)
    if not path:
        return x.clone()
    if noise is None:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    elif noise.shape != x.shape:
        raise ValueError(f"noise: expected shape {tuple(x.shape)}, got {tuple(noise.shape)}")
    abar = alphas_cumprod.to(device=x.device, dtype=x.dtype)
    one = torch.ones((), device=x.device, dtype=x.dtype)
    x_t = forward_mix(x, t_start, abar, noise.to(x.device, x.dtype))
    x0 = x_t
    for i, t in enumerate(path):
        abar_prev = abar[path[i + 1]] if i + 1 < len(path) else one
        tt = torch.full((len(x_t),), t, device=x.device, dtype=torch.long)
        x_t, x0 = ddim_step(x_t, eps_fn(x_t, tt).to(x.dtype), abar[t], abar_prev, clip)
    return x0


def max_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Confidence ``max_c softmax(logits)_c``; logits: (B, C) -> (B,)."""
    return logits.float().softmax(-1).max(-1).values


def adaptive_logits(clean: torch.Tensor, transformed: Sequence[torch.Tensor], tau: float,
                    with_clean: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The sample-adaptive step choice (the official ``maximalclassprobability`` + ``ensemblek``).

    clean: (B, C) logits of ``f(x)``; transformed: K tensors (B, C), logits of ``f(x_hat_{T_k})`` for
    ascending ``T_1 < ... < T_K``. Accept the clean prediction when ``max softmax > tau``; otherwise the
    first ``k`` whose ensemble (mean of clean and transformed logits when ``with_clean``) is confident;
    samples never confident keep the clean logits. Returns ``(logits (B, C), chosen (B,))`` with
    ``chosen = 0`` for clean, ``k`` (1-based) for ``T_k``, ``-1`` for "never confident, kept clean".
    """
    check_threshold(tau, clean.shape[-1])
    final = clean.clone()
    accepted = max_softmax(clean) > tau
    chosen = torch.where(accepted, 0, -1)
    for k, logits in enumerate(transformed, start=1):
        if logits.shape != clean.shape:
            raise ValueError(f"transformed[{k - 1}]: expected shape {tuple(clean.shape)}, got {tuple(logits.shape)}")
        candidate = (clean + logits) / 2 if with_clean else logits
        take = ~accepted & (max_softmax(candidate) > tau)
        final[take] = candidate[take]
        chosen[take] = k
        accepted |= take
    return final, chosen
