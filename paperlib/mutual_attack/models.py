"""Black-box targets for the mutual-modality attack: classifiers the attack never sees.

All take ``(B, 3, 16, 16)`` images in [0, 1]. Torch targets are trained briefly on the digits train split
and cached with :func:`paperlib.zoo.cached_model`; the scikit-learn forest is non-differentiable and is
only ever asked for labels. Narrated in notebooks/mutual_attack.py.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from ..core.seeding import seed_everything
from ..core.train import accuracy, batches, fit
from ..data.digits import digits
from ..zoo.cache import cached_model
from ..zoo.classifier import SmallCNN, random_shift

ARCHS = ("cnn", "mlp", "vit", "resnet", "cnn_surrogate")
#: the miniature's black-box targets: torch architectures of ``make_arch`` and the scikit-learn forest
TARGETS = ("cnn", "mlp", "vit", "resnet", "random_forest")
# training steps per arch, in multiples of target_steps: a ViT from scratch needs more (65% clean accuracy
# after 300 steps, 96% after 1,200)
TARGET_STEPS = {"cnn": 1, "mlp": 1, "vit": 4, "resnet": 1, "cnn_surrogate": 1}
#: the white-box surrogate of seed s is trained with seed s + SURROGATE_SEED_OFFSET (never a target's seed)
SURROGATE_SEED_OFFSET = 1000


class MLP(nn.Module):
    """Two hidden layers on flattened pixels: ``(B, 3, H, W) -> (B, 10)``."""

    def __init__(self, size: int = 16, hidden: int = 256, num_classes: int = 10):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(3 * size * size, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


def make_arch(arch: str) -> nn.Module:
    """A fresh untrained target: ``cnn`` (the zoo classifier's SmallCNN, width 32), ``mlp``, ``vit`` (timm ViT,
    4x4 patches), ``resnet`` (timm ResNet-10), ``cnn_surrogate`` (a SmallCNN of another width and seed: the
    single-surrogate baselines' white box)."""
    if arch == "cnn":
        return SmallCNN(3, width=32)
    if arch == "mlp":
        return MLP()
    if arch == "vit":
        from timm.models.vision_transformer import VisionTransformer
        return VisionTransformer(img_size=16, patch_size=4, embed_dim=64, depth=3, num_heads=4, mlp_ratio=2.0,
                                 num_classes=10)
    if arch == "resnet":
        from timm.models.resnet import BasicBlock, ResNet
        return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10, stem_width=16, channels=(16, 32, 64, 128))
    if arch == "cnn_surrogate":
        return SmallCNN(3, width=24)
    raise ValueError(f"target: expected one of {ARCHS}, got {arch!r}")


def train_target(arch: str, steps: int, seed: int = 1, lr: float = 2e-3,
                 batch_size: int = 64) -> tuple[nn.Module, dict[str, Any]]:
    """``arch`` trained on the digits train split (random shifts of 1 pixel), cached by its recipe."""
    recipe = {"arch": arch, "steps": steps, "seed": seed, "lr": lr, "batch_size": batch_size, "image_size": 16}

    def train(model: nn.Module) -> dict[str, Any]:
        seed_everything(seed)
        data = digits("train", 16, channels=3)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        fit(model, batches(data.x, data.y, batch_size, seed),
            lambda m, b: nn.functional.cross_entropy(m(random_shift(b[0], 1)), b[1]),
            opt, steps, desc=f"target: {arch}", scheduler=sched)
        val = digits("val", 16, channels=3)
        return {"val_accuracy": accuracy(model, val.x, val.y)}

    return cached_model(f"mutual_attack_{arch}", recipe, lambda: make_arch(arch), train)


class SklearnTarget:
    """A non-differentiable target: a scikit-learn estimator on flattened pixels; ``labels(x)`` only."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, x: torch.Tensor, y: torch.Tensor) -> "SklearnTarget":
        self.estimator.fit(x.flatten(1).numpy(), y.numpy())
        return self

    def labels(self, x: torch.Tensor) -> torch.Tensor:
        return torch.as_tensor(np.asarray(self.estimator.predict(x.detach().cpu().flatten(1).numpy())))


def random_forest(seed: int = 0, trees: int = 100) -> SklearnTarget:
    """A random forest trained on the digits train split (seconds; not cached)."""
    from sklearn.ensemble import RandomForestClassifier

    data = digits("train", 16, channels=3)
    return SklearnTarget(RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1)).fit(data.x, data.y)


def miniature_targets(names: Sequence[str], target_steps: int, seed: int) -> dict[str, Any]:
    """The black-box targets of one seed, each trained (or loaded from the cache) with that seed: the claims
    are about architectures, not about one trained instance of each."""
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise ValueError(f"targets: the miniature's targets are {list(TARGETS)}, got {unknown}")
    return {n: random_forest(seed) if n == "random_forest" else
            train_target(n, TARGET_STEPS[n] * target_steps, seed=seed)[0] for n in names}


def miniature_surrogate(target_steps: int, seed: int) -> nn.Module:
    """The gradient baselines' white-box CNN of one seed (another width, another seed than any target)."""
    return train_target("cnn_surrogate", target_steps, seed=seed + SURROGATE_SEED_OFFSET)[0]
