"""LinFusion's parameters: the distillation, the resolution-transfer checks and the scaling sweep.

Full-scale values follow the paper's card and the official ``distill.py`` (AdamW lr 1e-4, weight decay 0,
6 images per GPU, 2 accumulation steps, alpha = beta = 0.5, SD-1.5 at 512 px; sampling with 25 steps,
CFG 7.5, zero-shot up to 2048 px); the miniature's are sized for two CPU cores.
"""
from __future__ import annotations

from ..core.params import Check, Param, Params, Schema


def full_scale_models_go_together(p: Params) -> str | None:
    """Distilling on ``data_dir`` needs a base model; a base model needs weights or data to distil them."""
    if p.data_dir is not None and p.weights is None:
        return ("parameter 'data_dir': distils LinFusion into a Stable Diffusion model; set 'weights' too "
                "(a diffusers folder or a cached hub id)")
    if p.weights is not None and p.data_dir is None and p.linfusion_weights is None:
        return ("parameter 'weights' needs 'linfusion_weights' (released weights) or 'data_dir' (captioned "
                "images to distil them from)")
    return None


def token_counts_are_ordered(p: Params) -> str | None:
    """The sweep runs from ``tokens_min`` up; each softmax kernel starts at ``tokens_min`` too."""
    for name in ("tokens_max", "softmax_max_tokens", "sdpa_max_tokens"):
        if p[name] < p.tokens_min:
            return f"parameter '{name}' ({p[name]}) is below 'tokens_min' ({p.tokens_min}): nothing to sweep"
    return None


def upscales_start_at_the_training_size(p: Params) -> str | None:
    """The claims compare models at the training size (1) and at the largest upscale."""
    if 1 not in p.upscales or any(not isinstance(u, int) or u < 1 for u in p.upscales):
        return (f"parameter 'upscales': expected positive integers including 1 (the training size), "
                f"got {p.upscales}")
    return None


SCHEMA = Schema("linfusion", (
    # the miniature's distillation (one run per student)
    Param("distill_steps", int, {"smoke": 3, "cpu": 80, "full": 2000},
          "distillation steps per miniature student", low=1),
    Param("distill_batch_size", int, {"smoke": 8, "cpu": 32, "full": 64}, "distillation batch size", low=1,
          high=4096),
    Param("distill_lr", float, 1e-3, "AdamW learning rate (the paper's 1e-4 is for SD; the miniature uses 1e-3)",
          low=1e-7, high=1.0),
    Param("alpha", float, 0.5, "weight of the output distillation term ||eps_S - eps_T||^2", low=0.0),
    Param("beta", float, 0.5, "weight of the per-layer feature distillation term", low=0.0),
    # judging at 1x, 2x, 4x the training size
    Param("upscales", list, {"smoke": [1, 2], "cpu": [1, 2, 4], "full": [1, 2, 4]},
          "sizes judged, as multiples of the training resolution (1 = trained size)"),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 5},
          "evaluation seeds (noise draws and time steps) of the noise-prediction error and the refinement",
          low=1, high=100),
    Param("n_test", int, {"smoke": 16, "cpu": 32, "full": 397},
          "test digits for the held-out noise-prediction error (at most 397)", low=2, high=397),
    Param("sample_per_class", int, {"smoke": 1, "cpu": 1, "full": 20},
          "test digits per class refined at each size and seed", low=1, high=30),
    Param("sample_strength", float, 0.6, "refinement strength: the fraction of the noise schedule an upsampled "
          "image is noised to before it is denoised (SDEdit; the paper's upscaling chain uses 0.1-0.4 at 2x per "
          "side on top of a good base image)", low=0.05, high=1.0),
    Param("sample_steps", int, {"smoke": 2, "cpu": 6, "full": 25}, "DDIM steps over the whole schedule",
          low=1, high=1000),
    Param("guidance", float, {"smoke": 2.0, "cpu": 2.0, "full": 7.5}, "classifier-free guidance scale",
          low=1.0, high=30.0),
    # scaling of one attention call
    Param("tokens_min", int, {"smoke": 64, "cpu": 1024, "full": 1024}, "smallest token count", low=1),
    Param("tokens_max", int, {"smoke": 256, "cpu": 131072, "full": 1048576}, "largest token count", low=1),
    Param("sdpa_max_tokens", int, {"smoke": 256, "cpu": 16384, "full": 262144},
          "largest token count for fused SDPA (its time grows as N^2: 8 s at 16k tokens on one CPU core)", low=1),
    Param("softmax_max_tokens", int, {"smoke": 256, "cpu": 4096, "full": 32768},
          "largest token count for the materialised N x N softmax (memory grows as N^2)", low=1),
    Param("heads", int, 8, "attention heads in the scaling sweep", low=1, high=256),
    Param("head_dim", int, 64, "head dimension in the scaling sweep", low=1, high=1024),
    # full scale (Stable Diffusion)
    Param("weights", str, {"smoke": None, "cpu": None, "full": "stable-diffusion-v1-5/stable-diffusion-v1-5"},
          "Stable Diffusion teacher at full scale: a diffusers folder or hub id in the local cache (None: the "
          "zoo's DDPM only)", optional=True, weights=True),
    Param("linfusion_weights", str, {"smoke": None, "cpu": None, "full": "Yuanshi/LinFusion-1-5"},
          "released LinFusion weights (hub id in the local cache, or a folder)", optional=True, weights=True),
    Param("resolutions", list, {"smoke": [64], "cpu": [64], "full": [512, 1024, 2048]},
          "Stable Diffusion generation sizes in pixels (full scale)"),
    # full scale: distilling LinFusion into `weights` (instead of loading linfusion_weights)
    Param("data_dir", str, None, "folder of captioned images (metadata.jsonl, or <image>.txt beside each "
          "image); when set, LinFusion is distilled into `weights` on it instead of loading linfusion_weights",
          optional=True, path=True),
    Param("sd_resolution", int, 512, "Stable Diffusion distillation: image size in pixels (SD-1.5: 512)",
          low=8, high=4096),
    Param("sd_steps", int, 10000, "Stable Diffusion distillation: optimiser steps", low=1),
    Param("sd_batch_size", int, 6, "Stable Diffusion distillation: images per GPU per micro-batch", low=1,
          high=4096),
    Param("sd_grad_accum", int, 2, "Stable Diffusion distillation: micro-batches per optimiser step", low=1,
          high=1024),
    Param("sd_lr", float, 1e-4, "Stable Diffusion distillation: AdamW learning rate", low=1e-8, high=1.0),
    Param("sd_weight_decay", float, 0.0, "Stable Diffusion distillation: AdamW weight decay", low=0.0, high=1.0),
    Param("sd_mixed_precision", str, "fp16", "Stable Diffusion distillation on CUDA: frozen models in this "
          "precision, student under autocast", choices=("no", "fp16", "bf16")),
    Param("gpus", int, 1, "Stable Diffusion distillation: GPUs (one rank each, torch.distributed)",
          low=1, high=1024),
    Param("sd_out", str, None, "folder for the distilled weights and the resumable checkpoint "
          "(None: under the paperlib cache, keyed by the settings)", optional=True),
), description="LinFusion: generalized linear attention distilled into a diffusion UNet, zero-shot at higher "
               "resolution, and its time/memory scaling", gpus_full=1, time_full="about 15 minutes on one "
               "80 GB GPU with released weights (distillation from scratch with data_dir: days on 8 GPUs)",
   checks=(Check(full_scale_models_go_together, {"weights": "stable-diffusion-v1-5/stable-diffusion-v1-5"}),
           Check(token_counts_are_ordered, {"tokens_min": 4096, "tokens_max": 1024}),
           Check(upscales_start_at_the_training_size, {"upscales": [2, 4]})))
