"""LinFusion's parameters: the distillation, the resolution-transfer check and the scaling sweep.

Full-scale values follow the paper's card (AdamW lr 1e-4, weight decay 0, alpha = beta = 0.5, SD-1.5 at
512 px, 25 steps, CFG 7.5, zero-shot up to 2048 px); the miniature's are sized for two CPU cores.
"""
from __future__ import annotations

from ..core.params import Param, Schema

SCHEMA = Schema("linfusion", (
    # distillation
    Param("distill_steps", int, {"smoke": 3, "cpu": 100, "full": 2000},
          "distillation steps per miniature student", low=1),
    Param("batch_size", int, {"smoke": 8, "cpu": 32, "full": 64}, "distillation batch size", low=1, high=4096),
    Param("lr", float, 1e-3, "AdamW learning rate (the paper's 1e-4 is for SD; the miniature uses 1e-3)",
          low=1e-7, high=1.0),
    Param("alpha", float, 0.5, "weight of the output distillation term ||eps_S - eps_T||^2", low=0.0),
    Param("beta", float, 0.5, "weight of the per-layer feature distillation term", low=0.0),
    # quality at 1x, 2x, 4x
    Param("upscales", list, {"smoke": [1, 2], "cpu": [1, 2, 4], "full": [1, 2, 4]},
          "generation sizes as multiples of the training resolution (1 = trained size)"),
    Param("eval_images", int, {"smoke": 16, "cpu": 48, "full": 397},
          "test digits for the held-out noise-prediction error (at most 397)", low=2, high=397),
    Param("per_class", int, {"smoke": 1, "cpu": 1, "full": 20}, "generated samples per digit and seed",
          low=1, high=1000),
    Param("sampler_steps", int, {"smoke": 2, "cpu": 8, "full": 25}, "DDIM steps", low=1, high=1000),
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
), description="LinFusion: generalized linear attention distilled into a diffusion UNet, zero-shot at higher "
               "resolution, and its time/memory scaling", gpus_full=1, time_full="about 15 minutes on one "
               "80 GB GPU with released weights (distillation from scratch: days)")
