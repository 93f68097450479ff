"""The zoo's register / create / list trio (after timm): every model trained in situ and cached.

``create(name, scale)`` returns ``(model, facts)``: the model on the CPU in eval mode, and what was
measured when it was trained (e.g. its accuracy). The first call trains (seconds at ``smoke``, about
a minute at ``cpu``); later calls load the cached weights. ``full`` uses the ``cpu`` recipes: at full
scale the papers load real pretrained models through :mod:`paperlib.zoo.pretrained` instead.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import nn

from ..core.train import accuracy, batches, fit
from ..core.seeding import seed_everything
from ..data.digits import digits
from ..data.domains import RECIPES as DOMAIN_RECIPES, restyle, source_train
from .cache import cached_model
from .classifier import SmallCNN, random_shift
from .clip import captions, class_text_embeddings, clip_loss, make_tiny_clip, tokenizer, ZeroShotClassifier
from .ddpm import ClassConditionalUNet, ddpm_loss, make_scheduler
from .video import video_digits

_REGISTRY: dict[str, Callable[[str], tuple[nn.Module, dict[str, Any]]]] = {}

RECIPES: dict[str, dict[str, dict[str, Any]]] = {
    "classifier": {
        "smoke": {"width": 16, "steps": 150, "batch_size": 64, "lr": 3e-3, "shift": 1, "seed": 0},
        "cpu": {"width": 32, "steps": 600, "batch_size": 64, "lr": 3e-3, "shift": 2, "seed": 0},
    },
    "tiny_clip": {
        "smoke": {"steps": 150, "batch_size": 64, "lr": 2e-3, "seed": 0},
        "cpu": {"steps": 500, "batch_size": 128, "lr": 1e-3, "seed": 0},
    },
    "ddpm": {
        "smoke": {"channels": [16, 32], "steps": 30, "batch_size": 32, "lr": 1e-3, "seed": 0},
        "cpu": {"channels": [32, 64, 64], "steps": 400, "batch_size": 64, "lr": 1e-3, "seed": 0},
    },
}


def register(name: str):
    def wrap(fn):
        _REGISTRY[name] = fn
        return fn
    return wrap


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def recipe(name: str, scale: str) -> dict[str, Any]:
    if name not in RECIPES:
        raise ValueError(f"model: expected one of {list_models()}, got {name!r}")
    if scale not in ("smoke", "cpu", "full"):
        raise ValueError(f"scale: expected 'smoke', 'cpu' or 'full', got {scale!r}")
    return dict(RECIPES[name]["cpu" if scale == "full" else scale], image_size=16)


#: recipe fields a variant may set beyond the scale's recipe, per model (a variant is a cache entry of its own)
VARIANT_FIELDS: dict[str, tuple[str, ...]] = {"tiny_clip": ("domains",)}


def create(name: str, scale: str = "cpu", **variant: Any) -> tuple[nn.Module, dict[str, Any]]:
    """The cached zoo model ``name`` at ``scale`` (trained on first use) and its recorded facts.

    ``variant`` overrides fields of the scale's recipe (models listed in ``VARIANT_FIELDS`` only), e.g.
    ``create("tiny_clip", "cpu", domains=["source", "photo"])``."""
    if name not in _REGISTRY:
        raise ValueError(f"model: expected one of {list_models()}, got {name!r}")
    if not variant:
        return _REGISTRY[name](scale)
    allowed = set(RECIPES[name]["smoke"]) | set(VARIANT_FIELDS.get(name, ()))
    unknown = sorted(set(variant) - allowed) if name in VARIANT_FIELDS else sorted(variant)
    if unknown:
        raise ValueError(f"model {name!r}: no variant field(s) {unknown}; allowed: {sorted(allowed)}"
                         if name in VARIANT_FIELDS else f"model {name!r} has no variants, got {unknown}")
    return _REGISTRY[name](scale, **variant)


@register("classifier")
def classifier(scale: str) -> tuple[nn.Module, dict[str, Any]]:
    """SmallCNN trained on the source domain's train split with small random shifts."""
    r = recipe("classifier", scale)

    def train(model: nn.Module) -> dict[str, Any]:
        seed_everything(r["seed"])
        x, y = source_train(r["image_size"])
        opt = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=r["lr"], total_steps=r["steps"])
        fit(model, batches(x, y, r["batch_size"], r["seed"]),
            lambda m, b: nn.functional.cross_entropy(m(random_shift(b[0], r["shift"])), b[1]),
            opt, r["steps"], desc="zoo: classifier", scheduler=sched)
        xv, yv = source_train(r["image_size"], "val")
        return {"val_accuracy": accuracy(model, xv, yv)}

    return cached_model("classifier", r, lambda: SmallCNN(3, r["width"]), train)


@register("tiny_clip")
def tiny_clip(scale: str, **variant: Any) -> tuple[nn.Module, dict[str, Any]]:
    """open_clip ``CLIP`` (tiny ViT and text transformer) trained contrastively on digit captions.

    By default on the source domain's train split; a variant's ``domains`` trains it on that split rendered in
    each of these data-kit styles (``font``: rendered glyphs) instead, e.g. a CLIP that has seen more than the
    classifiers trained on the source."""
    r = {**recipe("tiny_clip", scale), **variant}
    if "domains" in r:  # the styles' own recipes are part of the key: a changed style retrains the variant
        r["domain_recipes"] = [DOMAIN_RECIPES[d].digest for d in r["domains"] if d in DOMAIN_RECIPES]

    def train(model: nn.Module) -> dict[str, Any]:
        gen = seed_everything(r["seed"])
        x, y = _training_images(r.get("domains", ["source"]), r["image_size"], r["seed"])
        tok = tokenizer()
        opt = torch.optim.AdamW(model.parameters(), lr=r["lr"], weight_decay=0.1)
        fit(model, batches(x, y, r["batch_size"], r["seed"]),
            lambda m, b: clip_loss(m, random_shift(b[0], 1), tok(captions(b[1], gen))),
            opt, r["steps"], desc="zoo: tiny CLIP")
        xv, yv = source_train(r["image_size"], "val")
        head = ZeroShotClassifier(model, class_text_embeddings(model))
        return {"val_zero_shot_accuracy": accuracy(head, xv, yv)}

    return cached_model("tiny_clip", r, make_tiny_clip, train)


def _training_images(domains, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The source train split rendered in each of ``domains`` (data-kit styles), concatenated."""
    grey = digits("train", size, channels=1)
    parts = [source_train(size) if d == "source" else restyle(d, grey.x, grey.y, size, seed + k)
             for k, d in enumerate(domains)]
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])


@register("ddpm")
def ddpm(scale: str) -> tuple[nn.Module, dict[str, Any]]:
    """Class-conditional DDPM (``UNet2DConditionModel``) on the source domain's train split only."""
    r = recipe("ddpm", scale)

    def train(model: nn.Module) -> dict[str, Any]:
        seed_everything(r["seed"])
        x, y = source_train(r["image_size"])
        scheduler = make_scheduler("ddpm")
        opt = torch.optim.AdamW(model.parameters(), lr=r["lr"])
        hist = fit(model, batches(x * 2 - 1, y, r["batch_size"], r["seed"]),
                   lambda m, b: ddpm_loss(m, b[0], b[1], scheduler), opt, r["steps"], desc="zoo: DDPM")
        tail = hist.loss[-20:]
        return {"final_loss": sum(tail) / len(tail), "first_loss": hist.loss[0],
                "trained_on": "source train split (digits.split_indices()['train'])"}

    return cached_model("ddpm", r, lambda: ClassConditionalUNet(r["image_size"], r["channels"]), train)


register("video_digits")(video_digits)  # paperlib.zoo.video: the moving-digit UNet3DConditionModel
