"""The measurements of the miniatures chapter: accuracy per domain, how much of the digit each domain keeps,
chance as a bar, and the DDPM's samples judged by the classifier. Narrated in notebooks/miniatures.py.
"""
from __future__ import annotations

import torch
from scipy import stats
from torch import nn

from ..core.train import accuracy
from ..core.verdict import CONFIDENCE
from ..data.domains import Domain
from ..zoo.ddpm import NULL_CLASS, ClassConditionalUNet, sample


def domain_accuracies(model: nn.Module, benchmark: dict[str, Domain]) -> dict[str, float]:
    """Top-1 accuracy of ``model`` on every domain of the benchmark."""
    return {name: accuracy(model, d.x, d.y) for name, d in benchmark.items()}


def binomial_bar(n: int, rate: float = 0.1, confidence: float = CONFIDENCE) -> float:
    """The accuracy that a model right with probability ``rate`` exceeds on ``n`` images with probability at
    most ``1 - confidence``: above it, the model's own rate is above ``rate`` at that confidence (a one-sided
    binomial test). ``rate=0.1``: chance among ten digits."""
    return float(stats.binom.ppf(confidence, n, rate)) / n


def probe_accuracies(benchmark: dict[str, Domain], folds: int = 5, seed: int = 0) -> dict[str, float]:
    """How much of the digit each domain keeps: a linear probe (ridge classifier) on the raw pixels, fitted
    on ``folds - 1`` folds of the domain's own images and tested on the last (mean over the folds).

    A reference, not a competitor: unlike the source classifier it is fitted on target images. A domain on
    which it stays at chance would carry no digit at all.
    """
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return {name: float(cross_val_score(RidgeClassifier(alpha=10.0), d.x.flatten(1).numpy(), d.y.numpy(),
                                        cv=split).mean())
            for name, d in benchmark.items()}


def ddpm_quality(ddpm: ClassConditionalUNet, judge: nn.Module, per_class: int, steps: int, guidance: float,
                 seed: int, device: torch.device) -> dict[str, object]:
    """Sample ``per_class`` images of each digit and let ``judge`` classify them.

    Returns the samples, the accuracy of conditional samples (requested digit recognised), and, as the
    baseline, the accuracy of unconditional (null-class) samples against the same requested labels.
    """
    labels = torch.arange(10).repeat_interleave(per_class)
    gen = torch.Generator().manual_seed(seed)
    ddpm = ddpm.to(device)
    conditional = sample(ddpm, labels, steps, guidance, gen)
    unconditional = sample(ddpm, torch.full_like(labels, NULL_CLASS), steps, 1.0, gen)
    judge = judge.to(device)
    return {"labels": labels, "conditional": conditional, "unconditional": unconditional,
            "conditional_accuracy": accuracy(judge, conditional, labels),
            "unconditional_accuracy": accuracy(judge, unconditional, labels)}


def guidance_sweep(ddpm: ClassConditionalUNet, judge: nn.Module, scales: list[float], per_class: int, steps: int,
                   seed: int, device: torch.device) -> dict[float, dict[str, object]]:
    """Conditional samples and their accuracy under ``judge`` at each guidance scale, from the same noise."""
    labels = torch.arange(10).repeat_interleave(per_class)
    ddpm, judge = ddpm.to(device), judge.to(device)
    sweep = {}
    for w in scales:
        images = sample(ddpm, labels, steps, w, torch.Generator().manual_seed(seed))
        sweep[w] = {"samples": images, "accuracy": accuracy(judge, images, labels)}
    return sweep
