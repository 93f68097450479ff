"""The SG-Former chapter's parameters. Narrated in notebooks/sgformer.py."""
from __future__ import annotations

from paperlib.core import Param, Schema

from .models import VARIANTS

SCHEMA = Schema("sgformer", (
    # the miniature (smoke / cpu): digits on a textured canvas
    Param("epochs", int, {"smoke": 1, "cpu": 7, "full": 20}, "miniature: training epochs per model and seed",
          low=1),
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 1}, "seeds per model (the spread of the claim check)",
          low=1, high=10),
    Param("n_train", int, {"smoke": 64, "cpu": 1200, "full": 1200},
          "training canvases (digits train split, at most 1200)", low=16, high=1200),
    Param("n_test", int, {"smoke": 64, "cpu": 397, "full": 397},
          "test canvases (digits test split, at most 397)", low=16, high=397),
    Param("canvas", int, 16, "canvas side in pixels (the miniature; the card's 28 does not learn within the CPU "
          "budget)", low=8, high=64),
    Param("digit_size", int, 10, "digit side in pixels on the canvas", low=8, high=32),
    Param("batch_size", int, 32, "miniature batch size", low=1),
    Param("mini_lr", float, 3e-3, "miniature AdamW learning rate (peak, after a 10 % warmup, cosine decay)",
          low=0.0),
    Param("imagenet_batch", int, 1024, "ImageNet batch summed over GPUs (lr scales as lr * batch / 1024)", low=1),
    Param("lr", float, 1e-3, "AdamW learning rate (card: 1e-3 at batch 1024)", low=0.0),
    Param("weight_decay", float, 0.05, "AdamW weight decay (card)", low=0.0),
    # full scale: ImageNet-1K with the card's recipe
    Param("model", str, "sgformer_s", "the variant trained or evaluated at full scale", choices=tuple(VARIANTS)),
    Param("data_dir", str, None, "ImageNet folder holding train/ and val/ class folders (full scale)",
          path=True, optional=True),
    Param("img_size", int, 224, "input size at full scale (the card: 224)", low=32),
    Param("drop_path", float, None, "stochastic depth (card: S 0.1, M 0.2, B 0.4; None = the variant's)",
          low=0.0, high=0.9, optional=True),
    Param("ema", float, 0.99992, "EMA decay of the evaluated weights (card)", low=0.0, high=1.0),
    Param("imagenet_epochs", int, 300, "ImageNet training epochs (card), plus 10 cooldown epochs", low=1),
    Param("warmup_epochs", int, 20, "linear warmup epochs from 1e-6 (card)", low=0),
    Param("gpus", int, 1, "processes (one per GPU) for full-scale training", low=1, high=64),
    Param("eval_only", bool, False, "only evaluate a checkpoint on val/ (full scale)"),
    Param("ckpt", str, None, "official checkpoint file (its state_dict_ema) for eval_only", optional=True),
), description="SG-Former: significance-guided token reallocation vs uniform spatial reduction and ViT",
    gpus_full=8, time_full="not measured; by a FLOP estimate (4.8 GMACs x 1.28M images x 310 epochs) about a "
    "day on 8 A100s for sgformer_s, 2-4 days for M / B; eval_only: minutes on one GPU")

DROP_PATH = {"sgformer_s": 0.1, "sgformer_m": 0.2, "sgformer_b": 0.4}
