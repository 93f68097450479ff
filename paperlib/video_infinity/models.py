"""The video UNets the chapter splits across processes.

* :func:`make_video_unet`: a diffusers ``UNet3DConditionModel`` (VideoCrafter2's layer layout in
  miniature: temporal convs, temporal transformers, spatial cross-attention) with random weights, the
  zero-initialised temporal parameters made non-zero so that every temporal path carries signal.
* :func:`motion_unet` / :func:`motion_model`: the zoo's class-conditional image DDPM turned into a video
  model with ``UNetMotionModel.from_unet2d`` (frozen spatial layers, new motion modules) and trained
  briefly on moving-digit clips, cached like a zoo entry.

Narrated in notebooks/video_infinity.py, Experiment.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

__all__ = ["make_video_unet", "VIDEO_UNET_CONFIG", "call_unet", "motion_unet", "motion_model", "MOTION_RECIPES"]

# A miniature of the VideoCrafter2 / zeroscope UNet3DConditionModel layout (the card's miniature).
VIDEO_UNET_CONFIG: dict[str, Any] = dict(
    sample_size=8, in_channels=4, out_channels=4, block_out_channels=(32, 64), layers_per_block=1,
    down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"), up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"),
    norm_num_groups=8, attention_head_dim=8, cross_attention_dim=32,
)


def make_video_unet(seed: int = 0, dtype: torch.dtype = torch.float64, **overrides: Any) -> nn.Module:
    """A randomly initialised ``UNet3DConditionModel`` in eval mode.

    Parameters that diffusers initialises to zero (the last conv of each temporal conv layer, GroupNorm
    biases, ...) get ``N(0, 0.02^2)`` values: otherwise the temporal convs would be the identity and a
    split test would not see them. Same ``seed`` -> same weights on every rank.
    """
    from diffusers import UNet3DConditionModel

    config = {**VIDEO_UNET_CONFIG, **overrides}
    torch.manual_seed(seed)
    unet = UNet3DConditionModel(**config)
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for param in unet.parameters():
            if not param.any():
                param.copy_(torch.randn(param.shape, generator=gen) * 0.02)
    from diffusers.utils import logging as dlogging

    level = dlogging.get_verbosity()
    dlogging.set_verbosity_error()  # the cast warning is about hub checkpoints; this model is built here
    try:
        return unet.to(dtype).eval()
    finally:
        dlogging.set_verbosity(level)


def call_unet(unet: nn.Module, z: torch.Tensor, t: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """``eps = unet(z, t, c)`` for either video UNet; ``z: (B, C, F, H, W)``, ``cond: (B, S, D)``."""
    if type(unet).__name__ == "UNetMotionModel":
        cond = cond.repeat_interleave(z.shape[2], dim=0)  # UNetMotionModel wants (B F, S, D)
    return unet(z, t, encoder_hidden_states=cond).sample


MOTION_RECIPES: dict[str, dict[str, Any]] = {
    # frames, canvas and digit sizes of the training clips; steps of motion-module training
    "smoke": {"frames": 8, "size": 16, "digit_size": 12, "steps": 6, "batch_size": 4, "lr": 1e-3,
              "train_spatial": False, "seed": 0},
    "cpu": {"frames": 8, "size": 16, "digit_size": 12, "steps": 150, "batch_size": 4, "lr": 1e-3,
            "train_spatial": False, "seed": 0},
}


def motion_unet(image_model: nn.Module, max_frames: int = 32) -> nn.Module:
    """``UNetMotionModel`` from the zoo DDPM's ``UNet2DConditionModel`` (its spatial weights copied)."""
    from diffusers import UNetMotionModel

    unet2d = image_model.unet
    cfg = dict(unet2d.config)
    n = len(cfg["block_out_channels"])
    motion = UNetMotionModel(
        sample_size=cfg["sample_size"], in_channels=cfg["in_channels"], out_channels=cfg["out_channels"],
        down_block_types=tuple(t.replace("2D", "Motion") for t in cfg["down_block_types"]),
        up_block_types=tuple(t.replace("2D", "Motion") for t in cfg["up_block_types"]),
        block_out_channels=tuple(cfg["block_out_channels"]), layers_per_block=cfg["layers_per_block"],
        norm_num_groups=cfg["norm_num_groups"], cross_attention_dim=cfg["cross_attention_dim"],
        num_attention_heads=cfg["attention_head_dim"], motion_max_seq_length=max_frames,
        motion_num_attention_heads=4, use_motion_mid_block=True,
    )
    missing, unexpected = motion.load_state_dict(unet2d.state_dict(), strict=False)
    if unexpected:
        raise RuntimeError(f"motion_unet: spatial weights did not fit: {unexpected[:3]}")
    assert n == len(motion.down_blocks)
    return motion


class MotionDigits(nn.Module):
    """The video denoiser ``eps(z_t, t, c)``: motion UNet plus the zoo DDPM's class tokens."""

    def __init__(self, image_model: nn.Module, max_frames: int = 32):
        super().__init__()
        self.unet = motion_unet(image_model, max_frames)
        self.class_embed = nn.Embedding.from_pretrained(image_model.class_embed.weight.detach().clone())

    def cond(self, labels: torch.Tensor) -> torch.Tensor:
        return self.class_embed(labels)[:, None, :]  # (B, 1, D)

    def forward(self, z: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return call_unet(self.unet, z, t, self.cond(labels))


def motion_model(scale: str = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """The cached motion-digit model for ``scale`` (trained on first use), in eval mode on the CPU."""
    from ..core.seeding import seed_everything
    from ..core.train import fit
    from ..data import moving_digits
    from ..zoo import cached_model, create, ddpm_loss, make_scheduler

    r = dict(MOTION_RECIPES["cpu" if scale == "full" else scale])
    image_model, image_meta = create("ddpm", scale)
    r["ddpm"] = image_meta["sha256"]

    def make() -> nn.Module:
        return MotionDigits(image_model)

    def train(model: nn.Module) -> dict[str, Any]:
        seed_everything(r["seed"])
        video, labels = moving_digits(512, r["frames"], r["size"], r["digit_size"], "train", r["seed"])
        video = video.repeat(1, 1, 3, 1, 1) * 2 - 1  # (n, F, 3, H, W) in [-1, 1] like the image DDPM
        for name, param in model.named_parameters():
            param.requires_grad_(r["train_spatial"] or "motion_modules" in name)
        scheduler = make_scheduler("ddpm")
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=r["lr"])
        gen = torch.Generator().manual_seed(r["seed"])

        def batches():
            while True:
                pick = torch.randint(len(video), (r["batch_size"],), generator=gen)
                yield video[pick].permute(0, 2, 1, 3, 4), labels[pick]  # (B, 3, F, H, W)

        hist = fit(model, batches(), lambda m, b: ddpm_loss(m, b[0], b[1], scheduler), opt, r["steps"],
                   desc="zoo: motion digits")
        tail = hist.loss[-20:]
        return {"final_loss": sum(tail) / len(tail), "first_loss": hist.loss[0]}

    return cached_model("video_infinity_motion", r, make, train)
