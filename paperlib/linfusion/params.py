"""LinFusion's parameters: the distillation, the resolution-transfer check and the scaling sweep.

Full-scale values follow the paper's card and the official ``distill.py`` (AdamW lr 1e-4, weight decay 0,
6 images per GPU, 2 accumulation steps, alpha = beta = 0.5, SD-1.5 at 512 px; sampling with 25 steps,
CFG 7.5, zero-shot up to 2048 px); the miniature's are sized for two CPU cores.
"""
from __future__ import annotations

from ..core.params import Param, ParameterError, Params, Schema

SCHEMA = Schema("linfusion", (
    # distillation
    Param("distill_steps", int, {"smoke": 3, "cpu": 80, "full": 2000},
          "distillation steps per miniature student", low=1),
    Param("batch_size", int, {"smoke": 8, "cpu": 32, "full": 64}, "distillation batch size", low=1, high=4096),
    Param("lr", float, 1e-3, "AdamW learning rate (the paper's 1e-4 is for SD; the miniature uses 1e-3)",
          low=1e-7, high=1.0),
    Param("alpha", float, 0.5, "weight of the output distillation term ||eps_S - eps_T||^2", low=0.0),
    Param("beta", float, 0.5, "weight of the per-layer feature distillation term", low=0.0),
    # quality at 1x, 2x, 4x
    Param("upscales", list, {"smoke": [1, 2], "cpu": [1, 2, 4], "full": [1, 2, 4]},
          "generation sizes as multiples of the training resolution (1 = trained size)"),
    Param("eval_images", int, {"smoke": 16, "cpu": 32, "full": 397},
          "test digits for the held-out noise-prediction error (at most 397)", low=2, high=397),
    Param("per_class", int, {"smoke": 1, "cpu": 1, "full": 20}, "generated samples per digit and seed",
          low=1, high=1000),
    Param("sampler_steps", int, {"smoke": 2, "cpu": 6, "full": 25}, "DDIM steps", low=1, high=1000),
    Param("guidance", float, {"smoke": 2.0, "cpu": 2.0, "full": 7.5}, "classifier-free guidance scale",
          low=1.0, high=30.0),
    Param("eval_seeds", int, {"smoke": 2, "cpu": 3, "full": 5},
          "evaluation seeds for the noise-prediction error (noise draws)", low=1, high=100),
    Param("sample_seeds", int, {"smoke": 1, "cpu": 1, "full": 5}, "seeds of generated samples", low=1,
          high=100),
    # scaling of one attention call
    Param("tokens_min", int, {"smoke": 64, "cpu": 256, "full": 1024}, "smallest token count", low=1),
    Param("tokens_max", int, {"smoke": 256, "cpu": 16384, "full": 262144}, "largest token count", low=1),
    Param("softmax_max_tokens", int, {"smoke": 256, "cpu": 4096, "full": 32768},
          "largest token count for the materialised N x N softmax (memory grows as N^2)", low=1),
    Param("heads", int, 8, "attention heads in the scaling sweep", low=1, high=256),
    Param("head_dim", int, 64, "head dimension in the scaling sweep", low=1, high=1024),
    # full scale (Stable Diffusion)
    Param("base_model", str, {"smoke": None, "cpu": None, "full": "stable-diffusion-v1-5/stable-diffusion-v1-5"},
          "diffusers model id or folder of the teacher at full scale (None: the zoo's DDPM)", optional=True),
    Param("linfusion_weights", str, {"smoke": None, "cpu": None, "full": "Yuanshi/LinFusion-1-5"},
          "released LinFusion weights (hub id in the local cache, or a folder)", optional=True),
    Param("resolutions", list, {"smoke": [64], "cpu": [64], "full": [512, 1024, 2048]},
          "Stable Diffusion generation sizes in pixels (full scale)"),
    # full scale: distilling LinFusion into base_model (instead of loading linfusion_weights)
    Param("train_data", str, None, "folder of captioned images (metadata.jsonl, or <image>.txt beside each "
          "image); when set, LinFusion is distilled into base_model on it instead of loading linfusion_weights",
          optional=True, path=True),
    Param("train_resolution", int, 512, "Stable Diffusion distillation: image size in pixels (SD-1.5: 512)",
          low=8, high=4096),
    Param("sd_distill_steps", int, 10000, "Stable Diffusion distillation: optimiser steps", low=1),
    Param("sd_batch_size", int, 6, "Stable Diffusion distillation: images per GPU per micro-batch", low=1,
          high=4096),
    Param("grad_accum", int, 2, "Stable Diffusion distillation: micro-batches per optimiser step", low=1,
          high=1024),
    Param("sd_lr", float, 1e-4, "Stable Diffusion distillation: AdamW learning rate", low=1e-8, high=1.0),
    Param("weight_decay", float, 0.0, "Stable Diffusion distillation: AdamW weight decay", low=0.0, high=1.0),
    Param("mixed_precision", str, "fp16", "Stable Diffusion distillation on CUDA: frozen models in this "
          "precision, student under autocast", choices=("no", "fp16", "bf16")),
    Param("distill_gpus", int, 1, "Stable Diffusion distillation: GPUs (one rank each, torch.distributed)",
          low=1, high=1024),
    Param("distill_out", str, None, "folder for the distilled weights and the resumable checkpoint "
          "(None: under the paperlib cache, keyed by the settings)", optional=True),
), description="LinFusion: generalized linear attention distilled into a diffusion UNet, zero-shot at higher "
               "resolution, and its time/memory scaling", gpus_full=1, time_full="about 15 minutes on one "
               "80 GB GPU with released weights (distillation from scratch with train_data: days on 8 GPUs)")


def check_combination(p: Params) -> None:
    """What one parameter cannot check alone: distillation on ``train_data`` needs a ``base_model``, and
    Stable Diffusion needs LinFusion weights or data to distil them from."""
    if p.train_data is not None and p.base_model is None:
        raise ParameterError("linfusion: parameter 'train_data': distils LinFusion into a Stable Diffusion "
                             "model; set 'base_model' too (a diffusers folder or a cached hub id)")
    if p.base_model is not None and p.train_data is None and p.linfusion_weights is None:
        raise ParameterError("linfusion: parameter 'base_model' needs 'linfusion_weights' (released weights) or "
                             "'train_data' (captioned images to distil them from)")
