"""The miniature benchmarks chapter: the data kit's domains and the zoo's models, measured.

Narrated in notebooks/miniatures.py.
"""
from __future__ import annotations

import torch
from torch import nn

from .core.params import Param, Schema
from .core.train import accuracy
from .data.domains import Domain
from .zoo.ddpm import NULL_CLASS, ClassConditionalUNet, sample

SCHEMA = Schema("miniatures", (
    Param("samples_per_class", int, {"smoke": 2, "cpu": 10, "full": 50},
          "DDPM samples drawn per digit for the quality check", low=1, high=1000),
    Param("sampler_steps", int, {"smoke": 5, "cpu": 25, "full": 50}, "DDIM steps", low=1, high=1000),
    Param("guidance", float, 2.0, "classifier-free guidance scale (1 = none)", low=1.0, high=20.0),
), description="the data kit and the model zoo every chapter stands on", gpus_full=0, time_full="a few minutes")

__all__ = ["SCHEMA", "domain_accuracies", "ddpm_quality", "guidance_sweep"]


def domain_accuracies(model: nn.Module, benchmark: dict[str, Domain]) -> dict[str, float]:
    """Top-1 accuracy of ``model`` on every domain of the benchmark."""
    return {name: accuracy(model, d.x, d.y) for name, d in benchmark.items()}


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
