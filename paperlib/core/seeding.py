"""Seeding every random source a run touches."""
from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def seed_list(seed: int, n: int) -> list[int]:
    """The seeds of a run's ``n`` repeats: ``seed, seed + 1, ..., seed + n - 1`` (arm *i* of every method
    uses seed ``i``, so the claims can pair them)."""
    if n < 1:
        raise ValueError(f"seeds: expected at least 1, got {n}")
    return [seed + i for i in range(n)]
