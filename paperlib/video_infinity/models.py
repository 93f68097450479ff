"""The video UNets the chapter splits across processes, and their samplers.

A model spec (a dict, so that it travels to the ranks) names one of three ``UNet3DConditionModel``s, all
VideoCrafter2's layout (temporal convs after every resnet, temporal transformers, no frame-position
embedding):

* ``random``: :func:`make_video_unet`, a miniature with random weights, for the cost and exactness
  measurements (they need no trained weights; its latent side can be made large enough for memory to show);
* ``zoo``: the zoo's video model trained on moving digits (:mod:`paperlib.zoo.video`), for quality;
* ``pretrained``: VideoCrafter2 from local folders (:func:`paperlib.video_infinity.full.pretrained_model`).

Narrated in notebooks/video_infinity.py, Experiment.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["VIDEO_UNET_CONFIG", "make_video_unet", "build_model", "scheduler_for", "random_model"]

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
    return _cast(unet, dtype).eval()


def _cast(unet: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``unet.to(dtype)`` without diffusers' warning (it is about hub checkpoints; these models are ours)."""
    from diffusers.utils import logging as dlogging

    level = dlogging.get_verbosity()
    dlogging.set_verbosity_error()
    try:
        return unet.to(dtype)
    finally:
        dlogging.set_verbosity(level)


def random_model(size: int, dtype: str = "float32") -> dict[str, Any]:
    """The spec of the random miniature at latent side ``size``."""
    return {"kind": "random", "dtype": dtype, "config": {"sample_size": size}}


def build_model(spec: dict[str, Any]) -> tuple[nn.Module, torch.Tensor, dict[str, Any], list[int]]:
    """``(unet, cond, scheduler_config, latent_hw)`` for a model spec (see the module docstring).

    ``cond`` is ``(1, S, D)``, or ``(2, S, D)`` = [negative; prompt] for classifier-free guidance, or
    ``(2, B, S, D)`` with a prompt per video (the zoo model: ``spec["labels"]``, one digit per video); it is
    the same on every rank. ``spec["dtype"]`` casts the weights (float64 for the exactness checks)."""
    dtype = getattr(torch, spec.get("dtype", "float32"))
    kind = spec["kind"]
    if kind == "random":
        from ..zoo import make_scheduler

        unet = make_video_unet(spec.get("seed", 0), dtype, **spec.get("config", {}))
        gen = torch.Generator().manual_seed(spec.get("seed", 0) + 7)
        cond = torch.randn(1, 4, unet.config.cross_attention_dim, generator=gen)
        return unet, cond.to(dtype), dict(make_scheduler("ddim").config), [unet.config.sample_size] * 2
    if kind == "zoo":
        from ..zoo import NULL_CLASS, create

        model, _ = create("video_digits", spec["scale"])
        labels = torch.tensor(spec["labels"])  # the digit of each video (its prompt)
        with torch.no_grad():
            cond = torch.stack([model.cond(torch.full_like(labels, NULL_CLASS)), model.cond(labels)])  # (2, B, 1, D)
        return _cast(model.unet, dtype), cond.to(dtype), model.scheduler_config(), [model.unet.config.sample_size] * 2
    if kind == "pretrained":
        from .full import load_video_unet, scheduler_config

        unet = load_video_unet(spec["unet"], dtype, spec.get("fps", 24))
        return unet, spec["cond"].to(dtype), scheduler_config(spec["text_model"]), list(spec["latent_hw"])
    raise ValueError(f"model kind: expected 'random', 'zoo' or 'pretrained', got {kind!r}")


def scheduler_for(steps: int, sampler: str, config: dict[str, Any]):
    """The sampler with ``steps`` steps on a noise schedule ``config``: ``ddim`` (trailing spacing) or
    ``dpmpp_sde`` (DPM-Solver++ SDE with Karras sigmas, the official one)."""
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler

    if sampler == "ddim":
        sched = DDIMScheduler.from_config(config, timestep_spacing="trailing")
    elif sampler == "dpmpp_sde":
        sched = DPMSolverMultistepScheduler.from_config(config, use_karras_sigmas=True,
                                                        algorithm_type="sde-dpmsolver++")
    else:
        raise ValueError(f"sampler: expected 'ddim' or 'dpmpp_sde', got {sampler!r}")
    sched.set_timesteps(steps)
    return sched
