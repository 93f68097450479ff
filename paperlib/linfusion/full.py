"""Full scale: Stable Diffusion with softmax self-attention against the released LinFusion weights.

Both come from a local folder or the local Hugging Face cache (no download at run time). The released
checkpoint (``Yuanshi/LinFusion-1-5`` etc.) is a ``config.json`` listing ``{module_name, dim_n, heads,
projection_mid_dim}`` per ``attn1`` and a ``diffusion_pytorch_model.safetensors`` in the official key layout,
loaded by :meth:`LinFusion.load_official`.

Narrated in notebooks/linfusion.py, "At full scale".
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..zoo.pretrained import WeightsNotFound, local_snapshot
from .models import LinFusion

DEFAULT_PROMPT = "An astronaut floating in space. Beautiful view of the stars and the universe in the background."


def load_released(weights: str | Path, unet: nn.Module, param: str = "linfusion_weights") -> LinFusion:
    """Released LinFusion weights (folder or cached hub id) checked against ``unet`` and mounted on it."""
    from safetensors.torch import load_file

    folder = local_snapshot(str(weights), param)
    config_path = folder / "config.json"
    files = sorted(folder.glob("*.safetensors"))
    if not config_path.is_file() or not files:
        raise WeightsNotFound(f"{param}: {str(folder)!r} holds no LinFusion config.json and .safetensors weights")
    config = json.loads(config_path.read_text())
    if "modules_list" not in config:
        raise ValueError(f"{param}: {str(config_path)!r} has no 'modules_list': not a LinFusion checkpoint")
    linfusion = LinFusion(config["modules_list"])
    linfusion.check_fits(unet)
    linfusion.load_official(load_file(str(files[0])), unet)
    linfusion.attach(unet)
    return linfusion


def stable_diffusion_comparison(base_model: str, linfusion_weights: str, resolutions: Sequence[int], steps: int,
                                guidance: float, seed: int, device: torch.device,
                                prompt: str = DEFAULT_PROMPT) -> dict:
    """Generate one image per resolution with SD's softmax self-attention, then with LinFusion mounted;
    returns metrics (seconds per image, peak GPU memory), a Markdown table and a figure."""
    import matplotlib.pyplot as plt
    from diffusers import StableDiffusionPipeline

    folder = local_snapshot(base_model, "base_model")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = StableDiffusionPipeline.from_pretrained(str(folder), torch_dtype=dtype, local_files_only=True,
                                                   safety_checker=None, requires_safety_checker=False)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    metrics, images = {}, {}
    for mode in ("softmax", "linfusion"):
        if mode == "linfusion":
            load_released(linfusion_weights, pipe.unet)
        for res in resolutions:
            if device.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            t0 = time.perf_counter()
            try:
                image = pipe(prompt, height=res, width=res, num_inference_steps=steps, guidance_scale=guidance,
                             generator=torch.Generator(device).manual_seed(seed)).images[0]
            except torch.cuda.OutOfMemoryError:
                metrics[f"sd_{mode}_{res}_seconds"] = "out of memory"
                continue
            if device.type == "cuda":
                torch.cuda.synchronize()
                metrics[f"sd_{mode}_{res}_peak_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
            metrics[f"sd_{mode}_{res}_seconds"] = time.perf_counter() - t0
            images[(mode, res)] = image
    rows = ["| resolution | softmax s | LinFusion s | softmax GiB | LinFusion GiB |", "|---|---|---|---|---|"]
    fmt = lambda v: f"{v:.2f}" if isinstance(v, float) else str(v if v is not None else "-")
    for res in resolutions:
        rows.append(f"| {res} | " + " | ".join(fmt(metrics.get(f"sd_{m}_{res}_{w}"))
                                                for w in ("seconds", "peak_gib") for m in ("softmax", "linfusion"))
                    + " |")
    fig, axes = plt.subplots(2, len(resolutions), figsize=(3 * len(resolutions), 6), squeeze=False)
    for i, mode in enumerate(("softmax", "linfusion")):
        for j, res in enumerate(resolutions):
            ax = axes[i, j]
            ax.axis("off")
            if (mode, res) in images:
                ax.imshow(images[(mode, res)])
            ax.set_title(f"{mode}, {res} px", fontsize=9)
    plt.close(fig)
    return {"metrics": metrics, "table": "\n".join(rows), "figures": [fig]}
