"""The canonical digits: scikit-learn's 1,797 8x8 digits, one seeded stratified split, resized.

Everything a chapter *evaluates* on is built from the test split; nothing is ever trained on it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SPLIT_SEED = 20240101  # frozen: changing it changes every number in the book
N_TEST, N_VAL = 397, 200
CLASS_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Images ``x: (N, C, H, W)`` in [0, 1] and labels ``y: (N,)``; ``index`` into the 1,797 originals."""

    x: torch.Tensor
    y: torch.Tensor
    index: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@lru_cache(maxsize=1)
def split_indices() -> dict[str, np.ndarray]:
    """Disjoint, stratified index sets: 1,200 train, 200 validation, 397 test."""
    labels = load_digits().target
    all_idx = np.arange(len(labels))
    rest, test = train_test_split(all_idx, test_size=N_TEST, stratify=labels, random_state=SPLIT_SEED)
    train, val = train_test_split(rest, test_size=N_VAL, stratify=labels[rest], random_state=SPLIT_SEED)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of ``(N, C, h, w)`` to ``size x size``."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)


def digits(split: str = "train", size: int = 16, channels: int = 1) -> Split:
    """One split of the canonical digits, white strokes on black, resized to ``size``."""
    if split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels: expected 1 or 3, got {channels!r}")
    if size < 8:
        raise ValueError(f"size: expected an integer >= 8, got {size!r}")
    data = load_digits()
    idx = split_indices()[split]
    x = torch.tensor(data.images[idx], dtype=torch.float32).unsqueeze(1) / 16.0
    x = resize(x, size).repeat(1, channels, 1, 1)
    return Split(x.contiguous(), torch.tensor(data.target[idx], dtype=torch.long), idx)
