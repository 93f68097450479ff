"""The zoo's video model: a tiny diffusers ``UNet3DConditionModel`` trained as a DDPM on moving digits.

The class is the one VideoCrafter2's diffusers port loads as, with its temporal layers: a
``TemporalConvLayer`` after every per-frame resnet and a ``TransformerTemporalModel`` after every spatial
transformer (plus ``transformer_in``); the cpu recipe keeps the transformers to the middle block (the
input's temporal one aside) to train within a CPU budget. Its temporal attention has no position embedding,
so the model sees frame order only through the temporal convolutions; a clip-parallel split of it can
therefore be exact (Video-Infinity's halos and GroupNorm sync), unlike a model with absolute frame positions.

Frames live in a fixed, lossless "latent" space standing in for the VAE: ``(B, F, 1, 16, 16)`` pixels in
[0, 1] become ``(B, P^2, F, 16/P, 16/P)`` latents in [-1, 1] by a ``P x P`` pixel unshuffle
(:func:`encode` / :func:`decode`). The prompt is the digit: one learned token per class read by the
cross-attention layers, with a null token (label 10) for classifier-free guidance, as in the zoo's image
DDPM. It predicts ``v`` (cleaner samples from a small model than predicting the noise). Trained on clips
of ``frames`` frames of one digit bouncing on a 16 x 16 canvas (:func:`paperlib.data.moving_digits`, train
split), cached like every zoo model.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .ddpm import NULL_CLASS

__all__ = ["VIDEO_RECIPES", "VideoDigits", "encode", "decode", "video_unet_config", "video_digits"]

# The recipe is part of the cache key: changing a value retrains the model.
VIDEO_RECIPES: dict[str, dict[str, Any]] = {
    "smoke": {"channels": [16, 16], "heads": 2, "patch": 2, "spatial_attention": False, "frames": 8, "size": 16,
              "digit_size": 8, "clips": 256, "steps": 20, "batch_size": 4, "lr": 2e-3, "warmup": 10, "p_uncond": 0.1,
              "prediction": "v_prediction", "seed": 0},
    "cpu": {"channels": [32, 32], "heads": 4, "patch": 2, "spatial_attention": False, "frames": 8, "size": 16,
            "digit_size": 8, "clips": 4096, "steps": 1500, "batch_size": 16, "lr": 2e-3, "warmup": 100, "p_uncond": 0.1,
            "prediction": "v_prediction", "seed": 0},
}


def encode(frames: torch.Tensor, patch: int) -> torch.Tensor:
    """Frames ``(B, F, 1, H, W)`` in [0, 1] -> latents ``(B, patch^2, F, H/patch, W/patch)`` in [-1, 1]."""
    b, f = frames.shape[:2]
    z = F.pixel_unshuffle(frames.flatten(0, 1) * 2 - 1, patch)  # (B F, patch^2, H/patch, W/patch)
    return z.unflatten(0, (b, f)).transpose(1, 2).contiguous()


def decode(latents: torch.Tensor, patch: int) -> torch.Tensor:
    """Latents ``(B, patch^2, F, h, w)`` -> frames ``(B, F, 1, patch h, patch w)`` in [0, 1] (inverse of
    :func:`encode`)."""
    b, _, f = latents.shape[:3]
    x = F.pixel_shuffle(latents.transpose(1, 2).flatten(0, 1), patch)  # (B F, 1, patch h, patch w)
    return ((x.unflatten(0, (b, f)) + 1) / 2).clamp(0, 1)


def video_unet_config(channels: list[int], heads: int, size: int, patch: int, spatial_attention: bool = True
                      ) -> dict[str, Any]:
    """``UNet3DConditionModel`` arguments: two resolutions, one layer each; without ``spatial_attention`` the
    spatial and temporal transformers sit only in the middle block (plus the input's temporal transformer)."""
    down = "CrossAttnDownBlock3D" if spatial_attention else "DownBlock3D"
    up = "CrossAttnUpBlock3D" if spatial_attention else "UpBlock3D"
    return dict(sample_size=size // patch, in_channels=patch**2, out_channels=patch**2,
                block_out_channels=tuple(channels), layers_per_block=1,
                down_block_types=(down, "DownBlock3D"), up_block_types=("UpBlock3D", up), norm_num_groups=8,
                attention_head_dim=heads, cross_attention_dim=channels[0])


class VideoDigits(nn.Module):
    """``eps = unet(z_t, t, c)`` with ``c`` the digit's token ``(B, 1, D)`` (label 10: the null token)."""

    def __init__(self, recipe: dict[str, Any]):
        super().__init__()
        from diffusers import UNet3DConditionModel

        self.patch, self.prediction = recipe["patch"], recipe["prediction"]
        self.unet = UNet3DConditionModel(**video_unet_config(recipe["channels"], recipe["heads"], recipe["size"],
                                                              self.patch, recipe["spatial_attention"]))
        self.label_embed = nn.Embedding(NULL_CLASS + 1, self.unet.config.cross_attention_dim)

    def cond(self, labels: torch.Tensor) -> torch.Tensor:
        return self.label_embed(labels)[:, None, :]  # (B, 1, D)

    def forward(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.unet(z, t, encoder_hidden_states=self.cond(labels)).sample

    def scheduler_config(self) -> dict[str, Any]:
        """The noise schedule it was trained on (the zoo's) and what it predicts."""
        from .ddpm import make_scheduler

        return {**make_scheduler("ddim").config, "prediction_type": self.prediction}


def _loss(model: VideoDigits, z0: torch.Tensor, labels: torch.Tensor, scheduler, p_uncond: float) -> torch.Tensor:
    """DDPM loss on whole clips, ``|| y - f_theta(z_t, t, c) ||^2`` with ``z_t = sqrt(abar) z0 + sqrt(1 - abar)
    eps`` and ``y = eps`` or, for ``v_prediction``, ``y = v = sqrt(abar) eps - sqrt(1 - abar) z0`` (cleaner
    samples from a small model: no residual noise to predict at the last steps); ``p_uncond`` of the labels
    replaced by the null token (for classifier-free guidance)."""
    noise = torch.randn_like(z0)
    t = torch.randint(0, scheduler.config.num_train_timesteps, (len(z0),), device=z0.device)
    drop = torch.rand(len(labels), device=labels.device) < p_uncond
    labels = torch.where(drop, torch.full_like(labels, NULL_CLASS), labels)
    target = scheduler.get_velocity(z0, noise, t) if model.prediction == "v_prediction" else noise
    return F.mse_loss(model(scheduler.add_noise(z0, noise, t), t, labels), target)


def train_video_digits(model: VideoDigits, r: dict[str, Any], on_step=None) -> dict[str, Any]:
    """Train ``model`` by recipe ``r`` (AdamW, linear warm-up); ``on_step(step)`` watches (it must not draw
    from torch's global random state). Returns the facts kept beside the weights."""
    import time

    from ..core.seeding import seed_everything
    from ..core.train import fit
    from ..data import moving_digits
    from .ddpm import make_scheduler

    seed_everything(r["seed"])
    video, labels = moving_digits(r["clips"], r["frames"], r["size"], r["digit_size"], "train", r["seed"])
    z = encode(video, r["patch"])
    scheduler = make_scheduler("ddpm")
    opt = torch.optim.AdamW(model.parameters(), lr=r["lr"])
    warmup = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / r["warmup"]))
    gen = torch.Generator().manual_seed(r["seed"])

    def batches():
        while True:
            pick = torch.randint(len(z), (r["batch_size"],), generator=gen)
            yield z[pick], labels[pick]

    t0 = time.process_time()
    hist = fit(model, batches(), lambda m, b: _loss(m, b[0], b[1], scheduler, r["p_uncond"]), opt,
               r["steps"], desc="zoo: video digits", scheduler=warmup, on_step=on_step)
    tail = hist.loss[-100:]
    return {"first_loss": hist.loss[0], "final_loss": sum(tail) / len(tail),
            "train_cpu_s": round(time.process_time() - t0, 1)}


def video_digits(scale: str, on_step=None) -> tuple[nn.Module, dict[str, Any]]:
    """The cached video model for ``scale`` (trained on first use, ``on_step`` watching), in eval mode on
    the CPU."""
    from .cache import cached_model

    r = dict(VIDEO_RECIPES["cpu" if scale == "full" else scale])

    def make() -> VideoDigits:
        torch.manual_seed(r["seed"])  # the same initial weights whoever asks first
        return VideoDigits(r)

    return cached_model("video_digits", r, make, lambda m: train_video_digits(m, r, on_step))
