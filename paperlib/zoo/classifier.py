"""The digits classifier: a small CNN, the teacher and evaluator most chapters lean on."""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    """Three conv blocks and a linear head for ``(B, C, 16, 16)`` (any size >= 8 works)."""

    def __init__(self, in_channels: int = 3, width: int = 32, num_classes: int = 10):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(2 * w, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))


def random_shift(x: torch.Tensor, pixels: int = 2) -> torch.Tensor:
    """Translate each image by up to ``pixels`` (zero fill): the cheapest useful augmentation."""
    if pixels == 0:
        return x
    padded = F.pad(x, [pixels] * 4)
    h, w = x.shape[-2:]
    dy, dx = torch.randint(0, 2 * pixels + 1, (2,)).tolist()
    return padded[..., dy:dy + h, dx:dx + w]
