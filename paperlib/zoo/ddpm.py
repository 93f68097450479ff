"""The tiny class-conditional DDPM: a diffusers ``UNet2DConditionModel`` with self- and cross-attention.

The class label is embedded to one token ``(B, 1, 64)`` that the cross-attention layers read; label 10
is the null class, used for classifier-free guidance (Ho & Salimans, 2022). Images live in [-1, 1].
Trained on the source domain's train split only (shared by LinFusion and DSI).
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
import torch.nn.functional as F

NULL_CLASS = 10


def make_unet(sample_size: int = 16, channels: Sequence[int] = (32, 64, 64), in_channels: int = 3,
              cross_dim: int = 64):
    from diffusers import UNet2DConditionModel

    n = len(channels)
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=in_channels,
        block_out_channels=tuple(channels), layers_per_block=1, norm_num_groups=8,
        down_block_types=("DownBlock2D",) + ("CrossAttnDownBlock2D",) * (n - 1),
        up_block_types=("CrossAttnUpBlock2D",) * (n - 1) + ("UpBlock2D",),
        cross_attention_dim=cross_dim, attention_head_dim=8,
    )


def make_scheduler(kind: str = "ddpm", num_train_timesteps: int = 1000):
    """The noise schedule shared by training (DDPM) and deterministic sampling (DDIM)."""
    from diffusers import DDIMScheduler, DDPMScheduler

    config = dict(num_train_timesteps=num_train_timesteps, beta_schedule="squaredcos_cap_v2",
                  prediction_type="epsilon", clip_sample=True)
    return DDPMScheduler(**config) if kind == "ddpm" else DDIMScheduler(**config, set_alpha_to_one=True)


class ClassConditionalUNet(nn.Module):
    """``eps = unet(x_t, t, c)`` with ``c`` a learned token per class (plus the null class)."""

    def __init__(self, sample_size: int = 16, channels: Sequence[int] = (32, 64, 64), in_channels: int = 3,
                 num_classes: int = 10, cross_dim: int = 64):
        super().__init__()
        self.unet = make_unet(sample_size, channels, in_channels, cross_dim)
        self.class_embed = nn.Embedding(num_classes + 1, cross_dim)
        self.num_classes = num_classes

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        tokens = self.class_embed(labels)[:, None, :]  # (B, 1, D)
        return self.unet(x_t, t, encoder_hidden_states=tokens).sample


def ddpm_loss(model: ClassConditionalUNet, x0: torch.Tensor, labels: torch.Tensor, scheduler,
              p_uncond: float = 0.1) -> torch.Tensor:
    """Simple DDPM loss ``|| eps - eps_theta(sqrt(abar) x0 + sqrt(1 - abar) eps, t, c) ||^2``, with
    ``p_uncond`` of the labels replaced by the null class (for classifier-free guidance)."""
    noise = torch.randn_like(x0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(x0),), device=x0.device)
    drop = torch.rand(len(labels), device=labels.device) < p_uncond
    labels = torch.where(drop, torch.full_like(labels, NULL_CLASS), labels)
    return F.mse_loss(model(scheduler.add_noise(x0, noise, t), t, labels), noise)


def guided_eps(model: ClassConditionalUNet, x_t: torch.Tensor, t: torch.Tensor, labels: torch.Tensor,
               guidance: float) -> torch.Tensor:
    """Classifier-free guidance: ``eps_uncond + w (eps_cond - eps_uncond)``."""
    if guidance == 1.0:
        return model(x_t, t, labels)
    both = model(torch.cat([x_t, x_t]), torch.cat([t, t]),
                 torch.cat([labels, torch.full_like(labels, NULL_CLASS)]))
    cond, uncond = both.chunk(2)
    return uncond + guidance * (cond - uncond)


@torch.no_grad()
def sample(model: ClassConditionalUNet, labels: torch.Tensor, steps: int = 25, guidance: float = 2.0,
           generator: torch.Generator | None = None, size: int | None = None) -> torch.Tensor:
    """Deterministic DDIM sampling (eta = 0) from pure noise; returns images in [0, 1]."""
    device = next(model.parameters()).device
    size = size or model.unet.config.sample_size
    channels = model.unet.config.in_channels
    scheduler = make_scheduler("ddim")
    scheduler.set_timesteps(steps)
    x = torch.randn(len(labels), channels, size, size, generator=generator).to(device)
    labels = labels.to(device)
    for t in scheduler.timesteps:
        tt = torch.full((len(x),), int(t), device=device, dtype=torch.long)
        x = scheduler.step(guided_eps(model, x, tt, labels, guidance), t, x).prev_sample
    return ((x.clamp(-1, 1) + 1) / 2).cpu()
