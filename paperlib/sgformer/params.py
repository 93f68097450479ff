"""The SG-Former chapter's parameters and their cross-field checks. Narrated in notebooks/sgformer.py."""
from __future__ import annotations

from paperlib.core import Check, Param, Params, Schema

from .models import VARIANTS


def digit_is_a_small_object(p: Params) -> str | None:
    """The chapter's premise: a small object on a large canvas (and a digit that fits on it)."""
    if p.digit_size ** 2 > 0.25 * p.canvas ** 2:
        return (f"parameters 'digit_size' and 'canvas': a {p.digit_size}-pixel digit covers "
                f"{p.digit_size ** 2 / p.canvas ** 2:.0%} of a {p.canvas}-pixel canvas; the miniature needs a small "
                f"object (at most a quarter of the area: digit_size <= canvas / 2)")
    return None


def batch_fits_the_data(p: Params) -> str | None:
    if p.batch_size > p.n_train:
        return f"parameter 'batch_size': {p.batch_size} is larger than the {p.n_train} training canvases (n_train)"
    return None


def full_scale_inputs(p: Params) -> str | None:
    """What the ImageNet run needs: a checkpoint to evaluate, a batch that splits over the GPUs."""
    if p.eval_only and p.weights is None:
        return "parameter 'weights': eval_only evaluates a checkpoint; give its file (-p weights /data/sgformer_s.pth)"
    if p.eval_only and p.data_dir is None:
        return "parameter 'data_dir': eval_only evaluates on an ImageNet folder (-p data_dir /data/imagenet)"
    if p.imagenet_batch_size % p.gpus:
        return (f"parameters 'imagenet_batch_size' and 'gpus': {p.imagenet_batch_size} images cannot be split evenly "
                f"over {p.gpus} GPUs")
    return None


SCHEMA = Schema("sgformer", (
    # the miniature (every scale): a small digit on a textured canvas, four arms x seeds
    Param("seeds", int, {"smoke": 2, "cpu": 3, "full": 5}, "seeds per arm (every arm runs on each)", low=1, high=20),
    Param("steps", int, {"smoke": 4, "cpu": 200, "full": 2000}, "training steps per arm and seed", low=1),
    Param("batch_size", int, 16, "canvases per step", low=1),
    Param("lr", float, 3e-3, "AdamW peak learning rate (10 % linear warm-up, cosine decay); of 1e-3, 3e-3, 5e-3 the "
          "best for both SG-Former and global attention at cpu scale", low=0.0),
    Param("weight_decay", float, 0.05, "AdamW weight decay (card)", low=0.0),
    Param("n_train", int, {"smoke": 64, "cpu": 1200, "full": 1200},
          "training canvases (digits train split, at most 1200)", low=16, high=1200),
    Param("n_test", int, {"smoke": 64, "cpu": 397, "full": 397},
          "test canvases (digits test split, at most 397)", low=16, high=397),
    Param("canvas", int, 32, "canvas side in pixels (stem stride 2: (canvas/2)^2 tokens)", low=8, high=64),
    Param("digit_size", int, 12, "digit side in pixels on the canvas", low=4, high=32),
    # full scale: ImageNet-1K with the card's recipe (data_dir null: the miniature alone)
    Param("model", str, "sgformer_s", "the variant trained or evaluated on ImageNet", choices=tuple(VARIANTS)),
    Param("data_dir", str, None, "ImageNet folder holding train/ and val/ class folders (null: the miniature only)",
          path=True, optional=True),
    Param("weights", str, None, "official checkpoint file (its state_dict_ema) to evaluate with eval_only",
          optional=True, weights=True),
    Param("eval_only", bool, False, "only evaluate weights on val/"),
    Param("image_size", int, 224, "ImageNet input side (card: 224)", low=32),
    Param("imagenet_epochs", int, 300, "ImageNet training epochs (card), plus 10 cooldown epochs", low=1),
    Param("imagenet_warmup_epochs", int, 20, "linear warm-up epochs from 1e-6 (card)", low=0),
    Param("imagenet_batch_size", int, 1024, "ImageNet batch summed over GPUs (lr scales as lr * batch / 1024)",
          low=1),
    Param("imagenet_lr", float, 1e-3, "AdamW learning rate at batch 1024 (card)", low=0.0),
    Param("imagenet_weight_decay", float, 0.05, "AdamW weight decay (card)", low=0.0),
    Param("drop_path", float, None, "stochastic depth (card: S 0.1, M 0.2, B 0.4; null: the variant's)",
          low=0.0, high=0.9, optional=True),
    Param("ema", float, 0.99992, "EMA decay of the evaluated weights (card)", low=0.0, high=1.0),
    Param("gpus", int, 1, "processes (one per GPU) for the ImageNet run", low=1, high=64),
), description="SG-Former: significance-guided token reallocation vs FLOP-matched global attention, uniform "
               "spatial reduction and random ranks",
    gpus_full=8, time_full="not measured; by a FLOP estimate (4.8 GMACs x 1.28M images x 310 epochs) about a "
    "day on 8 A100s for sgformer_s, 2-4 days for M / B; eval_only: minutes on one GPU",
    checks=(Check(digit_is_a_small_object, {"canvas": 16, "digit_size": 12}),
            Check(batch_fits_the_data, {"n_train": 16, "batch_size": 64}),
            Check(full_scale_inputs, {"eval_only": True})))

DROP_PATH = {"sgformer_s": 0.1, "sgformer_m": 0.2, "sgformer_b": 0.4}
